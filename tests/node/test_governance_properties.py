"""Issue 13's two properties over random command sequences applied to the pure council machine:

- **the council can always decide**: whatever joins, leaves, assemblies, attendance, motions (rules changes,
  elections, recalls, removals, readmissions, delegates), requisitions, resignations and closes came before,
  the active members can still take a decision — convene (the board if it sits, else the operator), all
  attend, propose, all vote yes, close — and it is adopted, for an ordinary motion and for a rules motion
  (the repair of any rule). A council that locked itself out fails here;
- **every decision recounts**: the recount a verifier does from a bundle alone (``protocol/recount.py``) of
  every decision in the random log — its hidden tally joined back when the rules keep tallies council-only —
  equals the outcome the decision states.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from node.rules.council import (
    DEFAULT_CHARTER,
    Appended,
    Attend,
    CastVote,
    CloseAssembly,
    CloseMotion,
    Command,
    Consent,
    Depart,
    FoundCouncil,
    JoinMember,
    LeaveMember,
    OpenAssembly,
    ProposeMotion,
    Quorum,
    RequestAssembly,
    ResignSeat,
    RuleError,
    Rules,
)
from protocol.recount import recount
from tests.node.test_governance import FakeLog

MEMBERS = [bytes([i]) * 16 for i in range(1, 9)]
NEWCOMER = bytes([0xEE]) * 16  # joins when nobody is left, to show the council can start again
member = st.sampled_from(MEMBERS)
majority = st.sampled_from(["simple", "absolute", "two_thirds", "two_thirds_participants"])
quorum = st.one_of(
    st.none(),
    st.builds(Quorum, count=st.integers(1, 8)),
    st.builds(Quorum, fraction=st.sampled_from([(1, 2), (2, 3), (1, 3), (3, 4)])),
)
rules = st.builds(
    Rules,
    majority=majority,
    quorum=quorum,
    board_seats=st.integers(0, 3),
    publish_tallies=st.booleans(),
    rules_majority=st.one_of(st.none(), majority),
    quorum_cap=st.booleans(),
)
KINDS = [
    "policy", "rules", "removal", "readmit", "election", "recall", "delegate", "delegate-recall", "request"
]  # fmt: skip


def run(log: FakeLog, command: Command) -> list[Appended]:
    """``command`` executed and applied as a node would; the entries it appended ([] if refused)."""
    try:
        return log.run(command)
    except RuleError:
        return []


def decide_unanimously(log: FakeLog, kind: str) -> str:
    """Every active member attends the open assembly (convened if none is) and votes yes on a new motion of
    ``kind``; the outcome of closing it."""
    state = log.state
    if not state.active_members():
        run(log, JoinMember(NEWCOMER, DEFAULT_CHARTER.hash()))
    if state.open_assembly() is None:
        board = sorted(state.board_members())
        run(log, OpenAssembly(board[0] if board else None, "what the members decide"))
    a = state.open_assembly()
    assert a is not None, "nobody may convene an assembly"
    absent = tuple(m for m in sorted(state.active_members()) if m not in a.roll)
    if absent:
        run(log, Attend(a.id, absent))
    extra: dict[str, Any] = {"rules": Rules(quorum=None)} if kind == "rules" else {}
    proposed = run(log, ProposeMotion(a.id, kind, "the members' will", "council", **extra))
    assert proposed, f"a {kind} motion cannot be proposed"
    motion = proposed[0].id
    for m in sorted(a.roll):
        assert run(log, CastVote(motion, m, "yes")), "a member on the roll cannot vote"
    closed = run(log, CloseMotion(motion))
    return str(closed[0].body["outcome"])


def recount_body(log: list[Appended], at: int) -> dict[str, Any]:
    """The decision at ``at`` as a verifier with its tally reads it: a hidden tally (the council-only
    ``decision/tally`` right after it) joined back."""
    body = {k: v for k, v in log[at].body.items() if k != "salt"}
    following = log[at + 1].body if at + 1 < len(log) else {}
    if following.get("kind") == "decision/tally":
        body.update({k: v for k, v in following.items() if k not in ("kind", "motion", "salt")})
    return body


class Council13(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.fake = FakeLog()
        self.state = self.fake.state
        self.log = self.fake.entries

    def do(self, command: Command) -> None:
        run(self.fake, command)

    def pick(self, data: Any, which: str) -> bytes:
        known = list(getattr(self.state, which))
        return data.draw(st.sampled_from(known)) if known else bytes(32)

    @initialize(r=rules, joined=st.integers(1, len(MEMBERS)))
    def founded(self, r: Rules, joined: int) -> None:
        self.do(FoundCouncil("Reds", "Asia", rules=r))
        for m in MEMBERS[:joined]:
            self.do(JoinMember(m, DEFAULT_CHARTER.hash()))

    @rule(m=member)
    def join(self, m: bytes) -> None:
        self.do(JoinMember(m, DEFAULT_CHARTER.hash()))

    @rule(m=member)
    def leave(self, m: bytes) -> None:
        self.do(LeaveMember(m))

    @rule()
    def convene(self) -> None:
        board = sorted(self.state.board_members())
        self.do(OpenAssembly(board[0] if board else None, "agenda"))

    @rule(ms=st.lists(member, min_size=1, max_size=5, unique=True))
    def attend(self, ms: list[bytes]) -> None:
        a = self.state.open_assembly()
        if a is not None:
            self.do(Attend(a.id, tuple(m for m in ms if self.state.is_active(m) and m not in a.roll)))

    @rule(m=member)
    def depart(self, m: bytes) -> None:
        a = self.state.open_assembly()
        if a is not None:
            self.do(Depart(a.id, m))

    @rule()
    def close_assembly(self) -> None:
        a = self.state.open_assembly()
        if a is not None:
            for motion in [m for m in self.state.motions.values() if m.is_open and m.assembly == a.id]:
                self.do(CloseMotion(motion.id))
            self.do(CloseAssembly(a.id))

    @rule(
        kind=st.sampled_from(KINDS),
        seats=st.integers(1, 3),
        candidates=st.lists(member, min_size=1, max_size=3, unique=True),
        tgt=member,
        r=rules,
        vis=st.sampled_from(["public", "council"]),
    )
    def propose(self, kind: Any, seats: int, candidates: list[bytes], tgt: bytes, r: Rules, vis: Any) -> None:
        a = self.state.open_assembly()
        if a is None:
            return
        extras: dict[str, dict[str, Any]] = {
            "policy": {},
            "rules": {"rules": r},
            "removal": {"target": tgt},
            "readmit": {"target": tgt},
            "recall": {"target": tgt},
            "election": {"seats": seats, "candidates": tuple(candidates)},
            "delegate": {"candidates": tuple(candidates[:1])},
            "delegate-recall": {"target": tgt},
            "request": {"federation": bytes(32)},
        }
        if kind in ("election", "delegate"):  # candidates stand only with their consent (issue 13)
            for c in extras[kind]["candidates"]:
                if c not in a.consents:
                    self.do(Consent(a.id, c))
        self.do(ProposeMotion(a.id, kind, "motion", vis, **extras[kind]))

    @rule(
        data=st.data(),
        kind=st.sampled_from(KINDS),
        r=rules,
        vis=st.sampled_from(["public", "council"]),
    )
    def a_whole_motion(self, data: Any, kind: Any, r: Rules, vis: Any) -> None:
        """Most random commands are refused; this walks one motion through, so logs hold many decisions:
        convened if need be, most members attending, proposed, voted at random, closed."""
        if self.state.open_assembly() is None:
            self.convene()
        a = self.state.open_assembly()
        active = sorted(self.state.active_members())
        if a is None or not active:
            return
        coming = data.draw(st.lists(st.sampled_from(active), unique=True))
        self.attend(coming)
        roll = sorted(a.roll)
        if not roll:
            return
        picked = data.draw(st.lists(st.sampled_from(roll), min_size=1, max_size=3, unique=True))
        seats = data.draw(st.integers(1, 2))
        self.propose(kind, seats, picked, picked[0], r, vis)
        motion = self.log[-1].body
        if motion.get("kind") != "motion/propose":
            return
        motion_id = self.log[-1].id
        for voter in data.draw(st.lists(st.sampled_from(roll), unique=True)):
            if kind == "election":
                approvals = data.draw(st.lists(st.sampled_from(picked), max_size=2, unique=True))
                self.do(CastVote(motion_id, voter, approvals=tuple(approvals)))
            else:
                self.do(CastVote(motion_id, voter, data.draw(st.sampled_from(["yes", "no", "abstain"]))))
        self.do(CloseMotion(motion_id))

    @rule(data=st.data())
    def close_motion(self, data: Any) -> None:
        self.do(CloseMotion(self.pick(data, "motions")))

    @rule(m=member)
    def requisition(self, m: bytes) -> None:
        self.do(RequestAssembly(m, "an assembly, please", self.state.requisition_round()))

    @rule()
    def resign(self) -> None:
        seat = next(iter(self.state.sitting_mandates()), None)
        if seat is not None:
            self.do(ResignSeat(seat.member, seat.decision))

    def sitting_assembly(self) -> Any:
        """The open assembly, convened if none is, with every active member on its roll (or None)."""
        if self.state.open_assembly() is None:
            self.convene()
        a = self.state.open_assembly()
        if a is not None:
            self.attend([m for m in self.state.active_members() if m not in a.roll])
        return a

    @rule(vis=st.sampled_from(["public", "council"]))
    def elect_a_board_member(self, vis: Any) -> None:
        """Every member present approves one candidate for one seat, in public or council-only."""
        a = self.sitting_assembly()
        candidates = [m for m in sorted(a.roll) if m not in self.state.board_members()] if a else []
        if a is None or not candidates:
            return
        if candidates[0] not in a.consents:
            self.do(Consent(a.id, candidates[0]))
        self.do(ProposeMotion(a.id, "election", "motion", vis, seats=1, candidates=(candidates[0],)))
        if self.log[-1].body.get("kind") == "motion/propose":
            motion = self.log[-1].id
            for voter in sorted(a.roll):
                self.do(CastVote(motion, voter, approvals=(candidates[0],)))
            self.do(CloseMotion(motion))

    @rule(kind=st.sampled_from(["recall", "removal"]), vis=st.sampled_from(["public", "council"]))
    def end_a_mandate(self, kind: Any, vis: Any) -> None:
        """A sitting board member recalled or removed by every member present, in public or council-only."""
        seat = next(iter(self.state.sitting_mandates()), None)
        a = None if seat is None else self.sitting_assembly()
        if seat is None or a is None:
            return
        self.do(ProposeMotion(a.id, kind, "motion", vis, target=seat.member))
        if self.log[-1].body.get("kind") == "motion/propose":
            motion = self.log[-1].id
            for voter in sorted(a.roll - {seat.member}):
                self.do(CastVote(motion, voter, "yes"))
            self.do(CloseMotion(motion))

    @invariant()
    def the_active_members_can_always_decide(self) -> None:
        if not self.state.founded:
            return
        for kind in ("policy", "rules"):
            assert decide_unanimously(copy.deepcopy(self.fake), kind) == "adopted", (kind, self.state.rules)

    @invariant()
    def every_decision_recounts_to_its_outcome(self) -> None:
        decisions = 0
        for at, entry in enumerate(self.log):
            if entry.body.get("kind") != "decision":
                continue
            body = recount_body(self.log, at)
            election_without_method = body["motion_kind"] == "election" and "method" not in body
            assert recount(body) is not election_without_method, body  # raises if it does not follow
            decisions += 1
        event(f"decisions>={min(decisions, 5)}")

    @invariant()
    def the_public_log_shows_the_board_the_node_has(self) -> None:
        """issue 13: read from the public entries alone, the sitting board is the node's board of mandates
        given in public, however each ended — by a council-only recall or removal too; and a board/left
        names only a mandate given in public, never a council-only election."""
        shown: set[tuple[bytes, int]] = set()
        public = {d.id for d in self.state.decisions.values() if d.visibility == "public"}
        for entry in self.log:
            body = entry.body
            if entry.vis != "public":
                continue
            if body["kind"] == "decision":
                shown |= {(entry.id, e["seat"]) for e in body["elected"]}
                shown -= {(e["decision"], e["seat"]) for e in body["ended"]}
            elif body["kind"] in ("board/resign", "board/left"):
                assert body["kind"] == "board/resign" or body["decision"] in public, body
                shown.discard((body["decision"], body["seat"]))
        sitting = {(m.decision, m.seat) for m in self.state.sitting_mandates() if m.decision in public}
        assert shown == sitting


Council13.TestCase.settings = settings(
    max_examples=80, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestCouncil13 = Council13.TestCase
