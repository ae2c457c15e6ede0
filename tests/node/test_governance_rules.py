"""The pure governance rules (node/governance/rules.py, decide.py): the arithmetic a member can redo from a
decision entry, pinned case by case, and the election's eligibility and seat order."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from itertools import permutations
from typing import Any

import pytest

from node.rules.council import CastVote, CloseMotion, LeaveMember, Quorum, Rules
from node.rules.council.decide import decide
from node.rules.council.rules import (
    ElectionResult,
    election_result,
    impossible,
    majority_outcome,
    quorum_required,
)
from tests.node.test_governance import A, B, C, D, E, FakeLog, assembly, council, motion, vote_and_close

# --- quorum ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quorum", "active", "required"),
    [
        pytest.param(None, 7, 0, id="none"),
        pytest.param(Quorum(count=4), 10, 4, id="count"),
        pytest.param(Quorum(count=4), 2, 4, id="count-above-members"),
        pytest.param(Quorum(fraction=(1, 2)), 5, 3, id="half-of-5-rounds-up"),
        pytest.param(Quorum(fraction=(1, 2)), 4, 2, id="half-of-4-exact"),
        pytest.param(Quorum(fraction=(1, 3)), 9, 3, id="third-of-9"),
        pytest.param(Quorum(fraction=(1, 3)), 10, 4, id="third-of-10-rounds-up"),
        pytest.param(Quorum(fraction=(2, 3)), 7, 5, id="two-thirds-of-7"),
        pytest.param(Quorum(fraction=(1, 1)), 0, 0, id="all-of-none"),
        pytest.param(Quorum(fraction=(1, 1)), 6, 6, id="all"),
    ],
)
def test_quorum_required(quorum: Quorum | None, active: int, required: int) -> None:
    assert quorum_required(quorum, active) == required


# --- majorities --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("majority", "yes", "no", "participants", "outcome"),
    [
        ("simple", 1, 0, 9, "adopted"),
        ("simple", 3, 2, 10, "adopted"),
        ("simple", 2, 2, 10, "tied"),
        ("simple", 0, 0, 5, "tied"),
        ("simple", 2, 3, 5, "rejected"),
        ("simple", 0, 1, 1, "rejected"),
        ("absolute", 3, 0, 5, "adopted"),
        ("absolute", 3, 2, 6, "tied"),
        ("absolute", 2, 0, 5, "rejected"),
        ("absolute", 4, 0, 7, "adopted"),
        ("absolute", 4, 0, 8, "tied"),
        ("absolute", 4, 0, 9, "rejected"),
        ("absolute", 0, 0, 0, "tied"),
        ("absolute", 4, 1, 9, "rejected"),
        ("two_thirds", 2, 1, 3, "adopted"),  # exactly 2/3 adopts
        ("two_thirds", 1, 0, 9, "adopted"),
        ("two_thirds", 4, 2, 6, "adopted"),
        ("two_thirds", 1, 1, 5, "rejected"),
        ("two_thirds", 3, 2, 5, "rejected"),  # 60 %
        ("two_thirds", 5, 3, 8, "rejected"),  # 62.5 %
        ("two_thirds", 7, 3, 10, "adopted"),  # 70 %
        ("two_thirds", 0, 1, 1, "rejected"),
        ("two_thirds", 0, 0, 5, "tied"),
    ],
)
def test_majority_outcome(majority: Any, yes: int, no: int, participants: int, outcome: str) -> None:
    assert majority_outcome(majority, yes, no, participants) == outcome


# --- election arithmetic -----------------------------------------------------------------------------


def test_seats_filled_exactly_leave_no_tie() -> None:
    """When the seats fill exactly, the candidates below are simply not elected: nobody is tied."""
    assert election_result({A: 3, B: 2, C: 1}, 2, [A, B, C]) == ElectionResult((A, B), 0, ())
    assert election_result({A: 3, B: 2, C: 2, D: 1}, 3, [A, B, C, D]) == ElectionResult((A, B, C), 0, ())
    assert election_result({A: 2, B: 2, C: 1, D: 1}, 2, [A, B, C, D]) == ElectionResult((A, B), 0, ())
    assert election_result({A: 1}, 1, [A]) == ElectionResult((A,), 0, ())


def test_a_group_that_does_not_fit_is_tied_and_leaves_seats_vacant() -> None:
    assert election_result({A: 3, B: 2, C: 2, D: 1}, 2, [A, B, C, D]) == ElectionResult((A,), 1, (B, C))
    assert election_result({A: 2, B: 2, C: 2}, 2, [A, B, C]) == ElectionResult((), 2, (A, B, C))
    assert election_result({A: 2, B: 1, C: 1}, 2, [A, B, C]) == ElectionResult((A,), 1, (B, C))


def test_three_groups_of_approvals_fill_seats_in_turn() -> None:
    approvals = {A: 3, B: 2, C: 2, D: 1, E: 1}
    assert election_result(approvals, 5, [A, B, C, D, E]) == ElectionResult((A, B, C, D, E), 0, ())
    assert election_result(approvals, 4, [A, B, C, D, E]) == ElectionResult((A, B, C), 1, (D, E))
    assert election_result({A: 3, B: 2, C: 2, D: 1}, 6, [A, B, C, D]) == ElectionResult((A, B, C, D), 2, ())


def test_no_seats_elect_nobody() -> None:
    assert election_result({A: 3}, 0, [A]) == ElectionResult((), 0, ())


def test_candidates_without_approval_and_ineligible_ones_are_never_elected() -> None:
    assert election_result({A: 0, B: 1}, 2, [A, B]) == ElectionResult((B,), 1, ())
    assert election_result({A: 5, B: 1}, 2, [B]) == ElectionResult((B,), 1, ())  # A is not eligible
    assert election_result({}, 2, [A, B]) == ElectionResult((), 2, ())


@pytest.mark.parametrize(
    "order", list(permutations([A, B, C, D])), ids=lambda order: "".join(str(m[0]) for m in order)
)
def test_seat_order_is_approvals_then_member_id_whatever_the_input_order(order: tuple[bytes, ...]) -> None:
    """Equal approvals take seats in member id order, whichever order the candidates come in: every
    permutation is tried, so a broken order is caught on every run, not by the hash seed's luck."""
    approvals = {A: 1, B: 2, C: 1, D: 2}
    assert election_result(approvals, 4, order).elected == (B, D, A, C)
    assert election_result(approvals, 3, order) == ElectionResult((B, D), 1, (A, C))
    assert election_result(dict.fromkeys(order, 1), 4, order).elected == (A, B, C, D)
    assert election_result(dict.fromkeys(order, 1), 3, order).tied == (A, B, C, D)


