"""A council's delegates to its federation: elected and recalled by its assembly, and every refusal."""

from __future__ import annotations

import copy

import pytest

from node.rules.council import (
    Appended,
    CastVote,
    CloseAssembly,
    CloseMotion,
    LeaveMember,
    ProposeMotion,
    RuleError,
    Rules,
    apply,
    replay,
)
from tests.node.test_governance import (
    A,
    B,
    C,
    D,
    E,
    FakeLog,
    assembly,
    consent,
    council,
    mid,
    motion,
    vote_and_close,
)

YES = {A: "yes", B: "yes", C: "yes", E: "abstain"}


def delegated(log: FakeLog, aid: bytes, *who: bytes) -> dict[str, object]:
    return vote_and_close(log, motion(log, aid, "delegate", candidates=who), YES)


def test_assembly_elects_and_recalls_a_delegate() -> None:
    log = council()
    aid = assembly(log)
    d = delegated(log, aid, B, C)
    assert d["outcome"] == "adopted" and d["motion_kind"] == "delegate"
    assert d["delegates"] == [{"seat": 0, "member": B}, {"seat": 1, "member": C}]
    assert d["delegates_ended"] == []
    # public, like a board election: the federation reads it; the member is named by pseudonym only
    decision = log.entries[-1]
    assert decision.vis == "public" and decision.body["kind"] == "decision"
    assert [m.member for m in log.state.sitting_delegates()] == [B, C]
    assert log.state.board_members() == set()  # a delegate holds no board seat

    r = vote_and_close(log, motion(log, aid, "delegate-recall", target=B), YES)
    assert r["outcome"] == "adopted"
    assert r["delegates_ended"] == [{"decision": decision.id, "seat": 0, "member": B}]
    assert r["delegates"] == []
    assert [m.member for m in log.state.sitting_delegates()] == [C]
    ended = log.state.delegates[0]
    assert (ended.ended_how, ended.ended_by) == ("recalled", log.entries[-1].id)
    assert replay(log.entries) == log.state


def test_rejected_delegate_motion_mandates_nobody() -> None:
    log = council()
    aid = assembly(log)
    d = vote_and_close(log, motion(log, aid, "delegate", candidates=(B,)), {A: "no", B: "no", C: "yes"})
    assert d["outcome"] == "rejected" and d["delegates"] == []
    assert log.state.sitting_delegates() == []


def test_rejected_recall_leaves_the_delegate() -> None:
    log = council()
    aid = assembly(log)
    delegated(log, aid, B)
    r = vote_and_close(log, motion(log, aid, "delegate-recall", target=B), {A: "no", C: "no"})
    assert r["outcome"] == "rejected" and r["delegates_ended"] == []
    assert [m.member for m in log.state.sitting_delegates()] == [B]


def test_the_council_majority_rule_decides() -> None:
    log = council(Rules(majority="two_thirds"))
    aid = assembly(log)
    d = vote_and_close(
        log, motion(log, aid, "delegate", candidates=(B,)), {A: "yes", B: "yes", C: "no", D: "no"}
    )
    assert d["outcome"] == "rejected" and log.state.sitting_delegates() == []


def test_leaving_and_removal_end_a_delegate_mandate() -> None:
    log = council()
    aid = assembly(log)
    delegated(log, aid, B, C)
    removal = vote_and_close(log, motion(log, aid, "removal", target=C), YES)
    assert removal["outcome"] == "adopted"
    assert [e["member"] for e in removal["delegates_ended"]] == [C]  # public: the federation sees it end
    log.run(CloseAssembly(aid))
    log.run(LeaveMember(B))
    assert log.state.sitting_delegates() == []
    assert [(m.member, m.ended_how) for m in log.state.delegates] == [(B, "left"), (C, "removed")]
    assert replay(log.entries) == log.state


def test_removal_of_a_non_delegate_keeps_its_old_shape() -> None:
    log = council()
    aid = assembly(log)
    removal = vote_and_close(log, motion(log, aid, "removal", target=E), YES)
    assert "delegates_ended" not in removal and "delegates" not in removal


def test_who_left_before_the_close_takes_no_seat() -> None:
    log = council()
    aid = assembly(log, (A, B, C, D))
    m = motion(log, aid, "delegate", candidates=(E, B))
    log.run(LeaveMember(E))
    d = vote_and_close(log, m, {A: "yes", B: "yes", C: "yes"})
    assert d["outcome"] == "adopted" and d["delegates"] == [{"seat": 0, "member": B}]


