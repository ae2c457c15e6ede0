"""Governance state machine: a whole assembly, the arithmetic of every rule, and every refusal."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

import pytest

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
from node.rules.council.rules import election_result, quorum_required

HASH = DEFAULT_CHARTER.hash()


def mid(n: int) -> bytes:
    return bytes([n]) * 16


A, B, C, D, E, F = (mid(i) for i in range(1, 7))


class FakeLog:
    """A tiny in-memory log: ids = sha256 of the seq, council bodies get a salt, state = live apply."""

    def __init__(self) -> None:
        self.entries: list[Appended] = []
        self.state = Council()

    def run(self, command: Command) -> list[Appended]:
        ts = 1_000 * (len(self.entries) + 1)
        out = []
        for draft in execute(self.state, command, ts):
            seq = len(self.entries)
            body = dict(draft.body)
            assert "salt" not in body
            if draft.vis == "council":
                body["salt"] = hashlib.sha256(b"salt" + seq.to_bytes(8, "big")).digest()[:16]
            entry = Appended(seq, hashlib.sha256(seq.to_bytes(8, "big")).digest(), ts, draft.vis, body)
            apply(self.state, entry)
            self.entries.append(entry)
            out.append(entry)
        return out

    def refuse(self, command: Command, rule: str) -> RuleError:
        size = len(self.entries)
        with pytest.raises(RuleError) as info:
            self.run(command)
        assert info.value.rule == rule, info.value
        assert len(self.entries) == size
        return info.value


def council(rules: Rules | None = None, members: tuple[bytes, ...] = (A, B, C, D, E)) -> FakeLog:
    log = FakeLog()
    log.run(FoundCouncil("Reds of Berlin", "Europe", "شورای سرخ ها", "Berlin", "DE", rules=rules or Rules()))
    for m in members:
        log.run(JoinMember(m, HASH))
    return log


def assembly(log: FakeLog, present: tuple[bytes, ...] = (A, B, C, D, E), by: bytes | None = None) -> bytes:
    aid = log.run(OpenAssembly(by, "agenda"))[0].id
    if present:
        log.run(Attend(aid, present))
    return aid


def motion(log: FakeLog, aid: bytes, kind: Any = "policy", **kw: Any) -> bytes:
    if kind in ("election", "delegate"):  # a candidate stands only with their own consent (issue 13)
        consent(log, aid, *kw.get("candidates", ()))
    return log.run(ProposeMotion(aid, kind, "text", **kw))[0].id


def consent(log: FakeLog, aid: bytes, *candidates: bytes) -> None:
    """Each of ``candidates`` consents to stand in ``aid``'s elections, unless they have already."""
    for c in candidates:
        if c not in log.state.assemblies[aid].consents:
            log.run(Consent(aid, c))


def vote_and_close(log: FakeLog, m: bytes, votes: dict[bytes, Any]) -> dict[str, Any]:
    for member, v in votes.items():
        if isinstance(v, tuple):
            log.run(CastVote(m, member, approvals=v))
        else:
            log.run(CastVote(m, member, v))
    entries = log.run(CloseMotion(m))
    body = {k: v for e in entries for k, v in e.body.items() if k not in ("kind", "salt")}
    return body


# -- a whole assembly ------------------------------------------------------------------------------


