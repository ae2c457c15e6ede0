"""Assemblies the board cannot block (issue 13, article 5), without a database: requisitions by a share of
members set in the rules, a member convening what the board has not within the rules' delay or by the date
the last assembly fixed, and mandates that end by recall, resignation or leaving, each recorded as such."""

from __future__ import annotations

import copy
import hashlib
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.rules.council import (
    Attend,
    CastVote,
    CloseAssembly,
    CloseMotion,
    Consent,
    Depart,
    FileReport,
    FoundCouncil,
    Issued,
    Issuer,
    LeaveMember,
    OpenAssembly,
    ProposeMotion,
    RequestAssembly,
    ResignSeat,
    RuleError,
    Rules,
    apply,
    replay,
)
from node.rules.council.log import Appended
from node.rules.council.model import DAY_MS
from node.rules.council.ruleset import DEFAULT_RULES
from protocol.errors import DecodeError
from protocol.keys import SigningKey
from protocol.member import Statement, sign_statement
from tests.node.test_members_machine import OPERATOR, Log, refused

T0 = 1_800_000_000_000
DELAY_DAYS = 7
RULES = Rules(signed_ballots=(), requisition=(1, 2), requisition_delay_days=DELAY_DAYS)


def as_member(log: Log, member: bytes, key: SigningKey, act: str, **fields: object) -> Issuer:
    assert log.state.id is not None
    sig = sign_statement(key, Statement(act, log.state.id, {"member": member, **fields}))
    return Issuer("member", key.public.raw, member, sig)


def requisition(
    log: Log, member: bytes, key: SigningKey, text: str = "recall the board", asked_in: int | None = None
) -> Issued:
    """``member``'s signed requisition, in the round requisitions ask in now unless ``asked_in``."""
    asked_in = log.state.requisition_round() if asked_in is None else asked_in
    signed = as_member(log, member, key, "requisition", text=text, round=asked_in)
    return Issued(RequestAssembly(member, text, asked_in), signed)


def convene(
    log: Log, member: bytes, key: SigningKey, ground: str = "requisition", agenda: str = "the recall"
) -> Issued:
    due = log.state.convening_due(ground) or 0  # type: ignore[arg-type]
    signer = as_member(log, member, key, "convene", agenda=agenda, ground=ground, due_ms=due)
    return Issued(OpenAssembly(member, agenda, ground, due), signer)  # type: ignore[arg-type]


class Scene:
    """A council of four keyed members, one of whom (``board``) sits on a board of one seat."""

    def __init__(self) -> None:
        self.log = Log()
        self.log.now = T0
        self.log.run(FoundCouncil("Toronto Council", "North America", rules=RULES))
        self.people = [self.log.member() for _ in range(4)]
        self.board, self.board_key = self.people[0]
        voters = tuple(m for m, _ in self.people)
        a = self.log.run(Issued(OpenAssembly(None, "the board"), OPERATOR))[0].id
        self.log.run(Issued(Attend(a, voters), OPERATOR))
        signed = as_member(self.log, self.board, self.board_key, "consent", assembly=a)
        self.log.run(Issued(Consent(a, self.board), signed))  # the candidate's own consent (issue 13)
        election = ProposeMotion(a, "election", "the board", seats=1, candidates=(self.board,))
        motion = self.log.run(Issued(election, OPERATOR))[0].id
        for v in voters:
            self.log.run(Issued(CastVote(motion, v, None, (self.board,)), OPERATOR))
        self.elected = self.log.run(Issued(CloseMotion(motion), OPERATOR))[0].id
        self.log.run(Issued(CloseAssembly(a), OPERATOR))
        assert self.log.state.board_members() == {self.board}

    def requisitioned(self) -> int:
        """Two of the four (the share 1/2) requisition; the time the share was reached."""
        for member, key in self.people[1:3]:
            self.log.now += 1000
            self.log.run(requisition(self.log, member, key))
        return self.log.now


