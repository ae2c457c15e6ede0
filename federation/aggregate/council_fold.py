"""Folding a council's log: its founding, census, assemblies, decisions, board and delegates' mandates.

``CouncilFolder.fold`` folds a run of a council's public entries, in log order, into one in-memory
``_CouncilFold`` of its row and what it opened, elected and mandated, read back from the tables first and
written back once at the end. An entry whose body has not the shape of its kind is skipped and counted.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import federation.aggregate.schema as schema
from federation.aggregate.bodies import read_body, read_id, read_value
from federation.aggregate.schema import COUNCIL_COLUMNS, ID, CouncilRow
from federation.aggregate.search import fold_text
from federation.errors import UnreadableBody

_PUBLIC_TALLY = ("active_members", "quorum_required", "votes_cast")
_ENDS_DELEGATES = ("delegate-recall", "removal")  # the decisions that may end a delegate's mandate
_SAVE_COUNCIL = (
    f"INSERT OR REPLACE INTO agg_councils ({', '.join(COUNCIL_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(COUNCIL_COLUMNS))})"
)


def named(body: dict[str, Any], entry_id: bytes) -> bytes:
    """The id a council's own bodies name a public entry by: its record twin's, which a public twin commits
    to (DESIGN.md §3: a body names record entries, since that is what the council's rules judge); the
    entry's own id for a log without commitments."""
    commitment = body.get("record")
    if isinstance(commitment, dict):
        entry = commitment.get("entry")
        if type(entry) is bytes and len(entry) == ID:
            return entry
    return entry_id


@dataclass
class _CouncilFold:
    """One council's row while a run of its entries is folded, written back once at the end."""

    row: CouncilRow
    sitting: set[tuple[bytes, int]]  # (decision, seat) of mandates not ended
    open: dict[bytes, int]  # assembly id -> seq of its open entry, while not closed
    delegates: set[tuple[bytes, int]]  # (decision, seat) of delegates' mandates not ended
    assemblies: list[tuple[Any, ...]] = field(default_factory=list)
    closes: list[tuple[Any, ...]] = field(default_factory=list)
    mandates: list[tuple[Any, ...]] = field(default_factory=list)
    ended: list[tuple[Any, ...]] = field(default_factory=list)
    decisions: list[tuple[Any, ...]] = field(default_factory=list)
    mandated: list[tuple[Any, ...]] = field(default_factory=list)  # delegates' mandates, as ``mandates``
    recalled: list[tuple[Any, ...]] = field(default_factory=list)  # and their ends, as ``ended``


class CouncilFolder:
    """Folds a council's public entries into the aggregate tables through ``conn`` (the writer's)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def fold(self, log_id: bytes, rows: list[Any]) -> int:
        """Fold ``rows`` (seq, id, ts_ms, kind, body) of ``log_id``; return how many were unreadable."""
        fold = self._load_council(log_id)
        skipped = 0
        keys: dict[int, int] = {}  # the last key taken by this run, by key range (see _time_key)
        for seq, entry_id, ts_ms, kind, body_bytes in rows:
            try:
                body = read_body(body_bytes)
                entry_id = named(body, bytes(entry_id))
                if kind == "council/found":
                    if fold is not None:
                        raise UnreadableBody("founded twice")
                    fold = self._found(log_id, entry_id, body)
                elif fold is None:
                    raise UnreadableBody("not founded")
                elif kind == "council/census":
                    count = read_value(body, "active_members", int)
                    fold.row.members, fold.row.members_id, fold.row.members_ms = count, entry_id, ts_ms
                elif kind == "assembly/open":
                    fold.open[entry_id] = seq
                    fold.row.open += 1
                    fold.assemblies.append((log_id, seq, entry_id, ts_ms))
                elif kind == "assembly/close":
                    self._close(fold, log_id, seq, entry_id, ts_ms, body)
                elif kind == "decision":
                    row = self._decision(fold, log_id, seq, entry_id, ts_ms, body)
                    fold.decisions.append((self._time_key(ts_ms, keys), *row))
                elif kind in ("board/resign", "board/left"):  # a mandate ended by resignation or leaving
                    self._end_mandates(
                        fold, log_id, entry_id, [(read_id(body, "decision"), read_value(body, "seat", int))]
                    )
                elif kind == "delegate/left":  # a delegate's mandate ended by their leaving the council
                    self._delegates(
                        fold,
                        log_id,
                        entry_id,
                        [],
                        [(read_id(body, "decision"), read_value(body, "seat", int))],
                    )
            except UnreadableBody:
                skipped += 1
        if fold is not None:
            self._save_council(fold)
        return skipped

    def _load_council(self, log_id: bytes) -> _CouncilFold | None:
        row = self.conn.execute(
            f"SELECT {', '.join(COUNCIL_COLUMNS)} FROM agg_councils WHERE log_id = ?", (log_id,)
        ).fetchone()
        if row is None:
            return None
        sitting = self.conn.execute(
            "SELECT decision, seat FROM agg_mandates WHERE log_id = ? AND ended_by IS NULL", (log_id,)
        )
        opened = self.conn.execute(
            "SELECT id, seq FROM agg_assemblies WHERE log_id = ? AND close_id IS NULL", (log_id,)
        )
        delegates = self.conn.execute(
            "SELECT decision, seat FROM agg_delegates WHERE log_id = ? AND ended_by IS NULL", (log_id,)
        )
        return _CouncilFold(
            CouncilRow(*row),
            {(bytes(d), s) for d, s in sitting},
            {bytes(i): s for i, s in opened},
            {(bytes(d), s) for d, s in delegates},
        )

    def _found(self, log_id: bytes, entry_id: bytes, body: dict[str, Any]) -> _CouncilFold:
        p = read_value(body, "profile", dict)
        place = {k: read_value(p, k, str) for k in ("name", "name_fa", "city", "country", "continent")}
        rules = read_value(body, "rules", dict)
        seats = read_value(rules, "board_seats", int)
        bucket = rules.get("census_bucket", 1)  # rules written by 0.1.0 count exactly
        if type(bucket) is not int:
            raise UnreadableBody("census_bucket")
        row = CouncilRow(
            log_id=log_id,
            found_id=entry_id,
            rules_id=entry_id,
            board_seats=seats,
            census_bucket=bucket,
            **place,
        )
        return _CouncilFold(row, set(), {}, set())

    def _close(
        self, fold: _CouncilFold, log_id: bytes, seq: int, entry_id: bytes, ts_ms: int, body: dict[str, Any]
    ) -> None:
        assembly = read_id(body, "assembly")
        participants = read_value(body, "participants", int)
        if assembly not in fold.open:
            raise UnreadableBody("closes no open assembly")
        del fold.open[assembly]
        row = fold.row
        row.open -= 1
        row.held += 1
        row.participants += participants
        row.close_ids = bytes(row.close_ids) + entry_id
        fold.closes.append((entry_id, seq, ts_ms, participants, log_id, assembly))

    @staticmethod
    def _end_mandates(
        fold: _CouncilFold,
        log_id: bytes,
        entry_id: bytes,
        ended: list[tuple[bytes, int]],
        changed: bool = False,
    ) -> None:
        """The mandates ``entry_id`` ends (a recall or removal, a resignation, a member's leaving)."""
        for mandate in ended:
            if mandate in fold.sitting:
                fold.sitting.discard(mandate)
                fold.ended.append((entry_id, log_id, *mandate))
                changed = True
        if changed:
            fold.row.board_ids = bytes(fold.row.board_ids) + entry_id
            fold.row.board_filled = len(fold.sitting)

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
        motion_kind, outcome = read_value(body, "motion_kind", str), read_value(body, "outcome", str)
        text = read_value(body, "text", str)
        elected = [read_value(e, "seat", int) for e in read_value(body, "elected", list)]
        ended = [
            (read_id(e, "decision"), read_value(e, "seat", int)) for e in read_value(body, "ended", list)
        ]
        if len(set(elected)) != len(elected):
            raise UnreadableBody("a seat elected twice")
        # a council's delegates to its federation (issue 13): read from the kinds that give or end one only
        mandated = (
            [read_value(e, "seat", int) for e in read_value(body, "delegates", list)]
            if motion_kind == "delegate"
            else []
        )
        recalled = (
            [
                (read_id(e, "decision"), read_value(e, "seat", int))
                for e in read_value(body, "delegates_ended", list)
            ]
            if motion_kind in _ENDS_DELEGATES and "delegates_ended" in body
            else []
        )
        if len(set(mandated)) != len(mandated):
            raise UnreadableBody("a delegate's seat given twice")
        rules: tuple[int, int] | None = None
        if body.get("rules_adopted") is not None:
            rules = (
                self._changed_rules(fold.row, body)
                if "rules_changed" in body
                else self._adopted_rules(log_id, body)
            )
        participants = body.get("participants")
        if participants is not None and (type(participants) is not int):
            raise UnreadableBody("participants")
        tally = self._tally(body)
        proposal = body.get("proposal")
        if proposal is not None:
            if not isinstance(proposal, list) or len(proposal) != 2:
                raise UnreadableBody("proposal")
            proposal = read_id({"p": proposal[0]}, "p") + read_id({"p": proposal[1]}, "p")
        self._delegates(fold, log_id, entry_id, mandated, recalled)
        row = fold.row
        for seat in elected:
            fold.sitting.add((entry_id, seat))
            fold.mandates.append((log_id, entry_id, seat))
        self._end_mandates(fold, log_id, entry_id, ended, changed=bool(elected))
        if rules is not None and outcome == "adopted":
            row.rules_id, (row.board_seats, row.census_bucket) = entry_id, rules
        row.decisions += 1
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

    @staticmethod
    def _delegates(
        fold: _CouncilFold,
        log_id: bytes,
        entry_id: bytes,
        mandated: list[int],
        recalled: list[tuple[bytes, int]],
    ) -> None:
        """The delegates' mandates a decision gives (its seats) and ends ((decision, seat) of each)."""
        for seat in mandated:
            fold.delegates.add((entry_id, seat))
            fold.mandated.append((log_id, entry_id, seat))
        for mandate in recalled:
            if mandate in fold.delegates:
                fold.delegates.discard(mandate)
                fold.recalled.append((entry_id, log_id, *mandate))

    def _time_key(self, ts_ms: int, taken: dict[int, int]) -> int:
        """The next free rowid among the decisions of ``ts_ms``'s key range; ``taken`` holds those of this
        run, not written yet."""
        base = min(ts_ms, schema.TS_CAP) << schema.KEY_BITS
        last = taken.get(base)
        if last is None:
            last = self.conn.execute(
                "SELECT coalesce(max(rowid), ?) FROM agg_decisions WHERE rowid BETWEEN ? AND ?",
                (base - 1, base, base + (1 << schema.KEY_BITS) - 1),
            ).fetchone()[0]
        if last + 1 < base + (1 << schema.KEY_BITS):
            taken[base] = last + 1
            return last + 1
        low = taken.get(-1)
        if low is None:
            low = self.conn.execute("SELECT min(0, coalesce(min(rowid), 0)) FROM agg_decisions").fetchone()[0]
        taken[-1] = low - 1
        return low - 1

    @staticmethod
    def _changed_rules(row: CouncilRow, body: dict[str, Any]) -> tuple[int, int]:
        """(board_seats, census_bucket) after the difference an adopted rules motion's decision records
        (issue 13: the motion names only what it changes, applied to the rules in force at the decision)."""
        changes = read_value(body, "rules_changed", dict)
        out = {"board_seats": row.board_seats, "census_bucket": row.census_bucket}
        for name in out:
            if name in changes:
                change = changes[name]
                if not isinstance(change, list) or len(change) != 2 or type(change[1]) is not int:
                    raise UnreadableBody(name)
                out[name] = change[1]
        return out["board_seats"], out["census_bucket"]

    def _adopted_rules(self, log_id: bytes, body: dict[str, Any]) -> tuple[int, int]:
        """(board_seats, census_bucket) proposed by the public rules motion this decision adopted."""
        motion = read_id(body, "motion")  # its record id, which its public twin's commitment carries
        candidates = self.conn.execute(
            "SELECT id, body FROM entries WHERE log_id = ? AND vis = 'public' AND kind = 'motion/propose' "
            "AND (id = ? OR instr(body, ?) > 0)",
            (log_id, motion, motion),
        )
        found = next(
            (
                proposed
                for entry_id, raw in candidates
                if named(proposed := read_body(raw), bytes(entry_id)) == motion
            ),
            None,
        )
        if found is None:
            raise UnreadableBody("the adopted rules' motion is not public")
        rules = read_value(found, "rules", dict)
        bucket = rules.get("census_bucket", 1)
        if type(bucket) is not int:
            raise UnreadableBody("census_bucket")
        return read_value(rules, "board_seats", int), bucket

    @staticmethod
    def _tally(body: dict[str, Any]) -> dict[str, Any] | None:
        """The counts of a decision that publishes its tally (never who voted for whom)."""
        if "tally" not in body:
            return None
        raw = read_value(body, "tally", dict)
        out = {k: read_value(body, k, int) for k in _PUBLIC_TALLY}
        out["participants"] = read_value(body, "participants", int)
        if "ballots" in raw:  # an election: how many ballots, not whom they approved
            out["ballots"] = read_value(raw, "ballots", int)
        else:
            out.update({k: read_value(raw, k, int) for k in ("yes", "no", "abstain")})
        return out

    def _save_council(self, fold: _CouncilFold) -> None:
        c = self.conn
        c.execute(_SAVE_COUNCIL, fold.row.values())
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
        c.executemany("INSERT INTO agg_delegates VALUES (?, ?, ?, NULL)", fold.mandated)
        c.executemany(
            "UPDATE agg_delegates SET ended_by = ? WHERE log_id = ? AND decision = ? AND seat = ?",
            fold.recalled,
        )
        c.executemany(f"INSERT INTO agg_decisions VALUES ({', '.join('?' * 11)})", fold.decisions)
        c.executemany(
            "INSERT INTO agg_decisions_fts (rowid, text) VALUES (?, ?)",
            [(d[0], fold_text(d[7])) for d in fold.decisions],
        )
