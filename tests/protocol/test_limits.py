"""Every protocol limit and constant, pinned by its literal value (DESIGN.md §3).

The other tests derive sizes from these constants; here they are written out, so a change to the wire
format or a limit must change this file too. Where a limit is enforced, its edge is tried as well: the
value at the limit passes and one past it is refused, by the check that names it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from protocol import bundle, codec, entry, fork, httpsig, keys, merkle, note
from protocol.codec import Limits, decode, encode
from protocol.errors import DecodeError


def test_codec_constants() -> None:
    assert codec.INT64_MIN == -9_223_372_036_854_775_808
    assert codec.INT64_MAX == 9_223_372_036_854_775_807
    assert Limits(max_size=1_048_576, max_depth=16, max_length=10_000) == codec.DEFAULT_LIMITS


def test_entry_constants() -> None:
    assert entry.FORMAT_VERSION == 1
    assert entry.VISIBILITIES == ("public", "council")
    assert entry.SALT_SIZE == 16
    assert entry.SEQ_MAX == 9_223_372_036_854_775_807
    assert entry.TS_TOLERANCE_MS == 5_000
    assert Limits(max_size=256, max_depth=1, max_length=64) == entry.HEADER_LIMITS
    assert Limits(max_size=262_144, max_depth=8, max_length=100_000) == entry.BODY_LIMITS


def test_key_constants_and_domain_tags() -> None:
    assert (keys.PUBLIC_KEY_SIZE, keys.SIGNATURE_SIZE, keys.KEY_ID_SIZE) == (32, 64, 8)
    assert keys.ENTRY_TAG == b"shora/v1/entry\x00"
    assert keys.REQUEST_TAG == "shora/v1/request"
    assert keys.RECORD_TAG == b"shora/v1/record\x00"
    assert keys.SEGMENT_TAG == b"shora/v1/segment\x00"
    assert keys.Domain.ENTRY.prefix == b"shora/v1/entry\x00"
    assert keys.Domain.RECORD.prefix == b"shora/v1/record\x00"
    assert keys.Domain.SEGMENT.prefix == b"shora/v1/segment\x00"
    assert keys.Domain.MEMBER.prefix == b"shora/v1/member\x00"
    assert keys.Domain.NOTE.prefix == keys.Domain.REQUEST.prefix == b""
    assert [d.value for d in keys.Domain] == ["entry", "record", "segment", "member", "note", "request"]


def test_merkle_constants() -> None:
    assert merkle.HASH_SIZE == 32
    assert merkle.MAX_TREE_SIZE == 9_223_372_036_854_775_807
    assert merkle.EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle.leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    # SHA-256(0x01 || 64 zero bytes)
    assert merkle.node_hash(bytes(32), bytes(32)).hex() == (
        "ae0798d0ecaed2b778eddebf18f071a561c53658c05e76cedecc27cafbdbc577"
    )


def test_note_constants() -> None:
    assert note.MAX_NOTE_SIZE == 1_048_576
    assert note.MAX_SIGNATURES == 100
    assert (note.NOTE_KEY_ID_SIZE, note.HASH_SIZE, note.TIMESTAMP_SIZE) == (4, 32, 8)
    assert note.LOG_ORIGIN_PREFIX == "shora/"
    assert note.WITNESS_NAME_PREFIX == "shora-witness/"
    assert note.COSIGNATURE_HEADER == b"cosignature/v1\n"
    assert (int(note.KeyKind.ED25519), int(note.KeyKind.COSIGNATURE_V1)) == (0x01, 0x04)
    assert note.log_origin(bytes(32)) == "shora/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


def test_bundle_and_fork_constants() -> None:
    assert bundle.BUNDLE_VERSION == 1
    assert bundle.KEY_KIND == "log/key"
    assert bundle.FOUNDING_KIND == "council/found"
    assert Limits(max_size=2_097_152, max_depth=4, max_length=300_000) == bundle.BUNDLE_LIMITS
    assert (bundle.MAX_PROOF, bundle.MAX_KEYS) == (64, 64)
    assert fork.FORK_VERSION == 1
    assert fork.FORK_KINDS == ("entries", "checkpoints")
    assert Limits(max_size=131_072, max_depth=5, max_length=65_536) == fork.FORK_LIMITS


def test_request_signature_constants() -> None:
    assert httpsig.LABEL == "shora"
    assert httpsig.ALGORITHM == "ed25519"
    assert httpsig.COMPONENTS == (
        "@method",
        "@authority",
        "@path",
        "@query",
        "content-digest",
        "shora-recipient",
    )
    assert httpsig.PARAMETERS == ("created", "nonce", "keyid", "alg", "tag")
    assert httpsig.MAX_HEADER_SIZE == 4_096
    assert (httpsig.MIN_NONCE_BYTES, httpsig.MAX_NONCE_BYTES) == (16, 64)
    assert httpsig.DEFAULT_WINDOW == 120


# --- the limits at their edges -------------------------------------------------------------------------


def _nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def test_default_decode_size_edge() -> None:
    at_limit = encode(b"x" * 1_048_571)  # bin32: 5 bytes of header
    assert len(at_limit) == 1_048_576
    assert decode(at_limit, Limits(max_length=2_000_000)) == b"x" * 1_048_571
    with pytest.raises(DecodeError, match=r"^input of 1048577 bytes exceeds the limit of 1048576"):
        decode(encode(b"x" * 1_048_572), Limits(max_length=2_000_000))


def test_default_depth_edge() -> None:
    assert decode(encode(_nested(16))) == _nested(16)
    with pytest.raises(DecodeError, match=r"^nesting deeper than 16"):
        decode(b"\x91" * 17 + b"\x00")


def test_default_length_edge() -> None:
    assert decode(encode(list(range(10_000)))) == list(range(10_000))
    with pytest.raises(DecodeError, match=r"^malformed msgpack: 10001 exceeds max_array_len\(10000\)"):
        decode(encode(list(range(10_001))))


@pytest.mark.parametrize(
    ("limits", "depth", "length"),
    [
        pytest.param(entry.HEADER_LIMITS, 1, 64, id="header"),
        pytest.param(entry.BODY_LIMITS, 8, 100_000, id="body"),
        pytest.param(fork.FORK_LIMITS, 5, 65_536, id="fork"),
        pytest.param(bundle.BUNDLE_LIMITS, 4, 300_000, id="bundle"),
    ],
)
def test_each_format_limits_depth_and_length(limits: Limits, depth: int, length: int) -> None:
    assert decode(encode(_nested(depth)), limits) == _nested(depth)
    with pytest.raises(DecodeError, match=f"^nesting deeper than {depth}"):
        decode(b"\x91" * (depth + 1) + b"\x00", limits)
    assert decode(encode("a" * min(length, limits.max_size - 5)), limits)
    if length + 5 <= limits.max_size:
        with pytest.raises(DecodeError, match=f"^malformed msgpack: {length + 1} exceeds max_str_len"):
            decode(encode("a" * (length + 1)), limits)


# --- verified values stay as verified ------------------------------------------------------------------

VALUE_CLASSES = [
    bundle.ProvenEntry,
    bundle.Bundle,
    bundle.VerifiedEntry,
    codec.Limits,
    entry.Header,
    entry.Entry,
    entry.Unsigned,
    fork.ForkProof,
    httpsig.VerifiedRequest,
    keys.PublicKey,
    note.VerifierKey,
    note.NoteSignature,
    note.Note,
    note.VerifiedNote,
    note.Checkpoint,
    note.SignedCheckpoint,
    note.Cosignature,
]


@pytest.mark.parametrize("cls", VALUE_CLASSES, ids=lambda cls: cls.__name__)
def test_protocol_values_are_frozen_and_slotted(cls: type) -> None:
    """A value checked when it was built cannot be changed afterwards (frozen), and values held by the
    thousand (entries, headers, signatures) carry no per-instance dict (slots)."""
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen
    assert "__slots__" in cls.__dict__


def test_an_entry_takes_no_header_or_id_from_its_caller() -> None:
    """``header`` and ``id`` are computed from the header bytes, never passed in."""
    made = entry.sign_entry(
        keys.SigningKey.from_seed(bytes(32)),
        log_id=keys.SigningKey.from_seed(bytes(32)).public.raw,
        seq=0,
        prev=None,
        ts_ms=1,
        vis="public",
        body={"kind": "k"},
    )
    with pytest.raises(TypeError):
        entry.Entry(made.header_bytes, made.signature, made.body_bytes, made.header)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        entry.Entry(made.header_bytes, made.signature, id=made.id)  # type: ignore[call-arg]
    # and dataclasses.replace, which passes every constructor field again, builds it anew from its bytes
    bare = dataclasses.replace(made, body_bytes=None)
    assert bare == made.without_body() and bare.id == made.id and bare.header == made.header
    with pytest.raises(DecodeError):
        dataclasses.replace(made, header_bytes=made.header_bytes + b"\x00")
