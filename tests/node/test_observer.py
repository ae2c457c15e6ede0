"""The observer test (DESIGN.md §6, docs/privacy.md): council-only activity leaves no trace outside the node.

A council and two peers run on 127.0.0.1 port 0, meshed: each replicates and witnesses the others' public
logs. Every public response of every node (logs, checkpoints, entries, proofs, decisions, bundles, board,
node info — and the record's log id asked for by name) and every gossip response a trusted peer's signed
requests get from the council (digests, pulls of every log, the record's included) is snapshotted once the
federation is quiet. Then the council performs 50 council-only actions — joins, attendance, votes, a
council-only motion and its decision — and every node runs its gossip rounds. The second snapshot is
byte-identical to the first: no response says anything happened, how much, or when. A public entry
appended afterwards does change them: the snapshot sees what it should.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from federation.client import SignedClient
from federation.gossip import DIGEST, entries_path
from protocol import codec
from protocol.record import record_log_id
from tests.conftest import NodeFactory, RunningNode

FAST = {"gossip_interval_s": 0.15, "request_timeout_s": 2.0}
MSGPACK = "application/msgpack"
COUNCIL_ONLY_ACTIONS = 50


async def _get(node: RunningNode, path: str, accept: str) -> tuple[int, str, bytes]:
    async with node.session.get(node.url + path, headers={"Accept": accept}) as response:
        return response.status, response.content_type, await response.read()


async def public_snapshot(node: RunningNode, council: RunningNode) -> dict[str, tuple[int, str, bytes]]:
    """Every public response of ``node``: every log it lists, whole, with every proof and bundle."""
    seen: dict[str, tuple[int, str, bytes]] = {}

    async def get(path: str, accept: str = "application/json") -> bytes:
        seen[f"{node.url} {path} [{accept}]"] = answer = await _get(node, path, accept)
        return answer[2]

    for accept in ("application/json", MSGPACK):
        for path in (
            "/v1/node",
            "/v1/logs",
            "/v1/decisions",
            "/v1/board",
            "/v1/delegates",
            "/v1/federation/summary",
        ):
            await get(path, accept)
    hidden = codec.b64u(record_log_id(council.config.node_id))
    for suffix in ("checkpoint", "entries", "proof/inclusion?index=0", "proof/consistency?first=1"):
        await get(f"/v1/logs/{hidden}/{suffix}")  # the record, asked for by its id: no such log
    for log in json.loads(await get("/v1/logs"))["logs"]:
        log_id, size = log["log_id"], log["size"]
        await get(f"/v1/logs/{log_id}/checkpoint")
        await get(f"/v1/logs/{log_id}/checkpoint", "text/plain")
        await get(f"/v1/logs/{log_id}/entries")
        await get(f"/v1/logs/{log_id}/entries", MSGPACK)
        for index in range(size):
            await get(f"/v1/logs/{log_id}/proof/inclusion?index={index}")
        for first in range(1, size + 1):
            await get(f"/v1/logs/{log_id}/proof/consistency?first={first}")
    for decision in json.loads(await get("/v1/decisions"))["decisions"]:
        await get(f"/v1/decisions/{decision['decision_id']}/bundle", MSGPACK)
        await get(f"/v1/decisions/{decision['record_id']}/bundle", MSGPACK)
    return seen


async def gossip_snapshot(council: RunningNode, peer: RunningNode) -> dict[str, tuple[int, str, bytes]]:
    """What the council answers a trusted peer's signed gossip requests: digests, and pulls of every log it
    holds, of the peer's log and of the record (by its id)."""
    client = SignedClient(council.session, council.url, peer.config.root_key(), council.config.node_id)
    seen: dict[str, tuple[int, str, bytes]] = {}

    async def call(method: str, path: str, body: bytes = b"") -> bytes:
        reply = await client.request(method, path, body, content_type=MSGPACK, accept=MSGPACK, check=False)
        seen[f"{method} {path} {body.hex()}"] = (reply.status, "", reply.body)
        return reply.body

    heads = codec.decode(await call("POST", DIGEST, codec.encode({"hash": bytes(32)})))["heads"]
    await call("POST", DIGEST, codec.encode({"buckets": list(range(256))}))
    logs = [log_id for log_id, _, _ in heads] + [record_log_id(council.config.node_id)]
    for log_id in logs:
        for after, limit, first in ((-1, 1000, 0), (-1, 1, 0), (0, 1000, 1)):
            await call("GET", entries_path(log_id, after, limit, first))
    return seen


