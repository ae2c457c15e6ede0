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
import sqlite_utils

from federation.db import Migration
from protocol import codec, merkle
from protocol.entry import Entry, verify_follows
from protocol.errors import VerificationError


class StoreError(Exception):
    """A write the store refuses; nothing was written."""


class ForkError(StoreError):
    """Two different validly signed entries claim one position of a log."""

    def __init__(self, log_id: bytes, seq: int, held: Entry, offered: Entry) -> None:
        super().__init__(f"log {codec.short_id(log_id)} forks at seq {seq}")
        self.log_id, self.seq, self.held, self.offered = log_id, seq, held, offered


def _schema(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE logs (
            log_id BLOB PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL,
            checkpoint TEXT, checkpoint_size INTEGER, frozen TEXT)"""
    )
    db.execute(
        """CREATE TABLE entries (
            log_id BLOB NOT NULL, seq INTEGER NOT NULL, id BLOB NOT NULL UNIQUE,
            header BLOB NOT NULL, signature BLOB NOT NULL, body BLOB, vis TEXT NOT NULL,
            ts_ms INTEGER NOT NULL, kind TEXT,
            PRIMARY KEY (log_id, seq)) WITHOUT ROWID"""
    )  # until 0005
    db.execute(
        """CREATE TABLE tree_nodes (
            log_id BLOB NOT NULL, level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,
            PRIMARY KEY (log_id, level, idx)) WITHOUT ROWID"""
    )


def _witnessing_schema(db: sqlite_utils.Database) -> None:
    """Tables of ``federation.witness``: what we cosigned as a witness, and our own checkpoints' cosigners."""
    # As a witness: the newest checkpoint we cosigned for each log (tlog-witness.md).
    db.execute(
        """CREATE TABLE witness_state (
            log_id BLOB PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL,
            updated_ms INTEGER NOT NULL) WITHOUT ROWID"""
    )
    # As a log: the checkpoint notes we sent to witnesses, with the cosignatures merged in.
    db.execute(
        """CREATE TABLE checkpoint_history (
            log_id BLOB NOT NULL, size INTEGER NOT NULL, note TEXT NOT NULL,
            PRIMARY KEY (log_id, size)) WITHOUT ROWID"""
    )
    # As a log: the size each witness last cosigned (or reported in a 409), the next request's old size.
    db.execute(
        """CREATE TABLE witnessed_by (
            log_id BLOB NOT NULL, witness_key BLOB NOT NULL, size INTEGER NOT NULL,
            PRIMARY KEY (log_id, witness_key)) WITHOUT ROWID"""
    )


def _forks_schema(db: sqlite_utils.Database) -> None:
    """Fork proofs (``protocol.fork``), kept even for a log we hold no row of: a proof freezes its log."""
    db.execute(
        """CREATE TABLE forks (
            log_id BLOB NOT NULL, proof BLOB NOT NULL, reason TEXT NOT NULL,
            PRIMARY KEY (log_id, proof)) WITHOUT ROWID"""
    )


def _kind_index(db: sqlite_utils.Database) -> None:
    # decisions across every log held: listing a council's decisions, tallying a proposal. Partial, so the
    # other entries (most of them) cost no index write on the append path.
    db.execute("CREATE INDEX entries_decisions ON entries (log_id, seq) WHERE kind = 'decision'")


def _entries_rowid(db: sqlite_utils.Database) -> None:
    """Entries in an ordinary (rowid) table, and ids indexed only for decisions.

    Rows of a few hundred bytes in a WITHOUT ROWID table are moved on every B-tree split of their primary
    key; appended by rowid they are written once, and (log_id, seq) becomes an index beside them. The id
    of every entry was indexed (UNIQUE) although only decisions are looked up by id (their bundles); an
    id is the hash of a header that holds (log_id, seq), so the primary key already makes ids unique, and
    random 32-byte keys dirty a page of that index per entry. Inserting and committing a page of entries
    now costs about a third of what it did."""
    db.execute(
        """CREATE TABLE entries_rowid (
            log_id BLOB NOT NULL, seq INTEGER NOT NULL, id BLOB NOT NULL,
            header BLOB NOT NULL, signature BLOB NOT NULL, body BLOB, vis TEXT NOT NULL,
            ts_ms INTEGER NOT NULL, kind TEXT,
            PRIMARY KEY (log_id, seq))"""
    )
    db.execute("INSERT INTO entries_rowid SELECT * FROM entries ORDER BY log_id, seq")
    db.execute("DROP TABLE entries")
    db.execute("ALTER TABLE entries_rowid RENAME TO entries")
    _kind_index(db)
    db.execute("CREATE INDEX entries_decision_ids ON entries (id) WHERE kind = 'decision'")


MIGRATIONS = [
    Migration("0001-logs-entries-tree", _schema),
    Migration("0002-forks", _forks_schema),
    Migration("0003-witnessing", _witnessing_schema),
    Migration("0004-entries-decision-index", _kind_index),
    Migration("0005-entries-rowid-decision-ids", _entries_rowid),
]


@dataclass(frozen=True)
class LogHead:
    log_id: bytes
    size: int
    root: bytes
    checkpoint: str | None  # the newest signed checkpoint note held (cosignatures merged in)
    frozen: str | None
    checkpoint_size: int | None = None  # its tree size: a replica may hold entries beyond it


STORED_LEVEL = 4  # tree nodes below this level are recomputed from at most 2**3 entry ids, not stored


class _Nodes:
    """Tree nodes of one log as a ``merkle.NodeSource``, seeing writes pending in this transaction.

    Leaves are the entry ids, stored once with the entries. Nodes of levels 1-3 are hashed again from at
    most eight leaves when asked for (a few microseconds); from level 4 up they are stored. So an append
    writes one tree row per sixteen entries instead of one per entry, and a proof reads at most a few
    dozen ids more.
    """

    def __init__(self, conn: sqlite3.Connection, log_id: bytes) -> None:
        self.conn, self.log_id = conn, log_id
        self.pending: dict[tuple[int, int], bytes] = {}

    def node(self, level: int, index: int) -> bytes:
        hit = self.pending.get((level, index))
        if hit is not None:
            return hit
        if level == 0:  # leaves are the entry ids, already stored with the entries: not kept twice
            row = self.conn.execute(
                "SELECT id FROM entries WHERE log_id = ? AND seq = ?", (self.log_id, index)
            ).fetchone()
        elif level < STORED_LEVEL:
            width = 1 << level
            leaves = [
                self.pending.get((0, i)) or bytes(r[0])
                for i, r in zip(
                    range(index * width, (index + 1) * width),
                    self.conn.execute(
                        "SELECT id FROM entries WHERE log_id = ? AND seq >= ? AND seq < ? ORDER BY seq",
                        (self.log_id, index * width, (index + 1) * width),
                    ),
                    strict=False,
                )
            ]
            if len(leaves) != width:
                raise VerificationError("tree", f"missing tree node {level}/{index}")
            return merkle.root_from_leaves(leaves)
        else:
            row = self.conn.execute(
                "SELECT hash FROM tree_nodes WHERE log_id = ? AND level = ? AND idx = ?",
                (self.log_id, level, index),
            ).fetchone()
        if row is None:
            raise VerificationError("tree", f"missing tree node {level}/{index}")
        return bytes(row[0])


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
    """The log tables, read and written through ``conn`` (the writer's, for writes)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # --- reads -------------------------------------------------------------------------------------

    def head(self, log_id: bytes) -> LogHead | None:
        row = self.conn.execute(f"SELECT {_HEAD} FROM logs WHERE log_id = ?", (log_id,)).fetchone()
        return _head(row) if row else None

    def heads(self) -> list[LogHead]:
        return [_head(r) for r in self.conn.execute(f"SELECT {_HEAD} FROM logs ORDER BY log_id")]

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
        rows = self.conn.execute(
            "SELECT id FROM entries WHERE log_id = ? AND seq >= ? AND seq < ? ORDER BY seq",
            (log_id, first, end),
        )
        return [bytes(r[0]) for r in rows]

    def delegations(self, log_id: bytes) -> list[Entry]:
        """The ``log/key`` entries of a log, in order, with their bodies."""
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
        return _Nodes(self.conn, log_id)

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
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

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

    def _check_same(self, log_id: bytes, entry: Entry) -> None:
        held = self.entry(log_id, entry.seq)
        if held is not None and held.id != entry.id:
            raise ForkError(log_id, entry.seq, held, entry)

    def freeze(self, log_id: bytes, reason: str) -> None:
        self.conn.execute("UPDATE logs SET frozen = ? WHERE log_id = ?", (reason, log_id))

    def add_fork(self, log_id: bytes, proof: bytes, reason: str) -> bool:
        """Store a (verified) fork proof and freeze its log; False if that proof was already held."""
        cursor = self.conn.execute(
            "INSERT OR IGNORE INTO forks (log_id, proof, reason) VALUES (?, ?, ?)", (log_id, proof, reason)
        )
        self.freeze(log_id, reason)
        return cursor.rowcount == 1

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
        self.previous = store.entry(log_id, self.size - 1) if self.size else None
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
        self.store.conn.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def finish(self, sign: CheckpointSigner) -> LogHead:
        """The tree nodes and the checkpoint over everything added; the log's head afterwards."""
        log_id, head, size, conn = self.log_id, self.head, self.size, self.store.conn
        if not self.added:
            if head is None:
                raise StoreError("nothing to append to an empty log")
            return head
        nodes = _Nodes(conn, log_id)
        for level, index, digest in merkle.append_nodes(nodes, self.start, self.added):  # all at once
            nodes.pending[(level, index)] = digest
        conn.executemany(
            "INSERT INTO tree_nodes VALUES (?, ?, ?, ?)",
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
