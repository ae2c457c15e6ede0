"""The end of a public board mandate by a council-only recall or removal (issue 13), without a database.

A board member elected by a public decision sits on the public board; a council-only recall or removal ends
the mandate on the node, and the same command writes one public ``board/left`` per public mandate it ended,
with its cause — so the public board shows the mandate ended, and never the council-only decision itself.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from node.rules.council import (
    Appended,
    Attend,
    CastVote,
    CloseMotion,
    Consent,
    Council,
    FoundCouncil,
    Issued,
    Issuer,
    LeaveMember,
    OpenAssembly,
    ProposeMotion,
    RuleError,
    Rules,
    apply,
    execute,
    replay,
)
from tests.node.test_assembly_machine import as_member
from tests.node.test_governance import A, B, C, D, E, FakeLog, assembly, council, motion, vote_and_close
from tests.node.test_members_machine import OPERATOR, Log

YES = {A: "yes", B: "yes", C: "yes", D: "yes"}


def board_of(log: FakeLog, aid: bytes, *who: bytes, vis: str = "public") -> bytes:
    """An adopted election of ``who`` in ``aid``; the decision's id."""
    m = motion(log, aid, "election", seats=len(who), candidates=who, visibility=vis)
    vote_and_close(log, m, {v: who for v in (A, B, C, D, E)})
    return next(e.id for e in reversed(log.entries) if e.body["kind"] == "decision")


def decided(log: FakeLog, aid: bytes, kind: str, target: bytes, vis: str = "council") -> list[Appended]:
    """An adopted ``kind`` motion on ``target`` in ``aid``: the entries its close wrote."""
    m = log.run(ProposeMotion(aid, kind, "the reason", vis, target=target))[0].id  # type: ignore[arg-type]
    for voter, choice in YES.items():
        if voter != target:
            log.run(CastVote(m, voter, choice))
    return log.run(CloseMotion(m))


def stray(log: FakeLog, body: dict[str, Any]) -> RuleError:
    """``body`` appended as the log's next public entry: refused, the state unchanged."""
    return stray_on(log.state, body)


def stray_on(state: Council, body: dict[str, Any]) -> RuleError:
    size = state.next_seq
    with pytest.raises(RuleError) as caught:
        apply(state, Appended(size, os.urandom(32), 10**9, "public", body))
    assert state.next_seq == size
    return caught.value


@pytest.mark.parametrize(("kind", "cause"), [("recall", "recall"), ("removal", "removal")])
def test_a_council_only_end_of_a_public_mandate_is_published_with_its_cause(kind: str, cause: str) -> None:
    log = council(Rules(board_seats=2))
    aid = assembly(log)
    elected = board_of(log, aid, B, C)
    decision, left = decided(log, aid, kind, C)
    assert decision.vis == "council" and decision.body["ended"] == [
        {"decision": elected, "seat": 1, "member": C}
    ]
    # exactly this: the public mandate (its public decision and seat), its member, its cause — nothing of the
    # council-only decision (its id, motion, text, tally or assembly)
    assert (left.vis, left.body) == (
        "public",
        {"kind": "board/left", "member": C, "decision": elected, "seat": 1, "cause": cause},
    )
    mandate = log.state.mandates[1]
    # the node keeps what ended it (the decision); the public record says only that it ended, and how
    assert (mandate.cause, mandate.ended_by, mandate.ended_public, mandate.published_by) == (
        cause,
        decision.id,
        True,
        left.id,
    )
    assert log.state.board_members() == {B}
    assert replay(log.entries) == log.state
    # once, not twice
    assert stray(log, dict(left.body)).rule == "board.left-misplaced"


