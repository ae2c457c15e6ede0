"""Issue 13, item 6, over real nodes: a federation judges lateness by its own receipt, closes a proposal only
once every admitted council was heard from past the deadline (or a stated grace ended), and lets a council
whose assembly had no valid decision answer again; a council's assembly mandates and recalls its delegates,
and the federation shows them.

Councils here are ``Hostile`` peers (``tests/federation/test_nodes.py``): their entries carry whatever time
the test writes, which is exactly a council whose clock is wrong.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from federation.client import RemoteError, SignedClient
from federation.routes import ADD_CHECKPOINT
from federation.witness.text import encode_add_checkpoint
from node.storage.clock import now_ms
from protocol import codec
from protocol.entry import sign_entry
from tests.conftest import NodeFactory, RunningNode
from tests.federation.test_federation_e2e import (
    FAST,
    admit_when_applied,
    council_of,
    federation_node,
    own_size,
    rounds,
)
from tests.federation.test_nodes import Hostile, heads, hostile, until
from tests.node.test_cli import shora
from tests.node.test_federation_admin import answer, apply_to, b64

__all__ = ["hostile"]  # the fixture
HOUR = 3_600_000


async def admit_directly(fed: RunningNode, councils: list[Hostile]) -> None:
    for n, bad in enumerate(councils):
        await fed.operator.call(
            "POST", "/v1/admin/roster/admit",
            {"member": codec.b64u(bad.id), "name": f"Council {n}", "city": f"City {n}", "country": "CA",
             "continent": "North America", "url": bad.url, "reason": "founding member"},
        )  # fmt: skip


async def publish(fed: RunningNode, deadline_ms: int, **extra: Any) -> bytes:
    published = await fed.operator.call(
        "POST", "/v1/admin/proposals",
        {"text_fa": "پیشنهاد", "text_en": "A four-day week", "deadline": deadline_ms, "rule": "answering",
         **extra},
    )  # fmt: skip
    return codec.unb64u(published["proposal_id"], 32)


async def past(deadline_ms: int) -> None:
    async def passed() -> bool:
        return now_ms() > deadline_ms

    await until(passed, "the deadline passes")


async def holds(fed: RunningNode, council: Hostile) -> bool:
    await rounds(fed)
    return (await heads(fed)).get(codec.b64u(council.id), (0,))[0] == len(council.entries)


async def test_a_council_one_hour_slow_cannot_get_a_late_answer_counted(
    start_node: NodeFactory, hostile: Any
) -> None:
    fed = await federation_node(start_node, "Federation of Councils of Canada", level="country")
    slow = await hostile(21)
    await admit_directly(fed, [slow])
    deadline = now_ms() + 500
    pid = await publish(fed, deadline)
    me = fed.config.node_id
    await past(deadline)
    # decided after the deadline by the federation's clock, stamped an hour before it by the council's
    slow.sign(1)
    answer_at(slow, me, pid, "adopted", 7, deadline - HOUR)
    await until(lambda: holds(fed, slow), "the federation holds the slow council's answer")
    closed = await fed.operator.call("POST", f"/v1/admin/proposals/{codec.b64u(pid)}/close")
    result = closed["result"]
    assert result["counted"] == [] and [r["reason"] for r in result["refused"]] == ["late"]
    refused = result["refused"][0]
    assert refused["ts_ms"] == deadline - HOUR and refused["received_ms"] > deadline
    assert result["result"] == "tied" and result["totals"]["answered"] == 0


def answer_at(bad: Hostile, federation: bytes, proposal: bytes, outcome: str, people: int, ts: int) -> None:
    """``bad`` appends a public decision answering ``proposal``, stamped ``ts`` by its own clock."""
    body = {
        "kind": "decision", "motion": bytes(32), "motion_kind": "federation", "text": "Answer",
        "outcome": outcome, "participants": people, "proposal": [federation, proposal],
    }  # fmt: skip
    seq = len(bad.entries)
    prev = bad.entries[-1].id if bad.entries else None
    entry = sign_entry(bad.key, log_id=bad.id, seq=seq, prev=prev, ts_ms=ts, vis="public", body=body)
    bad.entries.append(entry)
    bad.tree.append(entry.id)


QUIET = {"gossip_interval_s": 3600.0, "request_timeout_s": 2.0}  # rounds only when the test syncs


async def witnessed(fed: RunningNode, bad: Hostile) -> int:
    """``bad`` asks ``fed`` to cosign its newest checkpoint, as a council's node does after each append."""
    body = encode_add_checkpoint(0, [], bad.note(len(bad.entries)))
    client = SignedClient(fed.session, fed.url, bad.key, fed.config.node_id)
    reply = await client.request(
        "POST", ADD_CHECKPOINT, body, content_type="text/plain", accept="text/plain", check=False
    )
    return reply.status


