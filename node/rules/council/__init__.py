"""Council governance as a pure state machine (resolution 2009, articles 3–5; DESIGN §1).

    execute(state, command, now_ms) -> list[Draft]   judge a command; never changes the state
    apply(state, entry: Appended) -> None            judge a stored entry again, then fold it into the state
    replay(entries) -> Council                       the state is always the replay of the log

Every refusal is a ``RuleError(rule, message)``. The signer adds a random 16-byte ``salt`` to every council
body; ``apply`` requires and strips it. Member ids are 16 bytes; assembly, motion and decision ids are the
32-byte id of the entry that created them. Times are the entries' ``ts_ms``. No floats: fractions are ``[num,
den]``.

Entry kinds (body fields besides ``kind``; visibility):

- ``council/found`` (public, seq 0): ``profile`` {name, name_fa, city, country, continent}, ``charter`` {fa:
  [str], en: [str]}, ``charter_hash`` (see ``charter.py``), ``rules`` {version=1, majority
  "simple"|"absolute"|"two_thirds", quorum nil|{count: n}|{fraction: [num, den]}, board_seats,
  publish_tallies, census_bucket (≥ 1; 1 = exact)[, signed_ballots][, requisition [num, den] (default [1,
  5])][, requisition_delay_days (default 30)]}. Rules written by 0.1.0 lack census_bucket and mean 1; the
  optional rules are written only when not their default.
- ``member/join`` (council): ``member``, ``charter_hash`` (must equal the council's), ``pubkey`` (32 bytes |
  nil; bound only by the member's own signed join, see ``issuer``).
- ``member/key`` (council): ``member``, ``key``: the member's new key, countersigned by it; the old key is
  revoked from this position (a lost phone).
- ``assembly/requisition`` (council): ``member``, ``text``, ``round``: a member's signed request for the next
  assembly, naming the round it asks in (``Council.requisition_round``: the assemblies opened before it;
  absent in older logs) — another round is ``requisition.stale``. Those since the last ``assembly/open``
  count, once per active member; reaching the rules' share starts the board's delay
  (``Council.convening_due``). Refused when made (not on replay) twice by one member, or naming no round.
- ``member/leave`` (council): ``member``. Ends any mandate the member holds; then, for a board member,
- ``board/left`` (public): ``member``, ``decision``, ``seat``: the mandate ended, cause "left"; or, with
  ``cause`` recall|removal, directly after the decision of a council-only recall or removal, one per mandate
  it ended that a public decision gave (``board.published_ends``): the public board shows the end, never the
  decision.
- ``delegate/left`` (public): ``member``, ``decision``, ``seat``: after the member/leave (and any board/left)
  of a delegate, or after the decision of a council-only removal of a delegate, one per delegate mandate it
  ended, in order: the federation drops it (``delegates.left``).
- ``board/resign`` (public): ``member``, ``decision``, ``seat``: a board member gives up their seat (the
  member's own signed act).
- ``assembly/open`` (public): ``convened_by`` (sitting board member | nil = operator, only while no board
  member sits), ``agenda``; or, with ``ground`` (requisition | schedule) and ``due_ms``, a member convening
  what the board has not: a requisitioner once the rules' delay has passed since the share was reached, or
  any member once the date the last assembly fixed has passed (the entry's time judges it).
- ``member/consent`` (council): ``assembly`` (open), ``member`` (active): the member consents to stand as a
  candidate in that assembly's elections and delegate motions, once (``consent.duplicate``); the member's own
  signed act, or, for a member without a key, recorded by the operator (``consent.signature-required``
  otherwise).
- ``assembly/attend`` (council): ``assembly``, ``members`` [member]. Late arrival allowed while open.
- ``assembly/depart`` (council): ``assembly``, ``member``.
- ``assembly/close`` (public): ``assembly``, ``participants`` (count of distinct attendees, never names),
  optionally ``next_ms``: the date fixed for the next assembly.
- ``assembly/minutes`` (council, only right after its close): ``assembly``, ``text``.
- ``motion/propose`` (the motion's visibility): ``assembly``, ``motion_kind``
  policy|rules|removal|election|recall|federation|delegate|delegate-recall, ``text``, ``visibility``,
  ``proposer`` (member on the roll | nil), ``seats`` (election), ``candidates`` [member] (election; delegate:
  the members it mandates; else []), ``target`` (removal, recall, delegate-recall), ``rules`` (rules: the
  proposed rules, no version), ``proposal`` (federation: [federation log id, proposal entry id], else nil;
  absent in 0.1.0 logs), ``method`` (elections since issue 13: "approval-majority"; absent in older logs,
  whose elections are decided by the old rule: any approval), ``runoff_of`` (only in a runoff: the tied
  election's motion id; such a proposal is written by the close of that election, directly after its decision
  and tally, and nowhere else), ``rules_version`` (the version in force: the motion is decided under it) and
  ``electorate`` (the count of members on the roll: they alone vote on it, and they are its participants; nil
  on a public motion while the rules keep tallies council-only) — both absent in logs written before issue 13
  (docs/governance.md). A federation motion is the council assembly's answer to a federation-wide
  proposal (``node.rules.fedbody``): always public (the federation counts public decisions only), one per
  proposal, decided by the council's own rules like a policy motion. Delegate and delegate-recall motions
  (always public) mandate and recall the council's delegates to its federation (``delegates``).
- ``motion/vote`` (council): ``motion``, ``member``, ``choice`` yes|no|abstain (nil for elections),
  ``approvals`` [candidate] (elections, else []), ``ballot`` (64 bytes | nil): the member's own signature
  over their ballot statement (``protocol.member``) when they cast it themselves; nil when the secretary
  records a hand.
- ``decision`` (the motion's visibility): ``motion``, ``assembly``, ``motion_kind``, ``text`` (the
  motion's), ``rules_version``, ``majority``, ``outcome`` adopted|rejected|tied|no_quorum, ``proposal``
  (federation motions only), ``delegates`` [{seat, member}] and ``delegates_ended`` [{decision, seat,
  member}] (delegate and delegate-recall motions; an adopted removal of a delegate adds ``delegates_ended``
  only), ``seats``, ``elected`` [{seat, member}] (mandate id = (decision id, seat)),
  ``vacant``, ``tied`` [member tied for the last seat], ``ended`` [{decision, seat, member}] (mandates
  ended), ``removed`` (member | nil), ``rules_adopted`` (new rules version | nil), ``rules_changed``
  ({field: [old, new]}: rules motions proposed with a ``rules_version`` only), ``method`` and ``runoff``
  (nil | {seats, candidates}: the runoff motion that follows; both only on elections proposed with a method);
  and the tally fields
  ``quorum``, ``active_members``, ``quorum_required``, ``participants``, ``votes_cast``, ``tally`` ({yes,
  no, abstain} or {approvals: [[candidate, n]], ballots}) — unless the decision is public and the rules say
  ``publish_tallies: false``, in which case the tally fields go to the next entry (but a federation
  decision keeps ``participants``, which the federation's weighted rule counts):
- ``decision/tally`` (council, directly after its decision): ``motion`` and the tally fields above.
- ``board/report`` (public): ``member`` (a sitting board member), ``text``.
- ``council/census`` (public, any time): ``active_members``: the count of active members at that point of the
  log, rounded down to a multiple of the rules' ``census_bucket`` — how many, never who (DESIGN §5, §6).

Every entry written since attribution carries ``issued_by``: which key issued the command (operator, board
member or member; ``issuer``); stripped before the kind's handler, never published. A decision on a motion
proposed by an attributed entry adds ``ballots_signed`` and ``ballots_recorded`` to its tally fields.

Errors: ``RuleError`` only; ``rule`` names the rule (``"vote.not-present"``, ``"entry.malformed"`` …).

"""

