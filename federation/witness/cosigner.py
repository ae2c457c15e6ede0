"""``Witness``: a node cosigning the checkpoints of the logs it trusts (C2SP tlog-witness).

The old size is checked against the size it last cosigned and the new size and root are stored in one
``BEGIN IMMEDIATE`` transaction, so two racing requests cannot roll its view of a log back (the race
tlog-witness.md spells out).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

from federation.errors import SizeMismatch, WitnessError
from federation.store import LogStore, receipts
from federation.witness.text import SIZE_CONTENT_TYPE, WitnessReply, log_id_of, parse_add_checkpoint
from protocol import merkle
from protocol.codec import INT64_MAX
from protocol.errors import DecodeError, ProofError, VerificationError
from protocol.keys import PublicKey, SigningKey
from protocol.note import NoteSignature, cosign, open_checkpoint, witness_name

log = logging.getLogger("shora.witness")


class Witness:
    """Cosigns checkpoints of the logs ``log_key`` trusts, never one inconsistent with the last it cosigned.

    ``conn`` is the node's writer connection: the check and the store run in one ``BEGIN IMMEDIATE``.
    ``log_key(log_id)`` is the log's key if we witness that log, else ``None``.
    """

    def __init__(
        self, conn: sqlite3.Connection, key: SigningKey, log_key: Callable[[bytes], PublicKey | None]
    ) -> None:
        self.conn, self.key, self.log_key = conn, key, log_key
        self.name = witness_name(key.public)

    def add_checkpoint(self, body: bytes, now_s: int) -> WitnessReply:
        """Answer one add-checkpoint request: 200 with our cosignature line, or the spec's refusal."""
        if isinstance(now_s, bool) or not isinstance(now_s, int) or not 0 <= now_s <= INT64_MAX:
            raise ValueError("now_s is POSIX seconds")
        try:
            line = self._cosign(body, now_s)
        except SizeMismatch as exc:
            return WitnessReply(409, f"{exc.size}\n".encode(), SIZE_CONTENT_TYPE)
        except WitnessError as exc:
            return WitnessReply.refusal(exc)
        return WitnessReply(200, line.line().encode())

    def state(self, log_id: bytes) -> tuple[int, bytes]:
        """The size and root we last cosigned for ``log_id`` (0 and the empty root if none)."""
        row = self.conn.execute("SELECT size, root FROM witness_state WHERE log_id = ?", (log_id,)).fetchone()
        return (row[0], bytes(row[1])) if row else (0, merkle.EMPTY_ROOT)

    def _cosign(self, body: bytes, now_s: int) -> NoteSignature:
        request = parse_add_checkpoint(body)
        checkpoint = request.checkpoint
        log_id = log_id_of(checkpoint.origin)
        key = self.log_key(log_id) if log_id is not None else None
        if log_id is None or key is None:
            raise WitnessError(404, f"unknown log origin {checkpoint.origin!r}")
        try:  # outside the transaction: the writer is held only for the check and the store
            open_checkpoint(request.note, key)
        except (DecodeError, VerificationError) as exc:
            raise WitnessError(403, f"no valid signature by the log's key: {exc}") from exc
        with LogStore(self.conn).transaction():
            size, root = self.state(log_id)
            if request.old_size != size:
                raise SizeMismatch(size)
            if size and checkpoint.size == size and checkpoint.root != root:
                # tlog-witness.md: equal sizes with different roots is a conflict — and a fork signal.
                log.warning("log %s offered a second root for size %d", checkpoint.origin, size)
                raise WitnessError(409, f"a different root for size {size} was cosigned before")
            try:
                merkle.verify_consistency(size, checkpoint.size, root, checkpoint.root, request.proof)
            except ProofError as exc:
                raise WitnessError(422, f"consistency proof: {exc.message}") from exc
            self.conn.execute(
                "INSERT INTO witness_state (log_id, size, root, updated_ms) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (log_id) DO UPDATE SET size = excluded.size, root = excluded.root, "
                "updated_ms = excluded.updated_ms",
                (log_id, checkpoint.size, checkpoint.root, now_s * 1000),
            )
            # a signed commitment to the log up to this size: its entries were received now, even if they
            # replicate later (the last millisecond of the second, never earlier than the truth)
            receipts.note(self.conn, log_id, checkpoint.size, now_s * 1000 + 999)
        # Persisted before answering (tlog-witness.md); signing after the commit keeps the lock short.
        return cosign(self.key, self.name, checkpoint, now_s)