def test_a_candidate_listed_twice_counts_once() -> None:
    assert election_result({A: 1, B: 1}, 2, [B, A, B]) == ElectionResult((A, B), 0, ())


# --- decide: elections at the moment of closing ------------------------------------------------------


def _close(log: FakeLog, m: bytes, votes: dict[bytes, tuple[bytes, ...]]) -> dict[str, Any]:
    return vote_and_close(log, m, votes)


def test_election_never_seats_a_candidate_who_sits_on_the_board_already() -> None:
    """Two elections open at once name the same candidate: once the first seats A, the second cannot."""
    log = council(Rules(board_seats=3))
    aid = assembly(log)
    first = motion(log, aid, "election", seats=1, candidates=(A,))
    second = motion(log, aid, "election", seats=2, candidates=(A, B, C))
    assert [e["member"] for e in _close(log, first, {B: (A,)})["elected"]] == [A]
    d = _close(log, second, {A: (A, B), B: (B, C), C: (A, C), D: (B, C)})
    assert [e["member"] for e in d["elected"]] == [B, C]
    assert d["vacant"] == 0 and d["tied"] == [] and log.state.board_members() == {A, B, C}


def test_election_never_seats_a_candidate_who_left_the_council() -> None:
    log = council()
    aid = assembly(log)
    m = motion(log, aid, "election", seats=2, candidates=(A, B, C))
    for member, approvals in {A: (A, B), B: (A, B), C: (A, C), D: (B, C), E: (B, C)}.items():
        log.run(CastVote(m, member, approvals=approvals))
    log.run(LeaveMember(A))
    d = _close(log, m, {})
    assert [e["member"] for e in d["elected"]] == [B, C] and d["vacant"] == 0
    assert A not in log.state.board_members()


