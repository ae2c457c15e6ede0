"""What a replica serves to its peers: a page of a log held, within a byte budget, or ``Frozen``."""

from __future__ import annotations

from federation.errors import Frozen
from federation.replica.page import MAX_CONSISTENCY, Row, frame_size, row_size
from federation.store import LogStore, verified


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
) -> tuple[list[Row], str | None, tuple[bytes, ...], int]:
    """The stored rows after ``after_seq`` (at most ``limit``, public bodies only), our newest checkpoint,
    a consistency proof to it and the tree size the proof starts at — the page's end, or ``first`` if
    larger: as many rows as keep the encoded page within
    ``max_bytes`` (``row_size`` counts exactly what ``encode_page`` writes). A log we do not hold gives
    an empty page."""
    refuse_frozen(store, log_id)
    head = store.head(log_id)
    if head is None:
        return [], None, (), first
    noted = head.checkpoint_size
    after_seq = max(after_seq, -1)
    # Only rows the head just read covers: an append committed between the two reads would otherwise be
    # served beside the older checkpoint, and a peer would hold the entries with that checkpoint for good.
    limit = min(limit, head.size - after_seq - 1)
    # Only entries whose own signatures were checked: a peer charges whoever serves it a bad one.
    checked = verified.verified_up_to(store.conn, log_id)
    if checked is not None:
        limit = min(limit, checked - after_seq - 1)
    # The proof starts where the page ends (never below ``first``): the caller appends the page, and the
    # root it then holds is what the proof extends to the signed checkpoint. The page is authenticated by
    # that one signature (docs/gossip.md, "Pulling"). Its largest size is assumed while the rows are
    # chosen, so the page stays within the budget whatever the proof's length.
    rows: list[Row] = []
    worst = [bytes(32)] * MAX_CONSISTENCY if head.checkpoint is not None else []
    budget = max_bytes - frame_size(head.checkpoint, worst)
    # The first row goes in whatever its size: settings keep the budget above the largest entry.
    for row in store.rows(log_id, after_seq, limit) if limit > 0 else []:
        budget -= row_size(row)
        if budget < 0 and rows:
            break
        rows.append(row)
    start = max(first, after_seq + 1 + len(rows))
    proof: list[bytes] = []
    if head.checkpoint is not None and noted is not None and 0 < start < noted:
        proof = store.consistency_proof(log_id, start, noted)
    return rows, head.checkpoint, tuple(proof), start
