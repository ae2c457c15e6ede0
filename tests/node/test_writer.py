"""The writer's live state is always what replaying its stored log gives (DESIGN.md §2)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from node.bootstrap import init_node
from node.ops.keys import Delegation, history
from node.rules.council import (
    Attend,
    CastVote,
    Census,
    CloseAssembly,
    CloseMotion,
    Consent,
    FoundCouncil,
    JoinMember,
    OpenAssembly,
    ProposeMotion,
    RuleError,
    Rules,
)
from node.settings import Settings
from node.storage import logs
from node.storage.replay import replay_record
from node.storage.writer import Writer
from protocol.entry import Entry
from protocol.keys import SigningKey
from protocol.note import log_origin, open_checkpoint
from protocol.record import RecordEntry


async def test_live_state_equals_the_replay_of_the_log(tmp_path: Path) -> None:
    config = init_node(
        tmp_path / "n",
        FoundCouncil(name="T", continent="Europe", rules=Rules(publish_tallies=False)),
        listen="127.0.0.1:0",
    )
    writer = Writer(config.database, config.root_key(), Settings(write_batch_max=4))
    await writer.start()
    try:
        charter = writer.state.charter_hash or b""
        members = [os.urandom(16) for _ in range(5)]
        for m in members:
            await writer.submit(JoinMember(m, charter))
        assembly = (await writer.submit(OpenAssembly(None, "agenda")))[0].id
        await writer.submit(Attend(assembly, tuple(members)))
        for m in members[:3]:
            await writer.submit(Consent(assembly, m))  # each candidate consents to stand (issue 13)
        election = (
            await writer.submit(
                ProposeMotion(
                    assembly,
                    "election",
                    "board",
                    seats=2,
                    candidates=tuple(members[:3]),
                )
            )
        )[0].id
        for m in members:
            await writer.submit(CastVote(election, m, approvals=(members[0], members[1])))
        decided = await writer.submit(CloseMotion(election))
        assert [a.body["kind"] for a in decided] == ["decision", "decision/tally"]  # a hidden tally follows
        policy = (await writer.submit(ProposeMotion(assembly, "policy", "rally")))[0].id
        for m, choice in zip(members, ["yes", "yes", "no", "abstain", "yes"], strict=True):
            await writer.submit(CastVote(policy, m, choice))
        await writer.submit(CloseMotion(policy))
        with pytest.raises(RuleError) as refused:
            await writer.submit(CastVote(policy, members[0], "yes"))
        assert refused.value.rule == "motion.closed"
        await writer.submit(Census())
        await writer.submit(CloseAssembly(assembly, "minutes"))
        replayed = await writer.run(replay_record, writer.store, writer.log_id)
        assert replayed == writer.state
    finally:
        await writer.close()


async def test_reads_show_only_committed_state_when_a_commit_fails(tmp_path: Path) -> None:
    """A batch is judged and applied before its transaction commits. While it commits, readers of
    ``writer.state`` see the state before it; when the commit fails (here: a real SQLite error, raised
    inside the batch's transaction by a trigger on the entries table), nothing of it is ever shown, and
    nothing shown before is lost."""
    config = init_node(tmp_path / "n", FoundCouncil(name="T", continent="Europe"), listen="127.0.0.1:0")
    writer = Writer(config.database, config.root_key(), Settings())
    await writer.start()
    try:
        charter = writer.state.charter_hash or b""
        shown, lost = os.urandom(16), os.urandom(16)
        await writer.submit(JoinMember(shown, charter))
        assert shown in writer.state.members

        inside, release = threading.Event(), threading.Event()

        def hold() -> None:  # on the writer thread, inside the batch's transaction, before its commit
            inside.set()
            release.wait(timeout=60)
            raise sqlite3.OperationalError("disk I/O error")

        def arm() -> None:
            writer.conn.create_function("hold", 0, hold)
            writer.conn.execute(
                "CREATE TEMP TRIGGER failing BEFORE INSERT ON entries BEGIN SELECT hold(); END"
            )

        await writer.run(arm)
        joining = asyncio.create_task(writer.submit(JoinMember(lost, charter)))
        await asyncio.to_thread(inside.wait, 60)
        # the batch is judged and applied to the working state; its transaction has not committed
        assert lost not in writer.state.members and shown in writer.state.members
        release.set()
        with pytest.raises(RuntimeError, match="storage failed"):
            await joining
        assert lost not in writer.state.members and shown in writer.state.members
        replayed = await writer.run(replay_record, writer.store, writer.log_id)
        assert replayed == writer.state

        await writer.run(writer.conn.execute, "DROP TRIGGER failing")
        await writer.submit(JoinMember(lost, charter))  # the writer goes on: the same command now commits
        assert {shown, lost} <= set(writer.state.members)
    finally:
        release.set()
        await writer.close()


async def test_a_delegated_key_signs_both_logs_entries_and_the_root_key_their_checkpoints(
    tmp_path: Path,
) -> None:
    config = init_node(tmp_path / "n", FoundCouncil(name="T", continent="Europe"), listen="127.0.0.1:0")
    root = config.root_key()
    writer = Writer(config.database, root, Settings(signer_chunk=1))  # the signing child signs
    await writer.start()
    try:
        delegate = SigningKey.generate()
        add = {"kind": "log/key", "action": "add", "key": delegate.public.raw}
        added = await writer.change_keys([add], delegate)
        joined = await writer.submit(
            JoinMember(os.urandom(16), writer.state.charter_hash or b"")
        )  # record only
        opened = await writer.submit(OpenAssembly(None, "agenda"))  # public: a twin too
        malformed = {"kind": "log/key", "action": "add", "key": b"short"}
        with pytest.raises(RuleError) as refused:  # a malformed key entry appends nothing, the key stays
            await writer.change_keys([malformed], SigningKey.generate())
        assert (refused.value.rule, refused.value.message) == ("entry.malformed", "key must be 32 bytes")
        assert writer.signing is delegate

        def read() -> tuple[list[RecordEntry], list[Entry], dict[bytes, Delegation], list[str | None]]:
            record = logs.read_record(writer.store, writer.record_id)
            public = writer.store.entries(writer.log_id, -1, 1000)
            notes = [
                h.checkpoint if (h := writer.store.head(i)) else None
                for i in (writer.record_id, writer.log_id)
            ]
            return record, public, history(writer.store.delegations(writer.log_id), writer.log_id), notes

        record, public, delegations, notes = await writer.run(read)
        record_id = writer.record_id
    finally:
        await writer.close()
    # the key history is the public log's, signed by the root key, at the positions the writer answered
    assert list(delegations) == [delegate.public.raw]
    assert delegations[delegate.public.raw].added_seq == added[0].seq
    assert public[added[0].seq].body()["kind"] == "log/key"
    public[added[0].seq].verify_signature(root.public)
    # everything after it, in either log, is signed by the delegated key
    later_record = [e for e in record if e.id in {a.id for a in joined + opened}]
    later_public = public[added[0].seq + 1 :]
    assert len(later_record) == 2 and len(later_public) == 1
    for entry in later_record + later_public:
        entry.verify_signature(delegate.public)
    # the checkpoints of both logs stay the root key's
    for log_id, note in zip((record_id, config.node_id), notes, strict=True):
        assert note is not None
        open_checkpoint(note, root.public, log_origin(log_id))
