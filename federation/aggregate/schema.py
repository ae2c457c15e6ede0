"""The aggregate tables (migrations ``0301`` to ``0303``) and the named shape of a council's row.

A decision's rowid (and its FTS5 rowid) is a time key: ``min(ts_ms, TS_CAP) << KEY_BITS``, plus a count among
the decisions of that millisecond. Key order follows time order, so a search reads FTS5 matches newest first
and stops after a page (``federation.aggregate.search``). A millisecond whose keys are used up (only a
hostile log signs that many decisions in one) puts the rest below zero, which turns that shortcut off.
Read ``KEY_BITS`` and ``TS_CAP`` as ``schema.KEY_BITS``: a test narrows them to reach those cases.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from dataclasses import astuple, dataclass, fields

import sqlite_utils

from federation.db import Migration

ID = 32  # entry ids and log ids
KEY_BITS = 19
TS_CAP = 1 << 43  # ms: the year 2248; later times share one key range


def _create(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE agg_logs (
            log_id BLOB PRIMARY KEY, role TEXT NOT NULL, folded_seq INTEGER NOT NULL,
            size INTEGER NOT NULL, checkpoint_size INTEGER, cosignatures INTEGER NOT NULL,
            unreadable INTEGER NOT NULL) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE agg_councils (
            log_id BLOB PRIMARY KEY, found_id BLOB NOT NULL, name TEXT NOT NULL, name_fa TEXT NOT NULL,
            city TEXT NOT NULL, country TEXT NOT NULL, continent TEXT NOT NULL,
            rules_id BLOB NOT NULL, board_seats INTEGER NOT NULL, census_bucket INTEGER NOT NULL,
            members INTEGER, members_id BLOB, members_ms INTEGER,
            board_filled INTEGER NOT NULL, board_ids BLOB NOT NULL,
            held INTEGER NOT NULL, open INTEGER NOT NULL, participants INTEGER NOT NULL,
            close_ids BLOB NOT NULL, decisions INTEGER NOT NULL) WITHOUT ROWID"""
    )  # board_ids, close_ids: 32-byte entry ids end to end, in log order
    db.execute(
        """CREATE TABLE agg_assemblies (
            log_id BLOB NOT NULL, seq INTEGER NOT NULL, id BLOB NOT NULL, ts_ms INTEGER NOT NULL,
            close_id BLOB, close_seq INTEGER, close_ms INTEGER, participants INTEGER,
            PRIMARY KEY (log_id, seq)) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE agg_mandates (
            log_id BLOB NOT NULL, decision BLOB NOT NULL, seat INTEGER NOT NULL, ended_by BLOB,
            PRIMARY KEY (log_id, decision, seat)) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE agg_decisions (
            rowid INTEGER PRIMARY KEY, log_id BLOB NOT NULL, seq INTEGER NOT NULL, id BLOB NOT NULL,
            ts_ms INTEGER NOT NULL, motion_kind TEXT NOT NULL, outcome TEXT NOT NULL, text TEXT NOT NULL,
            participants INTEGER, tally TEXT, proposal BLOB, UNIQUE (log_id, seq))"""
    )
    db.execute("CREATE INDEX agg_decisions_ts ON agg_decisions (ts_ms)")
    db.execute("CREATE INDEX agg_decisions_kind ON agg_decisions (motion_kind, ts_ms)")
    # contentless: the words are indexed (folded: search.fold_text), the text itself lives in agg_decisions
    db.execute(
        "CREATE VIRTUAL TABLE agg_decisions_fts USING fts5("
        "text, content='', tokenize='unicode61 remove_diacritics 2')"
    )
    db.execute(
        """CREATE TABLE agg_roster (
            member BLOB PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, name_fa TEXT NOT NULL,
            city TEXT NOT NULL, country TEXT NOT NULL, continent TEXT NOT NULL, status TEXT NOT NULL,
            entry BLOB NOT NULL, since_ms INTEGER NOT NULL, reason TEXT NOT NULL, size INTEGER)
            WITHOUT ROWID"""
    )  # entry, since_ms, reason, size: of the member's latest roster entry
    db.execute(
        """CREATE TABLE agg_roster_events (
            member BLOB NOT NULL, seq INTEGER NOT NULL, id BLOB NOT NULL, ts_ms INTEGER NOT NULL,
            action TEXT NOT NULL, reason TEXT NOT NULL, size INTEGER,
            PRIMARY KEY (member, seq)) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE agg_federations (
            log_id BLOB PRIMARY KEY, found_id BLOB NOT NULL, name TEXT NOT NULL, name_fa TEXT NOT NULL,
            level TEXT NOT NULL, country TEXT NOT NULL, continent TEXT NOT NULL) WITHOUT ROWID"""
    )


def _decisions_by_time(db: sqlite_utils.Database) -> None:
    """Decision rowids become time keys (module docstring): every figure is dropped, and the node's start
    (``update_all``) folds every held log again, as ``rebuild`` would."""
    for table in TABLES_0301:  # the tables that exist at this migration
        db.execute(f"DELETE FROM {table}")
    db.execute("INSERT INTO agg_decisions_fts (agg_decisions_fts) VALUES ('delete-all')")


def _delegates(db: sqlite_utils.Database) -> None:
    """Councils' delegates to their federation (issue 13): a mandate is (decision, seat), as a board seat's;
    no decision of a kind that creates one existed before, so nothing held needs folding again."""
    db.execute(
        """CREATE TABLE agg_delegates (
            log_id BLOB NOT NULL, decision BLOB NOT NULL, seat INTEGER NOT NULL, ended_by BLOB,
            PRIMARY KEY (log_id, decision, seat)) WITHOUT ROWID"""
    )


MIGRATIONS = [
    Migration("0301-aggregate", _create),
    Migration("0302-aggregate-decisions-by-time", _decisions_by_time),
    Migration("0303-aggregate-delegates", _delegates),
]
TABLES_0301 = (
    "agg_logs", "agg_councils", "agg_assemblies", "agg_mandates", "agg_decisions",
    "agg_roster", "agg_roster_events", "agg_federations",
)  # fmt: skip
TABLES = (*TABLES_0301, "agg_delegates")


@dataclass(slots=True)
class CouncilRow:
    """One row of ``agg_councils``, by column name (the fields are the columns, in order)."""

    log_id: bytes
    found_id: bytes
    name: str
    name_fa: str
    city: str
    country: str
    continent: str
    rules_id: bytes  # the entry whose rules give the board's seats: council/found or an adopted decision
    board_seats: int
    census_bucket: int
    # what the council's entries add up to, from nothing at its founding
    members: int | None = None  # from the latest council/census
    members_id: bytes | None = None
    members_ms: int | None = None
    board_filled: int = 0
    board_ids: bytes = b""  # 32-byte entry ids end to end, in log order: the decisions behind the board
    held: int = 0  # assemblies closed
    open: int = 0
    participants: int = 0
    close_ids: bytes = b""  # 32-byte ids of the assembly/close entries, end to end
    decisions: int = 0

    def values(self) -> tuple[object, ...]:
        return astuple(self)


COUNCIL_COLUMNS = tuple(f.name for f in fields(CouncilRow))


def split_ids(blob: bytes) -> list[bytes]:
    """32-byte ids end to end, split in one call (a summary splits some 100,000)."""
    return list(_splitter(len(blob) // ID)(blob))


@functools.lru_cache(maxsize=256)
def _splitter(count: int) -> Callable[[bytes], tuple[bytes, ...]]:
    return struct.Struct("32s" * count).unpack
