"""The governance side of federation: a council's assembly answers a federation proposal; the census."""

from __future__ import annotations

from dataclasses import replace

import pytest

from node.rules.council import (
    Census,
    CloseAssembly,
    CloseMotion,
    JoinMember,
    LeaveMember,
    ProposeMotion,
    RuleError,
    Rules,
    replay,
)
from node.rules.council.ruleset import Quorum
from node.rules.fedbody import answer_from_decision
from tests.node.test_governance import HASH, A, B, C, D, E, FakeLog, assembly, council, mid, vote_and_close

FED, PROPOSAL = bytes([0xFE]) * 32, bytes([0xAB]) * 32
COUNCIL_KEY = bytes([0xC0]) * 32


class Record:
    """What ``verify_bundle`` hands back, reduced to what an answer needs."""

    def __init__(self, entry: object, log_id: bytes = COUNCIL_KEY) -> None:
        self.log_id, self.seq, self.id = log_id, entry.seq, entry.id  # type: ignore[attr-defined]
        self.ts_ms, self.vis, self.body = entry.ts_ms, entry.vis, entry.body  # type: ignore[attr-defined]


def test_federation_motion_is_answered_in_public() -> None:
    log = council()
    aid = assembly(log, (A, B, C, D))
    m = log.run(ProposeMotion(aid, "federation", "join the general strike", proposal=(FED, PROPOSAL)))[0]
    assert m.vis == "public" and m.body["proposal"] == [FED, PROPOSAL]
    assert log.state.motions[m.id].proposal == (FED, PROPOSAL)
    d = vote_and_close(log, m.id, {A: "yes", B: "yes", C: "no"})
    assert d["outcome"] == "adopted" and d["proposal"] == [FED, PROPOSAL] and d["participants"] == 4
    decision = log.entries[-1]
    answer = answer_from_decision(Record(decision))
    assert (answer.outcome, answer.participants, answer.proposal) == ("adopted", 4, (FED, PROPOSAL))
    assert (answer.decision, answer.seq, answer.ts_ms) == (decision.id, decision.seq, decision.ts_ms)
    # the other kinds carry proposal nil in the motion and nothing in the decision
    p = log.run(ProposeMotion(aid, "policy", "text"))[0]
    assert p.body["proposal"] is None
    assert "proposal" not in log.run(CloseMotion(p.id))[0].body
    assert replay(log.entries) == log.state


def test_federation_answer_keeps_participants_when_tallies_are_hidden() -> None:
    log = council(Rules(publish_tallies=False))
    aid = assembly(log, (A, B, C))
    m = log.run(ProposeMotion(aid, "federation", "t", proposal=(FED, PROPOSAL)))[0].id
    entries = log.run(CloseMotion(m))
    assert [(e.vis, e.body["kind"]) for e in entries] == [
        ("public", "decision"),
        ("council", "decision/tally"),
    ]
    assert entries[0].body["participants"] == 3 and "tally" not in entries[0].body
    assert "participants" not in entries[1].body and entries[1].body["votes_cast"] == 0
    assert answer_from_decision(Record(entries[0])).outcome == "tied"
    assert log.state.decisions[entries[0].id].body["participants"] == 3
    assert replay(log.entries) == log.state


def test_federation_motion_no_quorum_is_still_an_answer() -> None:
    log = council(Rules(quorum=Quorum(count=5)))
    aid = assembly(log, (A, B))
    m = log.run(ProposeMotion(aid, "federation", "t", proposal=(FED, PROPOSAL)))[0].id
    assert vote_and_close(log, m, {A: "yes"})["outcome"] == "no_quorum"
    assert answer_from_decision(Record(log.entries[-1])).outcome == "no_quorum"