async def close(fed: RunningNode, pid: bytes) -> dict[str, Any]:
    value: dict[str, Any] = await fed.operator.call("POST", f"/v1/admin/proposals/{codec.b64u(pid)}/close")
    return value


async def test_a_proposal_closes_only_when_every_council_was_heard_or_its_grace_ended(
    start_node: NodeFactory, hostile: Any
) -> None:
    fed = await start_node("Federation of Canada", kind="federation", level="country", settings=QUIET)
    early, silent = await hostile(31), await hostile(32)
    await admit_directly(fed, [early, silent])
    me = fed.config.node_id
    deadline = now_ms() + 4000
    pid = await publish(fed, deadline, grace_s=3600)
    early.sign(1)
    answer_at(early, me, pid, "adopted", 5, now_ms())
    # the federation cosigns early's checkpoint before the deadline: the answer is received, not replicated
    assert await witnessed(fed, early) == 200
    await past(deadline)
    before = await own_size(fed)
    with pytest.raises(RemoteError) as caught:
        await close(fed, pid)
    assert (caught.value.status, caught.value.code) == (422, "result.not-heard")
    assert "Council 0" in caught.value.message and "Council 1" in caught.value.message
    assert await own_size(fed) == before  # nothing written: the proposal is not final with 0 answers

    await rounds(fed)  # both heard from since the deadline; early's answer replicated
    result = (await close(fed, pid))["result"]
    assert [(c["council"], c["outcome"]) for c in result["counted"]] == [(codec.b64u(early.id), "adopted")]
    assert result["counted"][0]["received_ms"] <= deadline  # by the witness's cosignature
    assert result["not_heard"] == [] and result["result"] == "adopted"

    # no grace, nobody heard since the deadline: the result is written at once and names them
    deadline = now_ms() + 300
    pid = await publish(fed, deadline, grace_s=0)
    await past(deadline)
    result = (await close(fed, pid))["result"]
    assert sorted(u["council"] for u in result["not_heard"]) == sorted(
        codec.b64u(c.id) for c in (early, silent)
    )
    assert {u["name"] for u in result["not_heard"]} == {"Council 0", "Council 1"}
    assert result["counted"] == [] and result["result"] == "tied"
    for grace in (-1, "1h", 10**9):
        with pytest.raises(RemoteError) as caught:
            await publish(fed, now_ms() + 9000, grace_s=grace)
        assert (caught.value.status, caught.value.code) == (400, "bad-field")


