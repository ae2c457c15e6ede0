"""Benchmarks of a council node, each against the bare primitive measured in the same run (DESIGN.md §9).

Run as ``python tests/bench/node.py``; prints four JSON lines on stdout (progress goes to stderr):

- ``node.commands_http``: governance commands per second over HTTP, one at a time, each answered only once
  its signed entry is durable (operator-signed member joins through ``SignedClient``), against one durable
  single-row SQLite commit per op (WAL, synchronous=FULL) in a file on the same filesystem.
- ``node.group_commit``: entries per second when ``BATCH`` commands arrive together at the in-process
  ``Writer`` (judged, signed, checkpointed and committed in one transaction), against signing the same
  number of entries with ``sign_entry`` and ``executemany``-ing them into a raw table, one transaction per
  batch. The writer has its signing process (node/storage/signer.py) sign on the second core while it judges;
  the same writer without it (every signature in one process) is reported beside it, and so is the same load
  over HTTP (``HTTP_IN_FLIGHT`` requests in flight).
- ``node.publication``: public commands per second (each a record entry and its public twin, in batches of
  ``BATCH`` at the writer) against the same bare sign + insert of one entry per command; the same writer's
  council-only commands (a record entry alone — what every entry cost before the split) are reported beside
  it, and ``publication_cost`` is how many of those one public command costs.
- ``node.bundle_get``: ``GET /v1/decisions/{id}/bundle`` requests per second against a bare aiohttp handler
  returning a static body of the same size, both served by a separate process on 127.0.0.1 port 0 and
  loaded by the same lean keep-alive client (another process, ``LOAD_CONNECTIONS`` connections).

Figures are medians over repetitions, bound and measurement interleaved so drift on this noisy shared
2-core box hits both alike; compare the ratio with the goal, never an absolute rate with another machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

# Runnable as a plain script from anywhere: the repository root goes on the path before our imports.
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402  (after the path fix above)
from aiohttp import web  # noqa: E402

from federation.client import SignedClient  # noqa: E402
from node.bootstrap import init_node  # noqa: E402
from node.rules.council import Census, FoundCouncil, JoinMember, Rules  # noqa: E402
from node.storage import directory  # noqa: E402
from node.storage.clock import now_ms  # noqa: E402
from node.storage.writer import Writer  # noqa: E402
from protocol.entry import SALT_SIZE, sign_entry  # noqa: E402
from protocol.keys import SigningKey  # noqa: E402

REPS = 5
SEQ_COMMANDS = 120  # sequential HTTP commands per repetition
SEQ_COMMITS = 200  # raw durable commits per repetition
BATCH = 256  # commands arriving together (the writer's default write_batch_max)
BATCHES_PER_REP = 8
HTTP_IN_FLIGHT = 64
HTTP_CONCURRENT_COMMANDS = 512
DECISIONS = 40
LOAD_CONNECTIONS = 16
LOAD_REQUESTS = 6000
LOAD_WARMUP = 500

GOAL_GROUP_COMMIT = 0.7
GOAL_BUNDLE_GET = 0.5


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values)


def result(
    bench: str, measured: tuple[str, float], bound: tuple[str, float], goal: float | None, **extra: Any
) -> str:
    """One JSON line; ``goal`` is the issue's, and None where the issue sets none (only the ratio then)."""
    ratio = measured[1] / bound[1]
    goals = {} if goal is None else {"goal": goal, "meets_goal": ratio >= goal}
    return json.dumps(
        {
            "bench": bench,
            measured[0]: round(measured[1], 1),
            bound[0]: round(bound[1], 1),
            "ratio": round(ratio, 3),
            **goals,
            **extra,
        },
        separators=(",", ":"),
    )


# --- a council node in its own process ----------------------------------------------------------------


def found(name: str = "Bench Council") -> FoundCouncil:
    return FoundCouncil(
        name=name,
        name_fa="شورای آزمون",
        city="Toronto",
        country="CA",
        continent="North America",
        rules=Rules(),
    )


