"""Canonical msgpack (DESIGN.md §3): one encoding per value, and a decoder that refuses every other one.

Hand-written byte strings below are annotated with their msgpack meaning; each refusal test is named after
the kind of non-canonical input it feeds the decoder.
"""

from __future__ import annotations

import tracemalloc
import unicodedata
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import codec
from protocol.codec import DEFAULT_LIMITS, INT64_MAX, INT64_MIN, Limits, b64u, decode, encode, unb64u
from protocol.errors import DecodeError, ProtocolError
from tests.protocol.strategies import canonical_text

# --- strategies ----------------------------------------------------------------------------------------

nfc_text = canonical_text(max_size=20)
int64 = st.integers(min_value=INT64_MIN, max_value=INT64_MAX)
scalars = st.none() | st.booleans() | int64 | nfc_text | st.binary(max_size=40)
canonical_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(nfc_text, children, max_size=5),
    max_leaves=25,
)


def nested(depth: int) -> Any:
    """A scalar sitting at ``depth`` (the top-level value is at depth 0)."""
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


# What each check of ``decode`` says: a refusal test names the check it expects, so input refused by another
# check (the wrong reason) fails the test.
NOT_BYTES = "input is not bytes"
TOO_BIG = r"input of \d+ bytes exceeds the limit of"
EMPTY = "empty input"
TRAILING = "trailing bytes after the value"
MALFORMED = "malformed msgpack"
INCOMPLETE = "malformed msgpack: Unpack failed: incomplete input"
KEY_NOT_TEXT = "map keys must be text"
NOT_SORTED = "map keys are not sorted"
DUPLICATE = "duplicate map key"
NON_MINIMAL = "non-minimal encoding"
FLOAT = "floats are not allowed"
OUTSIDE_INT64 = r"integer -?\d+ is outside int64"
NOT_NFC = "is not NFC-normalised"
TOO_DEEP = "nesting deeper than"


def refused(data: bytes, check: str, limits: Limits = DEFAULT_LIMITS) -> DecodeError:
    """``decode`` refuses ``data`` by the check whose message matches ``check``."""
    with pytest.raises(DecodeError, match=f"^{check}") as info:
        decode(data, limits)
    return info.value


# --- round trips ---------------------------------------------------------------------------------------


@given(canonical_values)
@settings(max_examples=300, deadline=None)
def test_round_trip(value: Any) -> None:
    data = encode(value)
    decoded = decode(data)
    assert decoded == value
    assert encode(decoded) == data


@given(st.dictionaries(nfc_text, int64, min_size=2, max_size=8), st.randoms(use_true_random=False))
@settings(max_examples=100, deadline=None)
def test_dict_insertion_order_does_not_change_bytes(mapping: dict[str, int], rnd: Any) -> None:
    items = list(mapping.items())
    rnd.shuffle(items)
    assert encode(dict(items)) == encode(mapping)


def test_tuple_encodes_as_list() -> None:
    assert encode((1, "a", b"b")) == encode([1, "a", b"b"])
    assert decode(encode((1, 2))) == [1, 2]


def test_bytes_and_text_are_distinct_types() -> None:
    assert encode(b"ab") == b"\xc4\x02ab"  # bin8
    assert encode("ab") == b"\xa2ab"  # fixstr
    assert decode(b"\xc4\x02ab") == b"ab"
    assert decode(b"\xa2ab") == "ab"


def test_bytearray_and_memoryview_encode_as_bytes() -> None:
    assert encode(bytearray(b"xy")) == encode(b"xy")
    assert encode(memoryview(b"xy")) == encode(b"xy")
    assert decode(bytearray(encode([1]))) == [1]  # type: ignore[arg-type]  # accepted though typed bytes


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\xcc\x80"),
        (-1, b"\xff"),
        (-32, b"\xe0"),
        (-33, b"\xd0\xdf"),
        (INT64_MAX, b"\xcf" + INT64_MAX.to_bytes(8, "big")),
        (INT64_MIN, b"\xd3" + INT64_MIN.to_bytes(8, "big", signed=True)),
        (None, b"\xc0"),
        (False, b"\xc2"),
        (True, b"\xc3"),
    ],
)
def test_minimal_integer_and_constant_encodings(value: Any, expected: bytes) -> None:
    assert encode(value) == expected
    assert decode(expected) == value


# --- key order -----------------------------------------------------------------------------------------


