"""What a federation node tells about the councils whose logs it holds (DESIGN.md §5, §6).

    Aggregate(conn, federation_log)
      update(log_id, from_seq=0)  fold the log's entries not folded yet: call it after each ingest commits
      update_all()                every log held (on start: catches up after a crash between the two)
      rebuild()                   drop every figure and fold every held log again from the entries table
      summary() -> dict           councils by continent → country, federation-wide totals, suspended, forks
      council(log_id) -> dict     one council, with the entry ids behind every figure
      decisions(...) -> [dict]    public decisions by words (FTS5), council, motion kind, outcome and date
      delegates() -> {log: [dict]} every council's running delegate mandates (decision, seat), never members

Only public bodies are read (a replica holds no other; the node's own log is read the same way), and only
counts, outcomes and public texts come out (§6): no member id is stored here. Every figure names the
entries it comes from, so a reader can fetch their bundles and redo it:

- members: the latest ``council/census`` (already bucketed by the council's rules);
- board: seats from the rules in force (``council/found``, or the last adopted public ``rules`` decision,
  whose proposed rules are read from its public motion); filled = mandates elected by public decisions and
  not ended by a public decision's ``ended``. A mandate ended by a member leaving (a council entry) or one
  created by a council-visibility election cannot be seen from here: the board is as its public record shows;
- delegates: mandates given by public ``delegate`` decisions (``delegates``), not ended by a public
  decision's ``delegates_ended`` (a recall or removal); like the board, as the public record shows it;
- assemblies: ``assembly/close`` entries (each names its ``assembly/open``) with their participant counts;
- roster status from ``roster/admit|suspend|readmit`` in the federation logs held (our own, and those of the
  lower federations we admitted, whose rosters we trust); forks from fork proofs.

Folding is ``federation.aggregate.fold``'s job, the tables ``schema``'s, word search ``search``'s; this
module reads the figures and renders them.
"""

from __future__ import annotations

import gc
import json
import operator
import sqlite3
from typing import Any

from federation.aggregate.fold import Folder
from federation.aggregate.schema import ID, split_ids
from federation.aggregate.search import match_expression, newest_matches

_ASSEMBLY_COLUMNS = ("seq", "id", "ts_ms", "close_id", "close_seq", "close_ms", "participants")


