"""The door in front of everything: at most so many connections, and so many from one address (issue 11).

A connection over either cap is closed before a byte of it is read. Addresses are counted in memory only,
and not even there in the clear: each is replaced by a keyed hash whose key lives and dies with the
process (``ConnectionGate.address_key``), so no IP is logged, stored, or kept readable in memory.

``listen`` serves an ``aiohttp.web.AppRunner`` with the gate in front of the node's protocol: the
transport talks to ``_Gated``, which hands every event on to aiohttp's own handler once it is admitted.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets

from aiohttp import web


class ConnectionGate:
    """Counts open connections, in total and per (hashed) address."""

    def __init__(self, total: int, per_address: int) -> None:
        self.total, self.per_address = total, per_address
        self.open = 0
        self.refused = 0
        self._by_address: dict[bytes, int] = {}
        self._salt = secrets.token_bytes(16)

    def address_key(self, address: str) -> bytes:
        """What stands for ``address`` in this process: a keyed hash, unlinkable outside it."""
        return hashlib.blake2b(address.encode(), key=self._salt, digest_size=16).digest()

    def enter(self, key: bytes) -> bool:
        if self.open >= self.total or self._by_address.get(key, 0) >= self.per_address:
            self.refused += 1
            return False
        self.open += 1
        self._by_address[key] = self._by_address.get(key, 0) + 1
        return True

    def leave(self, key: bytes) -> None:
        self.open -= 1
        left = self._by_address[key] - 1
        if left:
            self._by_address[key] = left
        else:
            del self._by_address[key]


class _Gated(asyncio.Protocol):
    """Admits the connection through ``gate`` or closes it; once admitted, ``inner`` sees everything."""

    def __init__(self, gate: ConnectionGate, inner: asyncio.Protocol) -> None:
        self.gate, self.inner = gate, inner
        self.key: bytes | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        key = self.gate.address_key(str(peer[0]) if peer else "")
        if not self.gate.enter(key):
            if isinstance(transport, asyncio.Transport):
                transport.abort()
            else:
                transport.close()
            return
        self.key = key
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.key is None:
            return
        self.gate.leave(self.key)
        self.key = None
        self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.key is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.key is not None else None

    def pause_writing(self) -> None:
        if self.key is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.key is not None:
            self.inner.resume_writing()


async def listen(runner: web.AppRunner, host: str, port: int, gate: ConnectionGate) -> asyncio.Server:
    """Serve ``runner``'s application on ``host:port``, every connection passing ``gate`` first.

    The caller closes the server it gets back before ``runner.cleanup()``.
    """
    server = runner.server
    if server is None:
        raise RuntimeError("runner.setup() first")
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: _Gated(gate, server()), host, port, reuse_address=True)
