"""A federation body's public routes over real HTTP, with a real federation of councils (issue 15): its
proposals newest first and a page at a time, one proposal with each council's answer, who was not heard and
the signed result, each council's delegates; every refusal named; no member's name or contact anywhere."""

from __future__ import annotations

import json
from typing import Any

from protocol import codec
from tests.conftest import NodeFactory, RunningNode
from tests.node.federated import MEMBERS, SECRET, federation
from tests.node.test_federation_admin import b64


async def get(node: RunningNode, path: str, params: dict[str, str] | None = None) -> tuple[int, Any]:
    async with node.session.get(node.url + path, params=params) as response:
        return response.status, await response.json()


async def refused(
    node: RunningNode, path: str, params: dict[str, str] | None, status: int, code: str
) -> None:
    got, body = await get(node, path, params)
    assert (got, body.get("error")) == (status, code), (path, params, got, body)
    assert set(body) == {"error", "message"} and body["message"]


async def test_proposals_answers_results_and_delegates_are_public(start_node: NodeFactory) -> None:
    f = await federation(start_node)
    fed, toronto, montreal = f.fed, f.toronto, f.montreal
    closed, still_open = codec.b64u(f.closed), codec.b64u(f.open)

    status, listed = await get(fed, "/v1/federation/proposals")
    assert status == 200 and listed["total"] == 2 and listed["federation"] == b64(fed)
    assert [p["proposal_id"] for p in listed["proposals"]] == [still_open, closed]  # newest first
    newest, oldest = listed["proposals"]
    assert (newest["status"], newest["result"]) == ("open", None)
    assert oldest["status"] == "closed" and oldest["text_en"] == "A four-day week"
    assert oldest["result"]["result"] == "adopted" and oldest["result"]["totals"]["adopted"] == 1
    # a page at a time
    status, page = await get(fed, "/v1/federation/proposals", {"limit": "1", "offset": "1"})
    assert [p["proposal_id"] for p in page["proposals"]] == [closed] and page["total"] == 2
    status, page = await get(fed, "/v1/federation/proposals", {"offset": "2"})
    assert status == 200 and page["proposals"] == []

    status, shown = await get(fed, f"/v1/federation/proposals/{closed}")
    assert status == 200
    [answer] = shown["answers"]
    assert (answer["council"], answer["name"], answer["name_fa"]) == (
        b64(toronto),
        "Toronto Council",
        "شورای تورنتو",
    )
    assert answer["outcome"] == "adopted" and answer["participants"] == 3
    assert answer["received_ms"] <= shown["deadline_ms"]  # received by the federation before the deadline
    assert answer["verify_url"] == f"{toronto.url}/decision?id={answer['decision']}"
    async with fed.session.get(f"{toronto.url}/v1/decisions/{answer['decision']}/bundle") as response:
        assert response.status == 200  # the answer's bundle, where the link says
    result = shown["result"]
    assert [u["council"] for u in result["not_heard"]] == [b64(montreal)]
    assert result["not_heard"][0]["name"] == "Montreal Council"
    assert sorted(a["council"] for a in result["admitted"]) == sorted([b64(toronto), b64(montreal)])
    assert shown["refused"] == [] and result["through"] == []
    # the signed result: its entry in the federation's log, its inclusion proof, the checkpoint
    entry = result["entry"]
    assert entry["log_id"] == b64(fed)
    status, entries = await get(fed, result["verify"]["entry"])
    [served] = entries["entries"]
    assert status == 200 and served["id"] == entry["entry_id"] and served["seq"] == entry["seq"]
    body = codec.decode(codec.unb64u(served["body"]))
    assert body["kind"] == "proposal/result" and body["result"] == "adopted"
    assert body["record"]["entry"] == codec.unb64u(oldest["result"]["result_id"])  # the twin of the result
    status, proof = await get(fed, result["verify"]["inclusion"])
    assert status == 200 and proof["leaf_index"] == entry["seq"]
    assert (await get(fed, result["verify"]["checkpoint"]))[0] == 200

    status, shown = await get(fed, f"/v1/federation/proposals/{still_open}")
    assert status == 200 and shown["status"] == "open" and shown["result"] is None
    assert [(a["council"], a["outcome"]) for a in shown["answers"]] == [(b64(toronto), "rejected")]

    status, delegates = await get(fed, "/v1/federation/delegates")
    assert status == 200
    by_council = {c["council"]: c for c in delegates["councils"]}
    mandate = by_council[b64(toronto)]
    assert (mandate["name"], mandate["country"], mandate["continent"]) == (
        "Toronto Council",
        "CA",
        "North America",
    )
    assert [(d["decision"], d["seat"]) for d in mandate["delegates"]] == [(f.delegate["decision_id"], 0)]

    # public data only: no member's name, contact or (beyond the councils' own decisions) member id
    served_texts = []
    for path in (
        "/v1/federation/proposals",
        f"/v1/federation/proposals/{closed}",
        f"/v1/federation/proposals/{still_open}",
        "/v1/federation/delegates",
        "/v1/federation/summary",
    ):
        async with fed.session.get(fed.url + path) as response:
            served_texts.append(json.loads(await response.read()))
    text = json.dumps(served_texts, ensure_ascii=False)
    for secret in (*MEMBERS, SECRET["name"], SECRET["contact"], "shirin", "Toronto member"):
        assert secret.lower() not in text.lower(), secret
    assert not any(member in json.dumps(delegates) for member in f.member_ids)


