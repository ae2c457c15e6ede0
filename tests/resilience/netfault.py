"""An asyncio TCP proxy between real nodes on loopback, injecting network faults (issue 11, suite: network).

``Link`` carries one direction of trust: node X is told that peer Y answers at ``link.url``, and the link
forwards each connection to Y's real address (``target``, which may change when Y restarts). Faults:

- ``latency``: every chunk is held that long before it is passed on, in both directions;
- ``cut()``: every open connection is aborted (a reset mid-request);
- ``partitioned``: new connections are closed at once and open ones aborted, until lifted.

Bytes pass through unchanged; the proxy never reads HTTP. It binds 127.0.0.1 port 0 only.
"""

from __future__ import annotations

import asyncio
import contextlib


class Link:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.latency = 0.0
        self.partitioned = False
        self.connections: set[asyncio.StreamWriter] = set()
        self.forwarded = 0  # connections carried through
        self.refused = 0  # connections closed by a partition or a cut
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def start(self) -> Link:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        """Abort every connection open now (both ends see a reset)."""
        for writer in list(self.connections):
            writer.transport.abort()
        self.refused += len(self.connections)
        self.connections.clear()

    def partition(self, on: bool) -> None:
        self.partitioned = on
        if on:
            self.cut()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.partitioned:
            self.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:  # the target is down (restarting): the caller sees a reset, as on a real network
            self.refused += 1
            writer.transport.abort()
            return
        self.forwarded += 1
        self.connections.update((writer, up_writer))
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            for end in (writer, up_writer):
                self.connections.discard(end)
                end.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while chunk := await reader.read(65536):
                if self.latency:
                    await asyncio.sleep(self.latency)  # the fault itself, never a wait for an outcome
                if self.partitioned or writer.is_closing():
                    return
                writer.write(chunk)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()


class Mesh:
    """A ``Link`` for every ordered pair of nodes: ``links[(x, y)]`` is how ``x`` reaches ``y``."""

    def __init__(self) -> None:
        self.links: dict[tuple[int, int], Link] = {}

    async def add(self, x: int, y: int, target: tuple[str, int]) -> Link:
        link = await Link(target).start()
        self.links[(x, y)] = link
        return link

    def retarget(self, y: int, target: tuple[str, int]) -> None:
        """``y`` answers at a new address (it restarted): every link to it follows."""
        for (_, to), link in self.links.items():
            if to == y:
                link.target = target

    def latency(self, seconds: float) -> None:
        for link in self.links.values():
            link.latency = seconds

    def partition(self, *groups: set[int]) -> None:
        """Only nodes within one group reach each other; ``partition()`` heals every link."""
        for (x, y), link in self.links.items():
            link.partition(bool(groups) and not any(x in g and y in g for g in groups))

    def cut(self) -> None:
        for link in self.links.values():
            link.cut()

    async def close(self) -> None:
        await asyncio.gather(*(link.close() for link in self.links.values()))