@pytest.fixture
def council() -> Scene:
    return Scene()


def test_a_board_that_never_convenes_is_convened_by_a_requisitioner_and_recalled(council: Scene) -> None:
    log = council.log
    (m1, k1), (m2, k2), (m3, k3) = council.people[1:]
    log.run(requisition(log, m1, k1))
    # one of four is below the share: nobody may convene but the board
    assert log.state.requisitioners() == [m1] and log.state.requisitions_needed() == 2
    refused(log, convene(log, m1, k1), "convene.no-requisition")
    log.now += 1000
    log.run(requisition(log, m2, k2))
    due = log.now + DELAY_DAYS * DAY_MS
    assert log.state.convening_due("requisition") == due
    # the board still has its delay; a member who did not requisition never convenes
    log.now = due - 1
    refused(log, convene(log, m1, k1), "convene.too-early")
    log.now = due
    refused(log, convene(log, m3, k3), "convene.not-requisitioner")
    opened = log.run(convene(log, m2, k2))[0]
    assert (opened.vis, opened.body["ground"], opened.body["due_ms"]) == ("public", "requisition", due)
    assembly = log.state.assemblies[opened.id]
    assert (assembly.convened_by, assembly.agenda, assembly.opened_ts_ms) == (m2, "the recall", due)
    # the assembly answers the requisitions: the next round starts empty
    assert log.state.requisitioners() == [] and log.state.convening_due("requisition") is None
    voters = (m1, m2, m3)
    log.run(Issued(Attend(opened.id, voters), OPERATOR))
    recall = ProposeMotion(opened.id, "recall", "recall the board", target=council.board)
    motion = log.run(Issued(recall, OPERATOR))[0].id
    for v in voters:
        log.run(Issued(CastVote(motion, v, "yes"), OPERATOR))
    decision = log.run(Issued(CloseMotion(motion), OPERATOR))[0]
    (mandate,) = log.state.mandates
    assert (mandate.cause, mandate.ended_by) == ("recall", decision.id)
    again = replay(log.entries)
    assert again.mandates == log.state.mandates and again.assemblies == log.state.assemblies


def test_requisitions_refused_change_nothing(council: Scene) -> None:
    log = council.log
    (m1, k1), (m2, k2), (m3, k3) = council.people[1:]
    log.run(requisition(log, m1, k1))
    refused(log, requisition(log, m1, k1, "again"), "requisition.duplicate")
    # only the member's own key requisitions
    now = log.state.requisition_round()
    refused(log, Issued(RequestAssembly(m2, "x", now), OPERATOR), "issuer.not-allowed")
    refused(
        log,
        Issued(RequestAssembly(m2, "x", now), as_member(log, m2, k3, "requisition", text="x", round=now)),
        "member.key-unknown",
    )
    log.run(Issued(LeaveMember(m3), OPERATOR))
    refused(log, requisition(log, m3, k3), "member.not-active")
    log.run(
        Issued(
            OpenAssembly(council.board, "ours"), Issuer("board", council.board_key.public.raw, council.board)
        )
    )
    # while an assembly sits, a requisition asks for the next one
    log.run(requisition(log, m2, k2))
    assert log.state.requisitioners() == [m2]


def test_the_board_convening_in_time_answers_the_requisitions(council: Scene) -> None:
    log = council.log
    council.requisitioned()
    (m1, k1) = council.people[1]
    board = Issuer("board", council.board_key.public.raw, council.board)
    a = log.run(Issued(OpenAssembly(council.board, "as asked"), board))[0].id
    log.run(Issued(CloseAssembly(a), OPERATOR))
    log.now += DELAY_DAYS * DAY_MS
    refused(log, convene(log, m1, k1), "convene.no-requisition")


