"""Replicas of trusted logs: verify a page from a peer whole before committing it (docs/gossip.md, "Pulling").

    ingest(log_id, page)
      1. the log: not our own, trusted, not frozen
      2. the checkpoint: signed by the log key, not older than the one held (``rollback``), a same-size
         different root → fork; consistent with what we hold (``consistency``)
      3. the entries: contiguous from what we hold (a different entry at a held seq → fork), each signed by
         a key valid for the log at its position, ``prev`` links, public bodies present (bodies were checked
         against ``body_hash`` when the ``Entry`` was built), council bodies absent
      4. one transaction: append, recompute the root from stored nodes, hold the checkpoint if it matches

Signatures are verified on ``verify_pool`` in chunks while this thread goes on checking and inserting; the
transaction commits only after every chunk has answered, so nothing unverified is ever committed.

Errors:

    BadData     the peer sent something invalid; drop the page whole and penalise the peer (``step``)
    Frozen      the log is frozen: a fork proof is held
    ForkFound   this page proved a fork: the proof is stored, the log frozen; gossip ``proof``
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

from federation.store import LogHead, LogStore
from federation.verifypool import Job, answer
from federation.verifypool import verify_chunk as _verify_chunk
from protocol import codec, merkle
from protocol.bundle import KEY_KIND
from protocol.entry import Entry, verify_follows
from protocol.errors import DecodeError, VerificationError
from protocol.fork import ForkProof, checkpoints_fork, entries_fork, verify_fork_proof
from protocol.keys import ENTRY_TAG, PublicKey
from protocol.note import Checkpoint, SignedCheckpoint, open_checkpoint, parse_note

MAX_PAGE_BYTES = 16 * 1024 * 1024  # what a peer may send us, checked before decoding
SERVE_PAGE_BYTES = 8 * 1024 * 1024  # what we send: half, so any honest page fits the cap
MAX_PAGE_ENTRIES = 4_000
MAX_CONSISTENCY = 64  # a consistency proof of a tree of at most 2^63 leaves
PAGE_LIMITS = codec.Limits(max_size=MAX_PAGE_BYTES, max_depth=3, max_length=1 << 20)
# Below this many signatures a thread pool costs more than it saves.
POOL_THRESHOLD = 32


class BadData(Exception):
    """The peer sent something invalid: drop it whole, penalise the peer with ``step``."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step
        self.message = message


