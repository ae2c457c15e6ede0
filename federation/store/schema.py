"""The log tables (migrations ``0001``–``0008``; ``0801`` in ``receipts``, ``0802`` in ``verified``): logs,
entries, tree nodes, fork proofs, witnessing."""

from __future__ import annotations

import sqlite_utils

from federation.db import Migration
from federation.store.receipts import MIGRATIONS as RECEIPT_MIGRATIONS
from federation.store.verified import MIGRATIONS as VERIFIED_MIGRATIONS


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


def _private_logs(db: sqlite_utils.Database) -> None:
    """A private log (a council's record, DESIGN.md §3) is held like any other but never served: a store
    made without ``private=True`` does not see it at all."""
    db.execute("ALTER TABLE logs ADD COLUMN private INTEGER NOT NULL DEFAULT 0")


def _witness_notes(db: sqlite_utils.Database) -> None:
    """As a witness: the checkpoint note we last cosigned for each log, signed by the log's key, so that a
    second root offered for its size, or a replica that contradicts it, is kept as a fork proof. Rows from
    before this migration have none until the next cosignature."""
    db.execute("ALTER TABLE witness_state ADD COLUMN note TEXT")


def _key_index(db: sqlite_utils.Database) -> None:
    """The ``log/key`` entries of each log (``LogStore.delegations``), which every ingest reads to know the
    keys valid for a log. Without an index that read walked every entry held of the log, once per page: a
    catch-up of 100,000 entries in pages of 4,000 read 1.2 million rows. Partial, as for decisions: other
    entries cost no index write."""
    db.execute("CREATE INDEX entries_keys ON entries (log_id, seq) WHERE kind = 'log/key'")


MIGRATIONS = [
    Migration("0001-logs-entries-tree", _schema),
    Migration("0002-forks", _forks_schema),
    Migration("0003-witnessing", _witnessing_schema),
    Migration("0004-entries-decision-index", _kind_index),
    Migration("0005-entries-rowid-decision-ids", _entries_rowid),
    Migration("0006-private-logs", _private_logs),
    Migration("0007-witness-notes", _witness_notes),
    Migration("0008-entries-key-index", _key_index),
    *RECEIPT_MIGRATIONS,
    *VERIFIED_MIGRATIONS,
]
