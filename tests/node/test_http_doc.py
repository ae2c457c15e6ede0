"""docs/http.md and the node agree: every parameter of its table is walked against a running node — its
default, its bounds and the refusal it documents — and so are the documented conventions (ids, methods)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from protocol import codec
from tests.conftest import NodeFactory, RunningNode

DOC = (Path(__file__).parents[2] / "docs" / "http.md").read_text()
ROW = re.compile(
    r"^\| `(/v1/[^`]+)` \| `([a-z_]+)` \| ([^|]+) \| (-?\d+) \| ([^|]+) \| ([^|]+) \|$", re.MULTILINE
)
ROWS = ROW.findall(DOC)
# Values the other required parameter of a route takes while one is walked.
BASE = {
    "/v1/logs/{log_id}/proof/inclusion": {"index": "0"},
    "/v1/logs/{log_id}/proof/consistency": {"first": "0"},
}


async def get(node: RunningNode, path: str, params: dict[str, str]) -> tuple[int, Any]:
    async with node.session.get(node.url + path, params=params) as response:
        body = await response.read()
        return response.status, json.loads(body) if response.content_type == "application/json" else body


async def refused(node: RunningNode, path: str, params: dict[str, str], status: int, code: str) -> None:
    got, body = await get(node, path, params)
    assert (got, body["error"]) == (status, code), (path, params, got, body)
    assert set(body) == {"error", "message"} and body["message"]


def test_the_table_lists_every_query_parameter_of_the_code() -> None:
    assert [(route, name) for route, name, *_ in ROWS] == [
        ("/v1/logs/{log_id}/entries", "after_seq"),
        ("/v1/logs/{log_id}/entries", "limit"),
        ("/v1/logs/{log_id}/proof/inclusion", "index"),
        ("/v1/logs/{log_id}/proof/inclusion", "size"),
        ("/v1/logs/{log_id}/proof/consistency", "first"),
        ("/v1/logs/{log_id}/proof/consistency", "second"),
        ("/v1/decisions", "limit"),
    ]
    source = (Path(__file__).parents[2] / "node" / "http" / "routes" / "public.py").read_text()
    assert sorted(set(re.findall(r'int_param\(request, "([a-z_]+)"', source))) == sorted(
        {name for _, name, *_ in ROWS}
    )


async def test_every_documented_parameter_is_bounded_as_documented(start_node: NodeFactory) -> None:
    node = await start_node()
    log_id = codec.b64u(node.config.node_id)
    size = 1  # a fresh council's log: its founding entry
    for route, name, default, least, greatest, refusal in ROWS:
        path = route.replace("{log_id}", log_id)
        base = {k: v for k, v in BASE.get(route, {}).items() if k != name}
        codes = re.findall(r"`([a-z-]+)`", refusal)
        assert "bad-parameter" in codes and refusal.startswith("400"), refusal
        for bad in (str(int(least) - 1), "x", "1.5", str(2**63), ""):
            await refused(node, path, {**base, name: bad}, 400, "bad-parameter")
        status, _ = await get(node, path, {**base, name: least})
        assert status == 200, (route, name, least)
        if default.strip() == "required":
            assert "missing-parameter" in codes
            await refused(node, path, base, 400, "missing-parameter")
        else:
            assert (await get(node, path, base))[0] == 200
        if "bad-range" in codes:  # bounded by the log: one past its documented greatest is out of range
            past = size if greatest.strip() == "size − 1" else size + 1
            await refused(node, path, {**base, name: str(past)}, 400, "bad-range")
        elif name == "limit":  # bounded above by a setting: served, at most that many
            status, body = await get(node, path, {**base, name: str(2**63 - 1)})
            assert status == 200 and len(body.get("entries", body.get("decisions", []))) <= 1000


async def test_documented_conventions(start_node: NodeFactory) -> None:
    node = await start_node()
    log_id = codec.b64u(node.config.node_id)
    for bad_id in ("short", codec.b64u(bytes(31)), codec.b64u(bytes(32)) + "="):
        await refused(node, f"/v1/logs/{bad_id}/checkpoint", {}, 400, "bad-log-id")
        await refused(node, f"/v1/decisions/{bad_id}/bundle", {}, 400, "bad-decision-id")
    await refused(node, f"/v1/logs/{codec.b64u(bytes(32))}/entries", {}, 404, "not-found")
    await refused(node, f"/v1/decisions/{codec.b64u(bytes(32))}/bundle", {}, 404, "not-found")
    await refused(node, "/v1/nothing-here", {}, 404, "not-found")
    async with node.session.post(node.url + f"/v1/logs/{log_id}/checkpoint") as response:
        assert response.status == 405 and (await response.json())["error"] == "method-not-allowed"
    async with node.session.head(node.url + "/v1/node") as response:
        assert response.status == 200
    async with node.session.get(
        node.url + f"/v1/logs/{log_id}/checkpoint", headers={"Accept": "text/plain"}
    ) as response:
        assert response.content_type == "text/plain" and response.charset == "utf-8"
        assert (await response.text()).startswith("shora/" + log_id + "\n1\n")
    federation = await start_node("Federation of Canada", kind="federation")
    for route in re.findall(r"^### `GET (/v1/[a-z/{}_]+)", DOC, flags=re.MULTILINE):
        if "decision_id" in route or "proposal_id" in route:
            continue  # a fresh node has no decision to bundle (test_api.py bundles one), no proposal
        # a federation body's routes (test_federation_public.py walks them with a federation's data)
        served_by = federation if route.startswith("/v1/federation/") else node
        status, _ = await get(served_by, route.replace("{log_id}", log_id), BASE.get(route, {}))
        assert status == 200, route