@pytest.mark.parametrize(
    ("kw", "rule"),
    [
        ({"candidates": ()}, "delegate.no-candidates"),
        ({"candidates": (B, B)}, "delegate.duplicate-candidate"),
        ({"candidates": (mid(99),)}, "member.unknown"),
        ({"candidates": (D,)}, "member.not-active"),
        ({"candidates": (A,)}, "delegate.already-sitting"),
        ({"candidates": (B,), "visibility": "council"}, "delegate.public"),
        ({"candidates": (B,), "seats": 1}, "motion.bad-shape"),
        ({"candidates": (B,), "target": B}, "motion.bad-shape"),
    ],
)
def test_refusals_delegate(kw: dict[str, object], rule: str) -> None:
    log = council()
    aid = assembly(log, (A, B, C, E))
    delegated(log, aid, A)
    log.run(LeaveMember(D))
    before = copy.deepcopy(log.state)
    log.refuse(ProposeMotion(aid, "delegate", "text", **kw), rule)  # type: ignore[arg-type]
    assert log.state == before


@pytest.mark.parametrize(
    ("kw", "rule"),
    [
        ({}, "motion.target-missing"),
        ({"target": B}, "delegate.not-sitting"),
        ({"target": A, "visibility": "council"}, "delegate.public"),
        ({"target": A, "candidates": (B,)}, "motion.bad-shape"),
    ],
)
def test_refusals_delegate_recall(kw: dict[str, object], rule: str) -> None:
    log = council()
    aid = assembly(log)
    delegated(log, aid, A)
    before = copy.deepcopy(log.state)
    log.refuse(ProposeMotion(aid, "delegate-recall", "text", **kw), rule)  # type: ignore[arg-type]
    assert log.state == before


def test_recall_of_a_board_member_is_not_a_delegate_recall() -> None:
    log = council()
    aid = assembly(log)
    delegated(log, aid, A)
    before = copy.deepcopy(log.state)
    log.refuse(ProposeMotion(aid, "recall", "text", target=A), "recall.not-on-board")
    assert log.state == before


def test_a_delegate_leaving_the_council_is_published_as_delegate_left() -> None:
    """issue 13: the federation learns a delegate's mandate ended by their leaving, as it learns a board
    member's (board/left) — without it, its figures kept a delegate who was no longer a member."""
    log = council()
    aid = assembly(log)
    d = delegated(log, aid, B, C)
    decision = log.entries[-1].id
    vote_and_close(log, motion(log, aid, "election", seats=1, candidates=(B,)), {A: (B,), B: (B,), C: (B,)})
    elected = log.entries[-1].id
    log.run(CloseAssembly(aid))
    assert d["delegates"][0] == {"seat": 0, "member": B}
    leave, board_left, delegate_left = log.run(LeaveMember(B))
    assert leave.body["kind"] == "member/leave"
    assert (board_left.body["kind"], board_left.body["decision"]) == ("board/left", elected)
    assert (delegate_left.vis, delegate_left.body) == (
        "public",
        {"kind": "delegate/left", "member": B, "decision": decision, "seat": 0},
    )
    ended = log.state.delegates[0]
    assert (ended.ended_how, ended.ended_by, ended.ended_public) == ("left", delegate_left.id, True)
    assert [m.member for m in log.state.sitting_delegates()] == [C]
    assert replay(log.entries) == log.state
    # a member who holds no mandate leaves with nothing public
    assert [e.body["kind"] for e in log.run(LeaveMember(D))] == ["member/leave"]


def _stray(log: FakeLog, body: dict[str, object]) -> RuleError:
    entry = Appended(len(log.entries), b"\x09" * 32, 1_000 * (len(log.entries) + 1), "public", body)
    size = log.state.next_seq
    with pytest.raises(RuleError) as caught:
        apply(log.state, entry)
    assert log.state.next_seq == size
    return caught.value


def test_delegate_left_stands_only_directly_after_that_delegates_leaving() -> None:
    log = council()
    aid = assembly(log)
    delegated(log, aid, B, C)
    decision = log.entries[-1].id
    log.run(CloseAssembly(aid))
    body = {"kind": "delegate/left", "member": B, "decision": decision, "seat": 0}
    # while B sits: no leaving to publish
    assert _stray(log, body).rule == "delegate.left-misplaced"
    log.run(LeaveMember(B))
    # once published, not twice; and not for a mandate the leaving did not end
    assert _stray(log, body).rule == "delegate.left-misplaced"
    other = {"kind": "delegate/left", "member": C, "decision": decision, "seat": 1}
    assert _stray(log, other).rule == "delegate.left-misplaced"
    # the record of a leaving directly follows it: once another entry came, it cannot be written
    state = replay(log.entries[:-1])
    assert state.left_delegates == [(decision, 0)]
    opened = {"kind": "assembly/open", "convened_by": None, "agenda": "next"}
    apply(state, Appended(state.next_seq, b"\x08" * 32, 10**9, "public", opened))
    with pytest.raises(RuleError) as caught:
        apply(state, Appended(state.next_seq, b"\x09" * 32, 10**9, "public", body))
    assert caught.value.rule == "delegate.left-misplaced"


