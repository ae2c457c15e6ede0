"""Motions and votes: a motion proposed in an open assembly, and the votes of the members on its roll."""

from __future__ import annotations

from typing import Any

from . import delegates, lookup, proposal_requests, readmission
from .decide import electorate_count
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
from .limits import ENTRY_ID_LEN, MAX_CANDIDATES, MAX_TEXT, MEMBER_ID_LEN, PUBKEY_LEN
from .log import Appended
from .model import Council, Motion
from .rules import ELECTION_METHODS
from .ruleset import MOTION_KINDS, Rules

VOTE_CHOICES = ("yes", "no", "abstain")
BALLOT_LEN = 64  # the member's Ed25519 signature over their ballot statement (protocol.member)
# the motions whose candidates stand only with their own consent (issue 13): board elections, and since
# then the delegate motions that mandate a council's delegates to its federation
CONSENTED_KINDS = ("election", "delegate")


def propose(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    keys = {"kind", "assembly", "motion_kind", "text", "visibility", "proposer"}
    keys |= {"seats", "candidates", "target", "rules"}
    # logs written by 0.1.0 have no proposal field: none of their motions answers a federation; only request
    # motions have a federation field; elections proposed before issue 13 declare no method (decided by the
    # old rule), only runoffs name runoff_of; logs written before issue 13 fix neither the rules version nor
    # the electorate: they replay as written
    fixed = {"rules_version", "electorate"} if "rules_version" in body or "electorate" in body else set()
    # elections (and delegate motions) proposed since candidate consent (issue 13) say so: ``consented``
    # (true); older ones replay as written
    keys |= fixed | {k for k in ("proposal", "federation", "method", "runoff_of", "consented") if k in body}
    exact_keys(body, keys, "motion/propose")
    # a runoff is opened by its tied decision only, exactly as the decision says (issue 13)
    if (state.pending_runoff is not None or "runoff_of" in body) and plain(body) != state.pending_runoff:
        raise RuleError("motion.runoff-mismatch", "a runoff motion follows its tied decision, as it says")
    text = get_text(body, "text", MAX_TEXT)
    # article 4: only the general assembly adopts policy, changes rules, elects or recalls
    a = lookup.open_assembly(state, get_entry_id(body, "assembly"), "motion.assembly-closed")
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
        lookup.member(state, check_bytes(proposer, "proposer", MEMBER_ID_LEN))
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
        **readmission.FIELDS,
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
        lookup.active(state, check_bytes(target, "target", MEMBER_ID_LEN))
        if kind == "recall" and target not in state.board_members():
            raise RuleError("recall.not-on-board", "only a sitting board member can be recalled")
    elif kind == "election":
        _check_election(state, seats, candidates)
    elif kind in delegates.KINDS:
        delegates.check_motion(state, kind, candidates, target, visibility)
    elif kind == readmission.KIND:
        readmission.check_motion(state, target)
    elif kind == proposal_requests.KIND:
        federation = proposal_requests.check_motion(body.get("federation"), visibility)
    if "consented" in body:
        if kind not in CONSENTED_KINDS or body["consented"] is not True:
            why = "only elections and delegate motions state that their candidates consented"
            raise RuleError("motion.bad-shape", why)
        # the candidate list is fixed when the vote opens: each candidate has consented to stand by then
        if any(c not in a.consents for c in candidates):
            raise RuleError("candidate.no-consent", "a candidate stands only with their own consent")
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
            consented="consented" in body,
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
        lookup.active(state, c)
        if c in board:
            raise RuleError("election.candidate-on-board", "a sitting board member holds a seat already")
    # article 5: an election fills vacancies only; seats already contested by open elections are not vacant
    pending = sum(m.seats or 0 for m in state.motions.values() if m.is_open and m.kind == "election")
    if seats > state.vacancies() - pending:
        raise RuleError("election.seats-exceed-vacancies", "more seats than the board has vacant")


def consent(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    """A member's consent to stand as a candidate in an open assembly's elections (issue 13)."""
    exact_keys(body, {"kind", "assembly", "member"}, "member/consent")
    a = lookup.open_assembly(state, get_entry_id(body, "assembly"), "consent.assembly-closed")
    member = lookup.active(state, get_member(body, "member")).id
    if member in a.consents:
        raise RuleError("consent.duplicate", "this member has consented to stand in this assembly already")
    if entry is not None:
        a.consents[member] = entry.id


def vote(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    exact_keys(body, {"kind", "motion", "member", "choice", "approvals", "ballot"}, "motion/vote")
    motion = lookup.open_motion(state, get_entry_id(body, "motion"))
    member = get_member(body, "member")
    lookup.member(state, member)
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