def test_keys_sorted_by_utf8_bytes_not_utf16_units() -> None:
    # For valid text, UTF-8 byte order equals code-point order (Python's str order); the order that differs
    # is UTF-16 code-unit order (JavaScript, Java), where U+FFFD (0xFFFD) sorts after U+1F600 (0xD83D ...).
    # A peer sorting that way must be refused, and our bytes must follow UTF-8.
    high, bmp = "\U0001f600", "\ufffd"
    assert high.encode("utf-16-be") < bmp.encode("utf-16-be")
    assert bmp.encode() < high.encode()
    data = encode({high: 1, bmp: 2})
    assert data == b"\x82" + msgpack.packb(bmp) + b"\x02" + msgpack.packb(high) + b"\x01"
    assert decode(data) == {bmp: 2, high: 1}
    refused(b"\x82" + msgpack.packb(high) + b"\x01" + msgpack.packb(bmp) + b"\x02", NOT_SORTED)


def test_utf8_order_differs_from_length_first_order() -> None:
    # "b" (one byte) sorts after "aa": keys are sorted bytewise, not shortest-first as some canonical
    # forms (RFC 8949 §4.2.3's old rule) do.
    data = encode({"b": 1, "aa": 2})
    assert data == b"\x82\xa2aa\x02\xa1b\x01"
    # The shortest-first order is refused.
    refused(b"\x82\xa1b\x01\xa2aa\x02", NOT_SORTED)


def test_keys_sorted_across_planes() -> None:
    # The last assigned character below U+FFFF (U+FFFD), the first supplementary code point, and the
    # 2/3-byte boundary.
    keys = ["\ufffd", "\U00010000", "\ue000", "\u07ff", "\u0800", "z", "\U0010fffd"]
    data = encode(dict.fromkeys(keys, 0))
    assert list(decode(data)) == sorted(keys, key=str.encode)
    assert sorted(keys, key=lambda k: k.encode("utf-16-be")) != sorted(keys, key=str.encode)
    positions = [data.index(key.encode()) for key in sorted(keys, key=str.encode)]
    assert positions == sorted(positions)


def test_persian_keys_sorted_by_utf8_bytes() -> None:
    # Persian-only letters (پ U+067E, گ U+06AF) sit after the Arabic block's letters by code point, so
    # UTF-8 order is not the Persian alphabetical order (ب پ ت ... ک گ): پ comes after ش here.
    keys = ["گزارش", "کمیته", "بودجه", "پیشنهاد", "شورا", "ID", "zz"]
    data = encode({key: key for key in reversed(keys)})
    expected = sorted(keys, key=str.encode)
    assert expected == ["ID", "zz", "بودجه", "شورا", "پیشنهاد", "کمیته", "گزارش"]
    assert list(decode(data)) == expected
    positions = [data.index(msgpack.packb(key)) for key in expected]
    assert positions == sorted(positions)


@given(st.lists(canonical_text(min_size=1, max_size=3), min_size=2, max_size=6, unique=True))
@settings(max_examples=100, deadline=None)
def test_key_order_is_utf8_byte_order(keys: list[str]) -> None:
    keys = sorted({unicodedata.normalize("NFC", key) for key in keys})
    data = encode({key: None for key in keys})
    assert list(decode(data)) == sorted(keys, key=str.encode)


# --- named decode refusals -----------------------------------------------------------------------------


def test_reordered_map_keys() -> None:
    assert decode(b"\x82\xa1a\x01\xa1b\x02") == {"a": 1, "b": 2}
    assert "sorted" in str(refused(b"\x82\xa1b\x02\xa1a\x01", NOT_SORTED))


def test_reordered_persian_map_keys() -> None:
    good = encode({"الف": 1, "ب": 2})
    swapped = b"\x82" + msgpack.packb("ب") + b"\x02" + msgpack.packb("الف") + b"\x01"
    assert decode(good) == {"الف": 1, "ب": 2}
    refused(swapped, NOT_SORTED)


def test_duplicate_key() -> None:
    # msgpack alone would silently keep the last value.
    data = b"\x82\xa1a\x01\xa1a\x02"
    assert msgpack.unpackb(data) == {"a": 2}
    assert "duplicate" in str(refused(data, DUPLICATE))


def test_non_str_key_int() -> None:
    refused(b"\x81\x01\x02", "malformed msgpack: int is not allowed for map key")  # {1: 2}


