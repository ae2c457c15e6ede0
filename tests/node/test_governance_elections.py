"""Elections under the council's majority rule, their declared method and their runoffs (issue 13).

A candidate takes a seat only if the majority rule adopts them (approvals as yes, the other ballots cast as
no); ties for the last seat(s) open a runoff motion in the same batch; elections proposed before methods
existed (no ``method`` in the proposal) replay exactly as they were decided then.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from node.rules.council import (
    Appended,
    CastVote,
    CloseMotion,
    Council,
    Depart,
    ProposeMotion,
    Quorum,
    RuleError,
    Rules,
    apply,
    execute,
    replay,
)
from node.rules.council.rules import electable
from tests.node.test_governance import A, B, C, D, E, FakeLog, assembly, council, motion

# --- the rule ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("majority", "approvals", "ballots", "participants", "chosen"),
    [
        pytest.param("simple", 3, 4, 5, True, id="simple-3-of-4"),
        pytest.param("simple", 2, 4, 5, False, id="simple-exactly-half"),
        pytest.param("simple", 1, 4, 4, False, id="simple-lone-candidate-1-of-4"),
        pytest.param("simple", 1, 1, 9, True, id="simple-1-of-1"),
        pytest.param("simple", 0, 0, 5, False, id="simple-no-ballots"),
        pytest.param("absolute", 3, 3, 5, True, id="absolute-3-of-5-present"),
        pytest.param("absolute", 3, 3, 6, False, id="absolute-exactly-half-of-participants"),
        pytest.param("absolute", 2, 2, 5, False, id="absolute-all-ballots-but-a-minority-present"),
        pytest.param("two_thirds", 2, 3, 9, True, id="two-thirds-exactly"),
        pytest.param("two_thirds", 3, 5, 9, False, id="two-thirds-below"),
        pytest.param("two_thirds", 0, 0, 9, False, id="two-thirds-no-ballots"),
    ],
)
def test_electable_follows_the_majority_rule(
    majority: Any, approvals: int, ballots: int, participants: int, chosen: bool
) -> None:
    assert electable(majority, {A: approvals}, ballots, participants) == ([A] if chosen else [])


def test_electable_keeps_the_order_given() -> None:
    assert electable("simple", {C: 3, A: 1, B: 4}, 4, 4) == [C, B]


# --- decisions ---------------------------------------------------------------------------------------


def _close(
    log: FakeLog, m: bytes, votes: dict[bytes, tuple[bytes, ...]]
) -> tuple[dict[str, Any], list[Appended]]:
    """Cast the votes, close the motion: (the decision with its tally, the entries the close wrote)."""
    for member, approvals in votes.items():
        log.run(CastVote(m, member, approvals=approvals))
    entries = log.run(CloseMotion(m))
    decided = {k: v for e in entries if e.body["kind"] != "motion/propose" for k, v in e.body.items()}
    return decided, entries


def test_lone_candidate_needs_a_majority_of_the_ballots() -> None:
    """The issue's case: a lone candidate approved by 1 of 4 ballots is no longer elected."""
    log = council()
    aid = assembly(log)
    m = motion(log, aid, "election", seats=1, candidates=(A,))
    assert log.entries[-1].body["method"] == "approval-majority"
    d, entries = _close(log, m, {A: (A,), B: (), C: (), D: ()})
    assert (d["outcome"], d["elected"], d["vacant"], d["tied"]) == ("rejected", [], 1, [])
    assert d["method"] == "approval-majority" and d["runoff"] is None
    assert len(entries) == 1 and log.state.board_members() == set()


def test_seats_filled_exactly_and_the_rest_left_vacant() -> None:
    log = council()
    aid = assembly(log)
    m = motion(log, aid, "election", seats=3, candidates=(A, B, C, D))
    # A 4/4, B 3/4, C 3/4, D 1/4: A, B and C fill the three seats; D is below the majority
    d, _ = _close(log, m, {A: (A, B, C), B: (A, B, C), C: (A, B, D), D: (A, C)})
    assert [e["member"] for e in d["elected"]] == [A, B, C] and d["vacant"] == 0 and d["tied"] == []
    assert log.state.board_members() == {A, B, C}


