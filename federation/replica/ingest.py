"""Replicas of trusted logs: verify a page from a peer whole before committing it (docs/gossip.md, "Pulling").

    ingest(log_id, page)
      1. the log: not our own, trusted, not frozen
      2. the checkpoint: signed by the log key, not older than the one held (``rollback``; one that our
         checkpoint contradicts at its size → fork), a same-size different root → fork; consistent with
         what we hold (``consistency``)
      3. the entries: contiguous from what we hold (a different entry at a held seq, signed by a key valid
         there → fork; ``federation.replica.forks`` builds the proof), each signed by
         a key valid for the log at its position, ``prev`` links, public bodies present (bodies were checked
         against ``body_hash`` when the ``Entry`` was built), council bodies absent
      4. one transaction: append, recompute the root from stored nodes, hold the checkpoint if it matches

Signatures are verified on ``verify_pool`` in chunks while this thread goes on checking and inserting; the
transaction commits only after every chunk has answered, so nothing unverified is ever committed.

Errors (``federation.errors``):

    BadData     the peer sent something invalid; drop the page whole and penalise the peer (``step``)
    Frozen      the log is frozen: a fork proof is held
    ForkFound   this page proved a fork: the proof is stored, the log frozen; gossip ``proof``
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import sqlite3
import time
from collections.abc import Callable, Sequence

import msgpack

from federation.errors import BadData, ForkFound
from federation.replica.deferred import AfterCommit
from federation.replica.forks import prove_checkpoint_contradiction, prove_entries_fork
from federation.replica.page import Head, IngestResult, Page, Row, encode_page
from federation.replica.serve import page_parts, refuse_frozen
from federation.replica.signatures import POOL_THRESHOLD, Preverified, SignatureChecks
from federation.settings import DEFAULTS, FederationSettings
from federation.store import LogHead, LogStore, receipts, verified
from protocol import merkle
from protocol.bundle import KEY_KIND
from protocol.entry import Entry, verify_follows
from protocol.errors import DecodeError, VerificationError
from protocol.fork import ForkProof, checkpoints_fork, verify_fork_proof
from protocol.keys import PublicKey
from protocol.note import Checkpoint, SignedCheckpoint, open_checkpoint, parse_note


class Replica:
    """The logs this node holds, as its peers see them and as it takes them from its peers."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        own_log: bytes,
        trusted: Callable[[bytes], bool],
        verify_pool: concurrent.futures.Executor | None = None,
        settings: FederationSettings = DEFAULTS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = LogStore(conn)
        self.clock = clock  # seconds; entries further ahead of it than ``entry_skew_s`` are refused
        self.own_log = own_log
        self.trusted = trusted
        self.verify_pool = verify_pool
        self.settings = settings
        self._after_commit = AfterCommit(self.store, verify_pool)  # each entry's own signature, after commit

    # --- what we serve ------------------------------------------------------------------------------

    def heads(self) -> list[Head]:
        """What we offer our peers: of each log, the entries whose own signatures were checked (``page``
        serves no others). ``head`` is all we hold, what a pull continues from."""
        checked = {u.log_id: u.first for u in reversed(verified.pending(self.store.conn))}  # the lowest
        heads = []
        for h in self.store.heads():
            size = checked.get(h.log_id, h.size)
            if size == h.size:
                heads.append(Head(h.log_id, h.size, h.root))
            elif size > 0:  # a log none of whose entries is checked yet is not offered at all
                heads.append(Head(h.log_id, size, self.store.root(h.log_id, size)))
        return heads

    def head(self, log_id: bytes) -> Head | None:
        h = self.store.head(log_id)
        return Head(h.log_id, h.size, h.root) if h else None

    def page(self, log_id: bytes, after_seq: int, limit: int, first: int) -> Page:
        """Entries after ``after_seq`` (public bodies only), our newest checkpoint, and a consistency proof
        from ``first`` to it; a log we do not hold gives an empty page."""
        rows, checkpoint, proof, start = self._page(log_id, after_seq, limit, first)
        return Page(tuple(Entry.stored(*row) for row in rows), checkpoint, proof, start)

    def page_bytes(self, log_id: bytes, after_seq: int, limit: int, first: int) -> bytes:
        """``page(…).encode()`` straight from the stored bytes: what a peer is sent, with no header decoded
        again (we checked them when we stored them; the peer checks them all itself)."""
        rows, checkpoint, proof, start = self._page(log_id, after_seq, limit, first)
        return encode_page(rows, checkpoint, proof, start)

    def _page(
        self, log_id: bytes, after_seq: int, limit: int, first: int
    ) -> tuple[list[Row], str | None, tuple[bytes, ...], int]:
        limit = max(0, min(limit, self.settings.page_entries_max))
        return page_parts(self.store, log_id, after_seq, limit, first, self.settings.page_bytes_max)

    def forks(self) -> list[tuple[bytes, bytes]]:
        return [(log_id, proof) for log_id, proof, _ in self.store.forks()]

    def frozen(self, log_id: bytes) -> str | None:
        held = self.store.fork(log_id)
        if held is not None:
            return held[1]
        head = self.store.head(log_id)
        return head.frozen if head else None

    # --- what we take -------------------------------------------------------------------------------

    def add_fork(self, proof: bytes) -> bool:
        """Verify a fork proof, store it and freeze its log. False if a proof of that log is already held
        (one is enough, and a forking key could otherwise mint proofs without end) or if the log is one we
        neither hold nor trust. ``BadData`` if it does not verify."""
        try:
            fork = verify_fork_proof(proof)
        except (DecodeError, VerificationError) as exc:
            raise BadData("fork", str(exc)) from exc
        log_id = fork.log_id
        if self.store.fork(log_id) is not None:
            return False
        if log_id != self.own_log and not self.trusted(log_id) and self.store.head(log_id) is None:
            return False
        with self.store.transaction():
            return self.store.add_fork(log_id, fork.encode(), fork.describe())

    def ingest(self, log_id: bytes, page: Page) -> IngestResult:
        """Verify ``page`` of ``log_id`` whole, then commit it in one transaction (module docstring)."""
        if log_id == self.own_log:
            raise BadData("own-log", "a peer offered entries of our own log")
        if not self.trusted(log_id):
            raise BadData("untrusted-log", "the log's key is not one we trust")
        refuse_frozen(self.store, log_id)
        try:
            key = PublicKey(log_id)
        except DecodeError as exc:
            raise BadData("untrusted-log", str(exc)) from exc
        head = self.store.head(log_id)
        size = head.size if head else 0
        # entries at positions we hold first: a different one is a fork, whatever the checkpoint claims
        self._check_held(key, page.entries, size)
        signed, vouched = self._check_checkpoint(key, page, head)
        pre = page.preverified
        if pre is not None and (vouched or pre.log_id != log_id or pre.entries is not page.entries):
            pre.cancel()
            pre = None
        try:
            new, verifier = self._check_entries(key, page.entries, size, pre, vouched)
        except BaseException:
            if pre is not None:
                pre.cancel()
            raise
        try:
            result = self._commit(log_id, head, new, signed, verifier, page if vouched else None)
        finally:
            verifier.cancel()
        if vouched and new:  # committed: now each entry's own signature, off the critical path
            self._after_commit.add(log_id, size, verifier.pending, page.source)
        return result

    def preverify(self, log_id: bytes, page: Page) -> Page:
        """``page`` with the signature checks of its root-signed entries already sent to the verify pool,
        so they run while earlier pages are still being ingested; ``ingest`` waits for their answers
        instead of sending them again (every other check is made there, as always)."""
        if self.verify_pool is None or len(page.entries) < POOL_THRESHOLD or page.preverified is not None:
            return page
        if _vouchable(page):
            return page  # its checkpoint will authenticate it: the signatures are checked after commit
        try:
            pre = Preverified(log_id, page.entries, self.verify_pool)
        except DecodeError:
            return page  # not a log key: ingest refuses it
        return dataclasses.replace(page, preverified=pre)

    def _check_checkpoint(
        self, key: PublicKey, page: Page, head: LogHead | None
    ) -> tuple[SignedCheckpoint | None, bool]:
        """The offered checkpoint if it is newer than the one held and consistent with what we hold, and
        whether it vouches for the page's new entries: true when the page ends within its tree and the
        proof starts at the page's end (checked in ``_commit``, against the root recomputed once the page
        is appended)."""
        if page.checkpoint is None:
            if page.consistency:
                raise BadData("consistency", "a consistency proof without a checkpoint")
            return None, False
        try:
            signed = open_checkpoint(page.checkpoint, key)
        except VerificationError as exc:
            raise BadData(exc.step, exc.message) from exc
        except DecodeError as exc:
            raise BadData("checkpoint", str(exc)) from exc
        offered = signed.checkpoint
        size = head.size if head else 0
        if head is not None and head.checkpoint is not None:
            held = Checkpoint.from_body(parse_note(head.checkpoint).text)
            if offered.size < held.size:
                contradiction = prove_checkpoint_contradiction(self.store, key.raw, page.checkpoint)
                if contradiction is not None:
                    self._fork(contradiction)
                raise BadData("rollback", f"checkpoint of size {offered.size}, we hold {held.size}")
            if offered.size == held.size:
                if offered.root != held.root:
                    self._fork(checkpoints_fork(key.raw, head.checkpoint, page.checkpoint))
                return None, False  # the one we hold
        end = page.entries[-1].seq + 1 if page.entries else size
        vouched = size < end == page.first <= offered.size
        # a page past the checkpoint's size, its proof starting at its end, is compared with the root in
        # _commit; any other proof must start from what we hold and verify here
        if 0 < size < offered.size and page.first != end:
            if not 0 < page.first <= size:
                raise BadData("consistency", f"the proof starts at size {page.first}; we hold {size}")
            try:
                merkle.verify_consistency(
                    page.first,
                    offered.size,
                    self.store.root(key.raw, page.first),
                    offered.root,
                    page.consistency,
                )
            except VerificationError as exc:
                raise BadData("consistency", exc.message) from exc
        # size >= offered.size: compared with the root recomputed from stored nodes, in _commit
        return signed, vouched

    def _check_held(self, key: PublicKey, entries: Sequence[Entry], size: int) -> None:
        """The page is one contiguous run of this log starting within what we hold, and agrees with every
        entry we hold (a validly signed different one is a fork: ``ForkFound``)."""
        log_id = key.raw
        start = entries[0].seq if entries else size
        if start > size:
            raise BadData("sequence", f"the page starts at seq {start}; we hold {size} entries")
        for i, entry in enumerate(entries):
            if entry.header.log_id != log_id:
                raise BadData("other-log", f"seq {entry.seq} belongs to another log")
            if entry.seq != start + i:
                raise BadData("sequence", f"expected seq {start + i}, got {entry.seq}")
        held = min(len(entries), size - start)
        if held:
            held_ids = self.store.entry_ids(log_id, start, start + held)
            for entry, held_id in zip(entries[:held], held_ids, strict=True):
                if entry.id != held_id:
                    self._entries_fork(key, entry)

    def _check_entries(
        self,
        key: PublicKey,
        entries: Sequence[Entry],
        size: int,
        pre: Preverified | None = None,
        vouched: bool = False,
    ) -> tuple[Sequence[Entry], SignatureChecks]:
        """The entries beyond ``size`` (the page passed ``_check_held``), chained and checked, with their
        signatures on their way (those ``pre`` sent already are only waited for). A page its checkpoint
        ``vouched`` for has its signature checks only gathered (``pending``), for after the commit."""
        log_id = key.raw
        start = entries[0].seq if entries else size
        held = min(len(entries), size - start)
        new = entries[held:]
        keys = self._keys(key)
        todo = len(new) - (sum(1 for i in pre.covered if i >= held) if pre is not None else 0)
        verifier = SignatureChecks(None if vouched else self.verify_pool, todo, pre, held)
        previous = self.store.entry(log_id, size - 1) if size and new else None
        ahead_ms = int(self.clock() * 1000) + round(self.settings.entry_skew_s * 1000)
        try:
            for position, entry in enumerate(new):
                header = entry.header
                if header.ts_ms > ahead_ms:
                    raise BadData("timestamp", f"seq {header.seq} is stamped ahead of this node's clock")
                signer = keys.get(header.key_id)
                if signer is None:
                    raise BadData("unknown-key", f"seq {header.seq} is signed by a key not valid for the log")
                try:
                    verify_follows(previous, entry)
                except VerificationError as exc:
                    raise BadData(exc.step, exc.message) from exc
                if header.vis == "public":
                    if entry.body_bytes is None:
                        raise BadData("missing-body", f"public entry {header.seq} came without its body")
                    if signer is key and _is_delegation(entry.body_bytes):
                        _delegate(keys, key, entry)
                elif entry.body_bytes is not None:
                    raise BadData("council-body", f"council entry {header.seq} came with its body")
                if signer is key and verifier.covers(position):
                    verifier.skip(position)
                else:
                    verifier.add(position, signer.raw, entry.signature, entry.header_bytes)
                previous = entry
        except BaseException:
            verifier.cancel()
            raise
        return new, verifier

    def _keys(self, root: PublicKey) -> dict[bytes, PublicKey]:
        """The keys valid after the entries held: the root key and those its ``log/key`` entries added."""
        keys = {root.id: root}
        for entry in self.store.delegations(root.raw):
            if entry.header.key_id == root.id:
                _delegate(keys, root, entry)
        return keys

    def _commit(
        self,
        log_id: bytes,
        head: LogHead | None,
        new: Sequence[Entry],
        signed: SignedCheckpoint | None,
        verifier: SignatureChecks,
        vouched: Page | None = None,
    ) -> IngestResult:
        """Append ``new`` in one transaction. A page its checkpoint vouches for (``vouched``) commits only if
        the root recomputed with it is consistent with the signed root; its entries are then held as not
        yet individually verified (``federation.store.verified``). Any other page commits only once every
        signature has answered."""
        offered = signed.checkpoint if signed else None

        def sign(size: int, root: bytes) -> str | None:
            if signed is not None and offered is not None and (size, root) == (offered.size, offered.root):
                return signed.note_text
            return None

        with self.store.transaction():
            result = self.store.append_in_transaction(log_id, new, sign) if new else head
            reached = result is not None and offered is not None and result.size >= offered.size
            if signed is not None and offered is not None and result is not None and reached:
                root = result.root if result.size == offered.size else self.store.root(log_id, offered.size)
                if root != offered.root:
                    raise BadData(
                        "checkpoint-root",
                        f"the signed entries give tree size {offered.size} another root than the checkpoint",
                    )
                if result.checkpoint_size != offered.size:
                    self.store.set_checkpoint(log_id, signed.note_text, offered.size)
                    result = self.store.head(log_id)
            if vouched is not None and offered is not None and result is not None and new:
                if result.size < offered.size:
                    try:
                        merkle.verify_consistency(
                            result.size, offered.size, result.root, offered.root, vouched.consistency
                        )
                    except VerificationError as exc:
                        raise BadData("consistency", exc.message) from exc
                verified.add(self.store.conn, log_id, new[0].seq, result.size, vouched.source)
            else:
                bad = verifier.failed()
                if bad >= 0:
                    raise BadData("entry-signature", f"seq {new[bad].seq}: not a valid signature")
            if result is not None:  # when we first held these entries: a federation's receipt (issue 13)
                receipts.note(self.store.conn, log_id, result.size, int(self.clock() * 1000))
        if result is None:
            return IngestResult(0, 0, None)
        return IngestResult(len(new), result.size, result.checkpoint_size)

    # --- each entry's own signature, after commit (federation.replica.deferred) ----------------------

    def deferred_futures(self) -> list[concurrent.futures.Future[int]]:
        return self._after_commit.deferred_futures()

    def settle(self, wait: bool = False) -> list[verified.BadSignature]:
        return self._after_commit.settle(wait)

    def unmended(self) -> list[verified.BadSignature]:
        return self._after_commit.unmended()

    def mend(self, log_id: bytes, page: Page) -> int:
        return self._after_commit.mend(log_id, page)

    # --- forks --------------------------------------------------------------------------------------

    def _entries_fork(self, key: PublicKey, offered: Entry) -> None:
        """``offered`` differs from the entry we hold at its seq: if a key of the log valid there signed it,
        that is a fork (``federation.replica.forks``), proven from what we hold when it can be."""
        held = self.store.entry(key.raw, offered.seq)
        assert held is not None
        fork = prove_entries_fork(self.store, key, held, offered)
        if fork is None:
            raise BadData("fork", f"a different entry at seq {offered.seq}, which what we hold cannot prove")
        self._fork(fork)

    def _fork(self, fork: ForkProof) -> None:
        proof = fork.encode()
        try:
            verify_fork_proof(proof)
        except (DecodeError, VerificationError) as exc:  # never, for a proof built from what we hold
            raise BadData("fork", f"a contradiction that does not verify: {exc}") from exc
        reason = fork.describe()
        with self.store.transaction():
            self.store.add_fork(fork.log_id, proof, reason)
        raise ForkFound(proof, reason)