def test_non_str_key_bytes() -> None:
    refused(b"\x81\xc4\x01a\x02", KEY_NOT_TEXT)  # {b"a": 2}


def test_non_str_key_nested() -> None:
    refused(b"\x91\x81\xc4\x01a\x02", KEY_NOT_TEXT)  # [{b"a": 2}]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\xcc\x01", id="uint8-for-fixint"),
        pytest.param(b"\xcd\x00\x01", id="uint16-for-fixint"),
        pytest.param(b"\xcd\x00\xff", id="uint16-for-uint8"),
        pytest.param(b"\xce\x00\x00\x00\x01", id="uint32-for-fixint"),
        pytest.param(b"\xcf\x00\x00\x00\x00\x00\x00\x00\x01", id="uint64-for-fixint"),
        pytest.param(b"\xd0\x05", id="int8-positive-fixint-range"),
        pytest.param(b"\xd0\xff", id="int8-negative-fixint-range"),
        pytest.param(b"\xd1\x00\x05", id="int16-small"),
        pytest.param(b"\xd2\xff\xff\xff\xff", id="int32-minus-one"),
        pytest.param(b"\xd3\x00\x00\x00\x00\x00\x00\x00\x00", id="int64-zero"),
        pytest.param(b"\xd1\x00\x80", id="int16-for-uint8"),
    ],
)
def test_non_minimal_int(data: bytes) -> None:
    msgpack.unpackb(data)  # msgpack itself accepts it
    refused(data, NON_MINIMAL)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\xd9\x03abc", id="str8-for-fixstr"),
        pytest.param(b"\xda\x00\x03abc", id="str16-for-fixstr"),
        pytest.param(b"\xdb\x00\x00\x00\x03abc", id="str32-for-fixstr"),
        pytest.param(b"\xc5\x00\x03abc", id="bin16-for-bin8"),
        pytest.param(b"\xdc\x00\x01\x01", id="array16-for-fixarray"),
        pytest.param(b"\xde\x00\x01\xa1a\x01", id="map16-for-fixmap"),
    ],
)
def test_non_minimal_length(data: bytes) -> None:
    msgpack.unpackb(data)
    refused(data, NON_MINIMAL)


def test_float32() -> None:
    refused(b"\xca\x3f\x80\x00\x00", FLOAT)  # 1.0


def test_float64() -> None:
    refused(b"\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00", FLOAT)  # 1.0


def test_float_nested_in_map() -> None:
    refused(b"\x81\xa1t\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00", FLOAT)


# msgpack refuses an ext with a payload itself (max_ext_len=0); an empty one reaches the ext hook.
EXT_TOO_LONG = r"malformed msgpack: \d+ exceeds max_ext_len\(0\)"


@pytest.mark.parametrize(
    ("data", "check"),
    [
        pytest.param(b"\xd4\x01\x00", EXT_TOO_LONG, id="fixext1"),
        pytest.param(b"\xd5\x01\x00\x00", EXT_TOO_LONG, id="fixext2"),
        pytest.param(b"\xd6\xff\x00\x00\x00\x00", EXT_TOO_LONG, id="fixext4-timestamp32"),
        pytest.param(b"\xc7\x00\x05", "ext type 5 is not allowed", id="ext8-empty"),
        pytest.param(b"\xc7\x00\x80", "ext type -128 is not allowed", id="ext8-empty-negative-type"),
        pytest.param(b"\xc7\x02\x05ab", EXT_TOO_LONG, id="ext8"),
        pytest.param(b"\xc8\x00\x02\x05ab", EXT_TOO_LONG, id="ext16"),
        pytest.param(b"\x91\xd4\x01\x00", EXT_TOO_LONG, id="fixext-nested"),
        pytest.param(b"\x91\xc7\x00\x05", "ext type 5 is not allowed", id="ext8-empty-nested"),
    ],
)
def test_ext_type(data: bytes, check: str) -> None:
    refused(data, check)


def test_uint64_beyond_int64() -> None:
    refused(b"\xcf" + (INT64_MAX + 1).to_bytes(8, "big"), OUTSIDE_INT64)
    refused(b"\xcf" + b"\xff" * 8, OUTSIDE_INT64)


