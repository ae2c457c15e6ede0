"""What a restore makes of the record it reads back (docs/protocol.md §10.5): which entries of each epoch
it may keep, every one checked (``check_record``), the record commitment of the newest public entry
(``last_commitment``), and the one entry it signs, the gap opening the next epoch (``make_gap``)."""

from __future__ import annotations

import os
import time
from typing import TextIO

from federation.store import LogStore
from node.backup import stream
from node.backup.errors import RestoreError
from node.ops.progress import Progress
from protocol.entry import SALT_SIZE, verify_follows
from protocol.errors import VerificationError
from protocol.keys import PublicKey
from protocol.merkle import MemoryTree
from protocol.record import (
    EPOCH_MAX,
    Commitment,
    Gap,
    RecordEntry,
    check_gap,
    commitment_of,
    sign_record_entry,
)
from protocol.recovery import Recovery


def check_record(
    restored: stream.Restored, council: bytes, keys: list[PublicKey], progress: TextIO | None = None
) -> dict[int, list[RecordEntry]]:
    """Each epoch's entries a replay may use, every one checked: contiguous from 0 and chained, signed by
    the council's keys or a member key registered before it, and each later epoch opened by a gap that
    describes exactly the entries kept of the epoch before (which are all that is kept of it). Entries
    checked are reported to ``progress`` (None: nowhere)."""
    known = {k.id: k for k in keys}
    total = sum(len(entries) for entries in restored.records.values())
    bar = Progress("checking the record", total, stream=progress) if progress else None
    checked = 0
    kept: dict[int, list[RecordEntry]] = {}
    last = max(restored.records, default=0)
    for epoch in range(0, last + 1):
        by_seq: dict[int, RecordEntry] = {}
        for entry in restored.records.get(epoch, []):
            held = by_seq.get(entry.seq)
            if held is not None and held.id != entry.id:
                raise RestoreError(
                    "restore-fork", f"two different entries at position {entry.seq} of epoch {epoch}"
                )
            by_seq[entry.seq] = entry
        entries: list[RecordEntry] = []
        while len(entries) in by_seq:  # a position missing ends what can be chained
            entries.append(by_seq[len(entries)])
        previous: RecordEntry | None = None
        for entry in entries:
            try:
                verify_follows(previous, entry)
                key = known.get(entry.header.key_id)
                if key is None:
                    raise VerificationError("unknown-key", "signed by a key the council never registered")
                entry.verify_signature(key)
            except VerificationError as exc:
                raise RestoreError(
                    exc.step, f"record entry {entry.seq} of epoch {epoch}: {exc.message}"
                ) from exc
            for name in ("pubkey", "key"):
                value = entry.body().get(name)
                if type(value) is bytes and len(value) == 32:
                    member = PublicKey(value)
                    known.setdefault(member.id, member)
            previous = entry
            checked += 1
            if bar is not None:
                bar.update(checked)
        if epoch > 0:
            if not entries:
                raise RestoreError("gap-position", f"epoch {epoch} of the record does not begin with its gap")
            try:
                gap = check_gap(entries[0], root_key=council, kept=kept[epoch - 1][: _claimed(entries[0])])
            except VerificationError as exc:
                raise RestoreError(exc.step, f"the gap opening epoch {epoch}: {exc.message}") from exc
            kept[epoch - 1] = kept[epoch - 1][: gap.kept]
        kept[epoch] = entries
    if bar is not None:
        bar.finish()
    return kept


def _claimed(gap_entry: RecordEntry) -> int:
    kept = gap_entry.body().get("kept")
    return kept if type(kept) is int and kept >= 0 else 0


def last_commitment(store: LogStore, council: bytes) -> Commitment | None:
    """The record commitment of the newest public entry held (None: nothing published with one)."""
    head = store.head(council)
    if head is None or head.size == 0:
        return None
    newest = store.entry(council, head.size - 1)
    try:
        return commitment_of(newest) if newest is not None else None
    except VerificationError:
        return None


def make_gap(
    council: bytes, recovery: Recovery, kept: dict[int, list[RecordEntry]], public: Commitment | None
) -> RecordEntry:
    """The one entry a restore signs: entry 0 of the epoch after the last one restored (docs §10.5)."""
    epoch = max(kept, default=0)
    if epoch >= EPOCH_MAX:
        raise RestoreError("gap-position", "the record has no epoch left to continue in")
    entries = kept.get(epoch, [])
    gap = Gap(epoch, len(entries), MemoryTree([e.id for e in entries]).root(), public)
    return sign_record_entry(
        recovery.root_key,
        root_key=council,
        epoch=epoch + 1,
        seq=0,
        prev=None,
        ts_ms=time.time_ns() // 1_000_000,
        vis="council",
        body=gap.to_body(os.urandom(SALT_SIZE)),
    )
