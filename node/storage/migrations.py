"""The node's one SQLite file: every named migration, in order, and the way to open it migrated."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from federation import db as dbmod
from federation.aggregate import MIGRATIONS as AGGREGATE_MIGRATIONS
from federation.peers import MIGRATIONS as PEER_MIGRATIONS
from federation.store import MIGRATIONS as STORE_MIGRATIONS
from node.backup import tables as backup_tables
from node.storage import applications, directory, invitations

MIGRATIONS = [
    *STORE_MIGRATIONS,
    *PEER_MIGRATIONS,
    *AGGREGATE_MIGRATIONS,
    *directory.MIGRATIONS,
    *applications.MIGRATIONS,
    *backup_tables.MIGRATIONS,
    *invitations.MIGRATIONS,
]


def open_database(
    path: Path, check: Callable[[sqlite3.Connection], None] | None = None
) -> sqlite3.Connection:
    """The node's file, migrated; ``check`` may refuse it first (closed again, untouched). Created 0600
    whatever the umask (SQLite gives its WAL and shared-memory files the database's own mode)."""
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    conn = dbmod.connect(path)
    try:
        if check is not None:
            check(conn)
        dbmod.migrate(conn, MIGRATIONS)
    except BaseException:
        conn.close()
        raise
    return conn
