"""Large batches are signed in a child process (node/storage/signer.py): the entries are exactly those the
writer would sign alone, and a child that dies, stalls or is left behind never costs an entry or a
wrong signature."""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest

from node.bootstrap import init_node
from node.rules.council import Draft, FoundCouncil, JoinMember, Rules
from node.settings import Settings
from node.storage import logs
from node.storage import signer as signer_module
from node.storage.drafts import prepare_drafts
from node.storage.migrations import open_database
from node.storage.signer import Signer
from node.storage.writer import Writer
from protocol.entry import Entry, Unsigned, verify_follows
from protocol.keys import Domain, SigningKey
from tests.children import kill_and_expect_children_gone

ROOT = Path(__file__).resolve().parents[2]


def council(folder: Path):  # type: ignore[no-untyped-def]
    return init_node(folder, FoundCouncil(name="S", continent="Asia", rules=Rules()), listen="127.0.0.1:0")


async def joins(writer: Writer, n: int) -> None:
    charter = writer.state.charter_hash or b""
    await asyncio.gather(*(writer.submit(JoinMember(os.urandom(16), charter)) for _ in range(n)))


async def warm_up(writer: Writer) -> int:
    """A large batch, then the new child's late copies of it: once they are in, the child has answered and
    is waited for from then on. Returns the entries committed."""
    await joins(writer, 64)  # the child is still starting: the writer signs it all and the child owes copies
    signer = writer._signer
    assert signer.proc is not None and signer.stale > 0
    wait_for_bytes(signer.proc, signer.stale)
    assert signer._skip_stale() and signer.warm
    return 64


def check_log(path: Path, key: SigningKey) -> int:
    """Every record entry carries a valid signature (in the record's domain) and follows the one before,
    and the public log is exactly the record's publication; returns the record's size."""
    conn = open_database(path)
    try:
        store = logs.record_store(conn)
        record = list(logs.record_entries(store, key.public.raw))
        previous: Entry | None = None
        for entry in record:
            entry.verify_signature(key.public)
            verify_follows(previous, entry)
            previous = entry
        record_id = logs.record_id(key.public.raw)
        head = store.head(record_id)
        assert head is not None and previous is not None and head.size == previous.seq + 1
        assert head.root == store.root(record_id, head.size)
        public = store.entries(key.public.raw, -1, 1_000_000)
        for entry in public:
            entry.verify_signature(key.public)
        rebuilt = logs.publication(key, record)
        assert [(e.header_bytes, e.signature, e.body_bytes) for e in public] == [
            (e.header_bytes, e.signature, e.body_bytes) for e in rebuilt
        ]
        return head.size
    finally:
        conn.close()


def unsigned_run(key: SigningKey, n: int, previous: Unsigned | None = None) -> list[Unsigned]:
    drafts = [Draft("public", {"kind": "note", "n": i}) for i in range(n)]
    return [u for u, _ in prepare_drafts(key, drafts, previous, 1_700_000_000_000)]


def own_signatures(key: SigningKey, run: list[Unsigned]) -> list[bytes]:
    """What the key itself makes, in this process: the child must give exactly these."""
    return key.sign_many(Domain.ENTRY, [u.header_bytes for u in run])


def signed_after_the_child(signer: Signer, run: list[Unsigned]) -> list[Entry]:
    """``run`` shipped, and signed once the child has answered all of it (and any copies it owed)."""
    batch = signer.batch()
    batch.add(run)
    assert signer.proc is not None and batch.shipped == len(run)
    wait_for_bytes(signer.proc, signer.stale + len(run) * 64)
    return all_signed(batch)


def all_signed(batch: signer_module.SigningBatch) -> list[Entry]:
    return [entry for chunk in batch.signed() for entry in chunk]


async def test_a_large_batch_is_signed_by_the_child_and_every_signature_holds(tmp_path: Path) -> None:
    config = council(tmp_path / "n")
    writer = Writer(config.database, config.root_key(), Settings(signer_chunk=16))
    await writer.start()
    try:
        warmed = await warm_up(writer)
        await joins(writer, 200)  # one batch: twelve chunks shipped, a tail of eight signed here
        await joins(writer, 3)  # below one chunk: no shipping at all
        await joins(writer, 150)
        signer = writer._signer
        assert signer.proc is not None and signer.proc.poll() is None
        # a warm child is waited for, at least for each batch's first chunk, rather than signed here too
        assert signer.collected >= 2 and signer.failures == 0
    finally:
        await writer.close()
    assert signer.proc is None
    assert check_log(config.database, config.root_key()) == 1 + warmed + 200 + 3 + 150


