"""How a gossip message reaches a peer (docs/gossip.md, STYLE.md 8): the engine is handed a ``Transport``.

- ``base``: the ``Transport`` protocol and its ``Reply``;
- ``http``: ``HttpTransport``, RFC 9421-signed requests over one aiohttp session;
- ``memory``: ``MemoryNetwork``/``MemoryTransport``, in-process delivery with loss, partitions and latency;
- ``virtual``: ``VirtualTimeLoop``, an event loop on a virtual clock for simulations.

Every failure to get an answer raises ``federation.errors.TransportError``; an answer with an error status
is a ``Reply``, not an exception: deciding what a 4xx means is the engine's job.
"""

from federation.transport.base import MSGPACK, Handler, Reply, Transport
from federation.transport.http import HttpTransport
from federation.transport.memory import MemoryNetwork, MemoryTransport, Traffic
from federation.transport.virtual import VirtualTimeLoop

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
