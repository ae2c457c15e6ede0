"""The private member directory: names and contacts, beside the log and never in it (DESIGN.md §6).

In the log a member is a random 16-byte id. Only this table connects that id to a person, it is read only
by operator-signed requests, and nothing in it is ever sent to a peer, put in an entry or written to a log
line.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from dataclasses import dataclass

import sqlite_utils

from federation.db import Migration


def _schema(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE member_directory (
            member_id BLOB PRIMARY KEY, name TEXT NOT NULL, contact TEXT NOT NULL DEFAULT '',
            created_ms INTEGER NOT NULL)"""
    )
    db.execute("CREATE INDEX member_directory_name ON member_directory (name COLLATE NOCASE)")


MIGRATIONS = [Migration("0101-member-directory", _schema)]
MAX_NAME = 200
MAX_CONTACT = 500


@dataclass(frozen=True)
class Person:
    member_id: bytes
    name: str
    contact: str


ADD = "INSERT INTO member_directory (member_id, name, contact, created_ms) VALUES (?, ?, ?, ?)"


def add(member_id: bytes, name: str, contact: str, now_ms: int) -> tuple[str, tuple[object, ...]]:
    """The row to write with the member's join entry, in the same transaction (see ``Writer.submit``)."""
    return ADD, (member_id, name, contact, now_ms)


def everyone(conn: sqlite3.Connection) -> dict[bytes, Person]:
    rows = conn.execute("SELECT member_id, name, contact FROM member_directory")
    return {bytes(r[0]): Person(bytes(r[0]), r[1], r[2]) for r in rows}


# Arabic letters a Persian name is often typed with, and the Persian letter a reader sees in their place
_FOLD = str.maketrans({"\u064a": "\u06cc", "\u0649": "\u06cc", "\u0643": "\u06a9"})
# zero-width non-joiner and joiner: "سرخ‌ها", "سرخها" and "سرخ ها" are one name typed three ways
_INVISIBLE = str.maketrans({"\u200c": None, "\u200d": None})


def name_key(name: str) -> str:
    """What two names are compared by: NFC (a decomposed أ is أ), Arabic ي/ى/ك read as Persian ی/ک,
    ZWNJ, ZWJ and spaces ignored, case folded. The stored name stays as the member typed it."""
    folded = unicodedata.normalize("NFC", name).translate(_FOLD).translate(_INVISIBLE)
    return "".join(folded.split()).casefold()


def taken_by(conn: sqlite3.Connection, members: set[bytes], name: str, contact: str) -> bytes | None:
    """The first of ``members`` (by id) whose name, or non-empty contact, is ``name`` or ``contact`` under
    ``name_key``: how a join is matched against removed members (issue 13)."""
    if not members:
        return None
    name, contact = name_key(name), name_key(contact)
    rows = conn.execute("SELECT member_id, name, contact FROM member_directory ORDER BY member_id")
    for member_id, their_name, their_contact in rows:
        if bytes(member_id) not in members:
            continue
        if name_key(their_name) == name or (contact and name_key(their_contact) == contact):
            return bytes(member_id)
    return None


def by_name(conn: sqlite3.Connection, name: str) -> list[bytes]:
    """Every member whose name is the same as ``name`` under ``name_key``: none, one, or an ambiguity."""
    key = name_key(name)
    rows = conn.execute("SELECT member_id, name FROM member_directory")
    return [bytes(r[0]) for r in rows if name_key(r[1]) == key]
