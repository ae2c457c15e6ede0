"""The log store: its migrations keep what a node already holds, and appends go in pieces or whole."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from federation import db as dbmod
from federation.store import MIGRATIONS, ForkError, LogStore, StoreError, receipts
from node.storage.drafts import checkpoint_signer
from protocol.entry import Entry, sign_entry
from protocol.keys import SigningKey

KEYS = [SigningKey.from_seed(bytes([n]) * 32) for n in (1, 2)]


def run(key: SigningKey, n: int, start: int = 0, prev: bytes | None = None) -> list[Entry]:
    entries: list[Entry] = []
    for seq in range(start, start + n):
        body = {"kind": "decision" if seq % 5 == 0 else "note", "n": seq}
        link = entries[-1].id if entries else prev
        entries.append(
            sign_entry(
                key, log_id=key.public.raw, seq=seq, prev=link, ts_ms=1_000 + seq, vis="public", body=body
            )
        )
    return entries


def rows(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    return conn.execute("SELECT * FROM entries ORDER BY log_id, seq").fetchall()


def test_0008_indexes_each_logs_key_entries_and_the_keys_read_goes_through_it(tmp_path: Path) -> None:
    """Every ingest reads the log's ``log/key`` entries; before 0008 that read walked the whole log."""
    conn = dbmod.connect(tmp_path / "old.db")
    dbmod.migrate(conn, [m for m in MIGRATIONS if m.name < "0008"])
    store = LogStore(conn)
    key, added = KEYS[0], SigningKey.from_seed(b"\x09" * 32).public.raw
    entries = run(key, 12)
    for seq in (3, 9):  # two key entries among notes and decisions
        body = {"kind": "log/key", "action": "add" if seq == 3 else "revoke", "key": added}
        entries[seq] = sign_entry(
            key, log_id=key.public.raw, seq=seq, prev=entries[seq - 1].id, ts_ms=1_000 + seq, vis="public",
            body=body,
        )  # fmt: skip
        entries[seq + 1 :] = run(key, 12 - seq - 1, seq + 1, entries[seq].id)
    store.append(key.public.raw, entries, checkpoint_signer(key))
    before = store.delegations(key.public.raw)

    assert dbmod.migrate(conn, MIGRATIONS)[0] == "0008-entries-key-index"
    after = store.delegations(key.public.raw)
    assert [e.seq for e in after] == [3, 9] and after == before
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT header FROM entries WHERE log_id = ? AND kind = 'log/key' ORDER BY seq",
        (key.public.raw,),
    ).fetchall()
    assert "entries_keys" in str(plan)
    # appended after the migration: found through the index too
    more = run(key, 1, 12, entries[-1].id)
    store.append(key.public.raw, more, checkpoint_signer(key))
    assert [e.seq for e in store.delegations(key.public.raw)] == [3, 9]


def test_0005_moves_entries_to_a_rowid_table_keeps_every_row_and_indexes_decision_ids(tmp_path: Path) -> None:
    conn = dbmod.connect(tmp_path / "old.db")
    dbmod.migrate(conn, [m for m in MIGRATIONS if m.name < "0005"])  # a node as 0.3.0 left it
    store = LogStore(conn, private=True)  # sees every log: reads no column of the later 0006
    for key in KEYS:
        store.append(key.public.raw, run(key, 40), checkpoint_signer(key))
    before, heads = rows(conn), store.heads()
    assert (
        "WITHOUT ROWID" in conn.execute("SELECT sql FROM sqlite_master WHERE name = 'entries'").fetchone()[0]
    )

    assert dbmod.migrate(conn, MIGRATIONS) == [
        "0005-entries-rowid-decision-ids",
        "0006-private-logs",
        "0007-witness-notes",
        "0008-entries-key-index",
        "0801-log-receipts",
        "0802-entry-verification",
    ]
    assert rows(conn) == before and store.heads() == heads
    # 0801: decisions held before receipts were kept stand received at their own time (the old rule)
    assert receipts.received_ms(conn, KEYS[0].public.raw, 5) == 1_005
    assert receipts.received_ms(conn, KEYS[0].public.raw, 6) == 1_010  # a note: the next decision's row
    table = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'entries'").fetchone()[0]
    assert "WITHOUT ROWID" not in table
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'entries'")}
    assert {"entries_decisions", "entries_decision_ids"} <= indexes
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # the primary key still refuses a second row at a held (log, seq), whatever its id
    key = KEYS[0]
    held = store.entries(key.public.raw, -1, 100)
    copy = "INSERT INTO entries SELECT log_id, seq, randomblob(32), header, signature, body, vis, ts_ms, kind"
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(copy + " FROM entries WHERE log_id = ? AND seq = 3", (key.public.raw,))
    # decisions, and only they, are found by id, through their index
    assert store.locate_decision(held[5].id) == (key.public.raw, 5)
    assert store.locate_decision(held[6].id) is None  # a note, not a decision
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT log_id, seq FROM entries WHERE id = ? AND kind = 'decision'", (b"",)
    ).fetchall()
    assert "entries_decision_ids" in str(plan)
    # appends after the migration continue the log and its tree
    more = run(key, 25, start=40, prev=held[-1].id)
    head = store.append(key.public.raw, more, checkpoint_signer(key))
    assert head.size == 65 and head.root == store.root(key.public.raw, 65)
    decisions = conn.execute(
        "SELECT count(*) FROM entries WHERE log_id = ? AND kind = 'decision'", (key.public.raw,)
    )
    assert decisions.fetchone()[0] == 13


