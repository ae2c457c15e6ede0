"""Log entries: signed headers bound to bodies, the attacks on them by name, and chaining."""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import codec
from protocol import entry as entry_module
from protocol.entry import (
    HEADER_LIMITS,
    TS_TOLERANCE_MS,
    Entry,
    Header,
    encode_body,
    from_parts,
    prepare_entry,
    sign_entry,
    verify_follows,
)
from protocol.errors import DecodeError, VerificationError
from protocol.keys import BACKENDS, Domain, SigningKey
from tests.protocol.strategies import canonical_text

KEY = SigningKey.from_seed(bytes(range(32)))
OTHER_KEY = SigningKey.from_seed(bytes(range(1, 33)))
LOG_ID = KEY.public.raw
OTHER_LOG_ID = OTHER_KEY.public.raw
SALT = bytes(range(16))
T0 = 1_700_000_000_000

backends = pytest.mark.parametrize("backend", sorted(BACKENDS))


def make(
    seq: int = 0,
    prev: bytes | None = None,
    *,
    ts_ms: int = T0,
    vis: Any = "public",
    body: dict[str, Any] | None = None,
    key: SigningKey = KEY,
    log_id: bytes = LOG_ID,
) -> Entry:
    if body is None:
        body = {"kind": "motion", "text": "بودجه"} if vis == "public" else {"kind": "vote", "salt": SALT}
    return sign_entry(key, log_id=log_id, seq=seq, prev=prev, ts_ms=ts_ms, vis=vis, body=body)


def header_fields(entry: Entry) -> list[Any]:
    return list(msgpack.unpackb(entry.header_bytes))


def resigned(fields: list[Any], key: SigningKey = KEY) -> tuple[bytes, bytes]:
    """Raw header bytes from ``fields`` (not necessarily a valid header) and a valid signature over them."""
    data = msgpack.packb(fields, use_bin_type=True)
    return data, key._key.sign(b"shora/v1/entry\x00" + data)


def chain(n: int, step_ms: int = 1000) -> list[Entry]:
    entries = [make()]
    for seq in range(1, n):
        entries.append(make(seq, entries[-1].id, ts_ms=T0 + seq * step_ms))
    return entries


# --- round trip ----------------------------------------------------------------------------------------


@backends
@pytest.mark.parametrize("vis", ["public", "council"])
def test_round_trip(vis: str, backend: str) -> None:
    entry = make(vis=vis)
    received = Entry(entry.header_bytes, entry.signature, entry.body_bytes)
    assert received == entry
    received.verify_signature(KEY.public, backend=backend)
    assert received.header.vis == vis
    assert received.header.seq == received.seq == 0
    assert received.header.key_id == KEY.public.id
    assert received.header.log_id == LOG_ID
    assert received.body() == codec.decode(entry.body_bytes or b"")
    assert received.header.body_hash == hashlib.sha256(entry.body_bytes or b"").digest()


def test_header_layout() -> None:
    entry = make(3, bytes(32), ts_ms=T0)
    body_hash = entry.header.body_hash
    assert header_fields(entry) == [1, LOG_ID, 3, bytes(32), T0, "public", body_hash, KEY.public.id]
    assert Header.decode(entry.header_bytes) == entry.header
    assert entry.header.encode() == entry.header_bytes


def test_id_is_rfc9162_leaf_hash() -> None:
    entry = make()
    assert entry.id == hashlib.sha256(b"\x00" + entry.header_bytes).digest()


def test_without_body() -> None:
    entry = make(vis="council")
    bare = entry.without_body()
    assert bare.body_bytes is None
    assert bare.id == entry.id
    bare.verify_signature(KEY.public)
    with pytest.raises(VerificationError) as info:
        bare.body()
    assert str(info.value) == "body-hash: the entry has no body"
    with pytest.raises(VerificationError, match=r"^[a-z-]+: the entry has no body") as info:
        bare.check_body()
    assert info.value.step == "body-hash"


