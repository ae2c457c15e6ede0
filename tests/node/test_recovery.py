"""Recovery paths of the writer, exercised for real (DESIGN.md §2, §4): a commit that fails on a full disk
or an I/O error, a batch that fails before it is written, and a signing child that cannot start. After
each, nothing of the failed batch is stored, the live state is rebuilt from the log (always the truth), and
the next command is written where the failed one would have been."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from node.bootstrap import init_node
from node.config import NodeConfig
from node.rules.council import FoundCouncil, JoinMember, OpenAssembly, Rules
from node.settings import Settings
from node.storage import directory, logs
from node.storage import signer as signer_module
from node.storage.clock import now_ms
from node.storage.replay import replay_record
from node.storage.writer import Writer
from protocol.keys import SigningKey
from tests.node.test_signer import check_log

LONG_AGENDA = "x" * 5_000  # more than a page: storing it needs new pages


def council(folder: Path) -> NodeConfig:
    return init_node(folder, FoundCouncil(name="R", continent="Asia", rules=Rules()), listen="127.0.0.1:0")


async def size_of(writer: Writer) -> int:
    """The record's size (joins, rolls and votes are council-only: they have no public twin)."""
    head = await writer.run(writer.store.head, writer.record_id)
    assert head is not None
    return head.size


async def record_rows(writer: Writer) -> int:
    """Rows the record's entries take in the entries table: what a failed batch must not leave behind."""
    sql = "SELECT count(*) FROM entries WHERE log_id = ?"
    return int(await writer.run(lambda: writer.conn.execute(sql, (writer.record_id,)).fetchone()[0]))


async def rows(writer: Writer, table: str) -> int:
    return int(await writer.run(lambda: writer.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]))


async def state_is_the_logs(writer: Writer) -> None:
    assert writer.state == await writer.run(replay_record, writer.store, writer.log_id, writer.machine)


async def people(writer: Writer) -> set[bytes]:
    return set(await writer.run(directory.everyone, writer.conn))


def join_with_row(writer: Writer, name: str) -> tuple[JoinMember, Any]:
    member = os.urandom(16)
    return JoinMember(member, writer.state.charter_hash or b""), directory.add(member, name, "", now_ms())


async def test_a_full_disk_fails_the_batch_and_the_state_is_rebuilt(tmp_path: Path) -> None:
    config = council(tmp_path / "n")
    writer = Writer(config.database, config.root_key(), Settings())
    await writer.start()
    try:
        size = await size_of(writer)
        pages = await writer.run(lambda: writer.conn.execute("PRAGMA page_count").fetchone()[0])
        await writer.run(writer.conn.execute, f"PRAGMA max_page_count = {pages}")
        command, row = join_with_row(writer, "Full Disk")
        failed = await asyncio.gather(
            writer.submit(OpenAssembly(None, LONG_AGENDA)),
            writer.submit(command, row),
            return_exceptions=True,
        )
        for error in failed:
            assert isinstance(error, RuntimeError) and "storage failed: database or disk is full" in str(
                error
            )
        assert await size_of(writer) == size and await people(writer) == set()
        await state_is_the_logs(writer)
        assert writer.state.open_assembly_id is None and not writer.state.members

        await writer.run(writer.conn.execute, "PRAGMA max_page_count = 1073741823")  # room again
        (opened,) = await writer.submit(OpenAssembly(None, LONG_AGENDA))
        assert opened.seq == size and writer.state.open_assembly_id == opened.id
        await state_is_the_logs(writer)
    finally:
        await writer.close()
    assert check_log(config.database, config.root_key()) == size + 1