def test_a_council_whose_assembly_missed_quorum_may_answer_again() -> None:
    """Issue 13: a council whose assembly missed quorum could never answer again."""
    log = council(Rules(quorum=Quorum(count=3)))
    first = assembly(log, (A, B))
    m = log.run(ProposeMotion(first, "federation", "t", proposal=(FED, PROPOSAL)))[0].id
    assert vote_and_close(log, m, {A: "yes"})["outcome"] == "no_quorum"
    log.run(CloseAssembly(first))
    second = assembly(log, (A, B, C, D))
    again = log.run(ProposeMotion(second, "federation", "again", proposal=(FED, PROPOSAL)))[0].id
    # while that one is open, or once it decided validly, a third is a dead letter
    log.refuse(
        ProposeMotion(second, "federation", "third", proposal=(FED, PROPOSAL)), "motion.federation-answered"
    )
    assert vote_and_close(log, again, {A: "yes", B: "yes", C: "no"})["outcome"] == "adopted"
    log.refuse(
        ProposeMotion(second, "federation", "third", proposal=(FED, PROPOSAL)), "motion.federation-answered"
    )
    assert replay(log.entries) == log.state


def test_refusals_federation_motion() -> None:
    log = council()
    aid = assembly(log)
    log.refuse(
        ProposeMotion(aid, "federation", "t", visibility="council", proposal=(FED, PROPOSAL)),
        "motion.federation-public",
    )
    log.refuse(ProposeMotion(aid, "federation", "t"), "motion.proposal-missing")
    log.refuse(ProposeMotion(aid, "policy", "t", proposal=(FED, PROPOSAL)), "motion.bad-shape")
    log.refuse(ProposeMotion(aid, "federation", "t", proposal=(b"short", PROPOSAL)), "entry.malformed")
    log.refuse(ProposeMotion(aid, "federation", "t", proposal=(FED, PROPOSAL), target=A), "motion.bad-shape")
    m = log.run(ProposeMotion(aid, "federation", "t", proposal=(FED, PROPOSAL)))[0].id
    log.refuse(
        ProposeMotion(aid, "federation", "again", proposal=(FED, PROPOSAL)), "motion.federation-answered"
    )
    log.run(CloseMotion(m))
    log.refuse(
        ProposeMotion(aid, "federation", "again", proposal=(FED, PROPOSAL)), "motion.federation-answered"
    )
    log.run(ProposeMotion(aid, "federation", "another", proposal=(FED, bytes(32))))


def test_answer_from_other_decisions_is_refused() -> None:
    log = council()
    aid = assembly(log)
    policy = log.run(ProposeMotion(aid, "policy", "t"))[0].id
    with pytest.raises(RuleError) as info:
        answer_from_decision(Record(log.run(CloseMotion(policy))[0]))
    assert info.value.rule == "answer.not-federation"
    fed = log.run(ProposeMotion(aid, "federation", "t", proposal=(FED, PROPOSAL)))[0].id
    decision = log.run(CloseMotion(fed))[0]
    with pytest.raises(RuleError) as info:
        answer_from_decision(Record(replace(decision, vis="council")))
    assert info.value.rule == "answer.not-federation"
    with pytest.raises(RuleError) as info:
        answer_from_decision(Record(replace(decision, body={**decision.body, "participants": "4"})))
    assert info.value.rule == "answer.malformed"
    with pytest.raises(RuleError) as info:
        answer_from_decision(Record(replace(decision, body={**decision.body, "outcome": "maybe"})))
    assert info.value.rule == "answer.malformed"


def test_hostile_federation_decision_is_refused() -> None:
    log = council()
    aid = assembly(log)
    m = log.run(ProposeMotion(aid, "federation", "t", proposal=(FED, PROPOSAL)))[0].id
    log.run(CloseMotion(m))
    entries = list(log.entries)
    entries[-1] = replace(entries[-1], body={**entries[-1].body, "proposal": [FED, bytes(32)]})
    with pytest.raises(RuleError) as info:
        replay(entries)
    assert info.value.rule == "decision.mismatch"
    entries = list(log.entries)
    entries[-2] = replace(entries[-2], vis="council", body={**entries[-2].body, "salt": bytes(16)})
    with pytest.raises(RuleError) as info:
        replay(entries)
    assert info.value.rule == "log.visibility"


