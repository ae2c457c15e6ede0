"""Benchmark: how fast a new entry reaches every node, and what two in-sync nodes cost each other per round.

Run as ``python tests/bench/gossip.py [--quick]``; prints JSON lines.

Convergence: N simulated nodes (``Cluster`` from the gossip tests: the real ``Gossip``/``GossipServer`` over
``MemoryTransport`` on a virtual-time loop), one node appends an entry, then synchronous rounds — every
node runs one exchange with a random peer, all at once (a constant 10 ms virtual latency keeps them in
lockstep: no entry crosses two hops in one round), and every pull they trigger finishes — until all N
hold it. Median over trials (different seeds), against the push-pull bound log₃N + ln ln N; goal: ratio
≤ 1.5. ``push_pull`` counts rounds with the at-once push switched off (``fanout=0``), the pure
anti-entropy case the bound is about; ``with_push`` with it on (fanout 3, sent before round 1). N=100
runs on the real SQLite ``Replica``; N=1,000 on ``MemoryReplica`` (same API, in-memory) so that the
benchmark measures gossip, not a thousand SQLite files.

Steady state: bytes on the wire for one round between two in-sync nodes. ``MemoryTransport`` counts bodies
only; HTTP/1.1 and RFC 9421 headers are added as an estimate, measured once here from a real signed request
(``SignedClient.headers`` for the digest request, plus the headers aiohttp sends) and a typical aiohttp
response header block. Goal: < 2 KB per round, headers included.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

# Runnable as a plain script from anywhere: the repository root goes on the path before our imports.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import aiohttp

from federation.client import SignedClient
from federation.gossip import DIGEST
from federation.transport import MemoryNetwork
from protocol import codec
from protocol.keys import SigningKey
from tests.federation.test_gossip import Cluster, Council, MemoryReplica, SqlReplica, run


def bound(n: int) -> float:
    return math.log(n, 3) + math.log(math.log(n))


async def _rounds_to_reach_all(n: int, seed: int, replica: Any, fanout: int) -> int:
    # A constant latency makes the rounds synchronous: every digest is compared (at t = 10 ms) before any
    # pull of the round lands, so an entry moves at most one hop per round, as in the bound's model.
    network = MemoryNetwork(random.Random(seed), latency=lambda rng: 0.01)
    async with Cluster(n, seed=seed, replica=replica, gossip_fanout=fanout, network=network) as cluster:
        origin = cluster.nodes[0]
        origin.append(1)
        await cluster.idle()
        for rounds in range(1, 100):
            await cluster.round()
            if cluster.holding(origin.id, 1) == n:
                return rounds
    raise RuntimeError(f"no convergence of {n} nodes in 100 rounds")


def convergence(n: int, trials: int, replica: Any, name: str) -> dict[str, Any]:
    started = time.perf_counter()
    out: dict[str, Any] = {"bench": "gossip.convergence", "nodes": n, "trials": trials, "replica": name}
    for label, fanout in (("push_pull", 0), ("with_push", 3)):
        rounds = [run(_rounds_to_reach_all(n, 1000 * n + t, replica, fanout)) for t in range(trials)]
        median = statistics.median(rounds)
        out[f"{label}_rounds"] = rounds
        out[f"{label}_median"] = median
        out[f"{label}_ratio"] = round(median / bound(n), 2)
    out["bound_log3N_lnlnN"] = round(bound(n), 2)
    out["goal_ratio"] = 1.5
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


async def _header_estimate() -> dict[str, int]:
    """Bytes of the HTTP/1.1 request and response heads of one digest exchange, from a real signed
    request: what ``MemoryTransport`` does not see."""
    key, peer = SigningKey.from_seed(bytes(32)), SigningKey.from_seed(b"\x01" * 32).public.raw
    body = codec.encode({"hash": bytes(32)})
    base = "https://council-node.example.org"
    async with aiohttp.ClientSession() as session:
        client = SignedClient(session, base, key, peer)
        headers = client.headers("POST", base + DIGEST, body)
    headers.update(
        {
            "Host": "council-node.example.org",
            "Content-Type": "application/msgpack",
            "Accept": "application/msgpack",
            "Content-Length": str(len(body)),
            "User-Agent": f"Python/3.11 aiohttp/{aiohttp.__version__}",
            "Accept-Encoding": "gzip, deflate",
        }
    )
    request = f"POST {DIGEST} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    response_headers = {
        "Content-Type": "application/msgpack",
        "Content-Length": "9",
        "Date": "Fri, 27 Nov 2026 04:00:00 GMT",
        "Server": f"Python/3.11 aiohttp/{aiohttp.__version__}",
    }
    response = "HTTP/1.1 200 OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in response_headers.items()) + "\r\n"
    return {"request": len(request.encode()), "response": len(response.encode())}


async def _steady(logs: int, replica: Any) -> dict[str, int]:
    councils = [Council(50_000 + i) for i in range(logs)]
    for council in councils:
        council.sign(3)
    async with Cluster(2, replica=replica) as cluster:
        a, b = cluster.nodes
        for node in (a, b):
            for council in councils:
                node.replica.append(council.log_id, council.entries)
        assert await a.gossip.run_round(b.id)
        await cluster.idle()
        cluster.network.traffic.reset()
        assert await a.gossip.run_round(b.id)
        assert a.gossip.stats.equal >= 1
        traffic = cluster.network.traffic
        return {"messages": traffic.messages, "body_bytes": traffic.bytes}


async def _one_differs(logs: int) -> dict[str, int]:
    """Bytes of a round in which one of ``logs`` logs is one entry ahead on the other side (buckets)."""
    councils = [Council(70_000 + i) for i in range(logs)]
    for council in councils:
        council.sign(1)
    async with Cluster(2, replica=MemoryReplica) as cluster:
        a, b = cluster.nodes
        for node in (a, b):
            for council in councils:
                node.replica.append(council.log_id, council.entries)
        b.replica.append(councils[0].log_id, councils[0].sign(1))
        cluster.network.traffic.reset()
        assert await a.gossip.run_round(b.id)
        await cluster.idle()
        traffic = cluster.network.traffic
        return {"messages": traffic.messages, "body_bytes": traffic.bytes}


def steady_state() -> list[dict[str, Any]]:
    headers = asyncio.run(_header_estimate())
    per_exchange = headers["request"] + headers["response"]
    lines = []
    for logs in (1, 2000):
        measured = run(_steady(logs, SqlReplica if logs < 100 else MemoryReplica))
        exchanges = measured["messages"] // 2
        total = measured["body_bytes"] + exchanges * per_exchange
        lines.append(
            {
                "bench": "gossip.steady_state",
                "logs": logs,
                **measured,
                "header_bytes_estimate": exchanges * per_exchange,
                "request_head": headers["request"],
                "response_head": headers["response"],
                "total_bytes": total,
                "goal_bytes": 2048,
                "headers": "estimated: a real SignedClient.headers digest request + aiohttp default headers",
            }
        )
    differs = run(_one_differs(2000))
    exchanges = differs["messages"] // 2
    lines.append(
        {
            "bench": "gossip.one_log_differs",
            "logs": 2000,
            **differs,
            "total_bytes_estimate": differs["body_bytes"] + exchanges * per_exchange,
            "full_heads_bytes": len(codec.encode([[bytes(32), 1, bytes(32)]] * 2000)),
        }
    )
    return lines


# --- catch-up over real HTTP on loopback -----------------------------------------------------------------
#
# One server process (``shora serve``) holds a big log (``n`` entries) and a small one, both written straight
# into its SQLite before it starts, with the pullers already in its peer table. Each puller is a full node
# served in this process; ``POST /v1/admin/sync`` makes it run one gossip round with the server and pull
# what it trusts. Catch-up: a fresh puller pulls the big log, against the bare single-threaded Ed25519
# verification of the same entries, measured right before (the machine is shared: the two are compared
# within one run, and the median ratio is kept). Wire: a puller that already synced the small log syncs
# ``k`` new entries of it through a TCP relay that counts every byte both ways.

SMALL_BEFORE = 10  # entries of the small log the wire puller takes in its first sync
NOWHERE = "http://127.0.0.1:9"  # a peer URL that refuses at once: trusts a key without talking to it


def _build_log(key: SigningKey, n: int) -> list[Any]:
    from protocol.entry import sign_entry

    entries: list[Any] = []
    for seq in range(n):
        entries.append(
            sign_entry(
                key,
                log_id=key.public.raw,
                seq=seq,
                prev=entries[-1].id if entries else None,
                ts_ms=1_700_000_000_000 + seq,
                vis="public",
                body={"kind": "note", "text": f"entry {seq}"},
            )
        )
    return entries


def _write_server(database: Path, logs: list[tuple[SigningKey, list[Any]]], peers: list[bytes]) -> None:
    """Logs appended in big batches (each with a checkpoint), and the pullers trusted."""
    from federation.peers import PeerTable
    from federation.store import LogStore
    from node.storage.clock import now_ms
    from node.storage.drafts import checkpoint_signer
    from node.storage.migrations import open_database

    conn = open_database(database)
    try:
        store, table = LogStore(conn), PeerTable(conn)
        for key, entries in logs:
            for start in range(0, len(entries), 10_000):
                store.append(key.public.raw, entries[start : start + 10_000], checkpoint_signer(key))
        with conn:
            for peer in peers:
                table.add(peer, NOWHERE, now_ms())
    finally:
        conn.close()


def _trust(directory: Path, peers: list[tuple[bytes, str]], settings: dict[str, Any]) -> None:
    """A puller's peer table and settings, written before it starts."""
    from federation.peers import PeerTable
    from node import config as cfg
    from node.storage.clock import now_ms
    from node.storage.migrations import open_database

    raw = json.loads((directory / "node.json").read_text())
    raw["settings"] = {**raw.get("settings", {}), **settings}
    (directory / "node.json").write_text(json.dumps(raw))
    conn = open_database(cfg.load(directory).database)
    try:
        with conn:
            for node_id, url in peers:
                PeerTable(conn).add(node_id, url, now_ms())
    finally:
        conn.close()