def test_requisitions_count_toward_one_assembly_only(council: Scene) -> None:
    """issue 13: requisitions made before an assembly was held do not count toward the next; the share and
    the board's delay start anew, from the requisitions of the new round."""
    log = council.log
    (m1, k1), (m2, k2), (m3, k3) = council.people[1:]
    assert log.state.requisition_round() == 1  # the board's election assembly opened already
    log.run(requisition(log, m1, k1))
    log.now += 1000
    log.run(requisition(log, m2, k2))
    assert log.state.convening_due("requisition") is not None
    board = Issuer("board", council.board_key.public.raw, council.board)
    a = log.run(Issued(OpenAssembly(council.board, "as asked"), board))[0].id
    log.run(Issued(CloseAssembly(a), OPERATOR))
    assert log.state.requisition_round() == 2
    log.now += DELAY_DAYS * DAY_MS
    log.run(requisition(log, m3, k3))
    # one of four in this round: the two stale ones do not make up the share, nobody may convene
    assert log.state.requisitioners() == [m3] and log.state.convening_due("requisition") is None
    refused(log, convene(log, m3, k3), "convene.no-requisition")
    refused(log, convene(log, m1, k1), "convene.no-requisition")
    # m1 asks again, in this round: the share is reached now, and the board's delay runs from now
    log.now += 1000
    log.run(requisition(log, m1, k1))
    assert log.state.convening_due("requisition") == log.now + DELAY_DAYS * DAY_MS
    assert replay(log.entries).requisitioners() == [m3, m1]


def test_a_requisition_signed_before_an_assembly_opened_is_stale(council: Scene) -> None:
    """A member's signature names the round it asks in: signed for one round, it is refused in the next
    (``requisition.stale``), so no one can count it toward an assembly the member did not ask for."""
    log = council.log
    (m1, k1), (m2, k2) = council.people[1:3]
    signed_before = requisition(log, m1, k1)  # signed, not yet recorded
    board = Issuer("board", council.board_key.public.raw, council.board)
    a = log.run(Issued(OpenAssembly(council.board, "meanwhile"), board))[0].id
    log.run(Issued(CloseAssembly(a), OPERATOR))
    refused(log, signed_before, "requisition.stale")
    refused(log, requisition(log, m2, k2, asked_in=log.state.requisition_round() + 1), "requisition.stale")
    # a requisition that names no round is refused when made (older logs, without rounds, replay)
    unnamed = as_member(log, m2, k2, "requisition", text="x")
    refused(log, Issued(RequestAssembly(m2, "x"), unnamed), "requisition.stale")
    # and a stored one naming a past round is refused on replay too: the entry's round is judged
    log.run(requisition(log, m2, k2))
    stored = log.entries[-1]
    assert stored.body["round"] == 2
    past = Appended(stored.seq, stored.id, stored.ts_ms, stored.vis, {**stored.body, "round": 1})
    with pytest.raises(RuleError) as caught:
        apply(replay(log.entries[:-1]), past)
    assert caught.value.rule == "requisition.stale"


def test_requisitions_of_a_log_written_before_rounds_replay_and_count_for_their_round(council: Scene) -> None:
    log = council.log
    (m1, k1), (m2, k2) = council.people[1:3]
    log.run(requisition(log, m1, k1))
    log.run(requisition(log, m2, k2))
    first, second = log.entries[-2:]
    # before attribution: no issued_by; since attribution, before rounds: signed without a round
    unattributed = {k: v for k, v in first.body.items() if k not in ("round", "issued_by")}
    unrounded = {k: v for k, v in second.body.items() if k != "round"}
    unrounded["issued_by"] = {
        **second.body["issued_by"],
        "sig": as_member(log, m2, k2, "requisition", text="recall the board").sig,
    }
    state = replay(log.entries[:-2])
    apply(state, Appended(first.seq, first.id, first.ts_ms, first.vis, unattributed))
    apply(state, Appended(second.seq, second.id, second.ts_ms, second.vis, unrounded))
    assert state.requisitioners() == [m1, m2] and state.convening_due("requisition") is not None


