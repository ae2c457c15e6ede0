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
    async with Cluster(n, seed=seed, replica=replica, fanout=fanout, network=network) as cluster:
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
    headers.update({
        "Host": "council-node.example.org",
        "Content-Type": "application/msgpack",
        "Accept": "application/msgpack",
        "Content-Length": str(len(body)),
        "User-Agent": f"Python/3.11 aiohttp/{aiohttp.__version__}",
        "Accept-Encoding": "gzip, deflate",
    })
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
        lines.append({
            "bench": "gossip.steady_state", "logs": logs, **measured,
            "header_bytes_estimate": exchanges * per_exchange, "request_head": headers["request"],
            "response_head": headers["response"], "total_bytes": total, "goal_bytes": 2048,
            "headers": "estimated from a real SignedClient.headers digest request + aiohttp default headers",
        })
    differs = run(_one_differs(2000))
    exchanges = differs["messages"] // 2
    lines.append({
        "bench": "gossip.one_log_differs", "logs": 2000, **differs,
        "total_bytes_estimate": differs["body_bytes"] + exchanges * per_exchange,
        "full_heads_bytes": len(codec.encode([[bytes(32), 1, bytes(32)]] * 2000)),
    })
    return lines


# --- catch-up over real HTTP on loopback ----------------------------------------------------------------------


def _build_log(key: SigningKey, n: int) -> list[Any]:
    from protocol.entry import sign_entry

    entries: list[Any] = []
    for seq in range(n):
        entries.append(sign_entry(
            key, log_id=key.public.raw, seq=seq, prev=entries[-1].id if entries else None,
            ts_ms=1_700_000_000_000 + seq, vis="public", body={"kind": "note", "text": f"entry {seq}"},
        ))
    return entries


def _store_log(database: Path, key: SigningKey, entries: list[Any]) -> None:
    from federation.store import LogStore
    from node.service import checkpoint_signer, open_database

    conn = open_database(database)
    try:
        store = LogStore(conn)
        for start in range(0, len(entries), 10_000):
            store.append(key.public.raw, entries[start : start + 10_000], checkpoint_signer(key))
    finally:
        conn.close()


async def _proxy(target: str, counted: list[int]) -> tuple[asyncio.AbstractServer, str]:
    """A TCP relay to ``target`` counting every byte it carries, both ways: the bytes on the wire."""
    host, port = target.split("//")[1].split(":")

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                counted[0] += len(data)
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    bound = server.sockets[0].getsockname()
    return server, f"http://{bound[0]}:{bound[1]}"


async def _catchup(n: int, k: int, folder: Path) -> list[dict[str, Any]]:
    import subprocess

    from node import config as cfg
    from node.bootstrap import init_node
    from node.governance import FoundCouncil
    from node.server import serve
    from protocol.keys import BACKENDS, DEFAULT_BACKEND, ENTRY_TAG
    from tests.node.served import start_served

    def found(name: str) -> FoundCouncil:
        return FoundCouncil(name=name, name_fa="شورا", city="Toronto", country="CA", continent="North America")

    big, small = SigningKey.from_seed(b"\x51" * 32), SigningKey.from_seed(b"\x52" * 32)
    big_log, small_log = _build_log(big, n), _build_log(small, k)
    init_node(folder / "server", found("Server Council"), listen="127.0.0.1:0")
    server_cfg = cfg.load(folder / "server")
    _store_log(server_cfg.database, big, big_log)
    _store_log(server_cfg.database, small, small_log)

    verify = BACKENDS[DEFAULT_BACKEND]
    started = time.perf_counter()
    for entry in big_log:  # the bare primitive, single-threaded, on the same entries
        assert verify(big.public.raw, entry.signature, ENTRY_TAG + entry.header_bytes)
    bare = n / (time.perf_counter() - started)

    out: list[dict[str, Any]] = []
    with open(folder / "server.log", "wb") as log_file:
        process, server_url = await start_served(folder / "server", log_file)
        try:
            async with aiohttp.ClientSession() as session:
                for label, (log_key, size) in (("catchup", (big, n)), ("wire", (small, k))):
                    directory = folder / label
                    init_node(directory, found(f"{label} client"), listen="127.0.0.1:0")
                    config = cfg.load(directory)
                    stop = asyncio.Event()
                    task = asyncio.create_task(serve(config, stop))
                    while not (directory / "serve.addr").exists():
                        await asyncio.sleep(0.01)
                    url = "http://" + (directory / "serve.addr").read_text().strip()
                    op = SignedClient(session, url, config.operator_signing_key(), config.node_id, timeout=900)
                    server_op = SignedClient(
                        session, server_url, server_cfg.operator_signing_key(), server_cfg.node_id
                    )
                    await server_op.request("POST", "/v1/admin/peers", json.dumps(
                        {"url": url, "key": codec.b64u(config.node_id)}).encode())
                    counted = [0]
                    proxy, via = await _proxy(server_url, counted)
                    target = via if label == "wire" else server_url
                    await op.request("POST", "/v1/admin/peers", json.dumps(
                        {"url": target, "key": codec.b64u(server_cfg.node_id)}).encode())
                    await op.request("POST", "/v1/admin/peers", json.dumps(
                        {"url": "http://127.0.0.1:9", "key": codec.b64u(log_key.public.raw)}).encode())
                    started = time.perf_counter()
                    await op.request("POST", "/v1/admin/sync")
                    seconds = time.perf_counter() - started
                    logs = json.loads((await op.request("GET", "/v1/logs")).body)["logs"]
                    held = {entry["log_id"]: entry["size"] for entry in logs}
                    assert held.get(codec.b64u(log_key.public.raw)) == size, held
                    if label == "catchup":
                        rate = n / seconds
                        out.append({
                            "bench": "gossip.catchup_http", "entries": n, "seconds": round(seconds, 2),
                            "entries_per_s": round(rate), "bare_verify_per_s": round(bare),
                            "ratio": round(rate / bare, 2), "goal_ratio": 1.0,
                        })
                    else:
                        own = sum(
                            len(e.header_bytes) + len(e.signature) + len(e.body_bytes or b"") for e in small_log
                        )
                        founding = held[codec.b64u(server_cfg.node_id)]  # the server's own log came too
                        out.append({
                            "bench": "gossip.sync_wire_bytes", "entries": k, "server_own_entries": founding,
                            "wire_bytes": counted[0], "entries_bytes": own,
                            "ratio": round(counted[0] / own, 2), "goal_ratio": 1.3,
                            "note": "every byte through a TCP relay both ways: digests, headers, pages, witnessing",
                        })
                    proxy.close()
                    stop.set()
                    await task
        finally:
            process.send_signal(subprocess.signal.SIGTERM)  # type: ignore[attr-defined]
            process.wait(timeout=20)
    return out


def catchup(n: int, k: int) -> list[dict[str, Any]]:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return asyncio.run(_catchup(n, k, Path(folder)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer trials, N=1,000 once")
    args = parser.parse_args()
    for line in steady_state():
        print(json.dumps(line), flush=True)
    print(json.dumps(convergence(100, 5 if args.quick else 9, SqlReplica, "sqlite")), flush=True)
    print(json.dumps(convergence(100, 5 if args.quick else 9, MemoryReplica, "memory")), flush=True)
    print(json.dumps(convergence(1000, 5, MemoryReplica, "memory")), flush=True)
    for line in catchup(20_000 if args.quick else 100_000, 1_000):
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
