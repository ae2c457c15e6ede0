"""The peer table: which node keys this node trusts, where they answer, and how they have behaved.

Sync and small (STYLE.md 10); every method is one statement, so each is atomic on an autocommit connection.
A peer that fails backs off exponentially, ``peer_backoff_first_s`` (1 s) doubling to ``peer_backoff_max_s``
(10 min), reset by its next success (docs/gossip.md, "Hostile and failing peers"). Bad data is a different
thing from failure: it is counted as a penalty with its reason, for the operator to see (``shora peers``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils

from federation.db import Migration
from federation.errors import PeerError
from federation.settings import DEFAULTS, FederationSettings
from protocol.errors import DecodeError
from protocol.keys import PublicKey

MAX_URL = 2_048
MAX_TEXT = 500  # error and penalty texts are cut: a peer's bytes never fill our disk


def _schema(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE peers (
            node_id BLOB PRIMARY KEY, url TEXT NOT NULL, added_ms INTEGER NOT NULL,
            last_contact_ms INTEGER, last_error TEXT, failures INTEGER NOT NULL DEFAULT 0,
            backoff_until_ms INTEGER NOT NULL DEFAULT 0, penalties INTEGER NOT NULL DEFAULT 0,
            last_penalty TEXT, lag INTEGER) WITHOUT ROWID"""
    )