async def test_a_continent_wide_proposal_passes_by_the_councils_of_its_country_federations(
    start_node: NodeFactory,
) -> None:
    """Issue 13: a continent federation could not count the councils of its country federations, so no
    continent-wide proposal could pass. Europe (continent) → Germany (country) → Berlin, Hamburg."""
    europe = await federation_node(
        start_node, "Federation of Councils — Europe", level="continent", continent="Europe"
    )
    germany = await start_node(
        "Federation of Councils — Germany", kind="federation", level="country", country="DE",
        continent="Europe", settings=FAST, federation=(europe.url, europe.config.node_id),
    )  # fmt: skip
    berlin, hamburg = [
        await council_of(start_node, germany, city, country="DE", continent="Europe")
        for city in ("Berlin", "Hamburg")
    ]
    await admit_when_applied(europe, [germany])
    await admit_when_applied(germany, [berlin, hamburg])
    deadline = now_ms() + 8000  # time for two assemblies to answer and Germany to relay their logs
    pid = await publish(europe, deadline, rule="admitted", grace_s=3600)
    ref = f"{codec.b64u(europe.config.node_id)}:{codec.b64u(pid)}"
    decided = await asyncio.gather(answer(berlin, 3, "yes", [ref]), answer(hamburg, 2, "yes", [ref]))
    assert [d[0]["outcome"] for d in decided] == ["adopted", "adopted"]
    await past(deadline)

    closed: list[dict[str, Any]] = []

    async def europe_closes() -> bool:
        await rounds(europe, germany)
        try:
            closed.append(await close(europe, pid))
        except RemoteError as exc:
            assert exc.code == "result.not-heard", exc  # until Germany's relay was heard past the deadline
            return False
        return True

    await until(europe_closes, "Europe hears from every council through Germany and closes")
    result = closed[0]["result"]
    # listed in the order of the ids' bytes, as the result body sorts them (not of their base64url text)
    councils = [codec.b64u(node_id) for node_id in sorted(c.config.node_id for c in (berlin, hamburg))]
    germany_id, named = codec.b64u(germany.config.node_id), "Federation of Councils — Germany"
    assert result["through"] == [{"federation": germany_id, "name": named, "councils": councils}], result
    assert sorted(result["admitted"]) == sorted(councils) and result["not_heard"] == []
    assert sorted(c["council"] for c in result["counted"]) == sorted(councils)
    assert all(c["received_ms"] <= deadline for c in result["counted"])
    assert result["result"] == "adopted" and result["totals"]["admitted"] == 2  # two of two admitted


async def test_the_operator_executes_only_what_the_councils_adopted(start_node: NodeFactory) -> None:
    """Issue 13: one operator admitted, suspended and published everything. A federation founded with one
    founding member: the operator admits it alone; every later roster change executes an adopted proposal."""
    fed = await start_node(
        "Federation of Canada", kind="federation", level="country", settings=FAST, founding=1
    )
    toronto, montreal = [
        await start_node(f"{city} Council", city=city, settings=FAST) for city in ("Toronto", "Montreal")
    ]
    for council in (toronto, montreal):
        apply_to(fed, council)
        await council.operator.call("POST", "/v1/admin/peers", {"url": fed.url, "key": b64(fed)})
    op = fed.operator
    await op.call("POST", "/v1/admin/roster/admit", {"member": b64(toronto), "reason": "founding member"})

    async def refused(path: str, body: dict[str, Any], code: str) -> None:
        before = await own_size(fed)
        with pytest.raises(RemoteError) as caught:
            await op.call("POST", path, body)
        assert (caught.value.status, caught.value.code) == (422, code), caught.value
        assert await own_size(fed) == before  # nothing written

    await refused(
        "/v1/admin/roster/admit", {"member": b64(montreal), "reason": "applied"}, "roster.no-mandate"
    )
    await refused("/v1/admin/roster/suspend", {"member": b64(toronto), "reason": "x"}, "roster.no-mandate")

    deadline = now_ms() + 6000  # time for Toronto's assembly to answer and the federation to receive it
    pid = await publish(fed, deadline, action={"kind": "admit", "member": b64(montreal)[:10]}, grace_s=3600)
    shown = await op.call("GET", f"/v1/admin/proposals/{codec.b64u(pid)}")
    assert shown["action"] == {"kind": "admit", "member": b64(montreal)} and shown["executed"] is False
    by = {"member": b64(montreal), "reason": "the councils decided", "by": codec.b64u(pid)}
    await refused("/v1/admin/roster/admit", by, "roster.mandate-not-adopted")  # not yet decided
    ref = f"{b64(fed)}:{codec.b64u(pid)}"
    assert (await answer(toronto, 3, "yes", [ref]))[0]["outcome"] == "adopted"
    await past(deadline)
    closed: list[dict[str, Any]] = []

    async def closes() -> bool:
        await rounds(fed)
        try:
            closed.append(await close(fed, pid))
        except RemoteError as exc:
            assert exc.code == "result.not-heard", exc
            return False
        return True

    await until(closes, "the federation hears from Toronto and closes the proposal")
    assert closed[0]["result"]["result"] == "adopted"
    admitted = await op.call("POST", "/v1/admin/roster/admit", by)
    assert admitted["member"] == b64(montreal)
    assert (await op.call("GET", f"/v1/admin/proposals/{codec.b64u(pid)}"))["executed"] is True
    roster = (await op.call("GET", "/v1/admin/roster"))["members"]
    assert [m["member"] for m in roster] == [b64(toronto), b64(montreal)]


