"""Words in public decisions: how texts are folded for the FTS5 index, and how a search reads only the
newest matches (rowids are time keys: ``federation.aggregate.schema``)."""

from __future__ import annotations

import re
import sqlite3

import federation.aggregate.schema as schema

# Persian typed on an Arabic keyboard: one yeh and one kaf, and a zero-width non-joiner inside a word is
# not a word break (می‌خواهیم = میخواهیم). Applied to what is indexed and to what is searched.
_FOLD = str.maketrans({"\u064a": "\u06cc", "\u0649": "\u06cc", "\u0643": "\u06a9", "\u200c": None})
_WORD = re.compile(r"\w+")


def fold_text(text: str) -> str:
    """``text`` as the index holds it (and as a query is matched against it)."""
    return text.translate(_FOLD)


def match_expression(query: str) -> str | None:
    """An FTS5 expression finding every word of ``query`` as a word prefix; None if it has no words.

    Words are quoted, so nothing a reader types is FTS5 syntax."""
    words = _WORD.findall(fold_text(query))
    return " ".join(f'"{w}"*' for w in words) if words else None


def newest_matches(
    conn: sqlite3.Connection,
    expression: str,
    clauses: list[str],
    args: list[object],
    need: int,
    columns: str,
    order: str,
) -> sqlite3.Cursor:
    """Decisions matching ``expression`` and ``clauses``, in ``order``, reading only the newest matches.

    Rowids are time keys: the ``need`` matches with the highest keys are the newest but for ties within
    their key range, so the matches from the lowest of those ranges up hold every row of the page. Rowids
    below zero (a hostile log's) break key order: then every match is read and sorted.
    """
    source = (
        "FROM agg_decisions_fts CROSS JOIN agg_decisions d ON d.rowid = agg_decisions_fts.rowid "
        f"WHERE agg_decisions_fts MATCH ?{''.join(f' AND {c}' for c in clauses)}"
    )
    newest = conn.execute(
        f"SELECT agg_decisions_fts.rowid {source} ORDER BY agg_decisions_fts.rowid DESC LIMIT ?",
        (expression, *args, need),
    ).fetchall()
    low = newest[-1][0] if newest and len(newest) == need else None
    if low is not None and not _keys_below_zero(conn):
        source += " AND agg_decisions_fts.rowid >= ?"
        args = [*args, low >> schema.KEY_BITS << schema.KEY_BITS]
    return conn.execute(f"SELECT {columns} {source} {order}", (expression, *args))


def _keys_below_zero(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM agg_decisions WHERE rowid < 0 LIMIT 1").fetchone() is not None