def test_whole_assembly() -> None:
    log = council(Rules(board_seats=2))
    assert log.state.active_members() == sorted([A, B, C, D, E])
    aid = assembly(log, (A, B, C))
    log.run(Attend(aid, (D,)))  # late arrival
    assert log.state.roll() == {A, B, C, D}

    el = motion(log, aid, "election", seats=2, candidates=(A, B, C))
    # a seat needs a majority of the ballots (issue 13): 3 and 4 of 4 are, C's 1 of 4 is not
    d = vote_and_close(log, el, {A: (A, B), B: (B, A), C: (A, B), D: (B, C)})
    assert d["outcome"] == "adopted" and d["method"] == "approval-majority" and d["runoff"] is None
    assert [e["member"] for e in d["elected"]] == [B, A]
    assert d["tally"] == {"approvals": [[A, 3], [B, 4], [C, 1]], "ballots": 4}
    assert log.state.board().vacancies == 0 and log.state.board_members() == {A, B}
    elect_id = log.state.motions[el].decision
    assert {(m.decision, m.seat) for m in log.state.sitting_mandates()} == {(elect_id, 0), (elect_id, 1)}

    pol = motion(log, aid, visibility="council")
    d = vote_and_close(log, pol, {A: "yes", B: "yes", C: "no", D: "abstain"})
    assert d["outcome"] == "adopted" and d["tally"] == {"yes": 2, "no": 1, "abstain": 1}
    assert log.entries[-1].vis == "council"

    rc = motion(log, aid, "recall", target=B)
    d = vote_and_close(log, rc, {A: "yes", C: "yes", D: "no"})
    assert d["outcome"] == "adopted"
    recall_id = log.state.motions[rc].decision
    assert d["ended"] == [{"decision": elect_id, "seat": 0, "member": B}]
    ended = next(m for m in log.state.mandates if m.member == B)
    assert ended.ended_by == recall_id and ended.ended_how == "recalled"
    assert log.state.board().vacancies == 1

    rep = motion(log, aid, "election", seats=1, candidates=(C, D))
    d = vote_and_close(log, rep, {A: (D,), C: (D,), D: (C,)})
    assert [e["member"] for e in d["elected"]] == [D]
    assert log.state.board_members() == {A, D}

    log.run(Depart(aid, C))
    closing = log.run(CloseAssembly(aid, minutes="we met"))
    assert [(e.vis, e.body["kind"]) for e in closing] == [
        ("public", "assembly/close"),
        ("council", "assembly/minutes"),
    ]
    assert closing[0].body["participants"] == 4
    assert log.state.open_assembly() is None and log.state.assemblies[aid].minutes == "we met"

    log.run(FileReport(A, "carried out the policy"))
    log.refuse(OpenAssembly(None), "assembly.board-sits")
    assembly(log, (), by=D)
    assert replay(log.entries) == log.state
    assert [d.outcome for d in log.state.decisions_list()] == ["adopted"] * 4


def test_public_decision_hides_tally_when_rules_say_so() -> None:
    log = council(Rules(publish_tallies=False))
    aid = assembly(log)
    m = motion(log, aid)
    log.run(CastVote(m, A, "yes"))
    entries = log.run(CloseMotion(m))
    assert [(e.vis, e.body["kind"]) for e in entries] == [
        ("public", "decision"),
        ("council", "decision/tally"),
    ]
    assert "tally" not in entries[0].body and entries[1].body["tally"] == {"yes": 1, "no": 0, "abstain": 0}
    # council-visibility decisions are never split: nothing leaves the node anyway
    m2 = motion(log, aid, visibility="council")
    assert [e.body["kind"] for e in log.run(CloseMotion(m2))] == ["decision"]
    assert replay(log.entries) == log.state


def test_rules_change_and_removal() -> None:
    log = council(Rules(board_seats=1))
    aid = assembly(log)
    new = Rules("two_thirds", Quorum(fraction=(1, 2)), 3, True)
    d = vote_and_close(log, motion(log, aid, "rules", rules=new), {A: "yes", B: "yes"})
    assert d["rules_adopted"] == 2 and d["rules_version"] == 1
    assert log.state.rules_in_force() == (2, new)
    el = motion(log, aid, "election", seats=1, candidates=(E,))
    vote_and_close(log, el, {A: (E,)})
    d = vote_and_close(log, motion(log, aid, "removal", target=E), {A: "yes", B: "yes", C: "no"})
    assert d["outcome"] == "adopted" and d["removed"] == E and len(d["ended"]) == 1
    assert d["rules_version"] == 2 and d["majority"] == "two_thirds"
    assert E not in log.state.active_members() and E not in log.state.roll() and not log.state.board_members()
    assert replay(log.entries) == log.state


def test_leaving_ends_mandate() -> None:
    log = council()
    aid = assembly(log)
    vote_and_close(log, motion(log, aid, "election", seats=1, candidates=(A,)), {A: (A,)})
    log.run(LeaveMember(A))
    assert not log.state.board_members() and A not in log.state.roll()


# -- arithmetic ------------------------------------------------------------------------------------


def test_quorum_required() -> None:
    assert quorum_required(None, 10) == 0
    assert quorum_required(Quorum(count=4), 10) == 4
    assert quorum_required(Quorum(fraction=(1, 2)), 5) == 3  # rounds up
    assert quorum_required(Quorum(fraction=(1, 3)), 9) == 3
    assert quorum_required(Quorum(fraction=(1, 1)), 0) == 0


def test_election_result_ties() -> None:
    r = election_result({A: 3, B: 2, C: 2, D: 1}, 2, [A, B, C, D])
    assert r.elected == (A,) and r.vacant == 1 and set(r.tied) == {B, C}
    r = election_result({A: 3, B: 2, C: 2}, 3, [A, B, C])
    assert r.elected == (A, B, C) and r.vacant == 0
    r = election_result({A: 0, B: 1}, 2, [A, B])
    assert r.elected == (B,) and r.vacant == 1 and r.tied == ()


