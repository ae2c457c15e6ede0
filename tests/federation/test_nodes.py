"""Replication between real nodes: aiohttp servers on 127.0.0.1 port 0, each with its own folder and SQLite
file.

Nodes are connected with ``POST /v1/admin/peers`` both ways and gossip every ``FAST["gossip_interval_s"]``
(± 50 %); every wait polls its condition under a bounded deadline (``until``), never a fixed sleep.
Attacks come from ``Hostile``, a tiny aiohttp server with a key of its own that signs its requests correctly
and serves whatever pages a test makes it serve.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

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
from protocol.errors import VerificationError
from protocol.fork import EVIDENCE_VERSION, FORK_VERSION, verify_fork_proof
from protocol.httpsig import encode_nonce, sign_request
from protocol.keys import PublicKey, SigningKey
from protocol.merkle import MemoryTree
from protocol.note import Checkpoint, log_origin, open_checkpoint, parse_vkey, sign_checkpoint
from protocol.record import record_log_id
from tests.conftest import RunningNode, stop_node
from tests.node.test_privacy import PEOPLE, hits, run_assembly, stored_entries

FAST = {"gossip_interval_s": 0.15, "request_timeout_s": 2.0}
DEADLINE_S = 120.0  # only bounds a hang: a loaded 2-core machine; a passing run never waits for it
MSGPACK = "application/msgpack"


# --- helpers ------------------------------------------------------------------------------------------------


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


async def appends(node: RunningNode) -> bool:
    """The node's writer takes appends: its start-up check that no peer holds more of its own log
    (``node.behind-peers`` until then) has concluded."""
    return (await peers_of(node))[""]["blocked"] is None


async def peers_of(node: RunningNode) -> dict[str, dict[str, Any]]:
    answer = await node.operator.call("GET", "/v1/admin/peers")
    return {p["node_id"]: p for p in answer["peers"]} | {"": {"blocked": answer["blocked"]}}


async def decide(node: RunningNode, text: str, visibility: str = "public") -> str:
    """A motion adopted in the node's open assembly (members and an assembly come first)."""
    op = node.operator
    assemblies = (await op.call("GET", "/v1/admin/assemblies"))["assemblies"]
    if not any(a["open"] for a in assemblies):
        names = ["Ava", "Babak", "Chris"]
        for name in names:
            await op.call("POST", "/v1/admin/members", {"name": name})
        await op.call("POST", "/v1/admin/assemblies", {"agenda": "General assembly"})
        await op.call("POST", "/v1/admin/assemblies/current/attend", {"members": names})
    members = [m["member_id"] for m in (await op.call("GET", "/v1/admin/members"))["members"] if m["active"]]
    motion = (await op.call("POST", "/v1/admin/motions", {"text": text, "visibility": visibility}))[
        "motion_id"
    ]
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


# --- a federation of real nodes -----------------------------------------------------------------------------


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
    assert {v for _, _, v, _ in mine} == {"public"}  # the public log: council entries stay in the record
    for replica in nodes[1:]:
        assert rows(replica, origin) == mine
        assert rows(replica, record_log_id(origin)) == []  # nobody else holds the record
    async with nodes[4].session.get(f"{nodes[4].url}/v1/logs/{b64(nodes[0])}/entries?limit=1000") as answer:
        served = [e for e in (await answer.json())["entries"]]
    published = {
        codec.b64u(
            Entry(*(codec.unb64u(e[k]) for k in ("header", "signature", "body"))).body()["record"]["entry"]
        )
        for e in served
    }
    assert decision in published

    # a long log (1,500 entries more: two pages and a half), then a sixth node (a node replicates the logs of
    # the keys it trusts, its peers: it is given all five)
    op = nodes[0].operator
    for _ in range(15):
        await asyncio.gather(*(op.call("POST", "/v1/admin/census") for _ in range(100)))  # public entries
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
        except VerificationError:
            return False
        return True

    await until(cosigned_by_all, "the origin's checkpoint carries three cosignatures")
    async with nodes[0].session.get(f"{nodes[0].url}/v1/decisions/{decision}/bundle") as answer:
        bundle = await answer.read()
    assert verify_bundle(bundle, council, witnesses=witnesses, min_cosignatures=3).body["text"] == (
        "Open a community kitchen"
    )
    with pytest.raises(VerificationError) as short:  # four cosignatures asked of three witnesses
        verify_bundle(bundle, council, witnesses=witnesses, min_cosignatures=4)
    assert (short.value.step, short.value.message) == (
        "cosignatures",
        "3 valid witness cosignatures, at least 4 required",
    )