def test_a_delegate_stands_only_with_their_consent() -> None:
    """issue 13: as a board candidate, a delegate candidate consents before the vote opens — else the
    proposal is refused and nothing is stored."""
    log = council()
    aid = assembly(log)
    consent(log, aid, B)
    before = copy.deepcopy(log.state)
    log.refuse(ProposeMotion(aid, "delegate", "text", candidates=(B, C)), "candidate.no-consent")
    assert log.state == before
    consent(log, aid, C)
    proposed = log.run(ProposeMotion(aid, "delegate", "text", candidates=(B, C)))[0]
    assert proposed.body["consented"] is True and log.state.motions[proposed.id].consented
    # a consent is to this assembly's candidacies: the next assembly asks again
    vote_and_close(log, proposed.id, YES)
    log.run(CloseAssembly(aid))
    nxt = assembly(log)
    log.refuse(ProposeMotion(nxt, "delegate", "text", candidates=(E,)), "candidate.no-consent")
    assert replay(log.entries) == log.state


def test_a_delegate_motion_of_an_older_log_replays_without_consent() -> None:
    """Delegate motions proposed before consent carry no ``consented``: they replay as written."""
    log = council()
    aid = assembly(log)
    proposed = log.run(ProposeMotion(aid, "policy", "text"))[0]
    assert "consented" not in proposed.body
    older = {**proposed.body, "motion_kind": "delegate", "candidates": [B]}
    state = replay(log.entries[:-1])
    apply(state, Appended(proposed.seq, b"\x07" * 32, proposed.ts_ms, "public", older))
    assert state.motions[b"\x07" * 32].consented is False
    # and no other kind states that its candidates consented
    policy = {**proposed.body, "consented": True}
    stated = Appended(proposed.seq, b"\x07" * 32, proposed.ts_ms, "public", policy)
    with pytest.raises(RuleError) as caught:
        apply(replay(log.entries[:-1]), stated)
    assert caught.value.rule == "motion.bad-shape"


def test_a_council_only_removal_of_a_delegate_publishes_the_mandates_end() -> None:
    """issue 13: a delegate is mandated in public, so the end of the mandate is public however it ends; a
    council-only removal's decision is followed by a public delegate/left per mandate it ended, and the
    removal itself stays council-only."""
    log = council()
    aid = assembly(log)
    delegated(log, aid, B, C)
    mandated = log.entries[-1].id
    m = log.run(ProposeMotion(aid, "removal", "reason", "council", target=C))[0].id
    for voter, choice in YES.items():
        log.run(CastVote(m, voter, choice))
    decision, left = log.run(CloseMotion(m))
    assert (decision.vis, decision.body["delegates_ended"]) == (
        "council",
        [{"decision": mandated, "seat": 1, "member": C}],
    )
    assert (left.vis, left.body) == (
        "public",
        {"kind": "delegate/left", "member": C, "decision": mandated, "seat": 1},
    )
    ended = log.state.delegates[1]
    # ended by the removal (council-only), published by the delegate/left
    assert (ended.ended_how, ended.ended_by, ended.ended_public) == ("removed", decision.id, True)
    assert [d.member for d in log.state.sitting_delegates()] == [B]
    assert replay(log.entries) == log.state
    # once published, not twice
    body = {"kind": "delegate/left", "member": C, "decision": mandated, "seat": 1}
    assert _stray(log, body).rule == "delegate.left-misplaced"


def test_a_public_removal_or_a_removal_of_no_delegate_writes_no_delegate_left() -> None:
    log = council()
    aid = assembly(log)
    delegated(log, aid, B)
    m = log.run(ProposeMotion(aid, "removal", "reason", "council", target=E))[0].id
    log.run(CastVote(m, A, "yes"))
    assert [e.body["kind"] for e in log.run(CloseMotion(m))] == ["decision"]
    m = log.run(ProposeMotion(aid, "removal", "reason", "public", target=B))[0].id
    log.run(CastVote(m, A, "yes"))
    written = log.run(CloseMotion(m))
    # the public decision says itself that the mandate ended (delegates_ended)
    assert [e.body["kind"] for e in written] == ["decision"] and written[0].vis == "public"
    assert written[0].body["delegates_ended"][0]["member"] == B
