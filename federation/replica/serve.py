"""What a replica serves to its peers: a page of a log held, within a byte budget, or ``Frozen``."""

from __future__ import annotations

from federation.errors import Frozen
from federation.replica.page import Row, frame_size, row_size
from federation.store import LogStore


def refuse_frozen(store: LogStore, log_id: bytes) -> None:
    """``Frozen`` (with the proof, if one is held) if ``log_id`` is frozen."""
    held = store.fork(log_id)
    if held is not None:
        raise Frozen(held[1], held[0])
    head = store.head(log_id)
    if head is not None and head.frozen:
        raise Frozen(head.frozen)


def page_parts(
    store: LogStore, log_id: bytes, after_seq: int, limit: int, first: int, max_bytes: int
) -> tuple[list[Row], str | None, tuple[bytes, ...]]:
    """The stored rows after ``after_seq`` (at most ``limit``, public bodies only), our newest checkpoint,
    and a consistency proof from ``first`` to it: as many rows as keep the encoded page within
    ``max_bytes`` (``row_size`` counts exactly what ``encode_page`` writes). A log we do not hold gives
    an empty page."""
    refuse_frozen(store, log_id)
    head = store.head(log_id)
    if head is None:
        return [], None, ()
    noted = head.checkpoint_size
    proof: list[bytes] = []
    if head.checkpoint is not None and noted is not None and 0 < first < noted:
        proof = store.consistency_proof(log_id, first, noted)
    budget = max_bytes - frame_size(head.checkpoint, proof)
    rows: list[Row] = []
    # Only rows the head just read covers: an append committed between the two reads would otherwise be
    # served beside the older checkpoint, and a peer would hold the entries with that checkpoint for good.
    after_seq = max(after_seq, -1)
    limit = min(limit, head.size - after_seq - 1)
    # The first row goes in whatever its size: settings keep the budget above the largest entry.
    for row in store.rows(log_id, after_seq, limit) if limit > 0 else []:
        budget -= row_size(row)
        if budget < 0 and rows:
            break
        rows.append(row)
    return rows, head.checkpoint, tuple(proof)