def test_a_member_convenes_only_with_their_own_key_and_an_agenda(council: Scene) -> None:
    log = council.log
    met = council.requisitioned()
    log.now = met + DELAY_DAYS * DAY_MS
    (m1, k1), (m2, k2) = council.people[1:3]
    due = log.state.convening_due("requisition")
    command = OpenAssembly(m1, "the recall", "requisition", due)
    refused(log, Issued(command, OPERATOR), "issuer.not-allowed")
    board = Issuer("board", council.board_key.public.raw, council.board)
    refused(log, Issued(command, board), "issuer.not-allowed")
    # without a ground a member convenes nothing, the board member as a member neither (the board's own
    # convening is the board role's); a signature over another agenda does not hold
    refused(
        log, Issued(OpenAssembly(m1, "x"), as_member(log, m1, k1, "leave")), "assembly.convener-not-board"
    )
    b, bk = council.board, council.board_key
    as_plain_member = as_member(log, b, bk, "convene", agenda="x", ground="requisition", due_ms=due)
    refused(log, Issued(OpenAssembly(b, "x"), as_plain_member), "issuer.not-allowed")
    forged = Issued(
        command, as_member(log, m1, k1, "convene", agenda="other", ground="requisition", due_ms=due)
    )
    refused(log, forged, "member.bad-signature")
    refused(log, convene(log, m1, k1, agenda="  "), "convene.no-agenda")
    early = OpenAssembly(m1, "x", "requisition", due - 1)
    signer = as_member(log, m1, k1, "convene", agenda="x", ground="requisition", due_ms=due - 1)
    refused(log, Issued(early, signer), "convene.due-mismatch")
    refused(log, convene(log, m1, k1, ground="whenever"), "convene.bad-ground")
    refused(log, convene(log, m1, k1, ground="schedule"), "convene.no-schedule")
    log.run(convene(log, m2, k2))


def test_an_assembly_fixes_the_date_of_the_next(council: Scene) -> None:
    log = council.log
    (m3, k3) = council.people[3]
    board = Issuer("board", council.board_key.public.raw, council.board)
    a = log.run(Issued(OpenAssembly(council.board, "spring"), board))[0].id
    refused(log, Issued(CloseAssembly(a, next_ms=log.now), OPERATOR), "assembly.next-past")
    date = log.now + 90 * DAY_MS
    closed = log.run(Issued(CloseAssembly(a, next_ms=date), OPERATOR))[0]
    assert closed.body["next_ms"] == date and log.state.assemblies[a].next_ms == date
    log.now = date - 1
    refused(log, convene(log, m3, k3, ground="schedule"), "convene.too-early")
    log.now = date
    # the date passed without an assembly: any member may convene it, no requisition needed
    opened = log.run(convene(log, m3, k3, ground="schedule", agenda="the autumn assembly"))[0]
    assert (opened.body["ground"], opened.body["due_ms"]) == ("schedule", date)
    assert log.state.next_assembly_ms is None
    assert replay(log.entries).assemblies == log.state.assemblies


def test_a_board_member_resigns_their_seat_with_their_own_key(council: Scene) -> None:
    log = council.log
    board, key = council.board, council.board_key
    (m1, k1) = council.people[1]
    refused(log, Issued(ResignSeat(board, council.elected), OPERATOR), "issuer.not-allowed")
    refused(
        log,
        Issued(ResignSeat(m1, council.elected), as_member(log, m1, k1, "resign", decision=council.elected)),
        "board.not-member",
    )
    other = hashlib.sha256(b"another decision").digest()
    refused(
        log,
        Issued(ResignSeat(board, other), as_member(log, board, key, "resign", decision=other)),
        "board.not-member",
    )
    entry = log.run(
        Issued(
            ResignSeat(board, council.elected), as_member(log, board, key, "resign", decision=council.elected)
        )
    )[0]
    (mandate,) = log.state.mandates
    assert (entry.vis, mandate.cause, mandate.ended_by, mandate.ended_public) == (
        "public",
        "resignation",
        entry.id,
        True,
    )
    assert log.state.is_active(board) and log.state.board_members() == set()
    assert replay(log.entries).mandates == log.state.mandates


