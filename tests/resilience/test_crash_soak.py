"""Crash soak (issue 11, suite: crash): SIGKILL at random moments across many appends and many restarts.

Clients append (motions: a record entry and its public twin each) four at a time while a reader follows the
node's public log through the public read API and keeps every signed entry it is shown. A life ends with
``kill -9`` once the node has acknowledged a random number of appends in it: a count, never a clock, so every
life tests something however fast or loaded the machine is, and requests are in flight at every kill.

After every kill, with the process dead, the SQLite file alone must show (``tests/node/test_crash``'s
``check_database``): ``PRAGMA integrity_check`` ok, every acknowledged append present, the log verifying
from genesis and byte-identical to what earlier checks saw, the checkpoint over exactly the stored leaves,
the public log committed with the record. And here: **no position signed twice** — every signed public entry
any client was shown, before any kill, is the one the log holds at its seq.

``SHORA_CRASH_APPENDS`` sets the number of acknowledged appends (locally 1,000; CI the issue's 10,000,
measured in docs/resilience.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import time
from pathlib import Path
from typing import IO, Any

import aiohttp

from federation.client import SignedClient, TransportError
from node import config as cfg
from node.bootstrap import init_node
from node.rules.council import FoundCouncil
from protocol import codec
from protocol.entry import Entry
from protocol.keys import PublicKey
from tests.children import children_of, wait_gone
from tests.node.served import start_served
from tests.node.test_crash import Acked, Verified, _call, check_database

SEED = 20_261_205
APPENDS = int(os.environ.get("SHORA_CRASH_APPENDS", "1000"))
WRITERS = 4
ACKS_PER_LIFE = (5, 80)  # appends acknowledged in one life before its kill: about 24 lives per 1,000


class Seen:
    """Every signed public entry a client was shown: seq -> (header, signature)."""

    def __init__(self) -> None:
        self.entries: dict[int, tuple[bytes, bytes]] = {}
        self.twice: list[int] = []  # seqs shown with two different entries (never right)

    def show(self, entry: Entry) -> None:
        held = self.entries.setdefault(entry.seq, (entry.header_bytes, entry.signature))
        if held != (entry.header_bytes, entry.signature):
            self.twice.append(entry.seq)


async def writer(op: SignedClient, acked: Acked, tag: str) -> None:
    for i in range(1_000_000):
        proposed = await _call(op, acked, "POST", "/v1/admin/motions", {"text": f"soak {tag}.{i}"})
        if acked.unexpected:
            return  # never right: the life ends, and the test fails
        if proposed is not None:
            acked.entry(proposed["motion_id"], "motion/propose")


async def open_assembly(op: SignedClient, acked: Acked) -> None:
    """Motions are proposed in an open assembly: open one unless a life before did (and it survived)."""
    listing = await op.call("GET", "/v1/admin/assemblies")
    if not any(a["open"] for a in listing["assemblies"]):
        opened = await op.call("POST", "/v1/admin/assemblies", {"agenda": "crash soak"})
        acked.entry(opened["assembly_id"], "assembly/open")


async def reader(session: aiohttp.ClientSession, url: str, node_id: bytes, seen: Seen, acked: Acked) -> None:
    """Follow the public log as any client can, keeping every signed entry shown: after each
    acknowledgement, read what is new."""
    path = f"{url}/v1/logs/{codec.b64u(node_id)}/entries"
    after = max(seen.entries, default=-1)
    while True:
        async with session.get(
            path, params={"after_seq": str(after), "limit": "500"}, headers={"Accept": "application/msgpack"}
        ) as answer:
            if answer.status != 200:
                acked.unexpected.append(f"GET entries: {answer.status}")
                return
            page = codec.decode(await answer.read())
        for item in page["entries"]:
            entry = Entry(item["header"], item["signature"], item.get("body"))
            entry.verify_signature(PublicKey(node_id))
            seen.show(entry)
            after = entry.seq
        if not page["entries"]:
            acked.changed.clear()
            await acked.changed.wait()


async def until_killed(work: Any) -> None:
    with contextlib.suppress(TransportError, aiohttp.ClientError):
        await work


def check_seen(verified: Verified, seen: Seen) -> None:
    """Every public entry a client was shown is the one the log holds at its seq: no seq signed twice. The
    public log's stored rows are those ``check_database`` just read and verified."""
    held = verified.public
    assert not seen.twice, f"seqs {seen.twice[:5]} were shown signed twice"
    moved = [seq for seq, signed in seen.entries.items() if seq >= len(held) or held[seq][:2] != signed]
    assert not moved, (
        f"{len(moved)} signed entries shown to clients are not in the log at their seq: {moved[:5]}"
    )


async def test_sigkill_soak_loses_nothing_and_signs_no_position_twice(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    folder = tmp_path / "node"
    init_node(folder, FoundCouncil(name="Soak Council", continent="Asia"), listen="127.0.0.1:0")
    raw = json.loads((folder / "node.json").read_text())
    (folder / "node.json").write_text(json.dumps({**raw, "settings": {"signer_chunk": 2}}))
    config = cfg.load(folder)
    key = config.operator_signing_key()
    acked, verified, seen = Acked(), Verified(), Seen()
    started = time.monotonic()
    lives = size = 0
    with open(tmp_path / "serve.log", "ab") as output:
        while len(acked.entries) < APPENDS:
            size = await one_life(lives, folder, config, key, acked, verified, seen, rng, output)
            check_seen(verified, seen)
            lives += 1
    elapsed = time.monotonic() - started
    print(
        f"crash soak: {lives} kills, {len(acked.entries)} acknowledged appends, {size} record entries, "
        f"{len(seen.entries)} public entries seen by clients, {elapsed:.1f} s"
    )
    assert not acked.unexpected, acked.unexpected[:5]
    assert lives >= APPENDS // ACKS_PER_LIFE[1]


async def one_life(
    life: int,
    folder: Path,
    config: cfg.NodeConfig,
    key: Any,
    acked: Acked,
    verified: Verified,
    seen: Seen,
    rng: random.Random,
    output: IO[bytes],
) -> int:
    process, url = await start_served(folder, output)
    try:
        async with aiohttp.ClientSession() as session:
            op = SignedClient(session, url, key, config.node_id, timeout=10)
            await open_assembly(op, acked)
            work = [
                asyncio.create_task(until_killed(writer(op, acked, f"{life}.{w}"))) for w in range(WRITERS)
            ]
            work.append(asyncio.create_task(until_killed(reader(session, url, config.node_id, seen, acked))))
            target = len(acked.entries) + rng.randint(*ACKS_PER_LIFE)
            await acked.until(lambda: len(acked.entries) >= target, work)
            helpers = children_of(process.pid)
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            alive = await asyncio.to_thread(wait_gone, helpers, 10.0)
            assert not alive, f"helpers {alive} outlived the killed node"
            acked.changed.set()  # the reader waiting for news finds the node gone
            done, pending = await asyncio.wait(work, timeout=15)
            assert not pending, "a request to a killed node did not fail"
            for task in done:
                task.result()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    return check_database(config.database, config.node_id, acked, verified, readonly=life % 5 != 4)
