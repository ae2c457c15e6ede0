"""Witnessing as C2SP tlog-witness and tlog-cosignature (DESIGN.md §3, docs/gossip.md "Witnessing").

Three parts:

- the ``add-checkpoint`` request text, built and parsed strictly (pure)::

      old <size>\\n  <base64 hash>\\n × 0..63  \\n  <checkpoint note>

- ``Witness``: a node cosigning the checkpoints of the logs it trusts. The old size is checked against the
  size it last cosigned and the new size and root are stored in one ``BEGIN IMMEDIATE`` transaction, so two
  racing requests cannot roll its view of a log back (the race tlog-witness.md spells out);
- ``Collector``: a node asking witnesses to cosign its *own* checkpoints and merging the cosignatures it
  gets back into the stored note, where ``GET …/checkpoint`` and bundles find them.

Errors::

    WitnessError       a refusal, with the HTTP status tlog-witness.md gives it (400, 403, 404, 409, 422)
    ├── SizeMismatch   409: ``old`` is not the size the witness holds; answered as ``text/x.tlog.size``
    └── ReplyError     (collector side) a witness's answer we cannot use: malformed text, or a
                       cosignature that does not verify — bad data from that peer
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from federation.store import LogStore
from protocol import codec, merkle
from protocol.codec import INT64_MAX, unb64u
from protocol.errors import DecodeError, ProofError, ProtocolError, VerificationError
from protocol.keys import PUBLIC_KEY_SIZE, PublicKey, SigningKey
from protocol.note import (
    LOG_ORIGIN_PREFIX,
    Checkpoint,
    KeyKind,
    NoteSignature,
    SignedCheckpoint,
    VerifierKey,
    add_signatures,
    cosign,
    format_note,
    log_origin,
    open_checkpoint,
    parse_note,
    verify_cosignatures,
    witness_name,
)

log = logging.getLogger("shora.witness")

MAX_PROOF_LINES = 63  # tlog-witness.md: "MUST NOT send more than 63 consistency proof lines"
# An add-checkpoint body: the old size line, 63 proof lines of 45 bytes and a checkpoint carrying its
# log's signature and a few dozen cosignatures fit with room to spare. Checked before decoding.
MAX_REQUEST_SIZE = 64 * 1024
MAX_REPLY_SIZE = 16 * 1024  # a 200 answer: a few cosignature lines; a 409 answer: one decimal line

SIZE_CONTENT_TYPE = "text/x.tlog.size"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"

_OLD_LINE = re.compile(r"old (0|[1-9][0-9]{0,18})")  # ASCII decimal, no leading zeros
_SIZE_BODY = re.compile(r"(0|[1-9][0-9]{0,18})\n")
_HASH_LINE = re.compile(r"[A-Za-z0-9+/]{43}=")  # standard base64 of exactly 32 bytes


class WitnessError(Exception):
    """A refusal, carrying the HTTP status that says it (tlog-witness.md)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status, self.message = status, message


class SizeMismatch(WitnessError):
    """409: the old size is not ``size``, the size of the newest checkpoint the witness cosigned."""

    def __init__(self, size: int) -> None:
        super().__init__(409, f"the witness holds size {size}")
        self.size = size


class ReplyError(WitnessError):
    """A witness's answer that we cannot use: malformed, or a cosignature that does not verify."""


def _bad_request(message: str) -> WitnessError:
    return WitnessError(400, message)


