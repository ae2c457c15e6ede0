"""Replication between real nodes: aiohttp servers on 127.0.0.1 port 0, each with its own folder and SQLite file.

Nodes are connected with ``POST /v1/admin/peers`` both ways and gossip every ``FAST["gossip_interval_s"]``
(± 50 %); every wait polls its condition under a bounded deadline (``until``), never a fixed sleep.
Attacks come from ``Hostile``, a tiny aiohttp server with a key of its own that signs its requests correctly
and serves whatever pages a test makes it serve.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from federation.client import RemoteError, SignedClient
from federation.gossip import DIGEST, entries_path
from federation.replica import Page
from federation.transport import HttpTransport, Reply
from node import config as cfg
from protocol import codec
from protocol.bundle import verify_bundle
from protocol.entry import Entry, sign_entry
from protocol.httpsig import encode_nonce, sign_request
from protocol.keys import PublicKey, SigningKey
from protocol.merkle import MemoryTree
from protocol.note import Checkpoint, log_origin, open_checkpoint, parse_vkey, sign_checkpoint
from tests.conftest import RunningNode, stop_node
from tests.node.test_privacy import PEOPLE, hits, run_assembly, stored_entries

FAST = {"gossip_interval_s": 0.15, "request_timeout_s": 2.0}
DEADLINE_S = 20.0
MSGPACK = "application/msgpack"


# --- helpers -----------------------------------------------------------------------------------------------


async def until(condition: Callable[[], Awaitable[bool]], what: str, deadline_s: float = DEADLINE_S) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``deadline_s``."""
    end = time.monotonic() + deadline_s
    while not await condition():
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline_s} s: {what}")
        await asyncio.sleep(0.05)


def b64(node: RunningNode) -> str:
    return codec.b64u(node.config.node_id)


async def peer(a: RunningNode, b: RunningNode, url: str | None = None) -> None:
    """``a`` trusts ``b`` at ``url`` (default: where ``b`` answers)."""
    await a.operator.call("POST", "/v1/admin/peers", {"url": url or b.url, "key": b64(b)})


async def connect(*nodes: RunningNode) -> None:
    """Every pair of ``nodes`` trusts each other (a mesh)."""
    await asyncio.gather(*(peer(a, b) for a in nodes for b in nodes if a is not b))


async def heads(node: RunningNode) -> dict[str, tuple[int, str, str | None, str | None]]:
    """GET /v1/logs: log id -> (size, root, checkpoint note, frozen)."""
    async with node.session.get(node.url + "/v1/logs") as response:
        assert response.status == 200
        logs = (await response.json())["logs"]
    return {log["log_id"]: (log["size"], log["root"], log["note"], log["frozen"]) for log in logs}


async def peers_of(node: RunningNode) -> dict[str, dict[str, Any]]:
    answer = await node.operator.call("GET", "/v1/admin/peers")
    return {p["node_id"]: p for p in answer["peers"]} | {"": {"blocked": answer["blocked"]}}


async def decide(node: RunningNode, text: str, visibility: str = "public") -> str:
    """A motion adopted in the node's open assembly (three members and an assembly are made the first time)."""
    op = node.operator
    assemblies = (await op.call("GET", "/v1/admin/assemblies"))["assemblies"]
    if not any(a["open"] for a in assemblies):
        names = ["Ava", "Babak", "Chris"]
        for name in names:
            await op.call("POST", "/v1/admin/members", {"name": name})
        await op.call("POST", "/v1/admin/assemblies", {"agenda": "General assembly"})
        await op.call("POST", "/v1/admin/assemblies/current/attend", {"members": names})
    members = [m["member_id"] for m in (await op.call("GET", "/v1/admin/members"))["members"] if m["active"]]
    motion = (await op.call("POST", "/v1/admin/motions", {"text": text, "visibility": visibility}))["motion_id"]
    for member in members[:3]:
        await op.call("POST", f"/v1/admin/motions/{motion}/votes", {"member": member, "choice": "yes"})
    decision = await op.call("POST", f"/v1/admin/motions/{motion}/close")
    assert decision["outcome"] == "adopted"
    return str(decision["decision_id"])


async def converged(nodes: list[RunningNode], logs: list[RunningNode] | None = None) -> bool:
    """Every node holds every log of ``logs`` (default: all nodes) at one size and root."""
    views = await asyncio.gather(*(heads(n) for n in nodes))
    for origin in logs or nodes:
        held = {view.get(b64(origin), (0, "", None, None))[:2] for view in views}
        if len(held) != 1:
            return False
    return True


def rows(node: RunningNode, log_id: bytes) -> list[tuple[int, bytes, str, bytes | None]]:
    conn = sqlite3.connect(f"file:{node.config.database}?mode=ro", uri=True)
    try:
        found = conn.execute(
            "SELECT seq, header, vis, body FROM entries WHERE log_id = ? ORDER BY seq", (log_id,)
        ).fetchall()
    finally:
        conn.close()
    return [(s, bytes(h), v, None if b is None else bytes(b)) for s, h, v, b in found]


def snapshot(node: RunningNode, target: Path) -> Path:
    """A consistent copy of a running node's folder (SQLite's online backup), as an operator's backup."""
    shutil.copytree(
        node.dir, target, ignore=shutil.ignore_patterns(cfg.DATABASE + "*", "serve.addr", "serve.tmp")
    )
    source = sqlite3.connect(node.config.database)
    copy = sqlite3.connect(target / cfg.DATABASE)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    return target