# --- forks and restores -------------------------------------------------------------------------------------


@pytest.mark.parametrize("signer", ["root", "delegated"])
async def test_forked_log_is_proven_and_frozen_on_every_honest_node(
    start_node, tmp_path: Path, signer: str
) -> None:
    origin = await start_node("Two-faced Council", settings=FAST)
    honest = [await start_node(f"Council {i}", settings=FAST) for i in range(4)]
    await connect(origin, *honest)
    if signer == "delegated":  # a fork behind a log/key key (issue 11, item 3: was a penalty, no proof)
        await origin.operator.call("POST", "/v1/admin/keys/rotate", {})
    await decide(origin, "Before the fork")
    await until(lambda: converged([origin, *honest]), "everyone holds the log before the fork")
    # the same folder served twice: one root key, two faces; group B is told the second face's URL
    face = await start_node(directory=snapshot(origin, tmp_path / "face"), settings=FAST)
    assert face.config.node_id == origin.config.node_id
    # the face appends only once it has asked its peers whether one holds more of its own log (none does yet)
    await until(lambda: appends(face), "the face's start-up check with its peers concludes")
    group_b = honest[2:]
    await asyncio.gather(*(peer(n, origin, face.url) for n in group_b))
    # one command each, so no face has a second one refused once gossip has found the fork (however the
    # machine's speed orders them): two motions at one seq, each signed by the root key
    await asyncio.gather(
        *(
            node.operator.call("POST", "/v1/admin/motions", {"text": text})
            for node, text in ((origin, "Face one: buy a printer"), (face, "Face two: sell the printer"))
        )
    )
    log_id = b64(origin)

    async def all_frozen() -> bool:
        for node in honest:
            seen = (await peers_of(node))[log_id]
            if not (seen["frozen"] and seen["forks"] >= 1 and (await heads(node))[log_id][3]):
                return False
        return True

    await until(all_frozen, "every honest node holds the fork proof and froze the log")
    for node in honest:
        other = honest[0] if node is not honest[0] else honest[1]
        client = SignedClient(node.session, node.url, other.config.root_key(), node.config.node_id)
        answer = await client.request(
            "GET",
            entries_path(origin.config.node_id, -1, 10, 0),
            content_type=MSGPACK,
            accept=MSGPACK,
            check=False,
        )
        assert answer.status == 409
        refusal = codec.decode(answer.body)
        assert refusal["error"] == "log-frozen" and isinstance(refusal["proof"], bytes)
        proof = verify_fork_proof(refusal["proof"])
        assert proof.log_id == origin.config.node_id
        # found by gossip (two entries: v2 behind a delegated key) or by a witness (two checkpoints,
        # root-signed: v1), whichever came first; each kind is tested alone in test_fork_proofs.py
        if proof.kind == "entries":
            assert proof.version == (EVIDENCE_VERSION if signer == "delegated" else FORK_VERSION)


async def propose_and_close(node: RunningNode, text: str) -> None:
    """Two public entries: a motion, and its decision (nobody voted)."""
    op = node.operator
    motion = (await op.call("POST", "/v1/admin/motions", {"text": text}))["motion_id"]
    await op.call("POST", f"/v1/admin/motions/{motion}/close")


@pytest.mark.parametrize("lost", ["public", "council"])
async def test_node_restored_from_backup_refuses_appends_until_it_syncs_its_own_log(
    start_node, tmp_path: Path, lost: str
) -> None:
    origin = await start_node("Restored Council", settings=FAST)
    others = [await start_node(f"Council {i}", settings=FAST) for i in range(2)]
    await connect(origin, *others)
    await decide(origin, "Before the backup")
    await until(lambda: converged([origin, *others]), "the peers hold the log")
    backup = snapshot(origin, tmp_path / "backup")
    rows_at_backup = rows(origin, record_log_id(origin.config.node_id))
    if lost == "public":
        await propose_and_close(origin, "After the backup")
    else:
        await decide(origin, "After the backup")  # votes: council entries, whose bodies never leave the node
    record = rows(origin, record_log_id(origin.config.node_id))
    gap = {vis for _, _, vis, _ in record[len(rows_at_backup) :]}
    assert gap == ({"public"} if lost == "public" else {"public", "council"})
    await until(lambda: converged([origin, *others]), "the peers hold the newer log")
    newest = (await heads(others[0]))[b64(origin)][:2]
    await stop_node(origin)

    restored = await start_node(directory=backup, settings=FAST)
    await asyncio.gather(*(peer(n, restored) for n in others))  # it answers at a new address

    async def blocked() -> bool:
        return "backup" in ((await peers_of(restored))[""]["blocked"] or "")

    await until(blocked, "the restored node sees that its peers hold more of its log")
    with pytest.raises(RemoteError) as refused:
        await decide(restored, "A second history")
    assert (refused.value.status, refused.value.code) == (422, "node.behind-peers")
    lines = await sync(restored, own=True)
    assert sum(line.get("restored", 0) for line in lines) > 0
    assert (await heads(restored))[b64(origin)][:2] == newest
    # the public log is back, but not the record it publishes (peers never hold it): still refused, saying
    # why — whether the lost entries were public or not
    assert "peers never hold the record" in lines[-1]["blocked"]
    with pytest.raises(RemoteError) as refused:
        await propose_and_close(restored, "Still refused")
    assert refused.value.code == "node.behind-peers"