def test_parts_rebuild_the_entry_with_every_field_as_checked() -> None:
    """``Entry.parts`` and ``from_parts`` carry a checked entry between processes of a node: what comes
    back is the entry, field for field, header for header."""
    first, second = chain(2)
    council = make(2, second.id, ts_ms=T0 + 2**40, vis="council").without_body()
    entries = [first, second, council]
    parts = [e.parts() for e in entries]
    assert parts[2] == (
        council.header_bytes, council.signature, None, council.id, LOG_ID, 2, second.id, T0 + 2**40,
        "council", council.header.body_hash, KEY.public.id,
    )  # fmt: skip
    rebuilt = from_parts(parts)
    assert rebuilt == entries and [type(e) for e in rebuilt] == [Entry] * 3
    for mine, theirs in zip(rebuilt, entries, strict=True):
        assert mine.header == Header.decode(theirs.header_bytes) and mine.id == theirs.id
        assert mine.body_bytes == theirs.body_bytes and mine.signature == theirs.signature
    assert rebuilt[0].header.prev is None and rebuilt[1].header.vis == "public"
    assert from_parts([]) == []


def test_sign_entry_reproducible() -> None:
    assert make().header_bytes == make().header_bytes
    assert make().signature == make().signature  # Ed25519 is deterministic


def test_body_keys_sorted_whatever_the_input_order() -> None:
    a = encode_body({"kind": "x", "b": 1, "a": 2}, "public")
    b = encode_body({"a": 2, "b": 1, "kind": "x"}, "public")
    assert a == b


# --- named attacks -------------------------------------------------------------------------------------


@backends
def test_forged_signature(backend: str) -> None:
    entry = make()
    forged = Entry(entry.header_bytes, bytes(64), entry.body_bytes)
    with pytest.raises(VerificationError) as info:
        forged.verify_signature(KEY.public, backend=backend)
    assert info.value.step == "signature"


@backends
def test_signature_by_other_key_naming_ours(backend: str) -> None:
    entry = make()
    forged = Entry(entry.header_bytes, OTHER_KEY.sign(Domain.ENTRY, entry.header_bytes), entry.body_bytes)
    with pytest.raises(VerificationError) as info:
        forged.verify_signature(KEY.public, backend=backend)
    assert info.value.step == "signature"


@backends
def test_signature_under_other_domain(backend: str) -> None:
    # A signature over the header bytes without the entry tag (as another domain would make it) fails.
    entry = make()
    untagged = KEY._key.sign(entry.header_bytes)
    with pytest.raises(VerificationError) as info:
        Entry(entry.header_bytes, untagged, entry.body_bytes).verify_signature(KEY.public, backend=backend)
    assert info.value.step == "signature"
    request_tagged = KEY._key.sign(b"shora/v1/request\x00" + entry.header_bytes)
    with pytest.raises(VerificationError) as info:
        Entry(entry.header_bytes, request_tagged).verify_signature(KEY.public, backend=backend)
    assert info.value.step == "signature"


def test_signature_from_another_entry() -> None:
    first, second = chain(2)
    with pytest.raises(VerificationError) as info:
        Entry(second.header_bytes, first.signature).verify_signature(KEY.public)
    assert info.value.step == "signature"


def test_body_swapped() -> None:
    entry = make()
    other = make(body={"kind": "motion", "text": "something else"})
    with pytest.raises(VerificationError) as info:
        Entry(entry.header_bytes, entry.signature, other.body_bytes)
    assert info.value.step == "body-hash"


def test_body_reencoded_non_canonically() -> None:
    # Same body values, different bytes: the hash no longer matches, and the codec refuses them anyway.
    entry = make(body={"kind": "motion", "n": 1})
    reordered = b"\x82\xa1n\x01\xa4kind\xa6motion"
    with pytest.raises(
        VerificationError, match=r"^[a-z-]+: the body does not match the header's body_hash"
    ) as info:
        Entry(entry.header_bytes, entry.signature, reordered)
    assert info.value.step == "body-hash"
    with pytest.raises(DecodeError, match=r"^map keys are not sorted"):
        codec.decode(reordered)