class NodeProcess:
    """``node.http.server.run`` on 127.0.0.1:0 in a child process; stopped with SIGTERM like a deployment."""

    def __init__(self, folder: Path) -> None:
        self.config = init_node(folder, found(), listen="127.0.0.1:0")
        code = (
            "import sys; from node import config; from node.http.server import run; "
            "run(config.load(sys.argv[1]))"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, str(folder)], cwd=ROOT, stdout=subprocess.DEVNULL
        )
        address = folder / "serve.addr"
        for _ in range(1000):
            if address.exists() or self.proc.poll() is not None:
                break
            time.sleep(0.01)
        if not address.exists():
            raise RuntimeError("the node did not start")
        self.url = f"http://{address.read_text().strip()}"

    def client(self, session: aiohttp.ClientSession) -> SignedClient:
        return SignedClient(session, self.url, self.config.operator_signing_key(), self.config.node_id)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


# --- 1. sequential commands over HTTP vs one durable commit per op --------------------------------------


def durable_commits_per_s(folder: Path, n: int) -> float:
    path = folder / "raw-commit.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)")
    payload = os.urandom(200)
    start = time.perf_counter()
    for _ in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (v) VALUES (?)", (payload,))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


async def sequential_joins_per_s(op: SignedClient, n: int, tag: str) -> float:
    start = time.perf_counter()
    for i in range(n):
        await op.call("POST", "/v1/admin/members", {"name": f"seq-{tag}-{i}"})
    return n / (time.perf_counter() - start)


async def concurrent_joins_per_s(op: SignedClient, n: int, in_flight: int, tag: str) -> float:
    gate = asyncio.Semaphore(in_flight)

    async def one(i: int) -> None:
        async with gate:
            await op.call("POST", "/v1/admin/members", {"name": f"con-{tag}-{i}"})

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return n / (time.perf_counter() - start)


async def bench_http_commands(folder: Path) -> tuple[str, float]:
    node = NodeProcess(folder / "http-node")
    try:
        connector = aiohttp.TCPConnector(limit=HTTP_IN_FLIGHT)
        async with aiohttp.ClientSession(connector=connector) as session:
            op = node.client(session)
            await sequential_joins_per_s(op, 20, "warm")
            http, raw = [], []
            for rep in range(REPS):
                http.append(await sequential_joins_per_s(op, SEQ_COMMANDS, str(rep)))
                raw.append(durable_commits_per_s(folder, SEQ_COMMITS))
            line = result(
                "node.commands_http",
                ("commands_per_s", median(http)),
                ("sqlite_durable_commits_per_s", median(raw)),
                None,  # the issue reports this ratio and sets no goal for it
                reps=REPS,
                commands_per_rep=SEQ_COMMANDS,
            )
            concurrent = [
                await concurrent_joins_per_s(op, HTTP_CONCURRENT_COMMANDS, HTTP_IN_FLIGHT, str(rep))
                for rep in range(3)
            ]
    finally:
        node.stop()
    return line, median(concurrent)


# --- 2. group commit in the writer vs raw signing + batched insert ----------------------------------------

RAW_SCHEMA = """CREATE TABLE entries (
    log_id BLOB NOT NULL, seq INTEGER NOT NULL, id BLOB NOT NULL,
    header BLOB NOT NULL, signature BLOB NOT NULL, body BLOB, vis TEXT NOT NULL,
    ts_ms INTEGER NOT NULL, kind TEXT,
    PRIMARY KEY (log_id, seq))"""  # as federation/store.py since 0005 (its decision indexes aside)