def test_election_fills_no_more_seats_than_are_vacant() -> None:
    """Rules adopted while an election is open shrink the board: the election fills what is vacant now."""
    log = council(Rules(board_seats=3))
    aid = assembly(log)
    election = motion(log, aid, "election", seats=2, candidates=(B, C))
    assert vote_and_close(log, motion(log, aid, "rules", rules=Rules(board_seats=1)), {A: "yes"})[
        "rules_adopted"
    ]
    d = _close(log, election, {A: (B, C), B: (B,)})
    assert [e["member"] for e in d["elected"]] == [B] and d["vacant"] == 1 and d["seats"] == 2


def test_election_seat_order_follows_approvals_then_member_id() -> None:
    log = council(Rules(board_seats=3))
    aid = assembly(log)
    m = motion(log, aid, "election", seats=3, candidates=(E, D, C))
    d = _close(log, m, {A: (E, D, C), B: (E,), C: (E, D, C)})
    assert d["elected"] == [{"seat": 0, "member": E}, {"seat": 1, "member": C}, {"seat": 2, "member": D}]
    assert d["outcome"] == "adopted" and d["tally"]["approvals"] == [[C, 2], [D, 2], [E, 3]]
    assert d["tally"]["ballots"] == 3


def test_election_outcomes() -> None:
    log = council(Rules(board_seats=3))
    aid = assembly(log)
    # issue 13: three candidates, each approved by 2 of 3 ballots, tie for two seats: a runoff opens at once
    m = motion(log, aid, "election", seats=2, candidates=(C, D, E))
    tied = _close(log, m, {A: (C, D), B: (C, E), C: (D, E)})
    assert (tied["outcome"], tied["elected"], tied["tied"], tied["vacant"]) == ("tied", [], [C, D, E], 2)
    runoff = log.entries[-1]
    assert runoff.body["runoff_of"] == m and tied["runoff"] == {"seats": 2, "candidates": [C, D, E]}
    none = _close(log, runoff.id, {A: ()})
    assert (none["outcome"], none["elected"], none["tied"], none["vacant"]) == ("rejected", [], [], 2)
    assert none["runoff"] is None


def test_election_without_quorum_leaves_every_seat_vacant() -> None:
    log = council(Rules(quorum=Quorum(count=5)))
    aid = assembly(log, (A, B))
    d = _close(log, motion(log, aid, "election", seats=2, candidates=(A, B)), {A: (A, B), B: (A, B)})
    assert (d["outcome"], d["elected"], d["vacant"], d["quorum_required"]) == ("no_quorum", [], 2, 5)


# --- decide: ordinary motions ------------------------------------------------------------------------


def test_decide_counts_each_kind_of_vote() -> None:
    log = council()
    aid = assembly(log, (A, B, C, D, E))
    m = motion(log, aid)
    for member, choice in {A: "yes", B: "yes", C: "no", D: "abstain"}.items():
        log.run(CastVote(m, member, choice))
    outcome, tally = decide(log.state, log.state.motions[m])
    assert outcome["outcome"] == "adopted" and outcome["motion"] == m and outcome["assembly"] == aid
    assert tally == {
        "quorum": None,
        "active_members": 5,
        "quorum_required": 0,
        "participants": 5,
        "votes_cast": 4,
        "tally": {"yes": 2, "no": 1, "abstain": 1},
    }
    assert set(outcome) == {
        "motion", "assembly", "motion_kind", "rules_version", "majority", "outcome",
        "seats", "elected", "vacant", "tied", "ended", "removed", "rules_adopted", "text",
    }  # fmt: skip