UINT64_MAX = b"\xcf" + b"\xff" * 8  # 2**64-1: msgpack re-encodes it to these same bytes
UINT64_OVER = b"\xcf\x80" + b"\x00" * 7  # 2**63


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x91" + UINT64_MAX, id="in-array"),
        pytest.param(b"\x92\x00" + UINT64_MAX, id="second-in-array"),
        pytest.param(b"\x81\xa1a" + UINT64_MAX, id="map-value"),
        pytest.param(b"\x91\x91" + UINT64_MAX, id="depth-2"),
        pytest.param(b"\x91\x81\xa1a\x91" + UINT64_OVER, id="depth-3-via-map"),
        pytest.param(b"\x91" * 15 + UINT64_MAX, id="depth-15"),
    ],
)
def test_uint64_beyond_int64_at_every_depth(data: bytes) -> None:
    """The int64 range holds inside collections too: msgpack re-encodes 2**64-1 to the same bytes, so only
    the range check can refuse it."""
    assert msgpack.packb(msgpack.unpackb(data)) == data
    refused(data, OUTSIDE_INT64)


def test_non_nfc_text_value() -> None:
    nfd = unicodedata.normalize("NFD", "é")  # "e" + U+0301
    assert nfd != "é"
    refused(msgpack.packb(nfd), "text is not NFC-normalised")
    refused(msgpack.packb(["ok", nfd]), "text is not NFC-normalised")


def test_non_nfc_text_key() -> None:
    nfd = unicodedata.normalize("NFD", "é")
    assert "NFC" in str(refused(msgpack.packb({nfd: 1}), "map key is not NFC-normalised"))


def test_non_nfc_persian_key() -> None:
    # ARABIC LETTER ALEF + HAMZA ABOVE composes to U+0623 under NFC.
    decomposed = "\u0627\u0654"
    assert unicodedata.normalize("NFC", decomposed) == "\u0623"
    refused(msgpack.packb({decomposed: 1}), "map key is not NFC-normalised")
    refused(msgpack.packb(decomposed), "text is not NFC-normalised")
    refused(msgpack.packb([{"a": decomposed}]), "text is not NFC-normalised")
    refused(msgpack.packb([{decomposed: 1}]), "map key is not NFC-normalised")


def test_trailing_byte() -> None:
    assert decode(b"\x01") == 1
    assert "trailing" in str(refused(b"\x01\x00", TRAILING))
    refused(encode({"a": [1, 2]}) + b"\xc0", TRAILING)


def test_truncated_input() -> None:
    data = encode({"a": [1, 2, "xyz"]})
    for cut in range(1, len(data)):
        refused(data[:cut], INCOMPLETE)


def test_empty_input() -> None:
    refused(b"", EMPTY)


@pytest.mark.parametrize("data", ["\x01", None, 1, [1]], ids=["str", "none", "int", "list"])
def test_not_bytes(data: Any) -> None:
    with pytest.raises(DecodeError, match=f"^{NOT_BYTES}"):
        decode(data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\xa1\xff", id="invalid-byte"),
        pytest.param(b"\xa2\xc3\x28", id="bad-continuation"),
        pytest.param(b"\xa2\xc0\xaf", id="overlong-slash"),
        pytest.param(b"\xa3\xed\xa0\x80", id="encoded-surrogate"),
        pytest.param(b"\x81\xa1\xff\x01", id="invalid-key"),
    ],
)
def test_invalid_utf8(data: bytes) -> None:
    refused(data, "malformed msgpack: 'utf-8' codec can't decode")


def test_reserved_byte() -> None:
    refused(b"\xc1", MALFORMED)


def test_oversize_input() -> None:
    limits = Limits(max_size=16)
    ok = encode(b"x" * 14)  # 16 bytes: bin8 header + 14
    assert len(ok) == 16
    assert decode(ok, limits) == b"x" * 14
    refused(encode(b"x" * 15), "input of 17 bytes exceeds the limit of 16", limits)


def test_oversize_input_default_limit() -> None:
    data = encode(b"x" * DEFAULT_LIMITS.max_size)
    refused(data, TOO_BIG)


def test_deep_nesting() -> None:
    limits = Limits(max_depth=4)
    assert decode(encode(nested(4)), limits) == nested(4)
    refused(msgpack.packb(nested(5)), "nesting deeper than 4", limits)
    refused(msgpack.packb(nested(17)), "nesting deeper than 16")
    assert decode(encode(nested(16))) == nested(16)


def nested_maps(depth: int) -> Any:
    """A scalar sitting at ``depth`` inside maps of one key."""
    value: Any = 0
    for _ in range(depth):
        value = {"k": value}
    return value


