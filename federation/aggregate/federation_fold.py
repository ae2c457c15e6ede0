"""Folding a federation's log: its founding and its roster (who it admitted, suspended, readmitted, rekeyed).

``FederationFolder.fold`` writes each entry as it reads it; an insert a hostile log can make collide
(founded twice, admitted twice), like a body without the shape of its kind, is skipped and counted: sqlite's
integrity errors are mapped to ``UnreadableBody`` here.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from federation.aggregate.bodies import read_body, read_id, read_value
from federation.errors import UnreadableBody


class FederationFolder:
    """Folds a federation's public entries into the aggregate tables through ``conn`` (the writer's)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def fold(self, log_id: bytes, rows: list[Any]) -> int:
        """Fold ``rows`` (seq, id, ts_ms, kind, body) of ``log_id``; return how many were unreadable."""
        skipped = 0
        for seq, entry_id, ts_ms, kind, body_bytes in rows:
            try:
                body = read_body(body_bytes)
                if kind == "federation/found":
                    p = read_value(body, "profile", dict)
                    names = [
                        read_value(p, k, str) for k in ("name", "name_fa", "level", "country", "continent")
                    ]
                    self._insert(
                        "INSERT INTO agg_federations VALUES (?, ?, ?, ?, ?, ?, ?)", (log_id, entry_id, *names)
                    )
                elif kind in ("roster/admit", "roster/suspend", "roster/readmit", "roster/rekey"):
                    # any federation log held is one we trust: a continent federation trusts, and shows,
                    # what the country federations it admitted admit (resolution article 2)
                    self._roster(seq, bytes(entry_id), ts_ms, kind, body)
            except UnreadableBody:
                skipped += 1
        return skipped

    def _insert(self, sql: str, args: tuple[Any, ...]) -> None:
        """An insert a hostile log can make collide (founded twice, admitted twice): ``UnreadableBody``."""
        try:
            self.conn.execute(sql, args)
        except sqlite3.IntegrityError as exc:
            raise UnreadableBody(f"already held: {exc}") from exc

    def _roster(self, seq: int, entry_id: bytes, ts_ms: int, kind: str, body: dict[str, Any]) -> None:
        member, reason = read_id(body, "member"), read_value(body, "reason", str)
        action = kind.removeprefix("roster/")
        size = read_value(body, "size", int) if action in ("suspend", "rekey") else None
        if action == "admit":
            names = [
                read_value(body, k, str)
                for k in ("member_kind", "name", "name_fa", "city", "country", "continent")
            ]
            self._insert(
                "INSERT INTO agg_roster VALUES (?, ?, ?, ?, ?, ?, ?, 'admitted', ?, ?, ?, NULL)",
                (member, *names, entry_id, ts_ms, reason),
            )
        else:
            status = "suspended" if action in ("suspend", "rekey") else "admitted"
            done = self.conn.execute(
                "UPDATE agg_roster SET status = ?, entry = ?, since_ms = ?, reason = ?, size = ? "
                "WHERE member = ?",
                (status, entry_id, ts_ms, reason, size, member),
            )
            if done.rowcount != 1:
                raise UnreadableBody("not on the roster")
            if action == "rekey":
                # the member moved to a new root key (its old one lost or stolen): the old key is shown
                # suspended at the size held, the new one admitted with the same profile, from this entry
                new = read_id(body, "new_key")
                self._insert(
                    "INSERT INTO agg_roster SELECT ?, kind, name, name_fa, city, country, continent, "
                    "'admitted', ?, ?, ?, NULL FROM agg_roster WHERE member = ?",
                    (new, entry_id, ts_ms, reason, member),
                )
                self._insert(
                    "INSERT INTO agg_roster_events VALUES (?, ?, ?, ?, 'admit', ?, NULL)",
                    (new, seq, entry_id, ts_ms, reason),
                )
        self._insert(
            "INSERT INTO agg_roster_events VALUES (?, ?, ?, ?, ?, ?, ?)",
            (member, seq, entry_id, ts_ms, action, reason, size),
        )
