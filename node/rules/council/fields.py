"""Strict readers for entry bodies.

``apply`` must survive a log written by a buggy or hostile node, so every body is read field by field with its
exact type and size, and a body with missing or extra fields is refused: nothing unchecked reaches the state.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from protocol import codec
from protocol.errors import DecodeError

from .errors import RuleError
from .limits import ENTRY_ID_LEN, MEMBER_ID_LEN


def one_of(values: Iterable[str]) -> str:
    """Choices as a sentence says them: ``yes, no or abstain``."""
    items = list(values)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def malformed(message: str) -> RuleError:
    return RuleError("entry.malformed", message)


def exact_keys(body: Mapping[str, Any], keys: set[str], what: str) -> None:
    if set(body) != keys:
        raise malformed(
            f"{what} must have exactly the fields {', '.join(sorted(keys))}, got {', '.join(sorted(body))}"
        )


def get_int(body: Mapping[str, Any], key: str) -> int:
    value = body[key]
    # bool is an int subclass; a stored True must not pass for 1
    if not isinstance(value, int) or isinstance(value, bool):
        raise malformed(f"{key} must be an integer")
    return value


def get_bool(body: Mapping[str, Any], key: str) -> bool:
    value = body[key]
    if not isinstance(value, bool):
        raise malformed(f"{key} must be a boolean")
    return value


def nfc_text(text: object) -> str:
    """Text a command gives, normalised to NFC: canonical text (docs/protocol.md §1), or malformed."""
    if not isinstance(text, str):
        raise malformed("text expected")
    text = unicodedata.normalize("NFC", text)
    try:
        codec.check_text(text)
    except DecodeError as exc:  # a code point the pinned Unicode version does not assign
        raise malformed(str(exc)) from exc
    return text


def check_text(value: object, key: str, limit: int, limit_rule: str) -> str:
    if not isinstance(value, str):
        raise malformed(f"{key} must be text")
    if len(value) > limit:
        raise RuleError(limit_rule, f"{key} is limited to {limit} characters")
    # bodies are canonical msgpack, whose text is NFC (DESIGN §3); execute normalises, apply insists
    try:
        codec.check_text(value, key)
    except DecodeError as exc:  # not NFC, or a code point the pinned Unicode version does not assign
        raise malformed(str(exc)) from exc
    return value


def get_text(body: Mapping[str, Any], key: str, limit: int, limit_rule: str = "limit.text") -> str:
    return check_text(body[key], key, limit, limit_rule)


def check_bytes(value: object, key: str, length: int) -> bytes:
    if not isinstance(value, bytes) or len(value) != length:
        raise malformed(f"{key} must be {length} bytes")
    return value


def get_member(body: Mapping[str, Any], key: str) -> bytes:
    return check_bytes(body[key], key, MEMBER_ID_LEN)


def get_entry_id(body: Mapping[str, Any], key: str) -> bytes:
    return check_bytes(body[key], key, ENTRY_ID_LEN)


def get_list(body: Mapping[str, Any], key: str) -> list[Any]:
    value = body[key]
    if not isinstance(value, list):
        raise malformed(f"{key} must be a list")
    return value


def get_map(body: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = body[key]
    if not isinstance(value, dict):
        raise malformed(f"{key} must be a map")
    return value


def plain(value: Any) -> Any:
    """Tuples as lists, recursively: a decoder may hand back either, comparisons need one form."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value