# --- hostile peers ------------------------------------------------------------------------------------------


class Hostile:
    """A peer with its own key and log that signs its requests correctly and serves what a test sets:
    ``tamper(page bytes) -> bytes`` rewrites each page it serves, ``checkpoint_size`` and ``consistency``
    override the checkpoint and proof it sends, ``advertise`` the size it claims, ``slow`` answers a byte
    a second."""

    def __init__(self, seed: int) -> None:
        self.key = SigningKey.from_seed(seed.to_bytes(32, "big"))
        self.id = self.key.public.raw
        self.entries: list[Entry] = []
        self.tree = MemoryTree()
        self.tamper: Callable[[bytes], bytes] = lambda page: page
        self.checkpoint_size: int | None = None
        self.consistency: list[bytes] | None = None
        self.advertise: int | None = None
        self.slow = False
        self.url = ""
        self._runner: web.AppRunner | None = None

    def sign(self, n: int, key: SigningKey | None = None, vis: str = "public", leak: bool = False) -> None:
        for _ in range(n):
            seq = len(self.entries)
            body: dict[str, Any] = {"kind": "note", "text": f"hostile {seq}"}
            if vis == "council":
                body["salt"] = bytes(16)
            entry = sign_entry(
                key or self.key,
                log_id=self.id,
                seq=seq,
                prev=self.entries[-1].id if self.entries else None,
                ts_ms=1_700_000_000_000 + seq,
                vis=vis,
                body=body,  # type: ignore[arg-type]
            )
            if vis == "council" and not leak:
                entry = Entry(entry.header_bytes, entry.signature)
            self.entries.append(entry)
            self.tree.append(entry.id)

    def note(self, size: int) -> str:
        from protocol import merkle

        return sign_checkpoint(self.key, Checkpoint(log_origin(self.id), size, merkle.root(self.tree, size)))

    async def _digest(self, request: web.Request) -> web.StreamResponse:
        if self.slow:
            response = web.StreamResponse(headers={"Content-Type": MSGPACK})
            await response.prepare(request)
            for _ in range(60):
                await response.write(b"\x81")
                await asyncio.sleep(1)
            return response
        size = len(self.entries) if self.advertise is None else self.advertise
        from protocol import merkle

        root = merkle.root(self.tree, min(size, self.tree.size))
        return web.Response(body=codec.encode({"heads": [[self.id, size, root]]}), content_type=MSGPACK)

    async def _entries(self, request: web.Request) -> web.Response:
        from protocol import merkle

        after, limit, first = (int(request.query[k]) for k in ("after_seq", "limit", "first"))
        size = self.checkpoint_size or len(self.entries)
        proof = self.consistency
        if proof is None:
            proof = merkle.consistency_proof(self.tree, first, size) if 0 < first < size else []
        page = Page(tuple(self.entries[after + 1 : after + 1 + limit]), self.note(size), tuple(proof), first)
        return web.Response(body=self.tamper(page.encode()), content_type=MSGPACK)

    async def _answer(self, request: web.Request) -> web.Response:
        value: dict[str, Any] = {"pulls": 0} if request.path.endswith("/heads") else {"new": False}
        return web.Response(body=codec.encode(value), content_type=MSGPACK)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(DIGEST, self._digest)
        app.router.add_get("/v1/federation/logs/{log_id}/entries", self._entries)
        app.router.add_post("/v1/federation/heads", self._answer)
        app.router.add_post("/v1/federation/forks", self._answer)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def client(self, node: RunningNode, recipient: bytes | None = None) -> SignedClient:
        return SignedClient(node.session, node.url, self.key, recipient or node.config.node_id)


