"""The tables of sealed backups, on both sides of a push.

As the council that seals:
    backup_peers    the peers the operator chose to hold its sealed copy (``shora backup-peers``)
    backup_sealed   every segment of its backup stream, by index, to push to peers that lack it
    backup_cursor   one row: the next index, the stream bytes not sealed yet, and what has been put in
                    the stream (record epoch and size, directory rowid)
    backup_pushed   per backup peer, how many segments it acknowledged
    backup_push_status  per backup peer, the last push: when, which segments, and why it stopped if it failed

As a peer that holds other councils' copies:
    sealed_held     segments of councils it holds, by (council, index), contiguous from 0, never read
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import sqlite_utils

from federation.db import Migration


def _schema(db: sqlite_utils.Database) -> None:
    db.execute("CREATE TABLE backup_peers (node_id BLOB PRIMARY KEY, url TEXT NOT NULL) WITHOUT ROWID")
    db.execute("CREATE TABLE backup_sealed (idx INTEGER PRIMARY KEY, segment BLOB NOT NULL)")
    db.execute(
        """CREATE TABLE backup_cursor (
            one INTEGER PRIMARY KEY CHECK (one = 0), next_index INTEGER NOT NULL, pending BLOB NOT NULL,
            epoch INTEGER NOT NULL, record_size INTEGER NOT NULL, directory_rowid INTEGER NOT NULL)"""
    )
    db.execute("INSERT INTO backup_cursor VALUES (0, 0, x'', 0, 0, 0)")
    db.execute("CREATE TABLE backup_pushed (node_id BLOB PRIMARY KEY, acked INTEGER NOT NULL) WITHOUT ROWID")
    db.execute(
        """CREATE TABLE sealed_held (
            council BLOB NOT NULL, idx INTEGER NOT NULL, segment BLOB NOT NULL,
            PRIMARY KEY (council, idx)) WITHOUT ROWID"""
    )


def _push_status(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE backup_push_status (
            node_id BLOB PRIMARY KEY, at_ms INTEGER NOT NULL, held_before INTEGER NOT NULL,
            held INTEGER NOT NULL, sealed INTEGER NOT NULL, failure TEXT) WITHOUT ROWID"""
    )


MIGRATIONS = [
    Migration("0501-sealed-backups", _schema),
    Migration("0502-backup-push-status", _push_status),
]


@dataclass(frozen=True)
class Cursor:
    """Where the council's backup stream stands: segments ``0 … next_index - 1`` are sealed; ``pending``
    is stream bytes not sealed yet; the stream holds the record up to ``record_size`` entries of ``epoch``
    and the directory rows up to ``directory_rowid``."""

    next_index: int
    pending: bytes
    epoch: int
    record_size: int
    directory_rowid: int


def cursor(conn: sqlite3.Connection) -> Cursor:
    row = conn.execute(
        "SELECT next_index, pending, epoch, record_size, directory_rowid FROM backup_cursor"
    ).fetchone()
    return Cursor(row[0], bytes(row[1]), row[2], row[3], row[4])


def set_cursor(conn: sqlite3.Connection, value: Cursor) -> None:
    conn.execute(
        "UPDATE backup_cursor SET next_index = ?, pending = ?, epoch = ?, record_size = ?, "
        "directory_rowid = ?",
        (value.next_index, value.pending, value.epoch, value.record_size, value.directory_rowid),
    )


def add_sealed(conn: sqlite3.Connection, first: int, segments: list[bytes]) -> None:
    conn.executemany(
        "INSERT INTO backup_sealed (idx, segment) VALUES (?, ?)",
        [(first + i, segment) for i, segment in enumerate(segments)],
    )


def sealed(conn: sqlite3.Connection, first: int, limit: int) -> list[bytes]:
    rows = conn.execute(
        "SELECT segment FROM backup_sealed WHERE idx >= ? ORDER BY idx LIMIT ?", (first, limit)
    )
    return [bytes(r[0]) for r in rows]


# --- the peers chosen to hold our copy ---------------------------------------------------------------


