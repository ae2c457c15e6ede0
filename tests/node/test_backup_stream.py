"""The backup stream's items, the filler after a stream cut inside an item, the record's epochs in replay
order, and what a restore checks of the record it reads (``node.backup``, ``node.storage.epochs``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from federation.store import LogStore
from node.backup import stream
from node.backup.errors import RestoreError
from node.backup.recordcheck import check_record, last_commitment, make_gap
from node.storage import directory, epochs
from node.storage.drafts import checkpoint_signer
from node.storage.migrations import open_database
from protocol import codec
from protocol.errors import VerificationError
from protocol.keys import PublicKey, SigningKey
from protocol.merkle import MemoryTree
from protocol.record import RecordEntry, check_gap, record_log_id, sign_twin
from protocol.recovery import Recovery
from protocol.sealed import ITEM_RECORD, BackupKey, encode_items
from tests.node.backup_helpers import append_record, record_entries

ROOT = SigningKey.from_seed(bytes([7]) * 32)
COUNCIL = ROOT.public.raw


def items_of(entries: list[RecordEntry]) -> bytes:
    return encode_items(stream.record_item(e.header_bytes, e.signature, e.body_bytes) for e in entries)


@pytest.fixture
def conn(tmp_path: Path):  # type: ignore[no-untyped-def]
    connection = open_database(tmp_path / "shora.db")
    yield connection
    connection.close()


def test_take_then_read_gives_back_the_record_and_the_directory(conn) -> None:  # type: ignore[no-untyped-def]
    entries = append_record(conn, ROOT, 40)
    taken = stream.take(conn, COUNCIL, epoch=0, record_size=0, directory_rowid=0, budget=10**9)
    assert (taken.epoch, taken.record_size) == (0, 40)
    restored = stream.read_stream(taken.stream, COUNCIL)
    assert [e.id for e in restored.records[0]] == [e.id for e in entries]
    assert set(restored.directory) == set(directory.everyone(conn)) and restored.truncated_tail == 0
    # a budget takes about that much, at least one item, and the cursor says where it stopped
    small = stream.take(conn, COUNCIL, epoch=0, record_size=0, directory_rowid=0, budget=1)
    assert small.record_size == 1 and small.stream == items_of(entries[:1])


@pytest.mark.parametrize("cut", [1, 3, 5, 6, 100])
def test_a_stream_cut_inside_an_item_is_closed_by_a_filler_that_readers_skip(cut: int) -> None:
    first, second, third = record_entries(ROOT, 3)
    whole = items_of([first, second])
    cut_stream = whole[: len(whole) - (len(items_of([second])) - cut)]
    restored = stream.read_stream(cut_stream, COUNCIL)
    assert [e.id for e in restored.records[0]] == [first.id] and restored.truncated_tail == cut
    continued = cut_stream + stream.filler(cut_stream, restored.truncated_tail) + items_of([third])
    again = stream.read_stream(continued, COUNCIL)
    assert [e.id for e in again.records[0]] == [first.id, third.id] and again.truncated_tail == 0


def test_an_item_of_an_unknown_kind_or_another_councils_record_is_refused() -> None:
    with pytest.raises(VerificationError) as unknown:
        stream.read_stream(b"\x07\x00\x00\x00\x01x", COUNCIL)
    assert unknown.value.step == "stream-item"
    other = record_entries(SigningKey.generate(), 1)
    with pytest.raises(VerificationError) as foreign:
        stream.read_stream(items_of(other), COUNCIL)
    assert foreign.value.step == "record-log"
    with pytest.raises(VerificationError) as garbage:
        stream.read_stream(encode_items([(ITEM_RECORD, codec.encode([b"x", b"y", b"z"]))]), COUNCIL)
    assert garbage.value.step == "stream-item"


def gap_after(kept: list[RecordEntry], epoch: int = 0) -> RecordEntry:
    recovery = Recovery(ROOT, BackupKey.generate())
    return make_gap(COUNCIL, recovery, {epoch: kept}, None)


def test_replay_order_is_each_epochs_kept_entries_then_the_next_from_its_gap(conn) -> None:  # type: ignore[no-untyped-def]
    epoch0 = append_record(conn, ROOT, 10)
    gap = gap_after(epoch0[:6])  # the restore kept 6: entries 6-9 stay stored but are not replayed
    LogStore(conn, private=True).append(gap.header.log_id, [gap], lambda size, root: None)
    epoch1 = append_record(conn, ROOT, 3, epoch=1)
    store = LogStore(conn, private=True)
    assert epochs.epochs(store, COUNCIL) == [0, 1] and epochs.current_epoch(store, COUNCIL) == 1
    order = [e.id for e in epochs.replay_order(store, COUNCIL)]
    assert order == [e.id for e in epoch0[:6]] + [gap.id] + [e.id for e in epoch1]


def test_a_gap_that_does_not_describe_what_it_ends_stops_the_replay(conn) -> None:  # type: ignore[no-untyped-def]
    epoch0 = append_record(conn, ROOT, 4)
    gap = gap_after(record_entries(ROOT, 4))  # the root of other entries
    LogStore(conn, private=True).append(gap.header.log_id, [gap], lambda size, root: None)
    with pytest.raises(VerificationError) as refused:
        list(epochs.replay_order(LogStore(conn, private=True), COUNCIL))
    assert refused.value.step == "gap-kept" and epoch0


def test_an_empty_epoch_0_before_a_gap_is_an_epoch(conn) -> None:  # type: ignore[no-untyped-def]
    gap = gap_after([])
    LogStore(conn, private=True).append(gap.header.log_id, [gap], lambda size, root: None)
    assert epochs.epochs(LogStore(conn, private=True), COUNCIL) == [0, 1]
    assert [e.id for e in epochs.replay_order(LogStore(conn, private=True), COUNCIL)] == [gap.id]


def test_a_restore_refuses_two_entries_at_one_position_and_unknown_keys() -> None:
    keys = [PublicKey(COUNCIL)]
    first = record_entries(ROOT, 3)
    other = record_entries(ROOT, 3)  # another history at the same positions
    with pytest.raises(RestoreError) as forked:
        check_record(stream.read_stream(items_of([*first, other[1]]), COUNCIL), COUNCIL, keys)
    assert forked.value.step == "restore-fork"
    stranger = SigningKey.generate()
    # a record of the stranger's council, read with our council's keys only
    with pytest.raises(RestoreError) as unknown:
        check_record(stream.Restored(records={0: record_entries(stranger, 1)}), stranger.public.raw, keys)
    assert unknown.value.step == "unknown-key"
    assert [e.id for e in check_record(stream.read_stream(items_of(first), COUNCIL), COUNCIL, keys)[0]] == [
        e.id for e in first
    ]


def test_the_gap_names_the_last_commitment_of_the_public_log(conn) -> None:  # type: ignore[no-untyped-def]
    record = record_entries(ROOT, 5, public_every=2)  # 0, 2 and 4 are public
    root_at_2 = MemoryTree([e.id for e in record[:3]]).root()
    twin = sign_twin(ROOT, record[2], root_at_2, root_key=COUNCIL, seq=0, prev=None)
    LogStore(conn, private=True).append(COUNCIL, [twin], checkpoint_signer(ROOT))
    commitment = last_commitment(LogStore(conn, private=True), COUNCIL)
    assert commitment is not None and (commitment.entry, commitment.root) == (record[2].id, root_at_2)
    gap = make_gap(COUNCIL, Recovery(ROOT, BackupKey.generate()), {0: record[:2]}, commitment)
    checked = check_gap(gap, root_key=COUNCIL, kept=record[:2])
    assert checked.public == commitment and checked.kept == 2
    assert gap.header.log_id == record_log_id(COUNCIL, 1) and gap.header.vis == "council"
