"""Log entries: a signed header, and a body bound to it by hash (DESIGN.md §3).

    header    = canonical msgpack array [1, log_id, seq, prev, ts_ms, vis, body_hash, key_id]
    signature = Ed25519 over b"shora/v1/entry\\0" + header bytes
    entry id  = SHA-256(0x00 || header bytes)      (the RFC 9162 leaf hash)
    body      = canonical msgpack map with "kind"; a "council" body carries a random 16-byte "salt"

An ``Entry`` is built from the bytes that were received and keeps them: the signature is checked over
those bytes, never over a re-encoding, and the id is computed from them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

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
        # Checked for every entry received, so written out flat: locals, no helper call per rule.
        log_id, seq, prev, ts_ms = self.log_id, self.seq, self.prev, self.ts_ms
        if not isinstance(log_id, bytes) or len(log_id) != PUBLIC_KEY_SIZE:
            raise DecodeError("header: log_id is 32 bytes")
        if not isinstance(seq, int) or type(seq) is bool or not 0 <= seq <= SEQ_MAX:
            raise DecodeError("header: seq is a non-negative int64")
        if seq == 0:
            if prev is not None:
                raise DecodeError("header: the first entry has no prev")
        elif not isinstance(prev, bytes) or len(prev) != HASH_SIZE:
            raise DecodeError("header: prev is a 32-byte id")
        if not isinstance(ts_ms, int) or type(ts_ms) is bool or not 0 <= ts_ms <= SEQ_MAX:
            raise DecodeError("header: ts_ms is a non-negative int64")
        if self.vis not in VISIBILITIES:
            raise DecodeError("header: vis is 'public' or 'council'")
        if not isinstance(self.body_hash, bytes) or len(self.body_hash) != HASH_SIZE:
            raise DecodeError("header: body_hash is 32 bytes")
        if not isinstance(self.key_id, bytes) or len(self.key_id) != KEY_ID_SIZE:
            raise DecodeError("header: key_id is 8 bytes")

    def encode(self) -> bytes:
        fields = [FORMAT_VERSION, self.log_id, self.seq, self.prev, self.ts_ms, self.vis]
        return codec.encode([*fields, self.body_hash, self.key_id])

    @classmethod
    def decode(cls, data: bytes) -> Header:
        match = _CANONICAL_HEADER.fullmatch(data) if type(data) is bytes else None
        if match is not None:
            # The layout has checked every field's type, size and range; what it cannot see is whether
            # ``prev`` is present exactly when ``seq`` is not 0. Built without ``__post_init__``, which
            # would check it all again: this runs for every entry received and every entry served.
            log_id, seq, prev, ts_ms, vis, body_hash, key_id = match.groups()
            number = seq[0] if len(seq) == 1 else int.from_bytes(seq[1:], "big")
            if number == 0:
                if prev != b"\xc0":
                    raise DecodeError("header: the first entry has no prev")
                link = None
            elif prev == b"\xc0":
                raise DecodeError("header: prev is a 32-byte id")
            else:
                link = prev[2:]
            header = _new_header(cls)
            _SET_LOG_ID(header, log_id)
            _SET_SEQ(header, number)
            _SET_PREV(header, link)
            _SET_TS_MS(header, ts_ms[0] if len(ts_ms) == 1 else int.from_bytes(ts_ms[1:], "big"))
            _SET_VIS(header, "public" if vis == b"\xa6public" else "council")
            _SET_BODY_HASH(header, body_hash)
            _SET_KEY_ID(header, key_id)
            return header
        # Not the canonical layout: the generic decoder finds what is wrong (or what we did not expect).
        fields = codec.decode(data, HEADER_LIMITS)
        if type(fields) is not list or len(fields) != 8:
            raise DecodeError("a header is an array of 8 fields")
        version, *values = fields
        if type(version) is not int or version != FORMAT_VERSION:  # decoded values have exact types
            raise DecodeError(f"unknown header format {version!r}")
        return cls(*values)


# A canonical header has a single layout (docs/protocol.md §4.1), so it is matched as bytes instead of
# decoded as msgpack. An int is accepted only in its smallest form, as a non-negative int64.
_UINT = rb"""(
      [\x00-\x7f]                                 # positive fixint
    | \xcc [\x80-\xff]                            # uint8, 128 and up
    | \xcd [\x01-\xff] .                          # uint16, 256 and up
    | \xce (?: [\x01-\xff] . | \x00 [\x01-\xff] ) ..  # uint32, 65536 and up
    | \xcf (?! \x00{4} ) [\x00-\x7f] .{7}          # uint64, 2**32 up to 2**63 - 1
)"""
_CANONICAL_HEADER = re.compile(
    rb"""
    \x98 \x01                     # array of 8; version 1
    \xc4\x20 (.{32})              # log_id: bin 32
    """
    + _UINT  # seq
    + rb"""
    ( \xc0 | \xc4\x20 .{32} )      # prev: nil or bin 32
    """
    + _UINT  # ts_ms
    + rb"""
    ( \xa6public | \xa7council )   # vis
    \xc4\x20 (.{32})              # body_hash: bin 32
    \xc4\x08 (.{8})               # key_id: bin 8
    """,
    re.DOTALL | re.VERBOSE,
)


# A frozen dataclass's fields set through their slots: how ``Header.decode`` builds what it matched.
_new_header = object.__new__
_SET_LOG_ID, _SET_SEQ, _SET_PREV, _SET_TS_MS, _SET_VIS, _SET_BODY_HASH, _SET_KEY_ID = (
    getattr(Header, f.name).__set__ for f in dataclasses.fields(Header)
)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _check_body(body_bytes: bytes, header: Header, salted: bool) -> None:
    if len(body_bytes) > BODY_LIMITS.max_size:
        raise DecodeError("body exceeds the size limit")
    if sha256(body_bytes) != header.body_hash:
        raise VerificationError("body-hash", "the body does not match the header's body_hash")
    check_body_shape(codec.decode(body_bytes, BODY_LIMITS), header.vis, salted=salted)


def encode_body(body: dict[str, Any], vis: Visibility, *, salted: bool = False) -> bytes:
    """Canonical bytes of a body, after checking its shape for ``vis``."""
    data = codec.encode(body)
    check_body_shape(codec.decode(data, BODY_LIMITS), vis, salted=salted)
    return data


def check_body_shape(body: object, vis: str, *, salted: bool = False) -> dict[str, Any]:
    """``body`` is a body for ``vis``: a council body carries a salt, a public one none — unless ``salted``
    (the record's rule, protocol.record), where every body carries one."""
    if not isinstance(body, dict) or not isinstance(body.get("kind"), str) or not body["kind"]:
        raise DecodeError("a body is a map with a non-empty text 'kind'")
    salt = body.get("salt")
    if vis == "council" or salted:
        if not isinstance(salt, bytes) or len(salt) != SALT_SIZE:
            raise DecodeError("a council-visibility body, and every record body, carries a 16-byte salt")
    elif "salt" in body:
        raise DecodeError("a public body carries no salt")
    return body


@dataclass(frozen=True, slots=True)
class Entry:
    """An entry as received: exact header bytes, signature, and the body bytes if we may see them.

    ``DOMAIN`` and ``SALTED`` say which log's rules apply: a public log's here; the council's record
    (``protocol.record.RecordEntry``) overrides both."""

    DOMAIN: ClassVar[Domain] = Domain.ENTRY
    SALTED: ClassVar[bool] = False

    header_bytes: bytes
    signature: bytes
    body_bytes: bytes | None
    header: Header = dataclasses.field(init=False)
    id: bytes = dataclasses.field(init=False)

    def __init__(self, header_bytes: bytes, signature: bytes, body_bytes: bytes | None = None) -> None:
        # Every entry received is built here, so its fields are set through their slots: a frozen
        # dataclass's own ``__init__`` would go through ``object.__setattr__`` once per field.
        if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
            raise DecodeError("an entry signature is 64 bytes")
        if not isinstance(header_bytes, bytes):
            raise DecodeError("header bytes expected")
        if body_bytes is not None and not isinstance(body_bytes, bytes):
            raise DecodeError("body bytes expected")
        header = Header.decode(header_bytes)
        if body_bytes is not None:
            _check_body(body_bytes, header, self.SALTED)
        _SET_HEADER_BYTES(self, header_bytes)
        _SET_SIGNATURE(self, signature)
        _SET_BODY_BYTES(self, body_bytes)
        _SET_HEADER(self, header)
        _SET_ID(self, leaf_hash(header_bytes))

    @classmethod
    def stored(cls, header_bytes: bytes, signature: bytes, body_bytes: bytes | None = None) -> Entry:
        """An entry read back from our own store, where its body was checked when it was appended: the
        header is decoded (and its id computed) as always, the body is not checked a second time. Only for
        bytes this node stored itself; anything received goes through the constructor."""
        header = Header.decode(header_bytes)
        return cls._assembled(header_bytes, signature, body_bytes, header, leaf_hash(header_bytes))

    @classmethod
    def _assembled(
        cls, header_bytes: bytes, signature: bytes, body_bytes: bytes | None, header: Header, entry_id: bytes
    ) -> Entry:
        """An entry from parts its caller has already checked (``stored``, ``Unsigned.signed``)."""
        entry = _new_entry(cls)
        _SET_HEADER_BYTES(entry, header_bytes)
        _SET_SIGNATURE(entry, signature)
        _SET_BODY_BYTES(entry, body_bytes)
        _SET_HEADER(entry, header)
        _SET_ID(entry, entry_id)
        return entry

    @property
    def seq(self) -> int:
        return self.header.seq

    def check_body(self) -> None:
        """The body matches the header's hash and is a canonical body for its visibility."""
        if self.body_bytes is None:
            raise VerificationError("body-hash", "the entry has no body")
        _check_body(self.body_bytes, self.header, self.SALTED)

    def body(self) -> dict[str, Any]:
        """A fresh copy of the body, which the constructor has checked."""
        if self.body_bytes is None:
            raise VerificationError("body-hash", "the entry has no body")
        return codec.decoded_again(self.body_bytes)  # type: ignore[no-any-return]

    def verify_signature(self, key: PublicKey, *, backend: str | None = None) -> None:
        """The signature is ``key``'s over the received header bytes, and the header names ``key``."""
        if self.header.key_id != key.id:
            raise VerificationError("unknown-key", "the header names a different signing key")
        key.verify(self.DOMAIN, self.header_bytes, self.signature, backend=backend)

    def without_body(self) -> Entry:
        return type(self)(self.header_bytes, self.signature)

    def parts(self) -> EntryParts:
        """What ``from_parts`` rebuilds this entry from without decoding or checking anything again: how a
        process of this node that checked an entry hands it to another (``federation.replica.offload``)."""
        h = self.header
        return (
            *(self.header_bytes, self.signature, self.body_bytes, self.id),
            *(h.log_id, h.seq, h.prev, h.ts_ms, h.vis, h.body_hash, h.key_id),
        )


# An entry's fields set through their slots (``Entry.__init__``, ``Entry._assembled``).
_new_entry = object.__new__
_SET_HEADER_BYTES, _SET_SIGNATURE, _SET_BODY_BYTES, _SET_HEADER, _SET_ID = (
    getattr(Entry, f.name).__set__ for f in dataclasses.fields(Entry)
)

# ``Entry.parts``: header bytes, signature, body bytes, id, then the header's fields in order.
EntryParts = tuple[bytes, bytes, bytes | None, bytes, bytes, int, bytes | None, int, str, bytes, bytes]


def from_parts(rows: Iterable[EntryParts]) -> list[Entry]:
    """The entries whose ``Entry.parts`` are ``rows``, rebuilt as a public log's ``Entry`` (what pages carry)
    with nothing decoded or checked again. Only for parts a process of this node made from entries it
    checked (as ``Entry.stored`` is only for our own store); anything received from outside goes through
    ``Entry``. Runs for every entry of a pulled page, hence the locals."""
    new_entry, new_header = _new_entry, _new_header
    set_log_id, set_seq, set_prev, set_ts_ms = _SET_LOG_ID, _SET_SEQ, _SET_PREV, _SET_TS_MS
    set_vis, set_body_hash, set_key_id = _SET_VIS, _SET_BODY_HASH, _SET_KEY_ID
    set_header_bytes, set_signature, set_body_bytes = _SET_HEADER_BYTES, _SET_SIGNATURE, _SET_BODY_BYTES
    set_header, set_id = _SET_HEADER, _SET_ID
    entries = []
    for header_bytes, signature, body, entry_id, log_id, seq, prev, ts_ms, vis, body_hash, key_id in rows:
        header = new_header(Header)
        set_log_id(header, log_id)
        set_seq(header, seq)
        set_prev(header, prev)
        set_ts_ms(header, ts_ms)
        set_vis(header, vis)
        set_body_hash(header, body_hash)
        set_key_id(header, key_id)
        entry = new_entry(Entry)
        set_header_bytes(entry, header_bytes)
        set_signature(entry, signature)
        set_body_bytes(entry, body)
        set_header(entry, header)
        set_id(entry, entry_id)
        entries.append(entry)
    return entries


@dataclass(frozen=True, slots=True)
class Unsigned:
    """An entry built and checked but not signed yet: ``header_bytes`` is what its signer signs. Lets a
    writer lay out a run of entries (each ``prev`` is the id before it, which needs no signature) and sign
    them afterwards, on as many threads as it likes."""

    header: Header
    header_bytes: bytes
    body_bytes: bytes
    id: bytes
    entry_type: type[Entry] = Entry  # which log's entry it becomes, and so the domain it is signed in

    @property
    def seq(self) -> int:
        return self.header.seq

    def signed(self, signature: bytes) -> Entry:
        """The entry with ``signature``, made over ``header_bytes`` by the key the header names. The header
        and body were built and checked here, so they are not decoded again."""
        if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
            raise DecodeError("an entry signature is 64 bytes")
        return self.entry_type._assembled(self.header_bytes, signature, self.body_bytes, self.header, self.id)


def prepare_entry(
    key_id: bytes,
    *,
    log_id: bytes,
    seq: int,
    prev: bytes | None,
    ts_ms: int,
    vis: Visibility,
    body: dict[str, Any],
    entry_type: type[Entry] = Entry,
) -> Unsigned:
    """Build an entry for the key ``key_id`` to sign (as an ``entry_type``: a public log's by default).
    Council bodies must already carry their salt (the caller owns randomness)."""
    body_bytes = encode_body(body, vis, salted=entry_type.SALTED)
    header = Header(log_id, seq, prev, ts_ms, vis, sha256(body_bytes), key_id)
    header_bytes = header.encode()
    return Unsigned(header, header_bytes, body_bytes, leaf_hash(header_bytes), entry_type)


def sign_entry(key: SigningKey, **fields: Any) -> Entry:
    """Build (from the ``prepare_entry`` fields) and sign an entry: one entry at a time, in one thread."""
    unsigned = prepare_entry(key.public.id, **fields)
    return unsigned.signed(key.sign(unsigned.entry_type.DOMAIN, unsigned.header_bytes))


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
