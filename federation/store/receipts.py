"""When this node first learnt of each position of a log, and when it last heard of it (migration ``0801``).

A federation judges an answer's lateness by its own receipt, not by the answering council's clock (issue 13:
a council one hour slow had a late answer counted). Two tables, written on the writer's connection inside the
transaction that learns the fact, so nothing is held without its receipt:

- ``log_receipts (log_id, size, received_ms)``: the first time this node learnt that ``log_id`` reached
  ``size``, either by storing entries up to it (ingest) or by cosigning a checkpoint of that size as a
  witness (a signed commitment to the entries, which may replicate later). An entry at ``seq`` was received
  at the earliest ``received_ms`` of a row with ``size > seq``.
- ``log_heard (log_id, size, heard_ms)``: the latest time a signed report of the log's head reached this node
  (an ingest, a witness request, a gossip peer's digest), with the largest size reported. A federation closes
  a proposal early only when every admitted council was heard after the deadline and every entry received by
  then is held (``node.storage.queries``).

Times are this node's clock, in milliseconds; the node's writer keeps its own clock from running backwards
(``node.storage.writer``).
"""

from __future__ import annotations

import sqlite3

import sqlite_utils

from federation.db import Migration


def _schema(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE log_receipts (
            log_id BLOB NOT NULL, size INTEGER NOT NULL, received_ms INTEGER NOT NULL,
            PRIMARY KEY (log_id, size)) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE log_heard (
            log_id BLOB PRIMARY KEY, size INTEGER NOT NULL, heard_ms INTEGER NOT NULL) WITHOUT ROWID"""
    )
    # decisions held before receipts were kept: their own time stands in for a receipt (the old rule)
    db.execute(
        "INSERT OR IGNORE INTO log_receipts SELECT log_id, seq + 1, ts_ms FROM entries "
        "WHERE kind = 'decision' AND vis = 'public'"
    )


MIGRATIONS = [Migration("0801-log-receipts", _schema)]


def note(conn: sqlite3.Connection, log_id: bytes, size: int, now_ms: int) -> None:
    """``log_id`` is known to reach ``size`` at ``now_ms`` (the first time counts); heard from, too."""
    if size > 0:
        conn.execute("INSERT OR IGNORE INTO log_receipts VALUES (?, ?, ?)", (log_id, size, now_ms))
    heard(conn, log_id, size, now_ms)


def heard(conn: sqlite3.Connection, log_id: bytes, size: int, now_ms: int) -> None:
    """A signed report of ``log_id``'s head (``size``) reached this node at ``now_ms``."""
    conn.execute(
        "INSERT INTO log_heard VALUES (?, ?, ?) ON CONFLICT (log_id) DO UPDATE SET "
        "size = max(size, excluded.size), heard_ms = max(heard_ms, excluded.heard_ms)",
        (log_id, size, now_ms),
    )


def received_ms(conn: sqlite3.Connection, log_id: bytes, seq: int) -> int | None:
    """When this node first learnt of entry ``seq`` of ``log_id``; None if it never did."""
    row = conn.execute(
        "SELECT min(received_ms) FROM log_receipts WHERE log_id = ? AND size > ?", (log_id, seq)
    ).fetchone()
    return None if row[0] is None else int(row[0])


def committed_by(conn: sqlite3.Connection, log_id: bytes, when_ms: int) -> int:
    """The largest size of ``log_id`` this node had learnt of at ``when_ms`` (0 if none)."""
    row = conn.execute(
        "SELECT max(size) FROM log_receipts WHERE log_id = ? AND received_ms <= ?", (log_id, when_ms)
    ).fetchone()
    return int(row[0] or 0)


def last_heard(conn: sqlite3.Connection, log_id: bytes) -> tuple[int, int] | None:
    """(size, heard_ms) of the latest report of ``log_id``'s head, if any."""
    row = conn.execute("SELECT size, heard_ms FROM log_heard WHERE log_id = ?", (log_id,)).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))