def test_all_candidates_below_the_majority_are_rejected() -> None:
    log = council(Rules(majority="absolute"))
    aid = assembly(log)
    m = motion(log, aid, "election", seats=2, candidates=(A, B))
    # 2 approvals each out of 5 present: no absolute majority, though every ballot approves them
    d, _ = _close(log, m, {A: (A, B), B: (A, B)})
    assert (d["outcome"], d["elected"], d["vacant"], d["majority"]) == ("rejected", [], 2, "absolute")


def test_a_tie_for_the_last_seat_opens_a_runoff_in_the_same_batch() -> None:
    log = council()
    aid = assembly(log)
    m = motion(log, aid, "election", seats=2, candidates=(A, B, C))
    d, entries = _close(log, m, {A: (A, B), B: (A, C), C: (B, C), D: (A, B), E: (A, C)})
    assert [e["member"] for e in d["elected"]] == [A] and d["tied"] == [B, C] and d["vacant"] == 1
    assert d["outcome"] == "adopted" and d["runoff"] == {"seats": 1, "candidates": [B, C]}
    assert [(e.vis, e.body["kind"]) for e in entries] == [
        ("public", "decision"),
        ("public", "motion/propose"),
    ]
    runoff = log.state.motions[entries[1].id]
    assert (runoff.kind, runoff.assembly, runoff.seats, runoff.candidates) == ("election", aid, 1, (B, C))
    assert (runoff.runoff_of, runoff.method, runoff.text) == (m, "approval-majority", "text")
    assert runoff.proposer is None
    # its vote opens with it: under the rules in force, by the five members on the roll now
    fixed = (runoff.rules_version, len(runoff.electorate or ()), entries[1].body["electorate"])
    assert fixed == (log.state.rules_version, 5, 5)
    second, follow = _close(log, runoff.id, {A: (B,), B: (B,), C: (C,)})
    assert [e["member"] for e in second["elected"]] == [B] and second["runoff"] is None and len(follow) == 1
    assert log.state.board_members() == {A, B}
    assert replay(log.entries) == log.state


def test_a_runoff_keeps_the_visibility_of_its_motion() -> None:
    log = council(Rules(publish_tallies=False))
    aid = assembly(log)
    m = motion(log, aid, "election", seats=2, candidates=(A, B, C), visibility="council")
    _, entries = _close(log, m, {A: (A, B), B: (B, C), C: (A, C)})
    # a council motion keeps its tally in the decision; its runoff keeps the motion's visibility
    assert [(e.vis, e.body["kind"]) for e in entries] == [
        ("council", "decision"),
        ("council", "motion/propose"),
    ]
    public = motion(log, aid, "policy")
    log.run(CastVote(public, A, "yes"))
    log.run(CloseMotion(public))
    assert [e.body["kind"] for e in log.entries[-2:]] == ["decision", "decision/tally"]
    m2 = log.state.motions[entries[1].id]
    _, entries = _close(log, m2.id, {A: (A, B), B: (B, C), C: (A, C)})
    assert entries[-1].body["runoff_of"] == m2.id  # a runoff's own tie opens another runoff
    assert replay(log.entries) == log.state


def test_public_runoff_follows_the_hidden_tally() -> None:
    log = council(Rules(publish_tallies=False))
    aid = assembly(log)
    m = motion(log, aid, "election", seats=2, candidates=(A, B, C))
    _, entries = _close(log, m, {A: (A, B), B: (B, C), C: (A, C)})
    assert [(e.vis, e.body["kind"]) for e in entries] == [
        ("public", "decision"),
        ("council", "decision/tally"),
        ("public", "motion/propose"),
    ]
    assert replay(log.entries) == log.state