def test_abstentions_not_counted_under_simple_majority() -> None:
    log = council()
    aid = assembly(log)
    d = vote_and_close(log, motion(log, aid), {A: "yes", B: "abstain", C: "abstain", D: "abstain"})
    assert d["outcome"] == "adopted" and d["votes_cast"] == 4 and d["participants"] == 5


def test_absolute_majority_counts_participants_present() -> None:
    log = council(Rules("absolute"))
    aid = assembly(log)
    d = vote_and_close(log, motion(log, aid), {A: "yes", B: "yes", C: "abstain"})
    assert d["outcome"] == "rejected"  # 2 of 5 present
    d = vote_and_close(log, motion(log, aid), {A: "yes", B: "yes", C: "yes"})
    assert d["outcome"] == "adopted"


def test_quorum_by_count_and_fraction() -> None:
    log = council(Rules(quorum=Quorum(count=4)))
    aid = assembly(log, (A, B, C))
    d = vote_and_close(log, motion(log, aid), {A: "yes"})
    assert d["outcome"] == "no_quorum" and d["quorum_required"] == 4 and d["participants"] == 3
    log.run(Attend(aid, (D,)))
    assert vote_and_close(log, motion(log, aid), {A: "yes"})["outcome"] == "adopted"

    log = council(Rules(quorum=Quorum(fraction=(2, 3))))  # 5 active -> 4 needed
    aid = assembly(log, (A, B, C))
    assert vote_and_close(log, motion(log, aid), {A: "yes"})["outcome"] == "no_quorum"
    log.run(Attend(aid, (D,)))
    d = vote_and_close(log, motion(log, aid), {A: "yes"})
    assert d["outcome"] == "adopted" and d["quorum"] == {"fraction": [2, 3]} and d["active_members"] == 5


def test_departed_voter_still_took_part() -> None:
    log = council(Rules("absolute"))
    aid = assembly(log, (A, B, C))
    m = motion(log, aid)
    log.run(CastVote(m, A, "yes"))
    log.run(CastVote(m, B, "yes"))
    log.run(Depart(aid, A))
    d = vote_and_close(log, m, {})
    assert d["participants"] == 3 and d["outcome"] == "adopted"


def test_election_below_majority_leaves_seats_vacant() -> None:
    """Issue 13: B and C have 1 approval of 2 ballots, no majority — no longer a tie for the last seat (ties
    and their runoffs: test_governance_elections.py)."""
    log = council()
    aid = assembly(log)
    d = vote_and_close(
        log, motion(log, aid, "election", seats=2, candidates=(A, B, C)), {A: (A, B), B: (A, C)}
    )
    assert [e["member"] for e in d["elected"]] == [A] and d["vacant"] == 1 and d["tied"] == []
    d = vote_and_close(log, motion(log, aid, "election", seats=1, candidates=(D, E)), {A: (D,), B: (E,)})
    assert d["outcome"] == "rejected" and d["elected"] == [] and d["runoff"] is None
    d = vote_and_close(log, motion(log, aid, "election", seats=1, candidates=(D, E)), {A: ()})
    assert d["outcome"] == "rejected"


# -- refusals --------------------------------------------------------------------------------------


@pytest.fixture
def sitting() -> tuple[FakeLog, bytes, bytes]:
    """Council of five, all present, an open policy motion."""
    log = council()
    aid = assembly(log, (A, B, C, D))
    return log, aid, motion(log, aid)


def test_refusals_founding_and_membership() -> None:
    log = FakeLog()
    log.refuse(JoinMember(A, HASH), "council.not-founded")
    log.refuse(FoundCouncil("x" * 201, "Europe"), "limit.name")
    log = council(members=(A,))
    log.refuse(FoundCouncil("again", "Europe"), "council.already-founded")
    log.refuse(JoinMember(B, bytes(32)), "member.charter-mismatch")
    log.refuse(JoinMember(A, HASH), "member.exists")
    log.refuse(JoinMember(B, HASH, pubkey=b"short"), "member.bad-key")
    log.refuse(JoinMember(b"short", HASH), "entry.malformed")
    log.refuse(LeaveMember(B), "member.unknown")
    log.run(LeaveMember(A))
    log.refuse(LeaveMember(A), "member.not-active")
    log.refuse(JoinMember(A, HASH), "member.exists")