class RawLog:
    """The bound: sign ``BATCH`` join entries and insert them in one durable transaction, nothing else."""

    def __init__(self, path: Path) -> None:
        self.key = SigningKey.generate()
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute(RAW_SCHEMA)
        self.seq, self.prev = 0, None
        self.charter = os.urandom(32)

    def batch(self, n: int) -> None:
        rows, ts = [], now_ms()
        for _ in range(n):
            body = {"kind": "member/join", "member": os.urandom(16), "charter_hash": self.charter,
                    "pubkey": None, "salt": os.urandom(SALT_SIZE)}  # fmt: skip
            log_id = self.key.public.raw
            entry = sign_entry(
                self.key, log_id=log_id, seq=self.seq, prev=self.prev, ts_ms=ts, vis="council", body=body
            )
            rows.append((log_id, entry.seq, entry.id, entry.header_bytes, entry.signature,
                         entry.body_bytes, "council", ts, "member/join"))  # fmt: skip
            self.seq, self.prev = self.seq + 1, entry.id
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self.conn.execute("COMMIT")


async def rate(work: Callable[[], Awaitable[None]]) -> float:
    """Entries (or commands) per second over ``BATCHES_PER_REP`` batches of ``BATCH``."""
    start = time.perf_counter()
    for _ in range(BATCHES_PER_REP):
        await work()
    return BATCH * BATCHES_PER_REP / (time.perf_counter() - start)


async def writer_batch(writer: Writer, n: int) -> None:
    charter = writer.state.charter_hash or b""

    async def join(i: int) -> None:
        member = os.urandom(16)
        await writer.submit(
            JoinMember(member, charter, None),
            directory.add(member, f"group-{i}", "", now_ms()),
        )

    await asyncio.gather(*(join(i) for i in range(n)))


async def bench_group_commit(folder: Path, http_rate: float) -> str:
    config = init_node(folder / "writer-node", found(), listen="127.0.0.1:0")
    writer = Writer(config.database, config.root_key(), config.settings)
    # the same writer with no signing process: every signature made in the node's own process
    alone_config = init_node(folder / "alone-node", found(), listen="127.0.0.1:0")
    alone = Writer(
        alone_config.database, alone_config.root_key(), replace(config.settings, signer_chunk=10**9)
    )
    await writer.start()
    await alone.start()
    raw = RawLog(folder / "raw-batch.db")

    async def raw_batch() -> None:
        raw.batch(BATCH)

    try:
        await writer_batch(writer, BATCH)  # warm: the signing process starts at the first large batch
        await writer_batch(alone, BATCH)
        raw.batch(BATCH)
        ours, one_process, bare = [], [], []
        for _ in range(REPS):
            ours.append(await rate(lambda: writer_batch(writer, BATCH)))
            one_process.append(await rate(lambda: writer_batch(alone, BATCH)))
            bare.append(await rate(raw_batch))
    finally:
        await writer.close()
        await alone.close()
        raw.conn.close()
    return result(
        "node.group_commit",
        ("entries_per_s", median(ours)),
        ("raw_sign_batch_insert_per_s", median(bare)),
        GOAL_GROUP_COMMIT,
        batch=BATCH,
        reps=REPS,
        signing="child process, on the second core (node/storage/signer.py)",
        one_process_entries_per_s=round(median(one_process), 1),
        one_process_ratio=round(median(one_process) / median(bare), 3),
        http_entries_per_s=round(http_rate, 1),
        http_in_flight=HTTP_IN_FLIGHT,
    )


# --- 2b. an append with publication (record entry + twin) vs a record entry alone --------------------------


async def writer_census(writer: Writer, n: int) -> None:
    """``n`` public commands at once: each a record entry and its public twin."""
    await asyncio.gather(*(writer.submit(Census()) for _ in range(n)))


