"""How a fold reads a stored public body: as a map, and each field of it with the type its kind gives it.

Whatever does not have that shape (a hostile or buggy council) raises ``UnreadableBody`` here, while it is
read, before the fold changes anything; msgpack's errors are mapped to it here too, at the boundary.
"""

from __future__ import annotations

from typing import Any

import msgpack

from federation.aggregate.schema import ID
from federation.errors import UnreadableBody


def read_body(body_bytes: bytes) -> dict[str, Any]:
    """A stored public body as a map. ``Entry`` checked it was canonical msgpack when it was stored; a
    body that is not a map, or does not unpack, is mapped to ``UnreadableBody`` here, at the boundary
    (msgpack raises ``TypeError`` for a map key it cannot hash: that, too, is the body's fault)."""
    try:
        body = msgpack.unpackb(body_bytes, raw=False)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise UnreadableBody(f"body: {exc}") from exc
    if not isinstance(body, dict):
        raise UnreadableBody("a body is a map")
    return body


def read_value(body: object, key: str, kind: type | tuple[type, ...]) -> Any:
    """``body[key]`` if ``body`` is a map and that value is a ``kind`` (never a bool for a number)."""
    if not isinstance(body, dict):
        raise UnreadableBody(f"{key}: not in a map")
    value = body.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise UnreadableBody(key)
    return value


def read_id(body: object, key: str) -> bytes:
    """``body[key]`` if it is an id (``ID`` bytes)."""
    value = read_value(body, key, bytes)
    if len(value) != ID:
        raise UnreadableBody(key)
    return value  # type: ignore[no-any-return]