def test_removal_ends_mandates_and_removes_an_active_member_only() -> None:
    log = council(Rules(board_seats=2))
    aid = assembly(log)
    _close(log, motion(log, aid, "election", seats=2, candidates=(E, C)), {A: (E,)})
    d = vote_and_close(log, motion(log, aid, "recall", target=E), {A: "yes"})
    assert d["removed"] is None and [m["member"] for m in d["ended"]] == [E]
    assert E in log.state.active_members() and not log.state.board_members()
    rejected = vote_and_close(log, motion(log, aid, "removal", target=D), {A: "no"})
    assert rejected["outcome"] == "rejected" and rejected["removed"] is None and rejected["ended"] == []
    d = vote_and_close(log, motion(log, aid, "removal", target=D), {A: "yes"})
    assert d["removed"] == D and d["ended"] == []


def test_rules_motion_adopts_the_next_version() -> None:
    log = council()
    aid = assembly(log)
    d = vote_and_close(log, motion(log, aid, "rules", rules=Rules("absolute")), {A: "yes"})
    assert d["rules_adopted"] == 2 and d["rules_version"] == 1
    rejected = vote_and_close(log, motion(log, aid, "rules", rules=Rules("simple")), {A: "yes"})
    assert rejected["outcome"] == "rejected" and rejected["rules_adopted"] is None  # 1 of 5: not absolute


def test_a_closed_motion_keeps_its_text() -> None:
    log = council()
    aid = assembly(log)
    m = motion(log, aid)
    entries = log.run(CloseMotion(m))
    assert entries[0].body["text"] == "text" and entries[0].body["outcome"] == "tied"


def test_an_election_result_cannot_be_changed_after_the_count() -> None:
    result = election_result({A: 1}, 1, [A])
    with pytest.raises(FrozenInstanceError):
        result.vacant = 1  # type: ignore[misc]


# --- decide: federation motions and hidden tallies ---------------------------------------------------

FEDERATION = bytes([9]) * 32
PROPOSAL = bytes([8]) * 32


def test_a_federation_decision_names_the_proposal_it_answers() -> None:
    log = council()
    aid = assembly(log)
    m = motion(log, aid, "federation", proposal=(FEDERATION, PROPOSAL))
    d = vote_and_close(log, m, {A: "yes", B: "no", C: "yes"})
    assert d["proposal"] == [FEDERATION, PROPOSAL] and d["outcome"] == "adopted"
    assert d["participants"] == 5 and d["motion_kind"] == "federation"


def test_only_a_federation_decision_carries_a_proposal() -> None:
    log = council()
    aid = assembly(log)
    (decision,) = log.run(CloseMotion(motion(log, aid)))
    assert "proposal" not in decision.body


def test_a_hidden_tally_keeps_the_participants_public_for_federation_motions_only() -> None:
    log = council(Rules(publish_tallies=False))
    aid = assembly(log, (A, B, C))
    m = motion(log, aid, "federation", proposal=(FEDERATION, PROPOSAL))
    log.run(CastVote(m, A, "yes"))
    public, hidden = log.run(CloseMotion(m))
    assert public.body["participants"] == 3 and "participants" not in hidden.body
    assert public.body["proposal"] == [FEDERATION, PROPOSAL] and "tally" not in public.body
    assert hidden.body["tally"] == {"yes": 1, "no": 0, "abstain": 0} and hidden.body["motion"] == m
    policy = motion(log, aid)
    public, hidden = log.run(CloseMotion(policy))
    assert "participants" not in public.body and hidden.body["participants"] == 3


