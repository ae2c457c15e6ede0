"""Each entry's own signature, after commit (docs/gossip.md, "Pulling"; issue 14).

A page its checkpoint vouches for is committed by ``Replica.ingest`` before its entries' own signatures are
checked: the leaves are the entry ids, so the signed root already authenticates the headers. ``AfterCommit``
then sends those checks to ``verify_pool`` off the critical path, and ``settle`` records their answers:
until then each range is held in ``unverified`` (``federation.store.verified``), so a restart checks it
again. A leaf commits the header, not its signature: a signature that fails is the serving peer's fault,
kept as a ``BadSignature`` for the caller to charge the peer and ask the others for a valid one (``mend``),
again while none has given it (``unmended``). Only a bad signature served by the owner itself is kept.
"""

from __future__ import annotations

import concurrent.futures

from federation.replica.forks import keys_valid_at
from federation.replica.page import Page
from federation.replica.signatures import Deferred
from federation.store import LogStore, verified
from federation.verifypool import Job
from protocol.entry import Entry
from protocol.errors import VerificationError
from protocol.keys import ENTRY_TAG, PublicKey


class AfterCommit:
    """The signature checks of the pages a ``Replica`` committed on their checkpoint's authority."""

    def __init__(self, store: LogStore, verify_pool: concurrent.futures.Executor | None = None) -> None:
        self.store = store
        self.verify_pool = verify_pool
        self._deferred: list[Deferred] = []  # pages committed whose entries' signatures are being checked

    def add(self, log_id: bytes, first: int, jobs: list[Job], source: bytes | None) -> None:
        """The checks of a page just committed, its first entry at ``first``: sent to the pool now."""
        self._deferred.append(Deferred(log_id, first, jobs, source, self.verify_pool))

    def deferred_futures(self) -> list[concurrent.futures.Future[int]]:
        """The pool's answers ``settle`` is waiting for (the caller awaits them, then calls ``settle``)."""
        return [future for deferred in self._deferred for future in deferred.futures()]

    def settle(self, wait: bool = False) -> list[verified.BadSignature]:
        """Record the answers of the signature checks of committed pages (every one if ``wait``, else those
        in): their entries verified, or the first that fails kept (``federation.store.verified``). Ranges
        held unverified that no check in this process covers (the node restarted) are sent again. The bad
        signatures found: the caller charges their peer and fetches the entry elsewhere (``mend``)."""
        found: list[verified.BadSignature] = []
        keep: list[Deferred] = []
        for deferred in self._deferred:
            if not wait and not deferred.done():
                keep.append(deferred)
                continue
            bad = deferred.failed()
            log_id, first = deferred.log_id, deferred.first
            with self.store.transaction():
                verified.advance(self.store.conn, log_id, first, deferred.end if bad < 0 else bad)
                if bad >= 0:
                    found.append(self._bad_signature(log_id, bad, deferred.source))
        self._deferred = keep
        tracked = {(d.log_id, d.first) for d in keep}
        suspects = {(b.log_id, b.seq) for b in found}
        for left in verified.pending(self.store.conn):
            key = (left.log_id, left.first)
            if key not in tracked and key not in suspects and not self.store.bad_signature(*key):
                self._deferred.append(self._recheck(left))
        return [*found, *(self.settle(wait) if wait and self._deferred else [])]

    def unmended(self) -> list[verified.BadSignature]:
        """Ranges held unverified from an entry whose signature a peer served bad and no other peer has
        mended yet (the owner's own bad ones are proof, not waiting): for ``mend`` to try again."""
        flagged = verified.flagged(self.store.conn)
        return [
            verified.BadSignature(left.log_id, left.first, None, False)
            for left in verified.pending(self.store.conn)
            if self.store.bad_signature(left.log_id, left.first) and (left.log_id, left.first) not in flagged
        ]

    def _recheck(self, left: verified.Unverified) -> Deferred:
        """The checks of a range held unverified, sent again from the stored entries."""
        root = PublicKey(left.log_id)
        jobs = []
        for entry in self.store.entries(left.log_id, left.first - 1, left.end - left.first, recheck=False):
            signer = (
                root
                if entry.header.key_id == root.id
                else keys_valid_at(self.store, root, entry.seq).get(entry.header.key_id, root)
            )
            jobs.append((signer.raw, entry.signature, ENTRY_TAG + entry.header_bytes))
        return Deferred(left.log_id, left.first, jobs, left.source, self.verify_pool)

    def _bad_signature(self, log_id: bytes, seq: int, source: bytes | None) -> verified.BadSignature:
        held = self.store.signed_header(log_id, seq)
        head = self.store.head(log_id)
        assert held is not None and head is not None
        return verified.record_bad(self.store.conn, log_id, seq, held.signature, source, head.checkpoint)

    def mend(self, log_id: bytes, page: Page) -> int:
        """Signatures from ``page`` (fetched from another peer) for the entries held unverified after one
        that failed: each offered for the very entry we hold (same id) and valid replaces ours. Every such
        range is verified again here up to its first entry still without a valid signature; the number of
        entries now verified."""
        offered = {entry.seq: entry for entry in page.entries if entry.header.log_id == log_id}
        root = PublicKey(log_id)
        gained = 0
        with self.store.transaction():
            for left in verified.pending(self.store.conn, log_id):
                if not self.store.bad_signature(log_id, left.first):
                    continue  # no failure there: its checks are on their way
                upto = left.first
                for entry in self.store.entries(log_id, left.first - 1, left.end - left.first, recheck=False):
                    signer = keys_valid_at(self.store, root, entry.seq).get(entry.header.key_id)
                    if signer is None:
                        break
                    if not _valid(entry, signer):
                        other = offered.get(entry.seq)
                        if other is None or other.id != entry.id or not _valid(other, signer):
                            break
                        self.store.set_signature(log_id, entry.seq, other.signature)
                    upto = entry.seq + 1
                verified.advance(self.store.conn, log_id, left.first, upto)
                gained += upto - left.first
        return gained


def _valid(entry: Entry, key: PublicKey) -> bool:
    try:
        entry.verify_signature(key)
    except VerificationError:
        return False
    return True