@pytest.fixture
async def hostile() -> Any:
    made: list[Hostile] = []

    async def make(seed: int = 666, kind: type[Hostile] = Hostile) -> Hostile:
        peer_ = kind(seed)
        await peer_.start()
        made.append(peer_)
        return peer_

    yield make
    for peer_ in made:
        await peer_.stop()


async def trust(node: RunningNode, bad: Hostile) -> None:
    await node.operator.call("POST", "/v1/admin/peers", {"url": bad.url, "key": codec.b64u(bad.id)})


def _flip_signature(page: bytes) -> bytes:
    value = codec.decode(page)
    entry = value["entries"][1]
    entry["signature"] = bytes([entry["signature"][0] ^ 1]) + entry["signature"][1:]
    return codec.encode(value)


async def _forged_entry(bad: Hostile, node: RunningNode) -> None:
    bad.sign(5)
    bad.tamper = _flip_signature


async def _untrusted_key(bad: Hostile, node: RunningNode) -> None:
    bad.sign(2)
    bad.sign(1, key=SigningKey.from_seed(b"\x07" * 32))


async def _council_body_leaked(bad: Hostile, node: RunningNode) -> None:
    bad.sign(2)
    bad.sign(1, vis="council", leak=True)


async def _garbage_page(bad: Hostile, node: RunningNode) -> None:
    bad.sign(3)
    bad.tamper = lambda page: b"\xc1\x92garbage"


async def _held_five(bad: Hostile, node: RunningNode) -> None:
    bad.sign(5)
    await sync(node)
    assert (await heads(node))[codec.b64u(bad.id)][0] == 5


async def _rollback(bad: Hostile, node: RunningNode) -> None:
    await _held_five(bad, node)
    bad.sign(2)
    bad.checkpoint_size = 3  # an older checkpoint than the one we hold


async def _bad_consistency(bad: Hostile, node: RunningNode) -> None:
    await _held_five(bad, node)
    bad.sign(3)
    bad.consistency = [bytes(32)] * 3


