"""Random command sequences (valid and not): live state == replay of the log, and refusals append nothing."""

from __future__ import annotations

import copy
import hashlib
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
    Council,
    Depart,
    FileReport,
    FoundCouncil,
    JoinMember,
    LeaveMember,
    OpenAssembly,
    ProposeMotion,
    Quorum,
    RuleError,
    Rules,
    apply,
    execute,
    replay,
)

MEMBERS = [bytes([i]) * 16 for i in range(1, 7)]
member = st.sampled_from(MEMBERS)
rules = st.builds(
    Rules,
    st.sampled_from(["simple", "absolute", "two_thirds"]),
    st.one_of(st.none(), st.builds(Quorum, count=st.integers(1, 4)), st.just(Quorum(fraction=(1, 2)))),
    st.integers(1, 3),
    st.booleans(),
)


class GovernanceMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.log: list[Appended] = []
        self.state = Council()

    def ids(self, which: str) -> list[bytes]:
        # mostly real ids, sometimes an unknown one: both paths matter
        known = list(getattr(self.state, which))
        return [*known, *known, *known, bytes(32)]

    def run(self, command: Command) -> None:
        before, size = copy.deepcopy(self.state), len(self.log)
        try:
            drafts = execute(self.state, command, 1_000 * size)
        except RuleError:
            assert self.state == before and len(self.log) == size
            return
        assert self.state == before  # execute never mutates
        for draft in drafts:
            seq = len(self.log)
            body = dict(draft.body)
            if draft.vis == "council":
                body["salt"] = bytes(16)
            entry = Appended(
                seq, hashlib.sha256(seq.to_bytes(8, "big")).digest(), 1_000 * seq, draft.vis, body
            )
            apply(self.state, entry)  # what execute accepted, apply must accept
            self.log.append(entry)

    @initialize(r=rules, joined=st.integers(0, len(MEMBERS)), convene=st.integers(0, 3))
    def founded(self, r: Rules, joined: int, convene: int) -> None:
        # start most walks from a founded council with members, so they reach assemblies and decisions
        if joined:
            self.run(FoundCouncil("Reds", "Asia", rules=r))
            for m in MEMBERS[:joined]:
                self.run(JoinMember(m, DEFAULT_CHARTER.hash()))
            if convene:
                self.run(OpenAssembly(None))
                self.run(Attend(self.log[-1].id, tuple(MEMBERS[:joined])))

    @rule(r=rules)
    def found(self, r: Rules) -> None:
        self.run(FoundCouncil("Reds", "Asia", rules=r))

    @rule(m=member, good=st.booleans())
    def join(self, m: bytes, good: bool) -> None:
        self.run(JoinMember(m, DEFAULT_CHARTER.hash() if good else bytes(32)))

    @rule(m=member)
    def leave(self, m: bytes) -> None:
        self.run(LeaveMember(m))

    @rule(by=st.one_of(st.none(), member))
    def open(self, by: bytes | None) -> None:
        self.run(OpenAssembly(by, "agenda"))

    @rule(data=st.data(), ms=st.lists(member, max_size=3))
    def attend(self, data: Any, ms: list[bytes]) -> None:
        self.run(Attend(data.draw(st.sampled_from(self.ids("assemblies"))), tuple(ms)))

    @rule(data=st.data(), m=member)
    def consent(self, data: Any, m: bytes) -> None:
        self.run(Consent(data.draw(st.sampled_from(self.ids("assemblies"))), m))

    @rule(data=st.data(), m=member)
    def depart(self, data: Any, m: bytes) -> None:
        self.run(Depart(data.draw(st.sampled_from(self.ids("assemblies"))), m))

    @rule(data=st.data(), minutes=st.one_of(st.none(), st.just("minutes")))
    def close_assembly(self, data: Any, minutes: str | None) -> None:
        self.run(CloseAssembly(data.draw(st.sampled_from(self.ids("assemblies"))), minutes))

    @rule(
        data=st.data(),
        kind=st.sampled_from(
            [
                "policy",
                "rules",
                "removal",
                "election",
                "recall",
                "delegate",
                "delegate-recall",
                "request",
                "readmit",
            ]
        ),
        vis=st.sampled_from(["public", "council"]),
        seats=st.integers(0, 3),
        candidates=st.lists(member, max_size=3),
        tgt=member,
        r=rules,
    )
    def propose(
        self, data: Any, kind: Any, vis: Any, seats: int, candidates: list[bytes], tgt: bytes, r: Rules
    ) -> None:
        aid = data.draw(st.sampled_from(self.ids("assemblies")))
        extras: dict[str, dict[str, Any]] = {
            "policy": {},
            "rules": {"rules": r},
            "removal": {"target": tgt},
            "recall": {"target": tgt},
            "election": {"seats": seats, "candidates": tuple(candidates)},
            "delegate": {"candidates": tuple(candidates)},
            "delegate-recall": {"target": tgt},
            "request": {"federation": bytes(32)},
            "readmit": {"target": tgt},
        }
        self.run(ProposeMotion(aid, kind, "motion", vis, **extras[kind]))

    @rule(
        data=st.data(),
        m=member,
        choice=st.sampled_from(["yes", "no", "abstain", None]),
        approvals=st.lists(member, max_size=3),
    )
    def vote(self, data: Any, m: bytes, choice: Any, approvals: list[bytes]) -> None:
        motion = data.draw(st.sampled_from(self.ids("motions")))
        self.run(CastVote(motion, m, choice, tuple(approvals)))

    @rule()
    def propose_sensible_election(self) -> None:
        a, board = self.state.open_assembly(), self.state.board_members()
        candidates = tuple(m for m in sorted(self.state.roll()) if m not in board)[:2]
        if a is not None and candidates:
            for c in candidates:  # a candidate stands only with their consent (issue 13)
                if c not in a.consents:
                    self.run(Consent(a.id, c))
            self.run(ProposeMotion(a.id, "election", "board", seats=1, candidates=candidates))

    @rule(data=st.data())
    def vote_sensibly(self, data: Any) -> None:
        # random votes are mostly refused; this one is mostly valid, so walks reach boards and recalls
        motions = [m for m in self.state.motions.values() if m.is_open]
        roll = sorted(self.state.roll())
        if not motions or not roll:
            return
        motion = data.draw(st.sampled_from(motions))
        voter = data.draw(st.sampled_from(roll))
        if motion.kind == "election":
            approvals = data.draw(
                st.lists(st.sampled_from(motion.candidates), max_size=motion.seats, unique=True)
            )
            self.run(CastVote(motion.id, voter, approvals=tuple(approvals)))
        else:
            self.run(CastVote(motion.id, voter, data.draw(st.sampled_from(["yes", "yes", "no", "abstain"]))))

    @rule(data=st.data())
    def close_motion(self, data: Any) -> None:
        self.run(CloseMotion(data.draw(st.sampled_from(self.ids("motions")))))

    @rule(m=member)
    def report(self, m: bytes) -> None:
        self.run(FileReport(m, "report"))

    @rule()
    def propose_sensible_delegate(self) -> None:
        a = self.state.open_assembly()
        sitting = {d.member for d in self.state.sitting_delegates()}
        candidates = tuple(m for m in sorted(self.state.roll()) if m not in sitting)[:1]
        if a is not None and candidates:
            if candidates[0] not in a.consents:  # a delegate stands only with their consent (issue 13)
                self.run(Consent(a.id, candidates[0]))
            self.run(ProposeMotion(a.id, "delegate", "our delegate", candidates=candidates))

    @invariant()
    def delegates_are_active_members_once(self) -> None:
        sitting = [d.member for d in self.state.sitting_delegates()]
        assert len(set(sitting)) == len(sitting)
        assert all(self.state.is_active(m) for m in sitting)

    @invariant()
    def live_state_is_replay(self) -> None:
        assert replay(self.log) == self.state
        # visible with --hypothesis-show-statistics: the walk reaches decisions and a sitting board
        board = min(len(self.state.board_members()), 1)
        event(f"decisions>={min(len(self.state.decisions), 3)}, board>={board}")


GovernanceMachine.TestCase.settings = settings(
    max_examples=300, stateful_step_count=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestGovernanceMachine = GovernanceMachine.TestCase