def test_deep_nesting_of_maps() -> None:
    assert decode(encode(nested_maps(16))) == nested_maps(16)
    refused(msgpack.packb(nested_maps(17)), "nesting deeper than 16")
    refused(msgpack.packb(nested_maps(3)), "nesting deeper than 2", Limits(max_depth=2))


def test_encoder_depth_limit_for_lists_and_maps() -> None:
    """``encode`` stops where ``decode`` does: 16 levels, lists and maps alike, and mixed."""
    for value in (nested(16), nested_maps(16), [nested_maps(15)], {"k": nested(15)}):
        assert decode(encode(value)) == value
    for value in (nested(17), nested_maps(17), [nested_maps(16)], {"k": nested(16)}):
        with pytest.raises(DecodeError, match=r"^nesting deeper than 16"):
            encode(value)


def peak_allocation(call: Any, *args: Any) -> int:
    """The most memory Python allocated while ``call(*args)`` ran: bounds work without a clock."""
    tracemalloc.start()
    try:
        call(*args)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


def test_pathological_nesting_fills_size_limit() -> None:
    # One byte per level: a fixarray of one element, a million times over; msgpack's own stack refuses it.
    data = b"\x91" * (DEFAULT_LIMITS.max_size - 1) + b"\x00"
    error = refused(data, MALFORMED)
    assert isinstance(error.__cause__, msgpack.StackError)
    assert peak_allocation(lambda: refused(data, MALFORMED)) < 4 * len(data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\xdd\xff\xff\xff\xff", id="array32"),
        pytest.param(b"\xdf\xff\xff\xff\xff", id="map32"),
    ],
)
def test_collection_length_over_max_length_refused_without_allocating(data: bytes) -> None:
    # 5 bytes claiming 2**32-1 elements: refused on the header, before a list of that size exists.
    check = r"malformed msgpack: 4294967295 exceeds max_(array|map)_len\(10000\)"
    assert peak_allocation(refused, data, check) < 64 * 1024


@pytest.mark.parametrize(
    ("data", "check"),
    [
        # a length past the input's end is refused before the length limit is looked at
        pytest.param(b"\xdb\xff\xff\xff\xff", INCOMPLETE, id="str32"),
        pytest.param(b"\xc6\xff\xff\xff\xff", INCOMPLETE, id="bin32"),
        pytest.param(
            b"\xdb\x00\x00\x27\x11" + b"a" * 10_001,
            r"malformed msgpack: 10001 exceeds max_str_len\(10000\)",
            id="str32-just-over",
        ),
        pytest.param(
            b"\xc6\x00\x00\x27\x11" + b"a" * 10_001,
            r"malformed msgpack: 10001 exceeds max_bin_len\(10000\)",
            id="bin32-just-over",
        ),
    ],
)
def test_string_length_over_max_length_refused_without_allocating(data: bytes, check: str) -> None:
    assert peak_allocation(refused, data, check) < 64 * 1024


def test_string_length_at_max_length_accepted() -> None:
    assert decode(encode("a" * 10_000)) == "a" * 10_000
    assert decode(encode(b"a" * 10_000)) == b"a" * 10_000
    assert decode(encode([0] * 10_000)) == [0] * 10_000


def test_collection_length_over_max_length() -> None:
    limits = Limits(max_length=3)
    assert decode(encode([1, 2, 3]), limits) == [1, 2, 3]
    refused(encode([1, 2, 3, 4]), r"malformed msgpack: 4 exceeds max_array_len\(3\)", limits)
    refused(
        encode({"a": 1, "b": 2, "c": 3, "d": 4}), r"malformed msgpack: 4 exceeds max_map_len\(3\)", limits
    )
    refused(encode("abcd"), r"malformed msgpack: 4 exceeds max_str_len\(3\)", limits)
    refused(encode(b"abcd"), r"malformed msgpack: 4 exceeds max_bin_len\(3\)", limits)


@given(st.binary(max_size=64))
@settings(max_examples=1000, deadline=None)
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    try:
        value = decode(data)
    except DecodeError:
        return
    assert encode(value) == data


@given(canonical_values, st.integers(min_value=0), st.integers(min_value=0, max_value=255))
@settings(max_examples=300, deadline=None)
def test_mutated_encodings_raise_only_decode_error(value: Any, where: int, byte: int) -> None:
    data = bytearray(encode(value))
    data[where % len(data)] = byte
    try:
        decoded = decode(bytes(data))
    except DecodeError:
        return
    assert encode(decoded) == bytes(data)