class Aggregate:
    """The aggregate tables, read through ``conn`` and folded through it (``update``, ``update_all`` and
    ``rebuild`` are ``Folder``'s: call them on the writer's connection)."""

    def __init__(self, conn: sqlite3.Connection, federation_log: bytes) -> None:
        self.conn = conn
        self.federation_log = federation_log
        self.folder = Folder(conn)
        self._has_forks = bool(
            conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'forks'").fetchone()
        )
        self._summary: tuple[tuple[int, int], dict[str, Any]] | None = None

    # --- folding (writer connection) -------------------------------------------------------------------

    def update(self, log_id: bytes) -> int:
        """``Folder.update``: fold the entries of ``log_id`` not folded yet."""
        return self.folder.update(log_id)

    def update_all(self) -> int:
        """``Folder.update_all``: fold every held log."""
        return self.folder.update_all()

    def rebuild(self) -> int:
        """``Folder.rebuild``: drop every figure and fold every held log again."""
        return self.folder.rebuild()

    # --- queries -----------------------------------------------------------------------------------

    def _version(self) -> tuple[int, int]:
        """Changes since the summary was rendered: ours (total_changes), and other connections' commits."""
        return self.conn.total_changes, self.conn.execute("PRAGMA data_version").fetchone()[0]

    def summary(self) -> dict[str, Any]:
        """Councils by continent → country (by name), federation-wide totals, suspended councils and forks.

        Rendered again only after the database changed; the dict returned is shared: do not modify it.
        """
        version = self._version()
        if self._summary is None or self._summary[0] != version:
            # A render allocates some ten thousand small dicts and lists that all live until it returns:
            # the cyclic collector would only walk them (a measured 2x at p99 with 1,000 councils).
            collecting = gc.isenabled()
            gc.disable()
            try:
                self._summary = (version, self.render_summary())
            finally:
                if collecting:
                    gc.enable()
        return self._summary[1]

    def render_summary(self) -> dict[str, Any]:
        """``summary``, rendered now whatever the cache holds (what the cache saves, for the benchmark)."""
        forks = self._forks()
        councils = self._councils(forked={f["log_id"] for f in forks})
        continents: dict[str, dict[str, list[dict[str, Any]]]] = {}
        counts = {"admitted": 0, "suspended": 0, "unlisted": 0}
        members = seats = filled = vacant = held = participants = decisions = 0
        suspended = []
        for c in councils:  # by log id
            counts[c["status"]] += 1
            if c["status"] == "suspended":
                suspended.append({"log_id": c["log_id"], "name": c["name"], **c["roster"]})
                continue
            # the figures below add up the councils not suspended
            if c["members"]:
                members += c["members"]["count"]
            if board := c["board"]:
                seats, filled, vacant = (
                    seats + board["seats"],
                    filled + board["filled"],
                    vacant + board["vacant"],
                )
            held += c["assemblies"]["held"]
            participants += c["assemblies"]["participants"]
            decisions += c["decisions"]
        for c in sorted(councils, key=lambda c: (c["continent"], c["country"], c["name"], c["log_id"])):
            continents.setdefault(c["continent"], {}).setdefault(c["country"], []).append(c)
        totals = {
            "councils": len(councils), **counts, "members": members, "board_seats": seats,
            "board_filled": filled, "board_vacant": vacant, "assemblies_held": held,
            "participants": participants, "decisions": decisions, "forks": len(forks),
        }  # fmt: skip
        return {
            "federation": self._federation(),
            "continents": continents,
            "totals": totals,
            "suspended": suspended,
            "forks": forks,
            "federations": self._member_federations(),
        }

    def _federation(self) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT f.found_id, f.name, f.name_fa, f.level, f.country, f.continent, l.size "
            "FROM agg_federations f JOIN agg_logs l USING (log_id) WHERE f.log_id = ?",
            (self.federation_log,),
        ).fetchone()
        if row is None:
            return None
        keys = ("found_entry", "name", "name_fa", "level", "country", "continent", "size")
        return {"log_id": self.federation_log, **dict(zip(keys, _plain(row), strict=True))}

    def _member_federations(self) -> list[dict[str, Any]]:
        """The federations on the rosters held, but never this federation itself (a country federation
        holds its continent's roster, which lists it: it is not its own member)."""
        rows = self.conn.execute(
            "SELECT member, name, name_fa, country, continent, status, entry FROM agg_roster "
            "WHERE kind = 'federation' AND member != ? ORDER BY member",
            (self.federation_log,),
        )
        keys = ("log_id", "name", "name_fa", "country", "continent", "status", "roster_entry")
        return [dict(zip(keys, _plain(r), strict=True)) for r in rows]

    def _forks(self) -> list[dict[str, Any]]:
        """Logs with a fork proof held, or frozen for another reason: their figures stop where they froze."""
        found: dict[bytes, str] = {}
        if self._has_forks:
            for log_id, reason in self.conn.execute(
                "SELECT log_id, reason FROM forks ORDER BY log_id, proof"
            ):
                found.setdefault(bytes(log_id), reason)
        for log_id, reason in self.conn.execute("SELECT log_id, frozen FROM logs WHERE frozen IS NOT NULL"):
            found.setdefault(bytes(log_id), reason)
        return [{"log_id": k, "reason": v} for k, v in sorted(found.items())]

    def _councils(
        self, log_id: bytes | None = None, forked: set[bytes] | None = None
    ) -> list[dict[str, Any]]:
        """Every council held or on the roster (or only ``log_id``), by log id, in one query."""
        if forked is None:
            forked = {f["log_id"] for f in self._forks()}
        only, args = (" AND {} = ?", (log_id, log_id)) if log_id is not None else ("", ())
        # held councils, then rostered ones not held: no sort of rows this wide in SQL
        rows = self.conn.execute(
            f"""SELECT c.log_id, {_COUNCIL_ROW} FROM agg_councils c
            LEFT JOIN agg_roster r ON r.member = c.log_id AND r.kind = 'council'
            LEFT JOIN agg_logs l ON l.log_id = c.log_id WHERE 1 = 1{only.format("c.log_id")}
            UNION ALL
            SELECT r.member, {_COUNCIL_ROW} FROM agg_roster r
            LEFT JOIN agg_councils c ON c.log_id = r.member
            LEFT JOIN agg_logs l ON l.log_id = r.member
            WHERE r.kind = 'council' AND c.log_id IS NULL{only.format("r.member")}""",
            args,
        ).fetchall()
        rows.sort(key=operator.itemgetter(0))
        return [_council(row, row[0] in forked) for row in rows]

    def council(self, log_id: bytes) -> dict[str, Any] | None:
        """One council as in the summary, with every entry id behind its figures; None if unknown."""
        found = self._councils(log_id)
        if not found:
            return None
        out = found[0]
        c = self.conn
        out["roster_events"] = [
            dict(zip(("seq", "entry", "ts_ms", "action", "reason", "size"), _plain(r), strict=True))
            for r in c.execute(
                "SELECT seq, id, ts_ms, action, reason, size FROM agg_roster_events "
                "WHERE member = ? ORDER BY seq",
                (log_id,),
            )
        ]
        if out["board"] is not None:
            out["board"]["mandates"] = [
                dict(zip(("decision", "seat", "ended_by"), _plain(r), strict=True))
                for r in c.execute(
                    "SELECT m.decision, m.seat, m.ended_by FROM agg_mandates m JOIN agg_decisions d "
                    "ON d.log_id = m.log_id AND d.id = m.decision WHERE m.log_id = ? ORDER BY d.seq, m.seat",
                    (log_id,),
                )
            ]
        # the council's delegates to this federation (issue 13): each mandate by its public decision and seat,
        # never the member; a mandate a public decision ended (recall, removal) is gone
        out["delegates"] = [
            dict(zip(("decision", "seat"), _plain(r), strict=True))
            for r in c.execute(
                "SELECT g.decision, g.seat FROM agg_delegates g JOIN agg_decisions d "
                "ON d.log_id = g.log_id AND d.id = g.decision "
                "WHERE g.log_id = ? AND g.ended_by IS NULL ORDER BY d.seq, g.seat",
                (log_id,),
            )
        ]
        keys = ("seq", "entry", "ts_ms", "close_entry", "close_seq", "close_ms", "participants")
        out["assemblies"]["list"] = [
            dict(zip(keys, _plain(r), strict=True))
            for r in c.execute(f"SELECT {', '.join(_ASSEMBLY_COLUMNS)} FROM agg_assemblies "
                               "WHERE log_id = ? ORDER BY seq", (log_id,))
        ]  # fmt: skip
        out["decision_entries"] = [
            bytes(r[0])
            for r in c.execute("SELECT id FROM agg_decisions WHERE log_id = ? ORDER BY seq", (log_id,))
        ]
        fork = None
        if self._has_forks:
            fork = c.execute(
                "SELECT proof, reason FROM forks WHERE log_id = ? ORDER BY proof", (log_id,)
            ).fetchone()
        out["fork"] = None if fork is None else {"proof": bytes(fork[0]), "reason": fork[1]}
        return out

    def delegates(self) -> dict[bytes, list[dict[str, Any]]]:
        """Every council's delegates to its federation, by council log id: each running mandate by its public
        decision (and that decision's time) and seat, never the member (as ``council`` lists them)."""
        out: dict[bytes, list[dict[str, Any]]] = {}
        for log_id, decision, seat, ts_ms in self.conn.execute(
            "SELECT g.log_id, g.decision, g.seat, d.ts_ms FROM agg_delegates g JOIN agg_decisions d "
            "ON d.log_id = g.log_id AND d.id = g.decision "
            "WHERE g.ended_by IS NULL ORDER BY g.log_id, d.seq, g.seat"
        ):
            out.setdefault(bytes(log_id), []).append(
                {"decision": bytes(decision), "seat": seat, "ts_ms": ts_ms}
            )
        return out

    def decisions(
        self,
        query: str | None = None,
        council: bytes | None = None,
        kind: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 50,
        offset: int = 0,
        *,
        outcome: str | None = None,
    ) -> list[dict[str, Any]]:
        """Public decisions, newest first: every word of ``query`` (as a word prefix, Persian or English),
        of ``council``, of motion ``kind``, with ``since_ms`` ≤ ts_ms < ``until_ms``.

        Each row names its council log and entry (id, seq), from which a reader fetches its bundle."""
        clauses: list[str] = []
        args: list[object] = []
        for clause, value in (
            ("d.log_id = ?", council),
            ("d.motion_kind = ?", kind),
            ("d.outcome = ?", outcome),
            ("d.ts_ms >= ?", since_ms),
            ("d.ts_ms < ?", until_ms),
        ):
            if value is not None:
                clauses.append(clause)
                args.append(value)
        limit, offset = max(0, limit), max(0, offset)
        columns = (
            "d.log_id, d.id, d.seq, d.ts_ms, d.motion_kind, d.text, d.outcome, d.participants, d.tally, "
            "d.proposal"
        )
        order = f"ORDER BY d.ts_ms DESC, d.log_id, d.seq DESC LIMIT {limit} OFFSET {offset}"
        if query is None:
            where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
            rows = self.conn.execute(f"SELECT {columns} FROM agg_decisions d {where} {order}", args)
        else:
            expression = match_expression(query)
            if expression is None:
                return []
            rows = newest_matches(self.conn, expression, clauses, args, limit + offset, columns, order)
        keys = ("council", "entry", "seq", "ts_ms", "motion_kind", "text", "outcome", "participants")
        out = []
        for row in rows:
            item = dict(zip(keys, _plain(row[:8]), strict=True))
            item["tally"] = None if row[8] is None else json.loads(row[8])
            item["proposal"] = None if row[9] is None else [bytes(row[9][:ID]), bytes(row[9][ID:])]
            out.append(item)
        return out


