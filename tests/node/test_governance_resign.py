"""A board member gives up their seat (issue 13: "resignation from the board"): the mandate ends, recorded as
a resignation, the member stays a member, and the seat is vacant for an election."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from node.rules.council import (
    Attend,
    CastVote,
    CloseMotion,
    FoundCouncil,
    Issued,
    Issuer,
    LeaveMember,
    OpenAssembly,
    ProposeMotion,
    ResignSeat,
    RuleError,
    Rules,
    apply,
    replay,
)
from protocol.member import Statement, sign_statement
from tests.node.test_governance import A, B, C, F, FakeLog, assembly, council, motion, vote_and_close
from tests.node.test_members_machine import OPERATOR, Log


def seated(visibility: str = "public") -> tuple[FakeLog, bytes]:
    log = council()
    aid = assembly(log)
    vote_and_close(log, motion(log, aid, "election", seats=2, candidates=(A, B), visibility=visibility),
                   {A: (A, B), B: (A, B)})  # fmt: skip
    return log, aid


def test_a_resignation_ends_the_mandate_and_frees_the_seat() -> None:
    log, aid = seated()
    assert log.state.board().vacancies == 1
    (entry,) = log.run(ResignSeat(A))
    assert (entry.vis, entry.body) == ("public", {"kind": "board/resign", "member": A})
    ended = next(m for m in log.state.mandates if m.member == A)
    assert (ended.ended_how, ended.ended_by, ended.ended_seq) == ("resigned", entry.id, entry.seq)
    assert log.state.board_members() == {B} and log.state.board().vacancies == 2
    assert log.state.is_active(A)  # still a member, and may stand again
    d = vote_and_close(log, motion(log, aid, "election", seats=1, candidates=(A,)), {A: (A,)})
    assert [e["member"] for e in d["elected"]] == [A]
    assert replay(log.entries) == log.state


def test_a_seat_given_by_a_council_only_election_is_given_up_in_the_council() -> None:
    log, _ = seated("council")
    assert log.run(ResignSeat(B))[0].vis == "council"


def test_only_a_sitting_board_member_resigns_a_seat() -> None:
    log, _ = seated()
    log.refuse(ResignSeat(C), "board.not-member")
    log.refuse(ResignSeat(F), "member.unknown")
    log.run(ResignSeat(A))
    log.refuse(ResignSeat(A), "board.not-member")  # once
    log.run(LeaveMember(B))  # leaving ends the mandate too
    log.refuse(ResignSeat(B), "member.not-active")


def test_a_hostile_resignation_is_refused_on_replay() -> None:
    log, _ = seated()
    (entry,) = log.run(ResignSeat(A))
    state = replay(log.entries[:-1])
    for body, vis, rule in [
        ({**entry.body, "extra": 1}, "public", "entry.malformed"),
        ({**entry.body, "member": C}, "public", "board.not-member"),
        ({**entry.body, "salt": bytes(16)}, "council", "log.visibility"),
    ]:
        before = copy.deepcopy(state)
        with pytest.raises(RuleError) as info:
            apply(state, replace(entry, vis=vis, body=body))
        assert info.value.rule == rule and state == before


def test_a_member_resigns_with_their_own_signature() -> None:
    log = Log()
    log.run(FoundCouncil("Toronto Council", "North America", rules=Rules(board_seats=1)))
    member, key = log.member()
    assert log.state.id is not None
    aid = log.run(Issued(OpenAssembly(None), OPERATOR))[0].id
    log.run(Issued(Attend(aid, (member,)), OPERATOR))
    proposed = ProposeMotion(aid, "election", "Board", seats=1, candidates=(member,))
    election = log.run(Issued(proposed, OPERATOR))[0].id
    fields = {"assembly": aid, "motion": election, "member": member, "choice": None, "approvals": [member]}
    sig = sign_statement(key, Statement("ballot", log.state.id, fields))
    log.run(Issued(CastVote(election, member, None, (member,), sig), log.signer(member, key, sig)))
    log.run(Issued(CloseMotion(election), OPERATOR))
    assert log.state.board_members() == {member}
    # a signature over another act (leaving the council) does not resign the seat
    forged = sign_statement(key, Statement("leave", log.state.id, {"member": member}))
    size = len(log.entries)
    with pytest.raises(RuleError) as info:
        log.run(Issued(ResignSeat(member), Issuer("member", key.public.raw, member, forged)))
    assert info.value.rule == "member.bad-signature" and len(log.entries) == size
    sig = sign_statement(key, Statement("resign", log.state.id, {"member": member}))
    (entry,) = log.run(Issued(ResignSeat(member), Issuer("member", key.public.raw, member, sig)))
    assert entry.body["issued_by"]["role"] == "member" and log.state.board_members() == set()
    assert log.state.is_active(member)
    assert replay(log.entries) == log.state
