"""Issue 11, item 6: penalties lead somewhere. A peer with 22 penalties for invalid data was still trusted and
polled; now ``peer_suspend_penalties`` of them suspend it for ``peer_suspend_s``, visibly.

A real node gossips with two peers on loopback (``Hostile``: keys of their own, signing correctly): one
serves forged entries at every round, the other serves its log honestly. Counts, never clocks: once the
liar is suspended, the honest peer is polled again and again while the liar is asked nothing.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from protocol import codec
from tests.conftest import NodeFactory, stop_node
from tests.federation.test_nodes import (
    FAST,
    Hostile,
    _flip_signature,
    hostile,
    peers_of,
    sync,
    trust,
    until,
)

__all__ = ["hostile"]  # the fixture
THRESHOLD = 3


class Counted(Hostile):
    """A ``Hostile`` that counts the gossip rounds a node opens with it (its digests)."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.rounds = 0

    async def _digest(self, request: web.Request) -> web.StreamResponse:
        self.rounds += 1
        return await super()._digest(request)


async def shora_peers(directory: Path) -> str:
    """``shora peers --dir DIR``, as the operator runs it (in a child process: the node runs in this one)."""
    script = Path(sys.executable).with_name("shora")
    child = await asyncio.create_subprocess_exec(
        str(script), "peers", "--dir", str(directory), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await child.communicate()
    assert child.returncode == 0
    return out.decode()


@pytest.mark.parametrize("attack", ["peer_sends_bad_data_forever"], ids=lambda a: a)
async def test_a_peer_penalised_past_the_threshold_is_suspended_visibly_and_not_polled(
    start_node: NodeFactory, hostile: Any, attack: str
) -> None:
    settings = {
        **FAST,
        "gossip_interval_s": 3600.0,
        "peer_suspend_penalties": THRESHOLD,
        "peer_suspend_s": 7200,
    }
    node = await start_node(settings=settings)  # rounds only when the test says, until the end
    liar, honest = await hostile(666, Counted), await hostile(667, Counted)
    liar.sign(5)
    liar.tamper = _flip_signature
    honest.sign(3)
    await trust(node, liar)
    liar_id = codec.b64u(liar.id)

    for n in range(1, THRESHOLD):
        await sync(node)

        async def penalised(count: int = n) -> bool:  # written on the writer thread, just after the round
            return bool((await peers_of(node))[liar_id]["penalties"] == count)

        await until(penalised, f"penalty {n} of {THRESHOLD}")
        seen = (await peers_of(node))[liar_id]
        assert seen["status"] != "suspended" and seen["suspended_until_ms"] is None, "below the threshold"

    await sync(node)  # the penalty that reaches the threshold

    async def suspended() -> bool:
        return bool((await peers_of(node))[liar_id]["status"] == "suspended")

    await until(suspended, "the liar is suspended")
    seen = (await peers_of(node))[liar_id]
    assert seen["last_penalty"].startswith("entry-signature"), seen
    assert seen["suspended_until_ms"] is not None and seen["penalties"] == 0, "counted anew, the time shown"
    listing = await shora_peers(node.dir)
    assert "SUSPENDED for bad data until" in listing and "not polled" in listing, listing

    # restarted with gossip every 0.1 s, the node opens rounds on its own: each goes to the honest peer
    await trust(node, honest)
    await stop_node(node)
    node = await start_node(directory=node.dir, settings={**settings, "gossip_interval_s": 0.1})
    before = liar.rounds
    target = honest.rounds + 10

    async def polled() -> bool:
        return honest.rounds >= target

    await until(polled, "ten rounds with the honest peer")
    assert liar.rounds == before, "a suspended peer was polled"
    assert (await peers_of(node))[liar_id]["status"] == "suspended", "the suspension outlived the restart"