async def bench_publication(folder: Path) -> str:
    """A public command (``Census``: a record entry and its twin, signed, both logs' trees and checkpoints)
    against a council-only one (``JoinMember``: a record entry alone, as every entry cost before the split),
    in batches of ``BATCH``, each as a ratio to the bare sign + insert of one entry per command."""
    public_config = init_node(folder / "publication-node", found(), listen="127.0.0.1:0")
    council_config = init_node(folder / "record-only-node", found(), listen="127.0.0.1:0")
    public = Writer(public_config.database, public_config.root_key(), public_config.settings)
    council = Writer(council_config.database, council_config.root_key(), council_config.settings)
    await public.start()
    await council.start()
    raw = RawLog(folder / "raw-publication.db")

    async def raw_batch() -> None:
        raw.batch(BATCH)

    try:
        await writer_census(public, BATCH)  # warm: the signing processes start at the first large batch
        await writer_batch(council, BATCH)
        published, alone, bare = [], [], []
        for _ in range(REPS):
            published.append(await rate(lambda: writer_census(public, BATCH)))
            alone.append(await rate(lambda: writer_batch(council, BATCH)))
            bare.append(await rate(raw_batch))
    finally:
        await public.close()
        await council.close()
        raw.conn.close()
    return result(
        "node.publication",
        ("public_commands_per_s", median(published)),
        ("raw_sign_batch_insert_per_s", median(bare)),
        None,
        batch=BATCH,
        reps=REPS,
        record_only_commands_per_s=round(median(alone), 1),
        record_only_ratio=round(median(alone) / median(bare), 3),
        # how many record-only commands one public command costs
        publication_cost=round(median(alone) / median(published), 3),
    )


# --- 3. bundle GET vs a bare aiohttp handler of the same size ------------------------------------------


def serve_static(size: int) -> None:
    """Child process: a bare aiohttp app answering GET /static/{id} with ``size`` fixed bytes."""
    body = os.urandom(size)

    async def handler(request: web.Request) -> web.Response:
        request.match_info["id"]
        return web.Response(body=body, content_type="application/msgpack")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/static/{id}", handler)
        runner = web.AppRunner(
            app,
            access_log_format='"%r" %s %b %Tf',
            keepalive_timeout=15.0,
            handler_cancellation=True,
            shutdown_timeout=5,
        )  # fmt: skip  (as node.http.server)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(f"{runner.addresses[0][0]}:{runner.addresses[0][1]}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes it
        await runner.cleanup()

    asyncio.run(main())


