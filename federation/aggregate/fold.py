"""Folding: every public entry of a held log into the aggregate figures, once, in log order.

``Folder.update(log_id)`` folds the entries not folded yet, keeping ``folded_seq`` per log in the same
transaction as the figures, so it never folds an entry twice and never leaves a gap, and incremental folding
and ``rebuild`` agree (a test checks it). A public body without the shape of its kind (a hostile or buggy
council) raises ``UnreadableBody`` while it is read, before anything changes: it counts nothing, and is
counted as ``unreadable``. Any other exception is a bug, and is not swallowed here.

A log's role is the kind of its entry 0: ``council_fold`` folds a council's log, ``federation_fold`` a
federation's (its roster); both read bodies through ``bodies``. A log of any other role is held, not folded.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from federation.aggregate.council_fold import CouncilFolder
from federation.aggregate.federation_fold import FederationFolder
from federation.aggregate.schema import TABLES
from federation.store import LogStore
from protocol.errors import DecodeError
from protocol.note import log_origin, parse_note

_ROLES = {"council/found": "council", "federation/found": "federation"}  # by the kind of entry 0


def _cosignatures(note: str | None, log_id: bytes) -> int:
    """Signature lines on the held checkpoint other than the log's own: what witnesses added (each names
    its witness key; a reader checks those against the witnesses it trusts)."""
    if note is None:
        return 0
    try:
        signatures = parse_note(note).signatures
    except DecodeError:
        return 0
    origin = log_origin(log_id)
    return len({s.name for s in signatures if s.name != origin})


class Folder:
    """Folds held logs into the aggregate tables through ``conn`` (the writer's connection)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._councils = CouncilFolder(conn)
        self._federations = FederationFolder(conn)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """Join the caller's transaction (the ingest's own, say), or run in one of our own."""
        if self.conn.in_transaction:
            yield
            return
        with LogStore(self.conn).transaction():
            yield

    def update(self, log_id: bytes) -> int:
        """Fold the entries of ``log_id`` not folded yet; return how many public entries were read.

        Folding starts at the aggregate's own ``folded_seq + 1`` (kept in the same transaction as the
        figures): entries already folded are never folded again, so calling twice changes nothing.
        """
        with self._transaction():
            return self._update(log_id)

    def update_all(self) -> int:
        """Fold every held log (on start, after a crash between an ingest and its ``update``)."""
        logs = [
            bytes(r[0])
            for r in self.conn.execute(
                "SELECT log_id FROM logs WHERE private = 0 ORDER BY log_id"  # never a council's record
            )
        ]
        with self._transaction():
            return sum(self._update(log_id) for log_id in logs)

    def rebuild(self) -> int:
        """Drop every figure and fold every held log again from the entries table."""
        with self._transaction():
            for table in TABLES:
                self.conn.execute(f"DELETE FROM {table}")
            self.conn.execute("INSERT INTO agg_decisions_fts (agg_decisions_fts) VALUES ('delete-all')")
            return self.update_all()

    def _update(self, log_id: bytes) -> int:
        head = self.conn.execute(
            "SELECT size, checkpoint, checkpoint_size FROM logs WHERE log_id = ? AND private = 0", (log_id,)
        ).fetchone()
        if head is None:
            return 0
        size, note, checkpoint_size = head
        held = self.conn.execute(
            "SELECT role, folded_seq, unreadable FROM agg_logs WHERE log_id = ?", (log_id,)
        ).fetchone()
        role, folded, unreadable = held if held else (None, -1, 0)
        rows = self.conn.execute(
            "SELECT seq, id, ts_ms, kind, body FROM entries "
            "WHERE log_id = ? AND seq > ? AND seq < ? AND vis = 'public' ORDER BY seq",
            (log_id, folded, size),
        ).fetchall()
        if role is None:
            first = rows[0][3] if rows and rows[0][0] == 0 else None
            role = _ROLES.get(first or "", "other")
        if role == "council":
            unreadable += self._councils.fold(log_id, rows)
        elif role == "federation":
            unreadable += self._federations.fold(log_id, rows)
        self.conn.execute(
            "INSERT INTO agg_logs VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (log_id) DO UPDATE SET "
            "folded_seq = excluded.folded_seq, size = excluded.size, "
            "checkpoint_size = excluded.checkpoint_size, cosignatures = excluded.cosignatures, "
            "unreadable = excluded.unreadable",
            (log_id, role, size - 1, size, checkpoint_size, _cosignatures(note, log_id), unreadable),
        )
        return len(rows)