async def test_an_io_error_inside_the_transaction_stores_nothing_of_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The entries, their tree nodes and the directory rows are written before the checkpoint is signed:
    a failure there rolls all of them back."""
    config = council(tmp_path / "n")
    writer = Writer(config.database, config.root_key(), Settings())
    await writer.start()
    signer = logs.checkpoint_signer
    calls: list[int] = []

    def failing(size: int, root: bytes) -> str:
        calls.append(size)
        raise sqlite3.OperationalError("disk I/O error")

    try:
        size = await size_of(writer)
        monkeypatch.setattr(logs, "checkpoint_signer", lambda key, log_id: failing)
        commands = [join_with_row(writer, f"Member {i}") for i in range(3)]
        failed = await asyncio.gather(*(writer.submit(c, row) for c, row in commands), return_exceptions=True)
        assert calls and all("storage failed: disk I/O error" in str(error) for error in failed)
        assert await size_of(writer) == size and await people(writer) == set()
        assert await record_rows(writer) == size
        await state_is_the_logs(writer)
        assert not writer.state.members

        monkeypatch.setattr(logs, "checkpoint_signer", signer)
        again = [join_with_row(writer, f"Member {i}") for i in range(3)]
        joined = await asyncio.gather(*(writer.submit(c, row) for c, row in again))
        assert sorted(a[0].seq for a in joined) == [size, size + 1, size + 2]
        assert await people(writer) == {c.member for c, _ in again}
        assert await record_rows(writer) == size + 3
        await state_is_the_logs(writer)
    finally:
        await writer.close()
    assert check_log(config.database, config.root_key()) == size + 3


async def test_a_batch_that_fails_before_it_is_written_is_recovered(tmp_path: Path) -> None:
    """A failure outside any one command (here: the signing batch cannot be set up) fails every command of
    the batch, rebuilds the state from the log, and leaves the writer working."""
    config = council(tmp_path / "n")
    writer = Writer(config.database, config.root_key(), Settings())
    await writer.start()
    real_batch = writer._signer.batch
    try:
        size = await size_of(writer)

        def broken() -> Any:
            raise MemoryError("no memory for the batch")

        writer._signer.batch = broken  # type: ignore[method-assign]
        version = writer.log_version
        with pytest.raises(RuntimeError, match="command failed: no memory for the batch"):
            await writer.submit(OpenAssembly(None, "agenda"))
        assert writer.log_version == version + 1, "the state was not rebuilt from the log"
        await state_is_the_logs(writer)
        assert await size_of(writer) == size

        writer._signer.batch = real_batch  # type: ignore[method-assign]
        (opened,) = await writer.submit(OpenAssembly(None, "agenda"))
        assert opened.seq == size and writer.state.open_assembly_id == opened.id
    finally:
        await writer.close()
    assert check_log(config.database, config.root_key()) == size + 1


async def test_a_signing_child_that_cannot_start_leaves_the_writer_signing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[list[str]] = []

    def cannot_start(args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        attempts.append(args)
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(signer_module.subprocess, "Popen", cannot_start)
    config = council(tmp_path / "n")
    writer = Writer(config.database, config.root_key(), Settings(signer_chunk=4))
    await writer.start()
    try:
        size = await size_of(writer)
        charter = writer.state.charter_hash or b""
        for _ in range(3):  # large batches, each of which would ship chunks to the child
            await asyncio.gather(*(writer.submit(JoinMember(os.urandom(16), charter)) for _ in range(20)))
        signer = writer._signer
        assert attempts and signer.proc is None and signer.failures == 1 and signer.shipped == 0
        assert len(attempts) == 1, "a child that could not start is not retried before RETRY_AFTER_S"
        await state_is_the_logs(writer)
    finally:
        await writer.close()
    assert check_log(config.database, config.root_key()) == size + 60


async def test_a_key_change_whose_commit_fails_keeps_the_old_key_and_the_state_is_rebuilt(
    tmp_path: Path,
) -> None:
    """``change_keys`` commits on its own path: a full disk there fails it alone, the writer goes on signing
    with the key it had, and the delegation is stored only when it is committed again."""
    config = council(tmp_path / "n")
    writer = Writer(config.database, config.root_key(), Settings())
    await writer.start()
    try:
        size, public = await size_of(writer), await writer.run(writer.store.head, writer.log_id)
        assert public is not None
        delegate = SigningKey.generate()
        add = {"kind": "log/key", "action": "add", "key": delegate.public.raw}
        pages = await writer.run(lambda: writer.conn.execute("PRAGMA page_count").fetchone()[0])
        await writer.run(writer.conn.execute, f"PRAGMA max_page_count = {pages}")
        version = writer.log_version
        with pytest.raises(RuntimeError, match=r"^storage failed: database or disk is full$"):
            await writer.change_keys([add, {**add, "key": SigningKey.generate().public.raw}], delegate)
        assert writer.signing is not delegate and writer.signing.public.raw == config.node_id
        assert writer.log_version == version + 1, "the state was not rebuilt from the record"
        assert await size_of(writer) == size and await record_rows(writer) == size
        after = await writer.run(writer.store.head, writer.log_id)
        assert after is not None and after.size == public.size, "the public log grew"
        await state_is_the_logs(writer)

        await writer.run(writer.conn.execute, "PRAGMA max_page_count = 1073741823")
        await writer.change_keys([add], delegate)
        assert writer.signing is delegate and await size_of(writer) == size + 1
        (opened,) = await writer.submit(OpenAssembly(None, "agenda"))
        assert opened.seq == size + 1
        await state_is_the_logs(writer)
    finally:
        await writer.close()


async def test_a_committed_batch_the_state_refuses_is_kept_and_the_state_rebuilt_from_the_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the commit, taking the batch into the committed state cannot fail but for a bug; if it does,
    the batch stays durable and answered, and the state is rebuilt from the record."""
    config = council(tmp_path / "n")
    writer = Writer(config.database, config.root_key(), Settings())
    await writer.start()
    publish = writer._publish
    failed: list[int] = []

    def failing_once(batch: list[Any], diverged: bool) -> None:
        if not failed:
            failed.append(len(batch))
            raise AssertionError("a bug in the committed state")
        publish(batch, diverged)

    try:
        size = await size_of(writer)
        monkeypatch.setattr(writer, "_publish", failing_once)
        version = writer.log_version
        (opened,) = await writer.submit(OpenAssembly(None, "agenda"))
        assert failed == [1] and opened.seq == size
        assert writer.log_version == version + 2, "rebuilt from the record, then the batch counted"
        assert await size_of(writer) == size + 1 and writer.state.open_assembly_id == opened.id
        await state_is_the_logs(writer)
    finally:
        await writer.close()
    assert check_log(config.database, config.root_key()) == size + 1
