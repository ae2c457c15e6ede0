"""Canonical msgpack (DESIGN.md §3): one encoding per value, and a decoder that accepts nothing else.

Values are ``None``, ``bool``, ``int`` (int64), ``str`` (NFC, of code points assigned in the pinned Unicode
version), ``bytes``, ``list``/``tuple`` and ``dict``
with ``str`` keys. Maps are written with keys sorted by their UTF-8 bytes; integers and lengths use the
smallest msgpack form; there are no floats and no ext types. ``decode`` rejects any input that does not
re-encode to exactly the same bytes, so two parties that agree on a value agree on its bytes.

Limits are checked before msgpack allocates: the total size first, then msgpack's own per-collection
length caps; nesting depth is bounded by the size (one byte per level) and checked on the decoded value.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any

import msgpack

from protocol.errors import DecodeError
from protocol.unicode_assigned import ASSIGNED, UNICODE_VERSION

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what ``decode`` will accept."""

    max_size: int = 1 << 20
    max_depth: int = 16
    max_length: int = 10_000  # elements of one array or map, bytes of one str or bin


DEFAULT_LIMITS = Limits()

# Text is NFC under the pinned Unicode version, and holds only code points assigned in it: by Unicode's
# normalization stability policy, NFC of assigned characters never changes, so the running Python's
# ``unicodedata`` (14.0 on 3.11, 15.0 on 3.12, 15.1 on 3.13) gives every verifier the same verdict.
_UNASSIGNED = re.compile(
    "[^"
    + "".join(
        f"\\U{int(a, 16):08x}-\\U{int(b, 16):08x}" for a, b in (pair.split("-") for pair in ASSIGNED.split())
    )
    + "]"
)


class _Packer(threading.local):
    """A msgpack packer per thread: making one per call costs as much as packing a small value."""

    def __init__(self) -> None:
        self.pack = msgpack.Packer(use_bin_type=True).pack


_packer = _Packer()


def encode(value: Any) -> bytes:
    """The canonical bytes of ``value``; raises ``DecodeError`` for values that have none."""
    return _packer.pack(_canonical(value, 0))  # type: ignore[no-any-return]


def decode(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Decode canonical bytes; anything else raises ``DecodeError``."""
    if type(data) is not bytes and not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError("input is not bytes")
    if len(data) > limits.max_size:
        raise DecodeError(f"input of {len(data)} bytes exceeds the limit of {limits.max_size}")
    if len(data) == 0:
        raise DecodeError("empty input")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
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
    _check(value, 0, limits.max_depth)
    # Maps decode as dicts in wire order, so key order was checked above; this comparison catches every
    # non-minimal form, and duplicate keys (a dict keeps one of them, so the re-encoded map is shorter).
    if _packer.pack(value) != data:
        if _has_duplicate_key(msgpack.unpackb(data, object_pairs_hook=_Pairs)):
            raise DecodeError("duplicate map key")
        raise DecodeError("non-minimal encoding: the value re-encodes to different bytes")
    return value


def decoded_again(data: bytes) -> Any:
    """A fresh value from bytes ``decode`` has already accepted, without checking them a second time.

    For objects that check their bytes once, when built, and hand out mutable values (``Entry.body``): on
    bytes that ``decode`` accepts, plain msgpack yields the same value. Never call it on other bytes.
    """
    return msgpack.unpackb(data, raw=False)


class _Pairs(list[tuple[Any, Any]]):
    """A decoded map as its pairs in wire order: only to name a duplicate key in an error."""


def _has_duplicate_key(value: Any) -> bool:
    if type(value) is _Pairs:
        keys = [key for key, _ in value]
        if len(set(keys)) != len(keys):
            return True
        return any(_has_duplicate_key(item) for _, item in value)
    return type(value) is list and any(_has_duplicate_key(item) for item in value)


def _refuse_ext(code: int, data: bytes) -> Any:
    raise DecodeError(f"ext type {code} is not allowed")


def _canonical(value: Any, depth: int) -> Any:
    """Check ``value`` against the canonical rules and return it with maps as key-sorted dicts."""
    if depth > DEFAULT_LIMITS.max_depth:
        raise DecodeError(f"nesting deeper than {DEFAULT_LIMITS.max_depth}")
    if value is None or value is True or value is False:
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise DecodeError(f"integer {value} is outside int64")
        return value
    if isinstance(value, str):
        check_text(value, "text")
        return value
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, float):
        raise DecodeError("floats are not allowed (use integer milliseconds or fixed-point integers)")
    if isinstance(value, dict):
        keys = list(value)
        for key in keys:
            if not isinstance(key, str):
                raise DecodeError("map keys must be text")
            check_text(key, "map key")
        keys.sort(key=str.encode)
        return {key: _canonical(value[key], depth + 1) for key in keys}
    if isinstance(value, list | tuple):
        return [_canonical(item, depth + 1) for item in value]
    raise DecodeError(f"type {type(value).__name__} has no canonical encoding")


def _check(value: Any, depth: int, max_depth: int) -> None:
    """Check a value msgpack just decoded for what re-encoding it cannot reveal: depth, map key type and
    order, int64 range, NFC text, floats and other types. On the hot path of every entry, so it dispatches
    on the exact type (the unpacker makes no subclasses), checks scalars inline, skips NFC for ASCII text
    (always NFC) and compares keys as ``str``, whose code-point order is their UTF-8 byte order."""
    kind = type(value)
    if kind is dict:
        previous: str | None = None
        for key in value:
            if type(key) is not str:
                raise DecodeError("map keys must be text")
            if not key.isascii():
                check_text(key, "map key")
            if previous is not None and key <= previous:  # a dict holds no duplicates
                raise DecodeError("map keys are not sorted")
            previous = key
        items = value.values()
    elif kind is list:
        items = value
    else:
        _check_scalar(value)
        return
    if items and depth >= max_depth:
        raise DecodeError(f"nesting deeper than {max_depth}")
    for item in items:
        kind = type(item)
        if kind is str:
            if not item.isascii():
                check_text(item, "text")
        elif kind is int:
            if not INT64_MIN <= item <= INT64_MAX:
                raise DecodeError(f"integer {item} is outside int64")
        elif kind is not bytes and kind is not bool and item is not None:
            _check(item, depth + 1, max_depth)


def _check_scalar(value: Any) -> None:
    kind = type(value)
    if kind is str:
        check_text(value, "text")
    elif kind is int:
        if not INT64_MIN <= value <= INT64_MAX:
            raise DecodeError(f"integer {value} is outside int64")
    elif kind is float:
        raise DecodeError("floats are not allowed (use integer milliseconds or fixed-point integers)")
    elif kind is not bytes and kind is not bool and value is not None:
        raise DecodeError(f"type {kind.__name__} has no canonical encoding")


def check_text(text: str, what: str = "text") -> None:
    """Raise ``DecodeError`` unless ``text`` is canonical: valid Unicode, only code points assigned in the
    pinned Unicode version, NFC."""
    # Decoded text is always valid UTF-8; text to encode may hold lone surrogates, which have no UTF-8.
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        raise DecodeError(f"{what} is not valid Unicode (lone surrogate)") from exc
    unassigned = _UNASSIGNED.search(text)
    if unassigned is not None:
        code = ord(unassigned.group())
        raise DecodeError(f"{what} holds U+{code:04X}, not assigned in Unicode {UNICODE_VERSION}")
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


def short_id(data: bytes) -> str:
    """The first ten characters of a key or id in base64url: how the CLI, the logs and people name a node."""
    return b64u(data)[:10]


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