def test_header_reencoded() -> None:
    # The same header values with seq as a uint8 instead of a fixint: msgpack reads the same list, the
    # signature is valid over these bytes, and the decoder still refuses them.
    entry = make(3, bytes(32))
    fields = header_fields(entry)
    data = entry.header_bytes
    cut = data.index(b"\x03\xc4\x20")  # seq 3, then prev as bin8 of 32
    reencoded = data[:cut] + b"\xcc\x03" + data[cut + 1 :]
    assert msgpack.unpackb(reencoded) == fields
    signature = KEY.sign(Domain.ENTRY, reencoded)
    with pytest.raises(DecodeError, match=r"^non-minimal encoding"):
        Entry(reencoded, signature, entry.body_bytes)


def test_header_with_trailing_byte() -> None:
    entry = make()
    with pytest.raises(DecodeError, match=r"^trailing bytes after the value"):
        Entry(entry.header_bytes + b"\x00", entry.signature)


def test_wrong_key_id() -> None:
    entry = make()
    with pytest.raises(VerificationError) as info:
        entry.verify_signature(OTHER_KEY.public)
    assert str(info.value) == "unknown-key: the header names a different signing key"


def test_entry_signed_by_other_key_names_that_key() -> None:
    entry = make(key=OTHER_KEY)
    entry.verify_signature(OTHER_KEY.public)
    with pytest.raises(VerificationError) as info:
        entry.verify_signature(KEY.public)
    assert info.value.step == "unknown-key"


def test_council_body_without_salt() -> None:
    with pytest.raises(DecodeError, match=f"^{BAD_SALT}"):
        make(vis="council", body={"kind": "vote"})


@pytest.mark.parametrize("salt", [b"", bytes(15), bytes(17), "0123456789abcdef", None])
def test_council_body_with_bad_salt(salt: Any) -> None:
    with pytest.raises(DecodeError, match=f"^{BAD_SALT}"):
        make(vis="council", body={"kind": "vote", "salt": salt})


def test_public_body_with_salt() -> None:
    with pytest.raises(DecodeError, match=r"^a public body carries no salt"):
        make(body={"kind": "motion", "salt": SALT})


def test_council_header_with_public_body_received() -> None:
    # A header claiming "council" with a body that lacks the salt: refused when the body is checked.
    body = encode_body({"kind": "motion"}, "public")
    entry = make(vis="council")
    fields = header_fields(entry)
    fields[6] = hashlib.sha256(body).digest()
    data, signature = resigned(fields)
    with pytest.raises(DecodeError, match=f"^{BAD_SALT}"):
        Entry(data, signature, body)
    Entry(data, signature)  # the header alone is fine


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"kind": ""},
        {"kind": 1},
        {"kind": b"motion"},
        {"text": "no kind"},
    ],
)
def test_body_without_kind(body: dict[str, Any]) -> None:
    with pytest.raises(DecodeError, match=f"^{NO_KIND}"):
        make(body=body)


def test_body_not_a_map() -> None:
    entry = make()
    body = codec.encode(["kind", "motion"])
    fields = header_fields(entry)
    fields[6] = hashlib.sha256(body).digest()
    data, signature = resigned(fields)
    with pytest.raises(DecodeError, match=f"^{NO_KIND}"):
        Entry(data, signature, body)


def test_body_not_bytes() -> None:
    entry = make()
    with pytest.raises(DecodeError, match=r"^body bytes expected"):
        Entry(entry.header_bytes, entry.signature, "text")  # type: ignore[arg-type]


