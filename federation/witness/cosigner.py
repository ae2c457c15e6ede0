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
from federation.replica.forks import prove_checkpoint_contradiction
from federation.store import LogStore, receipts
from federation.witness.text import SIZE_CONTENT_TYPE, WitnessReply, log_id_of, parse_add_checkpoint
from protocol import merkle
from protocol.codec import INT64_MAX
from protocol.errors import DecodeError, ProofError, VerificationError
from protocol.fork import ForkProof, checkpoints_fork, verify_fork_proof
from protocol.keys import PublicKey, SigningKey
from protocol.note import Checkpoint, NoteSignature, cosign, open_checkpoint, parse_note, witness_name

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
        """Answer one add-checkpoint request: 200 with our cosignature line, or the spec's refusal; a 409
        that kept a fork proof carries it (``WitnessReply.fork``, for gossip to spread; never sent)."""
        if isinstance(now_s, bool) or not isinstance(now_s, int) or not 0 <= now_s <= INT64_MAX:
            raise ValueError("now_s is POSIX seconds")
        try:
            line = self._cosign(body, now_s)
        except SizeMismatch as exc:
            return WitnessReply(409, f"{exc.size}\n".encode(), SIZE_CONTENT_TYPE)
        except WitnessError as exc:
            return WitnessReply.refusal(exc)
        if isinstance(line, ForkProof):
            proof = self._keep(line)
            message = f"{line.describe()}: the proof is kept and the log frozen\n"
            return WitnessReply(409, message.encode(), fork=proof)
        return WitnessReply(200, line.line().encode())

    def state(self, log_id: bytes) -> tuple[int, bytes]:
        """The size and root we last cosigned for ``log_id`` (0 and the empty root if none)."""
        row = self.conn.execute("SELECT size, root FROM witness_state WHERE log_id = ?", (log_id,)).fetchone()
        return (row[0], bytes(row[1])) if row else (0, merkle.EMPTY_ROOT)

    def _cosign(self, body: bytes, now_s: int) -> NoteSignature | ForkProof:
        """Our cosignature, or the fork proof the request made (a contradiction with what we cosigned or
        with the replica we hold of the log); ``WitnessError`` for every other refusal."""
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
        store = LogStore(self.conn)
        with store.transaction():
            if store.fork(log_id) is not None:
                raise WitnessError(409, "the log is frozen: a fork proof is held")
            fork = against_replica(store, log_id, request.note)
            if fork is not None:
                return fork
            size, root, note = self._old(store, log_id)
            if request.old_size != size:
                raise SizeMismatch(size)
            if size and checkpoint.size == size and checkpoint.root != root:
                # tlog-witness.md: equal sizes with different roots is a conflict — and a fork: both notes
                # are signed by the log's key.
                log.warning("log %s offered a second root for size %d", checkpoint.origin, size)
                if note is not None:
                    return checkpoints_fork(log_id, note, request.note)
                raise WitnessError(409, f"a different root for size {size} was cosigned before")
            try:
                merkle.verify_consistency(size, checkpoint.size, root, checkpoint.root, request.proof)
            except ProofError as exc:
                raise WitnessError(422, f"consistency proof: {exc.message}") from exc
            self.conn.execute(
                "INSERT INTO witness_state (log_id, size, root, note, updated_ms) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (log_id) DO UPDATE SET size = excluded.size, root = excluded.root, "
                "note = excluded.note, updated_ms = excluded.updated_ms",
                (log_id, checkpoint.size, checkpoint.root, request.note, now_s * 1000),
            )
            # a signed commitment to the log up to this size: its entries were received now, even if they
            # replicate later (the last millisecond of the second, never earlier than the truth)
            receipts.note(self.conn, log_id, checkpoint.size, now_s * 1000 + 999)
        # Persisted before answering (tlog-witness.md); signing after the commit keeps the lock short.
        return cosign(self.key, self.name, checkpoint, now_s)

    def _old(self, store: LogStore, log_id: bytes) -> tuple[int, bytes, str | None]:
        """The size, root and note a request must extend: the last we cosigned, or the replica's verified
        checkpoint of the log if it is newer (then the request proves consistency from it, so we never
        cosign what contradicts it). Inside the caller's transaction."""
        row = self.conn.execute(
            "SELECT size, root, note FROM witness_state WHERE log_id = ?", (log_id,)
        ).fetchone()
        size, root, note = (row[0], bytes(row[1]), row[2]) if row else (0, merkle.EMPTY_ROOT, None)
        head = store.head(log_id)
        if (
            head is None
            or head.checkpoint is None
            or head.checkpoint_size is None
            or head.checkpoint_size <= size
        ):
            return size, root, note
        held = Checkpoint.from_body(parse_note(head.checkpoint).text)  # verified when the replica took it
        return held.size, held.root, head.checkpoint

    def _keep(self, fork: ForkProof) -> bytes:
        """Store a fork proof the witness found and freeze its log (its own transaction); the proof."""
        proof = fork.encode()
        verify_fork_proof(proof)  # built from two notes the log's key signed, and our own tree
        store = LogStore(self.conn)
        with store.transaction():
            store.add_fork(fork.log_id, proof, fork.describe())
        log.warning("log %s: %s (as a witness); the proof is kept", fork.log_id.hex()[:16], fork.describe())
        return proof


def against_replica(store: LogStore, log_id: bytes, note: str) -> ForkProof | None:
    """A checkpoint the log's key signed, judged against the replica of that log we hold: the fork proof
    if our verified checkpoint contradicts it at its size or below; ``WitnessError(409)`` if only our
    tree (entries past that checkpoint) differs at its size, which proves nothing offline but is never
    cosigned; else ``None``."""
    fork = prove_checkpoint_contradiction(store, log_id, note)
    if fork is not None:
        return fork
    head = store.head(log_id)
    offered = Checkpoint.from_body(parse_note(note).text)
    if (
        head is not None
        and 0 < offered.size <= head.size
        and store.root(log_id, offered.size) != offered.root
    ):
        raise WitnessError(
            409, f"the checkpoint contradicts the entries we hold of this log at size {offered.size}"
        )
    return None
