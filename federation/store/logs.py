"""The logs a node holds — its own first, its peers' later — with their Merkle trees and checkpoints.

Sync and small (STYLE.md 10): every write runs on the node's one writer connection, in one transaction that
appends the entries, adds the tree nodes, recomputes the root from stored nodes and stores the checkpoint
signed over that root (DESIGN.md §4). A different entry at an occupied position is never ignored: it raises
``ForkError`` carrying both signed headers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import msgpack

from federation.db import insert_rows
from federation.errors import StoreError
from federation.store.tree import STORED_LEVEL, TreeNodes
from protocol import codec, merkle
from protocol.entry import Entry, verify_follows
from protocol.errors import VerificationError


class ForkError(StoreError):
    """Two different validly signed entries claim one position of a log."""

    def __init__(self, log_id: bytes, seq: int, held: Entry, offered: Entry) -> None:
        super().__init__(f"log {codec.short_id(log_id)} forks at seq {seq}")
        self.log_id, self.seq, self.held, self.offered = log_id, seq, held, offered


@dataclass(frozen=True)
class LogHead:
    log_id: bytes
    size: int
    root: bytes
    checkpoint: str | None  # the newest signed checkpoint note held (cosignatures merged in)
    frozen: str | None
    checkpoint_size: int | None = None  # its tree size: a replica may hold entries beyond it


def _kind(body: bytes) -> str:
    """The ``kind`` of a body that ``Entry`` already decoded and checked when it was built (canonical, a map
    with a non-empty text kind): read back with a plain unpack, not a second full validation, because this
    runs for every entry of every append."""
    kind: str = msgpack.unpackb(body, raw=False)["kind"]
    return kind


# (size, root) -> the signed note for that tree, or None to keep the checkpoint held (a replica whose
# newest checkpoint covers fewer entries than it already verified)
CheckpointSigner = Callable[[int, bytes], str | None]
_HEAD = "log_id, size, root, checkpoint, frozen, checkpoint_size"


def _head(row: Any) -> LogHead:
    log_id, size, root, checkpoint, frozen, checkpoint_size = row
    return LogHead(bytes(log_id), size, bytes(root), checkpoint, frozen, checkpoint_size)


class LogStore:
    """The log tables, read and written through ``conn`` (the writer's, for writes).

    Private logs (``create_private``) are seen only by a store made with ``private=True`` — the writer's,
    and the operator's reads of the record; to every other store they do not exist, so whatever serves
    logs to peers or the public cannot serve one, nor tell that one is held."""

    def __init__(self, conn: sqlite3.Connection, *, private: bool = False) -> None:
        self.conn = conn
        self.private = private
        self._visible = "" if private else " AND private = 0"

    # --- reads -------------------------------------------------------------------------------------

    def head(self, log_id: bytes) -> LogHead | None:
        row = self.conn.execute(
            f"SELECT {_HEAD} FROM logs WHERE log_id = ?{self._visible}", (log_id,)
        ).fetchone()
        return _head(row) if row else None

    def heads(self) -> list[LogHead]:
        where = "" if self.private else " WHERE private = 0"
        return [_head(r) for r in self.conn.execute(f"SELECT {_HEAD} FROM logs{where} ORDER BY log_id")]

    def hidden(self, log_id: bytes) -> bool:
        """``log_id`` is a private log this store may not see."""
        if self.private:
            return False
        row = self.conn.execute("SELECT private FROM logs WHERE log_id = ?", (log_id,)).fetchone()
        return bool(row and row[0])

    def entries(
        self,
        log_id: bytes,
        after_seq: int = -1,
        limit: int = 1000,
        *,
        council_bodies: bool = False,
        recheck: bool = True,
    ) -> list[Entry]:
        """Entries with seq > ``after_seq``; bodies of council entries only if ``council_bodies``. Without
        ``recheck``, bodies are not checked against their headers again (``Entry.stored``)."""
        make = Entry if recheck else Entry.stored
        return [make(*row) for row in self.rows(log_id, after_seq, limit, council_bodies=council_bodies)]

    def rows(
        self, log_id: bytes, after_seq: int = -1, limit: int = 1000, *, council_bodies: bool = False
    ) -> list[tuple[bytes, bytes, bytes | None]]:
        """``entries`` as the stored ``(header, signature, body)`` bytes, decoding nothing: for serving
        pages to peers, who check every entry themselves."""
        if self.hidden(log_id):
            return []
        rows = self.conn.execute(
            "SELECT header, signature, body, vis FROM entries "
            "WHERE log_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (log_id, after_seq, limit),
        )
        return [
            (bytes(h), bytes(s), bytes(b) if b is not None and (council_bodies or v == "public") else None)
            for h, s, b, v in rows
        ]

    def entry(self, log_id: bytes, seq: int) -> Entry | None:
        found = self.entries(log_id, seq - 1, 1, council_bodies=True)
        return found[0] if found and found[0].seq == seq else None

    def locate_decision(self, decision_id: bytes) -> tuple[bytes, int] | None:
        """``(log_id, seq)`` of the decision entry with this id (only decisions are indexed by id)."""
        row = self.conn.execute(
            "SELECT log_id, seq FROM entries WHERE id = ? AND kind = 'decision'", (decision_id,)
        ).fetchone()
        return (bytes(row[0]), row[1]) if row else None

    def entry_ids(self, log_id: bytes, first: int, end: int) -> list[bytes]:
        """The ids of entries ``first`` ≤ seq < ``end``, in order."""
        if self.hidden(log_id):
            return []
        rows = self.conn.execute(
            "SELECT id FROM entries WHERE log_id = ? AND seq >= ? AND seq < ? ORDER BY seq",
            (log_id, first, end),
        )
        return [bytes(r[0]) for r in rows]

    def delegations(self, log_id: bytes) -> list[Entry]:
        """The ``log/key`` entries of a log, in order, with their bodies."""
        if self.hidden(log_id):
            return []
        rows = self.conn.execute(
            "SELECT header, signature, body FROM entries WHERE log_id = ? AND kind = 'log/key' ORDER BY seq",
            (log_id,),
        )
        return [Entry(bytes(h), bytes(s), bytes(b)) for h, s, b in rows]

    def forks(self) -> list[tuple[bytes, bytes, str]]:
        """Every fork proof held: ``(log_id, proof, reason)``, by log."""
        rows = self.conn.execute("SELECT log_id, proof, reason FROM forks ORDER BY log_id, proof")
        return [(bytes(log_id), bytes(proof), reason) for log_id, proof, reason in rows]

    def fork(self, log_id: bytes) -> tuple[bytes, str] | None:
        """A fork proof held for ``log_id`` and its reason, if any."""
        row = self.conn.execute(
            "SELECT proof, reason FROM forks WHERE log_id = ? ORDER BY proof LIMIT 1", (log_id,)
        ).fetchone()
        return (bytes(row[0]), row[1]) if row else None

    def nodes(self, log_id: bytes) -> merkle.NodeSource:
        if self.hidden(log_id):
            raise VerificationError("tree", "this store holds no such log")
        return TreeNodes(self.conn, log_id)

    def root(self, log_id: bytes, size: int) -> bytes:
        return merkle.root(self.nodes(log_id), size)

    def inclusion_proof(self, log_id: bytes, index: int, size: int) -> list[bytes]:
        return merkle.inclusion_proof(self.nodes(log_id), index, size)

    def consistency_proof(self, log_id: bytes, first: int, second: int) -> list[bytes]:
        return merkle.consistency_proof(self.nodes(log_id), first, second)

    # --- writes (writer connection only) -----------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.conn.execute("COMMIT")
        except BaseException:
            # SQLite rolls some failed transactions back itself (a full disk): report the failure, not
            # that nothing was left to roll back
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def append(self, log_id: bytes, entries: Sequence[Entry], sign: CheckpointSigner) -> LogHead:
        """Append ``entries`` and a checkpoint signed over the new root, all in one transaction."""
        with self.transaction():
            return self.append_in_transaction(log_id, entries, sign)

    def append_in_transaction(
        self, log_id: bytes, entries: Sequence[Entry], sign: CheckpointSigner
    ) -> LogHead:
        appender = self.appender(log_id)
        appender.add(entries)
        return appender.finish(sign)

    def appender(self, log_id: bytes) -> Appender:
        """Append to ``log_id`` piece by piece inside the open transaction: see ``Appender``."""
        return Appender(self, log_id)

    def signed_header(self, log_id: bytes, seq: int) -> Entry | None:
        """The entry at ``seq`` without its body: what chaining and fork checks need, for a log of any
        kind (a private record's bodies follow the record's rules, not a public log's)."""
        row = self.conn.execute(
            "SELECT header, signature FROM entries WHERE log_id = ? AND seq = ?", (log_id, seq)
        ).fetchone()
        return Entry.stored(bytes(row[0]), bytes(row[1])) if row else None

    def _check_same(self, log_id: bytes, entry: Entry) -> None:
        held = self.signed_header(log_id, entry.seq)
        if held is not None and held.id != entry.id:
            raise ForkError(log_id, entry.seq, held, entry)

    def create_private(self, log_id: bytes) -> None:
        """Hold ``log_id`` as a private log (empty until appended to); a log already held stays as it is."""
        self.conn.execute(
            "INSERT INTO logs (log_id, size, root, private) VALUES (?, 0, ?, 1) "
            "ON CONFLICT (log_id) DO NOTHING",
            (log_id, merkle.root_from_leaves([])),
        )

    def freeze(self, log_id: bytes, reason: str) -> None:
        self.conn.execute("UPDATE logs SET frozen = ? WHERE log_id = ?", (reason, log_id))

    def add_fork(self, log_id: bytes, proof: bytes, reason: str) -> bool:
        """Store a (verified) fork proof and freeze its log; False if that proof was already held."""
        cursor = self.conn.execute(
            "INSERT OR IGNORE INTO forks (log_id, proof, reason) VALUES (?, ?, ?)", (log_id, proof, reason)
        )
        self.freeze(log_id, reason)
        return cursor.rowcount == 1

    def set_signature(self, log_id: bytes, seq: int, signature: bytes) -> None:
        """Replace the signature held for entry ``seq`` (a valid one for a header that did not hold one)."""
        self.conn.execute(
            "UPDATE entries SET signature = ? WHERE log_id = ? AND seq = ?", (signature, log_id, seq)
        )

    def bad_signature(self, log_id: bytes, seq: int) -> bool:
        """A signature that failed is held for entry ``seq`` (``federation.store.verified``)."""
        row = self.conn.execute(
            "SELECT 1 FROM bad_signatures WHERE log_id = ? AND seq = ? LIMIT 1", (log_id, seq)
        ).fetchone()
        return row is not None

    def set_checkpoint(self, log_id: bytes, note: str, size: int) -> None:
        """Hold ``note`` (a verified checkpoint of ``size`` ≤ the log's size, matching the stored tree)."""
        self.conn.execute(
            "UPDATE logs SET checkpoint = ?, checkpoint_size = ? WHERE log_id = ?", (note, size, log_id)
        )


class Appender:
    """One append to one log inside the caller's transaction, given in pieces: ``add`` as entries become
    ready (the writer inserts a batch's first entries while it still signs the last ones), then ``finish``
    once — the tree nodes of everything added, the root recomputed from the store and the signed
    checkpoint. An error at any step leaves the transaction to be rolled back by its owner."""

    def __init__(self, store: LogStore, log_id: bytes) -> None:
        self.store, self.log_id = store, log_id
        self.head = head = store.head(log_id)
        if head is not None and head.frozen:
            raise StoreError(f"log {codec.short_id(log_id)} is frozen: {head.frozen}")
        self.size = head.size if head else 0
        self.start = self.size
        self.previous = store.signed_header(log_id, self.size - 1) if self.size else None
        self.added: list[bytes] = []

    def add(self, entries: Sequence[Entry]) -> None:
        """Check that ``entries`` follow what is held (or already hold them) and insert the new ones."""
        log_id, previous, size = self.log_id, self.previous, self.size
        rows = []
        for entry in entries:
            if entry.header.log_id != log_id:
                raise StoreError("entry belongs to another log")
            if entry.seq < size:
                self.store._check_same(log_id, entry)
                continue
            try:
                verify_follows(previous, entry)
            except VerificationError as exc:
                raise StoreError(str(exc)) from exc
            if not self.added:
                self.start = size
            self.added.append(entry.id)
            body = entry.body_bytes
            header = entry.header
            rows.append(
                (log_id, entry.seq, entry.id, entry.header_bytes, entry.signature, body,
                 header.vis, header.ts_ms, _kind(body) if body is not None else None)
            )  # fmt: skip
            previous, size = entry, size + 1
        self.previous, self.size = previous, size
        insert_rows(self.store.conn, "entries", rows)

    def finish(self, sign: CheckpointSigner) -> LogHead:
        """The tree nodes and the checkpoint over everything added; the log's head afterwards."""
        log_id, head, size, conn = self.log_id, self.head, self.size, self.store.conn
        if not self.added:
            if head is None:
                raise StoreError("nothing to append to an empty log")
            return head
        nodes = TreeNodes(conn, log_id)
        for level, index, digest in merkle.append_nodes(nodes, self.start, self.added):  # all at once
            nodes.pending[(level, index)] = digest
        insert_rows(
            conn,
            "tree_nodes",
            [
                (log_id, level, index, digest)
                for (level, index), digest in nodes.pending.items()
                if level >= STORED_LEVEL
            ],
        )
        nodes.pending.clear()
        root = merkle.root(nodes, size)  # recomputed from what is now stored (DESIGN.md §3)
        note = sign(size, root)
        if note is None:
            note, noted = (head.checkpoint, head.checkpoint_size) if head else (None, None)
        else:
            noted = size
        conn.execute(
            "INSERT INTO logs (log_id, size, root, checkpoint, checkpoint_size) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (log_id) DO UPDATE SET size = excluded.size, root = excluded.root, "
            "checkpoint = excluded.checkpoint, checkpoint_size = excluded.checkpoint_size",
            (log_id, size, root, note, noted),
        )
        return LogHead(log_id, size, root, note, None, noted)


__all__ = ["Appender", "CheckpointSigner", "ForkError", "LogHead", "LogStore", "StoreError"]