BAD_SEQ = "header: seq is a non-negative int64"
BAD_TS = "header: ts_ms is a non-negative int64"
BAD_PREV = "header: prev is a 32-byte id"
BAD_VIS = "header: vis is 'public' or 'council'"
BAD_LOG_ID = "header: log_id is 32 bytes"
BAD_SIGNATURE_SIZE = "an entry signature is 64 bytes"
NO_KIND = "a body is a map with a non-empty text 'kind'"
BAD_SALT = "a council-visibility body, and every record body, carries a 16-byte salt"


def _refused_header(check: str, mutate: Any) -> None:
    """A header changed by ``mutate`` and signed again is refused, by the check ``check`` names, both as
    an entry and on its own."""
    fields = header_fields(make(1, bytes(32)))
    fields = mutate(fields)
    data, signature = resigned(fields)
    with pytest.raises(DecodeError, match=f"^{check}"):
        Entry(data, signature)
    with pytest.raises(DecodeError, match=f"^{check}"):
        Header.decode(data)


def test_valid_resigned_header_accepted() -> None:
    fields = header_fields(make(1, bytes(32)))
    data, signature = resigned(fields)
    Entry(data, signature).verify_signature(KEY.public)


def test_header_with_7_fields() -> None:
    _refused_header("a header is an array of 8 fields", lambda f: f[:7])


def test_header_with_9_fields() -> None:
    _refused_header("a header is an array of 8 fields", lambda f: [*f, 0])


def test_header_as_map() -> None:
    _refused_header("a header is an array of 8 fields", lambda f: {str(i): v for i, v in enumerate(f)})


def test_version_2() -> None:
    _refused_header("unknown header format 2", lambda f: [2, *f[1:]])


def test_version_as_bool() -> None:
    _refused_header("unknown header format True", lambda f: [True, *f[1:]])


def test_seq_negative() -> None:
    _refused_header(BAD_SEQ, lambda f: [f[0], f[1], -1, *f[3:]])


def test_bool_as_seq() -> None:
    _refused_header(BAD_SEQ, lambda f: [f[0], f[1], True, *f[3:]])


def test_bool_as_ts() -> None:
    _refused_header(BAD_TS, lambda f: [*f[:4], True, *f[5:]])


def test_ts_negative() -> None:
    _refused_header(BAD_TS, lambda f: [*f[:4], -1, *f[5:]])


def test_prev_present_at_seq_0() -> None:
    _refused_header("header: the first entry has no prev", lambda f: [f[0], f[1], 0, bytes(32), *f[4:]])


def test_prev_missing_at_seq_1() -> None:
    _refused_header(BAD_PREV, lambda f: [f[0], f[1], 1, None, *f[4:]])


def test_prev_wrong_size() -> None:
    _refused_header(BAD_PREV, lambda f: [*f[:3], bytes(31), *f[4:]])


def test_vis_other() -> None:
    _refused_header(BAD_VIS, lambda f: [*f[:5], "private", *f[6:]])


def test_vis_as_bytes() -> None:
    _refused_header(BAD_VIS, lambda f: [*f[:5], b"public", *f[6:]])


def test_log_id_wrong_size() -> None:
    _refused_header(BAD_LOG_ID, lambda f: [f[0], bytes(31), *f[2:]])


def test_log_id_as_text() -> None:
    _refused_header(BAD_LOG_ID, lambda f: [f[0], "a" * 32, *f[2:]])


def test_body_hash_wrong_size() -> None:
    _refused_header("header: body_hash is 32 bytes", lambda f: [*f[:6], bytes(31), f[7]])


def test_key_id_wrong_size() -> None:
    _refused_header("header: key_id is 8 bytes", lambda f: [*f[:7], bytes(9)])


def test_nested_value_in_header() -> None:
    _refused_header("nesting deeper than 1", lambda f: [*f[:5], ["public"], *f[6:]])