# --- the wire text (pure) ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    """A well-formed add-checkpoint request: old size, consistency proof, and the checkpoint note as sent.

    Constructing one checks everything that needs no state and no key: the line grammar, at most 63
    32-byte hashes, a note that parses as a checkpoint, and ``old_size <= checkpoint.size``.
    """

    old_size: int
    proof: tuple[bytes, ...]
    note: str
    checkpoint: Checkpoint = field(init=False, compare=False)

    def __post_init__(self) -> None:
        size = self.old_size
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= INT64_MAX:
            raise _bad_request("the old size is an integer in 0..2^63-1")
        if not isinstance(self.proof, tuple):
            raise _bad_request("the proof is a tuple of hashes")
        if len(self.proof) > MAX_PROOF_LINES:
            raise _bad_request(f"more than {MAX_PROOF_LINES} consistency proof lines")
        if not all(isinstance(h, bytes) and len(h) == merkle.HASH_SIZE for h in self.proof):
            raise _bad_request(f"a consistency proof line is one {merkle.HASH_SIZE}-byte hash")
        try:
            checkpoint = Checkpoint.from_body(parse_note(self.note).text)
        except DecodeError as exc:
            raise _bad_request(f"the checkpoint: {exc}") from exc
        if size > checkpoint.size:
            raise _bad_request(f"old size {size} is larger than the checkpoint's size {checkpoint.size}")
        object.__setattr__(self, "checkpoint", checkpoint)

    def encode(self) -> bytes:
        lines = [f"old {self.old_size}\n", *(_b64(h) + "\n" for h in self.proof), "\n"]
        return ("".join(lines) + self.note).encode()


def encode_add_checkpoint(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """The add-checkpoint request body; raises ``WitnessError(400)`` for what a witness would refuse."""
    body = AddCheckpoint(old_size, tuple(proof), note).encode()
    if len(body) > MAX_REQUEST_SIZE:
        raise _bad_request(f"the body is larger than {MAX_REQUEST_SIZE} bytes")
    return body


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Parse an add-checkpoint body exactly (tlog-witness.md); anything else is ``WitnessError(400)``."""
    if not isinstance(body, bytes):
        raise _bad_request("the body is bytes")
    if len(body) > MAX_REQUEST_SIZE:
        raise _bad_request(f"the body is larger than {MAX_REQUEST_SIZE} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad_request("the body is not UTF-8") from exc
    # The first blank line ends the proof: neither the old size line nor a base64 line can be empty.
    head, blank, note = text.partition("\n\n")
    if not blank:
        raise _bad_request("no blank line after the old size and proof lines")
    old_line, *proof_lines = head.split("\n")
    found = _OLD_LINE.fullmatch(old_line)
    if found is None or int(found[1]) > INT64_MAX:
        raise _bad_request("the first line is 'old <size>' in decimal without leading zeros")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise _bad_request(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = tuple(_hash_line(line) for line in proof_lines)
    return AddCheckpoint(int(found[1]), proof, note)


def _hash_line(line: str) -> bytes:
    if not _HASH_LINE.fullmatch(line):
        raise _bad_request("a consistency proof line is one hash in standard base64")
    try:
        raw = base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _bad_request("a consistency proof line is one hash in standard base64") from exc
    if _b64(raw) != line:  # stray bits in the last character: a second spelling of the same hash
        raise _bad_request("a consistency proof line is one hash in canonical standard base64")
    return raw


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def log_id_of(origin: str) -> bytes | None:
    """The log id a shora checkpoint origin names (``shora/`` + base64url of 32 bytes), else ``None``."""
    if not origin.startswith(LOG_ORIGIN_PREFIX):
        return None
    try:
        log_id = unb64u(origin[len(LOG_ORIGIN_PREFIX) :], PUBLIC_KEY_SIZE)
    except DecodeError:
        return None
    return log_id if log_origin(log_id) == origin else None


# --- the witness -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WitnessReply:
    """An add-checkpoint answer, as the HTTP route and the memory transport send it."""

    status: int
    body: bytes
    content_type: str = TEXT_CONTENT_TYPE

    @classmethod
    def refusal(cls, error: WitnessError) -> WitnessReply:
        return cls(error.status, (error.message + "\n").encode())


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
        # Persisted before answering (tlog-witness.md); signing after the commit keeps the lock short.
        return cosign(self.key, self.name, checkpoint, now_s)


# --- the log side: collecting cosignatures for our own checkpoints ------------------------------------


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
        if reply.status == 409 and _media_type(reply.content_type) == SIZE_CONTENT_TYPE:
            found = _SIZE_BODY.fullmatch(_reply_text(reply))
            if found is None or int(found[1]) > INT64_MAX:
                raise ReplyError(409, "a text/x.tlog.size answer is one decimal line")
            size = int(found[1])
            with self.store.transaction():
                self._witnessed(witness_key, size)
            return size
        if reply.status != 200:
            raise WitnessError(reply.status, _refusal(reply))
        cosignatures = self._verified_cosignatures(public, request.note, _reply_text(reply))
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


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _refusal(reply: WitnessReply) -> str:
    """A witness's refusal as words: its ``error: message`` (JSON or msgpack), else its text if it is text."""
    with contextlib.suppress(ProtocolError, ValueError):
        value = (
            json.loads(reply.body)
            if _media_type(reply.content_type) == "application/json"
            else codec.decode(reply.body)
        )
        if isinstance(value, dict) and isinstance(value.get("error"), str):
            return f"{value['error']}: {value.get('message', '')}".rstrip(": ")[:200]
    text = reply.body[:200].decode("utf-8", errors="replace").strip()
    if text.isprintable():
        return text
    return f"an answer of {len(reply.body)} bytes that is not text"


def _reply_text(reply: WitnessReply, *, lenient: bool = False) -> str:
    if len(reply.body) > MAX_REPLY_SIZE:
        raise ReplyError(reply.status, f"the answer is larger than {MAX_REPLY_SIZE} bytes")
    try:
        return reply.body.decode("utf-8", errors="replace" if lenient else "strict")
    except UnicodeDecodeError as exc:
        raise ReplyError(reply.status, "the answer is not UTF-8") from exc