def test_refusals_assembly() -> None:
    log = council()
    log.refuse(OpenAssembly(A), "assembly.convener-not-board")
    log.refuse(OpenAssembly(None, "x" * 5001), "limit.agenda")
    aid = assembly(log, (A,))
    log.refuse(OpenAssembly(None), "assembly.already-open")
    log.refuse(Attend(aid, (A,)), "roll.already-present")
    log.refuse(Attend(aid, (B, B)), "roll.duplicate")
    log.refuse(Attend(aid, ()), "roll.empty")
    log.refuse(Attend(aid, (F,)), "member.unknown")
    log.refuse(Attend(bytes(32), (B,)), "assembly.unknown")
    log.refuse(Depart(aid, B), "roll.not-present")
    log.refuse(CloseAssembly(aid, minutes="x" * 20_001), "limit.text")
    m = motion(log, aid)
    log.refuse(CloseAssembly(aid), "assembly.motions-open")
    log.run(CloseMotion(m))
    log.run(CloseAssembly(aid))
    log.refuse(CloseAssembly(aid), "assembly.closed")
    log.refuse(Attend(aid, (B,)), "assembly.closed")


def test_refusals_votes(sitting: tuple[FakeLog, bytes, bytes]) -> None:
    log, aid, m = sitting
    log.refuse(CastVote(m, E, "yes"), "vote.not-present")  # a member who never attended
    log.refuse(CastVote(m, F, "yes"), "member.unknown")
    log.run(Depart(aid, D))
    log.refuse(CastVote(m, D, "yes"), "vote.departed")
    log.run(CastVote(m, A, "yes"))
    log.refuse(CastVote(m, A, "no"), "vote.duplicate")
    log.refuse(CastVote(m, B, "maybe"), "vote.bad-choice")  # type: ignore[arg-type]  # a bad choice on purpose
    log.refuse(CastVote(m, B, "yes", ballot=b"x"), "vote.bad-ballot")
    log.refuse(CastVote(bytes(32), B, "yes"), "motion.unknown")
    log.run(CloseMotion(m))
    log.refuse(CastVote(m, B, "yes"), "motion.closed")  # vote after the motion closed
    log.refuse(CloseMotion(m), "motion.closed")


def test_refusals_election_votes(sitting: tuple[FakeLog, bytes, bytes]) -> None:
    log, aid, _ = sitting
    el = motion(log, aid, "election", seats=1, candidates=(A, B))
    log.refuse(CastVote(el, A, approvals=(A, B)), "vote.too-many-approvals")
    log.refuse(CastVote(el, A, approvals=(C,)), "vote.not-a-candidate")
    log.refuse(CastVote(el, A, "yes"), "vote.bad-shape")
    el2 = motion(log, aid, "election", seats=2, candidates=(C, D))
    log.refuse(CastVote(el2, A, approvals=(C, C)), "vote.duplicate-approval")


def test_refusals_motions(sitting: tuple[FakeLog, bytes, bytes]) -> None:
    log, aid, _ = sitting
    log.refuse(ProposeMotion(aid, "policy", "x" * 20_001), "limit.text")
    log.refuse(ProposeMotion(aid, "policy", ""), "motion.empty-text")
    log.refuse(ProposeMotion(aid, "policy", " \n\t"), "motion.empty-text")
    log.refuse(ProposeMotion(aid, "coup", "t"), "motion.bad-kind")  # type: ignore[arg-type]  # on purpose
    log.refuse(ProposeMotion(aid, "policy", "t", visibility="secret"), "motion.bad-visibility")  # type: ignore[arg-type]
    log.refuse(ProposeMotion(aid, "policy", "t", proposer=E), "motion.proposer-not-present")
    log.refuse(ProposeMotion(aid, "policy", "t", target=A), "motion.bad-shape")
    log.refuse(ProposeMotion(aid, "rules", "t"), "motion.rules-missing")
    log.refuse(ProposeMotion(aid, "removal", "t"), "motion.target-missing")
    log.refuse(ProposeMotion(aid, "removal", "t", target=F), "member.unknown")
    log.refuse(ProposeMotion(aid, "recall", "t", target=A), "recall.not-on-board")
    log.refuse(ProposeMotion(aid, "election", "t", seats=0, candidates=(A,)), "election.bad-seats")
    log.refuse(ProposeMotion(aid, "election", "t", seats=1), "election.no-candidates")
    log.refuse(
        ProposeMotion(aid, "election", "t", seats=1, candidates=(A, A)), "election.duplicate-candidate"
    )
    many = tuple(mid(100 + i) for i in range(101))
    log.refuse(ProposeMotion(aid, "election", "t", seats=1, candidates=many), "limit.candidates")
    log.refuse(
        ProposeMotion(aid, "election", "t", seats=4, candidates=(A,)), "election.seats-exceed-vacancies"
    )
    motion(log, aid, "election", seats=2, candidates=(A,))
    # two seats are already contested by the open election: one is left
    log.refuse(
        ProposeMotion(aid, "election", "t", seats=2, candidates=(B,)), "election.seats-exceed-vacancies"
    )


