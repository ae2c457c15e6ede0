"""Typed test doubles of ``federation``'s seams, checked by mypy against the protocols they stand for.

``MemoryReplica`` stands for ``federation.replica.Replica`` where thousands of logs or nodes would make SQLite
the thing measured; the assignments at the bottom make mypy check it, and the real ``Replica``, against
``ReplicaLike`` (this module is in mypy's ``files``).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterable

from federation.errors import BadData, ForkFound, Frozen
from federation.replica import Head, IngestResult, Page, Replica, ReplicaLike
from federation.store.verified import BadSignature
from protocol.entry import Entry, verify_follows
from protocol.errors import DecodeError, VerificationError
from protocol.fork import entries_fork, verify_fork_proof
from protocol.keys import PublicKey
from protocol.merkle import MemoryTree


class MemoryReplica:
    """A ``ReplicaLike`` over dicts, checked as the real one checks (signatures, contiguity, prev links and
    forks; no checkpoints); own-log appends through ``append``."""

    def __init__(self, own_log: bytes, trusted: Callable[[bytes], bool] = lambda log_id: True) -> None:
        self.own_log, self.trusted = own_log, trusted
        self.logs: dict[bytes, list[Entry]] = {}
        self.trees: dict[bytes, MemoryTree] = {}
        self.proofs: dict[bytes, bytes] = {}

    def append(self, log_id: bytes, entries: Iterable[Entry]) -> None:
        for entry in entries:
            held = self.logs.setdefault(log_id, [])
            verify_follows(held[-1] if held else None, entry)
            held.append(entry)
            self.trees.setdefault(log_id, MemoryTree()).append(entry.id)

    def heads(self) -> list[Head]:
        return [h for h in (self.head(log_id) for log_id in sorted(self.logs)) if h is not None]

    def head(self, log_id: bytes) -> Head | None:
        tree = self.trees.get(log_id)
        return Head(log_id, tree.size, tree.root()) if tree else None

    def page(self, log_id: bytes, after_seq: int, limit: int, first: int) -> Page:
        if log_id in self.proofs:
            raise Frozen("fork", self.proofs[log_id])
        held = self.logs.get(log_id, [])
        chosen = tuple(held[after_seq + 1 : after_seq + 1 + limit])
        return Page(entries=chosen, checkpoint=None, consistency=(), first=first)

    def page_bytes(self, log_id: bytes, after_seq: int, limit: int, first: int) -> bytes:
        return self.page(log_id, after_seq, limit, first).encode()

    def forks(self) -> list[tuple[bytes, bytes]]:
        return sorted(self.proofs.items())

    def frozen(self, log_id: bytes) -> str | None:
        return "fork" if log_id in self.proofs else None

    def ingest(self, log_id: bytes, page: Page) -> IngestResult:
        if log_id in self.proofs:
            raise Frozen("fork", self.proofs[log_id])
        if not self.trusted(log_id):
            raise BadData("untrusted-log", "this node does not replicate that log")
        key = PublicKey(log_id)
        held = self.logs.setdefault(log_id, [])
        fresh: list[Entry] = []
        for entry in page.entries:
            try:
                if entry.header.log_id != log_id:
                    raise VerificationError("log-id", "an entry of another log")
                entry.verify_signature(key)
            except VerificationError as exc:
                raise BadData(exc.step, exc.message) from exc
            if entry.seq < len(held):
                if held[entry.seq].id != entry.id:
                    proof = entries_fork(held[entry.seq], entry).encode()
                    self.proofs[log_id] = proof
                    raise ForkFound(proof)
                continue
            previous = fresh[-1] if fresh else (held[-1] if held else None)
            try:
                verify_follows(previous, entry)
            except VerificationError as exc:
                raise BadData(exc.step, exc.message) from exc
            fresh.append(entry)
        self.append(log_id, fresh)
        return IngestResult(appended=len(fresh), size=len(held), checkpoint_size=None)

    def preverify(self, log_id: bytes, page: Page) -> Page:
        return page  # no pool: every check is ingest's

    def deferred_futures(self) -> list[concurrent.futures.Future[int]]:
        return []  # every signature is verified before commit here

    def settle(self, wait: bool = False) -> list[BadSignature]:
        return []

    def unmended(self) -> list[BadSignature]:
        return []

    def mend(self, log_id: bytes, page: Page) -> int:
        return 0

    def add_fork(self, proof: bytes) -> bool:
        try:
            log_id = verify_fork_proof(proof).log_id
        except (DecodeError, VerificationError) as exc:
            raise BadData("fork", str(exc)) from exc
        if log_id in self.proofs:
            return False
        self.proofs[log_id] = proof
        return True


def _replica_like(double: MemoryReplica, real: Replica) -> tuple[ReplicaLike, ReplicaLike]:
    """Never called: mypy checks here that both have the shape gossip needs."""
    return double, real