class _Relay:
    """A TCP relay to ``target`` (changeable: the server restarts on another port) counting every byte
    it carries, both ways: the bytes on the wire."""

    def __init__(self, target: str) -> None:
        self.target, self.bytes = target, 0
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        host, port = self.server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                self.bytes += len(data)
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = self.target.split("//")[1].split(":")
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))


class _Puller:
    """A node served in this process, driven through its operator API."""

    def __init__(self, directory: Path, session: aiohttp.ClientSession) -> None:
        from node import config as cfg

        self.directory, self.session = directory, session
        self.config = cfg.load(directory)
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.op: SignedClient | None = None

    async def __aenter__(self) -> _Puller:
        from node.http.server import address_file, serve

        # as ``shora serve`` runs it (node.http.server.run): the only node of its process
        self.task = asyncio.create_task(serve(self.config, self.stop, own_process=True))
        while not address_file(self.directory).exists():
            await asyncio.sleep(0.01)
        url = "http://" + address_file(self.directory).read_text().strip()
        key = self.config.operator_signing_key()
        self.op = SignedClient(self.session, url, key, self.config.node_id, timeout=600)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        if self.task is not None:
            await self.task

    async def sync(self) -> float:
        assert self.op is not None
        started = time.perf_counter()
        await self.op.request("POST", "/v1/admin/sync")
        return time.perf_counter() - started

    async def catch_up(self, log_id: bytes, size: int) -> tuple[float, float]:
        """Seconds until the log holds ``size`` entries (committed, each page authenticated by its
        checkpoint), and until the sync returns (every entry's own signature verified as well)."""
        started = time.perf_counter()
        sync = asyncio.create_task(self.sync())
        while await self.size(log_id) < size and not sync.done():
            await asyncio.sleep(0.02)
        committed = time.perf_counter() - started
        await sync
        return committed, time.perf_counter() - started

    async def size(self, log_id: bytes) -> int:
        assert self.op is not None
        logs = json.loads((await self.op.request("GET", "/v1/logs")).body)["logs"]
        return int({entry["log_id"]: entry["size"] for entry in logs}.get(codec.b64u(log_id), 0))


