"""``Collector``: a node asking witnesses to cosign its *own* checkpoints, and merging the cosignatures it
gets back into the stored note, where ``GET …/checkpoint`` and bundles find them."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Sequence

from federation.errors import ReplyError, WitnessError
from federation.store import LogStore
from federation.witness.text import (
    SIZE_BODY,
    SIZE_CONTENT_TYPE,
    WitnessReply,
    encode_add_checkpoint,
    media_type,
    parse_add_checkpoint,
    reply_text,
)
from protocol import codec
from protocol.codec import INT64_MAX
from protocol.errors import DecodeError, ProtocolError, VerificationError
from protocol.keys import PublicKey, SigningKey
from protocol.note import (
    Checkpoint,
    KeyKind,
    NoteSignature,
    SignedCheckpoint,
    VerifierKey,
    add_signatures,
    format_note,
    log_origin,
    open_checkpoint,
    parse_note,
    verify_cosignatures,
    witness_name,
)


class Collector:
    """Asks witnesses to cosign our own log's newest checkpoint and keeps what they return.

    ``conn`` is the writer connection. Per witness it remembers the size that witness last cosigned for
    us (``witnessed_by``), which is the ``old`` of the next request; every checkpoint sent is kept with its
    cosignatures in ``checkpoint_history``.
    """

    def __init__(self, conn: sqlite3.Connection, own_key: SigningKey) -> None:
        self.conn, self.key = conn, own_key
        self.log_id = own_key.public.raw
        self.store = LogStore(conn)
        self._log_verifier = VerifierKey(log_origin(self.log_id), own_key.public, KeyKind.ED25519)

    def request_for(self, witness_key: bytes) -> bytes:
        """The add-checkpoint body for ``witness_key``: our newest checkpoint with the log's signature
        only, and a consistency proof from the size that witness last cosigned."""
        with self.store.transaction():
            head = self.store.head(self.log_id)
            if head is None or head.checkpoint is None or head.checkpoint_size is None:
                raise WitnessError(404, "our log has no checkpoint yet")
            note = parse_note(head.checkpoint)
            sent = format_note(note.text, [s for s in note.signatures if s.matches(self._log_verifier)])
            old = self.witnessed_size(witness_key)
            if old > head.checkpoint_size:
                raise WitnessError(409, f"the witness holds size {old}, beyond our {head.checkpoint_size}")
            proof = self.store.consistency_proof(self.log_id, old, head.checkpoint_size)
            self._remember(head.checkpoint_size, head.checkpoint)
        return encode_add_checkpoint(old, proof, sent)

    def accept(self, witness_key: bytes, reply: WitnessReply, sent: bytes) -> int:
        """Take a witness's answer to the request ``sent``; return the size it now holds for our log.

        200: its cosignature is verified and merged into the stored notes. 409 with a size: that size is
        remembered for the next request. Anything else raises ``WitnessError`` with the reply's status.
        """
        public = PublicKey(witness_key)
        request = parse_add_checkpoint(sent)
        if request.checkpoint.origin != self._log_verifier.name:
            raise ValueError("that request is not for our own log")
        if reply.status == 409 and media_type(reply.content_type) == SIZE_CONTENT_TYPE:
            found = SIZE_BODY.fullmatch(reply_text(reply))
            if found is None or int(found[1]) > INT64_MAX:
                raise ReplyError(409, "a text/x.tlog.size answer is one decimal line")
            size = int(found[1])
            with self.store.transaction():
                self._witnessed(witness_key, size)
            return size
        if reply.status != 200:
            raise WitnessError(reply.status, _refusal(reply))
        cosignatures = self._verified_cosignatures(public, request.note, reply_text(reply))
        size = request.checkpoint.size
        with self.store.transaction():
            self._remember(size, request.note, cosignatures)
            head = self.store.head(self.log_id)
            held = head.checkpoint if head is not None and head.checkpoint_size == size else None
            if held is not None and parse_note(held).text == parse_note(request.note).text:
                self.conn.execute(
                    "UPDATE logs SET checkpoint = ? WHERE log_id = ?",
                    (add_signatures(held, cosignatures), self.log_id),
                )
            self._witnessed(witness_key, size)
        return size

    def witnessed_size(self, witness_key: bytes) -> int:
        row = self.conn.execute(
            "SELECT size FROM witnessed_by WHERE log_id = ? AND witness_key = ?", (self.log_id, witness_key)
        ).fetchone()
        return int(row[0]) if row else 0

    def newest_cosigned(
        self, log_id: bytes, witnesses: Iterable[tuple[str, PublicKey]], min_count: int
    ) -> str | None:
        """The newest note of ``log_id`` in the history carrying ``min_count`` valid cosignatures by
        ``witnesses`` (and the log's own valid signature), or ``None``."""
        trusted = list(witnesses)
        names = {name for name, _ in trusted}
        log_key = PublicKey(log_id)
        rows = self.conn.execute(
            "SELECT note FROM checkpoint_history WHERE log_id = ? ORDER BY size DESC", (log_id,)
        )
        for (note,) in rows:
            if sum(sig.name in names for sig in parse_note(note).signatures) < min_count:
                continue  # too few candidate lines: skip the signature checks
            try:
                verify_cosignatures(open_checkpoint(note, log_key), trusted, min_count)
            except (DecodeError, VerificationError):
                continue
            return str(note)
        return None

    # --- helpers (inside the caller's transaction) ---------------------------------------------------

    def _verified_cosignatures(self, public: PublicKey, note: str, reply: str) -> list[NoteSignature]:
        """The reply's lines by this witness, verified over ``note``'s checkpoint; other keys ignored."""
        name = witness_name(public)
        try:
            # tlog-witness.md: the reply may be appended to the checkpoint and read as one note.
            merged = parse_note(note + reply)
            if merged.text != parse_note(note).text:
                raise DecodeError("the answer is not only signature lines")
            signed = SignedCheckpoint(Checkpoint.from_body(merged.text), merged.format(), merged.signatures)
            verify_cosignatures(signed, [(name, public)], 1)
        except (DecodeError, VerificationError) as exc:
            raise ReplyError(200, f"the witness's cosignature: {exc}") from exc
        verifier = VerifierKey(name, public, KeyKind.COSIGNATURE_V1)
        sent = parse_note(note).signatures
        return [s for s in merged.signatures[len(sent) :] if s.matches(verifier)]

    def _remember(self, size: int, note: str, cosignatures: Sequence[NoteSignature] = ()) -> None:
        row = self.conn.execute(
            "SELECT note FROM checkpoint_history WHERE log_id = ? AND size = ?", (self.log_id, size)
        ).fetchone()
        if row is not None:
            if parse_note(row[0]).text != parse_note(note).text:
                # Our own log signed two roots for one size: never paper over that.
                raise WitnessError(409, f"our log holds a different checkpoint of size {size}")
            note = add_signatures(row[0], parse_note(note).signatures)
        note = add_signatures(note, cosignatures)
        self.conn.execute(
            "INSERT OR REPLACE INTO checkpoint_history (log_id, size, note) VALUES (?, ?, ?)",
            (self.log_id, size, note),
        )

    def _witnessed(self, witness_key: bytes, size: int) -> None:
        self.conn.execute(
            "INSERT INTO witnessed_by (log_id, witness_key, size) VALUES (?, ?, ?) "
            "ON CONFLICT (log_id, witness_key) DO UPDATE SET size = excluded.size",
            (self.log_id, witness_key, size),
        )


def _refusal(reply: WitnessReply) -> str:
    """A witness's refusal as words: its ``error: message`` (JSON or msgpack), else its text if it is text."""
    with contextlib.suppress(ProtocolError, ValueError):
        value = (
            json.loads(reply.body)
            if media_type(reply.content_type) == "application/json"
            else codec.decode(reply.body)
        )
        if isinstance(value, dict) and isinstance(value.get("error"), str):
            return f"{value['error']}: {value.get('message', '')}".rstrip(": ")[:200]
    text = reply.body[:200].decode("utf-8", errors="replace").strip()
    if text.isprintable():
        return text
    return f"an answer of {len(reply.body)} bytes that is not text"
