"""Anti-entropy gossip (docs/gossip.md, DESIGN.md §5): digests, buckets, push-pull, pulls, fork spreading.

Four modules, one job each, all transport-free (STYLE.md 8):

- ``wire``: the messages as they travel — paths, heads, digests and buckets, decoding what a peer sent;
- ``server``: ``GossipServer.handle(sender, method, path, body) -> Reply`` answers the ``/v1/federation/``
  gossip requests (``federation.routes`` calls it after checking the signature, ``MemoryTransport``
  directly);
- ``engine``: ``Gossip`` starts exchanges — rounds with random peers, pushes of our own head, pulls of
  what peers hold beyond us — and sorts what goes wrong by the branch of ``federation.errors``;
- ``signatures``: ``SignatureFollowUp`` follows up each entry's own signature after commit for the engine —
  records the checks, charges the peer that served a bad one and asks the others for a valid one.

The names below are the package's public surface; import them from ``federation.gossip``.
"""

from federation.gossip.engine import Gossip, Stats
from federation.gossip.server import GossipServer, RunOn, direct
from federation.gossip.wire import (
    BUCKETS,
    DIGEST,
    FORKS,
    HEADS,
    INLINE_HEADS,
    PREFIX,
    bucket_hashes,
    bucket_of,
    decode_heads,
    decode_message,
    digest,
    entries_path,
)

__all__ = [
    "BUCKETS",
    "DIGEST",
    "FORKS",
    "HEADS",
    "INLINE_HEADS",
    "PREFIX",
    "Gossip",
    "GossipServer",
    "RunOn",
    "Stats",
    "bucket_hashes",
    "bucket_of",
    "decode_heads",
    "decode_message",
    "digest",
    "direct",
    "entries_path",
]