class Frozen(Exception):
    """The log is frozen: a fork proof is held (``proof``, for the 409 answer)."""

    def __init__(self, reason: str, proof: bytes | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.proof = proof


class ForkFound(Exception):
    """A fork was detected, its proof stored and the log frozen."""

    def __init__(self, proof: bytes, reason: str = "fork") -> None:
        super().__init__(reason)
        self.proof = proof
        self.reason = reason


@dataclass(frozen=True)
class Head:
    log_id: bytes
    size: int
    root: bytes


@dataclass(frozen=True)
class IngestResult:
    appended: int
    size: int
    checkpoint_size: int | None


@dataclass(frozen=True)
class Page:
    """A run of entries of one log, the newest checkpoint the server holds, and a consistency proof from
    tree size ``first`` (the caller's) to that checkpoint."""

    entries: tuple[Entry, ...]
    checkpoint: str | None
    consistency: tuple[bytes, ...]
    first: int
    # Signature checks already on their way (``Replica.preverify``): not part of the page's value.
    _preverified: Preverified | None = field(default=None, compare=False, repr=False)

    def encode(self) -> bytes:
        rows = [(e.header_bytes, e.signature, e.body_bytes) for e in self.entries]
        return encode_page(rows, self.checkpoint, self.consistency, self.first)

    @classmethod
    def decode(cls, data: bytes) -> Page:
        if len(data) > MAX_PAGE_BYTES:
            raise BadData("page-size", f"a page of {len(data)} bytes exceeds {MAX_PAGE_BYTES}")
        try:
            value = codec.decode(data, PAGE_LIMITS)
            if not isinstance(value, dict) or set(value) != {"entries", "checkpoint", "consistency", "first"}:
                raise DecodeError("a page is a map of entries, checkpoint, consistency and first")
            items, note = value["entries"], value["checkpoint"]
            proof, first = value["consistency"], value["first"]
            if not isinstance(items, list) or not isinstance(proof, list) or len(proof) > MAX_CONSISTENCY:
                raise DecodeError("entries and consistency are lists (at most 64 hashes)")
            if note is not None and not isinstance(note, str):
                raise DecodeError("checkpoint is note text or nil")
            if type(first) is not int or first < 0:
                raise DecodeError("first is a tree size")
            if not all(isinstance(h, bytes) and len(h) == merkle.HASH_SIZE for h in proof):
                raise DecodeError("a consistency proof holds 32-byte hashes")
            entries = tuple(_entry(item) for item in items)
        except DecodeError as exc:
            raise BadData("encoding", str(exc)) from exc
        except VerificationError as exc:  # a body that does not match its header's hash
            raise BadData(exc.step, exc.message) from exc
        return cls(entries, note, tuple(proof), first)


_ENTRY_KEYS = {"header", "signature", "body"}
Row = tuple[bytes, bytes, bytes | None]  # an entry as stored: header, signature, body (or None)


def encode_page(
    rows: Sequence[Row], checkpoint: str | None, consistency: Sequence[bytes], first: int
) -> bytes:
    """A page's canonical bytes. The entries are maps of bytes written with their keys in canonical order
    (body < header < signature), canonical as built: packed directly, not walked by the codec a thousand
    at a time. The rest goes through the codec's checks; the top-level keys are in canonical order too."""
    entries = [
        {"header": header, "signature": signature}
        if body is None
        else {"body": body, "header": header, "signature": signature}
        for header, signature, body in rows
    ]
    codec.encode([checkpoint, list(consistency), first])
    return msgpack.packb(  # type: ignore[no-any-return]
        {"checkpoint": checkpoint, "consistency": list(consistency), "entries": entries, "first": first},
        use_bin_type=True,
    )


def _entry(item: Any) -> Entry:
    if not isinstance(item, dict) or not {"header", "signature"} <= set(item) <= _ENTRY_KEYS:
        raise DecodeError("a page entry is a map of header, signature and an optional body")
    return Entry(item["header"], item["signature"], item.get("body"))


class Preverified:
    """Signature checks of a page's root-signed entries, sent to the pool as soon as the page was decoded
    (``Replica.preverify``), before its turn to be ingested: ``ingest`` does not verify them again, it
    only waits for their answers. Bound to the exact entries of one log it was made for."""

    def __init__(self, log_id: bytes, entries: tuple[Entry, ...], pool: concurrent.futures.Executor) -> None:
        self.log_id = log_id
        self.entries = entries
        root_id = PublicKey(log_id).id
        self.covered: set[int] = set()  # indexes in ``entries``
        # (indexes of the chunk's jobs, the jobs, the future answering the first that fails or -1)
        self.chunks: list[tuple[list[int], list[Job], concurrent.futures.Future[int]]] = []
        chunk = max(1, -(-len(entries) // (2 * (os.cpu_count() or 1))))
        indexes: list[int] = []
        jobs: list[Job] = []
        for i, entry in enumerate(entries):
            if entry.header.key_id != root_id:
                continue  # a delegated key, or none valid: ingest decides
            indexes.append(i)
            jobs.append((log_id, entry.signature, ENTRY_TAG + entry.header_bytes))
            if len(jobs) >= chunk:
                self.chunks.append((indexes, jobs, pool.submit(_verify_chunk, jobs)))
                indexes, jobs = [], []
        if jobs:
            self.chunks.append((indexes, jobs, pool.submit(_verify_chunk, jobs)))
        for indexes, _, _ in self.chunks:
            self.covered.update(indexes)

    def cancel(self) -> None:
        for _, _, future in self.chunks:
            future.cancel()

    def failed(self, wanted: set[int]) -> int:
        """The smallest index in ``wanted`` whose signature fails, or -1 (waits for every chunk)."""
        failures: list[int] = []
        for indexes, jobs, future in self.chunks:
            bad = answer(future, jobs)
            if bad < 0:
                continue
            if indexes[bad] in wanted:
                failures.append(indexes[bad])
                continue
            # the first failure is not one asked about: check the wanted ones after it here
            after = zip(indexes[bad + 1 :], jobs[bad + 1 :], strict=True)
            rest = [(i, job) for i, job in after if i in wanted]
            again = _verify_chunk([job for _, job in rest])
            if again >= 0:
                failures.append(rest[again][0])
        return min(failures, default=-1)


class _Verifier:
    """Signature jobs sent to the pool a chunk at a time, as soon as a chunk is ready; with those of a
    ``Preverified`` already on their way, waited for too."""

    def __init__(
        self,
        pool: concurrent.futures.Executor | None,
        total: int,
        pre: Preverified | None = None,
        offset: int = 0,
    ) -> None:
        self.pool = pool if total >= POOL_THRESHOLD else None
        chunks = 2 * (os.cpu_count() or 1)
        self.chunk = max(1, -(-total // chunks))
        self.pending: list[Job] = []
        self.done = 0  # jobs already handed out
        self.futures: list[tuple[int, list[Job], concurrent.futures.Future[int]]] = []
        self.positions: list[int] = []  # the position (in the entries checked) of each job
        # entries whose checks ``pre`` already sent: their index in its page is ``offset`` + their position
        self.pre, self.offset = pre, offset
        self.pre_wanted: set[int] = set()

    def covers(self, position: int) -> bool:
        return self.pre is not None and self.offset + position in self.pre.covered

    def add(self, position: int, public: bytes, signature: bytes, header: bytes) -> None:
        self.positions.append(position)
        self.pending.append((public, signature, ENTRY_TAG + header))
        if self.pool is not None and len(self.pending) >= self.chunk:
            self._flush()

    def skip(self, position: int) -> None:
        """The entry at ``position`` is verified by ``pre`` (``covers``): only wait for its answer."""
        self.pre_wanted.add(self.offset + position)

    def _flush(self) -> None:
        if self.pending and self.pool is not None:
            self.futures.append((self.done, self.pending, self.pool.submit(_verify_chunk, self.pending)))
            self.done += len(self.pending)
            self.pending = []

    def cancel(self) -> None:
        for _, _, future in self.futures:
            future.cancel()
        if self.pre is not None:
            self.pre.cancel()

    def failed(self) -> int:
        """The position of the first entry whose signature fails, or -1 (waits for every chunk)."""
        self._flush()
        answers = [(start, answer(future, jobs)) for start, jobs, future in self.futures]
        failures = [self.positions[start + bad] for start, bad in answers if bad >= 0]
        bad = _verify_chunk(self.pending)
        if bad >= 0:
            failures.append(self.positions[self.done + bad])
        if self.pre is not None and self.pre_wanted:
            bad = self.pre.failed(self.pre_wanted)
            if bad >= 0:
                failures.append(bad - self.offset)
        return min(failures, default=-1)


class Replica:
    """The logs this node holds, as its peers see them and as it takes them from its peers."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        own_log: bytes,
        trusted: Callable[[bytes], bool],
        verify_pool: concurrent.futures.Executor | None = None,
    ) -> None:
        self.store = LogStore(conn)
        self.own_log = own_log
        self.trusted = trusted
        self.verify_pool = verify_pool

    # --- what we serve ------------------------------------------------------------------------------

    def heads(self) -> list[Head]:
        return [Head(h.log_id, h.size, h.root) for h in self.store.heads()]

    def head(self, log_id: bytes) -> Head | None:
        h = self.store.head(log_id)
        return Head(h.log_id, h.size, h.root) if h else None

    def page(self, log_id: bytes, after_seq: int, limit: int, first: int) -> Page:
        """Entries after ``after_seq`` (public bodies only), our newest checkpoint, and a consistency proof
        from ``first`` to it; a log we do not hold gives an empty page."""
        rows, checkpoint, proof = self._page(log_id, after_seq, limit, first)
        return Page(tuple(Entry.stored(*row) for row in rows), checkpoint, proof, first)

    def page_bytes(self, log_id: bytes, after_seq: int, limit: int, first: int) -> bytes:
        """``page(…).encode()`` straight from the stored bytes: what a peer is sent, with no header decoded
        again (we checked them when we stored them; the peer checks them all itself)."""
        rows, checkpoint, proof = self._page(log_id, after_seq, limit, first)
        return encode_page(rows, checkpoint, proof, first)

    def _page(
        self, log_id: bytes, after_seq: int, limit: int, first: int
    ) -> tuple[list[Row], str | None, tuple[bytes, ...]]:
        self._refuse_frozen(log_id)
        head = self.store.head(log_id)
        if head is None:
            return [], None, ()
        limit = max(0, min(limit, MAX_PAGE_ENTRIES))
        rows: list[Row] = []
        budget = SERVE_PAGE_BYTES
        for row in self.store.rows(log_id, max(after_seq, -1), limit):
            budget -= len(row[0]) + len(row[1]) + len(row[2] or b"") + 32
            if budget < 0 and rows:
                break
            rows.append(row)
        noted = head.checkpoint_size
        proof: list[bytes] = []
        if head.checkpoint is not None and noted is not None and 0 < first < noted:
            proof = self.store.consistency_proof(log_id, first, noted)
        return rows, head.checkpoint, tuple(proof)

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
        self._refuse_frozen(log_id)
        try:
            key = PublicKey(log_id)
        except DecodeError as exc:
            raise BadData("untrusted-log", str(exc)) from exc
        head = self.store.head(log_id)
        size = head.size if head else 0
        # entries at positions we hold first: a different one is a fork, whatever the checkpoint claims
        self._check_held(key, page.entries, size)
        signed = self._check_checkpoint(key, page, head)
        pre = page._preverified
        if pre is not None and (pre.log_id != log_id or pre.entries is not page.entries):
            pre = None
        try:
            new, verifier = self._check_entries(key, page.entries, size, pre)
        except BaseException:
            if pre is not None:
                pre.cancel()
            raise
        try:
            return self._commit(log_id, head, new, signed, verifier)
        finally:
            verifier.cancel()

    def preverify(self, log_id: bytes, page: Page) -> Page:
        """``page`` with the signature checks of its root-signed entries already sent to the verify pool,
        so they run while earlier pages are still being ingested; ``ingest`` waits for their answers
        instead of sending them again (every other check is made there, as always)."""
        if self.verify_pool is None or len(page.entries) < POOL_THRESHOLD or page._preverified is not None:
            return page
        try:
            pre = Preverified(log_id, page.entries, self.verify_pool)
        except DecodeError:
            return page  # not a log key: ingest refuses it
        return dataclasses.replace(page, _preverified=pre)

    def _check_checkpoint(self, key: PublicKey, page: Page, head: LogHead | None) -> SignedCheckpoint | None:
        """The offered checkpoint if it is newer than the one held and consistent with what we hold."""
        if page.checkpoint is None:
            if page.consistency:
                raise BadData("consistency", "a consistency proof without a checkpoint")
            return None
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
                raise BadData("rollback", f"checkpoint of size {offered.size}, we hold {held.size}")
            if offered.size == held.size:
                if offered.root != held.root:
                    self._fork(checkpoints_fork(key.raw, head.checkpoint, page.checkpoint))
                return None  # the one we hold
        if 0 < size < offered.size:
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
        return signed

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
        self, key: PublicKey, entries: Sequence[Entry], size: int, pre: Preverified | None = None
    ) -> tuple[Sequence[Entry], _Verifier]:
        """The entries beyond ``size`` (the page passed ``_check_held``), chained and checked, with their
        signatures on their way (those ``pre`` sent already are only waited for)."""
        log_id = key.raw
        start = entries[0].seq if entries else size
        held = min(len(entries), size - start)
        new = entries[held:]
        keys = self._keys(key)
        todo = len(new) - (sum(1 for i in pre.covered if i >= held) if pre is not None else 0)
        verifier = _Verifier(self.verify_pool, todo, pre, held)
        previous = self.store.entry(log_id, size - 1) if size and new else None
        try:
            for position, entry in enumerate(new):
                header = entry.header
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
        verifier: _Verifier,
    ) -> IngestResult:
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
            bad = verifier.failed()
            if bad >= 0:
                raise BadData("entry-signature", f"seq {new[bad].seq}: not a valid signature")
        if result is None:
            return IngestResult(0, 0, None)
        return IngestResult(len(new), result.size, result.checkpoint_size)

    # --- forks --------------------------------------------------------------------------------------

    def _entries_fork(self, key: PublicKey, offered: Entry) -> None:
        """``offered`` differs from the entry we hold at its seq: if it is validly signed, that is a fork."""
        if offered.header.key_id != key.id:
            raise BadData("unknown-key", f"a different entry at seq {offered.seq}, not by the root key")
        try:
            offered.verify_signature(key)
        except VerificationError as exc:
            raise BadData("entry-signature", f"seq {offered.seq}: {exc.message}") from exc
        held = self.store.entry(key.raw, offered.seq)
        assert held is not None
        self._fork(entries_fork(held, offered))

    def _fork(self, fork: ForkProof) -> None:
        proof = fork.encode()
        try:
            verify_fork_proof(proof)
        except (DecodeError, VerificationError) as exc:  # a held entry by a delegated key: v1 cannot show it
            raise BadData("fork", f"a contradiction v1 cannot prove: {exc}") from exc
        reason = fork.describe()
        with self.store.transaction():
            self.store.add_fork(fork.log_id, proof, reason)
        raise ForkFound(proof, reason)

    def _refuse_frozen(self, log_id: bytes) -> None:
        held = self.store.fork(log_id)
        if held is not None:
            raise Frozen(held[1], held[0])
        head = self.store.head(log_id)
        if head is not None and head.frozen:
            raise Frozen(head.frozen)


def _is_delegation(body: bytes) -> bool:
    return KEY_KIND.encode() in body and msgpack.unpackb(body, raw=False).get("kind") == KEY_KIND


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