async def snapshot(
    nodes: list[RunningNode], council: RunningNode, peers: list[RunningNode]
) -> dict[str, tuple[int, str, bytes]]:
    seen: dict[str, tuple[int, str, bytes]] = {}
    for node in nodes:
        seen |= await public_snapshot(node, council)
    for peer in peers:
        seen |= {f"{peer.url} asks {k}": v for k, v in (await gossip_snapshot(council, peer)).items()}
    return seen


async def rounds(*nodes: RunningNode) -> None:
    """A gossip round of every node with every peer, now, and witnessing with it."""
    for node in nodes:
        await node.operator.request("POST", "/v1/admin/sync")


async def quiet(nodes: list[RunningNode], council: RunningNode, peers: list[RunningNode]) -> Any:
    """The snapshot once the federation has nothing left to exchange (logs replicated, checkpoints
    cosigned): two snapshots around a full round of gossip agree."""
    before = await snapshot(nodes, council, peers)
    for _ in range(200):
        await rounds(*nodes)
        after = await snapshot(nodes, council, peers)
        if after == before:
            return after
        before = after
        await asyncio.sleep(0.1)
    raise AssertionError("the federation never became quiet")


async def test_council_only_activity_changes_no_public_or_gossip_response(start_node: NodeFactory) -> None:
    council = await start_node("Observed Council", settings=FAST)
    peers = [await start_node(f"Peer {i}", settings=FAST) for i in range(2)]
    nodes = [council, *peers]
    for a in nodes:
        for b in nodes:
            if a is not b:
                await a.operator.call(
                    "POST", "/v1/admin/peers", {"url": b.url, "key": codec.b64u(b.config.node_id)}
                )
    op = council.operator
    # a public life first: members, an open assembly, a public decision, a census
    founders = [(await op.call("POST", "/v1/admin/members", {"name": n}))["member_id"] for n in "ABC"]
    assembly = (await op.call("POST", "/v1/admin/assemblies", {"agenda": "General assembly"}))["assembly_id"]
    await op.call("POST", f"/v1/admin/assemblies/{assembly}/attend", {"members": founders})
    motion = (await op.call("POST", "/v1/admin/motions", {"text": "Open a kitchen"}))["motion_id"]
    for member in founders:
        await op.call("POST", f"/v1/admin/motions/{motion}/votes", {"member": member, "choice": "yes"})
    await op.call("POST", f"/v1/admin/motions/{motion}/close")
    await op.call("POST", "/v1/admin/census")
    record_before = (await op.call("GET", "/v1/admin/record/checkpoint"))["size"]

    first = await quiet(nodes, council, peers)
    assert len(first) > 100

    # 50 council-only actions: joins, attendance, a council-only motion, votes on it, its decision
    actions = 0
    joined = []
    for i in range(25):
        joined.append((await op.call("POST", "/v1/admin/members", {"name": f"Member {i}"}))["member_id"])
        actions += 1
    for member in joined[:15]:
        await op.call("POST", f"/v1/admin/assemblies/{assembly}/attend", {"members": [member]})
        actions += 1
    hidden = (
        await op.call("POST", "/v1/admin/motions", {"text": "Rent the back room", "visibility": "council"})
    )["motion_id"]
    actions += 1
    for member, choice in zip(joined[:8], ["yes", "no"] * 4, strict=True):
        await op.call("POST", f"/v1/admin/motions/{hidden}/votes", {"member": member, "choice": choice})
        actions += 1
    await op.call("POST", f"/v1/admin/motions/{hidden}/close")
    actions += 1
    assert actions == COUNCIL_ONLY_ACTIONS
    record_after = (await op.call("GET", "/v1/admin/record/checkpoint"))["size"]
    assert record_after >= record_before + COUNCIL_ONLY_ACTIONS  # the record holds every one of them

    await rounds(*nodes)
    second = await snapshot(nodes, council, peers)
    changed = sorted(k for k in first.keys() | second.keys() if first.get(k) != second.get(k))
    assert changed == [], [
        (k, first.get(k, (0, "", b""))[:2], second.get(k, (0, "", b""))[:2]) for k in changed
    ]

    # a public entry does show: the snapshot is not blind
    await op.call("POST", "/v1/admin/census")
    await rounds(*nodes)
    third = await snapshot(nodes, council, peers)
    assert third != second
