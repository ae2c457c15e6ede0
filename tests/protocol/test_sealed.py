"""Sealed backup segments (protocol.sealed; docs/protocol.md §11): one fixed size whatever they carry, opened
only with the backup secret, bound to their council and index, signed by the council."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import DecodeError, VerificationError
from protocol.keys import Domain, SigningKey
from protocol.sealed import (
    CAPACITY,
    INFO_SIZE,
    ITEM_DIRECTORY,
    ITEM_MAX,
    ITEM_RECORD,
    MAGIC,
    PLAINTEXT_SIZE,
    SEGMENT_SIZE,
    BackupKey,
    SegmentHeader,
    decode_items,
    encode_items,
    open_segment,
    open_stream,
    read_header,
    seal_segment,
    seal_stream,
    segment_digest,
    split,
    tick_pieces,
    verify_segment,
)

COUNCIL = SigningKey.from_seed(bytes([1]) * 32)
DELEGATE = SigningKey.from_seed(bytes([2]) * 32)
PEER = SigningKey.from_seed(bytes([7]) * 32)
BACKUP = BackupKey.from_secret(bytes([9]) * 32)
OTHER_BACKUP = BackupKey.from_secret(bytes([10]) * 32)
ID = COUNCIL.public.raw
KEYS = [COUNCIL.public, DELEGATE.public]
DATA = b"a record entry and a directory row" * 10


def seal(
    data: bytes = DATA, *, index: int = 3, signer: SigningKey = COUNCIL, backup: bytes = BACKUP.public
) -> bytes:
    return seal_segment(data, council=ID, index=index, backup_public=backup, signer=signer)


def open_(segment: bytes, *, index: int = 3, backup: BackupKey = BACKUP) -> bytes:
    return open_segment(segment, council=ID, index=index, keys=KEYS, backup=backup)


SEGMENT = seal()


def hpke_seal(plaintext: bytes, *, index: int = 3, signer: SigningKey = COUNCIL) -> bytes:
    """A segment sealed by cryptography's own RFC 9180 implementation: an independent sealer."""
    hpke = pytest.importorskip("cryptography.hazmat.primitives.hpke")
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
    info = SegmentHeader(ID, index, signer.public.id).encode()
    signed = info + suite.encrypt(plaintext, X25519PublicKey.from_public_bytes(BACKUP.public), info=info)
    return signed + signer.sign(Domain.SEGMENT, segment_digest(signed))


def test_the_segment_layout_is_pinned() -> None:
    assert (SEGMENT_SIZE, INFO_SIZE, PLAINTEXT_SIZE, CAPACITY) == (65_536, 64, 65_360, 65_356)
    assert MAGIC == b"shora/v1/sealed\x00"
    header = read_header(SEGMENT)
    assert header == SegmentHeader(ID, 3, COUNCIL.public.id)
    assert SEGMENT[:INFO_SIZE] == MAGIC + ID + (3).to_bytes(8, "big") + COUNCIL.public.id