@pytest.mark.parametrize("length", [0, 63, 65])
def test_signature_wrong_length(length: int) -> None:
    entry = make()
    with pytest.raises(DecodeError, match=f"^{BAD_SIGNATURE_SIZE}"):
        Entry(entry.header_bytes, bytes(length))


@pytest.mark.parametrize(
    ("kwargs", "check"),
    [
        pytest.param({"seq": -1}, BAD_SEQ, id="seq-negative"),
        pytest.param({"seq": True}, BAD_SEQ, id="seq-bool"),
        pytest.param({"seq": 2**63}, BAD_SEQ, id="seq-over-int64"),
        pytest.param({"seq": 0, "prev": bytes(32)}, "header: the first entry has no prev", id="prev-at-0"),
        pytest.param({"seq": 1, "prev": None}, BAD_PREV, id="no-prev-at-1"),
        pytest.param({"ts_ms": -1}, BAD_TS, id="ts-negative"),
        pytest.param({"ts_ms": 1.5}, BAD_TS, id="ts-float"),
        pytest.param({"ts_ms": 2**63}, BAD_TS, id="ts-over-int64"),
        pytest.param({"vis": "other"}, BAD_VIS, id="vis-other"),
        pytest.param({"log_id": bytes(31)}, BAD_LOG_ID, id="log-id-31"),
    ],
)
def test_sign_entry_refuses_invalid_header(kwargs: dict[str, Any], check: str) -> None:
    args: dict[str, Any] = {"seq": 0, "prev": None, "ts_ms": T0, "vis": "public", "log_id": LOG_ID}
    args.update(kwargs)
    with pytest.raises(DecodeError, match=f"^{check}"):
        sign_entry(KEY, body={"kind": "motion"}, **args)


def test_header_int64_bounds_accepted() -> None:
    header = Header(
        LOG_ID, 9223372036854775807, bytes(32), 9223372036854775807, "public", bytes(32), bytes(8)
    )
    assert Header.decode(header.encode()) == header


def test_oversize_body() -> None:
    with pytest.raises(DecodeError, match=r"^input of 307223 bytes exceeds the limit of 262144"):
        make(body={"kind": "motion", "text": "x" * (300 * 1024)})


def _filled_body(filler: int) -> dict[str, Any]:
    return {"kind": "motion", "text": ["x" * 60_000] * 4 + ["x" * filler]}


def test_body_size_limit_is_256_kib() -> None:
    """A body of exactly 262144 encoded bytes is signed and received; one byte more is refused."""
    filler = 20_000 + 262_144 - len(encode_body(_filled_body(20_000), "public"))
    assert len(encode_body(_filled_body(filler), "public")) == 262_144
    entry = make(body=_filled_body(filler))
    assert Entry(entry.header_bytes, entry.signature, entry.body_bytes).body() == _filled_body(filler)
    with pytest.raises(DecodeError, match=r"^input of 262145 bytes exceeds the limit of 262144"):
        make(body=_filled_body(filler + 1))
    over = entry.body_bytes[:-1] + b"x" * 2  # the hash no longer matches, and the size is checked first
    with pytest.raises(DecodeError, match=r"^body exceeds the size limit"):
        Entry(entry.header_bytes, entry.signature, over)


# --- verify_follows ------------------------------------------------------------------------------------


def test_follows_ok_chain() -> None:
    entries = chain(5)
    verify_follows(None, entries[0])
    for before, after in itertools.pairwise(entries):
        verify_follows(before, after)


def test_first_must_be_seq_0() -> None:
    with pytest.raises(VerificationError) as info:
        verify_follows(None, chain(2)[1])
    assert info.value.step == "sequence"


def test_follows_wrong_log() -> None:
    first = make()
    intruder = make(1, first.id, log_id=OTHER_LOG_ID)
    with pytest.raises(VerificationError) as info:
        verify_follows(first, intruder)
    assert info.value.step == "sequence"