def test_decode_error_is_a_protocol_error_with_cause() -> None:
    error = refused(b"\xc1", MALFORMED)
    assert isinstance(error, ProtocolError)
    assert error.__cause__ is not None


# --- encoding refusals ---------------------------------------------------------------------------------


class _Thing:
    pass


NO_ENCODING = r"type \w+ has no canonical encoding"


@pytest.mark.parametrize(
    ("value", "check"),
    [
        pytest.param(1.0, FLOAT, id="float"),
        pytest.param(float("nan"), FLOAT, id="nan"),
        pytest.param([1, 0.5], FLOAT, id="nested-float"),
        pytest.param({"a": [0.5]}, FLOAT, id="float-in-map"),
        pytest.param({1, 2}, "type set has", id="set"),
        pytest.param(frozenset(), "type frozenset has", id="frozenset"),
        pytest.param(_Thing(), "type _Thing has", id="object"),
        pytest.param({1: "a"}, KEY_NOT_TEXT, id="int-key"),
        pytest.param({b"a": 1}, KEY_NOT_TEXT, id="bytes-key"),
        pytest.param({None: 1}, KEY_NOT_TEXT, id="none-key"),
        pytest.param({("a",): 1}, KEY_NOT_TEXT, id="tuple-key"),
        pytest.param(INT64_MAX + 1, OUTSIDE_INT64, id="int-over-int64"),
        pytest.param(INT64_MIN - 1, OUTSIDE_INT64, id="int-under-int64"),
        pytest.param(2**64, OUTSIDE_INT64, id="uint64-overflow"),
        pytest.param([2**64 - 1], OUTSIDE_INT64, id="uint64-in-list"),
        pytest.param({"a": 2**63}, OUTSIDE_INT64, id="int-over-int64-in-map"),
        pytest.param(unicodedata.normalize("NFD", "é"), "text is not NFC", id="non-nfc-str"),
        pytest.param({unicodedata.normalize("NFD", "é"): 1}, "map key is not NFC", id="non-nfc-key"),
        pytest.param("\ud800", "text is not valid Unicode", id="lone-surrogate"),
        pytest.param({"\udfff": 1}, "map key is not valid Unicode", id="lone-surrogate-key"),
        pytest.param(nested(17), "nesting deeper than 16", id="too-deep"),
        pytest.param(nested_maps(17), "nesting deeper than 16", id="too-deep-maps"),
        pytest.param(1j, "type complex has", id="complex"),
    ],
)
def test_encode_refuses(value: Any, check: str) -> None:
    with pytest.raises(DecodeError, match=f"^{check}"):
        encode(value)


def test_encode_accepts_the_int64_bounds_in_collections() -> None:
    for value in ([INT64_MAX, INT64_MIN], {"a": INT64_MAX, "b": INT64_MIN}):
        assert decode(encode(value)) == value
        assert encode(value) == msgpack.packb(value)


# --- base64url -----------------------------------------------------------------------------------------


@given(st.binary(max_size=64))
def test_b64u_round_trip(data: bytes) -> None:
    text = b64u(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert unb64u(text) == data
    assert unb64u(text, len(data)) == data


def test_b64u_known_values() -> None:
    assert b64u(b"") == ""
    assert b64u(b"\xfb\xff") == "-_8"
    assert unb64u("-_8") == b"\xfb\xff"
    assert b64u(b"\x01\x02\x17") == "AQIX"  # only padding is stripped, never a final X
    assert b64u(b"\x01") == "AQ"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("AA==", id="padding"),
        pytest.param("AAA=", id="padding-one"),
        pytest.param("+_8", id="plus"),
        pytest.param("-/8", id="slash"),
        pytest.param("AB", id="non-canonical-trailing-bits-1"),
        pytest.param("AAB", id="non-canonical-trailing-bits-2"),
        pytest.param("A", id="impossible-length"),
        pytest.param("AAAAA", id="impossible-length-5"),
        pytest.param("AA AA", id="space"),
        pytest.param("AA\nA", id="newline"),
        pytest.param("AA.A", id="dot"),
        pytest.param("AAé", id="non-ascii"),
        pytest.param("A\x00AA", id="nul"),
    ],
)
def test_unb64u_refuses(text: str) -> None:
    with pytest.raises(
        DecodeError, match=r"^not base64url without padding|not base64url$|not canonical base64url"
    ):
        unb64u(text)