from .charter import DEFAULT_CHARTER, Charter
from .commands import (
    Attend,
    BindKey,
    CastVote,
    Census,
    CloseAssembly,
    CloseMotion,
    Command,
    Consent,
    Depart,
    FileReport,
    FoundCouncil,
    Issued,
    JoinMember,
    LeaveMember,
    OpenAssembly,
    ProposeMotion,
    RequestAssembly,
    ResignSeat,
)
from .errors import RuleError
from .issuer import Issuer
from .log import Appended, Draft
from .machine import apply, execute, replay
from .model import (
    Assembly,
    BoardView,
    CensusRecord,
    Council,
    Decision,
    Mandate,
    Member,
    Motion,
    Profile,
)
from .ruleset import Quorum, Rules

__all__ = [
    "DEFAULT_CHARTER",
    "Appended",
    "Assembly",
    "Attend",
    "BindKey",
    "BoardView",
    "CastVote",
    "Census",
    "CensusRecord",
    "Charter",
    "CloseAssembly",
    "CloseMotion",
    "Command",
    "Consent",
    "Council",
    "Decision",
    "Depart",
    "Draft",
    "FileReport",
    "FoundCouncil",
    "Issued",
    "Issuer",
    "JoinMember",
    "LeaveMember",
    "Mandate",
    "Member",
    "Motion",
    "OpenAssembly",
    "Profile",
    "ProposeMotion",
    "Quorum",
    "RequestAssembly",
    "ResignSeat",
    "RuleError",
    "Rules",
    "apply",
    "execute",
    "replay",
]
