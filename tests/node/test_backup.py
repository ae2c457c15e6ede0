"""Sealed backups end to end: the recovery file, peers holding copies they cannot read, and restores that
never sign a second entry at any position of either log and never leave the node locked (issue 9)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from federation.client import RemoteError, SignedClient
from federation.peers import PeerTable
from federation.store import LogStore, verified
from node import config as cfg
from node.backup import tables
from node.backup.fetch import PeerRef
from node.backup.keyfile import BACKUP_KEY, RECOVERY_FILE, load_backup_key
from node.backup.restore import restore
from node.backup.ticker import page_limits, segment_path
from node.bootstrap import init_node
from node.errors import InitError
from node.storage import epochs
from node.storage.clock import now_ms
from protocol import codec, merkle
from protocol.entry import Entry, verify_follows
from protocol.errors import VerificationError
from protocol.keys import PublicKey, SigningKey
from protocol.note import open_checkpoint
from protocol.record import check_gap, record_log_id
from protocol.recovery import Recovery
from protocol.sealed import SEGMENT_SIZE, BackupKey, open_segment, seal_segment
from tests.node.backup_helpers import (
    Live,
    Start,
    append_record,
    befriend,
    found,
    seed_record,
)

OCTETS = "application/octet-stream"
MSGPACK = "application/msgpack"


def recovery_of(live: Live) -> Recovery:
    return Recovery.decode((live.config.dir / RECOVERY_FILE).read_bytes())


def peer_ref(live: Live) -> PeerRef:
    return PeerRef(live.url, live.key)


async def put(client: SignedClient, council: bytes, index: int, segment: bytes) -> tuple[int, dict[str, Any]]:
    reply = await client.request(
        "PUT", segment_path(council, index), segment, content_type=OCTETS, accept=MSGPACK, check=False
    )
    return reply.status, codec.decode(reply.body)


async def get(client: SignedClient, council: bytes) -> tuple[int, dict[str, Any]]:
    reply = await client.request("GET", segment_path(council) + "?from=0", accept=MSGPACK, check=False)
    return reply.status, codec.decode(reply.body, page_limits(16))


def held(peer: Live, council: bytes) -> int:
    return tables.held_count(peer.node.reader, council)


# --- the recovery file ------------------------------------------------------------------------------------


def test_init_writes_the_backup_key_and_a_recovery_file_0600(tmp_path: Path) -> None:
    config = init_node(tmp_path / "a", found())
    recovery = Recovery.decode((tmp_path / "a" / RECOVERY_FILE).read_bytes())
    assert recovery.council == config.node_id
    assert recovery.backup_key.public == load_backup_key(tmp_path / "a").public
    for name in (RECOVERY_FILE, BACKUP_KEY):
        assert stat.S_IMODE(os.stat(tmp_path / "a" / name).st_mode) == 0o600


def test_init_writes_the_recovery_file_where_the_operator_says(tmp_path: Path) -> None:
    usb = tmp_path / "usb"
    usb.mkdir()
    init_node(tmp_path / "a", found(), recovery_file=usb / "toronto.txt")
    assert not (tmp_path / "a" / RECOVERY_FILE).exists()
    assert stat.S_IMODE(os.stat(usb / "toronto.txt").st_mode) == 0o600
    with pytest.raises(
        InitError, match=r"toronto\.txt exists, or its folder does not; the recovery file is never"
    ):
        init_node(tmp_path / "b", found(), recovery_file=usb / "toronto.txt")  # nothing made
    assert not (tmp_path / "b").exists()


def test_init_tells_the_operator_to_move_the_recovery_file(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from node.cli.main import cli

    result = CliRunner().invoke(
        cli,
        ["init", str(tmp_path / "a"), "--name", "T", "--city", "T", "--country", "CA", "--continent", "X"],
    )
    assert result.exit_code == 0, result.output
    assert (
        "MOVE IT OFF THIS MACHINE NOW" in result.output
        and str(tmp_path / "a" / RECOVERY_FILE) in result.output
    )


# --- a peer holding a council's sealed copy ----------------------------------------------------------------


async def test_a_peer_stores_segments_in_order_and_refuses_the_rest(start_live: Start) -> None:
    a, b = await start_live("a"), await start_live("b", settings={"sealed_max_segments": 3})
    await befriend(a, b)
    root = a.config.root_key()
    backup = recovery_of(a).backup_key
    client = SignedClient(a.operator.session, b.url, root, b.key)

    def seal(index: int, data: bytes = b"x", signer: SigningKey = root, council: bytes = a.key) -> bytes:
        return seal_segment(data, council=council, index=index, backup_public=backup.public, signer=signer)

    first, second = seal(0), seal(1)  # sealing is randomised: each call gives other bytes
    assert await put(client, a.key, 0, first) == (200, {"council": a.key, "held": 1})
    assert (await put(client, a.key, 0, first))[0] == 200  # the same copy again: idempotent
    refusals = {
        "segment-order": (409, 5, seal(5)),
        "segment-conflict": (409, 0, seal(0)),  # another segment 0
        "segment-index": (400, 1, seal(2)),  # segment 2 presented as 1
        "segment-council": (400, 1, seal(1, council=b.key)),
        "unknown-key": (400, 1, seal(1, signer=SigningKey.generate())),
        "segment-size": (400, 1, seal(1)[:-1]),
        # one bit of one copy flipped (two copies' bytes joined were that copy again 1 time in 256)
        "segment-signature": (400, 1, second[:-1] + bytes([second[-1] ^ 1])),
    }
    for code, (status, index, segment) in refusals.items():
        answer = await put(client, a.key, index, segment)
        assert answer[0] == status and answer[1]["error"] == code, (code, answer)
        assert held(b, a.key) == 1  # nothing stored
    assert (await put(client, a.key, 1, seal(1)))[0] == 200
    assert (await put(client, a.key, 2, seal(2)))[0] == 200
    status, answer = await put(client, a.key, 3, seal(3))
    assert (status, answer["error"], held(b, a.key)) == (413, "sealed-quota", 3)


async def test_a_peer_holds_only_for_trusted_councils_that_sign_their_own(start_live: Start) -> None:
    a, b, c = await start_live("a"), await start_live("b"), await start_live("c")
    await befriend(a, b)
    await befriend(c, b)
    backup = recovery_of(a).backup_key
    segment = seal_segment(
        b"", council=a.key, index=0, backup_public=backup.public, signer=a.config.root_key()
    )
    # c, trusted by b, pushes a's segment; a stranger signs for a; a's operator key is not a's root key
    for signer in (c.config.root_key(), SigningKey.generate(), a.config.operator_signing_key()):
        status, answer = await put(SignedClient(a.operator.session, b.url, signer, b.key), a.key, 0, segment)
        assert (status, answer["error"]) == (403, "sealed-not-held")
    assert held(b, a.key) == 0


async def test_a_peer_serves_segments_only_to_the_councils_root_key_and_cannot_read_them(
    start_live: Start,
) -> None:
    a, b, c = await start_live("a"), await start_live("b"), await start_live("c")
    await befriend(a, b)
    await befriend(c, b)
    await a.backups.tick()
    assert held(b, a.key) == 1
    session = a.operator.session
    for signer in (
        c.config.root_key(),
        a.config.operator_signing_key(),
        b.config.root_key(),
        SigningKey.generate(),
    ):
        status, answer = await get(SignedClient(session, b.url, signer, b.key), a.key)
        assert (status, answer["error"]) == (403, "sealed-not-yours") and "segments" not in answer
    unsigned = await session.get(b.url + segment_path(a.key))
    assert unsigned.status == 403 and "segments" not in await unsigned.json()
    status, answer = await get(SignedClient(session, b.url, a.config.root_key(), b.key), a.key)
    assert status == 200 and answer["held"] == 1
    stored = tables.held_segment(b.node.reader, a.key, 0)
    assert answer["segments"] == [stored]
    keys = [PublicKey(a.key)]
    # the peer has no backup secret: its own keys, and any other, fail; only the council's opens it
    for other in (BackupKey.generate(), load_backup_key(b.config.dir)):
        with pytest.raises(VerificationError) as refused:
            open_segment(stored, council=a.key, index=0, keys=keys, backup=other)
        assert refused.value.step == "segment-auth"
    assert (
        open_segment(stored, council=a.key, index=0, keys=keys, backup=recovery_of(a).backup_key) is not None
    )


async def test_ticks_seal_the_same_count_and_size_whatever_the_council_did(
    start_live: Start, tmp_path: Path
) -> None:
    quiet, busy, peer = await start_live("quiet"), await start_live("busy"), await start_live("peer")
    seed = {"backup_segments_per_tick": 2}
    for council in (quiet, busy):
        await council.stop()
    seed_record(busy.config.dir, 600)  # more than two segments' worth: it waits for the next ticks
    quiet, busy = (
        await start_live(folder=quiet.config.dir, settings=seed),
        await start_live(folder=busy.config.dir, settings=seed),
    )
    assert await quiet.backups.tick() == 0  # no backup peer yet: nobody to hold a segment, none sealed
    await befriend(quiet, peer)
    await befriend(busy, peer)
    sizes: dict[bytes, list[int]] = {}
    for tick in range(3):
        if tick == 1:
            await busy.node.writer.run(append_record, busy.node.writer.conn, busy.config.root_key(), 40)
        for council in (quiet, busy):
            assert await council.backups.tick() == 2 * (tick + 1)
    for council in (quiet, busy):
        segments = tables.held(peer.node.reader, council.key, 0, 100)
        sizes[council.key] = [len(s) for s in segments]
    assert sizes[quiet.key] == sizes[busy.key] == [SEGMENT_SIZE] * 6


# --- restore -----------------------------------------------------------------------------------------------


def public_log(live: Live, log_id: bytes) -> list[Entry]:
    store = LogStore(live.node.reader)
    return store.entries(log_id, -1, 100_000)


def check_public_chain(entries: list[Entry], council: bytes) -> None:
    """The independent verifier: every entry signed by the council's root key, chained from 0."""
    key = PublicKey(council)
    previous = None
    for entry in entries:
        entry.verify_signature(key)
        verify_follows(previous, entry)
        previous = entry