@pytest.mark.parametrize(
    ("text", "check"),
    [
        pytest.param("AA==", "not base64url without padding", id="padding"),
        pytest.param("A", "not base64url without padding", id="impossible-length"),
        pytest.param("+_8", "not canonical base64url", id="plus"),
        pytest.param("-/8", "not canonical base64url", id="slash"),
        pytest.param("AA.A", "not base64url$", id="dot"),
        pytest.param("AA\nA", "not base64url$", id="newline"),
        pytest.param("AB", "not canonical base64url", id="trailing-bits-1"),
        pytest.param("AAB", "not canonical base64url", id="trailing-bits-2"),
    ],
)
def test_unb64u_names_the_check(text: str, check: str) -> None:
    with pytest.raises(DecodeError, match=f"^{check}"):
        unb64u(text)


def test_unb64u_refuses_bytes_input() -> None:
    with pytest.raises(DecodeError, match=r"^not base64url without padding"):
        unb64u(b"AAAA")  # type: ignore[arg-type]


def test_unb64u_wrong_length() -> None:
    text = b64u(bytes(32))
    assert unb64u(text, 32) == bytes(32)
    with pytest.raises(DecodeError, match=r"^expected 31 bytes, got 32"):
        unb64u(text, 31)
    with pytest.raises(DecodeError, match=r"^expected 33 bytes, got 32"):
        unb64u(text, 33)
    with pytest.raises(DecodeError, match=r"^expected 1 bytes, got 0"):
        unb64u("", 1)


def test_module_exports() -> None:
    assert codec.INT64_MAX == 2**63 - 1
    assert codec.INT64_MIN == -(2**63)


# --- duplicates anywhere, JSON form, values decoded again ----------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x91\x82\xa1a\x01\xa1a\x02", id="in-array"),
        pytest.param(b"\x81\xa1k\x82\xa1a\x01\xa1a\x02", id="in-map-value"),
        pytest.param(b"\x92\x00\x91\x82\xa1b\x01\xa1b\x01", id="deep-same-value"),
        pytest.param(b"\x82\xa1a\x80\xa1a\x80", id="duplicate-maps"),
    ],
)
def test_duplicate_key_at_any_depth(data: bytes) -> None:
    refused(data, DUPLICATE)


def test_a_reencoding_difference_beside_a_map_is_not_a_duplicate() -> None:
    refused(b"\x92\x81\xa1a\x01\xcc\x05", NON_MINIMAL)  # [{"a": 1}, uint8 5]
    refused(b"\x81\xa1a\x92\x01\xcc\x05", NON_MINIMAL)  # {"a": [1, uint8 5]}


def test_jsonable_turns_every_bytes_string_into_base64url() -> None:
    value = {"a": b"\xfb\xff", "b": [b"", (b"\x00", 1)], "c": {"d": None, "e": "text"}, "f": True}
    assert codec.jsonable(value) == {
        "a": "-_8",
        "b": ["", ["AA", 1]],
        "c": {"d": None, "e": "text"},
        "f": True,
    }
    assert codec.jsonable(b"\x00\x01") == "AAE"
    assert codec.jsonable(7) == 7


def test_decoded_again_gives_a_fresh_equal_value() -> None:
    data = encode({"a": [1, b"x", "y"], "b": {"c": None}})
    first, second = codec.decoded_again(data), codec.decoded_again(data)
    assert first == second == decode(data)
    first["a"].append(2)
    assert second["a"] == [1, b"x", "y"]
    assert codec.decoded_again(encode("text")) == "text"


def test_limits_are_immutable_values() -> None:
    with pytest.raises(AttributeError):
        DEFAULT_LIMITS.max_size = 1  # type: ignore[misc]
    assert Limits() == DEFAULT_LIMITS


def test_check_text_names_text_unless_told_otherwise() -> None:
    check_text = codec.check_text
    check_text("é")
    with pytest.raises(DecodeError, match=r"^text is not NFC-normalised$"):
        check_text("e\u0301")
    with pytest.raises(DecodeError, match=r"^a name is not NFC-normalised$"):
        check_text("e\u0301", "a name")


def test_a_short_id_is_ten_characters_of_base64url() -> None:
    data = bytes(range(32))
    assert codec.short_id(data) == "AAECAwQFBg" == b64u(data)[:10]