def test_follows_gap_in_seq() -> None:
    first = make()
    skipped = make(2, first.id)
    with pytest.raises(VerificationError) as info:
        verify_follows(first, skipped)
    assert info.value.step == "sequence"


def test_follows_replayed_entry() -> None:
    first, second = chain(2)
    with pytest.raises(VerificationError, match=r"^[a-z-]+: expected seq 2, got 1") as info:
        verify_follows(second, second)
    assert info.value.step == "sequence"
    with pytest.raises(VerificationError, match=r"^[a-z-]+: expected seq 2, got 0") as info:
        verify_follows(second, first)
    assert info.value.step == "sequence"


def test_follows_wrong_prev() -> None:
    first = make()
    forked = make(1, hashlib.sha256(b"another entry").digest())
    with pytest.raises(VerificationError) as info:
        verify_follows(first, forked)
    assert info.value.step == "prev"


def test_forked_log() -> None:
    # Two different entries at seq 1 both link to seq 0: each follows, and they differ in id.
    first = make()
    a = make(1, first.id, body={"kind": "motion", "text": "a"})
    b = make(1, first.id, body={"kind": "motion", "text": "b"})
    verify_follows(first, a)
    verify_follows(first, b)
    assert a.id != b.id
    with pytest.raises(VerificationError, match=r"^[a-z-]+: expected seq 2, got 1"):
        verify_follows(a, b)


@pytest.mark.parametrize("back_ms", [1, TS_TOLERANCE_MS - 1, TS_TOLERANCE_MS])
def test_timestamp_back_within_tolerance(back_ms: int) -> None:
    first = make(ts_ms=T0)
    verify_follows(first, make(1, first.id, ts_ms=T0 - back_ms))


@pytest.mark.parametrize("back_ms", [TS_TOLERANCE_MS + 1, 60_000, T0])
def test_timestamp_going_back(back_ms: int) -> None:
    first = make(ts_ms=T0)
    with pytest.raises(VerificationError) as info:
        verify_follows(first, make(1, first.id, ts_ms=T0 - back_ms))
    assert info.value.step == "timestamp"


# --- property ------------------------------------------------------------------------------------------

nfc_text = canonical_text(max_size=12)
values = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.binary(max_size=16) | nfc_text
bodies = st.dictionaries(nfc_text.filter(lambda k: k not in {"kind", "salt"}), values, max_size=5)


@given(
    seq=st.integers(0, 2**63 - 1),
    prev=st.binary(min_size=32, max_size=32),
    ts_ms=st.integers(0, 2**63 - 1),
    vis=st.sampled_from(["public", "council"]),
    salt=st.binary(min_size=16, max_size=16),
    kind=nfc_text.filter(bool),
    extra=bodies,
)
@settings(max_examples=100, deadline=None)
def test_round_trip_random(
    seq: int, prev: bytes, ts_ms: int, vis: Any, salt: bytes, kind: str, extra: dict[str, Any]
) -> None:
    body: dict[str, Any] = {**extra, "kind": kind}
    if vis == "council":
        body["salt"] = salt
    link = prev if seq else None
    entry = sign_entry(KEY, log_id=LOG_ID, seq=seq, prev=link, ts_ms=ts_ms, vis=vis, body=body)
    received = Entry(entry.header_bytes, entry.signature, entry.body_bytes)
    assert received == entry
    body_hash = hashlib.sha256(entry.body_bytes or b"").digest()
    assert received.header == Header(LOG_ID, seq, link, ts_ms, vis, body_hash, KEY.public.id)
    assert received.body() == body
    assert received.id == hashlib.sha256(b"\x00" + entry.header_bytes).digest()
    for backend in BACKENDS:
        received.verify_signature(KEY.public, backend=backend)


def _generic_header(data: bytes) -> Header | None:
    """What the generic canonical decoder makes of ``data``: the reference for ``Header.decode``."""
    try:
        fields = codec.decode(data, HEADER_LIMITS)
        if not isinstance(fields, list) or len(fields) != 8 or fields[0] is True or fields[0] != 1:
            return None
        return Header(*fields[1:])
    except DecodeError:
        return None


