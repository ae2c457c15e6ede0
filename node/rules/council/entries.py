"""One function per entry kind: check a body against the state and, given the stored entry, apply it.

The same function serves ``execute`` (``entry=None``: judge only) and ``apply`` (judge, then change the
state), so a command is accepted exactly when the entry it produces would be accepted on replay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from node.rules import logkey
from protocol.errors import DecodeError
from protocol.keys import PublicKey

from . import delegates, proposal_requests
from .charter import Charter
from .decide import adopted_rules, decision_bodies, electorate_count, runoff_proposal
from .errors import RuleError
from .fields import (
    check_bytes,
    exact_keys,
    get_entry_id,
    get_int,
    get_list,
    get_map,
    get_member,
    get_text,
    malformed,
    one_of,
    plain,
)
from .limits import (
    ENTRY_ID_LEN,
    MAX_AGENDA,
    MAX_CANDIDATES,
    MAX_NAME,
    MAX_TEXT,
    MEMBER_ID_LEN,
    PUBKEY_LEN,
)
from .log import Appended, Vis
from .model import (
    GROUNDS,
    MOTION_KINDS,
    Assembly,
    CensusRecord,
    Council,
    Decision,
    Ground,
    Mandate,
    Member,
    Motion,
    PendingTally,
    Profile,
    Requisition,
    Rules,
    RulesVersion,
)
from .rules import ELECTION_METHODS

Handler = Callable[[Council, dict[str, Any], Appended | None], None]

VOTE_CHOICES = ("yes", "no", "abstain")
BALLOT_LEN = 64  # the member's Ed25519 signature over their ballot statement (protocol.member)


# -- helpers ---------------------------------------------------------------------------------------


def _member(state: Council, member: bytes) -> Member:
    m = state.members.get(member)
    if m is None:
        raise RuleError("member.unknown", "no such member")
    return m


def _active(state: Council, member: bytes) -> Member:
    m = _member(state, member)
    if not m.active:
        raise RuleError("member.not-active", "this member has left or was removed")
    return m


def _open_assembly(state: Council, assembly: bytes, closed_rule: str) -> Assembly:
    a = state.assemblies.get(assembly)
    if a is None:
        raise RuleError("assembly.unknown", "no such assembly")
    if not a.is_open:
        raise RuleError(closed_rule, "that assembly is closed")
    return a


def _open_motion(state: Council, motion: bytes) -> Motion:
    m = state.motions.get(motion)
    if m is None:
        raise RuleError("motion.unknown", "no such motion")
    if not m.is_open:
        raise RuleError("motion.closed", "that motion has been decided")
    return m


def _end_membership(state: Council, member: Member, how: str, seq: int, by: bytes | None) -> None:
    member.active = False
    member.ended_seq = seq
    member.ended_how = "left" if how == "left" else "removed"
    a = state.open_assembly()
    if a is not None:
        a.roll.discard(member.id)
    # a member who is no longer a member cannot sit on the board (article 5, DESIGN §1)
    for mandate in state.mandates:
        if mandate.sitting and mandate.member == member.id:
            mandate.ended_how = "left" if how == "left" else "removed"
            mandate.ended_by, mandate.ended_seq = by, seq
    delegates.end_for(state, member.id, member.ended_how, seq, by)


def _seat_of(state: Council, member: bytes) -> Mandate | None:
    """The mandate ``member`` sits in (a member holds one seat at most: election.candidate-on-board)."""
    return next((m for m in state.mandates if m.sitting and m.member == member), None)


# -- founding and membership -----------------------------------------------------------------------


def found(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    exact_keys(body, {"kind", "profile", "charter", "charter_hash", "rules"}, "council/found")
    if state.founded:
        raise RuleError("council.already-founded", "the council is founded by the first entry only")
    p = get_map(body, "profile")
    exact_keys(p, {"name", "name_fa", "city", "country", "continent"}, "profile")
    profile = Profile(**{k: get_text(p, k, MAX_NAME, "limit.name") for k in sorted(p)})
    if not profile.name or not profile.continent:
        raise RuleError("council.bad-profile", "a council has a name and a continent")
    c = get_map(body, "charter")
    exact_keys(c, {"fa", "en"}, "charter")
    charter = Charter(fa=tuple(get_list(c, "fa")), en=tuple(get_list(c, "en")))
    if body["charter_hash"] != charter.hash():
        raise RuleError("council.charter-hash", "charter_hash is not the hash of the charter")
    version, rules = Rules.from_versioned_body(get_map(body, "rules"))
    if version != 1:
        raise RuleError("rules.bad-version", "the founding rules are version 1")
    if entry is not None:
        if entry.seq != 0:
            raise RuleError("council.already-founded", "the founding entry is seq 0")
        state.id, state.profile, state.charter = entry.id, profile, charter
        state.charter_hash = charter.hash()
        state.rules, state.rules_version = rules, 1
        state.rules_history[1] = RulesVersion(1, rules, entry.seq, entry.ts_ms, None, {})


def join(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    exact_keys(body, {"kind", "member", "charter_hash", "pubkey"}, "member/join")
    member = get_member(body, "member")
    pubkey = body["pubkey"]
    if pubkey is not None and (not isinstance(pubkey, bytes) or len(pubkey) != PUBKEY_LEN):
        raise RuleError("member.bad-key", f"a member key is {PUBKEY_LEN} bytes")
    # article 3: whoever wants the principles is a member — no vote, only the endorsement of this charter
    if body["charter_hash"] != state.charter_hash:
        raise RuleError("member.charter-mismatch", "the endorsed hash is not this council's charter")
    if member in state.members:
        # ids are never reused, so every log entry about a member id means one person
        raise RuleError("member.exists", "this member id has already been used")
    if pubkey is not None:
        _fresh_key(state, pubkey)
    if entry is not None:
        state.members[member] = Member(member, entry.seq, pubkey)
        if pubkey is not None:
            state.member_keys[pubkey] = member


def _fresh_key(state: Council, key: bytes) -> None:
    # a key names one member once: a key bound twice would make one member's signature pass for another's
    if key in state.member_keys or key in state.retired_keys:
        raise RuleError("member.key-used", "this key is bound already")
    try:
        PublicKey(key)
    except DecodeError as exc:
        raise RuleError("member.bad-key", f"not a usable Ed25519 key: {exc}") from exc


def bind_key(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    """A member's new key replaces their old one, which is revoked from this position (a lost phone)."""
    exact_keys(body, {"kind", "member", "key"}, "member/key")
    m = _active(state, get_member(body, "member"))
    key = check_bytes(body["key"], "key", PUBKEY_LEN)
    _fresh_key(state, key)
    if entry is not None:
        if m.pubkey is not None:
            state.member_keys.pop(m.pubkey, None)
            state.retired_keys[m.pubkey] = entry.seq
        m.pubkey = key
        state.member_keys[key] = m.id