TORONTO_MEMBERS = [f"Toronto member {i}" for i in range(3)]


async def founded_with_toronto(start_node: NodeFactory) -> tuple[RunningNode, RunningNode]:
    """A federation founded with one member, Toronto, admitted by its operator; Toronto's three members sit
    in an open assembly."""
    fed = await start_node(
        "Federation of Canada", kind="federation", level="country", settings=FAST, founding=1
    )
    toronto = await start_node("Toronto Council", city="Toronto", settings=FAST)
    apply_to(fed, toronto)
    await toronto.operator.call("POST", "/v1/admin/peers", {"url": fed.url, "key": b64(fed)})
    await fed.operator.call(
        "POST", "/v1/admin/roster/admit", {"member": b64(toronto), "reason": "founding member"}
    )
    op = toronto.operator
    for name in TORONTO_MEMBERS:
        await op.call("POST", "/v1/admin/members", {"name": name})
    await op.call("POST", "/v1/admin/assemblies", {"agenda": "Toronto and its federation"})
    await op.call("POST", "/v1/admin/assemblies/current/attend", {"members": TORONTO_MEMBERS})
    return fed, toronto


async def decide(council: RunningNode, choice: str, motion: dict[str, Any]) -> dict[str, Any]:
    """Propose ``motion`` to the open assembly, every member votes ``choice``, close: the decision."""
    op = council.operator
    proposed = await op.call("POST", "/v1/admin/motions", motion)
    for name in TORONTO_MEMBERS:
        await op.call(
            "POST", f"/v1/admin/motions/{proposed['motion_id']}/votes", {"member": name, "choice": choice}
        )
    value: dict[str, Any] = await op.call("POST", f"/v1/admin/motions/{proposed['motion_id']}/close")
    return value