def test_a_council_only_removal_of_a_board_member_and_delegate_publishes_both_ends_in_order() -> None:
    log = council()
    aid = assembly(log)
    elected = board_of(log, aid, C)
    mandated = vote_and_close(log, motion(log, aid, "delegate", candidates=(C,)), YES)
    assert mandated["outcome"] == "adopted"
    delegated = log.entries[-1].id
    written = decided(log, aid, "removal", C)
    assert [(e.vis, e.body["kind"]) for e in written] == [
        ("council", "decision"),
        ("public", "board/left"),
        ("public", "delegate/left"),
    ]
    assert written[1].body == {
        "kind": "board/left",
        "member": C,
        "decision": elected,
        "seat": 0,
        "cause": "removal",
    }
    assert written[2].body == {"kind": "delegate/left", "member": C, "decision": delegated, "seat": 0}
    assert replay(log.entries) == log.state
    # the order is the record's: a board/left after the delegate/left stands nowhere
    reordered = replay(log.entries[:-2])
    apply(reordered, Appended(written[2].seq - 1, os.urandom(32), 10**9, "public", written[2].body))
    with pytest.raises(RuleError) as caught:
        apply(reordered, Appended(written[2].seq, os.urandom(32), 10**9, "public", written[1].body))
    assert caught.value.rule == "board.left-misplaced"


def test_only_a_council_only_end_of_a_publicly_given_mandate_writes_a_board_left() -> None:
    log = council(Rules(board_seats=3))
    aid = assembly(log)
    board_of(log, aid, B)
    hidden = board_of(log, aid, C, vis="council")
    # a public recall's decision says itself that the mandate ended
    written = decided(log, aid, "recall", B, vis="public")
    assert [(e.vis, e.body["kind"]) for e in written] == [("public", "decision")]
    # a mandate given by a council-only election was never shown: its end is not shown either
    written = decided(log, aid, "recall", C)
    assert [(e.vis, e.body["kind"]) for e in written] == [("council", "decision")]
    assert log.state.mandates[1].ended_public is False
    body = {"kind": "board/left", "member": C, "decision": hidden, "seat": 0, "cause": "recall"}
    assert stray(log, body).rule == "board.left-misplaced"
    # nor does a rejected recall, nor a council-only removal of a member holding no seat
    board_of(log, aid, D)
    m = log.run(ProposeMotion(aid, "recall", "r", "council", target=D))[0].id
    log.run(CastVote(m, A, "no"))
    assert [e.body["kind"] for e in log.run(CloseMotion(m))] == ["decision"]
    assert [e.body["kind"] for e in decided(log, aid, "removal", E)] == ["decision"]
    assert log.state.board_members() == {D}


def test_a_board_left_states_the_cause_of_the_end_it_follows() -> None:
    log = council(Rules(board_seats=2))
    aid = assembly(log)
    elected = board_of(log, aid, B, C)
    decision, left = decided(log, aid, "recall", C)
    before = replay(log.entries[:-1])
    named = {"kind": "board/left", "member": C, "decision": elected, "seat": 1}
    for body, rule in (
        (named, "board.left-misplaced"),  # no cause: a leaving, and C did not leave
        (named | {"cause": "removal"}, "board.left-misplaced"),  # a recall ended it
        (named | {"cause": "left"}, "entry.malformed"),  # a leaving states no cause
        (named | {"cause": "resignation"}, "entry.malformed"),  # a resignation is its own board/resign
        (named | {"cause": "recall", "decision": decision.id}, "board.left-misplaced"),  # no such mandate
        (named | {"cause": "recall", "member": B}, "board.left-misplaced"),  # not B's mandate
        (named | {"cause": "recall", "note": "x"}, "entry.malformed"),
    ):
        trial = replay(log.entries[:-1])
        with pytest.raises(RuleError) as caught:
            apply(trial, Appended(left.seq, os.urandom(32), 10**9, "public", body))
        assert caught.value.rule == rule, body
        assert trial == before
    # and a member's leaving is followed by a board/left without cause only
    log2 = council()
    aid2 = assembly(log2)
    elected2 = board_of(log2, aid2, B)
    leave, _ = log2.run(LeaveMember(B))
    trial = replay(log2.entries[:-1])
    body = {"kind": "board/left", "member": B, "decision": elected2, "seat": 0, "cause": "removal"}
    with pytest.raises(RuleError) as caught:
        apply(trial, Appended(leave.seq + 1, os.urandom(32), 10**9, "public", body))
    assert caught.value.rule == "board.left-misplaced"


