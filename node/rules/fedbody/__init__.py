"""A federation body's log as a pure state machine (resolution 2009, article 2; DESIGN §1, §5, §6).

Article 2: "The Federation of Councils is formed from the union and solidarity of the city-level base units in
each country and continent." A federation body keeps a public, signed roster of the councils (and, for a
continent, the country federations) it unites, publishes federation-wide proposals, and records how the
councils' own general assemblies answered them (article 4: each council decides by its assembly's majority;
the federation counts councils' decisions, never members' votes).

    execute(state, command, now_ms) -> list[Draft]   judge a command; never changes the state
    apply(state, entry: Appended) -> None            judge a stored entry again, then fold it into the state
    replay(entries, log_id) -> Federation            the state is always the replay of the log
    tally(terms, admitted_at_deadline, answers)      pure count of councils' answers (see ``tally.py``)
    retally(result_body, verified_answers)           redo a result from verified bundles (``result.py``)
    verify_through(result_body, rosters)             a continent's councils, against its members' rosters

Every refusal is a ``RuleError(rule, message)`` — the governance package's class, so the node maps both in one
place. Every entry is public. Members are 32-byte root keys (log ids); proposals are the 32-byte id of their
publishing entry; times are the entries' ``ts_ms`` and never run backwards.

Entry kinds (body fields besides ``kind``; all public):

- ``federation/found`` (seq 0): ``profile`` {name, name_fa, level "country"|"continent", country (a country
  federation's; "" for a continent one), continent}; ``founding`` (0–1000, optional: absent in federations
  founded before mandates): how many members the operator admits alone (``mandate.py``).
- ``roster/admit``: ``member`` (root key), ``member_kind`` "council"|"federation", ``name``, ``name_fa``,
  ``city`` (councils; "" for federations), ``country``, ``continent``, ``url`` ("" or http(s)), ``reason``.
  A country federation admits councils of its own country only; a continent federation admits country
  federations and councils of its continent; nobody twice.
- ``roster/suspend``: ``member`` (admitted, active), ``reason`` (required), ``size`` (the member's log size
  held: its entries at seq ≥ size are not accepted while suspended; never below an earlier suspension's).
- ``roster/readmit``: ``member`` (suspended), ``reason`` (required).
- ``roster/rekey``: ``member`` (on the roster, not moved before), ``new_key`` (not on the roster), ``reason``
  (required), ``size`` (the old log's size held, as a suspension's), ``requested_by`` "member" (a request
  signed with the old root key) | "federation" (the federation's own decision). The old key is retired for
  good; the new key is admitted with the same profile at the same entry.
- ``proposal/publish``: ``text_fa``, ``text_en`` (both non-empty), ``deadline_ms`` (> the entry's time),
  ``rule`` "answering"|"admitted"|"weighted"; ``grace_ms`` (0 to 90 days; absent before issue 13: such a
  proposal is closed under the old rules); ``action`` {kind admit|suspend|readmit, member} (optional: the
  roster change its adoption mandates); ``requested_by`` [[council key, decision id]] (optional: the member
  councils' adopted ``request`` decisions it answers, each used once; ``requests.py``).
- ``roster/admit``, ``roster/suspend``, ``roster/readmit`` may carry ``by``: the adopted proposal they
  execute, required once the founders are admitted (``mandate.py``).
- ``proposal/result`` (at or after the deadline, once per proposal): ``proposal``, ``federation`` (this log's
  id), ``rule``, ``deadline_ms``, ``admitted`` [council keys on the roster and not suspended at the deadline,
  with those of the member federations in ``through``, sorted], ``counted`` [{council, decision, seq, ts_ms,
  outcome, participants, received_ms}] (by council), ``refused`` [{council, decision, seq, ts_ms, outcome,
  participants, received_ms, proposal: [federation, proposal], reason
  "other-proposal"|"not-admitted"|"late"|"superseded"|"duplicate"}] (``received_ms``: the federation's
  receipt, absent before issue 13), ``totals`` {admitted, answered, adopted, rejected,
  neither, refused, participants_adopted, participants_rejected}, ``result`` "adopted"|"rejected"|"tied".
  For a proposal with a grace: ``not_heard`` [keys not heard from since the deadline; non-empty only once
  the grace ended] and ``through`` [{federation, councils}] (``result.py``).
  ``apply`` re-runs ``tally`` over the answers listed and the roster at the deadline: equal, or refused.

A council's answer is its public ``decision`` with ``motion_kind: "federation"`` and ``proposal``
[federation log id, proposal id] (``node.rules.council``); ``answer_from_decision`` reads one.

Errors: ``RuleError`` only; rule names: ``federation.*``, ``roster.*``, ``proposal.*``, ``result.*``,
``answer.*`` (``answer.recount``: an outcome that does not follow from its published tally),
``retally.*``, ``log.*``, ``limit.*``, ``entry.malformed``.
"""

from node.rules.council.errors import RuleError
from node.rules.council.log import Appended, Draft

from .commands import (
    Admit,
    Command,
    FoundFederation,
    PublishProposal,
    PublishResult,
    Readmit,
    Rekey,
    Suspend,
)
from .machine import apply, execute, replay
from .model import Federation, Profile, Proposal, ProposalResult, RosterEvent, RosterMember
from .result import Listed, read_result, result_body, retally, verify_through
from .tally import Answer, DecisionRecord, Refused, Terms, Totals, answer_from_decision, tally

__all__ = [
    "Admit",
    "Answer",
    "Appended",
    "Command",
    "DecisionRecord",
    "Draft",
    "Federation",
    "FoundFederation",
    "Listed",
    "Profile",
    "Proposal",
    "ProposalResult",
    "PublishProposal",
    "PublishResult",
    "Readmit",
    "Refused",
    "Rekey",
    "RosterEvent",
    "RosterMember",
    "RuleError",
    "Suspend",
    "Terms",
    "Totals",
    "answer_from_decision",
    "apply",
    "execute",
    "read_result",
    "replay",
    "result_body",
    "retally",
    "tally",
    "verify_through",
]
