"""A council's two logs in the node (DESIGN.md §3, §6): the writer keeps the record and publishes its public
entries, the public log is a pure function of the record, the member check recounts a public decision, and
the census bucket and hidden tallies are promises the public log keeps."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from federation import db as dbmod
from federation.store import LogStore
from node import config as cfg
from node.bootstrap import init_node
from node.errors import ConfigError
from node.rules.council import (
    Attend,
    CastVote,
    Census,
    CloseAssembly,
    CloseMotion,
    FoundCouncil,
    JoinMember,
    OpenAssembly,
    ProposeMotion,
    RuleError,
    Rules,
)
from node.rules.machines import machine_for
from node.settings import Settings
from node.storage import clock, logs
from node.storage.drafts import checkpoint_signer, make_entries
from node.storage.membercheck import check_decision
from node.storage.migrations import MIGRATIONS
from node.storage.writer import Writer
from protocol.entry import TS_TOLERANCE_MS, Entry, verify_follows
from protocol.errors import VerificationError
from protocol.keys import SigningKey
from protocol.record import COMMITMENT_KEY, RecordEntry, sign_record_entry, sign_twin
from tests.node.served import serve_command


@dataclass
class Held:
    key: SigningKey
    record: list[RecordEntry]
    public: list[Entry]


def read_both(config: cfg.NodeConfig) -> Held:
    conn = dbmod.connect(config.database, readonly=True)
    try:
        store = logs.record_store(conn)
        record = list(logs.record_entries(store, config.node_id))
        public = store.entries(config.node_id, -1, 1_000_000)
    finally:
        conn.close()
    return Held(config.root_key(), record, public)


def council(folder: Path, rules: Rules | None = None) -> cfg.NodeConfig:
    found = FoundCouncil(name="R", continent="Asia", rules=rules or Rules())
    return init_node(folder, found, listen="127.0.0.1:0")


async def assembly_with_a_vote(
    writer: Writer, joins: int, choices: list[str], *, visibility: str = "public"
) -> bytes:
    """``joins`` members, the first ``len(choices)`` present and voting ``choices`` on a policy motion; the
    motion's decision id (its record entry's)."""
    charter = writer.state.charter_hash or b""  # type: ignore[union-attr]
    members = [os.urandom(16) for _ in range(joins)]
    for member in members:
        await writer.submit(JoinMember(member, charter))
    assembly = (await writer.submit(OpenAssembly(None, "agenda")))[0].id
    present = members[: len(choices)]
    await writer.submit(Attend(assembly, tuple(present)))
    motion = (
        await writer.submit(ProposeMotion(assembly, "policy", "Open a kitchen", visibility=visibility))  # type: ignore[arg-type]
    )[0].id
    for member, choice in zip(present, choices, strict=True):
        await writer.submit(CastVote(motion, member, choice))  # type: ignore[arg-type]
    decided = await writer.submit(CloseMotion(motion))
    await writer.submit(Census())
    await writer.submit(CloseAssembly(assembly, None))
    return decided[0].id


async def run(config: cfg.NodeConfig, joins: int, choices: list[str], **extra: Any) -> bytes:
    writer = Writer(config.database, config.root_key(), Settings(write_batch_max=4))
    await writer.start()
    try:
        return await assembly_with_a_vote(writer, joins, choices, **extra)
    finally:
        await writer.close()


# --- publication -----------------------------------------------------------------------------------------


async def test_the_public_log_is_the_publication_of_the_record_byte_for_byte(tmp_path: Path) -> None:
    config = council(tmp_path / "n", Rules(publish_tallies=False))
    await run(config, 6, ["yes", "no", "yes", "abstain"])
    await run(config, 2, ["no", "no"], visibility="council")  # a restart between: the cursor is reloaded
    held = read_both(config)
    assert {e.header.vis for e in held.record} == {"public", "council"}
    rebuilt = logs.publication(held.key, held.record)
    assert [(e.header_bytes, e.signature, e.body_bytes) for e in held.public] == [
        (e.header_bytes, e.signature, e.body_bytes) for e in rebuilt
    ]
    assert len(held.public) == sum(e.header.vis == "public" for e in held.record)
    for twin in held.public:
        assert "salt" not in twin.body() and set(twin.body()[COMMITMENT_KEY]) == {"entry", "root"}


async def test_twins_never_go_back_in_time_when_the_clock_steps_back_a_little(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = council(tmp_path / "n")
    await run(config, 3, ["yes", "yes"])
    before = read_both(config)
    # the clock steps back 2 s (an NTP step): new entries are dated no earlier than the last
    monkeypatch.setattr(clock, "now_ms", lambda: before.public[-1].header.ts_ms - 2_000)
    await run(config, 3, ["no", "no"])
    held = read_both(config)
    assert len(held.public) > len(before.public)
    for previous, entry in zip(held.public, held.public[1:], strict=False):
        verify_follows(previous, entry)  # the public log's own rule: at most 5 s back
        assert entry.header.ts_ms >= previous.header.ts_ms > entry.header.ts_ms - TS_TOLERANCE_MS - 1
    stamps = [e.header.ts_ms for e in held.record]
    assert stamps == sorted(stamps)


async def test_a_clock_far_behind_the_last_entry_is_refused_and_nothing_is_appended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = council(tmp_path / "n")
    await run(config, 3, ["yes", "yes"])
    before = read_both(config)
    # a minute back (a restored laptop): stamping max(now, last) would freeze time, so the node refuses
    monkeypatch.setattr(clock, "now_ms", lambda: before.public[-1].header.ts_ms - 60_000)
    with pytest.raises(RuleError) as refused:
        await run(config, 1, [])
    assert refused.value.rule == "node.clock-behind"
    held = read_both(config)
    assert len(held.record) == len(before.record) and len(held.public) == len(before.public)


# --- the member check ------------------------------------------------------------------------------------


async def test_member_check_agrees_with_the_recount_and_catches_a_forged_tally(tmp_path: Path) -> None:
    config = council(tmp_path / "n")
    decision_id = await run(config, 5, ["yes", "yes", "no", "abstain", "yes"])
    held = read_both(config)
    (public,) = [e for e in held.public if e.body()[COMMITMENT_KEY]["entry"] == decision_id]
    twin = check_decision(public, held.record, config.node_id)
    assert twin.record_entry.id == decision_id
    assert public.body()["tally"] == {"yes": 3, "no": 1, "abstain": 1} == twin.record_entry.body()["tally"]

    key, record = held.key, held.record
    position = twin.record_entry.seq
    earlier = [e for e in held.public if e.seq < public.seq]

    def twin_of(
        entry: RecordEntry, body: dict[str, Any] | None = None, upto: list[RecordEntry] | None = None
    ) -> Entry:
        root = logs.Frontier()
        for held_entry in upto or record[: entry.seq + 1]:
            root.append(held_entry.id)
        return sign_twin(
            key, entry, root.root(), root_key=config.node_id, seq=public.seq, prev=earlier[-1].id
        )

    # a node that publishes another tally for the real decision: the twin is not its record twin's publication
    forged_body = {**public.body(), "tally": {"yes": 4, "no": 0, "abstain": 1}}
    forged = Entry(*_resigned(key, public, forged_body))
    with pytest.raises(VerificationError) as caught:
        check_decision(forged, record, config.node_id)
    assert caught.value.step == "twin-content"

    # a node that signs a record entry to match the forged tally: the record holds it, the recount refuses it
    real = record[position]
    forged_record = sign_record_entry(
        key,
        root_key=config.node_id,
        seq=real.seq,
        prev=real.header.prev,
        ts_ms=real.header.ts_ms,
        vis="public",
        body={**real.body(), "tally": {"yes": 4, "no": 0, "abstain": 1}, "salt": os.urandom(16)},
    )
    lying = [*record[:position], forged_record]
    lying_twin = twin_of(forged_record, upto=lying)
    with pytest.raises(VerificationError) as caught:
        check_decision(lying_twin, lying, config.node_id)
    assert caught.value.step == "recount"
    assert twin_of(real).body_bytes == public.body_bytes  # the honest twin, rebuilt the same way, passes
    check_decision(twin_of(real), record, config.node_id)

    # a twin of something that is not a decision is not a decision's check
    with pytest.raises(VerificationError) as caught:
        check_decision(held.public[0], record, config.node_id)
    assert caught.value.step == "recount"


def _resigned(key: SigningKey, entry: Entry, body: dict[str, Any]) -> tuple[bytes, bytes, bytes]:
    from protocol.entry import sign_entry

    h = entry.header
    signed = sign_entry(key, log_id=h.log_id, seq=h.seq, prev=h.prev, ts_ms=h.ts_ms, vis="public", body=body)
    return signed.header_bytes, signed.signature, signed.body_bytes or b""


# --- census bucketing and hidden tallies -----------------------------------------------------------------


def anonymous(body: dict[str, Any]) -> dict[str, Any]:
    """A public body with the ids and commitments that differ from council to council taken out."""
    return {k: v for k, v in body.items() if k != COMMITMENT_KEY and not isinstance(v, bytes)}


async def test_census_bucket_and_hidden_tallies_publish_no_exact_count(tmp_path: Path) -> None:
    """Two councils with a census bucket of 10 that do not publish tallies: one with 7 joins whose motion
    is carried 2 to 1, the other with 3 joins and 1 to 0 with one abstention. Their public logs say the
    same thing, entry for entry: nothing public counts the joins or the votes."""
    rules = Rules(publish_tallies=False, census_bucket=10)
    a, b = council(tmp_path / "a", rules), council(tmp_path / "b", rules)
    await run(a, 7, ["yes", "yes", "no"])
    await run(b, 3, ["yes", "abstain", "yes"])
    seen = [read_both(c) for c in (a, b)]
    bodies = [[anonymous(e.body()) for e in held.public] for held in seen]
    assert bodies[0] == bodies[1]
    census = [body for body in bodies[0] if body["kind"] == "council/census"]
    assert census == [{"kind": "council/census", "active_members": 0}]
    decision = next(body for body in bodies[0] if body["kind"] == "decision")
    assert "tally" not in decision and decision["outcome"] == "adopted"
    # the record keeps the exact figures for the members
    record_kinds = [e.body()["kind"] for e in seen[0].record]
    assert record_kinds.count("member/join") == 7 and record_kinds.count("motion/vote") == 3
    assert "decision/tally" in record_kinds


# --- a data folder of shora 0.3 --------------------------------------------------------------------------


def test_a_data_folder_made_by_shora_03_is_refused_untouched(tmp_path: Path) -> None:
    config = council(tmp_path / "n")
    config.database.unlink()
    for leftover in config.dir.glob(cfg.DATABASE + "-*"):
        leftover.unlink()
    conn = dbmod.connect(config.database)  # as 0.3 left it: one log, council entries in it
    dbmod.migrate(conn, [m for m in MIGRATIONS if m.name != "0006-private-logs"])
    key = config.root_key()
    found = FoundCouncil(name="R", continent="Asia", rules=Rules())
    machine = machine_for("council", key.public.raw)
    drafts = machine.execute(machine.replay([]), found, 1_700_000_000_000)
    LogStore(conn, private=True).append(
        key.public.raw, make_entries(key, drafts, None, 1_700_000_000_000), checkpoint_signer(key)
    )
    applied = (
        conn.execute("SELECT * FROM migrations ORDER BY 1").fetchall() if _has(conn, "migrations") else []
    )
    conn.close()
    with pytest.raises(ConfigError) as refused:
        Writer(config.database, key, Settings())
    assert "shora 0.3" in str(refused.value) and "shora init" in str(refused.value)
    served = subprocess.run(serve_command(config.dir), capture_output=True, text=True, timeout=60)
    assert served.returncode == 1 and "made by shora 0.3" in served.stderr + served.stdout
    assert "Traceback" not in served.stderr
    conn = sqlite3.connect(config.database)
    try:  # nothing was migrated or written
        assert (
            conn.execute("SELECT * FROM migrations ORDER BY 1").fetchall() if _has(conn, "migrations") else []
        ) == applied
        columns = [r[1] for r in conn.execute("PRAGMA table_info(logs)")]
        assert "private" not in columns
    finally:
        conn.close()


def _has(conn: sqlite3.Connection, table: str) -> bool:
    return bool(conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone())