class _LoadConnection(asyncio.Protocol):
    """One keep-alive connection sending GETs back to back; parses just enough HTTP/1.1 to frame replies."""

    def __init__(self, load: _Load) -> None:
        self.load, self.buffer = load, bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.send()

    def send(self) -> None:
        request = self.load.next_request()
        if request is None:
            assert self.transport is not None
            self.transport.close()
        else:
            assert self.transport is not None
            self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            length = int(head.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
            if len(self.buffer) < end + 4 + length:
                return
            if not head.startswith(b"http/1.1 200"):
                self.load.errors += 1
            del self.buffer[: end + 4 + length]
            self.load.done += 1
            self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        self.load.closed.release()


class _Load:
    def __init__(self, requests: list[bytes], total: int) -> None:
        self.requests, self.total = requests, total
        self.sent = self.done = self.errors = 0
        self.closed = asyncio.Semaphore(0)

    def next_request(self) -> bytes | None:
        if self.sent >= self.total:
            return None
        request = self.requests[self.sent % len(self.requests)]
        self.sent += 1
        return request


def load(host: str, port: int, paths: list[str], connections: int, total: int, warmup: int) -> None:
    """Child process: ``total`` GETs over ``connections`` keep-alive connections; prints requests/s."""

    async def run(count: int) -> float:
        requests = [f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode() for p in paths]
        state = _Load(requests, count)
        loop = asyncio.get_running_loop()
        start = time.perf_counter()
        for _ in range(connections):
            await loop.create_connection(lambda: _LoadConnection(state), host, port)
        for _ in range(connections):
            await state.closed.acquire()
        elapsed = time.perf_counter() - start
        if state.errors or state.done != count:
            raise RuntimeError(f"{state.errors} errors, {state.done}/{count} answered")
        return count / elapsed

    async def main() -> None:
        await run(warmup)
        print(json.dumps({"rps": await run(total)}), flush=True)

    asyncio.run(main())


def run_load(url: str, paths: list[str]) -> float:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    args = [host, port, json.dumps(paths), str(LOAD_CONNECTIONS), str(LOAD_REQUESTS), str(LOAD_WARMUP)]
    out = subprocess.run(
        [sys.executable, __file__, "--load", *args], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return float(json.loads(out.stdout)["rps"])


async def build_decisions(op: SignedClient, count: int) -> list[str]:
    names = [f"member-{i}" for i in range(5)]
    for name in names:
        await op.call("POST", "/v1/admin/members", {"name": name})
    assembly = (await op.call("POST", "/v1/admin/assemblies", {"agenda": "Bench assembly"}))["assembly_id"]
    await op.call("POST", f"/v1/admin/assemblies/{assembly}/attend", {"members": names})
    decisions = []
    for i in range(count):
        motion = (await op.call("POST", "/v1/admin/motions", {"assembly": assembly, "text": f"Motion {i}"}))[
            "motion_id"
        ]
        await asyncio.gather(
            *(
                op.call("POST", f"/v1/admin/motions/{motion}/votes", {"member": n, "choice": "yes"})
                for n in names
            )
        )
        decisions.append((await op.call("POST", f"/v1/admin/motions/{motion}/close"))["decision_id"])
    return decisions


async def bench_bundle_get(folder: Path) -> str:
    node = NodeProcess(folder / "bundle-node")
    static: subprocess.Popen[str] | None = None
    try:
        async with aiohttp.ClientSession() as session:
            decisions = await build_decisions(node.client(session), DECISIONS)
            sizes = []
            for decision in decisions:
                async with session.get(f"{node.url}/v1/decisions/{decision}/bundle") as response:
                    assert response.status == 200, response.status
                    sizes.append(len(await response.read()))
        size = int(median(sizes))
        static = subprocess.Popen(
            [sys.executable, __file__, "--serve-static", str(size)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert static.stdout is not None
        static_url = f"http://{static.stdout.readline().strip()}"
        bundle_paths = [f"/v1/decisions/{d}/bundle" for d in decisions]
        static_paths = [f"/static/{d}" for d in decisions]
        ours, bare = [], []
        for _ in range(REPS):
            ours.append(run_load(node.url, bundle_paths))
            bare.append(run_load(static_url, static_paths))
    finally:
        node.stop()
        if static is not None:
            assert static.stdin is not None
            static.stdin.close()
            static.wait(timeout=30)
    return result(
        "node.bundle_get",
        ("requests_per_s", median(ours)),
        ("bare_aiohttp_per_s", median(bare)),
        GOAL_BUNDLE_GET,
        decisions=DECISIONS,
        bundle_bytes=size,
        connections=LOAD_CONNECTIONS,
        requests_per_rep=LOAD_REQUESTS,
        reps=REPS,
    )


async def timed(name: str, work: Awaitable[Any]) -> Any:
    start = time.perf_counter()
    value = await work
    say(f"{name}: {time.perf_counter() - start:.1f} s")
    return value


async def main() -> None:
    # Everything on one filesystem (the default temp dir): the node's file and the raw bounds' alike.
    with tempfile.TemporaryDirectory(prefix="shora-bench-") as temp:
        folder = Path(temp)
        commands_line, http_rate = await timed("commands_http", bench_http_commands(folder))
        print(commands_line, flush=True)
        print(await timed("group_commit", bench_group_commit(folder, http_rate)), flush=True)
        print(await timed("publication", bench_publication(folder)), flush=True)
        print(await timed("bundle_get", bench_bundle_get(folder)), flush=True)


COMMANDS: dict[str, Callable[[list[str]], None]] = {
    "--serve-static": lambda a: serve_static(int(a[0])),
    "--load": lambda a: load(a[0], int(a[1]), json.loads(a[2]), int(a[3]), int(a[4]), int(a[5])),
}

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in COMMANDS:
        COMMANDS[sys.argv[1]](sys.argv[2:])
    else:
        asyncio.run(main())