async def no_second_entry(restored: Live, peers: list[Live], before: list[Entry]) -> None:
    """Checked by each peer and by the independent verifier: the restored node's public log extends what
    the peers held before the loss, entry for entry; no peer holds a fork proof of it; and every checkpoint a
    peer holds now is consistent with the one it held before."""
    council = restored.key
    ours = public_log(restored, council)
    assert [e.id for e in ours[: len(before)]] == [e.id for e in before]
    check_public_chain(ours, council)
    for peer in peers:
        # the restored node listens at a new port here (an operator would keep the council's URL), and the
        # peer's back-off after failing to reach the lost node is over
        await peer.call("POST", "/v1/admin/peers", {"key": restored.b64, "url": restored.url})
        await peer.node.writer.run(PeerTable(peer.node.writer.conn).record_success, council, now_ms())
        await peer.operator.request("POST", "/v1/admin/sync")
        theirs = public_log(peer, council)
        assert [e.id for e in theirs] == [e.id for e in ours][: len(theirs)] and len(theirs) == len(ours)
        assert LogStore(peer.node.reader).forks() == []
        head = LogStore(peer.node.reader).head(council)
        assert head is not None and head.checkpoint is not None
        checkpoint = open_checkpoint(head.checkpoint, PublicKey(council)).checkpoint
        old_root = merkle.MemoryTree([e.id for e in before]).root()
        proof = LogStore(peer.node.reader).consistency_proof(council, len(before), checkpoint.size)
        merkle.verify_consistency(len(before), checkpoint.size, old_root, checkpoint.root, proof)