@dataclass(frozen=True)
class Push:
    """One push to a backup peer: at ``at_ms`` it held ``held_before`` segments of the ``sealed`` ones,
    and ``held`` afterwards; ``failure`` says in words why the push stopped short (None: it holds all)."""

    at_ms: int
    held_before: int
    held: int
    sealed: int
    failure: str | None

    def to_json(self) -> dict[str, object]:
        return {
            "at_ms": self.at_ms,
            "ok": self.failure is None,
            "sent": self.held - self.held_before if self.held >= self.held_before else 0,
            "held_before": self.held_before,
            "held": self.held,
            "sealed": self.sealed,
            "failure": self.failure,
        }


@dataclass(frozen=True)
class BackupPeer:
    node_id: bytes
    url: str
    acked: int  # segments it acknowledged holding
    last_push: Push | None = None  # None: not pushed to yet


def backup_peers(conn: sqlite3.Connection) -> list[BackupPeer]:
    rows = conn.execute(
        "SELECT p.node_id, p.url, COALESCE(s.acked, 0), t.at_ms, t.held_before, t.held, t.sealed, t.failure "
        "FROM backup_peers p LEFT JOIN backup_pushed s ON s.node_id = p.node_id "
        "LEFT JOIN backup_push_status t ON t.node_id = p.node_id ORDER BY p.node_id"
    )
    return [
        BackupPeer(bytes(r[0]), r[1], r[2], None if r[3] is None else Push(r[3], r[4], r[5], r[6], r[7]))
        for r in rows
    ]


def add_backup_peer(conn: sqlite3.Connection, node_id: bytes, url: str) -> None:
    conn.execute(
        "INSERT INTO backup_peers (node_id, url) VALUES (?, ?) ON CONFLICT (node_id) DO UPDATE SET url = ?",
        (node_id, url, url),
    )


def remove_backup_peer(conn: sqlite3.Connection, node_id: bytes) -> bool:
    conn.execute("DELETE FROM backup_pushed WHERE node_id = ?", (node_id,))
    conn.execute("DELETE FROM backup_push_status WHERE node_id = ?", (node_id,))
    return conn.execute("DELETE FROM backup_peers WHERE node_id = ?", (node_id,)).rowcount == 1


def set_acked(conn: sqlite3.Connection, node_id: bytes, acked: int) -> None:
    conn.execute(
        "INSERT INTO backup_pushed (node_id, acked) VALUES (?, ?) "
        "ON CONFLICT (node_id) DO UPDATE SET acked = ?",
        (node_id, acked, acked),
    )


def record_push(conn: sqlite3.Connection, node_id: bytes, push: Push) -> None:
    """What the last push to ``node_id`` did, and the count it acknowledged, in one statement each."""
    set_acked(conn, node_id, push.held)
    conn.execute(
        "INSERT INTO backup_push_status (node_id, at_ms, held_before, held, sealed, failure) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (node_id) DO UPDATE SET at_ms = excluded.at_ms, "
        "held_before = excluded.held_before, held = excluded.held, sealed = excluded.sealed, "
        "failure = excluded.failure",
        (node_id, push.at_ms, push.held_before, push.held, push.sealed, push.failure),
    )


# --- other councils' copies we hold ------------------------------------------------------------------


def held_count(conn: sqlite3.Connection, council: bytes) -> int:
    row = conn.execute("SELECT COUNT(*) FROM sealed_held WHERE council = ?", (council,)).fetchone()
    return int(row[0])


def held_segment(conn: sqlite3.Connection, council: bytes, index: int) -> bytes | None:
    row = conn.execute(
        "SELECT segment FROM sealed_held WHERE council = ? AND idx = ?", (council, index)
    ).fetchone()
    return bytes(row[0]) if row else None


def held(conn: sqlite3.Connection, council: bytes, first: int, limit: int) -> list[bytes]:
    rows = conn.execute(
        "SELECT segment FROM sealed_held WHERE council = ? AND idx >= ? ORDER BY idx LIMIT ?",
        (council, first, limit),
    )
    return [bytes(r[0]) for r in rows]


def hold(conn: sqlite3.Connection, council: bytes, index: int, segment: bytes) -> None:
    conn.execute(
        "INSERT INTO sealed_held (council, idx, segment) VALUES (?, ?, ?)", (council, index, segment)
    )