def test_a_board_member_leaving_the_council_ends_the_mandate_as_left(council: Scene) -> None:
    log = council.log
    board, key = council.board, council.board_key
    left, public = log.run(Issued(LeaveMember(board), as_member(log, board, key, "leave")))
    assert (left.body["kind"], public.body["kind"], public.vis) == ("member/leave", "board/left", "public")
    assert (public.body["member"], public.body["decision"], public.body["seat"]) == (
        board,
        council.elected,
        0,
    )
    (mandate,) = log.state.mandates
    assert (mandate.cause, mandate.ended_by, mandate.ended_public) == ("left", public.id, True)
    assert replay(log.entries).mandates == log.state.mandates
    # a plain member's leaving writes nothing public
    (m1, k1) = council.people[1]
    assert len(log.run(Issued(LeaveMember(m1), as_member(log, m1, k1, "leave")))) == 1


def test_board_left_stands_only_after_that_board_members_leaving(council: Scene) -> None:
    log = council.log
    size = len(log.entries)
    body = {"kind": "board/left", "member": council.board, "decision": council.elected, "seat": 0}
    stray = Appended(size, os.urandom(32), log.now, "public", body)
    with pytest.raises(RuleError) as caught:
        apply(log.state, stray)
    assert caught.value.rule == "board.left-misplaced" and log.state.next_seq == size
    assert log.state.board_members() == {council.board}


def test_an_older_log_with_repeated_requisitions_replays_and_counts_each_member_once(council: Scene) -> None:
    log = council.log
    (m1, _) = council.people[1]
    for _ in range(3):  # written before requisition.duplicate (issue 12): never refused on replay
        body = {"kind": "assembly/requisition", "member": m1, "text": "x", "salt": os.urandom(16)}
        entry = Appended(len(log.entries), os.urandom(32), log.now, "council", body)
        apply(log.state, entry)
        log.entries.append(entry)
    assert log.state.requisitioners() == [m1] and log.state.requisition_met is None


def test_requisition_rules_are_data_and_old_rules_mean_the_defaults() -> None:
    assert "requisition" not in DEFAULT_RULES.to_body()  # rules written before keep their bytes
    assert Rules.from_body(DEFAULT_RULES.to_body()) == DEFAULT_RULES
    assert (DEFAULT_RULES.requisition, DEFAULT_RULES.requisition_delay_days) == ((1, 5), 30)
    assert Rules.from_body(RULES.to_body()) == RULES
    assert RULES.to_body()["requisition"] == [1, 2] and RULES.requisitions_needed(5) == 3
    assert DEFAULT_RULES.requisitions_needed(0) == 1
    for share, rule in (((0, 5), "rules.bad-requisition"), ((6, 5), "rules.bad-requisition")):
        with pytest.raises(RuleError) as caught:
            Rules(requisition=share)
        assert caught.value.rule == rule
    for days in (0, 366):
        with pytest.raises(RuleError) as caught:
            Rules(requisition_delay_days=days)
        assert caught.value.rule == "rules.bad-requisition-delay"


