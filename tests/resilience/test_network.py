"""Network faults (issue 11, suite: network): real nodes on loopback, every link through a TCP proxy
(``netfault``) that injects latency, cuts connections and partitions the federation, while one node's clock
is ten minutes off — and once the faults end, every honest node holds every log at one checkpoint.

The skewed node runs in its own process (``shora serve``) whose wall clock (``time.time``, ``time.time_ns``)
is shifted: it stamps its entries and its signed requests by it. Its signed requests fall outside every other
node's signature window (±120 s), and theirs outside its own, so while skewed it is cut off: the others
never hold its log. When its clock is fixed (it restarts at a new address, which the proxies follow), it
catches up and is caught up. Waits poll for outcomes with generous bounds; nothing waits on speed.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import aiohttp
import pytest

from federation.client import RemoteError, SignedClient
from node import config as cfg
from node.bootstrap import init_node
from node.http.server import address_file
from node.rules.council import FoundCouncil
from protocol.note import Checkpoint, parse_note
from tests.conftest import NodeFactory, RunningNode
from tests.federation.test_nodes import b64, converged, decide, heads, peer, until
from tests.resilience.netfault import Mesh

# quick rounds; a peer that failed is retried within 2 s once the faults end (the default backs off to 10 min)
SETTINGS = {"gossip_interval_s": 0.15, "request_timeout_s": 3.0, "peer_backoff_max_s": 2.0}
DEADLINE_S = 120.0  # generous: a loaded 2-core machine; a passing run never waits for it
LATENCY_S = 0.03
SKEWED = 3  # the index of the skewed node

# ``shora serve DIR`` in a process whose wall clock is off by OFFSET seconds
LAUNCH = """
import sys, time
offset = float(sys.argv[1])
real, real_ns = time.time, time.time_ns
time.time = lambda: real() + offset
time.time_ns = lambda: real_ns() + int(offset * 1_000_000_000)
sys.argv = ["shora", "serve", sys.argv[2]]
from node.cli.main import main
main()
"""


def operator_of(folder: Path, session: aiohttp.ClientSession, url: str, offset: int) -> SignedClient:
    """The operator's client of the skewed node, its requests created by that node's clock."""
    config = cfg.load(folder)
    return SignedClient(
        session, url, config.operator_signing_key(), config.node_id, clock=lambda: time.time() + offset
    )


async def serve_skewed(folder: Path, offset: int, output: IO[bytes]) -> tuple[subprocess.Popen[bytes], str]:
    address = address_file(folder)
    address.unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, str(offset), str(folder)],
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=output,
    )
    for _ in range(4000):
        if address.exists() or process.poll() is not None:
            break
        await asyncio.sleep(0.005)
    assert address.exists(), f"the skewed node did not bind (status {process.poll()})"
    return process, f"http://{address.read_text().strip()}"


def target(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


async def checkpoints(node: RunningNode) -> dict[str, tuple[int, bytes]]:
    """Every log the node holds: the (size, root) of its checkpoint, which covers the whole log."""
    held = {}
    for log_id, (size, _, note, _) in (await heads(node)).items():
        if note is None:
            return {}
        checkpoint = Checkpoint.from_body(parse_note(note).text)
        if checkpoint.size != size:
            return {}
        held[log_id] = (checkpoint.size, checkpoint.root)
    return held


async def skewed_decides(skewed: RunningNode, skew_s: int) -> None:
    """Ahead, the node appends (stamped ten minutes ahead). Behind its own founding entry, it refuses to
    append until its clock is fixed (issue 11, item 7), rather than stamping over time."""
    if skew_s > 0:
        await decide(skewed, "Decided by the skewed clock")
        return
    with pytest.raises(RemoteError) as refused:
        await decide(skewed, "Decided by the skewed clock")
    assert (refused.value.status, refused.value.code) == (422, "node.clock-behind")


@pytest.fixture
async def skewed_output(tmp_path: Path) -> AsyncIterator[IO[bytes]]:
    with open(tmp_path / "skewed.log", "ab") as output:
        yield output


@pytest.mark.parametrize("skew_s", [600, -600], ids=["clock-10-min-ahead", "clock-10-min-behind"])
async def test_honest_nodes_converge_after_latency_cuts_partitions_and_a_skewed_clock(
    start_node: NodeFactory, tmp_path: Path, skewed_output: IO[bytes], skew_s: int
) -> None:
    honest = [await start_node(f"Council {i}", settings=SETTINGS) for i in range(3)]
    session: aiohttp.ClientSession = honest[0].session
    folder = tmp_path / "skewed"
    init_node(folder, FoundCouncil(name="Skewed Council", continent="Asia"), listen="127.0.0.1:0")
    settings_file = folder / cfg.CONFIG
    stored = json.loads(settings_file.read_text())
    settings_file.write_text(json.dumps({**stored, "settings": SETTINGS}))
    process, url = await serve_skewed(folder, skew_s, skewed_output)
    operator = operator_of(folder, session, url, skew_s)
    skewed = RunningNode(cfg.load(folder), url, operator, session, asyncio.Event(), asyncio.current_task())  # type: ignore[arg-type]
    nodes = [*honest, skewed]
    mesh = Mesh()
    try:
        for x, a in enumerate(nodes):
            for y, b in enumerate(nodes):
                if x != y:
                    link = await mesh.add(x, y, target(b.url))
                    await peer(a, b, link.url)

        # --- the faults ---
        mesh.latency(LATENCY_S)
        await decide(honest[0], "Decided under latency")
        mesh.partition({0}, {1, 2, SKEWED})
        await asyncio.gather(
            decide(honest[0], "Decided alone"),
            decide(honest[1], "Decided by the majority"),
            skewed_decides(skewed, skew_s),
        )
        mesh.cut()
        await decide(honest[2], "Decided after a cut")
        mesh.cut()
        majority = [honest[1], honest[2]]
        await until(lambda: converged(majority, majority), "the majority's honest nodes converge", DEADLINE_S)
        for node in majority:  # the skewed node is refused by the signature window: none holds its log
            assert b64(skewed) not in await heads(node)
        # the isolated node's decision taken alone has not crossed the partition
        alone = (await heads(honest[0]))[b64(honest[0])][0]
        for node in majority:
            assert (await heads(node)).get(b64(honest[0]), (0,))[0] < alone

        # --- the faults end: partition healed, no latency, the clock fixed ---
        mesh.partition()
        mesh.latency(0.0)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0
        process, url = await serve_skewed(folder, 0, skewed_output)
        mesh.retarget(SKEWED, target(url))
        skewed.url = url
        skewed.operator = operator_of(folder, session, url, 0)

        async def same_checkpoints() -> bool:
            if not await converged(nodes):
                return False
            views = await asyncio.gather(*(checkpoints(n) for n in nodes))
            return len({tuple(sorted(v.items())) for v in views}) == 1 and len(views[0]) == len(nodes)

        if skew_s < 0:  # fixed, its clock is past its last entry again: it appends, once it has checked
            # with its peers that none holds more of its own log (the restart's guard, node.behind-peers)

            async def appended() -> bool:
                try:
                    await decide(skewed, "Decided once the clock is fixed")
                except RemoteError as exc:
                    if exc.code != "node.behind-peers":
                        raise
                    return False
                return True

            await until(appended, "the restarted node appends", DEADLINE_S)
        await until(same_checkpoints, "every node holds every log at one checkpoint", DEADLINE_S)
        assert sum(link.forwarded for link in mesh.links.values()) > 0
        assert sum(link.refused for link in mesh.links.values()) > 0  # the partition and cuts did bite
        for view in await asyncio.gather(*(heads(n) for n in nodes)):
            assert not any(frozen for (_, _, _, frozen) in view.values())
    finally:
        await mesh.close()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