async def council_with_backup(start_live: Start, record: int) -> tuple[Live, Live, Live]:
    a = await start_live("a")
    await a.stop()
    seed_record(a.config.dir, record)
    a = await start_live(folder=a.config.dir)
    b, c = await start_live("b"), await start_live("c")
    await befriend(a, b)
    await befriend(a, c)
    for agenda in ("first", "second"):
        opened = await a.call("POST", "/v1/admin/assemblies", {"agenda": agenda})
        await a.call("POST", f"/v1/admin/assemblies/{opened['assembly_id']}/close", {})
    for _ in range(3):
        await a.backups.tick()
    for peer in (b, c):
        await peer.operator.request("POST", "/v1/admin/sync")
    return a, b, c


def restored_record(live: Live) -> dict[int, list[bytes]]:
    store = LogStore(live.node.reader, private=True)  # the record is a private log
    return {
        epoch: [e.id for e in epochs.entries_of(store, live.key, epoch)]
        for epoch in epochs.epochs(store, live.key)
    }


async def resume(restored: Live) -> None:
    await restored.node.replication.surveyed.wait()
    assert restored.node.writer.blocked is None
    await restored.call("POST", "/v1/admin/assemblies", {"agenda": "after the restore"})


async def test_restore_from_peers_takes_the_next_copy_of_a_corrupted_segment(
    start_live: Start, tmp_path: Path
) -> None:
    a, b, c = await council_with_backup(start_live, 120)
    recovery, before = recovery_of(a), public_log(b, a.key)
    sealed_record = restored_record(a)[0]
    await a.stop()

    # b's copy of segment 0 is damaged on b's disk
    def corrupt(conn: Any) -> None:
        segment = bytearray(tables.held_segment(conn, a.key, 0) or b"")
        segment[500] ^= 0xFF
        conn.execute(
            "UPDATE sealed_held SET segment = ? WHERE council = ? AND idx = 0", (bytes(segment), a.key)
        )

    await b.node.writer.run(corrupt, b.node.writer.conn)
    target = tmp_path / "restored"
    outcome = await restore(
        target, recovery, [peer_ref(b), peer_ref(c)], backup_file=None, listen="127.0.0.1:0"
    )
    assert (b.key, 0, "segment-signature") in outcome.refused
    assert outcome.kept == {0: len(sealed_record)} and outcome.gap_epoch == 1 and outcome.members > 0
    restored = await start_live(folder=target)
    record = restored_record(restored)
    assert record[0] == sealed_record and len(record[1]) == 1
    store = LogStore(restored.node.reader, private=True)
    gap = next(epochs.entries_of(store, a.key, 1))
    check_gap(gap, root_key=a.key, kept=list(epochs.entries_of(store, a.key, 0)))
    assert [e.id for e in epochs.replay_order(store, a.key)] == [*sealed_record, gap.id]
    await resume(restored)
    await no_second_entry(restored, [b, c], before)