async def test_refusals_are_named(start_node: NodeFactory) -> None:
    fed = await start_node(
        "Federation of Canada", kind="federation", level="country", settings={"federation_page_max": 2}
    )
    for published in range(3):
        await fed.operator.call(
            "POST", "/v1/admin/proposals",
            {"text_fa": "پیشنهاد", "text_en": f"Proposal {published}", "deadline": 2**50, "grace_s": 0},
        )  # fmt: skip
    path = "/v1/federation/proposals"
    for name in ("limit", "offset", "before"):
        for bad in ("x", "1.5", str(2**63), "", "-1", codec.b64u(bytes(32))):
            await refused(fed, path, {name: bad}, 400, "bad-parameter")
    await refused(fed, path, {"limit": "0"}, 400, "bad-parameter")
    # a limit above federation_page_max is served as that many
    status, page = await get(fed, path, {"limit": str(2**63 - 1)})
    assert status == 200 and len(page["proposals"]) == 2 and page["total"] == 3
    assert [p["text_en"] for p in page["proposals"]] == ["Proposal 2", "Proposal 1"]
    assert len((await get(fed, path))[1]["proposals"]) == 2  # the default, bounded the same way
    # the cursor: the page after the last one served, older only, however many are published meanwhile
    assert page["next_before"] == page["proposals"][-1]["seq"]
    await fed.operator.call(
        "POST", "/v1/admin/proposals",
        {"text_fa": "پیشنهاد", "text_en": "Proposal 3", "deadline": 2**50, "grace_s": 0},
    )  # fmt: skip
    status, older = await get(fed, path, {"before": str(page["next_before"])})
    assert status == 200 and [p["text_en"] for p in older["proposals"]] == ["Proposal 0"]
    assert older["next_before"] is None and older["total"] == 4
    status, first = await get(fed, path, {"before": str(2**63 - 1), "limit": "1"})
    assert [p["text_en"] for p in first["proposals"]] == ["Proposal 3"] and first["next_before"] is not None
    assert (await get(fed, path, {"before": "0"}))[1]["proposals"] == []
    for bad in ("abc", codec.b64u(bytes(31)), codec.b64u(bytes(33)), "!" * 43):
        await refused(fed, f"{path}/{bad}", None, 400, "bad-proposal-id")
    await refused(fed, f"{path}/{codec.b64u(bytes(32))}", None, 404, "not-found")

    council = await start_node()
    for where in (path, f"{path}/{codec.b64u(bytes(32))}", "/v1/federation/delegates"):
        await refused(council, where, None, 404, "wrong-kind-of-node")
