"""What gossip sends through: the ``Transport`` protocol, and the ``Reply`` every transport gives back.

Every failure to get an answer raises ``federation.errors.TransportError``; an answer with an error status
is a ``Reply``, not an exception: deciding what a 4xx means is the engine's job.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

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
