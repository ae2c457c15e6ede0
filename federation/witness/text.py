"""The C2SP tlog-witness texts, built and parsed strictly (pure)::

      old <size>\n  <base64 hash>\n × 0..63  \n  <checkpoint note>

and the answer as the route sends it (``WitnessReply``); ``media_type`` and ``reply_text`` read an answer
within ``MAX_REPLY_SIZE``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from federation.errors import ReplyError, WitnessError
from protocol import merkle
from protocol.codec import INT64_MAX, unb64u
from protocol.errors import DecodeError
from protocol.keys import PUBLIC_KEY_SIZE
from protocol.note import (
    LOG_ORIGIN_PREFIX,
    Checkpoint,
    log_origin,
    parse_note,
)

MAX_PROOF_LINES = 63  # tlog-witness.md: "MUST NOT send more than 63 consistency proof lines"
# An add-checkpoint body: the old size line, 63 proof lines of 45 bytes and a checkpoint carrying its
# log's signature and a few dozen cosignatures fit with room to spare. Checked before decoding.
MAX_REQUEST_SIZE = 64 * 1024
MAX_REPLY_SIZE = 16 * 1024  # a 200 answer: a few cosignature lines; a 409 answer: one decimal line

SIZE_CONTENT_TYPE = "text/x.tlog.size"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"

_OLD_LINE = re.compile(r"old (0|[1-9][0-9]{0,18})")  # ASCII decimal, no leading zeros
SIZE_BODY = re.compile(r"(0|[1-9][0-9]{0,18})\n")  # a text/x.tlog.size answer
_HASH_LINE = re.compile(r"[A-Za-z0-9+/]{43}=")  # standard base64 of exactly 32 bytes


def _bad_request(message: str) -> WitnessError:
    return WitnessError(400, message)


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


@dataclass(frozen=True, slots=True)
class WitnessReply:
    """An add-checkpoint answer, as the HTTP route and the memory transport send it."""

    status: int
    body: bytes
    content_type: str = TEXT_CONTENT_TYPE
    # a fork proof this refusal kept (the witness froze the log): for gossip to spread, never sent
    fork: bytes | None = field(default=None, compare=False, repr=False)

    @classmethod
    def refusal(cls, error: WitnessError) -> WitnessReply:
        return cls(error.status, (error.message + "\n").encode())


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def reply_text(reply: WitnessReply) -> str:
    if len(reply.body) > MAX_REPLY_SIZE:
        raise ReplyError(reply.status, f"the answer is larger than {MAX_REPLY_SIZE} bytes")
    try:
        return reply.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReplyError(reply.status, "the answer is not UTF-8") from exc