async def test_a_council_mandates_and_recalls_its_delegate_and_the_federation_shows_it(
    start_node: NodeFactory,
) -> None:
    """Issue 13: a council's delegates hold their mandate from its assembly; the federation lists them from
    the council's public decisions after gossip, and a recalled one disappears."""
    fed, toronto = await founded_with_toronto(start_node)
    op = toronto.operator

    async def decided(kind: str, **fields: Any) -> dict[str, Any]:
        return await decide(toronto, "yes", {"kind": kind, "text": kind, **fields})

    before = await own_size(toronto)
    with pytest.raises(RemoteError) as caught:  # a delegate is mandated in public, or not at all
        secret = {"text": "secret", "candidates": [TORONTO_MEMBERS[0]], "visibility": "council"}
        await op.call("POST", "/v1/admin/motions", {"kind": "delegate", **secret})
    assert (caught.value.status, caught.value.code) == (422, "delegate.public")
    assert await own_size(toronto) == before

    before = await own_size(toronto)
    with pytest.raises(RemoteError) as caught:  # a delegate stands only with their consent (issue 13)
        await decided("delegate", candidates=[TORONTO_MEMBERS[0]])
    assert (caught.value.status, caught.value.code) == (422, "candidate.no-consent")
    assert await own_size(toronto) == before  # nothing stored
    await op.call("POST", "/v1/admin/assemblies/current/consent", {"member": TORONTO_MEMBERS[0]})
    mandate = await decided("delegate", candidates=[TORONTO_MEMBERS[0]])
    assert mandate["outcome"] == "adopted" and len(mandate["delegates"]) == 1
    own = (await op.call("GET", "/v1/delegates"))["delegates"]
    assert [d["decision"] for d in own] == [mandate["decision_id"]]
    listed = (await asyncio.to_thread(shora, "delegates", home=toronto.dir)).stdout
    assert "1 delegate" in listed and TORONTO_MEMBERS[0] in listed  # by name, on the council's own node

    async def shown() -> list[dict[str, Any]]:
        await rounds(fed)
        async with fed.session.get(f"{fed.url}/v1/federation/councils/{b64(toronto)}") as response:
            if response.status != 200:
                return [{"not yet": response.status}]
            delegates: list[dict[str, Any]] = (await response.json())["delegates"]
            return delegates

    async def mandated() -> bool:
        return await shown() == [{"decision": mandate["decision_id"], "seat": 0}]

    await until(mandated, "the federation lists Toronto's delegate from its public decision")
    before = await own_size(toronto)
    with pytest.raises(RemoteError) as caught:  # only a sitting delegate is recalled
        await op.call(
            "POST",
            "/v1/admin/motions",
            {"kind": "delegate-recall", "text": "x", "target": TORONTO_MEMBERS[1]},
        )
    assert (caught.value.status, caught.value.code) == (422, "delegate.not-sitting")
    assert await own_size(toronto) == before

    recall = await decided("delegate-recall", target=TORONTO_MEMBERS[0])
    assert recall["outcome"] == "adopted" and len(recall["delegates_ended"]) == 1
    assert (await op.call("GET", "/v1/delegates"))["delegates"] == []

    async def recalled() -> bool:
        return await shown() == []

    await until(recalled, "the recalled delegate disappears from the federation's view")


async def test_a_council_only_removal_of_a_delegate_ends_the_mandate_in_public(
    start_node: NodeFactory,
) -> None:
    """Issue 13: a delegate removed from the council by a council-only motion is no delegate any more; the
    removal stays council-only, but a public delegate/left follows its decision, so the federation's
    aggregate drops the mandate (before, the federation kept listing a delegate who was not a member)."""
    fed, toronto = await founded_with_toronto(start_node)
    op = toronto.operator
    delegate = TORONTO_MEMBERS[0]
    await op.call("POST", "/v1/admin/assemblies/current/consent", {"member": delegate})
    mandated_by = {"kind": "delegate", "text": "our delegate", "candidates": [delegate]}
    mandate = await decide(toronto, "yes", mandated_by)
    seen = f"{fed.url}/v1/federation/councils/{b64(toronto)}"

    async def listed() -> list[dict[str, Any]] | None:
        await rounds(fed)
        async with fed.session.get(seen) as response:
            return (await response.json())["delegates"] if response.status == 200 else None

    async def mandated() -> bool:
        return await listed() == [{"decision": mandate["decision_id"], "seat": 0}]

    await until(mandated, "the federation lists Toronto's delegate")
    removal = {"kind": "removal", "text": "broke the charter", "target": delegate, "visibility": "council"}
    removed = await decide(toronto, "yes", removal)
    assert removed["outcome"] == "adopted" and len(removed["delegates_ended"]) == 1
    assert (await op.call("GET", "/v1/delegates"))["delegates"] == []
    async with toronto.session.get(f"{toronto.url}/v1/logs/{b64(toronto)}/entries?limit=1000") as answer:
        served = (await answer.json())["entries"]
    public = [codec.decode(codec.unb64u(e["body"])) for e in served if "body" in e]
    ends = [p for p in public if p.get("kind") == "delegate/left"]
    member = codec.unb64u(mandate["delegates"][0]["member"])
    assert [(e["member"], e["decision"], e["seat"]) for e in ends] == [
        (member, codec.unb64u(mandate["decision_id"]), 0)
    ]
    # the removal itself is not in the public log: no public decision names its motion
    assert not [p for p in public if p.get("kind") == "decision" and p.get("motion_kind") == "removal"]

    async def dropped() -> bool:
        return await listed() == []

    await until(dropped, "the federation drops the removed delegate's mandate")


