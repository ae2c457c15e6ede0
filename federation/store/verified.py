"""Which entries of a replica had their own signatures checked (migration ``0802``, docs/gossip.md "Pulling").

A page of a peer's log is committed once it is authenticated by the log key's signature over a checkpoint
whose tree holds it (the entry ids are its leaves). Each entry's own signature is verified afterwards, off the
critical path; until then its range is held here:

- ``unverified (log_id, first, end, source)``: entries ``first`` ≤ seq < ``end`` were committed on a
  checkpoint's authority, their signatures not yet verified; ``source`` is the peer that served them. A log
  is verified up to the smallest ``first`` of its rows, or whole if it has none (the own log, and every
  entry held before this migration, was verified one by one).
- ``bad_signatures (log_id, seq, signature, source, owner, checkpoint)``: a signature that failed. The leaf
  commits the header, not the signature, so a bad one served by another peer says nothing of the log's
  owner: that peer is charged and a good signature fetched elsewhere. Served by the owner itself (``owner``
  = 1), under the checkpoint it signed, it is kept as the owner's own statement, the log flagged
  (``flagged``) and the operator told (``shora doctor``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import sqlite_utils

from federation.db import Migration


def _schema(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE unverified (
            log_id BLOB NOT NULL, first INTEGER NOT NULL, end INTEGER NOT NULL, source BLOB,
            PRIMARY KEY (log_id, first)) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE bad_signatures (
            log_id BLOB NOT NULL, seq INTEGER NOT NULL, signature BLOB NOT NULL, source BLOB,
            owner INTEGER NOT NULL, checkpoint TEXT,
            PRIMARY KEY (log_id, seq, signature)) WITHOUT ROWID"""
    )


MIGRATIONS = [Migration("0802-entry-verification", _schema)]


@dataclass(frozen=True)
class Unverified:
    log_id: bytes
    first: int
    end: int
    source: bytes | None


@dataclass(frozen=True)
class BadSignature:
    log_id: bytes
    seq: int
    source: bytes | None
    owner: bool  # served by the log's owner, under its own checkpoint: the log is flagged


def add(conn: sqlite3.Connection, log_id: bytes, first: int, end: int, source: bytes | None) -> None:
    """Entries ``first`` ≤ seq < ``end`` were committed, their own signatures not yet verified."""
    if first < end:
        conn.execute("INSERT INTO unverified VALUES (?, ?, ?, ?)", (log_id, first, end, source))


def pending(conn: sqlite3.Connection, log_id: bytes | None = None) -> list[Unverified]:
    """The ranges still to verify (of ``log_id``, or of every log), in order."""
    where, args = ("WHERE log_id = ?", (log_id,)) if log_id is not None else ("", ())
    rows = conn.execute(
        f"SELECT log_id, first, end, source FROM unverified {where} ORDER BY log_id, first", args
    )
    return [Unverified(bytes(r[0]), r[1], r[2], None if r[3] is None else bytes(r[3])) for r in rows]


def verified_up_to(conn: sqlite3.Connection, log_id: bytes) -> int | None:
    """The seq below which every entry of ``log_id`` held had its own signature verified; None: all."""
    row = conn.execute("SELECT min(first) FROM unverified WHERE log_id = ?", (log_id,)).fetchone()
    return None if row[0] is None else int(row[0])


def advance(conn: sqlite3.Connection, log_id: bytes, first: int, upto: int) -> None:
    """Entries ``first`` ≤ seq < ``upto`` of the range starting at ``first`` are verified."""
    row = conn.execute(
        "SELECT end, source FROM unverified WHERE log_id = ? AND first = ?", (log_id, first)
    ).fetchone()
    if row is None or upto <= first:
        return
    conn.execute("DELETE FROM unverified WHERE log_id = ? AND first = ?", (log_id, first))
    if upto < row[0]:
        conn.execute("INSERT INTO unverified VALUES (?, ?, ?, ?)", (log_id, upto, row[0], row[1]))


def record_bad(
    conn: sqlite3.Connection,
    log_id: bytes,
    seq: int,
    signature: bytes,
    source: bytes | None,
    checkpoint: str | None,
) -> BadSignature:
    """Keep a signature that failed; the owner's own (``source`` is the log's key) flags the log."""
    owner = source == log_id
    conn.execute(
        "INSERT OR IGNORE INTO bad_signatures VALUES (?, ?, ?, ?, ?, ?)",
        (log_id, seq, signature, source, int(owner), checkpoint),
    )
    return BadSignature(log_id, seq, source, owner)


def flagged(conn: sqlite3.Connection) -> list[tuple[bytes, int]]:
    """``(log_id, seq)`` of every entry whose owner served it with a bad signature under its checkpoint."""
    rows = conn.execute(
        "SELECT DISTINCT log_id, seq FROM bad_signatures WHERE owner = 1 ORDER BY log_id, seq"
    )
    return [(bytes(r[0]), r[1]) for r in rows]