def _plain(row: Any) -> list[Any]:
    return [bytes(v) if isinstance(v, (bytes, memoryview)) else v for v in row]


# a row of Aggregate._councils after the log id: the roster's columns (and the place: the roster's, else
# the council's own), the log's, then agg_councils'
_COUNCIL_ROW = ", ".join(
    [
        "r.member",
        *(f"coalesce(r.{n}, c.{n})" for n in ("name", "name_fa", "city", "country", "continent")),
        *("r.status", "r.entry", "r.since_ms", "r.reason", "r.size"),
        *("coalesce(l.size, 0)", "l.checkpoint_size", "coalesce(l.cosignatures, 0)",
          "coalesce(l.unreadable, 0)"),
        *(f"c.{n}" for n in ("found_id", "members", "census_bucket", "members_id", "members_ms",
                             "board_seats", "board_filled", "rules_id", "board_ids", "held", "open",
                             "participants", "close_ids", "decisions")),
    ]
)  # fmt: skip


def _council(row: Any, forked: bool) -> dict[str, Any]:
    """One council's summary entry: the roster's word on who and where it is when it is on the roster
    (the federation vouches for that), else the council's own founding entry."""
    (log_id, rostered, name, name_fa, city, country, continent, status, roster_entry, since_ms, reason,
     suspended_size, size, checkpoint_size, cosignatures, unreadable, found_id, members, bucket, members_id,
     members_ms, seats, filled, rules_id, board_ids, held, opened, participants, close_ids,
     decisions) = row  # fmt: skip
    out: dict[str, Any] = {
        "log_id": log_id, "name": name, "name_fa": name_fa, "city": city, "country": country,
        "continent": continent,
    }  # fmt: skip
    if rostered is not None:
        out["status"] = status
        out["roster"] = {
            "entry": roster_entry,
            "since_ms": since_ms,
            "reason": reason,
            "size": suspended_size,
        }
    else:
        out["status"], out["roster"] = "unlisted", None
    out["log"] = {
        "size": size,
        "checkpoint_size": checkpoint_size,
        "cosignatures": cosignatures,
        "forked": forked,
        # the held checkpoint carries witnesses' cosignatures and no fork proof contradicts it
        "witnesses_agree": None if not cosignatures else not forked,
        "unreadable": unreadable,  # public entries without the shape of their kind: they count nothing
    }
    if found_id is None:
        out.update(found_entry=None, members=None, board=None, decisions=0)
        out["assemblies"] = {"held": 0, "open": 0, "participants": 0, "entries": []}
        return out
    out["found_entry"] = found_id
    out["members"] = None if members is None else {
        "count": members, "bucket": bucket, "entry": members_id, "ts_ms": members_ms,
    }  # fmt: skip
    out["board"] = {
        "seats": seats,
        "filled": filled,
        "vacant": max(0, seats - filled),  # a rules change may lower the seats below those filled
        "rules_entry": rules_id,
        "entries": split_ids(board_ids),
    }
    out["assemblies"] = {
        "held": held,
        "open": opened,
        "participants": participants,
        "entries": split_ids(close_ids),
    }
    out["decisions"] = decisions
    return out