def test_every_decision_field_of_an_ordinary_motion() -> None:
    log = council()
    aid = assembly(log, (A, B, C))
    m = motion(log, aid)
    log.run(CastVote(m, A, "yes"))
    (decision,) = log.run(CloseMotion(m))
    body = {k: v for k, v in decision.body.items() if k != "kind"}
    assert body == {
        "motion": m,
        "assembly": aid,
        "motion_kind": "policy",
        "text": "text",
        "rules_version": 1,
        "majority": "simple",
        "outcome": "adopted",
        "seats": None,
        "elected": [],
        "vacant": 0,
        "tied": [],
        "ended": [],
        "removed": None,
        "rules_adopted": None,
        "quorum": None,
        "active_members": 5,
        "quorum_required": 0,
        "participants": 3,
        "votes_cast": 1,
        "tally": {"yes": 1, "no": 0, "abstain": 0},
    }


# --- issue 13: two thirds of the participants; impossible quorums --------------------------------------


@pytest.mark.parametrize(
    ("yes", "no", "participants", "outcome"),
    [
        (4, 0, 6, "adopted"),  # exactly two thirds of the participants
        (4, 2, 6, "adopted"),
        (3, 0, 5, "rejected"),  # 60 %
        (2, 1, 3, "adopted"),
        (2, 0, 4, "rejected"),  # two thirds of yes + no, not of the participants
        (1, 0, 1, "adopted"),
        (1, 0, 2, "rejected"),
        (0, 0, 3, "rejected"),
        (0, 0, 0, "tied"),  # the only equality that fails: no yes and no participants
        (0, 3, 3, "rejected"),
    ],
)
def test_two_thirds_of_participants(yes: int, no: int, participants: int, outcome: str) -> None:
    assert majority_outcome("two_thirds_participants", yes, no, participants) == outcome


EVERY_MEMBER = "a quorum of every active member: one absent member would block every decision"


@pytest.mark.parametrize(
    ("quorum", "active", "why"),
    [
        pytest.param(None, 0, None, id="none"),
        pytest.param(Quorum(count=5), 5, None, id="count-of-every-member"),
        pytest.param(Quorum(count=6), 5, "a quorum of 6 is more than the 5 active members", id="count-above"),
        pytest.param(Quorum(count=6), None, None, id="count-while-founding"),
        pytest.param(Quorum(fraction=(4, 5)), 5, None, id="fraction-below-1"),
        pytest.param(Quorum(fraction=(1, 1)), 5, EVERY_MEMBER, id="fraction-of-1"),
        pytest.param(Quorum(fraction=(2, 2)), None, EVERY_MEMBER, id="fraction-of-1-while-founding"),
    ],
)
def test_impossible_quorum(quorum: Quorum | None, active: int | None, why: str | None) -> None:
    assert impossible(quorum, active) == why


UNCAPPED = "a quorum count without quorum_cap: members leaving could put it above the active members"


@pytest.mark.parametrize(
    ("quorum", "active", "why"),
    [
        pytest.param(Quorum(count=1), 5, UNCAPPED, id="count-without-cap"),
        pytest.param(Quorum(count=3), None, UNCAPPED, id="count-without-cap-while-founding"),
        pytest.param(Quorum(fraction=(1, 2)), 5, None, id="fraction-without-cap"),
        pytest.param(Quorum(fraction=(3, 3)), 5, EVERY_MEMBER, id="fraction-of-1-without-cap"),
        pytest.param(None, 5, None, id="none-without-cap"),
    ],
)
def test_impossible_quorum_without_the_cap(
    quorum: Quorum | None, active: int | None, why: str | None
) -> None:
    """Issue 13: without ``quorum_cap`` any count could be put above the active members by members leaving."""
    assert impossible(quorum, active, capped=False) == why
    assert impossible(quorum, active, capped=True) == (None if why == UNCAPPED else why)


def test_rules_majority_decides_rules_motions_only() -> None:
    rules = Rules(rules_majority="absolute")
    assert rules.majority_for("rules") == "absolute"
    assert all(rules.majority_for(k) == "simple" for k in ("policy", "removal", "recall", "election"))
    assert Rules().majority_for("rules") == "simple"