def test_refusals_board_and_between_assemblies() -> None:
    log = council()
    aid = assembly(log)
    vote_and_close(log, motion(log, aid, "election", seats=1, candidates=(A,)), {A: (A,)})
    log.refuse(ProposeMotion(aid, "election", "t", seats=1, candidates=(A,)), "election.candidate-on-board")
    log.run(CloseAssembly(aid))
    # article 4: no rules change, election or policy without an open general assembly
    log.refuse(ProposeMotion(aid, "rules", "t", rules=Rules("absolute")), "motion.assembly-closed")
    log.refuse(ProposeMotion(bytes(32), "policy", "t"), "assembly.unknown")
    log.refuse(FileReport(B, "report"), "board.not-member")
    log.refuse(FileReport(A, "x" * 20_001), "limit.text")
    log.refuse(FileReport(A, ""), "report.empty")
    log.refuse(OpenAssembly(B), "assembly.convener-not-board")
    log.run(FileReport(A, "done"))


def test_refusals_rules_shapes() -> None:
    with pytest.raises(RuleError, match=r"rules\.bad-quorum"):
        Quorum(count=0)
    with pytest.raises(RuleError, match=r"rules\.bad-quorum"):
        Quorum(fraction=(3, 2))
    with pytest.raises(RuleError, match=r"rules\.bad-majority"):
        Rules("plurality")  # type: ignore[arg-type]  # on purpose


# -- hostile logs ----------------------------------------------------------------------------------


def _tampered(log: FakeLog, index: int, **changes: Any) -> list[Appended]:
    entries = list(log.entries)
    e = entries[index]
    entries[index] = replace(e, body={**e.body, **changes})
    return entries


def test_hostile_log_is_refused(sitting: tuple[FakeLog, bytes, bytes]) -> None:
    log, _aid, m = sitting
    log.run(CastVote(m, A, "no"))
    log.run(CloseMotion(m))
    last = len(log.entries) - 1
    cases = [
        (_tampered(log, last, outcome="adopted"), "decision.mismatch"),
        (_tampered(log, last - 1, member=E), "vote.not-present"),
        (_tampered(log, 1, extra=1), "entry.malformed"),
        (_tampered(log, 0, charter_hash=bytes(32)), "council.charter-hash"),
        (log.entries[1:], "log.seq"),
        ([*log.entries[:2], replace(log.entries[2], vis="public")], "log.visibility"),
        (
            [*log.entries[:1], replace(log.entries[1], body={"kind": "member/join", "member": A})],
            "entry.malformed",
        ),
        (
            [*log.entries[:1], replace(log.entries[1], body={**log.entries[1].body, "kind": "x"})],
            "log.unknown-kind",
        ),
    ]
    for entries, rule in cases:
        with pytest.raises(RuleError) as info:
            replay(entries)
        assert info.value.rule == rule


def test_tally_must_follow_hidden_decision() -> None:
    log = council(Rules(publish_tallies=False))
    aid = assembly(log)
    log.run(CloseMotion(motion(log, aid)))
    without_tally = log.entries[:-1]
    state = replay(without_tally)
    with pytest.raises(RuleError) as info:
        execute(state, Depart(aid, A), 0)
    assert info.value.rule == "log.tally-expected"
    forged = _tampered(log, len(log.entries) - 1, votes_cast=7)
    with pytest.raises(RuleError) as info:
        replay(forged)
    assert info.value.rule == "decision.tally-mismatch"


def test_empty_motion_text_of_an_older_log_still_replays(sitting: tuple[FakeLog, bytes, bytes]) -> None:
    """Older code stored empty motion texts: apply keeps reading them, only proposing refuses."""
    log, aid, _ = sitting
    proposed = log.run(ProposeMotion(aid, "policy", "placeholder"))[0]
    body = dict(proposed.body)
    body["text"] = ""
    old = replace(proposed, body=body)
    entries = [*log.entries[:-1], old]
    state = replay(entries)
    assert state.motions[old.id].text == ""
    assert state.motions[old.id].is_open