def test_an_older_log_whose_council_only_recall_published_nothing_replays_unchanged() -> None:
    """Logs written before issue 13's board/left after a council-only recall: the decision stands alone,
    the mandate ends on the node, and the public board (which never saw the end) keeps it as it was."""
    log = council(Rules(board_seats=2))
    aid = assembly(log)
    board_of(log, aid, B, C)
    decision, left = decided(log, aid, "recall", C)
    older = log.entries[:-1]
    state = replay(older)
    mandate = state.mandates[1]
    assert (mandate.cause, mandate.ended_by, mandate.ended_public, mandate.published_by) == (
        "recall",
        decision.id,
        False,
        None,
    )
    # and the next entry of such a log is whatever came next: the end that could have been published lapses
    (draft,) = execute(state, ProposeMotion(aid, "policy", "the next motion"), 0)
    apply(state, Appended(len(older), os.urandom(32), 10**9, draft.vis, draft.body))
    assert state.left_board == []
    assert stray_on(state, dict(left.body)).rule == "board.left-misplaced"


def test_a_board_member_chairing_the_close_writes_the_board_left() -> None:
    """The console's chair (a sitting board member) closes a council-only recall of another board member:
    the board/left is part of the same command, attributed to the chair."""
    log = Log()
    log.run(FoundCouncil("Toronto Council", "North America", rules=Rules(signed_ballots=(), board_seats=2)))
    people = [log.member() for _ in range(4)]
    voters = tuple(m for m, _ in people)
    (chair, chair_key), (other, _) = people[:2]
    a = log.run(Issued(OpenAssembly(None, "the board"), OPERATOR))[0].id
    log.run(Issued(Attend(a, voters), OPERATOR))
    for m, key in people[:2]:
        log.run(Issued(Consent(a, m), as_member(log, m, key, "consent", assembly=a)))
    election = log.run(
        Issued(ProposeMotion(a, "election", "the board", seats=2, candidates=(chair, other)), OPERATOR)
    )
    for v in voters:
        log.run(Issued(CastVote(election[0].id, v, None, (chair, other)), OPERATOR))
    elected = log.run(Issued(CloseMotion(election[0].id), OPERATOR))[0].id
    assert log.state.board_members() == {chair, other}
    as_chair = Issuer("board", chair_key.public.raw, chair)
    recall = log.run(Issued(ProposeMotion(a, "recall", "in camera", "council", target=other), as_chair))[0].id
    for v in voters:
        if v != other:
            log.run(Issued(CastVote(recall, v, "yes"), as_chair))
    _decision, left = log.run(Issued(CloseMotion(recall), as_chair))
    seat = next(m.seat for m in log.state.mandates if m.member == other)
    assert (
        left.vis,
        left.body["issued_by"]["member"],
        left.body["cause"],
        left.body["decision"],
        left.body["seat"],
    ) == (
        "public",
        chair,
        "recall",
        elected,
        seat,
    )
    assert log.state.board_members() == {chair}
    assert replay(log.entries) == log.state


def test_a_board_member_elected_council_only_leaves_without_a_public_trace() -> None:
    """The public board never showed a mandate a council-only election gave, so its end writes nothing public
    (before, the leaving's board/left named the council-only election); a log written then replays."""
    log = council()
    aid = assembly(log)
    hidden = board_of(log, aid, B, vis="council")
    (leave,) = log.run(LeaveMember(B))
    assert (leave.vis, leave.body["kind"]) == ("council", "member/leave")
    assert log.state.mandates[0].cause == "left" and log.state.board_members() == set()
    # as written before: the board/left after the leaving still stands on replay
    older = replay(log.entries)
    body = {"kind": "board/left", "member": B, "decision": hidden, "seat": 0}
    state = replay(log.entries[:-1])
    apply(state, leave)
    apply(state, Appended(leave.seq + 1, os.urandom(32), 10**9, "public", body))
    assert state.mandates[0].ended_public and older.mandates[0].ended_public is False
