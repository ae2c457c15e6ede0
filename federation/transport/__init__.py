"""transport (moved into a package; split by job in the next commit)."""

from federation.transport.memory import (
    MSGPACK,
    Handler,
    HttpTransport,
    MemoryNetwork,
    MemoryTransport,
    Reply,
    Traffic,
    Transport,
    VirtualTimeLoop,
)

__all__ = [
    "MSGPACK",
    "Handler",
    "HttpTransport",
    "MemoryNetwork",
    "MemoryTransport",
    "Reply",
    "Traffic",
    "Transport",
    "VirtualTimeLoop",
]
