"""The node's one SQLite file: every named migration, in order, and the way to open it migrated."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from federation import db as dbmod
from federation.aggregate import MIGRATIONS as AGGREGATE_MIGRATIONS
from federation.peers import MIGRATIONS as PEER_MIGRATIONS
from federation.store import MIGRATIONS as STORE_MIGRATIONS
from node.backup import tables as backup_tables
from node.storage import applications, directory

MIGRATIONS = [
    *STORE_MIGRATIONS,
    *PEER_MIGRATIONS,
    *AGGREGATE_MIGRATIONS,
    *directory.MIGRATIONS,
    *applications.MIGRATIONS,
    *backup_tables.MIGRATIONS,
]


def open_database(path: Path) -> sqlite3.Connection:
    conn = dbmod.connect(path)
    dbmod.migrate(conn, MIGRATIONS)
    return conn
