"""Governance drafts signed as the entries of one log, as a node wrote them before the record/public split:
for tests and tools (fixtures, benchmarks). The node itself lays out and signs both of its logs through
``logs.Cursor`` (``node.storage.logs``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from node.rules.council import Draft
from protocol.entry import SALT_SIZE, Entry, Unsigned, prepare_entry
from protocol.keys import Domain, SigningKey
from protocol.note import Checkpoint, log_origin, sign_checkpoint


def make_entries(key: SigningKey, drafts: list[Draft], previous: Entry | None, ts_ms: int) -> list[Entry]:
    """Sign ``drafts`` as the entries of a single log after ``previous`` (as a node before the split wrote
    them: tests and tools); council bodies get a fresh random salt."""
    unsigned = [u for u, _ in prepare_drafts(key, drafts, previous, ts_ms)]
    signatures = key.sign_many(Domain.ENTRY, [u.header_bytes for u in unsigned])
    return [u.signed(signature) for u, signature in zip(unsigned, signatures, strict=True)]


def prepare_drafts(
    key: SigningKey,
    drafts: list[Draft],
    previous: Entry | Unsigned | None,
    ts_ms: int,
    *,
    log_id: bytes | None = None,
) -> list[tuple[Unsigned, dict[str, Any]]]:
    """``drafts`` laid out as the entries after ``previous`` in ``log_id`` (by default ``key``'s own log),
    to be signed by ``key``, each with the body value it carries; council bodies get a fresh random salt."""
    out = []
    key_id = key.public.id
    log_id = key.public.raw if log_id is None else log_id
    for draft in drafts:
        body = dict(draft.body)
        if draft.vis == "council":
            body["salt"] = os.urandom(SALT_SIZE)
        seq = previous.seq + 1 if previous else 0
        ts = max(ts_ms, previous.header.ts_ms) if previous else ts_ms
        prev = previous.id if previous else None
        unsigned = prepare_entry(
            key_id, log_id=log_id, seq=seq, prev=prev, ts_ms=ts, vis=draft.vis, body=body
        )
        out.append((unsigned, body))
        previous = unsigned
    return out


def checkpoint_signer(key: SigningKey) -> Callable[[int, bytes], str]:
    origin = log_origin(key.public.raw)
    return lambda size, root: sign_checkpoint(key, Checkpoint(origin, size, root))