def _suspension(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE peers ADD COLUMN suspended_until_ms INTEGER NOT NULL DEFAULT 0")


MIGRATIONS = [Migration("0201-peers", _schema), Migration("0202-peer-suspension", _suspension)]


@dataclass(frozen=True)
class Peer:
    node_id: bytes
    url: str
    added_ms: int
    last_contact_ms: int | None
    last_error: str | None
    failures: int
    backoff_until_ms: int
    penalties: int
    last_penalty: str | None
    lag: int | None  # entries behind us, summed over the logs we compared; None until measured
    suspended_until_ms: int = 0  # penalties past ``peer_suspend_penalties`` stop polling it until then

    def available(self, now_ms: int) -> bool:
        return self.backoff_until_ms <= now_ms and not self.suspended(now_ms)

    def suspended(self, now_ms: int) -> bool:
        return self.suspended_until_ms > now_ms


_COLUMNS = (
    "node_id, url, added_ms, last_contact_ms, last_error, failures, backoff_until_ms, penalties, "
    "last_penalty, lag, suspended_until_ms"
)


def _peer(row: Any) -> Peer:
    return Peer(bytes(row[0]), *row[1:])


def check_url(url: str) -> str:
    """An http(s) base URL with a host and nothing a base URL should not carry."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise PeerError("a peer URL is non-empty text")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError on a bad port
    except ValueError as exc:
        raise PeerError(f"not a URL: {url!r}") from exc
    if parts.scheme not in ("http", "https"):
        raise PeerError(f"a peer URL is http or https, not {parts.scheme!r}")
    if not parts.hostname:
        raise PeerError("a peer URL names a host")
    if parts.username is not None or parts.password is not None:
        raise PeerError("a peer URL carries no credentials")
    if parts.query or parts.fragment or any(ch.isspace() for ch in url):
        raise PeerError("a peer URL carries no query, fragment or spaces")
    return url.rstrip("/")


def check_node_id(node_id: bytes) -> PublicKey:
    try:
        return PublicKey(node_id)
    except DecodeError as exc:
        raise PeerError(f"not a node key: {exc}") from exc


class PeerTable:
    """The peers table, read and written through ``conn``; backoff intervals from ``settings``."""

    def __init__(self, conn: sqlite3.Connection, settings: FederationSettings = DEFAULTS) -> None:
        self.conn = conn
        self.backoff_first_ms = round(settings.peer_backoff_first_s * 1000)
        self.backoff_max_ms = round(settings.peer_backoff_max_s * 1000)
        self.suspend_after = settings.peer_suspend_penalties
        self.suspend_ms = round(settings.peer_suspend_s * 1000)

    def add(self, node_id: bytes, url: str, now_ms: int) -> Peer:
        """Trust ``node_id`` at ``url``; adding a known peer again changes only its URL."""
        check_node_id(node_id)
        url = check_url(url)
        self.conn.execute(
            "INSERT INTO peers (node_id, url, added_ms) VALUES (?, ?, ?) "
            "ON CONFLICT (node_id) DO UPDATE SET url = excluded.url",
            (node_id, url, now_ms),
        )
        peer = self.get(node_id)
        assert peer is not None
        return peer

    def remove(self, node_id: bytes) -> bool:
        return self.conn.execute("DELETE FROM peers WHERE node_id = ?", (node_id,)).rowcount == 1

    def get(self, node_id: bytes) -> Peer | None:
        row = self.conn.execute(f"SELECT {_COLUMNS} FROM peers WHERE node_id = ?", (node_id,)).fetchone()
        return _peer(row) if row else None

    def all(self) -> list[Peer]:
        return [_peer(r) for r in self.conn.execute(f"SELECT {_COLUMNS} FROM peers ORDER BY node_id")]

    def trusted(self, node_id: bytes) -> bool:
        return self.conn.execute("SELECT 1 FROM peers WHERE node_id = ?", (node_id,)).fetchone() is not None

    def key_of(self, node_id: bytes) -> PublicKey | None:
        """The key of a trusted peer (how signed gossip requests are checked), else ``None``."""
        return PublicKey(node_id) if self.trusted(node_id) else None

    def keys(self) -> dict[bytes, PublicKey]:
        return {bytes(r[0]): PublicKey(bytes(r[0])) for r in self.conn.execute("SELECT node_id FROM peers")}

    def available(self, now_ms: int) -> list[Peer]:
        """Peers neither backing off nor suspended, by node id."""
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM peers WHERE backoff_until_ms <= ? AND suspended_until_ms <= ? "
            "ORDER BY node_id",
            (now_ms, now_ms),
        )
        return [_peer(r) for r in rows]

    def record_success(self, node_id: bytes, now_ms: int) -> None:
        self.conn.execute(
            "UPDATE peers SET last_contact_ms = ?, failures = 0, backoff_until_ms = 0, last_error = NULL "
            "WHERE node_id = ?",
            (now_ms, node_id),
        )

    def record_failure(self, node_id: bytes, now_ms: int, error: str) -> None:
        """Count a failure; the peer is skipped for ``peer_backoff_first_s`` after the first, doubling up to
        ``peer_backoff_max_s``."""
        # failures counts the ones before this one: the n-th failure backs off 2^(n-1) s (capped).
        self.conn.execute(
            "UPDATE peers SET failures = failures + 1, last_error = ?, "
            "backoff_until_ms = ? + min(? << min(failures, 20), ?) WHERE node_id = ?",
            (error[:MAX_TEXT], now_ms, self.backoff_first_ms, self.backoff_max_ms, node_id),
        )

    def penalise(self, node_id: bytes, reason: str, now_ms: int) -> None:
        """The peer sent bad data (``reason``: the failed check's step and message). The
        ``peer_suspend_penalties``-th penalty suspends it for ``peer_suspend_s`` (it is not polled) and starts
        the count again."""
        self.conn.execute(
            "UPDATE peers SET penalties = penalties + 1, last_penalty = ?, last_contact_ms = ? "
            "WHERE node_id = ?",
            (reason[:MAX_TEXT], now_ms, node_id),
        )
        self.conn.execute(
            "UPDATE peers SET suspended_until_ms = ?, penalties = 0 WHERE node_id = ? AND penalties >= ?",
            (now_ms + self.suspend_ms, node_id, self.suspend_after),
        )


__all__ = [
    "MAX_TEXT",
    "MAX_URL",
    "MIGRATIONS",
    "Peer",
    "PeerError",
    "PeerTable",
    "check_node_id",
    "check_url",
]
