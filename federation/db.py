"""One SQLite file per node (DESIGN.md §4): WAL, synchronous=FULL, named migrations.

All writes go through one connection, owned by the node's writer thread; readers open their own.
sqlite-utils serves the schema and migrations; hot paths use the connection directly.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils


@dataclass(frozen=True)
class Migration:
    """A schema change, applied once, in order, and recorded by name."""

    name: str
    apply: Callable[[sqlite_utils.Database], None]


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the node's pragmas; ``isolation_level=None`` so transactions are explicit."""
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
    else:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA cache_size=-32768")  # 32 MiB per connection: aggregates and trees stay in memory
    return conn


ROWS_PER_STATEMENT = 512  # rows of one multi-row INSERT (fewer if the library allows fewer variables)


def insert_rows(conn: sqlite3.Connection, table: str, rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` (each a full row of ``table``) a few hundred to a statement, not one by one.

    ``executemany`` runs one SQLite step per row and lets go of the interpreter's lock around each: on
    the writer thread, while the event loop decodes the next page, every row then waits for the lock
    again (up to the 5 ms switch interval), and a page of 4,000 rows took seconds instead of 20 ms. A
    statement of many rows is one step, run without the lock. The statements are of ``ROWS_PER_STATEMENT``
    rows and, for the rest, of powers of two: a handful of texts, each prepared once and cached."""
    if not rows:
        return
    width = len(rows[0])
    most = max(1, min(ROWS_PER_STATEMENT, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width))
    start = 0
    while start < len(rows):
        left = len(rows) - start
        count = most if left >= most else 1 << (left.bit_length() - 1)
        chunk = rows[start : start + count]
        values = ", ".join(["(" + ", ".join("?" * width) + ")"] * count)
        conn.execute(f"INSERT INTO {table} VALUES {values}", [value for row in chunk for value in row])
        start += count


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> list[str]:
    """Apply the migrations not yet recorded, each in its own transaction; return the names applied."""
    db = sqlite_utils.Database(conn)
    conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)")
    done = {row[0] for row in conn.execute("SELECT name FROM migrations")}
    applied = []
    for migration in migrations:
        if migration.name in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            migration.apply(db)
            conn.execute(
                "INSERT INTO migrations (name, applied_at) VALUES (?, ?)",
                (migration.name, int(time.time() * 1000)),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(migration.name)
    return applied