@given(
    seq=st.sampled_from([0, 1, 127, 128, 255, 256, 2**16 - 1, 2**16, 2**32 - 1, 2**32, 2**63 - 1]),
    ts_ms=st.sampled_from([0, 127, 128, 2**16, 2**32 - 1, 2**32, 1_700_000_000_000, 2**63 - 1]),
    vis=st.sampled_from(["public", "council"]),
    where=st.integers(min_value=0),
    byte=st.integers(0, 255),
)
@settings(max_examples=300, deadline=None)
def test_header_fast_path_agrees_with_generic_decoder(
    seq: int, ts_ms: int, vis: Any, where: int, byte: int
) -> None:
    # Header.decode matches canonical headers byte by byte; every int width boundary is covered, and a
    # mutated header must get the same verdict as from the generic decoder.
    header = Header(LOG_ID, seq, bytes(32) if seq else None, ts_ms, vis, bytes(range(32)), KEY.public.id)
    data = header.encode()
    assert Header.decode(data) == header
    mutated = bytearray(data)
    mutated[where % len(data)] = byte
    expected = _generic_header(bytes(mutated))
    try:
        assert Header.decode(bytes(mutated)) == expected
    except DecodeError:
        assert expected is None


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(b"\xcc\x05", id="uint8-for-fixint"),
        pytest.param(b"\xcd\x00\xff", id="uint16-for-uint8"),
        pytest.param(b"\xce\x00\x00\xff\xff", id="uint32-for-uint16"),
        pytest.param(b"\xcf\x00\x00\x00\x00\xff\xff\xff\xff", id="uint64-for-uint32"),
        pytest.param(b"\xcf\x80" + bytes(7), id="uint64-beyond-int64"),
        pytest.param(b"\xd0\x05", id="int8"),
    ],
)
def test_header_seq_non_minimal_or_out_of_range(encoded: bytes) -> None:
    data = Header(LOG_ID, 5, bytes(32), T0, "public", bytes(32), KEY.public.id).encode()
    assert data[36] == 5  # the seq, right after the log id
    check = "integer 9223372036854775808 is outside int64" if encoded[:2] == b"\xcf\x80" else "non-minimal"
    with pytest.raises(DecodeError, match=f"^{check}"):
        Header.decode(data[:36] + encoded + data[37:])


# --- the canonical fast path, stored entries, follow-on checks word for word ---------------------------


@pytest.mark.parametrize("number", [0, 127, 128, 255, 256, 65_535, 65_536, 2**32 - 1, 2**32, 2**63 - 1])
def test_canonical_headers_take_the_fast_path(number: int) -> None:
    """Every canonical header matches the byte layout: the generic decoder is for everything else."""
    for vis in ("public", "council"):
        for prev in (None, bytes(range(32))):
            seq = number if prev is not None else 0
            header = Header(LOG_ID, seq, prev if seq else None, number, vis, bytes(32), KEY.public.id)  # type: ignore[arg-type]
            data = header.encode()
            assert entry_module._CANONICAL_HEADER.fullmatch(data) is not None
            assert Header.decode(data) == header
    assert entry_module._CANONICAL_HEADER.fullmatch(b"\x98\x02" + data[2:]) is None


def test_a_stored_entry_equals_the_received_one() -> None:
    entry = make(vis="council")
    assert Entry.stored(entry.header_bytes, entry.signature, entry.body_bytes) == entry
    assert Entry.stored(entry.header_bytes, entry.signature).body_bytes is None
    assert entry.without_body() == Entry(entry.header_bytes, entry.signature)


