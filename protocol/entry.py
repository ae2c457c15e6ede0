"""Log entries: a signed header, and a body bound to it by hash (DESIGN.md §3).

    header    = canonical msgpack array [1, log_id, seq, prev, ts_ms, vis, body_hash, key_id]
    signature = Ed25519 over b"shora/v1/entry\\0" + header bytes
    entry id  = SHA-256(0x00 || header bytes)      (the RFC 9162 leaf hash)
    body      = canonical msgpack map with "kind"; a "council" body carries a random 16-byte "salt"

An ``Entry`` is built from the bytes that were received and keeps them: the signature is checked over
those bytes, never over a re-encoding, and the id is computed from them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from protocol import codec
from protocol.errors import DecodeError, VerificationError
from protocol.keys import KEY_ID_SIZE, PUBLIC_KEY_SIZE, SIGNATURE_SIZE, Domain, PublicKey, SigningKey
from protocol.merkle import HASH_SIZE, leaf_hash

FORMAT_VERSION = 1
Visibility = Literal["public", "council"]
VISIBILITIES: tuple[Visibility, ...] = ("public", "council")
SALT_SIZE = 16
SEQ_MAX = 2**63 - 1
# A follower's clock may lag a little behind its predecessor's (NTP steps, a restored laptop).
TS_TOLERANCE_MS = 5_000

HEADER_LIMITS = codec.Limits(max_size=256, max_depth=1, max_length=64)
BODY_LIMITS = codec.Limits(max_size=256 * 1024, max_depth=8, max_length=100_000)


@dataclass(frozen=True, slots=True)
class Header:
    """The signed part of an entry. Constructing one validates every field."""

    log_id: bytes
    seq: int
    prev: bytes | None
    ts_ms: int
    vis: Visibility
    body_hash: bytes
    key_id: bytes

    def __post_init__(self) -> None:
        prev = self.prev
        if not (isinstance(self.log_id, bytes) and len(self.log_id) == PUBLIC_KEY_SIZE):
            raise DecodeError("header: log_id is 32 bytes")
        if not (_is_int(self.seq) and 0 <= self.seq <= SEQ_MAX):
            raise DecodeError("header: seq is a non-negative int64")
        if self.seq == 0:
            if prev is not None:
                raise DecodeError("header: the first entry has no prev")
        elif not (isinstance(prev, bytes) and len(prev) == HASH_SIZE):
            raise DecodeError("header: prev is a 32-byte id")
        if not (_is_int(self.ts_ms) and 0 <= self.ts_ms <= SEQ_MAX):
            raise DecodeError("header: ts_ms is a non-negative int64")
        if self.vis not in VISIBILITIES:
            raise DecodeError("header: vis is 'public' or 'council'")
        if not (isinstance(self.body_hash, bytes) and len(self.body_hash) == HASH_SIZE):
            raise DecodeError("header: body_hash is 32 bytes")
        if not (isinstance(self.key_id, bytes) and len(self.key_id) == KEY_ID_SIZE):
            raise DecodeError("header: key_id is 8 bytes")

    def encode(self) -> bytes:
        fields = [FORMAT_VERSION, self.log_id, self.seq, self.prev, self.ts_ms, self.vis]
        return codec.encode([*fields, self.body_hash, self.key_id])

    @classmethod
    def decode(cls, data: bytes) -> Header:
        fields = codec.decode(data, HEADER_LIMITS)
        if not isinstance(fields, list) or len(fields) != 8:
            raise DecodeError("a header is an array of 8 fields")
        if not _is_int(fields[0]) or fields[0] != FORMAT_VERSION:
            raise DecodeError(f"unknown header format {fields[0]!r}")
        return cls(*fields[1:])


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def encode_body(body: dict[str, Any], vis: Visibility) -> bytes:
    """Canonical bytes of a body, after checking its shape for ``vis``."""
    data = codec.encode(body)
    check_body_shape(codec.decode(data, BODY_LIMITS), vis)
    return data


def check_body_shape(body: object, vis: str) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("kind"), str) or not body["kind"]:
        raise DecodeError("a body is a map with a non-empty text 'kind'")
    salt = body.get("salt")
    if vis == "council":
        if not isinstance(salt, bytes) or len(salt) != SALT_SIZE:
            raise DecodeError("a council-visibility body carries a 16-byte salt")
    elif "salt" in body:
        raise DecodeError("a public body carries no salt")
    return body


@dataclass(frozen=True, slots=True)
class Entry:
    """An entry as received: exact header bytes, signature, and the body bytes if we may see them."""

    header_bytes: bytes
    signature: bytes
    body_bytes: bytes | None = None
    header: Header = field(init=False)
    id: bytes = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_SIZE:
            raise DecodeError("an entry signature is 64 bytes")
        if not isinstance(self.header_bytes, bytes):
            raise DecodeError("header bytes expected")
        if self.body_bytes is not None and not isinstance(self.body_bytes, bytes):
            raise DecodeError("body bytes expected")
        object.__setattr__(self, "header", Header.decode(self.header_bytes))
        object.__setattr__(self, "id", leaf_hash(self.header_bytes))
        if self.body_bytes is not None:
            self.check_body()

    @property
    def seq(self) -> int:
        return self.header.seq

    def check_body(self) -> None:
        """The body matches the header's hash and is a canonical body for its visibility."""
        if self.body_bytes is None:
            raise VerificationError("body-hash", "the entry has no body")
        if len(self.body_bytes) > BODY_LIMITS.max_size:
            raise DecodeError("body exceeds the size limit")
        if sha256(self.body_bytes) != self.header.body_hash:
            raise VerificationError("body-hash", "the body does not match the header's body_hash")
        check_body_shape(codec.decode(self.body_bytes, BODY_LIMITS), self.header.vis)

    def body(self) -> dict[str, Any]:
        """A fresh copy of the body, which the constructor has checked."""
        if self.body_bytes is None:
            raise VerificationError("body-hash", "the entry has no body")
        return codec.decoded_again(self.body_bytes)  # type: ignore[no-any-return]

    def verify_signature(self, key: PublicKey, *, backend: str | None = None) -> None:
        """The signature is ``key``'s over the received header bytes, and the header names ``key``."""
        if self.header.key_id != key.id:
            raise VerificationError("unknown-key", "the header names a different signing key")
        key.verify(Domain.ENTRY, self.header_bytes, self.signature, backend=backend)

    def without_body(self) -> Entry:
        return Entry(self.header_bytes, self.signature)