def check_new_requisition(state: Council, member: bytes) -> None:
    """Refusals judged when a requisition is made, not on replay: logs written before them (issue 12) may
    hold repeated ones, which count once (``Council.requisitioners``). A requisition made while an assembly
    sits asks for the next one: an assembly left open cannot block it."""
    _active(state, member)
    if member in state.requisitioners():
        raise RuleError("requisition.duplicate", "you have requisitioned the next assembly already")


def requisition(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    exact_keys(body, {"kind", "member", "text"}, "assembly/requisition")
    text = get_text(body, "text", MAX_AGENDA, "limit.agenda")
    m = _active(state, get_member(body, "member"))
    if entry is not None:
        made = Requisition(entry.seq, entry.ts_ms, m.id, text)
        state.requisitions.append(made)
        # article 5: once the share is reached the board must convene within the rules' delay
        if state.requisition_met is None and len(state.requisitioners()) >= state.requisitions_needed():
            state.requisition_met = made


def leave(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    exact_keys(body, {"kind", "member"}, "member/leave")
    m = _active(state, get_member(body, "member"))
    if entry is not None:
        state.left_board = m.id if _seat_of(state, m.id) is not None else None
        _end_membership(state, m, "left", entry.seq, None)


def _ended_mandate(state: Council, body: dict[str, Any], kind: str) -> Mandate | None:
    """The mandate a board/left or board/resign body names: (decision, seat), held by ``member``."""
    exact_keys(body, {"kind", "member", "decision", "seat"}, kind)
    member, decision, seat = get_member(body, "member"), get_entry_id(body, "decision"), get_int(body, "seat")
    return next(
        (m for m in state.mandates if (m.member, m.decision, m.seat) == (member, decision, seat)), None
    )


def board_left(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    """The public record of a board member's leaving the council: their mandate ended, cause "left"."""
    mandate = _ended_mandate(state, body, "board/left")
    if state.left_board != body["member"] or mandate is None or mandate.ended_how != "left":
        raise RuleError("board.left-misplaced", "board/left directly follows that board member's leaving")
    if entry is not None:
        mandate.ended_by, mandate.ended_public = entry.id, True


def resign(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    """A board member gives up their seat and stays a member (article 5: a mandate ends by resignation)."""
    mandate = _ended_mandate(state, body, "board/resign")
    _active(state, body["member"])
    if mandate is None or not mandate.sitting:
        raise RuleError("board.not-member", "only a sitting board member resigns their seat")
    if entry is not None:
        mandate.ended_how, mandate.ended_by, mandate.ended_seq = "resigned", entry.id, entry.seq
        mandate.ended_public = True


# -- assemblies ------------------------------------------------------------------------------------


def open_assembly(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    # a member convening on requisition or on the fixed date says so: ground and due_ms (absent otherwise)
    by_member = "ground" in body
    keys = {"kind", "convened_by", "agenda"} | ({"ground", "due_ms"} if by_member else set())
    exact_keys(body, keys, "assembly/open")
    agenda = get_text(body, "agenda", MAX_AGENDA, "limit.agenda")
    if state.open_assembly_id is not None:
        raise RuleError("assembly.already-open", "close the open assembly first")
    convener = body["convened_by"]
    board = state.board_members()
    ground: Ground | None = None
    due: int | None = None
    if by_member:
        ground, due = _member_convenes(state, body, entry)
    elif convener is None:
        # the operator convenes only while no board member sits (article 5: convening is the board's task)
        if board:
            raise RuleError("assembly.board-sits", "a sitting board member must convene the assembly")
    elif check_bytes(convener, "convened_by", MEMBER_ID_LEN) not in board:
        raise RuleError("assembly.convener-not-board", "only a sitting board member convenes an assembly")
    if entry is not None:
        a = Assembly(entry.id, entry.seq, entry.ts_ms, convener, agenda, ground, due)
        state.assemblies[entry.id] = a
        state.open_assembly_id = entry.id
        # this assembly answers every requisition made before it, and meets the date the last one fixed
        state.round_from_seq, state.requisition_met, state.next_assembly_ms = entry.seq + 1, None, None


def _member_convenes(state: Council, body: dict[str, Any], entry: Appended | None) -> tuple[Ground, int]:
    """A member convenes the assembly the board has not (article 5): requisitioned by the rules' share and
    not convened within the rules' delay, or not held by the date the last assembly fixed."""
    member = check_bytes(body["convened_by"], "convened_by", MEMBER_ID_LEN)
    _active(state, member)
    ground: Ground = body["ground"]
    if ground not in GROUNDS:
        raise RuleError("convene.bad-ground", f"a member convenes on {one_of(GROUNDS)}")
    due = state.convening_due(ground)
    if due is None:
        raise RuleError(
            f"convene.no-{ground}",
            "no requisition has reached the rules' share"
            if ground == "requisition"
            else "no assembly fixed the date of the next",
        )
    if not state.may_convene(member, ground):
        raise RuleError("convene.not-requisitioner", "only a member who requisitioned it convenes")
    if get_int(body, "due_ms") != due:
        raise RuleError("convene.due-mismatch", "due_ms is not when the right to convene began")
    if not body["agenda"].strip():
        raise RuleError("convene.no-agenda", "a member convening an assembly states its agenda")
    # the entry's time is the node's one clock (writer.now_ms): the board has until then to convene
    if entry is not None and entry.ts_ms < due:
        raise RuleError("convene.too-early", "the board's delay to convene has not passed yet")
    return ground, due


def attend(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    exact_keys(body, {"kind", "assembly", "members"}, "assembly/attend")
    a = _open_assembly(state, get_entry_id(body, "assembly"), "assembly.closed")
    members = [check_bytes(m, "members", MEMBER_ID_LEN) for m in get_list(body, "members")]
    if not members:
        raise RuleError("roll.empty", "name at least one member")
    if len(set(members)) != len(members):
        raise RuleError("roll.duplicate", "a member is listed twice")
    for m in members:
        _active(state, m)  # article 3: participants of the council's assembly are its members
        if m in a.roll:
            raise RuleError("roll.already-present", "this member is already on the roll")
    if entry is not None:
        a.roll.update(members)
        a.attended.update(members)


def depart(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    exact_keys(body, {"kind", "assembly", "member"}, "assembly/depart")
    a = _open_assembly(state, get_entry_id(body, "assembly"), "assembly.closed")
    member = get_member(body, "member")
    _member(state, member)
    if member not in a.roll:
        raise RuleError("roll.not-present", "this member is not on the roll")
    if entry is not None:
        a.roll.discard(member)


def close_assembly(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    # next_ms: the date this assembly fixed for the next (absent when it fixed none, as in older logs)
    keys = {"kind", "assembly", "participants"} | ({"next_ms"} if "next_ms" in body else set())
    exact_keys(body, keys, "assembly/close")
    a = _open_assembly(state, get_entry_id(body, "assembly"), "assembly.closed")
    if any(m.is_open for m in state.motions.values() if m.assembly == a.id):
        raise RuleError("assembly.motions-open", "close every motion of this assembly first")
    # the public record carries how many took part, never who (DESIGN §6)
    if get_int(body, "participants") != len(a.attended):
        raise RuleError("assembly.participants-mismatch", "not the count of distinct attendees")
    next_ms = get_int(body, "next_ms") if "next_ms" in body else None
    if next_ms is not None and ((entry is not None and next_ms <= entry.ts_ms) or next_ms >= 2**63):
        raise RuleError("assembly.next-past", "the date of the next assembly is after this one's close")
    if entry is not None:
        a.is_open, a.closed_seq, a.participants, a.roll = False, entry.seq, len(a.attended), set()
        a.next_ms = next_ms
        state.open_assembly_id = None
        if next_ms is not None:
            state.next_assembly_ms = next_ms


def minutes(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    exact_keys(body, {"kind", "assembly", "text"}, "assembly/minutes")
    text = get_text(body, "text", MAX_TEXT)
    assembly = get_entry_id(body, "assembly")
    if state.minutes_for != assembly:
        raise RuleError("assembly.minutes-misplaced", "minutes directly follow the close of their assembly")
    if entry is not None:
        state.assemblies[assembly].minutes = text


# -- motions, votes, decisions ---------------------------------------------------------------------


def propose(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    keys = {"kind", "assembly", "motion_kind", "text", "visibility", "proposer"}
    keys |= {"seats", "candidates", "target", "rules"}
    # logs written by 0.1.0 have no proposal field: none of their motions answers a federation; only request
    # motions have a federation field; elections proposed before issue 13 declare no method (decided by the
    # old rule), only runoffs name runoff_of; logs written before issue 13 fix neither the rules version nor
    # the electorate: they replay as written
    fixed = {"rules_version", "electorate"} if "rules_version" in body or "electorate" in body else set()
    keys |= fixed | {k for k in ("proposal", "federation", "method", "runoff_of") if k in body}
    exact_keys(body, keys, "motion/propose")
    # a runoff is opened by its tied decision only, exactly as the decision says (issue 13)
    if (state.pending_runoff is not None or "runoff_of" in body) and plain(body) != state.pending_runoff:
        raise RuleError("motion.runoff-mismatch", "a runoff motion follows its tied decision, as it says")
    text = get_text(body, "text", MAX_TEXT)
    # article 4: only the general assembly adopts policy, changes rules, elects or recalls
    a = _open_assembly(state, get_entry_id(body, "assembly"), "motion.assembly-closed")
    kind = body["motion_kind"]
    if kind not in MOTION_KINDS:
        raise RuleError("motion.bad-kind", f"a motion kind is {one_of(MOTION_KINDS)}")
    visibility = body["visibility"]
    if visibility not in ("public", "council"):
        raise RuleError("motion.bad-visibility", "visibility is public or council")
    if fixed:
        # decided under the rules of its proposal, by the members on the roll when its vote opens (a count:
        # the entry may be public, and who attended never leaves the node)
        if get_int(body, "rules_version") != state.rules_version:
            raise RuleError("motion.rules-version", "a motion names the rules version in force")
        recorded = None if body["electorate"] is None else get_int(body, "electorate")
        if recorded != electorate_count(state, len(a.roll), visibility):
            raise RuleError("motion.electorate-mismatch", "not the count of members on the roll")
    proposer = body["proposer"]
    if proposer is not None:
        _member(state, check_bytes(proposer, "proposer", MEMBER_ID_LEN))
        if proposer not in a.roll:
            raise RuleError("motion.proposer-not-present", "the proposer must be on the roll")
    candidates = [check_bytes(c, "candidates", MEMBER_ID_LEN) for c in get_list(body, "candidates")]
    seats, target, rules_body = body["seats"], body["target"], body["rules"]
    proposal_body = body.get("proposal")
    used = {
        "seats": seats is not None,
        "candidates": bool(candidates),
        "target": target is not None,
        "rules": rules_body is not None,
        "proposal": proposal_body is not None,
        "federation": body.get("federation") is not None,
    }
    wanted = {
        "election": {"seats", "candidates"},
        "removal": {"target"},
        "recall": {"target"},
        "rules": {"rules"},
        "federation": {"proposal"},
        **delegates.FIELDS,
        proposal_requests.KIND: {"federation"},
    }
    stray = {k for k, v in used.items() if v} - wanted.get(kind, set())
    if stray:
        raise RuleError("motion.bad-shape", f"a {kind} motion does not take {', '.join(sorted(stray))}")
    rules: Rules | None = None
    proposal: tuple[bytes, bytes] | None = None
    federation: bytes | None = None
    if kind == "federation":
        proposal = _check_federation(state, proposal_body, visibility)
    elif kind == "rules":
        if rules_body is None:
            raise RuleError("motion.rules-missing", "a rules motion carries the proposed rules")
        rules = Rules.from_body(get_map(body, "rules"))
    elif kind in ("removal", "recall"):
        if target is None:
            raise RuleError("motion.target-missing", f"a {kind} motion names its target")
        _active(state, check_bytes(target, "target", MEMBER_ID_LEN))
        if kind == "recall" and target not in state.board_members():
            raise RuleError("recall.not-on-board", "only a sitting board member can be recalled")
    elif kind == "election":
        _check_election(state, seats, candidates)
    elif kind in delegates.KINDS:
        delegates.check_motion(state, kind, candidates, target, visibility)
    elif kind == proposal_requests.KIND:
        federation = proposal_requests.check_motion(body.get("federation"), visibility)
    method = body.get("method")
    if "method" in body and (kind != "election" or method not in ELECTION_METHODS):
        raise RuleError("election.bad-method", f"an election's method is {one_of(ELECTION_METHODS)}")
    if entry is not None:
        state.motions[entry.id] = Motion(
            entry.id,
            a.id,
            kind,
            text,
            visibility,
            proposer,
            seats=seats,
            candidates=tuple(candidates),
            target=target,
            rules=rules,
            proposal=proposal,
            federation=federation,
            method=method,
            runoff_of=body.get("runoff_of"),
        )
        state.pending_runoff = None
        if fixed:
            m = state.motions[entry.id]
            m.rules_version, m.electorate = state.rules_version, frozenset(a.roll)
            m.active_at_open = len(state.active_members())


def _check_federation(state: Council, proposal: object, visibility: object) -> tuple[bytes, bytes]:
    """A federation motion answers one federation-wide proposal, in public (DESIGN §5)."""
    if proposal is None:
        raise RuleError("motion.proposal-missing", "a federation motion names the proposal it answers")
    if not isinstance(proposal, list) or len(proposal) != 2:
        raise malformed("proposal is [federation log id, proposal entry id]")
    federation = check_bytes(proposal[0], "proposal", PUBKEY_LEN)  # a log id is its root public key
    answered = (federation, check_bytes(proposal[1], "proposal", ENTRY_ID_LEN))
    # the federation counts only public decisions: a hidden answer would never be counted
    if visibility != "public":
        raise RuleError("motion.federation-public", "a council answers a federation proposal in public")
    # the federation counts a council's first valid decision: a second motion would be a dead letter — unless
    # every earlier one ended without a valid decision (no quorum), when the assembly may answer again until
    # the federation's deadline (issue 13; the federation judges the deadline by its own receipt)
    for m in state.motions.values():
        if m.proposal != answered:
            continue
        decided = state.decisions.get(m.decision) if m.decision is not None else None
        if decided is None or decided.outcome != "no_quorum":
            raise RuleError("motion.federation-answered", "this council has already taken up that proposal")
    return answered


def _check_election(state: Council, seats: object, candidates: list[bytes]) -> None:
    if not isinstance(seats, int) or isinstance(seats, bool) or seats < 1:
        raise RuleError("election.bad-seats", "an election is for at least one seat")
    if not candidates:
        raise RuleError("election.no-candidates", "an election needs candidates")
    if len(candidates) > MAX_CANDIDATES:
        raise RuleError("limit.candidates", f"at most {MAX_CANDIDATES} candidates")
    if len(set(candidates)) != len(candidates):
        raise RuleError("election.duplicate-candidate", "a candidate is listed twice")
    board = state.board_members()
    for c in candidates:
        _active(state, c)
        if c in board:
            raise RuleError("election.candidate-on-board", "a sitting board member holds a seat already")
    # article 5: an election fills vacancies only; seats already contested by open elections are not vacant
    pending = sum(m.seats or 0 for m in state.motions.values() if m.is_open and m.kind == "election")
    if seats > state.vacancies() - pending:
        raise RuleError("election.seats-exceed-vacancies", "more seats than the board has vacant")


def vote(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    exact_keys(body, {"kind", "motion", "member", "choice", "approvals", "ballot"}, "motion/vote")
    motion = _open_motion(state, get_entry_id(body, "motion"))
    member = get_member(body, "member")
    _member(state, member)
    a = state.assemblies[motion.assembly]
    # article 4: the majority "of the participants in the meetings": only who is on the roll now votes
    if member not in a.roll:
        if member in a.attended:
            raise RuleError("vote.departed", "this member has left the assembly")
        raise RuleError("vote.not-present", "only members on the roll vote")
    if motion.electorate is not None and member not in motion.electorate:
        raise RuleError("vote.not-in-electorate", "this member arrived after the vote opened")
    if member in motion.votes:
        raise RuleError("vote.duplicate", "one vote per member per motion")
    ballot = body["ballot"]
    if ballot is not None and (not isinstance(ballot, bytes) or len(ballot) != BALLOT_LEN):
        raise RuleError("vote.bad-ballot", f"a ballot signature is {BALLOT_LEN} bytes")
    choice, approvals = body["choice"], get_list(body, "approvals")
    cast: str | tuple[bytes, ...]
    if motion.kind == "election":
        if choice is not None:
            raise RuleError("vote.bad-shape", "an election vote lists approvals, not a choice")
        cast = tuple(check_bytes(c, "approvals", MEMBER_ID_LEN) for c in approvals)
        if len(set(cast)) != len(cast):
            raise RuleError("vote.duplicate-approval", "a candidate is approved twice")
        assert motion.seats is not None
        if len(cast) > motion.seats:
            raise RuleError("vote.too-many-approvals", "approve at most as many candidates as seats")
        if not set(cast) <= set(motion.candidates):
            raise RuleError("vote.not-a-candidate", "approvals name the motion's candidates only")
    else:
        if approvals or choice not in VOTE_CHOICES:
            raise RuleError("vote.bad-choice", f"a vote is {one_of(VOTE_CHOICES)}")
        cast = choice
    if entry is not None:
        motion.votes[member] = cast


def decision(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    if "motion" not in body:
        raise malformed("a decision names its motion")
    motion = _open_motion(state, get_entry_id(body, "motion"))
    expected, tally = decision_bodies(state, motion)
    if plain(body) != expected:
        raise RuleError("decision.mismatch", "the decision does not follow from the votes and the rules")
    if entry is None:
        return
    motion.is_open, motion.decision = False, entry.id
    full = {**expected, **(tally or {})}
    full.pop("kind")
    full.pop("motion", None)
    state.decisions[entry.id] = Decision(
        entry.id, entry.seq, entry.ts_ms, motion.id, expected["outcome"], motion.visibility, full
    )
    if tally is not None:
        state.pending_tally = PendingTally(motion.id, entry.id, tally)
    if expected.get("runoff") is not None:
        state.pending_runoff = runoff_proposal(state, motion, expected["runoff"])
    if expected["rules_adopted"] is not None:
        new_rules = adopted_rules(state, motion)
        changed = state.rules.changes(new_rules)
        state.rules, state.rules_version = new_rules, expected["rules_adopted"]
        state.rules_history[state.rules_version] = RulesVersion(
            state.rules_version, new_rules, entry.seq, entry.ts_ms, entry.id, changed
        )
    delegates.fold(state, expected, entry)
    for e in expected["elected"]:
        state.mandates.append(Mandate(entry.id, e["seat"], e["member"]))
    if expected["removed"] is not None:
        _end_membership(state, state.members[expected["removed"]], "removed", entry.seq, entry.id)
    for e in expected["ended"]:  # article 5: an adopted recall ends the mandate at once
        for m in state.mandates:
            if m.decision == e["decision"] and m.seat == e["seat"] and m.sitting:
                m.ended_how, m.ended_by, m.ended_seq = "recalled", entry.id, entry.seq


def tally(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    pending = state.pending_tally
    if pending is None or plain(body) != pending.body:
        raise RuleError("decision.tally-mismatch", "a tally follows its decision and repeats its arithmetic")
    if entry is not None:
        state.pending_tally = None


def report(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    exact_keys(body, {"kind", "member", "text"}, "board/report")
    text = get_text(body, "text", MAX_TEXT)
    if not text:
        raise RuleError("report.empty", "a report has text")
    member = get_member(body, "member")
    _member(state, member)
    # article 5: between assemblies the board carries out policy and reports on it — nothing else
    if member not in state.board_members():
        raise RuleError("board.not-member", "only a sitting board member files executive reports")


# -- the census ------------------------------------------------------------------------------------


def census(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    exact_keys(body, {"kind", "active_members"}, "council/census")
    count = get_int(body, "active_members")
    # the federation counts members (DESIGN §5) without learning who they are (§6): a bucketed count only
    if count != state.rules.census(len(state.active_members())):
        raise RuleError("census.mismatch", "not the (bucketed) count of active members at this point")
    if entry is not None:
        state.census = CensusRecord(entry.seq, entry.ts_ms, count)


def _visibility_of_motion(state: Council, body: dict[str, Any]) -> Vis:
    vis = body.get("visibility")
    return "council" if vis == "council" else "public"


def _visibility_of_decision(state: Council, body: dict[str, Any]) -> Vis:
    m = state.motions.get(body.get("motion", b""))
    return "council" if m is not None and m.visibility == "council" else "public"


def _fixed(vis: Vis) -> Callable[[Council, dict[str, Any]], Vis]:
    return lambda _state, _body: vis


# kind -> (visibility it must be stored with, handler). Council visibility for everything naming who
# joined, attended or voted: membership lists, rolls and votes never leave the node (DESIGN §6).
KINDS: dict[str, tuple[Callable[[Council, dict[str, Any]], Vis], Handler]] = {
    "council/found": (_fixed("public"), found),
    "member/join": (_fixed("council"), join),
    "member/leave": (_fixed("council"), leave),
    "member/key": (_fixed("council"), bind_key),
    "assembly/requisition": (_fixed("council"), requisition),
    "assembly/open": (_fixed("public"), open_assembly),
    "assembly/attend": (_fixed("council"), attend),
    "assembly/depart": (_fixed("council"), depart),
    "assembly/close": (_fixed("public"), close_assembly),
    "assembly/minutes": (_fixed("council"), minutes),
    "motion/propose": (_visibility_of_motion, propose),
    "motion/vote": (_fixed("council"), vote),
    "decision": (_visibility_of_decision, decision),
    "decision/tally": (_fixed("council"), tally),
    "board/report": (_fixed("public"), report),
    "board/resign": (_fixed("public"), resign),
    "board/left": (_fixed("public"), board_left),
    "council/census": (_fixed("public"), census),
    logkey.KIND: (_fixed("public"), lambda _state, body, entry: logkey.judge(body, entry)),
}