async def test_restore_from_a_backup_file_with_the_cli(start_live: Start, tmp_path: Path) -> None:
    import asyncio
    import subprocess
    import sys

    a, b, c = await council_with_backup(start_live, 30)
    file = tmp_path / "toronto.sealed"
    data: bytes = (await a.operator.request("POST", "/v1/admin/backup", accept=OCTETS)).body
    file.write_bytes(data)
    assert len(data) % SEGMENT_SIZE == 0
    before, record = public_log(b, a.key), restored_record(a)[0]
    recovery_path = a.config.dir / RECOVERY_FILE
    await a.stop()
    target = tmp_path / "restored"
    command = [
        sys.executable,
        "-c",
        "from node.cli.main import main; main()",
        "restore",
        str(target),
        "--recovery",
        str(recovery_path),
        "--from-file",
        str(file),
        "--listen",
        "127.0.0.1:0",
        "--json",
        "--peer",
        b.url,
        b.b64,
        "--peer",
        c.url,
        c.b64,
    ]
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    restored = await start_live(folder=target)
    assert restored_record(restored)[0] == record
    await resume(restored)
    await no_second_entry(restored, [b, c], before)


async def test_entries_written_after_the_last_seal_are_lost_and_said_in_one_gap(
    start_live: Start, tmp_path: Path
) -> None:
    a, b, c = await council_with_backup(start_live, 50)
    sealed = restored_record(a)[0]
    # the council goes on after its last sealed copy, then its disk dies before the next tick
    await a.node.writer.run(append_record, a.node.writer.conn, a.config.root_key(), 7)
    before, recovery = public_log(b, a.key), recovery_of(a)
    await a.stop()
    target = tmp_path / "restored"
    outcome = await restore(
        target, recovery, [peer_ref(b), peer_ref(c)], backup_file=None, listen="127.0.0.1:0"
    )
    assert outcome.kept == {0: len(sealed)}
    restored = await start_live(folder=target)
    record = restored_record(restored)
    assert record[0] == sealed and len(record[1]) == 1  # the lost 7 are not re-signed at their positions
    await resume(restored)
    await no_second_entry(restored, [b, c], before)
    # its next backups carry the gap: a second restore, from peers only, sees epoch 0 then epoch 1
    await restored.backups.tick()
    await restored.backups.tick()
    await restored.stop()
    again = await restore(
        tmp_path / "again", recovery, [peer_ref(b), peer_ref(c)], backup_file=None, listen="127.0.0.1:0"
    )
    # epoch 1 holds the gap and the assembly opened after the restore (the writer went on in epoch 1)
    assert again.kept == {0: len(sealed), 1: 2} and again.gap_epoch == 2