async def test_small_batches_start_no_child(tmp_path: Path) -> None:
    config = council(tmp_path / "n")
    writer = Writer(config.database, config.root_key(), Settings())
    await writer.start()
    try:
        for _ in range(5):
            await joins(writer, 4)
        assert writer._signer.proc is None and writer._signer.shipped == 0
    finally:
        await writer.close()


async def test_a_child_killed_between_batches_is_replaced(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(signer_module, "RETRY_AFTER_S", 0.0)
    config = council(tmp_path / "n")
    writer = Writer(config.database, config.root_key(), Settings(signer_chunk=16))
    await writer.start()
    try:
        await joins(writer, 64)
        first = writer._signer.proc
        assert first is not None
        first.send_signal(signal.SIGKILL)
        first.wait()
        await joins(writer, 64)  # ships to the dead child or starts another: either way all is signed
        await joins(writer, 64)
        second = writer._signer.proc
        assert second is not None and second.pid != first.pid and second.poll() is None
        assert writer._signer.failures >= 1
    finally:
        await writer.close()
    assert check_log(config.database, config.root_key()) == 1 + 3 * 64


async def test_a_stalled_child_times_out_and_the_writer_signs_alone(tmp_path: Path) -> None:
    config = council(tmp_path / "n")
    writer = Writer(config.database, config.root_key(), Settings(signer_chunk=16))
    await writer.start()
    try:
        warmed = await warm_up(writer)
        writer._signer.reply_timeout_s = 0.5  # after the child's start-up, which may take longer
        stalled = writer._signer.proc
        assert stalled is not None
        stalled.send_signal(signal.SIGSTOP)
        try:
            await asyncio.wait_for(joins(writer, 64), timeout=30)
        finally:
            stalled.send_signal(signal.SIGCONT)
        assert writer._signer.failures == 1 and stalled.wait(timeout=5) is not None  # killed, not left
        await joins(writer, 64)  # within the retry pause: signed here, without a child
        assert writer._signer.proc is None
    finally:
        await writer.close()
    assert check_log(config.database, config.root_key()) == 1 + warmed + 2 * 64


async def test_the_reply_timeout_is_the_nodes_setting_for_every_signing_key(tmp_path: Path) -> None:
    """``signer_reply_timeout_s`` reaches the signer of the root key, of a key set before the start, and of a
    key a running writer changes to (the crash test relies on it: a loaded machine never loses the child)."""
    config = council(tmp_path / "n")
    writer = Writer(config.database, config.root_key(), Settings(signer_chunk=4, signer_reply_timeout_s=7.5))
    assert writer._signer.reply_timeout_s == 7.5
    writer.sign_with(SigningKey.generate())
    assert writer._signer.reply_timeout_s == 7.5
    await writer.start()
    try:
        delegate = SigningKey.generate()
        await writer.change_keys([{"kind": "log/key", "action": "add", "key": delegate.public.raw}], delegate)
        assert writer.signing is delegate and writer._signer.reply_timeout_s == 7.5
        assert Settings().signer_reply_timeout_s == 10.0 == signer_module.REPLY_TIMEOUT_S
    finally:
        await writer.close()


def test_child_signatures_equal_the_keys_own() -> None:
    key = SigningKey.generate()
    signer = Signer(key, chunk=8)
    try:
        batch = signer.batch()
        run = unsigned_run(key, 37)  # four chunks shipped, a tail of five
        batch.add(run[:20])
        batch.add(run[20:])
        assert batch.shipped == 32
        entries = all_signed(batch)  # the child is still starting: the writer signs it all
        assert [e.signature for e in entries] == own_signatures(key, run)
        # a warm child given time: every shipped chunk's reply is read, none signed here
        more = unsigned_run(key, 32, run[-1])
        collected = signer.collected
        entries = signed_after_the_child(signer, more)
        assert signer.collected - collected == 4 and signer.failures == 0
        assert [e.signature for e in entries] == own_signatures(key, more)
    finally:
        signer.close()


def test_replies_for_entries_signed_here_are_skipped_by_the_next_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = SigningKey.generate()
    signer = Signer(key, chunk=4)
    try:
        signed_after_the_child(signer, unsigned_run(key, 4))
        assert signer.warm and signer.stale == 0
        proc = signer.proc
        assert proc is not None
        # the child falls behind: stopped before the batch is shipped, so it has answered nothing when the
        # writer looks, and resumed only once the writer has signed three chunks from the back (whatever
        # the machine's load, the same three)
        proc.send_signal(signal.SIGSTOP)
        local = signer_module.sign_locally
        chunks_signed_here = []

        def sign_here(key: SigningKey, unsigned: list[Unsigned]) -> list[bytes]:
            chunks_signed_here.append(unsigned[0].header.seq)
            if len(chunks_signed_here) == 3:
                proc.send_signal(signal.SIGCONT)
            return local(key, unsigned)

        monkeypatch.setattr(signer_module, "sign_locally", sign_here)
        first = signer.batch()
        run = unsigned_run(key, 16)
        first.add(run)
        assert first.shipped == 16
        entries = all_signed(first)  # three chunks signed here, then the child's first reply read
        assert chunks_signed_here == [12, 8, 4]
        assert signer.stale == 3 * 4 * 64 and signer.failures == 0
        assert [e.signature for e in entries] == own_signatures(key, run)
        second = signer.batch()
        more = unsigned_run(key, 12, run[-1])
        second.add(more)
        later = all_signed(second)
        assert [e.signature for e in later] == own_signatures(key, more)
        assert signer.failures == 0
    finally:
        signer.close()


def test_an_abandoned_batch_replaces_the_child_and_the_next_batch_is_right() -> None:
    key = SigningKey.generate()
    signer = Signer(key, chunk=4)
    try:
        abandoned = signer.batch()
        abandoned.add(unsigned_run(key, 12))
        before = signer.proc
        abandoned.abandon()
        assert signer.proc is None and signer.failures == 1 and before is not None
        signer.retry_at = 0.0
        batch = signer.batch()
        run = unsigned_run(key, 12)
        batch.add(run)
        assert signer.proc is not None and signer.proc.pid != before.pid
        for entry in all_signed(batch):
            entry.verify_signature(key.public)
    finally:
        signer.close()


def test_the_child_does_not_outlive_a_killed_node(tmp_path: Path) -> None:
    """SIGKILL the process holding a signer: the child's input closes and it exits by itself."""
    code = (
        "import time\n"
        "from node.rules.council import Draft\n"
        "from node.storage.drafts import prepare_drafts\n"
        "from node.storage.signer import Signer\n"
        "from protocol.keys import Domain, SigningKey\n"
        "key = SigningKey.generate(); signer = Signer(key, chunk=4); batch = signer.batch()\n"
        "batch.add([u for u, _ in prepare_drafts(key, [Draft('public', {'kind': 'note'})] * 8, None, 1)])\n"
        "assert len([e for c in batch.signed() for e in c]) == 8\n"
        "print(signer.proc.pid, flush=True); time.sleep(60)\n"
    )
    kill_and_expect_children_gone(code, "the signing process")


def wait_for_bytes(proc: subprocess.Popen[bytes], size: int) -> None:
    """Until ``size`` bytes wait in the child's output pipe (at most ten seconds)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        waiting = struct.unpack("i", fcntl.ioctl(proc.stdout.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]
        if waiting >= size:
            return
        time.sleep(0.01)
    pytest.fail(f"the child wrote {waiting} of {size} bytes")


def test_what_the_child_owes_stays_bounded_and_its_pipes_never_fill() -> None:
    """Batches back to back, larger than the child may hold: each ships only while what the child owes
    (late copies included) stays within MAX_IN_FLIGHT, so no write to it ever fails, and every signature
    is the key's own."""
    key = SigningKey.generate()
    signer = Signer(key, chunk=4)
    try:
        previous = None
        for _ in range(30):
            batch = signer.batch()
            run = unsigned_run(key, 300, previous)
            for start in range(0, 300, 25):
                batch.add(run[start : start + 25])
                owed = signer.stale // 64 + batch.shipped
                assert owed <= signer_module.MAX_IN_FLIGHT
            assert [e.signature for e in all_signed(batch)] == own_signatures(key, run)
            previous = run[-1]
        assert signer.failures == 0 and signer.collected > 0
    finally:
        signer.close()
