"""Canonical msgpack (DESIGN.md §3): one encoding per value, and a decoder that accepts nothing else.

Values are ``None``, ``bool``, ``int`` (int64), ``str`` (NFC), ``bytes``, ``list``/``tuple`` and ``dict``
with ``str`` keys. Maps are written with keys sorted by their UTF-8 bytes; integers and lengths use the
smallest msgpack form; there are no floats and no ext types. ``decode`` rejects any input that does not
re-encode to exactly the same bytes, so two parties that agree on a value agree on its bytes.

Limits are checked before msgpack allocates: the total size first, then msgpack's own per-collection
length caps; nesting depth is bounded by the size (one byte per level) and checked on the decoded value.
"""

from __future__ import annotations

import base64
import binascii
import unicodedata
from dataclasses import dataclass
from typing import Any

import msgpack

from protocol.errors import DecodeError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what ``decode`` will accept."""

    max_size: int = 1 << 20
    max_depth: int = 16
    max_length: int = 10_000  # elements of one array or map, bytes of one str or bin


DEFAULT_LIMITS = Limits()


def encode(value: Any) -> bytes:
    """The canonical bytes of ``value``; raises ``DecodeError`` for values that have none."""
    return msgpack.packb(_canonical(value, 0, None), use_bin_type=True)  # type: ignore[no-any-return]


def decode(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Decode canonical bytes; anything else raises ``DecodeError``."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError("input is not bytes")
    if len(data) > limits.max_size:
        raise DecodeError(f"input of {len(data)} bytes exceeds the limit of {limits.max_size}")
    if len(data) == 0:
        raise DecodeError("empty input")
    try:
        raw = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            object_pairs_hook=_Pairs,
            ext_hook=_refuse_ext,
            max_str_len=limits.max_length,
            max_bin_len=limits.max_length,
            max_array_len=limits.max_length,
            max_map_len=limits.max_length,
            max_ext_len=0,
        )
    except msgpack.ExtraData as exc:
        raise DecodeError("trailing bytes after the value") from exc
    except DecodeError:
        raise
    except (ValueError, TypeError, UnicodeDecodeError, msgpack.UnpackException, RecursionError) as exc:
        raise DecodeError(f"malformed msgpack: {exc}") from exc
    value = _checked(raw, 0, limits.max_depth)
    if msgpack.packb(value, use_bin_type=True) != bytes(data):
        raise DecodeError("non-minimal encoding: the value re-encodes to different bytes")
    return value


class _Pairs(list[tuple[Any, Any]]):
    """A decoded map, kept as its pairs in wire order so duplicates and order can be checked."""


def _refuse_ext(code: int, data: bytes) -> Any:
    raise DecodeError(f"ext type {code} is not allowed")


def _canonical(value: Any, depth: int, limits: Limits | None) -> Any:
    """Check ``value`` against the canonical rules and return it with maps as key-sorted dicts.

    With ``limits`` (decoding) maps arrive as ``_Pairs`` in wire order and must already be sorted; without
    (encoding) dicts are sorted here.
    """
    max_depth = limits.max_depth if limits else DEFAULT_LIMITS.max_depth
    if depth > max_depth:
        raise DecodeError(f"nesting deeper than {max_depth}")
    if value is None or value is True or value is False:
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise DecodeError(f"integer {value} is outside int64")
        return value
    if isinstance(value, str):
        _check_text(value, "text")
        return value
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, float):
        raise DecodeError("floats are not allowed (use integer milliseconds or fixed-point integers)")
    if isinstance(value, _Pairs):
        out: dict[str, Any] = {}
        previous: bytes | None = None
        for key, item in value:
            if not isinstance(key, str):
                raise DecodeError("map keys must be text")
            _check_text(key, "map key")
            encoded = key.encode()
            if previous is not None and encoded <= previous:
                raise DecodeError(
                    f"duplicate map key {key!r}" if encoded == previous else "map keys are not sorted"
                )
            previous = encoded
            out[key] = _canonical(item, depth + 1, limits)
        return out
    if isinstance(value, dict):
        keys = list(value)
        for key in keys:
            if not isinstance(key, str):
                raise DecodeError("map keys must be text")
            _check_text(key, "map key")
        keys.sort(key=str.encode)
        return {key: _canonical(value[key], depth + 1, limits) for key in keys}
    if isinstance(value, list | tuple):
        return [_canonical(item, depth + 1, limits) for item in value]
    raise DecodeError(f"type {type(value).__name__} has no canonical encoding")


def _checked(value: Any, depth: int, max_depth: int) -> Any:
    """``_canonical`` for what msgpack just decoded, on the hot path of every entry: dispatch on the exact
    type (the unpacker makes no subclasses) and compare map keys as ``str``, whose code-point order is
    the UTF-8 byte order. The same rules, checked; only cheaper."""
    if depth > max_depth:
        raise DecodeError(f"nesting deeper than {max_depth}")
    kind = type(value)
    if kind is str:
        if not value.isascii():  # ASCII text is always NFC
            _check_text(value, "text")
        return value
    if kind is int:
        if not INT64_MIN <= value <= INT64_MAX:
            raise DecodeError(f"integer {value} is outside int64")
        return value
    if kind is bytes or value is None or kind is bool:
        return value
    if kind is list:
        return [_checked(item, depth + 1, max_depth) for item in value]
    if kind is _Pairs:
        out: dict[str, Any] = {}
        previous: str | None = None
        for key, item in value:
            if type(key) is not str:
                raise DecodeError("map keys must be text")
            if not key.isascii():
                _check_text(key, "map key")
            if previous is not None and key <= previous:
                raise DecodeError(
                    f"duplicate map key {key!r}" if key == previous else "map keys are not sorted"
                )
            previous = key
            out[key] = _checked(item, depth + 1, max_depth)
        return out
    if kind is float:
        raise DecodeError("floats are not allowed (use integer milliseconds or fixed-point integers)")
    raise DecodeError(f"type {kind.__name__} has no canonical encoding")


def _check_text(text: str, what: str) -> None:
    # Decoded text is always valid UTF-8; text to encode may hold lone surrogates, which have no UTF-8.
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        raise DecodeError(f"{what} is not valid Unicode (lone surrogate)") from exc
    if not unicodedata.is_normalized("NFC", text):
        raise DecodeError(f"{what} is not NFC-normalised")


def jsonable(value: Any) -> Any:
    """``value`` with every bytes string as base64url: how values travel as JSON (DESIGN.md §8)."""
    if isinstance(value, bytes):
        return b64u(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def b64u(data: bytes) -> str:
    """Base64url without padding: how bytes travel in JSON (DESIGN.md §8)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64u(text: str, length: int | None = None) -> bytes:
    """Strict inverse of ``b64u``: no padding, no other alphabet, and the canonical form only."""
    if not isinstance(text, str) or "=" in text or len(text) % 4 == 1:
        raise DecodeError("not base64url without padding")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise DecodeError("not base64url") from exc
    if b64u(data) != text:
        raise DecodeError("not canonical base64url")
    if length is not None and len(data) != length:
        raise DecodeError(f"expected {length} bytes, got {len(data)}")
    return data
