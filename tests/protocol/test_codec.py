"""Canonical msgpack (DESIGN.md §3): one encoding per value, and a decoder that refuses every other one.

Hand-written byte strings below are annotated with their msgpack meaning; each refusal test is named after
the kind of non-canonical input it feeds the decoder.
"""

from __future__ import annotations

import time
import unicodedata
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import codec
from protocol.codec import DEFAULT_LIMITS, INT64_MAX, INT64_MIN, Limits, b64u, decode, encode, unb64u
from protocol.errors import DecodeError, ProtocolError

# --- strategies ----------------------------------------------------------------------------------------

nfc_text = st.text(max_size=20).map(lambda s: unicodedata.normalize("NFC", s))
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


def refused(data: bytes, limits: Limits = DEFAULT_LIMITS) -> DecodeError:
    with pytest.raises(DecodeError) as info:
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
    refused(b"\x82" + msgpack.packb(high) + b"\x01" + msgpack.packb(bmp) + b"\x02")


def test_utf8_order_differs_from_length_first_order() -> None:
    # "b" (one byte) sorts after "aa": keys are sorted bytewise, not shortest-first as some canonical
    # forms (RFC 8949 §4.2.3's old rule) do.
    data = encode({"b": 1, "aa": 2})
    assert data == b"\x82\xa2aa\x02\xa1b\x01"
    # The shortest-first order is refused.
    refused(b"\x82\xa1b\x01\xa2aa\x02")


def test_keys_sorted_across_planes() -> None:
    # Private use just below U+FFFF, the first supplementary code point, and the 2/3-byte boundary.
    keys = ["\uffef", "\U00010000", "\ue000", "\u07ff", "\u0800", "z", "\U0010fffd"]
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


@given(st.lists(st.text(min_size=1, max_size=3), min_size=2, max_size=6, unique=True))
@settings(max_examples=100, deadline=None)
def test_key_order_is_utf8_byte_order(keys: list[str]) -> None:
    keys = sorted({unicodedata.normalize("NFC", key) for key in keys})
    data = encode({key: None for key in keys})
    assert list(decode(data)) == sorted(keys, key=str.encode)


# --- named decode refusals -----------------------------------------------------------------------------


def test_reordered_map_keys() -> None:
    assert decode(b"\x82\xa1a\x01\xa1b\x02") == {"a": 1, "b": 2}
    assert "sorted" in str(refused(b"\x82\xa1b\x02\xa1a\x01"))


def test_reordered_persian_map_keys() -> None:
    good = encode({"الف": 1, "ب": 2})
    swapped = b"\x82" + msgpack.packb("ب") + b"\x02" + msgpack.packb("الف") + b"\x01"
    assert decode(good) == {"الف": 1, "ب": 2}
    refused(swapped)


def test_duplicate_key() -> None:
    # msgpack alone would silently keep the last value.
    data = b"\x82\xa1a\x01\xa1a\x02"
    assert msgpack.unpackb(data) == {"a": 2}
    assert "duplicate" in str(refused(data))


def test_non_str_key_int() -> None:
    refused(b"\x81\x01\x02")  # {1: 2}


def test_non_str_key_bytes() -> None:
    refused(b"\x81\xc4\x01a\x02")  # {b"a": 2}


def test_non_str_key_nested() -> None:
    refused(b"\x91\x81\xc4\x01a\x02")  # [{b"a": 2}]


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
    refused(data)


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
    refused(data)


def test_float32() -> None:
    refused(b"\xca\x3f\x80\x00\x00")  # 1.0


def test_float64() -> None:
    refused(b"\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00")  # 1.0


def test_float_nested_in_map() -> None:
    refused(b"\x81\xa1t\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\xd4\x01\x00", id="fixext1"),
        pytest.param(b"\xd5\x01\x00\x00", id="fixext2"),
        pytest.param(b"\xd6\xff\x00\x00\x00\x00", id="fixext4-timestamp32"),
        pytest.param(b"\xc7\x00\x05", id="ext8-empty"),
        pytest.param(b"\xc7\x02\x05ab", id="ext8"),
        pytest.param(b"\xc8\x00\x02\x05ab", id="ext16"),
        pytest.param(b"\x91\xd4\x01\x00", id="fixext-nested"),
    ],
)
def test_ext_type(data: bytes) -> None:
    refused(data)


def test_uint64_beyond_int64() -> None:
    refused(b"\xcf" + (INT64_MAX + 1).to_bytes(8, "big"))
    refused(b"\xcf" + b"\xff" * 8)


def test_non_nfc_text_value() -> None:
    nfd = unicodedata.normalize("NFD", "é")  # "e" + U+0301
    assert nfd != "é"
    refused(msgpack.packb(nfd))
    refused(msgpack.packb(["ok", nfd]))


def test_non_nfc_text_key() -> None:
    nfd = unicodedata.normalize("NFD", "é")
    assert "NFC" in str(refused(msgpack.packb({nfd: 1})))


def test_non_nfc_persian_key() -> None:
    # ARABIC LETTER ALEF + HAMZA ABOVE composes to U+0623 under NFC.
    decomposed = "\u0627\u0654"
    assert unicodedata.normalize("NFC", decomposed) == "\u0623"
    refused(msgpack.packb({decomposed: 1}))
    refused(msgpack.packb(decomposed))


def test_trailing_byte() -> None:
    assert decode(b"\x01") == 1
    assert "trailing" in str(refused(b"\x01\x00"))
    refused(encode({"a": [1, 2]}) + b"\xc0")


