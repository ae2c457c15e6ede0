"""What a federation node tells about the councils whose logs it holds (DESIGN.md §5, §6).

    Aggregate(conn, federation_log)
      update(log_id, from_seq=0)  fold the log's entries not folded yet: call it after each ingest commits
      update_all()                every log held (on start: catches up after a crash between the two)
      rebuild()                   drop every figure and fold every held log again from the entries table
      summary() -> dict           councils by continent → country, federation-wide totals, suspended, forks
      council(log_id) -> dict     one council, with the entry ids behind every figure
      decisions(...) -> [dict]    public decisions by words (FTS5), council, motion kind, outcome and date

Only public bodies are read (a replica holds no other; the node's own log is read the same way), and only
counts, outcomes and public texts come out (§6): no member id is stored here. Every figure names the
entries it comes from, so a reader can fetch their bundles and redo it:

- members: the latest ``council/census`` (already bucketed by the council's rules);
- board: seats from the rules in force (``council/found``, or the last adopted public ``rules`` decision,
  whose proposed rules are read from its public motion); filled = mandates elected by public decisions and
  not ended by a public decision's ``ended``. A mandate ended by a member leaving (a council entry) or one
  created by a council-visibility election cannot be seen from here: the board is as its public record shows;
- assemblies: ``assembly/close`` entries (each names its ``assembly/open``) with their participant counts;
- roster status from ``roster/admit|suspend|readmit`` in the federation logs held (our own, and those of the
  lower federations we admitted, whose rosters we trust); forks from fork proofs.

Figures are folded once per entry, in log order, with ``folded_seq`` kept per log in the same transaction:
``update`` never folds an entry twice and never leaves a gap, so incremental folding and ``rebuild`` agree
(a test checks it). A public body without the shape of its kind (a hostile or buggy council) counts nothing
and is counted as ``unreadable``. Tables are the migration ``0301-aggregate`` (``MIGRATIONS``).
"""

from __future__ import annotations

import functools
import gc
import json
import operator
import re
import sqlite3
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import msgpack
import sqlite_utils

from federation.db import Migration
from federation.store import LogStore
from protocol.errors import DecodeError
from protocol.note import log_origin, parse_note

ID = 32  # entry ids and log ids


def _schema(db: sqlite_utils.Database) -> None:
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
    # contentless: the words are indexed (folded, see _fold_text), the text itself lives in agg_decisions
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
    """Decision rowids become time keys (``_time_key``): every figure is dropped, and the node's start
    (``update_all``) folds every held log again, as ``rebuild`` would."""
    for table in _TABLES:
        db.execute(f"DELETE FROM {table}")
    db.execute("INSERT INTO agg_decisions_fts (agg_decisions_fts) VALUES ('delete-all')")


MIGRATIONS = [
    Migration("0301-aggregate", _schema),
    Migration("0302-aggregate-decisions-by-time", _decisions_by_time),
]
_TABLES = (
    "agg_logs", "agg_councils", "agg_assemblies", "agg_mandates", "agg_decisions",
    "agg_roster", "agg_roster_events", "agg_federations",
)  # fmt: skip


# A decision's rowid (and its FTS5 rowid) is a time key: min(ts_ms, _TS_CAP) << _KEY_BITS, plus a count
# among the decisions of that millisecond. Key order follows time order, so a search reads FTS5 matches
# newest first and stops after a page (``decisions``). A millisecond whose keys are used up (only a hostile
# log signs that many decisions in one) puts the rest below zero, which turns that shortcut off.
_KEY_BITS = 19
_TS_CAP = 1 << 43  # ms: the year 2248; later times share one key range


class _Skip(Exception):
    """A public body without the shape of its kind: it counts nothing."""


