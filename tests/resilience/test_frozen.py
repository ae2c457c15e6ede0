"""Issue 11, item 6: a frozen log answers 409 ``log-frozen`` on every route that serves it.

Frozen logs still answered 200 on the public entries route; once that was fixed, the checkpoint, the two
proof routes and the decision bundle still served a log the node holds proof of a fork of, each a view of
one of its two histories, as if it were the only one. The fork is made as an operator who serves one folder
twice would make it: one root key, two faces, each appending its own motion at the same seq, and an honest
peer witnessing both.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from protocol import codec
from tests.conftest import NodeFactory, RunningNode
from tests.federation.test_nodes import FAST, appends, b64, connect, converged, decide, heads, snapshot, until

MSGPACK = "application/msgpack"


def log_routes(log_id: str) -> list[str]:
    """Every public route that serves the content of one log (docs/http.md, "Public read API")."""
    base = f"/v1/logs/{log_id}"
    return [
        f"{base}/checkpoint",
        f"{base}/entries?after_seq=-1&limit=10",
        f"{base}/proof/inclusion?index=0&size=2",
        f"{base}/proof/consistency?first=1&second=2",
    ]


async def refusal(node: RunningNode, path: str) -> tuple[int, str]:
    async with node.session.get(node.url + path, headers={"Accept": "application/json"}) as answer:
        body = await answer.json() if answer.content_type == "application/json" else {}
        return answer.status, str(body.get("error", ""))


async def frozen(node: RunningNode, log_id: str) -> bool:
    return bool((await heads(node)).get(log_id, (0, "", None, None))[3])


@pytest.mark.parametrize("attack", ["forked_log_still_served"], ids=lambda a: a)
async def test_a_frozen_log_is_refused_409_on_every_route_that_serves_it(
    start_node: NodeFactory, tmp_path: Path, attack: str
) -> None:
    origin = await start_node("Two-faced Council", settings=FAST)
    honest = await start_node("Honest Council", settings=FAST)
    await connect(origin, honest)
    decision = await decide(origin, "Before the fork")
    await until(lambda: converged([origin, honest]), "the honest node holds the log before the fork")
    log_id = b64(origin)
    for path in log_routes(log_id):  # served while the log is whole
        status, _ = await refusal(honest, path)
        assert status == 200, path
    face = await start_node(directory=snapshot(origin, tmp_path / "face"), settings=FAST)
    # the face appends only once it has asked its peers whether one holds more of its own log (none does yet)
    await until(lambda: appends(face), "the face's start-up check with its peers concludes")
    await asyncio.gather(
        origin.operator.call("POST", "/v1/admin/motions", {"text": "Face one: buy a printer"}),
        face.operator.call("POST", "/v1/admin/motions", {"text": "Face two: sell the printer"}),
    )
    await until(lambda: frozen(honest, log_id), "the honest node holds the fork proof")
    for path in log_routes(log_id):
        assert await refusal(honest, path) == (409, "log-frozen"), path
    listed = (await heads(honest))[log_id]
    assert listed[3], "the listing still names the log, and says it is frozen"

    # the forked council's own node learns the proof too: its own log and its decisions' bundles are refused
    await until(lambda: frozen(origin, log_id), "the two-faced council's node holds the proof of its own log")
    for path in [*log_routes(log_id), f"/v1/decisions/{decision}/bundle"]:
        assert await refusal(origin, path) == (409, "log-frozen"), path
    assert codec.unb64u(log_id, 32) == origin.config.node_id