@pytest.mark.parametrize("size", [0, 1, 1000, CAPACITY - 1, CAPACITY])
def test_round_trip_at_every_size_is_one_size(size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    segment = seal(data)
    assert len(segment) == SEGMENT_SIZE
    assert open_(segment) == data


def test_a_delegated_key_may_seal_and_the_ephemeral_key_is_fresh() -> None:
    a, b = seal(signer=DELEGATE), seal(signer=DELEGATE)
    assert a[INFO_SIZE:] != b[INFO_SIZE:]
    assert open_(a) == open_(b) == DATA


def test_cryptography_hpke_opens_our_segment_and_we_open_its() -> None:
    hpke = pytest.importorskip("cryptography.hazmat.primitives.hpke")
    suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    plaintext = suite.decrypt(
        SEGMENT[INFO_SIZE:-64], X25519PrivateKey.from_private_bytes(BACKUP.secret()), info=SEGMENT[:INFO_SIZE]
    )
    assert plaintext == len(DATA).to_bytes(4, "big") + DATA + bytes(CAPACITY - len(DATA))
    assert open_(hpke_seal(plaintext)) == DATA


def test_a_peer_verifies_without_the_secret() -> None:
    assert verify_segment(SEGMENT, council=ID, index=3, keys=[COUNCIL.public]) == read_header(SEGMENT)


def _flip(segment: bytes, at: int) -> bytes:
    return segment[:at] + bytes([segment[at] ^ 1]) + segment[at + 1 :]


def _resigned(segment: bytes, signer: SigningKey = COUNCIL) -> bytes:
    return segment[:-64] + signer.sign(Domain.SEGMENT, segment_digest(segment[:-64]))


def _rewrite_index(segment: bytes, index: int) -> bytes:
    return segment[:48] + index.to_bytes(8, "big") + segment[56:]


ATTACKS: dict[str, tuple[Callable[[], object], str]] = {
    "segment_replayed_other_index": (lambda: open_(SEGMENT, index=4), "segment-index"),
    "segment_other_council": (
        lambda: open_segment(SEGMENT, council=PEER.public.raw, index=3, keys=KEYS, backup=BACKUP),
        "segment-council",
    ),
    "segment_truncated": (lambda: open_(SEGMENT[:-1]), "segment-size"),
    "segment_extended": (lambda: open_(SEGMENT + b"\x00"), "segment-size"),
    "segment_empty_blob": (lambda: open_(b""), "segment-size"),
    "segment_bad_magic": (lambda: open_(b"X" + SEGMENT[1:]), "segment-format"),
    "segment_index_overflow": (lambda: open_(_rewrite_index(SEGMENT, 2**63)), "segment-format"),
    "segment_bitflip_ciphertext": (lambda: open_(_flip(SEGMENT, 1000)), "segment-signature"),
    "segment_bitflip_enc": (lambda: open_(_flip(SEGMENT, INFO_SIZE)), "segment-signature"),
    "segment_bitflip_signature": (lambda: open_(_flip(SEGMENT, SEGMENT_SIZE - 1)), "segment-signature"),
    "segment_index_rewritten": (lambda: open_(_rewrite_index(SEGMENT, 4), index=4), "segment-signature"),
    "segment_unknown_signer": (lambda: open_(seal(signer=PEER)), "unknown-key"),
    "segment_peer_signs_as_council": (
        lambda: open_(_resigned(seal(signer=COUNCIL), PEER)),
        "segment-signature",
    ),
    "segment_other_backup_key": (lambda: open_(seal(backup=OTHER_BACKUP.public)), "segment-auth"),
    "segment_opened_by_peer_key": (lambda: open_(SEGMENT, backup=OTHER_BACKUP), "segment-auth"),
    # a council key that signs what it did not seal properly: the AEAD still refuses
    "segment_resigned_bitflip": (lambda: open_(_resigned(_flip(SEGMENT, 1000))), "segment-auth"),
    "segment_small_order_enc": (
        lambda: open_(_resigned(SEGMENT[:INFO_SIZE] + bytes(32) + SEGMENT[INFO_SIZE + 32 :])),
        "segment-auth",
    ),
    "segment_length_beyond_capacity": (
        lambda: open_(hpke_seal((CAPACITY + 1).to_bytes(4, "big") + bytes(CAPACITY))),
        "segment-padding",
    ),
    "segment_padding_not_zero": (
        lambda: open_(hpke_seal((1).to_bytes(4, "big") + b"a" + bytes(CAPACITY - 2) + b"\x01")),
        "segment-padding",
    ),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_is_refused_with_its_step(name: str) -> None:
    run, step = ATTACKS[name]
    with pytest.raises(VerificationError) as info:
        run()
    assert info.value.step == step, info.value


@pytest.mark.parametrize(
    "call",
    [
        lambda: seal(bytes(CAPACITY + 1)),
        lambda: seal(index=-1),
        lambda: seal(index=2**63),
        lambda: seal(backup=b"short"),
        lambda: seal(backup=bytes(32)),  # the all-zero (small-order) X25519 key
        lambda: BackupKey.from_secret(b"short"),
    ],
    ids=[
        "over-capacity",
        "negative-index",
        "index-overflow",
        "short-backup-key",
        "small-order-backup-key",
        "short-secret",
    ],
)
def test_sealing_refuses_bad_input(call: Callable[[], object]) -> None:
    with pytest.raises((DecodeError, VerificationError)):
        call()


# --- the stream -----------------------------------------------------------------------------------------


def test_an_empty_tick_still_seals_one_segment() -> None:
    assert split(b"") == [b""]
    (segment,) = seal_stream(b"", council=ID, first_index=9, backup_public=BACKUP.public, signer=COUNCIL)
    assert len(segment) == SEGMENT_SIZE and open_(segment, index=9) == b""


@settings(max_examples=25, deadline=None)
@given(stream=st.binary(max_size=3 * CAPACITY + 10), first=st.integers(0, 2**63 - 8))
def test_stream_round_trip_in_fixed_size_segments(stream: bytes, first: int) -> None:
    segments = seal_stream(stream, council=ID, first_index=first, backup_public=BACKUP.public, signer=COUNCIL)
    assert len(segments) == max(1, -(-len(stream) // CAPACITY))
    assert all(len(segment) == SEGMENT_SIZE for segment in segments)
    assert [read_header(s).index for s in segments] == list(range(first, first + len(segments)))
    assert open_stream(segments, council=ID, keys=KEYS, backup=BACKUP, first_index=first) == stream


@settings(max_examples=50, deadline=None)
@given(pending=st.binary(max_size=4 * CAPACITY), count=st.integers(1, 3))
def test_a_tick_seals_a_fixed_count_and_carries_the_rest(pending: bytes, count: int) -> None:
    pieces, rest = tick_pieces(pending, count)
    assert len(pieces) == count and all(len(p) <= CAPACITY for p in pieces)
    assert b"".join(pieces) + rest == pending
    assert rest == b"" or all(len(p) == CAPACITY for p in pieces)


def test_a_tick_seals_at_least_one_segment() -> None:
    with pytest.raises(DecodeError, match=r"^a tick seals at least one segment$"):
        tick_pieces(b"", 0)


STREAM = bytes(range(256)) * 600  # three segments
SEGMENTS = seal_stream(STREAM, council=ID, first_index=0, backup_public=BACKUP.public, signer=COUNCIL)


@pytest.mark.parametrize(
    ("segments", "step"),
    [
        ([SEGMENTS[0], SEGMENTS[2]], "segment-index"),
        ([SEGMENTS[1], SEGMENTS[0], SEGMENTS[2]], "segment-index"),
        ([SEGMENTS[0], SEGMENTS[0]], "segment-index"),
        ([SEGMENTS[0], _flip(SEGMENTS[1], 5000), SEGMENTS[2]], "segment-signature"),
    ],
    ids=["stream_segment_missing", "stream_reordered", "stream_segment_repeated", "stream_segment_corrupted"],
)
def test_stream_refuses_a_broken_run(segments: list[bytes], step: str) -> None:
    with pytest.raises(VerificationError) as info:
        open_stream(segments, council=ID, keys=KEYS, backup=BACKUP)
    assert info.value.step == step


# --- items ----------------------------------------------------------------------------------------------

_items = st.lists(
    st.tuples(st.sampled_from([ITEM_RECORD, ITEM_DIRECTORY]), st.binary(max_size=300)), max_size=20
)


@settings(max_examples=100, deadline=None)
@given(items=_items)
def test_items_round_trip(items: list[tuple[int, bytes]]) -> None:
    assert decode_items(encode_items(items)) == items


def test_items_straddle_segments() -> None:
    items = [(ITEM_RECORD, bytes([i % 256]) * 380) for i in range(400)]  # ~150 kB: three segments
    segments = seal_stream(
        encode_items(items), council=ID, first_index=0, backup_public=BACKUP.public, signer=COUNCIL
    )
    assert len(segments) == 3
    assert decode_items(open_stream(segments, council=ID, keys=KEYS, backup=BACKUP)) == items
    with pytest.raises(VerificationError) as info:
        decode_items(open_stream(segments[:2], council=ID, keys=KEYS, backup=BACKUP))
    assert info.value.step == "stream-truncated"


ENCODED = encode_items([(ITEM_RECORD, b"abc"), (ITEM_DIRECTORY, b"de")])


@pytest.mark.parametrize(
    ("stream", "step"),
    [
        (ENCODED[:-1], "stream-truncated"),
        (ENCODED[:3], "stream-truncated"),
        (ENCODED + b"\x01\x00", "stream-truncated"),
        (b"\x03\x00\x00\x00\x00", "stream-item"),
        (b"\x01" + (ITEM_MAX + 1).to_bytes(4, "big"), "stream-item"),
    ],
    ids=["item_truncated", "head_truncated", "trailing_head", "unknown_kind", "oversize_item"],
)
def test_items_refuse_bad_streams(stream: bytes, step: str) -> None:
    with pytest.raises(VerificationError) as info:
        decode_items(stream)
    assert info.value.step == step


@pytest.mark.parametrize(
    "item", [(3, b""), (ITEM_RECORD, bytes(ITEM_MAX + 1))], ids=["unknown-kind", "oversize"]
)
def test_encode_items_refuses_bad_items(item: tuple[int, bytes]) -> None:
    with pytest.raises(DecodeError, match=r"^an item is a known kind with at most \d+ bytes$"):
        encode_items([item])
