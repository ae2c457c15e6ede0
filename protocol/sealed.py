"""Sealed backup segments: the record and the member directory, encrypted to the council's backup key,
in pieces of one fixed size that peers keep but cannot read (DESIGN.md §3; docs/protocol.md §11).

    segment (SEGMENT_SIZE = 65,536 bytes)
      0     16  magic    b"shora/v1/sealed\\0"
      16    32  council  the council's public log id (its root key)
      48     8  index    u64 big-endian, < 2**63: the segment's place in the council's backup stream
      56     8  key_id   the signing key's id (the root key or a key delegated in the public log)
      64    32  enc      HPKE encapsulated key: a fresh X25519 public key for this segment
      96 65376  ct       HPKE (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
                         ChaCha20-Poly1305, single shot, info = bytes 0..64, aad empty
      65472 64  sig      Ed25519 over b"shora/v1/segment\\0" + SHA-256(bytes 0..65472)

    plaintext (PLAINTEXT_SIZE = 65,360 bytes) = length (u32 big-endian) || data || zero padding

The backup stream is a run of items (``encode_items``: kind u8, length u32, payload) cut into segments in
index order; an item may straddle segments. A node seals at least one segment on every tick of its backup
schedule, an empty one when nothing happened, so a peer sees only whole segments of one size at fixed times.

Pure: the fresh ephemeral key comes from ``cryptography``'s generator unless the caller passes one (vectors).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from protocol.errors import DecodeError, VerificationError
from protocol.keys import KEY_ID_SIZE, PUBLIC_KEY_SIZE, SIGNATURE_SIZE, Domain, PublicKey, SigningKey

SEGMENT_SIZE = 65_536
MAGIC = b"shora/v1/sealed\x00"
INFO_SIZE = len(MAGIC) + PUBLIC_KEY_SIZE + 8 + KEY_ID_SIZE  # 64: what RFC 9180 says every HPKE takes as info
ENC_SIZE = 32
AEAD_TAG_SIZE = 16
LENGTH_SIZE = 4
PLAINTEXT_SIZE = SEGMENT_SIZE - INFO_SIZE - ENC_SIZE - AEAD_TAG_SIZE - SIGNATURE_SIZE
CAPACITY = PLAINTEXT_SIZE - LENGTH_SIZE  # stream bytes one segment carries
INDEX_MAX = 2**63 - 1
BACKUP_KEY_SIZE = 32

_SIGNED_END = SEGMENT_SIZE - SIGNATURE_SIZE
_CT_START = INFO_SIZE + ENC_SIZE

# RFC 9180: suite ids of DHKEM(X25519, HKDF-SHA256) = 0x0020, HKDF-SHA256 = 0x0001, ChaCha20Poly1305 = 0x0003.
_KEM_SUITE = b"KEM\x00\x20"
_HPKE_SUITE = b"HPKE\x00\x20\x00\x01\x00\x03"
_HPKE_LABEL = b"HPKE-v1"


def _extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    """RFC 9180 LabeledExtract with HKDF-SHA256 (an empty salt is HMAC's all-zero key)."""
    return hmac.new(salt, _HPKE_LABEL + suite + label + ikm, hashlib.sha256).digest()


def _expand(suite: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    """RFC 9180 LabeledExpand with HKDF-SHA256, for at most one block (32 bytes)."""
    labeled = length.to_bytes(2, "big") + _HPKE_LABEL + suite + label + info
    return hmac.new(prk, labeled + b"\x01", hashlib.sha256).digest()[:length]


_PSK_ID_HASH = _extract(_HPKE_SUITE, b"", b"psk_id_hash", b"")


def key_schedule(dh: bytes, enc: bytes, recipient: bytes, info: bytes) -> tuple[bytes, bytes]:
    """The AEAD key and nonce of HPKE base mode's first (only) message: RFC 9180 §4.1 ExtractAndExpand of
    the X25519 output ``dh`` with ``enc || recipient``, then §5.1 KeySchedule with ``info``, no PSK."""
    eae_prk = _extract(_KEM_SUITE, b"", b"eae_prk", dh)
    shared_secret = _expand(_KEM_SUITE, eae_prk, b"shared_secret", enc + recipient, 32)
    context = b"\x00" + _PSK_ID_HASH + _extract(_HPKE_SUITE, b"", b"info_hash", info)
    secret = _extract(_HPKE_SUITE, shared_secret, b"secret", b"")
    return _expand(_HPKE_SUITE, secret, b"key", context, 32), _expand(
        _HPKE_SUITE, secret, b"base_nonce", context, 12
    )


class BackupKey:
    """The council's X25519 backup key pair. The secret lives in the recovery file (protocol.recovery) and
    wherever the operator keeps it; the node needs only ``public`` to seal."""

    __slots__ = ("_key", "public")

    def __init__(self, key: X25519PrivateKey) -> None:
        self._key = key
        self.public = key.public_key().public_bytes_raw()

    @classmethod
    def generate(cls) -> BackupKey:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_secret(cls, secret: bytes) -> BackupKey:
        if type(secret) is not bytes or len(secret) != BACKUP_KEY_SIZE:
            raise DecodeError("a backup secret is 32 bytes")
        return cls(X25519PrivateKey.from_private_bytes(secret))

    def secret(self) -> bytes:
        return self._key.private_bytes_raw()

    def exchange(self, enc: bytes) -> bytes:
        """X25519 with a segment's encapsulated key; a small-order key fails as ``segment-auth``."""
        try:
            return self._key.exchange(X25519PublicKey.from_public_bytes(enc))
        except ValueError as exc:
            raise VerificationError("segment-auth", "the segment's ephemeral key is not usable") from exc

    def __repr__(self) -> str:
        return f"BackupKey(public={self.public.hex()[:16]}…)"


@dataclass(frozen=True, slots=True)
class SegmentHeader:
    """The clear part of a segment: whose it is, where it goes in the stream, which key signed it."""

    council: bytes
    index: int
    key_id: bytes

    def __post_init__(self) -> None:
        if type(self.council) is not bytes or len(self.council) != PUBLIC_KEY_SIZE:
            raise DecodeError("a segment's council is a 32-byte log id")
        if type(self.index) is not int or not 0 <= self.index <= INDEX_MAX:
            raise DecodeError("a segment index is a non-negative int64")
        if type(self.key_id) is not bytes or len(self.key_id) != KEY_ID_SIZE:
            raise DecodeError("a segment's key id is 8 bytes")

    def encode(self) -> bytes:
        return MAGIC + self.council + self.index.to_bytes(8, "big") + self.key_id


def segment_digest(signed: bytes) -> bytes:
    """What a segment's signature signs (after the domain tag): SHA-256 of its first 65,472 bytes. A digest,
    not the bytes: Ed25519 hashes its message twice, and a segment is 64 KiB."""
    return hashlib.sha256(signed).digest()


def read_header(segment: bytes) -> SegmentHeader:
    """The clear header of a segment of the right size and format; nothing is verified yet."""
    if type(segment) is not bytes or len(segment) != SEGMENT_SIZE:
        raise VerificationError("segment-size", f"a sealed segment is exactly {SEGMENT_SIZE} bytes")
    if segment[: len(MAGIC)] != MAGIC:
        raise VerificationError("segment-format", "not a shora v1 sealed segment")
    index = int.from_bytes(segment[48:56], "big")
    if index > INDEX_MAX:
        raise VerificationError("segment-format", "a segment index is below 2**63")
    return SegmentHeader(segment[16:48], index, segment[56:INFO_SIZE])


def seal_segment(
    data: bytes,
    *,
    council: bytes,
    index: int,
    backup_public: bytes,
    signer: SigningKey,
    ephemeral: bytes | None = None,
) -> bytes:
    """Seal up to ``CAPACITY`` bytes of the backup stream as segment ``index`` of ``council``, encrypted to
    ``backup_public`` and signed by ``signer``. ``ephemeral`` (an X25519 secret) is for test vectors only:
    a segment's ephemeral key must never be used twice."""
    if type(data) is not bytes or len(data) > CAPACITY:
        raise VerificationError("segment-size", f"a segment carries at most {CAPACITY} bytes")
    if type(backup_public) is not bytes or len(backup_public) != BACKUP_KEY_SIZE:
        raise DecodeError("a backup public key is 32 bytes")
    info = SegmentHeader(council, index, signer.public.id).encode()
    if ephemeral is not None and (type(ephemeral) is not bytes or len(ephemeral) != BACKUP_KEY_SIZE):
        raise DecodeError("an ephemeral X25519 secret is 32 bytes")
    eph = X25519PrivateKey.generate() if ephemeral is None else X25519PrivateKey.from_private_bytes(ephemeral)
    enc = eph.public_key().public_bytes_raw()
    try:
        dh = eph.exchange(X25519PublicKey.from_public_bytes(backup_public))
    except ValueError as exc:
        raise DecodeError("the backup public key is not usable (small order)") from exc
    key, nonce = key_schedule(dh, enc, backup_public, info)
    plaintext = len(data).to_bytes(LENGTH_SIZE, "big") + data + bytes(CAPACITY - len(data))
    signed = info + enc + ChaCha20Poly1305(key).encrypt(nonce, plaintext, None)
    return signed + signer.sign(Domain.SEGMENT, segment_digest(signed))


def verify_segment(segment: bytes, *, council: bytes, index: int, keys: Iterable[PublicKey]) -> SegmentHeader:
    """What a peer can check without the backup secret: size, format, that the segment is ``council``'s
    segment ``index``, and that one of ``keys`` (the council's valid signing keys) signed it."""
    header = read_header(segment)
    if header.council != council:
        raise VerificationError("segment-council", "the segment belongs to another council")
    if header.index != index:
        raise VerificationError("segment-index", f"the segment is number {header.index}, not {index}")
    key = next((k for k in keys if k.id == header.key_id), None)
    if key is None:
        raise VerificationError("unknown-key", "the segment is signed by a key the council does not hold")
    try:
        key.verify(Domain.SEGMENT, segment_digest(segment[:_SIGNED_END]), segment[_SIGNED_END:])
    except VerificationError as exc:
        raise VerificationError("segment-signature", "the segment's signature does not verify") from exc
    return header


def open_segment(
    segment: bytes, *, council: bytes, index: int, keys: Iterable[PublicKey], backup: BackupKey
) -> bytes:
    """The stream bytes segment ``index`` of ``council`` carries, after ``verify_segment`` and decryption
    with the backup secret; ``segment-auth`` if it was not sealed to this backup key."""
    verify_segment(segment, council=council, index=index, keys=keys)
    enc = segment[INFO_SIZE:_CT_START]
    key, nonce = key_schedule(backup.exchange(enc), enc, backup.public, segment[:INFO_SIZE])
    try:
        plaintext = ChaCha20Poly1305(key).decrypt(nonce, segment[_CT_START:_SIGNED_END], None)
    except InvalidTag as exc:
        raise VerificationError("segment-auth", "the segment does not open with this backup key") from exc
    length = int.from_bytes(plaintext[:LENGTH_SIZE], "big")
    if length > CAPACITY or any(plaintext[LENGTH_SIZE + length :]):
        raise VerificationError("segment-padding", "the segment's length or padding is malformed")
    return plaintext[LENGTH_SIZE : LENGTH_SIZE + length]


# --- the stream -----------------------------------------------------------------------------------------


def split(stream: bytes) -> list[bytes]:
    """``stream`` cut into segment-sized pieces; an empty stream is one empty piece (a tick with nothing new
    still seals a segment)."""
    return [stream[i : i + CAPACITY] for i in range(0, len(stream), CAPACITY)] or [b""]


def tick_pieces(pending: bytes, count: int) -> tuple[list[bytes], bytes]:
    """What one tick of the backup schedule seals: exactly ``count`` pieces, taken in order from the stream
    bytes not sealed yet (empty pieces when there are fewer), and what is left for the next ticks. A fixed
    count per tick keeps a busy hour from showing as more segments."""
    if type(count) is not int or count < 1:
        raise DecodeError("a tick seals at least one segment")
    pieces = [pending[i * CAPACITY : (i + 1) * CAPACITY] for i in range(count)]
    return pieces, pending[count * CAPACITY :]


def seal_stream(
    stream: bytes, *, council: bytes, first_index: int, backup_public: bytes, signer: SigningKey
) -> list[bytes]:
    """Seal ``stream`` as segments ``first_index``, ``first_index + 1``, …, as many as it takes (a full
    backup; the schedule seals ``tick_pieces`` instead)."""
    return [
        seal_segment(
            piece, council=council, index=first_index + i, backup_public=backup_public, signer=signer
        )
        for i, piece in enumerate(split(stream))
    ]


def open_stream(
    segments: Sequence[bytes],
    *,
    council: bytes,
    keys: Sequence[PublicKey],
    backup: BackupKey,
    first_index: int = 0,
) -> bytes:
    """The stream carried by ``segments``, which must be segments ``first_index``, ``first_index + 1``, … of
    ``council`` in that order; any segment that fails names its step (and where it failed)."""
    return b"".join(
        open_segment(segment, council=council, index=first_index + i, keys=keys, backup=backup)
        for i, segment in enumerate(segments)
    )


# --- items of the stream --------------------------------------------------------------------------------

ITEM_RECORD = 1  # payload: canonical msgpack [header, signature, body] of one record entry
ITEM_DIRECTORY = 2  # payload: one member-directory row, canonical msgpack as the node defines it
ITEM_KINDS = frozenset({ITEM_RECORD, ITEM_DIRECTORY})
ITEM_MAX = 2**20  # bytes of one payload: an entry is at most 256 KiB of body and its header
_ITEM_HEAD = 5


def encode_items(items: Iterable[tuple[int, bytes]]) -> bytes:
    """The stream bytes of ``(kind, payload)`` items: kind (u8) || length (u32 big-endian) || payload."""
    out = bytearray()
    for kind, payload in items:
        if kind not in ITEM_KINDS or type(payload) is not bytes or len(payload) > ITEM_MAX:
            raise DecodeError(f"an item is a known kind with at most {ITEM_MAX} bytes")
        out += bytes([kind]) + len(payload).to_bytes(4, "big") + payload
    return bytes(out)


def decode_items(stream: bytes) -> list[tuple[int, bytes]]:
    """The items of a whole stream; ``stream-item`` for an unknown kind or oversize item, ``stream-truncated``
    if the stream ends inside an item (a segment is missing at the end)."""
    items: list[tuple[int, bytes]] = []
    at, end = 0, len(stream)
    while at < end:
        if end - at < _ITEM_HEAD:
            raise VerificationError("stream-truncated", "the stream ends inside an item's head")
        kind, length = stream[at], int.from_bytes(stream[at + 1 : at + _ITEM_HEAD], "big")
        if kind not in ITEM_KINDS or length > ITEM_MAX:
            raise VerificationError("stream-item", f"an item of unknown kind {kind} or {length} bytes")
        at += _ITEM_HEAD
        if end - at < length:
            raise VerificationError("stream-truncated", "the stream ends inside an item")
        items.append((kind, stream[at : at + length]))
        at += length
    return items
