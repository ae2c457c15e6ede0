"""Councils with a record, run in this process with their app at hand (to tick their backup schedule
without waiting for it), on 127.0.0.1 port 0 with real SQLite files."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from federation.client import SignedClient
from federation.store import LogStore
from node import config as cfg
from node.backup.ticker import Backups
from node.bootstrap import init_node
from node.http.app import make_app
from node.http.context import NODE, Node
from node.http.routes.sealed import BACKUPS
from node.rules.council import FoundCouncil, Rules
from node.storage import directory, epochs
from node.storage.migrations import open_database
from node.storage.replay import replay_record
from protocol import codec
from protocol.keys import SigningKey
from protocol.record import RecordEntry, record_log_id, sign_record_entry

QUIET = {"backup_interval_s": 1e9, "gossip_interval_s": 1e6}  # ticks and gossip rounds only when asked


@dataclass
class Live:
    config: cfg.NodeConfig
    app: web.Application
    runner: web.AppRunner
    url: str
    operator: SignedClient

    @property
    def node(self) -> Node:
        return self.app[NODE]

    @property
    def backups(self) -> Backups:
        return self.app[BACKUPS]

    @property
    def key(self) -> bytes:
        return self.config.node_id

    @property
    def b64(self) -> str:
        return codec.b64u(self.config.node_id)

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return await self.operator.call(method, path, body)

    async def stop(self) -> None:
        await self.runner.cleanup()
        (self.config.dir / "serve.addr").unlink(missing_ok=True)


Start = Callable[..., Awaitable[Live]]


def found(name: str = "Toronto Council") -> FoundCouncil:
    return FoundCouncil(name=name, city="Toronto", country="CA", continent="North America", rules=Rules())


def write_settings(folder: Path, settings: dict[str, float]) -> None:
    raw = json.loads((folder / cfg.CONFIG).read_text(encoding="utf-8"))
    raw["settings"] = {**raw.get("settings", {}), **settings}
    (folder / cfg.CONFIG).write_text(json.dumps(raw), encoding="utf-8")


@pytest.fixture
async def start_live(tmp_path: Path) -> AsyncIterator[Start]:
    started: list[Live] = []
    session = aiohttp.ClientSession()

    async def start(
        name: str = "node",
        *,
        folder: Path | None = None,
        settings: dict[str, float] | None = None,
        peers_unreachable_ok: bool = False,
    ) -> Live:
        folder = folder or tmp_path / name
        if not (folder / cfg.CONFIG).exists():
            init_node(folder, found(name), listen="127.0.0.1:0")
        write_settings(folder, {**QUIET, **(settings or {})})
        config = cfg.load(folder)
        app = make_app(config, peers_unreachable_ok=peers_unreachable_ok)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        (folder / "serve.addr").write_text(f"{host}:{port}\n")
        url = f"http://{host}:{port}"
        live = Live(
            config,
            app,
            runner,
            url,
            SignedClient(session, url, config.operator_signing_key(), config.node_id),
        )
        started.append(live)
        return live

    yield start
    for live in started:
        if live.runner.server is not None:
            await live.stop()
    await session.close()


async def befriend(a: Live, b: Live) -> None:
    """``a`` and ``b`` trust each other as peers; ``b`` holds ``a``'s sealed copy."""
    await a.call("POST", "/v1/admin/peers", {"key": b.b64, "url": b.url})
    await b.call("POST", "/v1/admin/peers", {"key": a.b64, "url": a.url})
    await a.call("POST", "/v1/admin/backup-peers", {"key": b.b64, "url": b.url})


# --- a record, as the writer keeps it (the record-node wiring appends the same entries) ----------------


def record_entries(
    root: SigningKey,
    count: int,
    *,
    after: RecordEntry | None = None,
    epoch: int = 0,
    public_every: int = 0,
    charter_hash: bytes = bytes(32),
) -> list[RecordEntry]:
    """Record entries after ``after``: joins endorsing ``charter_hash`` (valid for the council that has that
    charter, so a node replays them), and every ``public_every``-th an assembly opening."""
    out: list[RecordEntry] = []
    previous = after
    for _ in range(count):
        seq = previous.seq + 1 if previous else 0
        public = public_every and seq % public_every == 0
        body = (
            {"kind": "assembly/open", "agenda": f"meeting {seq}", "salt": os.urandom(16)}
            if public
            else {
                "kind": "member/join",
                "member": os.urandom(16),
                "charter_hash": charter_hash,
                "pubkey": None,
                "salt": os.urandom(16),
            }
        )
        entry = sign_record_entry(
            root,
            root_key=root.public.raw,
            epoch=epoch,
            seq=seq,
            prev=previous.id if previous else None,
            ts_ms=previous.header.ts_ms + 1 if previous else 1_700_000_000_000,
            vis="public" if public else "council",
            body=body,
        )
        out.append(entry)
        previous = entry
    return out


def charter_of(store: LogStore, root: SigningKey) -> bytes:
    """The charter hash of the council whose record ``store`` holds (zeros for a record not founded)."""
    first = next(epochs.entries_of(store, root.public.raw, 0, 1), None)
    if first is None or first.body().get("kind") != "council/found":
        return bytes(32)
    return replay_record(store, root.public.raw).charter_hash or bytes(32)


def append_record(
    conn: sqlite3.Connection, root: SigningKey, count: int, epoch: int = 0
) -> list[RecordEntry]:
    """Append ``count`` record entries (and a directory row for each join) in one transaction."""
    store = LogStore(conn, private=True)  # the record is a private log, as the node keeps it
    log_id = record_log_id(root.public.raw, epoch)
    store.create_private(log_id)
    head = store.head(log_id)
    last = None
    if head is not None and head.size:
        h, s, b = store.rows(log_id, head.size - 2, 1, council_bodies=True)[0]
        last = RecordEntry(h, s, b)
    entries = record_entries(root, count, after=last, epoch=epoch, charter_hash=charter_of(store, root))
    with store.transaction():
        store.append_in_transaction(log_id, entries, lambda size, root_hash: None)
        for entry in entries:
            body = entry.body()
            if body["kind"] == "member/join":
                conn.execute(directory.ADD, (body["member"], f"member {entry.seq}", "", 1))
    return entries


def seed_record(folder: Path, count: int) -> list[RecordEntry]:
    """A record of ``count`` entries in a stopped node's database."""
    conn = open_database(folder / cfg.DATABASE)
    try:
        return append_record(conn, cfg.load(folder).root_key(), count)
    finally:
        conn.close()