async def test_peers_down_at_start_refuse_appends_until_the_override(start_live: Start) -> None:
    a, b = await start_live("a"), await start_live("b")
    await befriend(a, b)
    await a.stop()
    await b.stop()
    a = await start_live(folder=a.config.dir)
    await a.node.replication.surveyed.wait()
    with pytest.raises(RemoteError) as refused:
        await a.call("POST", "/v1/admin/assemblies", {"agenda": "x"})
    assert refused.value.status == 422 and "--peers-unreachable-ok" in refused.value.message
    head = LogStore(a.node.reader).head(a.key)
    await a.stop()
    a = await start_live(folder=a.config.dir, peers_unreachable_ok=True)
    await a.node.replication.surveyed.wait()
    await a.call("POST", "/v1/admin/assemblies", {"agenda": "x"})
    after = LogStore(a.node.reader).head(a.key)
    assert head is not None and after is not None and after.size == head.size + 1


async def test_restore_refuses_when_no_peer_gives_the_public_log_back(
    start_live: Start, tmp_path: Path
) -> None:
    from node.backup.errors import RestoreError

    a, b, c = await council_with_backup(start_live, 5)
    recovery = recovery_of(a)
    for live in (a, b, c):
        await live.stop()
    with pytest.raises(RestoreError) as refused:
        await restore(
            tmp_path / "r", recovery, [peer_ref(b), peer_ref(c)], backup_file=None, listen="127.0.0.1:0"
        )
    assert refused.value.step == "restore-peers-unreachable" and not (tmp_path / "r").exists()


async def bad_signature_on(live: Live, council: bytes, seq: int) -> None:
    """``live`` serves entry ``seq`` of ``council``'s public log with a signature that does not verify
    (a relay's lie: the leaf, the header's hash, stays what the council signed into its tree)."""

    def flip(conn: Any) -> None:
        (signature,) = conn.execute(
            "SELECT signature FROM entries WHERE log_id = ? AND seq = ?", (council, seq)
        ).fetchone()
        flipped = bytes([signature[0] ^ 1]) + bytes(signature[1:])
        conn.execute("UPDATE entries SET signature = ? WHERE log_id = ? AND seq = ?", (flipped, council, seq))

    await live.node.writer.run(flip, live.node.writer.conn)


async def test_restore_mends_a_bad_signature_one_peer_served_from_another(
    start_live: Start, tmp_path: Path
) -> None:
    a, b, c = await council_with_backup(start_live, 5)
    recovery, before = recovery_of(a), public_log(b, a.key)
    await a.stop()
    await bad_signature_on(b, a.key, 1)
    target = tmp_path / "restored"
    await restore(target, recovery, [peer_ref(b), peer_ref(c)], backup_file=None, listen="127.0.0.1:0")
    restored = await start_live(folder=target)
    assert verified.pending(restored.node.reader) == []
    check_public_chain(public_log(restored, a.key), a.key)  # entry 1's signature is c's, the valid one
    await resume(restored)
    await no_second_entry(restored, [b, c], before)


async def test_restore_refuses_a_public_log_no_peer_can_give_a_valid_signature_of(
    start_live: Start, tmp_path: Path
) -> None:
    from node.backup.errors import RestoreError

    a, b, c = await council_with_backup(start_live, 5)
    recovery = recovery_of(a)
    await a.stop()
    for peer in (b, c):
        await bad_signature_on(peer, a.key, 1)
    with pytest.raises(RestoreError) as refused:
        await restore(
            tmp_path / "r", recovery, [peer_ref(b), peer_ref(c)], backup_file=None, listen="127.0.0.1:0"
        )
    assert refused.value.step == "restore-bad-signature" and not (tmp_path / "r").exists()


async def test_a_corrupted_backup_file_is_refused(start_live: Start, tmp_path: Path) -> None:
    from node.backup.errors import RestoreError

    a, b, _ = await council_with_backup(start_live, 5)
    data = bytearray((await a.operator.request("POST", "/v1/admin/backup", accept=OCTETS)).body)
    data[1000] ^= 1
    with pytest.raises(RestoreError) as refused:
        await restore(
            tmp_path / "r", recovery_of(a), [peer_ref(b)], backup_file=bytes(data), listen="127.0.0.1:0"
        )
    assert refused.value.step == "segment-signature" and not (tmp_path / "r").exists()
    assert record_log_id(a.key, 0)  # the council's record is untouched by the attempt