def test_an_unsigned_entry_takes_only_a_64_byte_signature() -> None:
    unsigned = prepare_entry(
        KEY.public.id, log_id=LOG_ID, seq=0, prev=None, ts_ms=T0, vis="public", body={"kind": "m"}
    )
    for bad in (bytes(63), bytes(65), "s" * 64):
        with pytest.raises(DecodeError, match=r"^an entry signature is 64 bytes"):
            unsigned.signed(bad)  # type: ignore[arg-type]
    signed = unsigned.signed(KEY.sign(Domain.ENTRY, unsigned.header_bytes))
    assert signed == Entry(unsigned.header_bytes, signed.signature, unsigned.body_bytes)
    assert signed.id == unsigned.id and signed.seq == unsigned.seq == 0


def test_header_bytes_must_be_bytes() -> None:
    entry = make()
    with pytest.raises(DecodeError, match=r"^header bytes expected"):
        Entry(bytearray(entry.header_bytes), entry.signature)  # type: ignore[arg-type]
    with pytest.raises(DecodeError, match=r"^an entry signature is 64 bytes"):
        Entry(entry.header_bytes, "s" * 64)  # type: ignore[arg-type]


def test_follow_on_refusals_word_for_word() -> None:
    first, second = chain(2)
    cases = [
        (lambda: verify_follows(None, second), "sequence: expected the first entry, got seq 1"),
        (
            lambda: verify_follows(first, make(1, first.id, log_id=OTHER_LOG_ID)),
            "sequence: the entry belongs to another log",
        ),
        (lambda: verify_follows(first, make(2, first.id)), "sequence: expected seq 1, got 2"),
        (
            lambda: verify_follows(first, make(1, bytes(32))),
            "prev: seq 1 does not link to the entry before it",
        ),
        (
            lambda: verify_follows(first, make(1, first.id, ts_ms=T0 - 5_001)),
            "timestamp: seq 1 goes back in time",
        ),
    ]
    for call, message in cases:
        with pytest.raises(VerificationError) as caught:
            call()
        assert str(caught.value) == message
    verify_follows(first, make(1, first.id, ts_ms=T0 - 5_000))


def test_a_body_shape_is_judged_by_the_public_logs_rule_unless_salted() -> None:
    from protocol.entry import check_body_shape

    assert check_body_shape({"kind": "x"}, "public") == {"kind": "x"}
    with pytest.raises(DecodeError, match=r"^a public body carries no salt$"):
        check_body_shape({"kind": "x", "salt": bytes(16)}, "public")
    salted = "a council-visibility body, and every record body, carries a 16-byte salt"
    with pytest.raises(DecodeError, match=f"^{salted}$"):
        check_body_shape({"kind": "x"}, "public", salted=True)
    assert check_body_shape({"kind": "x", "salt": bytes(16)}, "public", salted=True)["kind"] == "x"


def test_which_log_an_entry_type_belongs_to_is_pinned() -> None:
    """A public log's entry is signed in the entry domain with unsalted public bodies; the council's record
    in its own domain, every body salted (protocol.record)."""
    from protocol.record import RecordEntry

    assert (Entry.DOMAIN, Entry.SALTED) == (Domain.ENTRY, False) and Entry.SALTED is False
    assert (RecordEntry.DOMAIN, RecordEntry.SALTED) == (Domain.RECORD, True) and RecordEntry.SALTED is True


def test_an_unsigned_entry_is_a_public_logs_unless_told() -> None:
    from protocol.entry import Unsigned

    prepared = prepare_entry(
        KEY.public.id, log_id=LOG_ID, seq=0, prev=None, ts_ms=T0, vis="public", body={"kind": "m"}
    )
    unsigned = Unsigned(prepared.header, prepared.header_bytes, prepared.body_bytes, prepared.id)
    assert unsigned.entry_type is Entry and unsigned == prepared
    signed = unsigned.signed(KEY.sign(Domain.ENTRY, unsigned.header_bytes))
    assert type(signed) is Entry
    signed.verify_signature(KEY.public)