def sign_entry(
    key: SigningKey,
    *,
    log_id: bytes,
    seq: int,
    prev: bytes | None,
    ts_ms: int,
    vis: Visibility,
    body: dict[str, Any],
) -> Entry:
    """Build and sign an entry. Council bodies must already carry their salt (the caller owns randomness)."""
    body_bytes = encode_body(body, vis)
    header = Header(log_id, seq, prev, ts_ms, vis, sha256(body_bytes), key.public.id)
    header_bytes = header.encode()
    return Entry(header_bytes, key.sign(Domain.ENTRY, header_bytes), body_bytes)


def verify_follows(previous: Entry | None, entry: Entry) -> None:
    """``entry`` may come right after ``previous`` in the same log (``None``: it must be the first)."""
    header = entry.header
    if previous is None:
        if header.seq != 0:
            raise VerificationError("sequence", f"expected the first entry, got seq {header.seq}")
        return
    before = previous.header
    if header.log_id != before.log_id:
        raise VerificationError("sequence", "the entry belongs to another log")
    if header.seq != before.seq + 1:
        raise VerificationError("sequence", f"expected seq {before.seq + 1}, got {header.seq}")
    if header.prev != previous.id:
        raise VerificationError("prev", f"seq {header.seq} does not link to the entry before it")
    if header.ts_ms + TS_TOLERANCE_MS < before.ts_ms:
        raise VerificationError("timestamp", f"seq {header.seq} goes back in time")
