"""Benchmark: a council's sealed backup pushed to a peer, and a full restore from peers, each against its bare
operation measured in the same run (issue 9).

Run as ``python tests/bench/backup.py``; prints one JSON line per benchmark:

- ``backup``: one tick that seals the whole stream of a 100,000-entry record (the node's own path: the
  items read from SQLite, sealed into 64 KiB segments, stored with the cursor) and pushes every segment to a
  peer over loopback (RFC 9421-signed PUTs the peer verifies and stores); ``bare_aead_s``:
  ChaCha20-Poly1305 alone over the same stream bytes, one call per segment; ``seal_push_ratio`` = tick / bare.
- ``restore``: ``shora restore --from-peers`` of that council (public log and every segment fetched, opened,
  every record entry's signature and chain checked, written to a new database); ``bare_insert_s``: appending
  the same record entries to a fresh database (one transaction, tree and all); ``restore_ratio`` = restore /
  bare.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aiohttp import web
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from federation import db as dbmod
from federation.store import LogStore
from node import config as cfg
from node.backup import stream, tables
from node.backup.fetch import PeerRef
from node.backup.restore import restore
from node.bootstrap import init_node
from node.http.app import make_app
from node.http.context import NODE
from node.http.routes.sealed import BACKUPS
from node.storage.migrations import open_database
from protocol.record import RecordEntry, record_log_id
from protocol.recovery import Recovery
from protocol.sealed import CAPACITY
from tests.node.backup_helpers import found, seed_record, write_settings

RECORD_ENTRIES = int(os.environ.get("SHORA_BENCH_ENTRIES", "100000"))  # smaller for a quick check
SETTINGS: dict[str, float] = {
    "backup_interval_s": 1e9,
    "gossip_interval_s": 1e6,
    "sealed_max_segments": 100_000,
}


async def serve(folder: Path, settings: dict[str, float]) -> tuple[web.AppRunner, str]:
    write_settings(folder, settings)
    runner = web.AppRunner(make_app(cfg.load(folder)))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    (folder / "serve.addr").write_text(f"{host}:{port}\n")
    return runner, f"http://{host}:{port}"


async def main(root: Path) -> None:
    council, peer = root / "council", root / "peer"
    init_node(council, found("Council"), listen="127.0.0.1:0")
    init_node(peer, found("Peer"), listen="127.0.0.1:0")
    entries = seed_record(council, RECORD_ENTRIES)
    conn = dbmod.connect(council / cfg.DATABASE, readonly=True)
    data = b"".join(stream.everything(conn, cfg.load(council).node_id))
    conn.close()
    # a tick seals exactly this many segments (padding included): here, just the whole stream at once
    per_tick = -(-len(data) // CAPACITY)
    council_run, council_url = await serve(council, {**SETTINGS, "backup_segments_per_tick": per_tick})
    peer_run, peer_url = await serve(peer, SETTINGS)
    c_node, p_node = council_run.app[NODE], peer_run.app[NODE]
    await c_node.replication.add_peer(p_node.config.node_id, peer_url)
    await p_node.replication.add_peer(c_node.config.node_id, council_url)
    await c_node.writer.run(tables.add_backup_peer, c_node.writer.conn, p_node.config.node_id, peer_url)

    started = time.perf_counter()
    segments = await council_run.app[BACKUPS].tick()
    tick_s = time.perf_counter() - started
    assert tables.held_count(p_node.reader, c_node.config.node_id) == segments

    aead = ChaCha20Poly1305(bytes(32))
    started = time.perf_counter()
    for at in range(0, len(data), CAPACITY):
        aead.encrypt(bytes(12), data[at : at + CAPACITY].ljust(CAPACITY + 4, b"\0"), None)
    bare_s = time.perf_counter() - started
    print(
        json.dumps(
            {
                "bench": "backup",
                "entries": RECORD_ENTRIES,
                "stream_mb": round(len(data) / 1e6, 1),
                "segments": segments,
                "seal_push_s": round(tick_s, 3),
                "bare_aead_s": round(bare_s, 4),
                "seal_push_ratio": round(tick_s / bare_s, 1),
            },
            separators=(",", ":"),
        )
    )

    recovery = Recovery.decode((council / "recovery.txt").read_bytes())
    async for _ in p_node.replication.sync():  # the peer holds the council's public log, as gossip would
        pass
    await council_run.cleanup()
    started = time.perf_counter()
    await restore(
        root / "restored",
        recovery,
        [PeerRef(peer_url, p_node.config.node_id)],
        backup_file=None,
        listen="127.0.0.1:0",
    )
    restore_s = time.perf_counter() - started
    await peer_run.cleanup()

    fresh = open_database(root / "bare.db")
    records = [RecordEntry(e.header_bytes, e.signature, e.body_bytes) for e in entries]
    started = time.perf_counter()
    LogStore(fresh).append(record_log_id(recovery.council, 0), records, lambda size, root_hash: None)
    bare_insert_s = time.perf_counter() - started
    fresh.close()
    print(
        json.dumps(
            {
                "bench": "restore",
                "entries": RECORD_ENTRIES,
                "restore_s": round(restore_s, 3),
                "bare_insert_s": round(bare_insert_s, 3),
                "restore_ratio": round(restore_s / bare_insert_s, 1),
            },
            separators=(",", ":"),
        )
    )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(main(Path(folder)))
