"""Federation body state machine: roster, proposals, results; the tally under each rule; retally."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

import pytest

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
    Terms,
    apply,
    execute,
    replay,
    result_body,
    retally,
    tally,
    verify_through,
)

FED = bytes([0xFE]) * 32


def key(n: int) -> bytes:
    return bytes([n]) * 32


K1, K2, K3, K4, K5 = (key(i) for i in range(1, 6))
DAY = 86_400_000


class FakeLog:
    """An in-memory federation log; the clock is ``now`` and never runs backwards."""

    def __init__(self, log_id: bytes = FED) -> None:
        self.entries: list[Appended] = []
        self.state = Federation(log_id)
        self.log_id = log_id
        self.now = 1_000

    def run(self, command: Command) -> Appended:
        drafts = execute(self.state, command, self.now)
        assert len(drafts) == 1 and drafts[0].vis == "public"
        seq = len(self.entries)
        entry = Appended(
            seq, hashlib.sha256(b"fed" + seq.to_bytes(8, "big")).digest(), self.now, "public", drafts[0].body
        )
        apply(self.state, entry)
        self.entries.append(entry)
        self.now += 10
        return entry

    def refuse(self, command: Command, rule: str) -> RuleError:
        size, before = len(self.entries), replay(self.entries, self.log_id)
        with pytest.raises(RuleError) as info:
            self.run(command)
        assert info.value.rule == rule, info.value
        assert len(self.entries) == size and self.state == before
        return info.value


def council_admit(k: bytes, country: str = "DE", continent: str = "Europe", city: str = "Berlin") -> Admit:
    return Admit(k, "council", f"Reds {k[0]}", continent, city=city, country=country, url="https://x.example")


def country_federation(members: tuple[bytes, ...] = (K1, K2, K3)) -> FakeLog:
    log = FakeLog()
    log.run(FoundFederation("Federation of Councils, Germany", "country", "Europe", "فدراسیون", "DE"))
    for k in members:
        log.run(council_admit(k))
    return log


def answer(
    council: bytes,
    outcome: str = "adopted",
    participants: int = 10,
    ts_ms: int = 2_000,
    seq: int = 5,
    proposal: bytes | None = None,
    federation: bytes = FED,
    decision: bytes | None = None,
) -> Answer:
    decision = decision or hashlib.sha256(council + seq.to_bytes(8, "big")).digest()
    return Answer(council, decision, (federation, proposal or bytes(32)), outcome, participants, ts_ms, seq)


# -- flows -----------------------------------------------------------------------------------------


def test_roster_flow() -> None:
    log = country_federation()
    s = log.state
    assert s.profile is not None and s.profile.level == "country" and s.profile.country == "DE"
    assert [m.member for m in s.active_members()] == [K1, K2, K3]
    assert s.is_admitted(K1) and not s.is_admitted(K4)
    assert s.accepts(K1, 10**6) and not s.accepts(K4, 0)

    suspended_at = log.run(Suspend(K2, "forked its log", 7))
    assert not s.is_admitted(K2) and [m.member for m in s.suspended_members()] == [K2]
    assert s.accepts(K2, 6) and not s.accepts(K2, 7)
    assert s.roster[K2].suspended_size == 7
    assert K2 not in s.admitted_at(log.now) and K2 in s.admitted_at(suspended_at.ts_ms - 1)

    log.run(Readmit(K2, "the fork was a restore; resolved"))
    assert s.is_admitted(K2) and s.accepts(K2, 100)
    assert [e.action for e in s.roster[K2].events] == ["admit", "suspend", "readmit"]
    assert all(e.reason for e in s.roster[K2].events[1:])
    log.run(Suspend(K2, "again", 7))  # the same size: the log did not grow
    assert {c: [m.member for m in ms] for c, ms in s.by_country().items()} == {"DE": [K1, K3]}
    assert [m.member for m in s.by_country(include_suspended=True)["DE"]] == [K1, K2, K3]
    assert list(s.by_continent()) == ["Europe"]
    assert replay(log.entries, FED) == log.state


def test_continent_federation_admits_country_federations_and_councils() -> None:
    log = FakeLog()
    log.run(FoundFederation("Federation of Councils, Europe", "continent", "Europe"))
    log.run(Admit(K1, "federation", "Federation DE", "Europe", country="DE"))
    log.run(council_admit(K2, country="FR", city="Paris"))
    log.run(council_admit(K3, country="SE", city="Malmö"))
    s = log.state
    assert s.roster[K1].kind == "federation" and s.admitted_at(log.now) == {K2, K3}
    assert s.admitted_at(log.now, kind=None) == {K1, K2, K3}
    assert sorted(s.by_country()) == ["DE", "FR", "SE"]
    log.refuse(council_admit(K4, continent="Asia", country="JP", city="Tokyo"), "roster.other-continent")
    assert replay(log.entries, FED) == log.state


def test_proposal_flow_and_result() -> None:
    log = country_federation((K1, K2, K3, K4))
    p = log.run(PublishProposal("اعتصاب عمومی", "general strike", log.now + DAY, "answering"))
    prop = log.state.proposals[p.id]
    assert log.state.open_proposals() == [prop] and prop.federation == FED
    log.refuse(PublishResult(p.id, ()), "result.too-early")
    answers = (
        answer(K1, "adopted", ts_ms=2_000, proposal=p.id),
        answer(K2, "adopted", ts_ms=3_000, proposal=p.id),
        answer(K3, "rejected", ts_ms=4_000, proposal=p.id),
        answer(K3, "adopted", ts_ms=5_000, seq=9, proposal=p.id),  # K3's second answer
        answer(K4, "adopted", ts_ms=prop.deadline_ms + 1, proposal=p.id),  # late
        answer(K5, "adopted", proposal=p.id),  # never admitted
        answer(K1, "adopted", seq=20, proposal=bytes(32)),  # another proposal
    )
    log.now = prop.deadline_ms
    r = log.run(PublishResult(p.id, answers))
    body = r.body
    assert body["result"] == "adopted" and body["admitted"] == [K1, K2, K3, K4]
    assert [c["council"] for c in body["counted"]] == [K1, K2, K3]
    assert body["counted"][2]["outcome"] == "rejected"  # the first answer counts
    assert sorted((x["council"], x["reason"]) for x in body["refused"]) == [
        (K1, "other-proposal"), (K3, "duplicate"), (K4, "late"), (K5, "not-admitted"),
    ]  # fmt: skip
    assert body["totals"] == {
        "admitted": 4, "answered": 3, "adopted": 2, "rejected": 1, "neither": 0, "refused": 4,
        "participants_adopted": 20, "participants_rejected": 10,
    }  # fmt: skip
    res = log.state.result_of(p.id)
    assert res is not None and res.result == "adopted" and len(res.counted) == 3 and len(res.refused) == 4
    assert log.state.open_proposals() == [] and log.state.closed_proposals() == [prop]
    log.refuse(PublishResult(p.id, answers), "result.already")
    assert replay(log.entries, FED) == log.state
    # the order the operator gives the answers in does not matter
    assert result_body(prop.terms, log.state.admitted_at(prop.deadline_ms), reversed(answers)) == body


def test_roster_at_the_deadline_counts_not_now() -> None:
    log = country_federation((K1, K2))
    p = log.run(PublishProposal("fa", "en", log.now + 1_000, "admitted"))
    deadline = log.state.proposals[p.id].deadline_ms
    log.run(Suspend(K1, "suspended before the deadline", 3))
    log.now = deadline + 5
    log.run(council_admit(K3))  # admitted after the deadline
    log.run(Readmit(K1, "readmitted after the deadline"))
    answers = tuple(answer(k, proposal=p.id, ts_ms=deadline) for k in (K1, K2, K3))
    body = log.run(PublishResult(p.id, answers)).body
    assert body["admitted"] == [K2]
    assert {x["council"]: x["reason"] for x in body["refused"]} == {K1: "not-admitted", K3: "not-admitted"}
    assert body["result"] == "adopted"  # 1 of 1 admitted


# -- refusals --------------------------------------------------------------------------------------


def test_refusals_founding() -> None:
    log = FakeLog()
    log.refuse(council_admit(K1), "federation.not-founded")
    log.refuse(PublishResult(bytes(32), ()), "federation.not-founded")
    log.refuse(FoundFederation("F", "planet", "Europe"), "federation.bad-level")  # type: ignore[arg-type]
    log.refuse(FoundFederation("F", "country", "Europe"), "federation.bad-profile")  # no country
    log.refuse(FoundFederation("F", "continent", "Europe", country="DE"), "federation.bad-profile")
    log.refuse(FoundFederation("", "continent", "Europe"), "federation.bad-profile")
    log.refuse(FoundFederation("x" * 201, "continent", "Europe"), "limit.name")
    log.run(FoundFederation("F", "continent", "Europe"))
    log.refuse(FoundFederation("F", "continent", "Europe"), "federation.already-founded")


def test_refusals_roster() -> None:
    log = country_federation((K1,))
    log.refuse(Admit(K2, "federation", "F", "Europe", country="DE"), "roster.kind-not-allowed")
    log.refuse(council_admit(K2, country="FR", city="Paris"), "roster.other-country")
    log.refuse(council_admit(K2, continent="Asia"), "roster.other-continent")
    log.refuse(council_admit(K1), "roster.already-admitted")
    log.refuse(council_admit(FED), "roster.self")
    log.refuse(Admit(K2, "party", "x", "Europe", city="B", country="DE"), "roster.bad-kind")  # type: ignore[arg-type]
    log.refuse(Admit(K2, "council", "x", "Europe", country="DE"), "roster.bad-profile")  # no city
    log.refuse(Admit(K2, "council", "", "Europe", city="B", country="DE"), "roster.bad-profile")
    log.refuse(Admit(K2, "council", "x", "Europe", city="B", country="DE", url="ftp://x"), "roster.bad-url")
    log.refuse(Admit(b"short", "council", "x", "Europe", city="B", country="DE"), "entry.malformed")
    log.refuse(Admit(K2, "council", "x", "Europe", city="B", country="DE", reason="r" * 5001), "limit.reason")
    log.refuse(Suspend(K2, "why", 0), "roster.not-admitted")
    log.refuse(Suspend(K1, " ", 0), "roster.reason-missing")
    log.refuse(Suspend(K1, "why", -1), "roster.bad-size")
    log.refuse(Readmit(K1, "why"), "roster.not-suspended")
    log.refuse(Readmit(K2, "why"), "roster.not-admitted")
    log.run(Suspend(K1, "why", 5))
    log.refuse(Suspend(K1, "why", 9), "roster.already-suspended")
    log.refuse(Readmit(K1, ""), "roster.reason-missing")
    log.run(Readmit(K1, "why"))
    log.refuse(Suspend(K1, "why", 4), "roster.size-regressed")


def test_refusals_proposals() -> None:
    log = country_federation((K1,))
    log.refuse(PublishProposal("", "en", log.now + 1), "proposal.text-missing")
    log.refuse(PublishProposal("fa", " ", log.now + 1), "proposal.text-missing")
    log.refuse(PublishProposal("x" * 20_001, "en", log.now + 1), "limit.text")
    log.refuse(PublishProposal("fa", "en", log.now), "proposal.deadline-past")
    log.refuse(PublishProposal("fa", "en", log.now + 1, "plurality"), "proposal.bad-rule")  # type: ignore[arg-type]
    log.refuse(PublishResult(bytes(32), ()), "proposal.unknown")
    p = log.run(PublishProposal("fa", "en", log.now + 100)).id
    log.refuse(PublishResult(p, ()), "result.too-early")
    log.now += 1_000
    many = tuple(answer(K1, seq=i, proposal=p) for i in range(5_001))
    log.refuse(PublishResult(p, many), "limit.answers")


def test_execute_judges_at_the_writer_time() -> None:
    # the writer stamps max(now, last entry's time): execute judges a deadline at that time too
    log = country_federation((K1,))
    log.now -= 500  # a clock that stepped back
    log.refuse(PublishProposal("fa", "en", log.now + 100), "proposal.deadline-past")


# -- hostile logs ----------------------------------------------------------------------------------


def _closed(rule: Any = "answering") -> tuple[FakeLog, bytes]:
    log = country_federation()
    p = log.run(PublishProposal("fa", "en", log.now + 100, rule)).id
    t = log.now
    log.now += 1_000
    log.run(
        PublishResult(
            p,
            (
                answer(K1, proposal=p, ts_ms=t),
                answer(K2, "rejected", proposal=p, ts_ms=t),
                answer(K4, proposal=p, ts_ms=t),
            ),
        )
    )
    return log, p


def _with_last(log: FakeLog, **changes: Any) -> list[Appended]:
    last = log.entries[-1]
    return [*log.entries[:-1], replace(last, body={**last.body, **changes})]


def test_result_mismatch_on_apply() -> None:
    log, _p = _closed()
    body = log.entries[-1].body
    assert body["result"] == "tied"
    forged_counted = [{**body["counted"][1], "outcome": "adopted"}, body["counted"][0]]
    cases = [
        (_with_last(log, result="adopted"), "result.mismatch"),
        (_with_last(log, totals={**body["totals"], "adopted": 2}), "result.mismatch"),
        (_with_last(log, counted=forged_counted), "result.mismatch"),  # also out of order
        (_with_last(log, refused=[]), "result.mismatch"),  # an answer dropped from the record
        (_with_last(log, admitted=[K1, K2, K3, K4]), "result.mismatch"),  # K4 was never admitted
        (_with_last(log, rule="weighted"), "result.mismatch"),
        (_with_last(log, deadline_ms=body["deadline_ms"] - 1), "result.mismatch"),
        (_with_last(log, federation=key(9)), "result.mismatch"),
        (_with_last(log, extra=1), "entry.malformed"),
        (_with_last(log, counted=[{**body["counted"][0], "outcome": "maybe"}]), "answer.malformed"),
        (_with_last(log, counted=[{**body["counted"][0], "voters": [K1]}]), "entry.malformed"),
        (_with_last(log, proposal=bytes(32)), "proposal.unknown"),
        ([*log.entries[:-1], replace(log.entries[-1], ts_ms=log.entries[-2].ts_ms + 50)], "result.too-early"),
    ]
    for entries, rule in cases:
        with pytest.raises(RuleError) as info:
            replay(entries, FED)
        assert info.value.rule == rule, (rule, info.value)


def test_hostile_log_is_refused() -> None:
    log, _p = _closed()
    e = log.entries
    cases = [
        (e[1:], "log.seq"),
        ([e[0], replace(e[1], vis="council")], "log.visibility"),
        ([e[0], replace(e[1], body={**e[1].body, "kind": "roster/purge"})], "log.unknown-kind"),
        ([e[0], replace(e[1], ts_ms=e[0].ts_ms - 1)], "log.time"),
        ([e[0], replace(e[1], seq=0)], "log.seq"),
        ([replace(e[0], body={**e[0].body, "secret": 1})], "entry.malformed"),
        ([e[0], replace(e[1], body={**e[1].body, "member": FED})], "roster.self"),
        ([e[1]], "log.seq"),
    ]
    for entries, rule in cases:
        with pytest.raises(RuleError) as info:
            replay(entries, FED)
        assert info.value.rule == rule, (rule, info.value)
    # the same log, taken for another federation's, refuses its result: the answers name FED
    with pytest.raises(RuleError) as info:
        replay(e, key(9))
    assert info.value.rule == "result.mismatch"


# -- the tally under each rule ---------------------------------------------------------------------

P = bytes([0x99]) * 32
ADMITTED = frozenset({K1, K2, K3, K4, K5})


def terms(rule: Any, deadline: int = 10_000) -> Terms:
    return Terms(FED, P, deadline, rule)


def a(council: bytes, outcome: str, participants: int = 10, **kw: Any) -> Answer:
    return answer(council, outcome, participants, proposal=P, **kw)


@pytest.mark.parametrize(
    ("rule", "answers", "result"),
    [
        # answering: 2·yes against councils answering; tied/no_quorum answers count among those answering
        ("answering", [a(K1, "adopted"), a(K2, "rejected"), a(K3, "adopted")], "adopted"),
        ("answering", [a(K1, "adopted"), a(K2, "rejected")], "tied"),
        ("answering", [a(K1, "adopted"), a(K2, "tied")], "tied"),
        ("answering", [a(K1, "adopted"), a(K2, "no_quorum"), a(K3, "tied")], "rejected"),
        ("answering", [a(K1, "adopted")], "adopted"),
        ("answering", [], "tied"),
        # admitted: 2·yes against all 5 councils admitted at the deadline; neither-answers = silence
        ("admitted", [a(K1, "adopted"), a(K2, "adopted"), a(K3, "adopted")], "adopted"),
        ("admitted", [a(K1, "adopted"), a(K2, "adopted"), a(K3, "tied"), a(K4, "no_quorum")], "rejected"),
        ("admitted", [a(K1, "adopted")], "rejected"),
        # weighted: Σ participants of adopting councils against Σ of rejecting; neither-answers weigh 0
        ("weighted", [a(K1, "adopted", 5), a(K2, "rejected", 30), a(K3, "adopted", 26)], "adopted"),
        ("weighted", [a(K1, "adopted", 5), a(K2, "rejected", 30)], "rejected"),
        ("weighted", [a(K1, "adopted", 30), a(K2, "rejected", 30), a(K3, "tied", 100)], "tied"),
        ("weighted", [a(K1, "no_quorum", 3), a(K2, "tied", 8)], "tied"),
        ("weighted", [a(K1, "adopted", 1), a(K2, "no_quorum", 100)], "adopted"),
    ],
)
def test_tally_rules(rule: Any, answers: list[Answer], result: str) -> None:
    counted, refused, totals, got = tally(terms(rule), ADMITTED, answers)
    assert got == result and refused == []
    assert totals.answered == len(answers) == len(counted)
    assert totals.neither == sum(1 for x in answers if x.outcome in ("tied", "no_quorum"))


def test_tally_admitted_with_an_even_roster_ties() -> None:
    four = frozenset({K1, K2, K3, K4})
    assert tally(terms("admitted"), four, [a(K1, "adopted"), a(K2, "adopted")])[3] == "tied"


def test_tally_refusals() -> None:
    deadline = 10_000
    on_time, late = a(K1, "adopted", ts_ms=deadline), a(K2, "adopted", ts_ms=deadline + 1)
    first, second = a(K3, "no_quorum", seq=4, ts_ms=100), a(K3, "adopted", seq=8, ts_ms=100)
    outsider = a(key(77), "adopted")
    elsewhere = answer(K4, "adopted", proposal=bytes(32))
    other_fed = answer(K5, "adopted", proposal=P, federation=key(9))
    late_dup = a(K1, "rejected", seq=99, ts_ms=deadline + 5)
    answers = [second, late, on_time, outsider, first, elsewhere, other_fed, late_dup, on_time]  # repeat
    counted, refused, totals, result = tally(terms("answering", deadline), ADMITTED, answers)
    # issue 13: K3's assembly missed quorum (no valid decision), so its second answer counts (before, its
    # first answer counted whatever it was, and a council that missed quorum could never answer again)
    assert counted == [on_time, second]
    assert {(r.answer, r.reason) for r in refused} == {
        (late, "late"), (first, "superseded"), (outsider, "not-admitted"),
        (elsewhere, "other-proposal"), (other_fed, "other-proposal"), (late_dup, "late"),
    }  # fmt: skip
    assert totals.refused == 6 and totals.neither == 0 and result == "adopted"  # 2·2 > 2 answering
    # results written before issue 13 replay as they were tallied: the first answer counts
    old = tally(terms("answering", deadline), ADMITTED, answers, answer_again=False)
    assert old[0] == [on_time, first] and (first, "superseded") not in {(r.answer, r.reason) for r in old[1]}
    # a valid decision is final: a later answer is a duplicate; only no_quorum ones, the last counts
    again = a(K3, "no_quorum", seq=9, ts_ms=100)
    counted, refused, _, _ = tally(terms("answering", deadline), ADMITTED, [first, second, again])
    assert counted == [second] and [(r.answer, r.reason) for r in refused] == [
        (first, "superseded"), (again, "duplicate")
    ]  # fmt: skip
    counted, refused, _, _ = tally(terms("answering", deadline), ADMITTED, [first, again])
    assert counted == [again] and [(r.answer, r.reason) for r in refused] == [(first, "superseded")]


def test_lateness_is_judged_by_the_federations_receipt_not_the_councils_clock() -> None:
    """Issue 13: a council one hour slow stamped its answer before the deadline and got it counted."""
    deadline, hour = 10_000, 3_600_000
    slow = replace(a(K1, "rejected", ts_ms=deadline - hour), received_ms=deadline + 1)
    fast = replace(a(K2, "adopted", ts_ms=deadline + hour), received_ms=deadline)  # received at: on time
    counted, refused, totals, result = tally(terms("answering", deadline), ADMITTED, [slow, fast])
    assert counted == [fast] and [(r.answer, r.reason) for r in refused] == [(slow, "late")]
    assert result == "adopted" and totals.refused == 1
    # the receipt is written into the result, so the federation's log replays the same count
    log = country_federation((K1, K2))
    p = log.run(PublishProposal("fa", "en", log.now + 100, "answering"))
    due = p.body["deadline_ms"]
    late = replace(answer(K1, "rejected", proposal=p.id, ts_ms=due - hour), received_ms=due + 5)
    on_time = replace(answer(K2, "adopted", proposal=p.id, ts_ms=due), received_ms=due - 5)
    log.now = due + 10
    body = log.run(PublishResult(p.id, (late, on_time))).body
    assert body["result"] == "adopted" and body["refused"][0]["received_ms"] == due + 5
    assert replay(log.entries, FED).results[p.id].refused[0].reason == "late"
    # a member redoes it from the councils' decisions, which carry no receipt: the federation's word stands
    retally(body, [Verified(late), Verified(on_time)])
    forged = {**body, "refused": [{**body["refused"][0], "received_ms": due}]}
    with pytest.raises(RuleError) as info:
        retally(forged, [Verified(late), Verified(on_time)])
    assert info.value.rule == "retally.mismatch"  # counted now, yet listed as refused


def test_a_result_waits_for_every_council_or_for_the_grace_and_lists_who_was_not_heard() -> None:
    """Issue 13: a proposal closed before the answers replicated was final with 0 answers."""
    log = country_federation((K1, K2, K3))
    p = log.run(PublishProposal("fa", "en", log.now + 100, "answering", grace_ms=1_000))
    due = p.body["deadline_ms"]
    assert p.body["grace_ms"] == 1_000 and log.state.proposals[p.id].grace_ends_ms == due + 1_000
    yes = answer(K1, "adopted", proposal=p.id, ts_ms=due)
    log.now = due + 999  # the grace runs: K2 and K3 unheard, no result may be written
    log.refuse(PublishResult(p.id, (yes,), not_heard=(K2, K3)), "result.not-heard")
    log.refuse(PublishResult(p.id, (yes,), not_heard=(K4,)), "result.not-heard-unknown")  # not admitted
    log.now = due + 1_000  # the grace ended: written, naming who was not heard
    body = log.run(PublishResult(p.id, (yes,), not_heard=(K3, K2))).body
    assert body["not_heard"] == [K2, K3] and body["result"] == "adopted"
    assert replay(log.entries, FED).results[p.id].body["not_heard"] == [K2, K3]
    retally(body, [Verified(yes)])
    # everyone heard: written at the deadline already, with an empty list
    q = log.run(PublishProposal("fa", "en", log.now + 100, "answering", grace_ms=86_400_000))
    log.now = q.body["deadline_ms"]
    assert log.run(PublishResult(q.id, ())).body["not_heard"] == []
    for bad in (-1, 91 * 86_400_000):
        log.refuse(PublishProposal("fa", "en", log.now + 100, grace_ms=bad), "proposal.bad-grace")


def test_a_proposal_published_before_graces_replays_under_the_old_rules() -> None:
    """A log written before issue 13: no grace on the proposal, no ``not_heard`` on the result, the first
    answer counted whatever its outcome. It replays unchanged; a result mixing the two is refused."""
    log = country_federation((K1, K2))
    drafts = execute(log.state, PublishProposal("fa", "en", log.now + 100), log.now)
    old_body = {k: v for k, v in drafts[0].body.items() if k != "grace_ms"}
    entry = Appended(len(log.entries), hashlib.sha256(b"old").digest(), log.now, "public", old_body)
    apply(log.state, entry)
    log.entries.append(entry)
    proposal = log.state.proposals[entry.id]
    assert proposal.grace_ms is None
    first = answer(K1, "no_quorum", seq=4, proposal=entry.id, ts_ms=proposal.deadline_ms)
    second = answer(K1, "adopted", seq=8, proposal=entry.id, ts_ms=proposal.deadline_ms)
    log.now = proposal.deadline_ms
    body = log.run(PublishResult(entry.id, (first, second))).body
    assert "not_heard" not in body and [c["outcome"] for c in body["counted"]] == ["no_quorum"]
    assert body["refused"][0]["reason"] == "duplicate"
    assert replay(log.entries, FED).results[entry.id].result == "rejected"
    retally(body, [Verified(first), Verified(second)])
    mixed = {**body, "not_heard": [], "through": []}
    with pytest.raises(RuleError) as info:
        apply(replay(log.entries[:-1], FED), replace(log.entries[-1], body=mixed))
    assert info.value.rule == "result.mismatch"


def test_a_continent_counts_the_councils_of_its_country_federations() -> None:
    """Issue 13: a continent federation could not count councils of its country federations, so no
    continent-wide proposal could pass."""
    de, fr = key(0xDE), key(0xF7)
    log = FakeLog()
    log.run(FoundFederation("Federation of Councils, Europe", "continent", "Europe"))
    log.run(Admit(de, "federation", "Germany", "Europe", country="DE"))
    log.run(Admit(fr, "federation", "France", "Europe", country="FR"))
    log.run(council_admit(K5, country="NL", city="Amsterdam"))  # no Dutch federation: admitted directly
    p = log.run(PublishProposal("fa", "en", log.now + 100, "admitted", grace_ms=0))
    due = p.body["deadline_ms"]
    through = ((de, frozenset({K1, K2})), (fr, frozenset({K3})))
    answers = tuple(answer(k, "adopted", proposal=p.id, ts_ms=due) for k in (K1, K2, K3))
    log.now = due
    log.refuse(PublishResult(p.id, answers, through=through[:1]), "result.through")  # France left out
    extra = (*through, (key(0x99), frozenset({K4})))
    log.refuse(PublishResult(p.id, answers, through=extra), "result.through")  # not a member federation
    body = log.run(PublishResult(p.id, answers, through=through)).body
    assert body["admitted"] == sorted([K1, K2, K3, K5]) and body["result"] == "adopted"  # 3 of 4 admitted
    assert body["through"] == [{"federation": de, "councils": [K1, K2]}, {"federation": fr, "councils": [K3]}]
    assert replay(log.entries, FED).results[p.id].totals.admitted == 4
    # anyone holding the members' logs checks the councils listed against their rosters at the deadline
    verify_through(body, {de: frozenset({K1, K2}), fr: frozenset({K3})})
    verify_through(body, {de: frozenset({K1, K2})})  # a log not held says nothing
    with pytest.raises(RuleError) as info:
        verify_through(body, {de: frozenset({K1})})  # K2 was not on Germany's roster at the deadline
    assert info.value.rule == "retally.through"
    retally(body, [Verified(x) for x in answers])
    # before: only the continent's own councils counted, and Germany's answers were refused
    old = tally(Terms(FED, p.id, due, "admitted"), frozenset({K5}), answers)
    assert old[3] == "rejected" and {r.reason for r in old[1]} == {"not-admitted"}


def test_roster_changes_are_the_councils_decisions_and_the_operator_only_executes_them() -> None:
    """Issue 13: one operator admitted, suspended and published everything. Now the first ``founding``
    members are admitted as founders; every later admission, and every suspension or readmission, executes
    a proposal with that action which the member councils adopted, once."""
    log = FakeLog()
    log.run(FoundFederation("Federation of Councils, Germany", "country", "Europe", country="DE", founding=2))
    assert log.entries[0].body["founding"] == 2
    log.run(council_admit(K1))
    log.run(council_admit(K2))
    log.refuse(council_admit(K3), "roster.no-mandate")  # the founders are in
    log.refuse(Suspend(K1, "no minutes", 0), "roster.no-mandate")

    def decided(action: Any, outcome: str = "adopted") -> bytes:
        p = log.run(PublishProposal("fa", "en", log.now + 100, "answering", action=action, grace_ms=0))
        assert p.body["action"] == {"kind": action[0], "member": action[1]}
        log.now = p.body["deadline_ms"]
        votes = tuple(answer(k, outcome, proposal=p.id, ts_ms=log.now, seq=i) for i, k in enumerate((K1, K2)))
        log.run(PublishResult(p.id, votes))
        return p.id

    admit_k3 = decided(("admit", K3))
    log.refuse(replace(council_admit(K4), by=admit_k3), "roster.mandate-other")  # another member
    log.refuse(Suspend(K3, "x", 0, by=admit_k3), "roster.not-admitted")
    done = log.run(replace(council_admit(K3), by=admit_k3))
    assert done.body["by"] == admit_k3 and log.state.is_admitted(K3) and admit_k3 in log.state.executed
    rejected = decided(("suspend", K2), "rejected")
    log.refuse(Suspend(K2, "x", 0, by=rejected), "roster.mandate-not-adopted")
    log.refuse(Suspend(K2, "x", 0, by=bytes(32)), "roster.mandate-unknown")
    suspend_k2 = decided(("suspend", K2))
    log.run(Suspend(K2, "the councils decided", 0, by=suspend_k2))
    log.refuse(Readmit(K2, "x", by=suspend_k2), "roster.mandate-other")
    log.run(Readmit(K2, "the councils decided", by=decided(("readmit", K2))))
    log.refuse(Suspend(K2, "again", 0, by=suspend_k2), "roster.mandate-used")  # executed once
    # not yet adopted: a proposal still open mandates nothing
    p = log.run(PublishProposal("fa", "en", log.now + 100, action=("suspend", K1), grace_ms=0))
    log.refuse(Suspend(K1, "x", 0, by=p.id), "roster.mandate-not-adopted")
    assert replay(log.entries, FED) == log.state
    log.refuse(FoundFederation("F", "continent", "Europe", founding=1), "federation.already-founded")
    fresh = FakeLog()
    fresh.refuse(FoundFederation("F", "continent", "Europe", founding=1001), "federation.bad-founding")
    fresh.run(FoundFederation("F", "continent", "Europe"))
    with pytest.raises(RuleError) as info:
        execute(fresh.state, PublishProposal("fa", "en", fresh.now + 9, action=("expel", K1)), fresh.now)  # type: ignore[arg-type]
    assert info.value.rule == "proposal.bad-action"


def test_answer_rejects_malformed() -> None:
    for bad in (
        {"outcome": "maybe"},
        {"participants": -1},
        {"participants": True},
        {"council": b"short"},
        {"seq": -1},
    ):
        fields: dict[str, Any] = {
            "council": K1, "decision": bytes(32), "proposal": (FED, P), "outcome": "adopted",
            "participants": 1, "ts_ms": 0, "seq": 0, **bad,
        }  # fmt: skip
        with pytest.raises(RuleError) as info:
            Answer(**fields)
        assert info.value.rule == "answer.malformed"


# -- retally ---------------------------------------------------------------------------------------


class Verified:
    """A decision as ``verify_bundle`` returns it (log id, seq, entry id, time, visibility, body)."""

    def __init__(self, ans: Answer, **body: Any) -> None:
        self.log_id, self.seq, self.id, self.ts_ms, self.vis = (
            ans.council,
            ans.seq,
            ans.decision,
            ans.ts_ms,
            "public",
        )
        self.body = {
            "kind": "decision", "motion_kind": "federation", "outcome": ans.outcome,
            "participants": ans.participants, "proposal": list(ans.proposal), **body,
        }  # fmt: skip


def test_retally() -> None:
    log = country_federation((K1, K2, K3))
    p = log.run(PublishProposal("fa", "en", log.now + 100, "weighted")).id
    t = log.now
    answers = [
        answer(K1, "adopted", 12, proposal=p, ts_ms=t),
        answer(K2, "rejected", 9, proposal=p, ts_ms=t),
        answer(K2, "adopted", 50, seq=9, proposal=p, ts_ms=t),
        answer(K4, "adopted", 99, proposal=p, ts_ms=t),
    ]
    log.now += 1_000
    body = log.run(PublishResult(p, tuple(answers))).body
    assert body["result"] == "adopted"
    verified = [Verified(x) for x in answers]
    unrelated = Verified(answer(K3, "adopted", proposal=bytes(32)))
    retally(body, [*verified, unrelated])  # answers to other proposals the member holds are ignored
    retally(body, answers)  # Answers already read are accepted too

    def fails(result: dict[str, Any], given: list[Any], rule: str) -> None:
        with pytest.raises(RuleError) as info:
            retally(result, given)
        assert info.value.rule == rule, info.value

    fails(body, verified[:-1], "retally.unverified")
    fails(body, [*verified, Verified(answer(K3, "rejected", 500, proposal=p, ts_ms=t))], "retally.omitted")
    fails({**body, "result": "rejected"}, verified, "retally.mismatch")
    fails({**body, "totals": {**body["totals"], "participants_adopted": 13}}, verified, "retally.mismatch")
    fails({**body, "admitted": [K1, K2, K3, K4]}, verified, "retally.mismatch")  # K4 would count
    # a decision that says something else than the result lists
    bent = [Verified(answers[0], outcome="rejected"), *verified[1:]]
    fails(body, bent, "retally.unverified")
    fails(body, [Verified(answers[0], motion_kind="policy"), *verified[1:]], "answer.not-federation")
    fails({**body, "extra": 1}, verified, "entry.malformed")
