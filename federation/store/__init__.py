"""The logs a node holds — its own first, its peers' later — with their Merkle trees and checkpoints.

- ``schema``: the tables and their named migrations (``MIGRATIONS``);
- ``tree``: a log's Merkle tree as stored (``TreeNodes``): which nodes are kept, which hashed again;
- ``logs``: ``LogStore``, reads and one-transaction appends (``Appender``) on the writer's connection.
"""

from federation.store.logs import Appender, CheckpointSigner, ForkError, LogHead, LogStore, StoreError
from federation.store.schema import MIGRATIONS
from federation.store.tree import STORED_LEVEL, TreeNodes

__all__ = [
    "MIGRATIONS",
    "STORED_LEVEL",
    "Appender",
    "CheckpointSigner",
    "ForkError",
    "LogHead",
    "LogStore",
    "StoreError",
    "TreeNodes",
]
