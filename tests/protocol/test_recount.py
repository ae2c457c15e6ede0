"""protocol/recount.py: a decision's outcome recounted from its own tally and rules (issue 13, item 5)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.rules.council.rules import majority_outcome as node_majority
from node.rules.council.rules import quorum_required as node_quorum
from node.rules.council.ruleset import MAJORITIES, Quorum
from protocol.errors import VerificationError
from protocol.recount import majority_outcome, quorum_required, recount


def body(yes: int, no: int, outcome: str, **over: Any) -> dict[str, Any]:
    b = {"kind": "decision", "motion_kind": "policy", "majority": "simple", "outcome": outcome,
         "quorum": None, "active_members": 5, "quorum_required": 0, "participants": 5,
         "votes_cast": yes + no, "tally": {"yes": yes, "no": no, "abstain": 0}}  # fmt: skip
    return b | over


@given(st.sampled_from(MAJORITIES), st.integers(0, 50), st.integers(0, 50), st.integers(0, 120))
def test_the_node_and_the_verifier_count_alike(majority: str, yes: int, no: int, participants: int) -> None:
    assert majority_outcome(majority, yes, no, participants) == node_majority(majority, yes, no, participants)  # type: ignore[arg-type]


@given(st.integers(1, 50), st.integers(1, 50), st.integers(0, 200))
def test_the_quorum_is_asked_alike(num: int, den: int, active: int) -> None:
    num, den = min(num, den), max(num, den)
    assert quorum_required({"fraction": [num, den]}, active) == node_quorum(
        Quorum(fraction=(num, den)), active
    )
    assert quorum_required({"count": num}, active) == node_quorum(Quorum(count=num), active)


def test_adopted_with_0_yes_and_5_no_is_refused() -> None:
    with pytest.raises(VerificationError) as info:
        recount(body(0, 5, "adopted"))
    assert info.value.step == "outcome"
    assert recount(body(0, 5, "rejected")) is True


def test_a_quorum_not_met_is_no_quorum() -> None:
    short = {"quorum": {"count": 6}, "quorum_required": 6}
    assert recount(body(5, 0, "no_quorum", **short)) is True
    with pytest.raises(VerificationError):
        recount(body(5, 0, "adopted", **short))
    with pytest.raises(VerificationError):  # a quorum stated lower than its rule asks
        recount(body(5, 0, "adopted", quorum={"count": 6}))


def test_votes_that_do_not_add_up_are_refused() -> None:
    with pytest.raises(VerificationError):
        recount(body(3, 0, "adopted", votes_cast=2))
    with pytest.raises(VerificationError):
        recount(body(3, 3, "tied", participants=5))


def test_hidden_tallies_and_elections_are_not_recounted() -> None:
    assert recount({"kind": "decision", "outcome": "adopted"}) is False
    assert recount(body(0, 5, "adopted", motion_kind="election")) is False


def test_the_federation_refuses_an_answer_whose_outcome_does_not_follow() -> None:
    from types import SimpleNamespace

    from node.rules.fedbody import RuleError, answer_from_decision

    forged = body(0, 5, "adopted", motion_kind="federation", proposal=[bytes(32), bytes(32)])
    record = SimpleNamespace(log_id=bytes(32), seq=3, id=bytes(32), ts_ms=1, vis="public", body=forged)
    with pytest.raises(RuleError) as info:
        answer_from_decision(record)
    assert info.value.rule == "answer.recount"
    assert answer_from_decision(
        SimpleNamespace(**{**record.__dict__, "body": forged | {"outcome": "rejected"}})
    )


# --- each refusal names its check, and each rule's boundary is pinned by a literal case ---------------------


@pytest.mark.parametrize(
    ("majority", "yes", "no", "participants", "outcome"),
    [
        ("simple", 3, 2, 9, "adopted"),
        ("simple", 2, 2, 9, "tied"),
        ("simple", 0, 0, 9, "tied"),
        ("simple", 2, 3, 9, "rejected"),
        ("absolute", 3, 0, 5, "adopted"),
        ("absolute", 3, 0, 6, "tied"),
        ("absolute", 3, 0, 7, "rejected"),
        ("two_thirds", 2, 1, 9, "adopted"),  # exactly two thirds adopts
        ("two_thirds", 3, 2, 9, "rejected"),
        ("two_thirds", 0, 0, 9, "tied"),
    ],
)
def test_each_rule_at_its_boundary(majority: str, yes: int, no: int, participants: int, outcome: str) -> None:
    assert majority_outcome(majority, yes, no, participants) == outcome
    assert recount(body(yes, no, outcome, majority=majority, participants=participants)) is True


def refused(b: dict[str, Any], message: str) -> None:
    with pytest.raises(VerificationError) as info:
        recount(b)
    assert (info.value.step, info.value.message) == ("outcome", message)


NOT_COUNTS = "the decision's tally is not counts"
NOT_A_QUORUM = "the decision's quorum is not a quorum rule"
NOT_ADDING_UP = "the votes do not add up to the votes cast, or exceed the participants"
NOT_ABOVE = "quorum_capped is true, and only when the quorum asks for more than the active members"


@pytest.mark.parametrize(
    ("attack", "over", "message"),
    [
        ("bool-count", {"tally": {"yes": True, "no": 0, "abstain": 0}, "votes_cast": 1}, NOT_COUNTS),
        ("negative-count", {"tally": {"yes": 2, "no": -1, "abstain": 0}, "votes_cast": 1}, NOT_COUNTS),
        ("negative-participants", {"participants": -1}, NOT_COUNTS),
        ("quorum-list", {"quorum": [1, 2]}, NOT_A_QUORUM),
        ("quorum-extra-field", {"quorum": {"fraction": [1, 2], "count": 1}}, NOT_A_QUORUM),
        ("fraction-zero", {"quorum": {"fraction": [0, 3]}}, NOT_A_QUORUM),
        ("fraction-above-one", {"quorum": {"fraction": [3, 2]}}, NOT_A_QUORUM),
        ("fraction-three-terms", {"quorum": {"fraction": [1, 2, 3]}}, NOT_A_QUORUM),
        ("fraction-text", {"quorum": {"fraction": "12"}}, NOT_A_QUORUM),
        ("count-bool", {"quorum": {"count": True}}, NOT_A_QUORUM),
        ("unknown-majority", {"majority": "plurality"}, "unknown majority rule 'plurality'"),
        ("no-majority", {"majority": None}, "the decision does not state its majority rule"),
        ("votes-not-adding-up", {"votes_cast": 4}, NOT_ADDING_UP),
        ("votes-above-participants", {"participants": 2}, NOT_ADDING_UP),
        (
            "quorum-stated-low",
            {"quorum": {"count": 4}},
            "the quorum asks for 4 participants, the decision says 0",
        ),
        (
            "outcome-flipped",
            {"outcome": "rejected"},
            "the tally and the rules give adopted, the decision says 'rejected'",
        ),
        # issue 13's quorum cap: said capped only when the quorum asked for more than the active members
        ("capped-not-above", {"quorum_capped": True}, NOT_ABOVE),
        (
            "capped-at-active-exactly",
            {"quorum": {"count": 5}, "quorum_required": 5, "quorum_capped": True},
            NOT_ABOVE,
        ),
        (
            "capped-not-true",
            {"quorum": {"count": 6}, "quorum_required": 5, "quorum_capped": 1},
            NOT_ABOVE,
        ),
        (
            "capped-false-written",
            {"quorum": {"count": 6}, "quorum_required": 5, "quorum_capped": False},
            NOT_ABOVE,
        ),
        (
            "capped-stated-above-active",
            {"quorum": {"count": 6}, "quorum_required": 6, "quorum_capped": True},
            "the quorum asks for 5 participants, the decision says 6",
        ),
        (
            "cap-left-out",
            {"quorum": {"count": 6}, "quorum_required": 5},
            "the quorum asks for 6 participants, the decision says 5",
        ),
    ],
)
def test_refusals_name_their_check(attack: str, over: dict[str, Any], message: str) -> None:
    refused(body(3, 0, "adopted") | over, message)


def test_a_capped_quorum_asks_for_the_active_members() -> None:
    """Quorum 8 of 5 active members, capped (issue 13): the 5 are required, and they are enough."""
    capped = {"quorum": {"count": 8}, "quorum_required": 5, "quorum_capped": True}
    assert recount(body(3, 0, "adopted", **capped)) is True
    assert recount(body(3, 0, "no_quorum", **capped, participants=4, votes_cast=3)) is True
    refused(
        body(3, 0, "adopted", **capped, participants=4),
        "the tally and the rules give no_quorum, the decision says 'adopted'",
    )
    # without the cap (rules written before it), the same count is not met
    assert recount(body(3, 0, "no_quorum", quorum={"count": 8}, quorum_required=8)) is True


def test_abstentions_count_among_the_votes_cast() -> None:
    counted = {"tally": {"yes": 2, "no": 1, "abstain": 2}, "votes_cast": 5}
    assert recount(body(2, 1, "adopted") | counted) is True


def test_a_quorum_exactly_met_is_quorate() -> None:
    assert recount(body(3, 0, "adopted", quorum={"count": 5}, quorum_required=5)) is True
    assert recount(body(3, 0, "adopted", quorum={"fraction": [1, 1]}, quorum_required=5)) is True


def test_a_body_without_the_counts_is_not_recounted() -> None:
    partial = body(3, 0, "adopted")
    del partial["participants"]
    assert recount(partial) is False


# --- elections (approval-majority) -------------------------------------------------------------------

X, Y, Z = b"x" * 16, b"y" * 16, b"z" * 16


def election(
    approvals: dict[bytes, int],
    ballots: int,
    elected: list[bytes],
    tied: list[bytes],
    outcome: str,
    seats: int = 2,
    **over: Any,
) -> dict[str, Any]:
    seated = [{"seat": i, "member": m} for i, m in enumerate(elected)]
    tally = {"approvals": [[c, n] for c, n in sorted(approvals.items())], "ballots": ballots}
    b = {"kind": "decision", "motion_kind": "election", "method": "approval-majority", "majority": "simple",
         "outcome": outcome, "seats": seats, "elected": seated, "vacant": seats - len(elected), "tied": tied,
         "quorum": None, "active_members": 5, "quorum_required": 0, "participants": 5, "votes_cast": ballots,
         "tally": tally}  # fmt: skip
    return b | over


def refused_recount(b: dict[str, Any]) -> None:
    with pytest.raises(VerificationError) as info:
        recount(b)
    assert info.value.step == "outcome"


def test_an_election_is_recounted_seat_by_seat() -> None:
    assert recount(election({X: 3, Y: 3, Z: 1}, 4, [X, Y], [], "adopted")) is True
    assert recount(election({X: 4, Y: 3, Z: 3}, 4, [X], [Y, Z], "adopted")) is True
    assert recount(election({X: 3, Y: 3, Z: 3}, 4, [], [X, Y, Z], "tied")) is True
    assert recount(election({X: 2, Y: 1}, 4, [], [], "rejected")) is True
    # a candidate passed over may have left the council: the bundle cannot say, so it is not questioned
    assert recount(election({X: 4, Y: 3}, 4, [Y], [], "adopted")) is True
    short = {"quorum": {"count": 6}, "quorum_required": 6}
    assert recount(election({X: 4}, 4, [], [], "no_quorum", **short)) is True


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param(election({X: 1}, 4, [X], [], "adopted", seats=1), id="lone-candidate-1-of-4"),
        pytest.param(election({X: 2}, 4, [X], [], "adopted", seats=1), id="exactly-half"),
        pytest.param(election({X: 2}, 2, [X], [], "adopted", seats=1, majority="absolute"), id="absolute"),
        pytest.param(election({X: 3, Y: 4}, 4, [X, Y], [], "adopted"), id="seat-order"),
        pytest.param(election({X: 4, Y: 3, Z: 2}, 4, [X], [Y, Z], "adopted"), id="tie-of-unequals"),
        pytest.param(election({X: 3, Y: 3, Z: 3}, 4, [X], [Y, Z], "adopted"), id="tied-with-an-elected"),
        pytest.param(election({X: 4, Y: 3}, 4, [X], [Y], "adopted"), id="a-tie-of-one"),
        pytest.param(election({X: 4, Y: 4}, 4, [X, X], [], "adopted"), id="elected-twice"),
        pytest.param(election({X: 3, Y: 1}, 4, [X], [], "rejected", seats=1), id="outcome"),
        pytest.param(election({X: 3}, 4, [X], [], "adopted", seats=1, vacant=1), id="vacant"),
        pytest.param(election({X: 3, Y: 3}, 4, [X, Y], [], "adopted", seats=1), id="more-than-seats"),
        pytest.param(election({X: 5}, 4, [X], [], "adopted", seats=1), id="approvals-above-ballots"),
        pytest.param(election({X: 3}, 4, [X], [], "adopted", seats=1, votes_cast=3), id="ballots-not-votes"),
        pytest.param(
            election({X: 3}, 6, [X], [], "adopted", seats=1, votes_cast=6), id="ballots-above-present"
        ),
        pytest.param(election({X: 3}, 4, [Y], [], "adopted", seats=1), id="elected-not-a-candidate"),
        pytest.param(election({X: 3}, 4, [], [], "adopted", seats=1), id="adopted-without-seats"),
        pytest.param(
            election({X: 4}, 4, [X], [], "adopted", seats=1, quorum={"count": 6}, quorum_required=6),
            id="elected-without-quorum",
        ),
        pytest.param(
            election({X: 4}, 4, [X], [], "adopted", seats=1, quorum={"count": 6}), id="quorum-stated"
        ),
        pytest.param(
            election({X: 3}, 4, [X], [], "adopted", seats=1) | {"elected": [{"seat": 1, "member": X}]},
            id="seat-number",
        ),
        pytest.param(
            election({X: 3}, 4, [X], [], "adopted", seats=1, tally={"approvals": [[X, -1]], "ballots": 4}),
            id="not-counts",
        ),
        pytest.param(election({X: 3}, 4, [X], ["x"], "adopted", seats=1), id="tied-not-ids"),
        pytest.param(election({X: 3}, 4, [X], [], "adopted", seats=1, majority=None), id="no-majority-rule"),
    ],
)
def test_a_forged_election_is_refused(forged: dict[str, Any]) -> None:
    refused_recount(forged)


def test_elections_that_cannot_be_recounted_say_so() -> None:
    old = election({X: 1}, 4, [X], [], "adopted", seats=1)
    del old["method"]
    assert recount(old) is False  # proposed before methods: any approval elected
    hidden = election({X: 1}, 4, [X], [], "adopted", seats=1)
    del hidden["tally"]
    assert recount(hidden) is False


def test_every_election_the_node_decides_recounts() -> None:
    from tests.node.test_governance import A, B, C, D, E, assembly, council, motion
    from tests.node.test_governance_elections import _close

    log = council()
    aid = assembly(log)
    for seats, votes in [
        (2, {A: (A, B), B: (B, C), C: (A, C)}),
        (1, {A: (A,), B: (), C: (), D: ()}),
        (2, {A: (A, B), B: (A, C), C: (B, C), D: (A, B), E: (A, C)}),
    ]:
        m = motion(log, aid, "election", seats=seats, candidates=(A, B, C))
        decided, entries = _close(log, m, votes)
        assert recount(decided) is True
        if len(entries) > 1:  # the runoff: nobody votes, nobody is elected
            decided, _ = _close(log, entries[-1].id, {})
            assert recount(decided) is True and decided["outcome"] == "rejected"


NOT_ELECTION_COUNTS = "the election's tally is not counts"
NO_MAJORITY_SEAT = "a candidate took or tied for a seat without the majority the rules ask"
NOT_BY_APPROVALS = "seats do not go by most approvals, or the tie is not a tie"


@pytest.mark.parametrize(
    ("attack", "forged", "message"),
    [
        ("approval-of-three-terms", {"tally": {"approvals": [[X, 3, 0]], "ballots": 4}}, NOT_ELECTION_COUNTS),
        ("elected-member-not-an-id", {"elected": [{"seat": 0, "member": "x"}]}, NOT_ELECTION_COUNTS),
        ("negative-ballots", {"tally": {"approvals": [[X, 3]], "ballots": -1}}, NOT_ELECTION_COUNTS),
        (
            "approvals-above-ballots",
            {"tally": {"approvals": [[X, 5]], "ballots": 4}},
            "the approvals exceed the ballots, or the ballots the participants",
        ),
        (
            "seat-number",
            {"elected": [{"seat": 1, "member": X}]},
            "the seats are not numbered in order, or more than the election's",
        ),
        ("vacant", {"vacant": 1}, "1 of 1 seats filled, the decision says vacant 1"),
        (
            "elected-without-quorum",
            {"quorum": {"count": 6}, "quorum_required": 6},
            "a decision without quorum elects nobody",
        ),
        ("below-majority", {"tally": {"approvals": [[X, 2]], "ballots": 4}}, NO_MAJORITY_SEAT),
    ],
)
def test_a_forged_election_names_its_check(attack: str, forged: dict[str, Any], message: str) -> None:
    with pytest.raises(VerificationError) as info:
        recount(election({X: 3}, 4, [X], [], "adopted", seats=1) | forged)
    assert (info.value.step, info.value.message) == ("outcome", message)


def test_a_tie_between_two_levels_of_approvals_is_no_tie() -> None:
    # all three hold the majority (4 of 6 and more): a tie for the second seat between 5 and 4 is no tie
    forged = election({X: 6, Y: 5, Z: 4}, 6, [X], [Y, Z], "adopted", votes_cast=6, participants=6)
    with pytest.raises(VerificationError) as info:
        recount(forged)
    assert (info.value.step, info.value.message) == ("outcome", NOT_BY_APPROVALS)
    assert recount(election({X: 6, Y: 5, Z: 5}, 6, [X], [Y, Z], "adopted", participants=6)) is True


@pytest.mark.parametrize(("majority", "participants"), [("two_thirds", 9), ("two_thirds_participants", 1)])
def test_a_single_yes_can_adopt_by_two_thirds(majority: str, participants: int) -> None:
    assert majority_outcome(majority, 1, 0, participants) == "adopted"


def test_a_motion_whose_tally_is_not_yes_and_no_is_not_recounted() -> None:
    assert recount(body(3, 0, "adopted") | {"tally": {"approvals": [], "ballots": 0}}) is False