def _signed(entries: list[Any]) -> list[tuple[bytes, bytes]]:
    """What the bare primitive verifies of each entry: its signature and the framed header."""
    from protocol.keys import ENTRY_TAG

    return [(entry.signature, ENTRY_TAG + entry.header_bytes) for entry in entries]


def _bare_verify_rate(key: SigningKey, signed: list[tuple[bytes, bytes]]) -> float:
    """Entries per second of the bare primitive, single-threaded, on the same entries."""
    from protocol.keys import BACKENDS, DEFAULT_BACKEND

    verify = BACKENDS[DEFAULT_BACKEND]
    started = time.perf_counter()
    for signature, message in signed:
        assert verify(key.public.raw, signature, message)
    return len(signed) / (time.perf_counter() - started)


async def _catchup(n: int, k: int, runs: int, folder: Path) -> list[dict[str, Any]]:
    from node import config as cfg
    from node.bootstrap import init_node
    from node.rules.council import FoundCouncil
    from tests.node.served import start_served

    def found(name: str) -> FoundCouncil:
        place = "Toronto", "CA", "North America"
        return FoundCouncil(name=name, name_fa="شورا", city=place[0], country=place[1], continent=place[2])

    def make_node(name: str) -> Path:
        init_node(folder / name, found(name), listen="127.0.0.1:0")
        return folder / name

    big, small = SigningKey.from_seed(b"\x51" * 32), SigningKey.from_seed(b"\x52" * 32)
    started = time.perf_counter()
    big_log, small_log = _build_log(big, n), _build_log(small, SMALL_BEFORE + k)
    server_dir = make_node("server")
    pullers = [make_node(f"catchup-{i}") for i in range(runs)]
    wire_dir = make_node("wire")
    server_cfg = cfg.load(server_dir)
    _write_server(
        server_cfg.database,
        [(big, big_log), (small, small_log[:SMALL_BEFORE])],
        [cfg.load(d).node_id for d in [*pullers, wire_dir]],
    )
    # The pullers run in this process: it keeps only the bytes the bare verify needs, not the n entries
    # (2n objects a node catching up would not hold, which every full collection of its garbage
    # collector would walk)
    signed = _signed(big_log)
    del big_log
    gc.collect()
    built = time.perf_counter() - started

    quiet = {"gossip_interval_s": 3600}  # no round of its own during a measurement
    rates, bares, seconds, verified_seconds = [], [], [], []
    relay = _Relay("")
    log_file = open(folder / "server.log", "wb")  # noqa: SIM115 - open across the server's restarts
    process, server_url = await start_served(server_dir, log_file)
    try:
        async with aiohttp.ClientSession() as session:
            for directory in pullers:
                _trust(directory, [(server_cfg.node_id, server_url), (big.public.raw, NOWHERE)], quiet)
                bares.append(_bare_verify_rate(big, signed))
                async with _Puller(directory, session) as puller:
                    committed, checked = await puller.catch_up(big.public.raw, n)
                    assert await puller.size(big.public.raw) == n
                seconds.append(committed)
                verified_seconds.append(checked)
                rates.append(n / committed)

            relay.target = server_url
            via = await relay.start()
            _trust(wire_dir, [(server_cfg.node_id, via), (small.public.raw, NOWHERE)], quiet)
            async with _Puller(wire_dir, session) as puller:
                await puller.sync()
                assert await puller.size(small.public.raw) == SMALL_BEFORE
                # k new entries on the server: stopped, appended to, started again (on another port)
                process.terminate()
                process.wait(timeout=20)
                _write_server(server_cfg.database, [(small, small_log)], [])
                process, server_url = await start_served(server_dir, log_file)
                relay.target, relay.bytes = server_url, 0
                await puller.sync()
                wire = relay.bytes
                assert await puller.size(small.public.raw) == SMALL_BEFORE + k
    finally:
        relay.close()
        process.terminate()
        process.wait(timeout=20)
        log_file.close()

    ratios = [rate / bare for rate, bare in zip(rates, bares, strict=True)]
    new = small_log[SMALL_BEFORE:]
    own = sum(len(e.header_bytes) + len(e.signature) + len(e.body_bytes or b"") for e in new)
    return [
        {
            "bench": "gossip.catchup_http",
            "entries": n,
            "runs": runs,
            "seconds": [round(s, 2) for s in seconds],
            "entries_per_s": round(statistics.median(rates)),
            "bare_verify_per_s": round(statistics.median(bares)),
            "ratios": [round(r, 2) for r in ratios],
            "ratio": round(statistics.median(ratios), 2),
            "goal_ratio": 3.0,
            "verified_seconds": [round(s, 2) for s in verified_seconds],
            "verified_ratio": round(
                statistics.median(n / s / bare for s, bare in zip(verified_seconds, bares, strict=True)), 2
            ),
            "setup_seconds": round(built, 1),
        },
        {
            "bench": "gossip.sync_wire_bytes",
            "entries": k,
            "wire_bytes": wire,
            "entries_bytes": own,
            "ratio": round(wire / own, 2),
            "goal_ratio": 1.3,
            "note": "after a first sync; every byte through a TCP relay both ways: digest, headers, page",
        },
    ]


def catchup(n: int, k: int, runs: int = 3) -> list[dict[str, Any]]:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return asyncio.run(_catchup(n, k, runs, Path(folder)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer trials, N=1,000 once")
    args = parser.parse_args()
    for line in steady_state():
        print(json.dumps(line), flush=True)
    print(json.dumps(convergence(100, 5 if args.quick else 9, SqlReplica, "sqlite")), flush=True)
    print(json.dumps(convergence(100, 5 if args.quick else 9, MemoryReplica, "memory")), flush=True)
    print(json.dumps(convergence(1000, 5, MemoryReplica, "memory")), flush=True)
    for line in catchup(20_000 if args.quick else 100_000, 1_000, 3):
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