async def test_a_council_requests_a_proposal_and_the_federation_publishes_it_on_that_request(
    start_node: NodeFactory,
) -> None:
    """Issue 13: a council's assembly asks its federation for a proposal; the federation lists the request
    from the council's public log, and a proposal published on it names it; refusals write nothing."""
    fed, toronto = await founded_with_toronto(start_node)

    async def decided(choice: str, text: str) -> dict[str, Any]:
        return await decide(toronto, choice, {"kind": "request", "federation": b64(fed), "text": text})

    asked = await decided("yes", "Ask every council: a four-day working week")
    declined = await decided("no", "Ask every council: a six-day week")
    assert asked["outcome"] == "adopted" and asked["federation"] == b64(fed)
    assert declined["outcome"] == "rejected"

    listed: list[dict[str, Any]] = []

    async def both_listed() -> bool:
        await rounds(fed)
        listed[:] = (await fed.operator.call("GET", "/v1/admin/proposals/requests"))["requests"]
        return len(listed) == 2

    await until(both_listed, "the federation lists Toronto's requests from its public log")
    by_text = {r["text"]: r for r in listed}
    request = by_text["Ask every council: a four-day working week"]
    assert request["council"] == b64(toronto) and request["outcome"] == "adopted" and request["admitted"]
    assert request["published_as"] is None
    table = (await asyncio.to_thread(shora, "proposal", "requests", home=fed.dir)).stdout
    assert "a four-day working week" in table and "ADOPTED" in table and "REJECTED" in table
    usage = await asyncio.to_thread(
        shora, "motion", "propose", "current", "--kind", "request", "--text", "?", home=toronto.dir, code=2
    )
    assert "--federation" in usage.stderr
    size = await own_size(toronto)
    with pytest.raises(RemoteError) as caught:  # the federation by its key in full
        await toronto.operator.call(
            "POST", "/v1/admin/motions", {"kind": "request", "federation": b64(fed)[:10], "text": "?"}
        )
    assert (caught.value.status, caught.value.code) == (400, "bad-field")
    assert await own_size(toronto) == size

    async def refused(requested_by: object, code: str, status: int = 422) -> None:
        before = await own_size(fed)
        with pytest.raises(RemoteError) as caught:
            await publish(fed, now_ms() + 60_000, requested_by=requested_by)
        assert (caught.value.status, caught.value.code) == (status, code), caught.value
        assert await own_size(fed) == before  # nothing written

    await refused(request["decision"], "bad-field", 400)  # a list of decision ids
    await refused([], "bad-field", 400)

    rejected = by_text["Ask every council: a six-day week"]["decision"]
    await refused([rejected], "proposal.request-not-adopted")
    await refused([codec.b64u(bytes(32))], "proposal.request-unknown")

    pid = await publish(fed, now_ms() + 60_000, requested_by=[request["decision"][:12]])
    shown = await fed.operator.call("GET", f"/v1/admin/proposals/{codec.b64u(pid)}")
    assert shown["requested_by"] == [
        {"council": b64(toronto), "name": "Toronto Council", "decision": request["decision"]}
    ]
    again = (await fed.operator.call("GET", "/v1/admin/proposals/requests"))["requests"]
    assert {r["decision"]: r["published_as"] for r in again}[request["decision"]] == codec.b64u(pid)
    await refused([request["decision"]], "proposal.request-used")  # one proposal per request
    assert (
        "requested by: Toronto Council"
        in (await asyncio.to_thread(shora, "proposal", "show", codec.b64u(pid)[:8], home=fed.dir)).stdout
    )