async def test_a_council_killed_mid_schedule_comes_back_from_its_peers(
    start_live: Start, tmp_path: Path
) -> None:
    """``shora serve`` in its own process, sealing on its schedule, killed with SIGKILL; its disk is lost."""
    import asyncio
    import shutil
    import signal

    from tests.node.backup_helpers import write_settings
    from tests.node.served import start_served

    folder = tmp_path / "a"
    init_node(folder, found("Killed Council"), listen="127.0.0.1:0")
    seed_record(folder, 80)
    write_settings(folder, {"backup_interval_s": 0.05, "gossip_interval_s": 1e6})
    b, c = await start_live("b"), await start_live("c")
    with open(tmp_path / "a.log", "wb") as output:
        process, url = await start_served(folder, output)
        try:
            config = cfg.load(folder)
            operator = SignedClient(b.operator.session, url, config.operator_signing_key(), config.node_id)
            for peer in (b, c):
                await operator.call("POST", "/v1/admin/peers", {"key": peer.b64, "url": peer.url})
                await operator.call("POST", "/v1/admin/backup-peers", {"key": peer.b64, "url": peer.url})
                await peer.call("POST", "/v1/admin/peers", {"key": codec.b64u(config.node_id), "url": url})
            opened = await operator.call("POST", "/v1/admin/assemblies", {"agenda": "before the loss"})
            await operator.call("POST", f"/v1/admin/assemblies/{opened['assembly_id']}/close", {})
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 120  # a hang bound: the ticks come however loaded the machine
            while min(held(b, config.node_id), held(c, config.node_id)) < 3:  # the schedule runs on its own
                assert loop.time() < deadline, "the peers never received three ticks' segments"
                await asyncio.sleep(0.02)
            for peer in (b, c):
                await peer.operator.request("POST", "/v1/admin/sync")
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
    recovery = Recovery.decode((folder / RECOVERY_FILE).read_bytes())  # the operator's copy, off the machine
    before = public_log(b, config.node_id)
    shutil.rmtree(folder)  # the disk is lost
    outcome = await restore(
        tmp_path / "restored", recovery, [peer_ref(b), peer_ref(c)], backup_file=None, listen="127.0.0.1:0"
    )
    # the founding entry and the 80 joins were sealed before the loss; the assembly after them may or may not
    # have made it into a tick before the kill (the schedule runs on its own)
    assert set(outcome.kept) == {0} and 81 <= outcome.kept[0] <= 83 and outcome.members == 80
    restored = await start_live(folder=tmp_path / "restored")
    await resume(restored)
    await no_second_entry(restored, [b, c], before)


async def test_backup_peers_and_the_backup_command_refuse_bad_input(
    start_live: Start, tmp_path: Path
) -> None:
    import asyncio
    import subprocess
    import sys

    a, b = await start_live("a"), await start_live("b")
    for body, code in (
        ({"key": "not-a-key", "url": b.url}, "bad-field"),
        ({"key": b.b64, "url": "ftp://x"}, "bad-peer"),
        ({"key": a.b64, "url": b.url}, "bad-peer"),  # a council does not hold its own copy
    ):
        with pytest.raises(RemoteError) as refused:
            await a.call("POST", "/v1/admin/backup-peers", body)
        assert (refused.value.status, refused.value.code) == (400, code)
    with pytest.raises(RemoteError) as unknown:
        await a.call("POST", "/v1/admin/backup-peers/remove", {"key": b.b64})
    assert (unknown.value.status, unknown.value.code) == (404, "unknown-peer")
    assert (await a.call("GET", "/v1/admin/backup-peers"))["peers"] == []
    await a.call("POST", "/v1/admin/backup-peers", {"key": b.b64, "url": b.url})
    assert [p["node_id"] for p in (await a.call("GET", "/v1/admin/backup-peers"))["peers"]] == [b.b64]
    await a.call("POST", "/v1/admin/backup-peers/remove", {"key": b.b64})
    assert (await a.call("GET", "/v1/admin/backup-peers"))["peers"] == []

    def shora(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", "from node.cli.main import main; main()", *args]
        return subprocess.run(command, capture_output=True, text=True)

    file = tmp_path / "a.sealed"
    done = await asyncio.to_thread(shora, "backup", str(file), "--dir", str(a.config.dir), "--json")
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(os.stat(file).st_mode) == 0o600 and file.stat().st_size % SEGMENT_SIZE == 0
    again = await asyncio.to_thread(shora, "backup", str(file), "--dir", str(a.config.dir))
    assert again.returncode == 1 and "never overwrites" in again.stderr