def test_runoff_contests_only_the_seats_other_open_elections_leave() -> None:
    """A rules change shrinks the board while two elections are open: the runoff takes what is left."""
    log = council(Rules(board_seats=3))
    aid = assembly(log)
    other = motion(log, aid, "election", seats=1, candidates=(D,))
    m = motion(log, aid, "election", seats=2, candidates=(A, B, C))
    rules = motion(log, aid, "rules", rules=Rules(board_seats=2))
    log.run(CastVote(rules, A, "yes"))
    log.run(CloseMotion(rules))
    d, entries = _close(log, m, {A: (A, B), B: (B, C), C: (A, C)})
    assert d["tied"] == [A, B, C] and d["runoff"] == {"seats": 1, "candidates": [A, B, C]}
    assert log.state.motions[entries[-1].id].seats == 1
    assert other in log.state.motions


def test_runoff_seats_count_the_seats_this_decision_filled() -> None:
    """Four seats, two elections open, the board shrunk to three: A takes one of the three seats; of the two
    left, the other election keeps one, so B, C and D run off for one."""
    log = council(Rules(board_seats=4))
    aid = assembly(log)
    motion(log, aid, "election", seats=1, candidates=(E,))
    m = motion(log, aid, "election", seats=3, candidates=(A, B, C, D))
    rules = motion(log, aid, "rules", rules=Rules(board_seats=3))
    log.run(CastVote(rules, A, "yes"))
    log.run(CloseMotion(rules))
    votes = {A: (A, B, C), B: (A, B, D), C: (A, C, D), D: (A, B, C), E: (A, D)}
    d, _ = _close(log, m, votes)
    assert [e["member"] for e in d["elected"]] == [A] and d["tied"] == [B, C, D]
    assert d["runoff"] == {"seats": 1, "candidates": [B, C, D]}


def test_no_runoff_when_no_seat_is_left_to_contest() -> None:
    log = council(Rules(board_seats=3))
    aid = assembly(log)
    motion(log, aid, "election", seats=1, candidates=(D,))
    m = motion(log, aid, "election", seats=2, candidates=(A, B, C))
    rules = motion(log, aid, "rules", rules=Rules(board_seats=1))
    log.run(CastVote(rules, A, "yes"))
    log.run(CloseMotion(rules))
    d, entries = _close(log, m, {A: (A, B), B: (B, C), C: (A, C)})
    assert d["outcome"] == "tied" and d["runoff"] is None and len(entries) == 1


def test_no_runoff_without_quorum() -> None:
    log = council(Rules(quorum=Quorum(count=5)))
    aid = assembly(log, (A, B, C))
    m = motion(log, aid, "election", seats=2, candidates=(A, B, C))
    d, entries = _close(log, m, {A: (A, B), B: (B, C), C: (A, C)})
    assert (d["outcome"], d["tied"], d["runoff"], len(entries)) == ("no_quorum", [], None, 1)


# --- logs written before methods --------------------------------------------------------------------


def _old_style(log: FakeLog, propose_index: int) -> Council:
    """The log up to the election's proposal, as written before methods: no method field."""
    entries = list(log.entries[: propose_index + 1])
    body = dict(entries[-1].body)
    del body["method"]
    entries[-1] = replace(entries[-1], body=body)
    return replay(entries)


def test_an_election_proposed_without_a_method_is_decided_by_the_old_rule() -> None:
    """Logs hold elections decided by the old rule; apply recomputes them, so they must replay unchanged."""
    log = council()
    aid = assembly(log)
    m = motion(log, aid, "election", seats=1, candidates=(A,))
    state = _old_style(log, len(log.entries) - 1)
    old = FakeLog()
    old.state, old.entries = state, [*log.entries[:-1], replace(log.entries[-1], body=_without_method(log))]
    assert old.state.motions[m].method is None
    d, _ = _close(old, m, {A: (A,), B: (), C: (), D: ()})
    # the old rule: any approval is enough, and a decision without a method carries neither method nor runoff
    assert [e["member"] for e in d["elected"]] == [A] and "method" not in d and "runoff" not in d
    assert replay(old.entries) == old.state


def test_an_old_tie_opens_no_runoff() -> None:
    log = council()
    aid = assembly(log)
    m = motion(log, aid, "election", seats=1, candidates=(D, E))
    old = FakeLog()
    old.state = _old_style(log, len(log.entries) - 1)
    old.entries = [*log.entries[:-1], replace(log.entries[-1], body=_without_method(log))]
    d, entries = _close(old, m, {A: (D,), B: (E,)})
    assert (d["outcome"], d["tied"], len(entries)) == ("tied", [D, E], 1)
    assert replay(old.entries) == old.state