STEPS = ("requisition 1", "requisition 2", "requisition 3", "report", "board assembly", "a day", "the delay")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(STEPS), max_size=12))
def test_whatever_the_board_does_a_due_requisition_lets_its_requisitioners_convene(steps: list[str]) -> None:
    """Property: at every point, once the share has requisitioned and the delay has passed with no assembly
    opened since, every active requisitioner may convene it; before the delay none may."""
    council = Scene()
    log = council.log
    board = Issuer("board", council.board_key.public.raw, council.board)
    for step in steps:
        log.now += 1000
        if step.startswith("requisition"):
            member, key = council.people[int(step[-1])]
            if member not in log.state.requisitioners():
                log.run(requisition(log, member, key))
        elif step == "report":
            log.run(Issued(FileReport(council.board, "we are busy"), board))
        elif step == "board assembly":
            a = log.run(Issued(OpenAssembly(council.board, "ours"), board))[0].id
            log.run(Issued(CloseAssembly(a), OPERATOR))
        else:
            log.now += DAY_MS if step == "a day" else DELAY_DAYS * DAY_MS
        due = log.state.convening_due("requisition")
        for member, key in council.people[1:]:
            trial = copy.deepcopy(log)
            if due is None or member not in log.state.requisitioners():
                expected = "convene.no-requisition" if due is None else "convene.not-requisitioner"
                refused(trial, convene(trial, member, key), expected)
            elif log.now < due:
                refused(trial, convene(trial, member, key), "convene.too-early")
            else:
                trial.run(convene(trial, member, key))
                assert trial.state.open_assembly() is not None


def test_a_board_member_chairs_an_assembly_with_their_own_key(council: Scene) -> None:
    """Issue 15's console: the roll, a motion, hands counted, the close — each entry names the chair."""
    log = council.log
    chair = Issuer("board", council.board_key.public.raw, council.board)
    voters = tuple(m for m, _ in council.people[1:])
    a = log.run(Issued(OpenAssembly(council.board, "autumn"), chair))[0].id
    log.run(Issued(Attend(a, voters), chair))
    log.run(Issued(Depart(a, voters[2]), chair))
    motion = log.run(Issued(ProposeMotion(a, "policy", "a library"), chair))[0].id
    for v in voters[:2]:
        log.run(Issued(CastVote(motion, v, "yes"), chair))
    decided = log.run(Issued(CloseMotion(motion), chair))
    assert decided[0].body["outcome"] == "adopted"
    closed = log.run(Issued(CloseAssembly(a, "held in the library"), chair))
    assert [e.body["kind"] for e in closed] == ["assembly/close", "assembly/minutes"]
    for entry in [*decided, *closed]:
        assert entry.body["issued_by"]["member"] == council.board
    assert replay(log.entries).assemblies == log.state.assemblies


def test_a_board_member_does_not_chair_the_recall_of_their_own_mandate(council: Scene) -> None:
    log = council.log
    chair = Issuer("board", council.board_key.public.raw, council.board)
    voters = tuple(m for m, _ in council.people)
    a = log.run(Issued(OpenAssembly(council.board, "the recall"), chair))[0].id
    log.run(Issued(Attend(a, voters), chair))
    recall = log.run(Issued(ProposeMotion(a, "recall", "recall", target=council.board), chair))[0].id
    refused(log, Issued(CastVote(recall, voters[1], "yes"), chair), "board.own-motion")
    refused(log, Issued(CloseMotion(recall), chair), "board.own-motion")
    for v in voters[1:]:
        log.run(Issued(CastVote(recall, v, "yes"), OPERATOR))
    log.run(Issued(CloseMotion(recall), OPERATOR))  # the secretary's pen closes it, and the mandate ends
    assert log.state.board_members() == set()
    refused(log, Issued(CloseAssembly(a), chair), "board.not-member")


@pytest.mark.parametrize("bad", [-1, "2", True, None, 2**63])
def test_a_requisition_statements_round_is_a_count(bad: object) -> None:
    with pytest.raises(DecodeError, match="round"):
        Statement("requisition", bytes(32), {"member": bytes(16), "text": "x", "round": bad})
    asked = Statement("requisition", bytes(32), {"member": bytes(16), "text": "x", "round": 3})
    assert Statement.decode(asked.encode()) == asked
    with pytest.raises(DecodeError):  # no other act takes a round
        Statement("leave", bytes(32), {"member": bytes(16), "round": 3})
