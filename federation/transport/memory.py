"""In-process transport for simulations and tests: ``MemoryNetwork`` delivers requests to a handler
registered per node, and can lose messages (seeded), cut links (partitions), delay them (latency on the
event loop's clock) and counts messages and bytes."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from federation.errors import TransportError
from federation.transport.base import Handler, Reply
from protocol import codec


@dataclass
class Traffic:
    """What crossed the network: requests and replies delivered, their bytes, and messages lost."""

    messages: int = 0
    bytes: int = 0
    lost: int = 0
    by_path: dict[str, int] = field(default_factory=dict)

    def reset(self) -> None:
        self.messages = self.bytes = self.lost = 0
        self.by_path.clear()


class MemoryNetwork:
    """In-process nodes. ``loss`` is the probability that a request or its reply is dropped (drawn from
    ``rng``); ``latency`` gives each message's one-way delay in seconds, slept on the running loop's clock
    (virtual under ``VirtualTimeLoop``); ``block``/``partition`` cut links until ``heal``."""

    def __init__(
        self,
        rng: random.Random | None = None,
        *,
        loss: float = 0.0,
        latency: Callable[[random.Random], float] | None = None,
    ) -> None:
        self.rng = rng or random.Random(0)
        self.loss, self.latency = loss, latency
        self.handlers: dict[bytes, Handler] = {}
        self.blocked: set[frozenset[bytes]] = set()
        self.traffic = Traffic()

    def register(self, node_id: bytes, handler: Handler) -> None:
        self.handlers[node_id] = handler

    def transport(self, me: bytes) -> MemoryTransport:
        return MemoryTransport(self, me)

    def block(self, a: bytes, b: bytes) -> None:
        self.blocked.add(frozenset((a, b)))

    def partition(self, *groups: Iterable[bytes]) -> None:
        """Cut every link between nodes of different groups."""
        sets = [set(group) for group in groups]
        for i, left in enumerate(sets):
            for right in sets[i + 1 :]:
                for a in left:
                    for b in right:
                        self.block(a, b)

    def heal(self) -> None:
        self.blocked.clear()

    async def _hop(self, sender: bytes, receiver: bytes, size: int, path: str) -> None:
        if self.latency is not None:
            await asyncio.sleep(self.latency(self.rng))
        if frozenset((sender, receiver)) in self.blocked:
            self.traffic.lost += 1
            raise TransportError(f"{codec.short_id(receiver)} unreachable (partition)")
        if self.loss and self.rng.random() < self.loss:
            self.traffic.lost += 1
            raise TransportError(f"message to {codec.short_id(receiver)} lost")
        self.traffic.messages += 1
        self.traffic.bytes += size
        key = path.split("?", 1)[0]
        self.traffic.by_path[key] = self.traffic.by_path.get(key, 0) + 1

    async def deliver(self, sender: bytes, receiver: bytes, method: str, path: str, body: bytes) -> Reply:
        handler = self.handlers.get(receiver)
        if handler is None:
            raise TransportError(f"no node {codec.short_id(receiver)}")
        await self._hop(sender, receiver, len(body), path)
        reply = await handler(sender, method, path, body)
        await self._hop(receiver, sender, len(reply.body), path)
        return reply


class MemoryTransport:
    """``Transport`` for the node ``me`` on a ``MemoryNetwork``."""

    def __init__(self, network: MemoryNetwork, me: bytes) -> None:
        self.network, self.me = network, me

    async def call(self, peer: bytes, method: str, path: str, body: bytes = b"") -> Reply:
        return await self.network.deliver(self.me, peer, method, path, body)