# -- the census ------------------------------------------------------------------------------------


def test_census_exact_and_bucketed() -> None:
    log = council()
    entry = log.run(Census())[0]
    assert (entry.vis, entry.body) == ("public", {"kind": "council/census", "active_members": 5})
    assert log.state.census is not None and log.state.census.active_members == 5

    log = council(Rules(census_bucket=5), members=(A, B, C, D))
    assert log.run(Census())[0].body["active_members"] == 0  # 4 rounds down to 0
    log.run(JoinMember(E, HASH))
    assert log.run(Census())[0].body["active_members"] == 5
    for i in range(6, 12):
        log.run(JoinMember(mid(i), HASH))
    log.run(LeaveMember(A))
    assert log.run(Census())[0].body["active_members"] == 10  # 10 active
    assert log.state.founded and log.entries[0].body["rules"]["census_bucket"] == 5
    assert replay(log.entries) == log.state


def test_census_any_time_and_bucket_changes_by_rules_motion() -> None:
    log = council()
    aid = assembly(log)
    log.run(Census())  # during an assembly: a fact, not a policy
    m = log.run(ProposeMotion(aid, "rules", "t", rules=Rules(census_bucket=3)))[0]
    assert m.body["rules"]["census_bucket"] == 3
    vote_and_close(log, m.id, {A: "yes"})
    assert log.state.rules.census_bucket == 3
    assert log.run(Census())[0].body["active_members"] == 3


def test_census_mismatch_on_replay() -> None:
    log = council(Rules(census_bucket=2))
    log.run(Census())
    forged = [
        *log.entries[:-1],
        replace(log.entries[-1], body={"kind": "council/census", "active_members": 5}),
    ]
    with pytest.raises(RuleError) as info:
        replay(forged)
    assert info.value.rule == "census.mismatch"
    extra = [*log.entries[:-1], replace(log.entries[-1], body={**log.entries[-1].body, "who": [A]})]
    with pytest.raises(RuleError) as info:
        replay(extra)
    assert info.value.rule == "entry.malformed"


def test_census_refusals_and_bad_bucket() -> None:
    log = FakeLog()
    log.refuse(Census(), "council.not-founded")
    for bad in (0, -1, True, 1_000_001):
        with pytest.raises(RuleError) as info:
            Rules(census_bucket=bad)
        assert info.value.rule == "rules.bad-census-bucket"
    log = council(Rules(publish_tallies=False))
    aid = assembly(log)
    log.run(CloseMotion(log.run(ProposeMotion(aid, "policy", "t"))[0].id))
    state = replay(log.entries[:-1])  # the hidden tally must come next
    log.state = state
    log.entries = log.entries[:-1]
    log.refuse(Census(), "log.tally-expected")


def test_rules_of_0_1_0_logs_still_replay() -> None:
    log = council(members=(A,))
    old_rules = {k: v for k, v in log.entries[0].body["rules"].items() if k != "census_bucket"}
    old = [replace(log.entries[0], body={**log.entries[0].body, "rules": old_rules}), *log.entries[1:]]
    assert replay(old).rules.census_bucket == 1
    # and so do their motions, written before motions could answer a federation
    aid = assembly(log, (A,))
    policy = log.run(ProposeMotion(aid, "policy", "t"))[0]
    old_motion = {k: v for k, v in policy.body.items() if k != "proposal"}
    assert replay([*log.entries[:-1], replace(policy, body=old_motion)]) == log.state
    assert Rules.from_body({k: v for k, v in Rules().to_body().items() if k != "census_bucket"}) == Rules()
    with pytest.raises(RuleError) as info:
        Rules.from_body({**Rules().to_body(), "extra": 1})
    assert info.value.rule == "entry.malformed"
