"""How a gossip message reaches a peer (docs/gossip.md, STYLE.md 8): the engine is handed a ``Transport``.

``HttpTransport`` sends RFC 9421-signed requests over one aiohttp session (``federation.client``);
``MemoryTransport`` delivers them in-process to a handler registered on a ``MemoryNetwork``, which can lose
messages (seeded), cut links (partitions), delay them (latency on the event loop's clock) and counts
messages and bytes. Every failure to get an answer raises ``federation.client.TransportError``; an answer
with an error status is a ``Reply``, not an exception: deciding what a 4xx means is the engine's job.

``VirtualTimeLoop`` is an event loop whose clock jumps to the next timer whenever nothing is ready, so a
simulation of many nodes with latency, timeouts and jittered intervals runs in milliseconds of real time.
It is for in-process simulations only: no sockets, no threads.
"""

from __future__ import annotations

import asyncio
import random
import selectors
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp

from federation.client import SignedClient, TransportError
from protocol import codec
from protocol.keys import SigningKey

MSGPACK = "application/msgpack"


@dataclass(frozen=True)
class Reply:
    """An answer: HTTP status, body bytes, and their media type."""

    status: int
    body: bytes
    content_type: str = MSGPACK


class Transport(Protocol):
    async def call(self, peer: bytes, method: str, path: str, body: bytes = b"") -> Reply:
        """Send one request to ``peer`` (its node id); raise ``TransportError`` if no answer came."""
        ...


# handler(sender node id, method, path with query, body) -> reply: what routes.py and MemoryTransport call
Handler = Callable[[bytes, str, str, bytes], Awaitable[Reply]]


class HttpTransport:
    """Signed HTTP requests to the URL the peer table holds for each node id."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        key: SigningKey,
        url_of: Callable[[bytes], str | None],
        timeout: float = 10.0,
        max_response: int = 8 << 20,
    ) -> None:
        self.session, self.key, self.url_of = session, key, url_of
        self.timeout, self.max_response = timeout, max_response

    async def call(self, peer: bytes, method: str, path: str, body: bytes = b"") -> Reply:
        url = self.url_of(peer)
        if url is None:
            raise TransportError(f"no URL known for peer {codec.short_id(peer)}")
        client = SignedClient(
            self.session, url, self.key, peer, timeout=self.timeout, max_response=self.max_response
        )
        response = await client.request(method, path, body, content_type=MSGPACK, accept=MSGPACK, check=False)
        return Reply(response.status, response.body, response.content_type)


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


class _SkipSelector(selectors.DefaultSelector):
    """A selector that, instead of waiting ``timeout`` seconds, moves its loop's clock forward by it."""

    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:  # nothing scheduled: only another thread can wake us, so really wait
            return super().select(None)
        events = super().select(0)
        if not events and timeout > 0 and self.loop is not None:
            self.loop.now += timeout
        return events


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on a virtual clock: ``asyncio.sleep``, timeouts and ``call_later`` take no real time.

    Use ``asyncio.Runner(loop_factory=VirtualTimeLoop)``."""

    def __init__(self) -> None:
        self.now = 0.0
        selector = _SkipSelector()
        super().__init__(selector)
        selector.loop = self

    def time(self) -> float:
        return self.now