def test_truncated_input() -> None:
    data = encode({"a": [1, 2, "xyz"]})
    for cut in range(1, len(data)):
        refused(data[:cut])


def test_empty_input() -> None:
    refused(b"")


def test_not_bytes() -> None:
    with pytest.raises(DecodeError):
        decode("\x01")  # type: ignore[arg-type]


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
    refused(data)


def test_reserved_byte() -> None:
    refused(b"\xc1")


def test_oversize_input() -> None:
    limits = Limits(max_size=16)
    ok = encode(b"x" * 14)  # 16 bytes: bin8 header + 14
    assert len(ok) == 16
    assert decode(ok, limits) == b"x" * 14
    assert "exceeds" in str(refused(encode(b"x" * 15), limits))


def test_oversize_input_default_limit() -> None:
    data = encode(b"x" * DEFAULT_LIMITS.max_size)
    refused(data)


def test_deep_nesting() -> None:
    limits = Limits(max_depth=4)
    assert decode(encode(nested(4)), limits) == nested(4)
    refused(msgpack.packb(nested(5)), limits)
    refused(msgpack.packb(nested(DEFAULT_LIMITS.max_depth + 1)))
    assert decode(encode(nested(DEFAULT_LIMITS.max_depth))) == nested(DEFAULT_LIMITS.max_depth)


def test_deep_nesting_of_maps() -> None:
    value: Any = 0
    for _ in range(DEFAULT_LIMITS.max_depth + 1):
        value = {"k": value}
    refused(msgpack.packb(value))


def test_pathological_nesting_fills_size_limit() -> None:
    # One byte per level: a fixarray of one element, a million times over.
    started = time.perf_counter()
    refused(b"\x91" * (DEFAULT_LIMITS.max_size - 1) + b"\x00")
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\xdd\xff\xff\xff\xff", id="array32"),
        pytest.param(b"\xdf\xff\xff\xff\xff", id="map32"),
    ],
)
def test_collection_length_over_max_length_refused_without_allocating(data: bytes) -> None:
    # 5 bytes claiming 2**32-1 elements: refused on the header, before a list of that size exists.
    started = time.perf_counter()
    error = refused(data)
    assert time.perf_counter() - started < 0.5
    assert "exceeds" in str(error)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\xdb\xff\xff\xff\xff", id="str32"),
        pytest.param(b"\xc6\xff\xff\xff\xff", id="bin32"),
        pytest.param(b"\xdb\x00\x00\x27\x11" + b"a" * 10_001, id="str32-just-over"),
        pytest.param(b"\xc6\x00\x00\x27\x11" + b"a" * 10_001, id="bin32-just-over"),
    ],
)
def test_string_length_over_max_length_refused_fast(data: bytes) -> None:
    started = time.perf_counter()
    refused(data)
    assert time.perf_counter() - started < 0.5


def test_collection_length_over_max_length() -> None:
    limits = Limits(max_length=3)
    assert decode(encode([1, 2, 3]), limits) == [1, 2, 3]
    refused(encode([1, 2, 3, 4]), limits)
    refused(encode({"a": 1, "b": 2, "c": 3, "d": 4}), limits)
    refused(encode("abcd"), limits)
    refused(encode(b"abcd"), limits)


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
    error = refused(b"\xc1")
    assert isinstance(error, ProtocolError)
    assert error.__cause__ is not None


# --- encoding refusals ---------------------------------------------------------------------------------


class _Thing:
    pass


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(1.0, id="float"),
        pytest.param(float("nan"), id="nan"),
        pytest.param([1, 0.5], id="nested-float"),
        pytest.param({1, 2}, id="set"),
        pytest.param(frozenset(), id="frozenset"),
        pytest.param(_Thing(), id="object"),
        pytest.param({1: "a"}, id="int-key"),
        pytest.param({b"a": 1}, id="bytes-key"),
        pytest.param({None: 1}, id="none-key"),
        pytest.param({("a",): 1}, id="tuple-key"),
        pytest.param(INT64_MAX + 1, id="int-over-int64"),
        pytest.param(INT64_MIN - 1, id="int-under-int64"),
        pytest.param(2**64, id="uint64-overflow"),
        pytest.param(unicodedata.normalize("NFD", "é"), id="non-nfc-str"),
        pytest.param({unicodedata.normalize("NFD", "é"): 1}, id="non-nfc-key"),
        pytest.param("\ud800", id="lone-surrogate"),
        pytest.param({"\udfff": 1}, id="lone-surrogate-key"),
        pytest.param(nested(DEFAULT_LIMITS.max_depth + 1), id="too-deep"),
        pytest.param(1j, id="complex"),
    ],
)
def test_encode_refuses(value: Any) -> None:
    with pytest.raises(DecodeError):
        encode(value)


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
    with pytest.raises(DecodeError):
        unb64u(text)


def test_unb64u_refuses_bytes_input() -> None:
    with pytest.raises(DecodeError):
        unb64u(b"AAAA")  # type: ignore[arg-type]


def test_unb64u_wrong_length() -> None:
    text = b64u(bytes(32))
    assert unb64u(text, 32) == bytes(32)
    with pytest.raises(DecodeError):
        unb64u(text, 31)
    with pytest.raises(DecodeError):
        unb64u(text, 33)
    with pytest.raises(DecodeError):
        unb64u("", 1)


def test_module_exports() -> None:
    assert codec.INT64_MAX == 2**63 - 1
    assert codec.INT64_MIN == -(2**63)