ATTACKS = {
    "forged_entry": (_forged_entry, "entry-signature"),
    "entry_signed_by_untrusted_key": (_untrusted_key, "unknown-key"),
    "council_body_leaked": (_council_body_leaked, "council-body"),
    "garbage_page": (_garbage_page, "encoding"),
    "checkpoint_rollback": (_rollback, "rollback"),
    "consistency_proof_does_not_verify": (_bad_consistency, "consistency"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_hostile_page_is_refused_whole_and_penalised(start_node, hostile, attack: str) -> None:
    node = await start_node(settings={**FAST, "gossip_interval_s": 3600.0})  # rounds only when we say
    bad = await hostile()
    await trust(node, bad)
    prepare, reason = ATTACKS[attack]
    await prepare(bad, node)
    before = await heads(node)
    penalties = (await peers_of(node))[codec.b64u(bad.id)]["penalties"]
    await sync(node)

    async def penalised() -> bool:  # the peer table is written on the writer thread, just after the round
        seen = (await peers_of(node))[codec.b64u(bad.id)]
        return bool(seen["penalties"] > penalties and seen["last_penalty"].startswith(reason))

    await until(penalised, f"the peer is penalised for {reason}")
    assert await heads(node) == before, "nothing of the bad page was stored"


async def test_hostile_requests_are_refused_with_nothing_stored(start_node, hostile) -> None:
    node = await start_node(settings=FAST)
    bad = await hostile()
    await trust(node, bad)
    before = await heads(node)
    body = codec.encode({"hash": bytes(32)})
    url = node.url + DIGEST

    async def post(headers: dict[str, str], data: bytes = body) -> tuple[int, str]:
        headers = {**headers, "Content-Type": MSGPACK, "Accept": MSGPACK}
        async with node.session.post(url, data=data, headers=headers) as response:
            answer = await response.read()
        code = codec.decode(answer)["error"] if response.status >= 400 and answer[:1] != b"{" else ""
        if answer[:1] == b"{":
            code = json.loads(answer)["error"]
        return response.status, code

    def signed(
        created: int | None = None, recipient: bytes | None = None, data: bytes = body
    ) -> dict[str, str]:
        return sign_request(
            bad.key,
            method="POST",
            authority=url.split("/")[2],
            path=DIGEST,
            query="",
            body=data,
            recipient=recipient or node.config.node_id,
            created=int(time.time()) if created is None else created,
            nonce=encode_nonce(os.urandom(16)),
        )

    replayed = signed()
    assert (await post(replayed))[0] == 200
    assert await post(replayed) == (401, "request-replay"), "replayed_request"
    other = SigningKey.from_seed(b"\x09" * 32).public.raw
    assert (await post(signed(recipient=other)))[0] == 403, "request signed for another node"
    assert (await post(signed(created=int(time.time()) - 3600)))[0] == 401, "stale created"
    assert (await post(signed(created=int(time.time()) + 3600)))[0] == 401, "future created"
    stranger = SignedClient(node.session, node.url, SigningKey.from_seed(b"\x0a" * 32), node.config.node_id)
    unknown = await stranger.request("POST", DIGEST, body, content_type=MSGPACK, accept=MSGPACK, check=False)
    assert unknown.status == 403, "a key not in the peer table"
    client = bad.client(node)
    garbage = await client.request(
        "POST", DIGEST, b"\xc1\x00\xff", content_type=MSGPACK, accept=MSGPACK, check=False
    )
    assert garbage.status == 400
    huge = await client.request(
        "POST", DIGEST, bytes(2 << 20), content_type=MSGPACK, accept=MSGPACK, check=False
    )
    assert huge.status == 413
    assert await heads(node) == before

    async def penalised() -> bool:
        seen = (await peers_of(node))[codec.b64u(bad.id)]
        return bool(seen["penalties"] >= 1 and seen["last_penalty"].startswith("malformed message"))

    await until(penalised, "the peer that sent garbage is penalised")


async def test_slow_peer_times_out_while_gossip_with_honest_peers_proceeds(start_node, hostile) -> None:
    settings = {**FAST, "request_timeout_s": 1.0}
    node, honest = await start_node(settings=settings), await start_node("Honest Council", settings=settings)
    await connect(node, honest)
    bad = await hostile()
    bad.slow = True
    await trust(node, bad)
    decisions = [await decide(honest, f"Decision {i}") for i in range(3)]
    assert decisions
    await until(lambda: converged([node, honest]), "the honest peer's log arrives despite the slow one")

    async def timed_out() -> bool:
        seen = (await peers_of(node))[codec.b64u(bad.id)]
        return seen["failures"] >= 1 and "no answer within" in (seen["last_error"] or "")

    await until(timed_out, "the round with the slow peer timed out")
    await decide(honest, "One more")
    await until(lambda: converged([node, honest]), "gossip goes on")


# --- privacy ------------------------------------------------------------------------------------------------


async def test_privacy_canaries_never_cross_between_nodes(start_node, monkeypatch) -> None:
    wire: list[tuple[str, bytes]] = []
    call = HttpTransport.call

    async def recording(
        self: HttpTransport, peer_: bytes, method: str, path: str, body: bytes = b""
    ) -> Reply:
        wire.append((f"{method} {path} request", path.encode() + b"\n" + body))
        reply = await call(self, peer_, method, path, body)
        wire.append((f"{method} {path} reply", reply.body))
        return reply

    monkeypatch.setattr(HttpTransport, "call", recording)
    nodes = [await start_node(f"Council {i}", settings=FAST) for i in range(3)]
    await connect(*nodes)
    await run_assembly(nodes[0].operator)
    await decide(nodes[1], "A public decision elsewhere")
    await until(lambda: converged(nodes), "three nodes converge")
    await check_identical(nodes, nodes)
    assert len(wire) > 20
    haystacks = {f"{i} {where}": data for i, (where, data) in enumerate(wire)}
    assert hits(haystacks) == []
    record = stored_entries(nodes[0].config.database, record_log_id(nodes[0].config.node_id))
    council = [(h, b) for h, _, b, vis in record if vis == "council" and b]
    assert len(council) > 10
    everything = b"\n".join(data for _, data in wire)
    assert not [b for _, b in council if b in everything], "a council body crossed the wire"
    assert not [h for h, _ in council if h in everything], "a council header crossed the wire"
    assert record_log_id(nodes[0].config.node_id) not in everything, "the record's id crossed the wire"
    for replica in nodes[1:]:
        assert {vis for _, _, vis, _ in rows(replica, nodes[0].config.node_id)} == {"public"}
    assert PEOPLE