def _get(body: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _Skip(key)
    return value


def _id(body: dict[str, Any], key: str) -> bytes:
    value = _get(body, key, bytes)
    if len(value) != ID:
        raise _Skip(key)
    return value  # type: ignore[no-any-return]


def _ids(blob: bytes) -> list[bytes]:
    """32-byte ids end to end, split in one call (a summary splits some 100,000)."""
    return list(_splitter(len(blob) // ID)(blob))


@functools.lru_cache(maxsize=256)
def _splitter(count: int) -> Callable[[bytes], tuple[bytes, ...]]:
    return struct.Struct("32s" * count).unpack


# Persian typed on an Arabic keyboard: one yeh and one kaf, and a zero-width non-joiner inside a word is
# not a word break (می‌خواهیم = میخواهیم). Applied to what is indexed and to what is searched.
_FOLD = str.maketrans({"\u064a": "\u06cc", "\u0649": "\u06cc", "\u0643": "\u06a9", "\u200c": None})
_WORD = re.compile(r"\w+")


def _fold_text(text: str) -> str:
    return text.translate(_FOLD)


def match_expression(query: str) -> str | None:
    """An FTS5 expression finding every word of ``query`` as a word prefix; None if it has no words.

    Words are quoted, so nothing a reader types is FTS5 syntax."""
    words = _WORD.findall(_fold_text(query))
    return " ".join(f'"{w}"*' for w in words) if words else None


def _cosignatures(note: str | None, log_id: bytes) -> int:
    """Signature lines on the held checkpoint other than the log's own: what witnesses added (each names
    its witness key; a reader checks those against the witnesses it trusts)."""
    if note is None:
        return 0
    try:
        signatures = parse_note(note).signatures
    except DecodeError:
        return 0
    origin = log_origin(log_id)
    return len({s.name for s in signatures if s.name != origin})


@dataclass
class _CouncilFold:
    """One council's row while a run of its entries is folded, written back once at the end."""

    row: list[Any]  # agg_councils columns, in order
    sitting: set[tuple[bytes, int]]  # (decision, seat) of mandates not ended
    open: dict[bytes, int]  # assembly id -> seq of its open entry, while not closed
    assemblies: list[tuple[Any, ...]] = field(default_factory=list)
    closes: list[tuple[Any, ...]] = field(default_factory=list)
    mandates: list[tuple[Any, ...]] = field(default_factory=list)
    ended: list[tuple[Any, ...]] = field(default_factory=list)
    decisions: list[tuple[Any, ...]] = field(default_factory=list)


# agg_councils column positions
(_LOG, _FOUND, _NAME, _NAME_FA, _CITY, _COUNTRY, _CONTINENT, _RULES, _SEATS, _BUCKET, _MEMBERS,
 _MEMBERS_ID, _MEMBERS_MS, _FILLED, _BOARD_IDS, _HELD, _OPEN, _PARTICIPANTS, _CLOSE_IDS,
 _DECISIONS) = range(20)  # fmt: skip
_ROLES = {"council/found": "council", "federation/found": "federation"}  # by the kind of entry 0
_ASSEMBLY_COLUMNS = ("seq", "id", "ts_ms", "close_id", "close_seq", "close_ms", "participants")
_PUBLIC_TALLY = ("active_members", "quorum_required", "votes_cast")


class Aggregate:
    """The aggregate tables, folded and read through ``conn`` (the writer's, for ``update``/``rebuild``)."""

    def __init__(self, conn: sqlite3.Connection, federation_log: bytes) -> None:
        self.conn = conn
        self.federation_log = federation_log
        self._has_forks = bool(
            conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'forks'").fetchone()
        )
        self._summary: tuple[tuple[int, int], dict[str, Any]] | None = None

    # --- folding (writer connection) -------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """Join the caller's transaction (the ingest's own, say), or run in one of our own."""
        if self.conn.in_transaction:
            yield
            return
        with LogStore(self.conn).transaction():
            yield

    def update(self, log_id: bytes, from_seq: int = 0) -> int:
        """Fold the entries of ``log_id`` not folded yet; return how many public entries were read.

        ``from_seq`` is where the caller's new entries begin (an ingest's first new seq): folding starts at
        the aggregate's own ``folded_seq + 1`` when that is lower — a gap would make every figure wrong —
        and entries already folded are never folded again, so calling twice changes nothing.
        """
        del from_seq  # folded_seq, kept in the same transaction as the figures, is the truth
        with self._transaction():
            return self._update(log_id)

    def update_all(self) -> int:
        """Fold every held log (on start, after a crash between an ingest and its ``update``)."""
        logs = [bytes(r[0]) for r in self.conn.execute("SELECT log_id FROM logs ORDER BY log_id")]
        with self._transaction():
            return sum(self._update(log_id) for log_id in logs)

    def rebuild(self) -> int:
        """Drop every figure and fold every held log again from the entries table."""
        with self._transaction():
            for table in _TABLES:
                self.conn.execute(f"DELETE FROM {table}")
            self.conn.execute("INSERT INTO agg_decisions_fts (agg_decisions_fts) VALUES ('delete-all')")
            return self.update_all()

    def _update(self, log_id: bytes) -> int:
        head = self.conn.execute(
            "SELECT size, checkpoint, checkpoint_size FROM logs WHERE log_id = ?", (log_id,)
        ).fetchone()
        if head is None:
            return 0
        size, note, checkpoint_size = head
        held = self.conn.execute(
            "SELECT role, folded_seq, unreadable FROM agg_logs WHERE log_id = ?", (log_id,)
        ).fetchone()
        role, folded, unreadable = held if held else (None, -1, 0)
        rows = self.conn.execute(
            "SELECT seq, id, ts_ms, kind, body FROM entries "
            "WHERE log_id = ? AND seq > ? AND seq < ? AND vis = 'public' ORDER BY seq",
            (log_id, folded, size),
        ).fetchall()
        if role is None:
            first = rows[0][3] if rows and rows[0][0] == 0 else None
            role = _ROLES.get(first or "", "other")
        if role == "council":
            unreadable += self._fold_council(log_id, rows)
        elif role == "federation":
            unreadable += self._fold_federation(log_id, rows)
        self.conn.execute(
            "INSERT INTO agg_logs VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (log_id) DO UPDATE SET "
            "folded_seq = excluded.folded_seq, size = excluded.size, "
            "checkpoint_size = excluded.checkpoint_size, cosignatures = excluded.cosignatures, "
            "unreadable = excluded.unreadable",
            (log_id, role, size - 1, size, checkpoint_size, _cosignatures(note, log_id), unreadable),
        )
        return len(rows)

    def _fold_council(self, log_id: bytes, rows: list[Any]) -> int:
        fold = self._load_council(log_id)
        skipped = 0
        keys: dict[int, int] = {}  # the last key taken by this run, by key range (see _time_key)
        for seq, entry_id, ts_ms, kind, body_bytes in rows:
            entry_id = bytes(entry_id)
            try:
                body = msgpack.unpackb(body_bytes, raw=False)
                if kind == "council/found":
                    if fold is not None:
                        raise _Skip("founded twice")
                    fold = self._found(log_id, entry_id, body)
                elif fold is None:
                    raise _Skip("not founded")
                elif kind == "council/census":
                    count = _get(body, "active_members", int)
                    fold.row[_MEMBERS], fold.row[_MEMBERS_ID], fold.row[_MEMBERS_MS] = count, entry_id, ts_ms
                elif kind == "assembly/open":
                    fold.open[entry_id] = seq
                    fold.row[_OPEN] += 1
                    fold.assemblies.append((log_id, seq, entry_id, ts_ms))
                elif kind == "assembly/close":
                    self._close(fold, log_id, seq, entry_id, ts_ms, body)
                elif kind == "decision":
                    row = self._decision(fold, log_id, seq, entry_id, ts_ms, body)
                    fold.decisions.append((self._time_key(ts_ms, keys), *row))
            except (_Skip, ValueError, TypeError, AttributeError, msgpack.UnpackException):
                skipped += 1
        if fold is not None:
            self._save_council(fold)
        return skipped

    def _load_council(self, log_id: bytes) -> _CouncilFold | None:
        row = self.conn.execute("SELECT * FROM agg_councils WHERE log_id = ?", (log_id,)).fetchone()
        if row is None:
            return None
        sitting = self.conn.execute(
            "SELECT decision, seat FROM agg_mandates WHERE log_id = ? AND ended_by IS NULL", (log_id,)
        )
        opened = self.conn.execute(
            "SELECT id, seq FROM agg_assemblies WHERE log_id = ? AND close_id IS NULL", (log_id,)
        )
        return _CouncilFold(list(row), {(bytes(d), s) for d, s in sitting}, {bytes(i): s for i, s in opened})

    def _found(self, log_id: bytes, entry_id: bytes, body: dict[str, Any]) -> _CouncilFold:
        p = _get(body, "profile", dict)
        names = [_get(p, k, str) for k in ("name", "name_fa", "city", "country", "continent")]
        rules = _get(body, "rules", dict)
        seats = _get(rules, "board_seats", int)
        bucket = rules.get("census_bucket", 1)  # rules written by 0.1.0 count exactly
        if type(bucket) is not int:
            raise _Skip("census_bucket")
        row = [log_id, entry_id, *names, entry_id, seats, bucket, None, None, None, 0, b"", 0, 0, 0, b"", 0]
        return _CouncilFold(row, set(), {})

    def _close(
        self, fold: _CouncilFold, log_id: bytes, seq: int, entry_id: bytes, ts_ms: int, body: dict[str, Any]
    ) -> None:
        assembly = _id(body, "assembly")
        participants = _get(body, "participants", int)
        if assembly not in fold.open:
            raise _Skip("closes no open assembly")
        del fold.open[assembly]
        row = fold.row
        row[_OPEN] -= 1
        row[_HELD] += 1
        row[_PARTICIPANTS] += participants
        row[_CLOSE_IDS] = bytes(row[_CLOSE_IDS]) + entry_id
        fold.closes.append((entry_id, seq, ts_ms, participants, log_id, assembly))

    def _decision(
        self,
        fold: _CouncilFold,
        log_id: bytes,
        seq: int,
        entry_id: bytes,
        ts_ms: int,
        body: dict[str, Any],
    ) -> tuple[Any, ...]:
        # every field read and checked before anything changes: a bad body counts nothing
        motion_kind, outcome = _get(body, "motion_kind", str), _get(body, "outcome", str)
        text = _get(body, "text", str)
        elected = [_get(e, "seat", int) for e in _get(body, "elected", list)]
        ended = [(_id(e, "decision"), _get(e, "seat", int)) for e in _get(body, "ended", list)]
        if len(set(elected)) != len(elected):
            raise _Skip("a seat elected twice")
        rules = self._adopted_rules(log_id, body) if body.get("rules_adopted") is not None else None
        participants = body.get("participants")
        if participants is not None and (type(participants) is not int):
            raise _Skip("participants")
        tally = self._tally(body)
        proposal = body.get("proposal")
        if proposal is not None:
            if not isinstance(proposal, list) or len(proposal) != 2:
                raise _Skip("proposal")
            proposal = _id({"p": proposal[0]}, "p") + _id({"p": proposal[1]}, "p")
        row = fold.row
        changed = False
        for seat in elected:
            fold.sitting.add((entry_id, seat))
            fold.mandates.append((log_id, entry_id, seat))
            changed = True
        for mandate in ended:
            if mandate in fold.sitting:
                fold.sitting.discard(mandate)
                fold.ended.append((entry_id, log_id, *mandate))
                changed = True
        if changed:
            row[_BOARD_IDS] = bytes(row[_BOARD_IDS]) + entry_id
            row[_FILLED] = len(fold.sitting)
        if rules is not None and outcome == "adopted":
            row[_RULES], row[_SEATS], row[_BUCKET] = entry_id, *rules
        row[_DECISIONS] += 1
        tally_text = None if tally is None else json.dumps(tally, sort_keys=True)
        return (
            log_id,
            seq,
            entry_id,
            ts_ms,
            motion_kind,
            outcome,
            text,
            participants,
            tally_text,
            proposal,
        )

    def _time_key(self, ts_ms: int, taken: dict[int, int]) -> int:
        """The next free rowid among the decisions of ``ts_ms``'s key range; ``taken`` holds those of this
        run, not written yet."""
        base = min(ts_ms, _TS_CAP) << _KEY_BITS
        last = taken.get(base)
        if last is None:
            last = self.conn.execute(
                "SELECT coalesce(max(rowid), ?) FROM agg_decisions WHERE rowid BETWEEN ? AND ?",
                (base - 1, base, base + (1 << _KEY_BITS) - 1),
            ).fetchone()[0]
        if last + 1 < base + (1 << _KEY_BITS):
            taken[base] = last + 1
            return last + 1
        low = taken.get(-1)
        if low is None:
            low = self.conn.execute("SELECT min(0, coalesce(min(rowid), 0)) FROM agg_decisions").fetchone()[0]
        taken[-1] = low - 1
        return low - 1

    def _adopted_rules(self, log_id: bytes, body: dict[str, Any]) -> tuple[int, int]:
        """(board_seats, census_bucket) proposed by the public rules motion this decision adopted."""
        found = self.conn.execute(
            "SELECT body FROM entries "
            "WHERE id = ? AND log_id = ? AND vis = 'public' AND kind = 'motion/propose'",
            (_id(body, "motion"), log_id),
        ).fetchone()
        if found is None:
            raise _Skip("the adopted rules' motion is not public")
        rules = _get(msgpack.unpackb(found[0], raw=False), "rules", dict)
        bucket = rules.get("census_bucket", 1)
        if type(bucket) is not int:
            raise _Skip("census_bucket")
        return _get(rules, "board_seats", int), bucket

    @staticmethod
    def _tally(body: dict[str, Any]) -> dict[str, Any] | None:
        """The counts of a decision that publishes its tally (never who voted for whom)."""
        if "tally" not in body:
            return None
        raw = _get(body, "tally", dict)
        out = {k: _get(body, k, int) for k in _PUBLIC_TALLY}
        out["participants"] = _get(body, "participants", int)
        if "ballots" in raw:  # an election: how many ballots, not whom they approved
            out["ballots"] = _get(raw, "ballots", int)
        else:
            out.update({k: _get(raw, k, int) for k in ("yes", "no", "abstain")})
        return out

    def _save_council(self, fold: _CouncilFold) -> None:
        c = self.conn
        c.execute(f"INSERT OR REPLACE INTO agg_councils VALUES ({', '.join('?' * 20)})", fold.row)
        c.executemany(
            "INSERT INTO agg_assemblies (log_id, seq, id, ts_ms) VALUES (?, ?, ?, ?)", fold.assemblies
        )
        c.executemany(
            "UPDATE agg_assemblies SET close_id = ?, close_seq = ?, close_ms = ?, participants = ? "
            "WHERE log_id = ? AND id = ?",
            fold.closes,
        )
        c.executemany("INSERT INTO agg_mandates VALUES (?, ?, ?, NULL)", fold.mandates)
        c.executemany(
            "UPDATE agg_mandates SET ended_by = ? WHERE log_id = ? AND decision = ? AND seat = ?", fold.ended
        )
        c.executemany(f"INSERT INTO agg_decisions VALUES ({', '.join('?' * 11)})", fold.decisions)
        c.executemany(
            "INSERT INTO agg_decisions_fts (rowid, text) VALUES (?, ?)",
            [(d[0], _fold_text(d[7])) for d in fold.decisions],
        )

    def _fold_federation(self, log_id: bytes, rows: list[Any]) -> int:
        skipped = 0
        for seq, entry_id, ts_ms, kind, body_bytes in rows:
            try:
                body = msgpack.unpackb(body_bytes, raw=False)
                if kind == "federation/found":
                    p = _get(body, "profile", dict)
                    names = [_get(p, k, str) for k in ("name", "name_fa", "level", "country", "continent")]
                    self.conn.execute(
                        "INSERT INTO agg_federations VALUES (?, ?, ?, ?, ?, ?, ?)", (log_id, entry_id, *names)
                    )
                elif kind in ("roster/admit", "roster/suspend", "roster/readmit", "roster/rekey"):
                    # any federation log held is one we trust: a continent federation trusts, and shows,
                    # what the country federations it admitted admit (resolution article 2)
                    self._roster(seq, bytes(entry_id), ts_ms, kind, body)
            except (
                _Skip,
                ValueError,
                TypeError,
                AttributeError,
                sqlite3.IntegrityError,
                msgpack.UnpackException,
            ):
                skipped += 1
        return skipped

    def _roster(self, seq: int, entry_id: bytes, ts_ms: int, kind: str, body: dict[str, Any]) -> None:
        member, reason = _id(body, "member"), _get(body, "reason", str)
        action = kind.removeprefix("roster/")
        size = _get(body, "size", int) if action in ("suspend", "rekey") else None
        if action == "admit":
            names = [
                _get(body, k, str) for k in ("member_kind", "name", "name_fa", "city", "country", "continent")
            ]
            self.conn.execute(
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
                raise _Skip("not on the roster")
            if action == "rekey":
                # the member moved to a new root key (its old one lost or stolen): the old key is shown
                # suspended at the size held, the new one admitted with the same profile, from this entry
                new = _id(body, "new_key")
                self.conn.execute(
                    "INSERT INTO agg_roster SELECT ?, kind, name, name_fa, city, country, continent, "
                    "'admitted', ?, ?, ?, NULL FROM agg_roster WHERE member = ?",
                    (new, entry_id, ts_ms, reason, member),
                )
                self.conn.execute(
                    "INSERT INTO agg_roster_events VALUES (?, ?, ?, ?, 'admit', ?, NULL)",
                    (new, seq, entry_id, ts_ms, reason),
                )
        self.conn.execute(
            "INSERT INTO agg_roster_events VALUES (?, ?, ?, ?, ?, ?, ?)",
            (member, seq, entry_id, ts_ms, action, reason, size),
        )

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
                self._summary = (version, self._render_summary())
            finally:
                if collecting:
                    gc.enable()
        return self._summary[1]

    def _render_summary(self) -> dict[str, Any]:
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
        rows = self.conn.execute(
            "SELECT member, name, name_fa, country, continent, status, entry FROM agg_roster "
            "WHERE kind = 'federation' ORDER BY member"
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
            rows = self._matches(expression, clauses, args, limit + offset, columns, order)
        keys = ("council", "entry", "seq", "ts_ms", "motion_kind", "text", "outcome", "participants")
        out = []
        for row in rows:
            item = dict(zip(keys, _plain(row[:8]), strict=True))
            item["tally"] = None if row[8] is None else json.loads(row[8])
            item["proposal"] = None if row[9] is None else [bytes(row[9][:ID]), bytes(row[9][ID:])]
            out.append(item)
        return out

    def _matches(
        self, expression: str, clauses: list[str], args: list[object], need: int, columns: str, order: str
    ) -> sqlite3.Cursor:
        """Decisions matching ``expression`` and ``clauses``, in ``order``, reading only the newest matches.

        Rowids are time keys (``_time_key``): the ``need`` matches with the highest keys are the newest but
        for ties within their key range, so the matches from the lowest of those ranges up hold every row of
        the page. Rowids below zero (a hostile log's) break key order: then every match is read and sorted.
        """
        source = (
            "FROM agg_decisions_fts CROSS JOIN agg_decisions d ON d.rowid = agg_decisions_fts.rowid "
            f"WHERE agg_decisions_fts MATCH ?{''.join(f' AND {c}' for c in clauses)}"
        )
        newest = self.conn.execute(
            f"SELECT agg_decisions_fts.rowid {source} ORDER BY agg_decisions_fts.rowid DESC LIMIT ?",
            (expression, *args, need),
        ).fetchall()
        low = newest[-1][0] if newest and len(newest) == need else None
        if low is not None and not self._keys_below_zero():
            source += " AND agg_decisions_fts.rowid >= ?"
            args = [*args, low >> _KEY_BITS << _KEY_BITS]
        return self.conn.execute(f"SELECT {columns} {source} {order}", (expression, *args))

    def _keys_below_zero(self) -> bool:
        return self.conn.execute("SELECT 1 FROM agg_decisions WHERE rowid < 0 LIMIT 1").fetchone() is not None


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
        "entries": _ids(board_ids),
    }
    out["assemblies"] = {
        "held": held,
        "open": opened,
        "participants": participants,
        "entries": _ids(close_ids),
    }
    out["decisions"] = decisions
    return out
