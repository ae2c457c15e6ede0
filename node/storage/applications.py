"""Applications to join a federation body: who asked, with which profile, and what became of it.

A council (or a lower federation) applies by sending its profile; the application waits here, on the
federation node and outside its log, until the operator admits it to the signed roster (``roster/admit``)
or refuses it.
Only the roster is public; an application is the operator's inbox (DESIGN.md §1, §5).

Sync and small (STYLE.md 10): ``record`` runs on the writer thread, in one statement; the status an admission
sets is a ``SideEffect`` written in the same transaction as the ``roster/admit`` entry.

Errors: ``ApplicationError`` (``node.errors``, bad data) for a profile this table refuses or an
admitted applicant.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import sqlite_utils

from federation.db import Migration
from federation.peers import PeerError, check_url
from node.errors import ApplicationError
from node.rules.fedbody.limits import KEY_LEN, MAX_NAME, MAX_URL

Kind = Literal["council", "federation"]
Status = Literal["pending", "admitted", "refused"]
KINDS: tuple[Kind, ...] = ("council", "federation")
STATUSES: tuple[Status, ...] = ("pending", "admitted", "refused")
PROFILE_FIELDS = ("name", "name_fa", "city", "country", "continent", "url")


def _schema(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE applications (
            key BLOB PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, name_fa TEXT NOT NULL,
            city TEXT NOT NULL, country TEXT NOT NULL, continent TEXT NOT NULL, url TEXT NOT NULL,
            received_ms INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'pending') WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX applications_status ON applications (status, received_ms)")


MIGRATIONS = [Migration("0401-applications", _schema)]


@dataclass(frozen=True)
class Application:
    key: bytes  # the applicant's root key (its log id)
    kind: Kind
    name: str
    name_fa: str
    city: str
    country: str
    continent: str
    url: str
    received_ms: int
    status: Status

    def profile(self) -> dict[str, str]:
        return {f: getattr(self, f) for f in PROFILE_FIELDS}


def check_profile(profile: Mapping[str, object]) -> tuple[Kind, dict[str, str]]:
    """(kind, the six profile fields) of an applicant's profile; ``ApplicationError`` if off.

    Types and lengths only: whether the federation may admit this applicant (its country, continent, kind)
    is the roster rules' to judge at admission (``node.rules.fedbody``).
    """
    kind = profile.get("kind", "council")
    if kind not in KINDS:
        raise ApplicationError(f"an applicant is {' or '.join(KINDS)}")
    fields: dict[str, str] = {}
    for name in PROFILE_FIELDS:
        value = profile.get(name, "")
        limit = MAX_URL if name == "url" else MAX_NAME
        if not isinstance(value, str) or len(value) > limit:
            raise ApplicationError(f"{name} is text of at most {limit} characters")
        fields[name] = value.strip()
    if not fields["name"]:
        raise ApplicationError("an applicant has a name")
    try:
        fields["url"] = check_url(fields["url"])
    except PeerError as exc:
        raise ApplicationError(f"url: {exc}") from exc
    return kind, fields


_COLUMNS = "key, kind, name, name_fa, city, country, continent, url, received_ms, status"

# a pending or refused application is replaced by the newer one; an admitted one stays as it was admitted
_RECORD = f"""INSERT INTO applications ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')
    ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, name = excluded.name, name_fa = excluded.name_fa,
        city = excluded.city, country = excluded.country, continent = excluded.continent, url = excluded.url,
        received_ms = excluded.received_ms, status = 'pending'
    WHERE applications.status != 'admitted'"""


class AlreadyAdmitted(ApplicationError):
    """The applicant is on the roster already: nothing to apply for."""


def record(conn: sqlite3.Connection, key: bytes, profile: Mapping[str, object], now_ms: int) -> Application:
    """Record (or renew) ``key``'s pending application; ``ApplicationError`` if bad or already admitted."""
    if not isinstance(key, bytes) or len(key) != KEY_LEN:
        raise ApplicationError(f"an applicant's key is {KEY_LEN} bytes")
    kind, p = check_profile(profile)
    params = (key, kind, *(p[f] for f in PROFILE_FIELDS), now_ms)
    if conn.execute(_RECORD, params).rowcount == 0:
        raise AlreadyAdmitted("this applicant is admitted already")
    return Application(key, kind, **p, received_ms=now_ms, status="pending")


def has_room(conn: sqlite3.Connection, key: bytes, pending_max: int) -> bool:
    """Whether ``key``'s application may be stored: it renews its own, or fewer than ``pending_max`` wait."""
    mine = conn.execute("SELECT 1 FROM applications WHERE key = ? AND status = 'pending'", (key,)).fetchone()
    waiting = conn.execute("SELECT count(*) FROM applications WHERE status = 'pending'").fetchone()[0]
    return mine is not None or waiting < pending_max


def _row(row: Any) -> Application:
    key, *rest = row
    return Application(bytes(key), *rest)


def get(conn: sqlite3.Connection, key: bytes) -> Application | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM applications WHERE key = ?", (key,)).fetchone()
    return _row(row) if row else None


def pending(conn: sqlite3.Connection) -> list[Application]:
    """Pending applications, oldest first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM applications WHERE status = 'pending' ORDER BY received_ms, key"
    )
    return [_row(r) for r in rows]


def everyone(conn: sqlite3.Connection) -> list[Application]:
    """Every application, whatever became of it, oldest first."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM applications ORDER BY received_ms, key")
    return [_row(r) for r in rows]


def mark(key: bytes, status: Status) -> tuple[str, tuple[object, ...]]:
    """The row change written with the roster entry that settles ``key``'s application (``Writer.submit``)."""
    return "UPDATE applications SET status = ? WHERE key = ?", (status, key)