async def sync(node: RunningNode, own: bool = False) -> list[dict[str, Any]]:
    response = await node.operator.request("POST", "/v1/admin/sync" + ("?own=1" if own else ""))
    return [json.loads(line) for line in response.body.splitlines()]


async def check_identical(nodes: list[RunningNode], origins: list[RunningNode]) -> None:
    """Same heads everywhere; each held checkpoint verifies with its origin's key and matches the head."""
    views = await asyncio.gather(*(heads(n) for n in nodes))
    for origin in origins:
        key = PublicKey(origin.config.node_id)
        held = [view[b64(origin)] for view in views]
        assert len({(size, root) for size, root, _, _ in held}) == 1, held
        for size, root, note, frozen in held:
            assert frozen is None and note is not None
            checkpoint = open_checkpoint(note, key).checkpoint
            assert checkpoint.size == size and codec.b64u(checkpoint.root) == root


# --- a federation of real nodes -------------------------------------------------------------------------------


async def test_decision_reaches_all_of_five_nodes_and_a_late_node_catches_up(start_node) -> None:
    nodes = [await start_node(f"Council {i}", settings=FAST) for i in range(5)]
    await connect(*nodes)
    decision = await decide(nodes[0], "Hold a rally")
    await decide(nodes[0], "Rent the back room", visibility="council")
    await decide(nodes[3], "Publish the accounts")
    await until(lambda: converged(nodes), "five nodes hold the same logs")
    await check_identical(nodes, nodes)

    origin = nodes[0].config.node_id
    mine = rows(nodes[0], origin)
    assert {v for _, _, v, _ in mine} == {"public", "council"}
    for replica in nodes[1:]:
        theirs = rows(replica, origin)
        assert [(s, h, v) for s, h, v, _ in theirs] == [(s, h, v) for s, h, v, _ in mine]
        for (_, _, vis, body), (_, _, _, own_body) in zip(theirs, mine, strict=True):
            assert body == (own_body if vis == "public" else None)  # council entries: header only
    async with nodes[4].session.get(f"{nodes[4].url}/v1/logs/{b64(nodes[0])}/entries?limit=1000") as answer:
        served = {e["id"] for e in (await answer.json())["entries"]}
    assert decision in served

    # a long log (1,500 entries more: two pages and a half), then a sixth node (a node replicates the logs of
    # the keys it trusts, its peers: it is given all five)
    op = nodes[0].operator
    for batch in range(15):
        await asyncio.gather(
            *(op.call("POST", "/v1/admin/members", {"name": f"M{batch}-{i}"}) for i in range(100))
        )
    late = await start_node("Late Council", settings=FAST)
    await connect(late, *nodes)
    await until(lambda: converged([*nodes, late], nodes), "the late node holds every log", 40)
    await check_identical([*nodes, late], nodes)
    assert (await heads(late))[b64(nodes[0])][0] > 1_500


async def test_partition_then_heal_converges(start_node) -> None:
    nodes = [await start_node(f"Council {i}", settings=FAST) for i in range(4)]
    await connect(*nodes)
    await until(lambda: converged(nodes), "connected")
    left, right = nodes[:2], nodes[2:]
    dead = "http://127.0.0.1:9"  # nothing answers there: the link is cut
    await asyncio.gather(*(peer(a, b, dead) for a in left for b in right))
    await asyncio.gather(*(peer(b, a, dead) for a in left for b in right))
    await decide(left[0], "Left side decides")
    await decide(right[1], "Right side decides")
    await decide(right[0], "Right side decides again")
    async def sides_converged() -> bool:
        return await converged(left) and await converged(right)

    await until(sides_converged, "each side converges")
    assert not await converged(nodes)
    await connect(*nodes)  # heal: the real URLs again
    await until(lambda: converged(nodes), "both sides converge after the partition heals")
    await check_identical(nodes, nodes)


async def test_checkpoints_carry_peer_cosignatures_a_bundle_verifies(start_node) -> None:
    nodes = [await start_node(f"Council {i}", settings=FAST) for i in range(4)]
    await connect(*nodes)
    decision = await decide(nodes[0], "Open a community kitchen")
    witnesses = []
    for witness in nodes[1:]:
        async with witness.session.get(witness.url + "/v1/node") as answer:
            key = parse_vkey((await answer.json())["witness_key"])
        witnesses.append((key.name, key.public_key))
    council = PublicKey(nodes[0].config.node_id)

    async def cosigned_by_all() -> bool:
        async with nodes[0].session.get(f"{nodes[0].url}/v1/decisions/{decision}/bundle") as answer:
            bundle = await answer.read()
        try:
            verify_bundle(bundle, council, witnesses=witnesses, min_cosignatures=3)
        except Exception:
            return False
        return True

    await until(cosigned_by_all, "the origin's checkpoint carries three cosignatures")
    async with nodes[0].session.get(f"{nodes[0].url}/v1/decisions/{decision}/bundle") as answer:
        bundle = await answer.read()
    assert verify_bundle(bundle, council, witnesses=witnesses, min_cosignatures=3).body["text"] == (
        "Open a community kitchen"
    )
    with pytest.raises(Exception):  # noqa: B017, PT011  # any VerificationError step: 4 of 3 witnesses
        verify_bundle(bundle, council, witnesses=witnesses, min_cosignatures=4)
