"""Replicas of trusted logs (docs/gossip.md, "Pulling"): what a node serves its peers and takes from them.

- ``page``: a page of one log as it travels — ``Page``, ``Head``, and its exact encoded size;
- ``offload``: ``PageDecoder``, pulled pages decoded and checked on a worker process;
- ``serve``: the page a peer is sent, within the byte budget the settings give;
- ``signatures``: signature checks on the verify pool, started early, waited for before commit;
- ``ingest``: ``Replica``, which verifies a page whole before committing it in one transaction;
- ``deferred``: ``AfterCommit``, each entry's own signature of a page its checkpoint vouched for, checked
  after the commit (``Replica.settle``, ``mend``, ``unmended``);
- ``like``: ``ReplicaLike``, what gossip needs of a replica.

The names below are the package's public surface; import them from ``federation.replica``.
"""

from federation.errors import BadData, ForkFound, Frozen
from federation.replica.ingest import Replica
from federation.replica.like import ReplicaLike
from federation.replica.offload import PageDecoder
from federation.replica.page import Head, IngestResult, Page, Row, encode_page
from federation.replica.signatures import POOL_THRESHOLD, Preverified

__all__ = [
    "POOL_THRESHOLD",
    "BadData",
    "ForkFound",
    "Frozen",
    "Head",
    "IngestResult",
    "Page",
    "PageDecoder",
    "Preverified",
    "Replica",
    "ReplicaLike",
    "Row",
    "encode_page",
]