_KEY_KIND_BYTES = KEY_KIND.encode()  # in the bytes of every log/key body: the others are not decoded


def _is_delegation(body: bytes) -> bool:
    return _KEY_KIND_BYTES in body and msgpack.unpackb(body, raw=False).get("kind") == KEY_KIND


def _delegate(keys: dict[bytes, PublicKey], root: PublicKey, entry: Entry) -> None:
    """Apply a root-signed ``log/key`` entry (protocol.bundle): a malformed one delegates nothing."""
    body = entry.body()
    if body.get("kind") != KEY_KIND or not isinstance(body.get("key"), bytes):
        return
    try:
        key = PublicKey(body["key"])
    except DecodeError:
        return
    if key.id == root.id:
        return
    if body.get("action") == "add":
        keys[key.id] = key
    elif body.get("action") == "revoke":
        keys.pop(key.id, None)


def _vouchable(page: Page) -> bool:
    """The page ends where its consistency proof starts, within its checkpoint's tree: its checkpoint
    can authenticate it (``Replica._check_checkpoint`` decides, knowing what is held)."""
    if page.checkpoint is None or not page.entries or page.entries[-1].seq + 1 != page.first:
        return False
    try:
        return page.first <= Checkpoint.from_body(parse_note(page.checkpoint).text).size
    except (DecodeError, VerificationError):
        return False
