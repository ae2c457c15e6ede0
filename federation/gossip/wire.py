"""The gossip messages as they travel (docs/gossip.md): paths, heads, digests, buckets and error answers.

The federation API speaks canonical msgpack both ways, errors included: a 4xx answer carries
``{"error": code, "message": text}`` (``log-frozen`` adds ``"proof"``), so one decoder reads every answer.
Anything a peer sends that breaks this shape raises ``Misbehaved``: bad data, the peer is penalised.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Iterable
from typing import Any

from federation.errors import Misbehaved
from federation.replica import Head
from federation.transport import Reply
from protocol import codec
from protocol.errors import DecodeError, ProtocolError

PREFIX = "/v1/federation"
DIGEST, HEADS, FORKS = f"{PREFIX}/digest", f"{PREFIX}/heads", f"{PREFIX}/forks"
INLINE_HEADS = 64  # at most this many logs: answer a digest with the heads themselves
BUCKETS = 256
HASH_SIZE = KEY_SIZE = 32
MAX_PROOF = 64 << 10  # bytes of a fork proof in a gossip message (protocol.fork's own limit is larger)

Wire = list[list[Any]]  # heads as sent: [[log_id, size, root], …] sorted by log_id


@functools.lru_cache(maxsize=8)
def message_limits(max_size: int) -> codec.Limits:
    """The decoding limits of a gossip message of at most ``max_size`` bytes."""
    return codec.Limits(max_size=max_size, max_depth=4, max_length=100_000)


def wire_heads(heads: Iterable[Head]) -> Wire:
    return [[h.log_id, h.size, h.root] for h in sorted(heads, key=lambda h: h.log_id)]


def digest(heads: Iterable[Head]) -> bytes:
    """SHA-256 of the canonical msgpack of the heads ``[log_id, size, root]`` sorted by ``log_id``."""
    return hashlib.sha256(codec.encode(wire_heads(heads))).digest()


def bucket_of(log_id: bytes) -> int:
    return log_id[0]


def bucket_hashes(heads: Iterable[Head]) -> dict[int, bytes]:
    """The digest of each non-empty bucket (a log falls in bucket ``log_id[0]``)."""
    buckets: dict[int, list[Head]] = {}
    for head in heads:
        buckets.setdefault(bucket_of(head.log_id), []).append(head)
    return {b: digest(members) for b, members in sorted(buckets.items())}


def entries_path(log_id: bytes, after_seq: int, limit: int, first: int) -> str:
    return f"{PREFIX}/logs/{codec.b64u(log_id)}/entries?after_seq={after_seq}&limit={limit}&first={first}"


# --- decoding what a peer sent -------------------------------------------------------------------------


def decode_message(data: bytes, max_size: int) -> dict[str, Any]:
    """A gossip message: a canonical msgpack map of at most ``max_size`` bytes; else ``Misbehaved``."""
    try:
        value = codec.decode(data, message_limits(max_size))
    except DecodeError as exc:
        raise Misbehaved(f"malformed message: {exc}") from exc
    if not isinstance(value, dict):
        raise Misbehaved("a message is a map")
    return value


def decode_heads(value: object) -> list[Head]:
    """Heads as sent: ``[log_id, size, root]`` items, strictly sorted by ``log_id``."""
    if not isinstance(value, list):
        raise Misbehaved("heads is a list")
    heads: list[Head] = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 3):
            raise Misbehaved("a head is [log_id, size, root]")
        log_id, size, root = item
        if not (isinstance(log_id, bytes) and len(log_id) == KEY_SIZE):
            raise Misbehaved("a head's log_id is 32 bytes")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise Misbehaved("a head's size is a non-negative integer")
        if not (isinstance(root, bytes) and len(root) == HASH_SIZE):
            raise Misbehaved("a head's root is 32 bytes")
        if heads and heads[-1].log_id >= log_id:
            raise Misbehaved("heads are not sorted by log_id")
        heads.append(Head(log_id, size, root))
    return heads


def decode_buckets(value: object) -> dict[int, bytes]:
    """A digest answer's ``[[bucket, hash], …]``: each bucket 0..255 once, with a 32-byte hash."""
    if not isinstance(value, list):
        raise Misbehaved("a digest answer carries equal, heads or buckets")
    buckets: dict[int, bytes] = {}
    for item in value:
        if not (isinstance(item, list) and len(item) == 2):
            raise Misbehaved("a bucket is [number, hash]")
        number, hashed = item
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < BUCKETS:
            raise Misbehaved("a bucket number is 0..255")
        if not isinstance(hashed, bytes) or len(hashed) != HASH_SIZE or number in buckets:
            raise Misbehaved("a bucket hash is 32 bytes, once per bucket")
        buckets[number] = hashed
    return buckets


def error_code(body: bytes, max_size: int) -> str:
    """The ``error`` code of an error answer's body, or ``"http"`` if it carries none we can read."""
    with contextlib.suppress(ProtocolError):
        value = codec.decode(body, message_limits(max_size))
        if isinstance(value, dict) and isinstance(value.get("error"), str):
            return str(value["error"])
    return "http"


# --- answering -----------------------------------------------------------------------------------------


def message(status: int, value: dict[str, Any]) -> Reply:
    return Reply(status, codec.encode(value))


def error(status: int, code: str, text: str, **extra: Any) -> Reply:
    return message(status, {"error": code, "message": text, **extra})