def _without_method(log: FakeLog) -> dict[str, Any]:
    return {k: v for k, v in log.entries[-1].body.items() if k != "method"}


# --- refusals ----------------------------------------------------------------------------------------


def _refused(state: Council, entry: Appended, rule: str) -> None:
    """``apply`` refuses the entry with ``rule`` and stores nothing."""
    before = copy.deepcopy(state)
    with pytest.raises(RuleError) as info:
        apply(state, entry)
    assert info.value.rule == rule, info.value
    assert state == before


@pytest.fixture
def tied() -> tuple[FakeLog, list[Appended]]:
    log = council()
    aid = assembly(log)
    m = motion(log, aid, "election", seats=2, candidates=(A, B, C))
    _, entries = _close(log, m, {A: (A, B), B: (B, C), C: (A, C)})
    return log, entries


def test_a_tied_decision_must_be_followed_by_its_runoff(tied: tuple[FakeLog, list[Appended]]) -> None:
    log, entries = tied
    state = replay(log.entries[:-1])
    aid = entries[1].body["assembly"]
    # any other entry in the runoff's place is refused, and so is any command
    depart = execute(replay(log.entries[:-2]), Depart(aid, D), 0)[0]
    stray = replace(entries[1], vis="council", body={**depart.body, "salt": bytes(16)})
    _refused(state, stray, "log.runoff-expected")
    with pytest.raises(RuleError) as info:
        execute(state, Depart(aid, D), 0)
    assert info.value.rule == "log.runoff-expected"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"seats": 1}, id="seats"),
        pytest.param({"candidates": [A, B]}, id="candidates"),
        pytest.param({"text": "other"}, id="text"),
        pytest.param({"runoff_of": bytes(32)}, id="runoff-of"),
    ],
)
def test_a_runoff_is_exactly_what_its_decision_says(
    tied: tuple[FakeLog, list[Appended]], change: dict[str, Any]
) -> None:
    log, entries = tied
    state = replay(log.entries[:-1])
    _refused(state, replace(entries[1], body={**entries[1].body, **change}), "motion.runoff-mismatch")


def test_a_runoff_without_a_tied_decision_is_refused(tied: tuple[FakeLog, list[Appended]]) -> None:
    log, entries = tied
    state = replay(log.entries)
    forged = replace(entries[1], seq=len(log.entries))
    _refused(state, forged, "motion.runoff-mismatch")


@pytest.mark.parametrize(
    ("kind", "method", "extra"),
    [
        pytest.param("election", "plurality", {"seats": 1, "candidates": [A]}, id="unknown-method"),
        pytest.param("election", None, {"seats": 1, "candidates": [A]}, id="nil-method"),
        pytest.param("policy", "approval-majority", {}, id="method-on-a-policy"),
    ],
)
def test_a_proposal_declares_a_known_method_on_elections_only(
    kind: str, method: Any, extra: dict[str, Any]
) -> None:
    log = council()
    aid = assembly(log)
    base = log.run(ProposeMotion(aid, "policy", "text"))[0]
    body = {**base.body, "motion_kind": kind, "method": method, **extra}
    state = replay(log.entries[:-1])
    _refused(state, replace(base, body=body), "election.bad-method")


def test_a_forged_runoff_in_a_decision_is_refused(tied: tuple[FakeLog, list[Appended]]) -> None:
    log, entries = tied
    state = replay(log.entries[:-2])
    decision = entries[0]
    assert decision.body["runoff"] == {"seats": 2, "candidates": [A, B, C]}
    for runoff in (None, {"seats": 1, "candidates": [A, B, C]}, {"seats": 2, "candidates": [A, B]}):
        _refused(state, replace(decision, body={**decision.body, "runoff": runoff}), "decision.mismatch")
    without = {k: v for k, v in decision.body.items() if k not in ("method", "runoff")}
    _refused(state, replace(decision, body=without), "decision.mismatch")