def test_pieces_and_a_whole_append_give_the_same_log(tmp_path: Path) -> None:
    key = KEYS[0]
    entries = run(key, 100)
    stores = []
    for name in ("whole", "pieces"):
        conn = dbmod.connect(tmp_path / f"{name}.db")
        dbmod.migrate(conn, MIGRATIONS)
        stores.append(LogStore(conn))
    whole, pieces = stores
    whole.append(key.public.raw, entries, checkpoint_signer(key))
    with pieces.transaction():
        appender = pieces.appender(key.public.raw)
        for start in range(0, 100, 7):
            appender.add(entries[start : start + 7])
        appender.finish(checkpoint_signer(key))
    assert rows(whole.conn) == rows(pieces.conn)
    assert whole.heads() == pieces.heads()
    assert pieces.inclusion_proof(key.public.raw, 42, 100) == whole.inclusion_proof(key.public.raw, 42, 100)


def test_an_append_refused_in_its_second_piece_leaves_nothing(tmp_path: Path) -> None:
    key, other = KEYS
    conn = dbmod.connect(tmp_path / "x.db")
    dbmod.migrate(conn, MIGRATIONS)
    store = LogStore(conn)
    entries = run(key, 20)
    store.append(key.public.raw, entries[:5], checkpoint_signer(key))
    before, heads = rows(conn), store.heads()
    with pytest.raises(StoreError, match="another log"), store.transaction():
        appender = store.appender(key.public.raw)
        appender.add(entries[5:10])
        appender.add(run(other, 1))
    assert rows(conn) == before and store.heads() == heads
    forked = sign_entry(
        key, log_id=key.public.raw, seq=2, prev=entries[1].id, ts_ms=9, vis="public", body={"kind": "note"}
    )
    with pytest.raises(ForkError), store.transaction():
        store.appender(key.public.raw).add([forked])
    assert rows(conn) == before


@pytest.mark.parametrize("count", [0, 1, 4, 5, 6, 23, 512, 513, 1300])
def test_insert_rows_writes_every_row_in_order_whatever_the_statement_sizes(
    tmp_path: Path, count: int
) -> None:
    conn = dbmod.connect(tmp_path / "rows.db")
    conn.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b BLOB, c TEXT, d INTEGER)")
    given = [(i, bytes([i % 256]) * (i % 7), f"row {i}", None if i % 3 else i) for i in range(count)]
    dbmod.insert_rows(conn, "t", given)
    assert conn.execute("SELECT * FROM t ORDER BY rowid").fetchall() == given


def test_insert_rows_within_a_small_variable_limit(tmp_path: Path) -> None:
    conn = dbmod.connect(tmp_path / "rows.db")
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 10)  # two rows of four per statement at most
    conn.execute("CREATE TABLE t (a, b, c, d)")
    given = [(i, i, i, i) for i in range(7)]
    dbmod.insert_rows(conn, "t", given)
    assert conn.execute("SELECT * FROM t ORDER BY rowid").fetchall() == given


def test_insert_rows_refused_midway_leaves_the_transaction_to_its_owner(tmp_path: Path) -> None:
    conn = dbmod.connect(tmp_path / "rows.db")
    conn.execute("CREATE TABLE t (a INTEGER PRIMARY KEY)")
    # the 600th row repeats the first: the statement fails, and the transaction is rolled back whole
    with pytest.raises(sqlite3.IntegrityError), LogStore(conn).transaction():
        dbmod.insert_rows(conn, "t", [(i % 599,) for i in range(700)])
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
