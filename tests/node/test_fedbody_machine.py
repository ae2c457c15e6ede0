"""Random federation command sequences (valid and not): live state == replay, and refusals append nothing."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from node.rules.fedbody import (
    Admit,
    Answer,
    Appended,
    Command,
    Federation,
    FoundFederation,
    PublishProposal,
    PublishResult,
    Readmit,
    RuleError,
    Suspend,
    apply,
    execute,
    replay,
    retally,
)

FED = bytes([0xFE]) * 32
KEYS = [bytes([i]) * 32 for i in range(1, 6)]
key = st.sampled_from(KEYS)
COUNTRIES = ["DE", "FR"]


class FederationMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.log: list[Appended] = []
        self.state = Federation(FED)
        self.now = 1_000

    def run(self, command: Command) -> None:
        before, size = copy.deepcopy(self.state), len(self.log)
        try:
            drafts = execute(self.state, command, self.now)
        except RuleError:
            assert self.state == before and len(self.log) == size
            return
        assert self.state == before  # execute never mutates
        for draft in drafts:
            seq = len(self.log)
            ts = max(self.now, self.state.last_ts_ms or 0)  # what the node's writer stamps
            entry = Appended(seq, hashlib.sha256(seq.to_bytes(8, "big")).digest(), ts, draft.vis, draft.body)
            apply(self.state, entry)  # what execute accepted, apply must accept
            self.log.append(entry)

    @initialize(level=st.sampled_from(["country", "continent"]), admitted=st.integers(0, len(KEYS)))
    def founded(self, level: Any, admitted: int) -> None:
        if admitted:
            self.run(FoundFederation("F", level, "Europe", country="DE" if level == "country" else ""))
            for k in KEYS[:admitted]:
                self.run(Admit(k, "council", "C", "Europe", city="X", country="DE"))

    @rule(level=st.sampled_from(["country", "continent"]), country=st.sampled_from(["", "DE"]))
    def found(self, level: Any, country: str) -> None:
        self.run(FoundFederation("F", level, "Europe", country=country))

    @rule(
        k=key,
        kind=st.sampled_from(["council", "federation"]),
        country=st.sampled_from(COUNTRIES),
        continent=st.sampled_from(["Europe", "Asia"]),
    )
    def admit(self, k: bytes, kind: Any, country: str, continent: str) -> None:
        city = "X" if kind == "council" else ""
        self.run(Admit(k, kind, "M", continent, city=city, country=country, reason="joined"))

    @rule(k=key, size=st.integers(-1, 20), reason=st.sampled_from(["", "why"]))
    def suspend(self, k: bytes, size: int, reason: str) -> None:
        self.run(Suspend(k, reason, size))

    @rule(k=key)
    def readmit(self, k: bytes) -> None:
        self.run(Readmit(k, "why"))

    @rule(
        ahead=st.integers(-10, 500),
        r=st.sampled_from(["answering", "admitted", "weighted", "bad"]),
        requests=st.lists(
            st.tuples(key, st.sampled_from([bytes([0xD1]) * 32, bytes([0xD2]) * 32])), max_size=2
        ),
    )
    def publish(self, ahead: int, r: Any, requests: list[tuple[bytes, bytes]]) -> None:
        # requests from councils admitted or not, fresh or used already, listed once or twice
        self.run(PublishProposal("fa", "en", self.now + ahead, r, requested_by=tuple(requests)))

    @rule(step=st.integers(0, 300))
    def tick(self, step: int) -> None:
        self.now += step

    @rule(
        data=st.data(),
        answers=st.lists(
            st.tuples(
                key,
                st.sampled_from(["adopted", "rejected", "tied", "no_quorum"]),
                st.integers(0, 20),
                st.integers(0, 2_000),
                st.integers(0, 3),
                st.booleans(),
            ),
            max_size=6,
        ),
    )
    def result(self, data: Any, answers: list[tuple[bytes, str, int, int, int, bool]]) -> None:
        proposals = [*self.state.proposals, bytes(32)]
        pid = data.draw(st.sampled_from(proposals))
        given = tuple(
            Answer(
                k, hashlib.sha256(k + bytes([seq])).digest(), (FED, pid if right else bytes(32)), o, n, t, seq
            )
            for k, o, n, t, seq, right in answers
        )
        size = len(self.log)
        self.run(PublishResult(pid, given))
        if len(self.log) > size:
            retally(self.log[-1].body, given)  # a result redoes from the answers it was given

    @invariant()
    def live_state_is_replay(self) -> None:
        assert replay(self.log, FED) == self.state
        suspended = min(len(self.state.suspended_members()), 1)
        event(f"results>={min(len(self.state.results), 2)}, suspended>={suspended}")


FederationMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestFederationMachine = FederationMachine.TestCase
