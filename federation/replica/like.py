"""``ReplicaLike``: what gossip needs of a replica, so the engine, the node's split replica and the tests'
in-memory double are checked against one shape (mypy)."""

from __future__ import annotations

import concurrent.futures
from typing import Protocol

from federation.replica.page import Head, IngestResult, Page
from federation.store.verified import BadSignature


class ReplicaLike(Protocol):
    """The replica gossip serves from and ingests into (``federation.replica.Replica`` is one)."""

    def heads(self) -> list[Head]:
        """Every log held, sorted by log id."""
        ...

    def head(self, log_id: bytes) -> Head | None: ...

    def page_bytes(self, log_id: bytes, after_seq: int, limit: int, first: int) -> bytes:
        """A page as sent to a peer; ``Frozen`` if the log is frozen."""
        ...

    def frozen(self, log_id: bytes) -> str | None:
        """Why ``log_id`` is frozen, or None."""
        ...

    def ingest(self, log_id: bytes, page: Page) -> IngestResult:
        """Verify ``page`` whole and commit it; ``BadData``, ``Frozen`` or ``ForkFound`` if not."""
        ...

    def add_fork(self, proof: bytes) -> bool:
        """Store a verified fork proof; False if one of that log was held. ``BadData`` if it fails."""
        ...

    def preverify(self, log_id: bytes, page: Page) -> Page:
        """``page``, with its signature checks started early if the replica can (else as it is)."""
        ...

    def deferred_futures(self) -> list[concurrent.futures.Future[int]]:
        """The signature checks of committed pages still running."""
        ...

    def settle(self, wait: bool = False) -> list[BadSignature]:
        """Record the signature checks of committed pages; the signatures that failed."""
        ...

    def unmended(self) -> list[BadSignature]:
        """Entries whose signature a peer served bad, still waiting for a valid one from another peer."""
        ...

    def mend(self, log_id: bytes, page: Page) -> int:
        """Valid signatures from ``page`` for entries whose held one failed; how many entries it verified."""
        ...
