"""How a node's log lines name a peer or a log: short enough to read, long enough to tell apart."""

from __future__ import annotations


def short_id(key: bytes) -> str:
    """The first 8 bytes of a 32-byte key or log id, in hex (as peers' logs print them)."""
    return key.hex()[:16]
