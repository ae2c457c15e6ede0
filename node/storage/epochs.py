"""The record's epochs, in the order governance replays them (docs/protocol.md §10.5).

A council's record is stored as one log per epoch (``protocol.record.record_log_id(root_key, epoch)``). Epoch
0 runs until a restore loses its tail; the restore then opens epoch 1 with a ``record/gap`` entry that says
how many entries of epoch 0 were kept. The governance state is the replay of

    epoch 0's kept entries, then epoch 1 from its gap (entry 0) on, then epoch 2 from its gap, …

``replay_order`` yields exactly that, page by page, checking each gap against what it ends
(``protocol.record.check_gap``); ``current_epoch`` is where the next record entry goes. Both read through
any connection (the writer's, or a reader's), and are what the writer's replay calls.
"""

from __future__ import annotations

from collections.abc import Iterator

from federation.store import LogStore
from protocol.record import EPOCH_MAX, RecordEntry, check_gap, record_log_id

PAGE = 5000


def epochs(store: LogStore, root_key: bytes) -> list[int]:
    """The epochs of the record, 0, 1, … up to the newest (empty: no record yet). Epoch 0 counts when a
    later one exists even if it kept nothing (a restore of a council whose record had no sealed entry);
    every later epoch holds at least its gap."""
    held: list[int] = []
    epoch = 1
    while epoch <= EPOCH_MAX and store.head(record_log_id(root_key, epoch)) is not None:
        held.append(epoch)
        epoch += 1
    if held or store.head(record_log_id(root_key, 0)) is not None:
        held.insert(0, 0)
    return held


def current_epoch(store: LogStore, root_key: bytes) -> int:
    """The epoch the record's next entry belongs to: the newest held, 0 for a record not begun."""
    held = epochs(store, root_key)
    return held[-1] if held else 0


def entries_of(store: LogStore, root_key: bytes, epoch: int, end: int | None = None) -> Iterator[RecordEntry]:
    """The record entries of ``epoch`` with seq < ``end`` (all of them when ``None``), in order."""
    log_id = record_log_id(root_key, epoch)
    after = -1
    while end is None or after + 1 < end:
        limit = PAGE if end is None else min(PAGE, end - after - 1)
        rows = store.rows(log_id, after, limit, council_bodies=True)
        if not rows:
            return
        for header, signature, body in rows:
            yield RecordEntry(header, signature, body)
        after += len(rows)


def replay_order(store: LogStore, root_key: bytes) -> Iterator[RecordEntry]:
    """Every record entry governance replays, in replay order: each epoch's entries that the next epoch's
    gap says were kept, then the newest epoch whole (its gap first). A gap that does not describe what it
    ends raises ``VerificationError`` (``gap-*``): a record that cannot be replayed is never guessed at."""
    held = epochs(store, root_key)
    for epoch in held:
        if epoch + 1 in held:
            gap_entry = next(entries_of(store, root_key, epoch + 1, 1))
            kept_entries = list(entries_of(store, root_key, epoch, _kept_claim(gap_entry)))
            check_gap(gap_entry, root_key=root_key, kept=kept_entries)
            yield from kept_entries
        else:
            yield from entries_of(store, root_key, epoch)


def _kept_claim(gap_entry: RecordEntry) -> int | None:
    """How many entries the gap says it kept, to read no more than that (``check_gap`` judges it)."""
    kept = gap_entry.body().get("kept") if gap_entry.body_bytes is not None else None
    return kept if type(kept) is int and kept >= 0 else None
