"""What handlers take from a request: query integers, ids in the path, fields of a JSON body, id prefixes.

Each turns a bad value into the API's 400 or 404 (``node.http.wire``), never a 500.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from node.http.wire import ApiError, bad_request
from protocol import codec
from protocol.errors import DecodeError

MIN_PREFIX = 4  # characters of base64url an id prefix needs: fewer would match too much to be meant


def int_param(request: web.Request, name: str, default: int | None = None, low: int = 0) -> int:
    """The query parameter ``name`` as an integer ≥ ``low`` (and < 2**63); ``default`` when absent."""
    raw = request.query.get(name)
    if raw is None:
        if default is None:
            raise bad_request("missing-parameter", f"query parameter {name} is required")
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise bad_request("bad-parameter", f"{name} must be an integer") from exc
    if value < low or value > 2**63 - 1:
        raise bad_request("bad-parameter", f"{name} must be at least {low}")
    return value


def id_param(request: web.Request, name: str, what: str) -> bytes:
    """The 32-byte id in the path segment ``name`` (``what`` names it in the error)."""
    try:
        return codec.unb64u(request.match_info[name], 32)
    except DecodeError as exc:
        raise bad_request(f"bad-{what}-id", f"a {what} id is 32 bytes in base64url") from exc


def text_field(body: dict[str, Any], key: str, default: str | None = None) -> str:
    """The text field ``key`` of a JSON body (``default`` when absent; required when that is None)."""
    value = body.get(key, default)
    if not isinstance(value, str):
        raise bad_request("bad-field", f"{key} must be text")
    return value


def by_prefix(ref: object, known: list[bytes], what: str) -> bytes:
    """An id given in full or as a unique base64url prefix (at least ``MIN_PREFIX`` characters)."""
    if not isinstance(ref, str) or len(ref) < MIN_PREFIX:
        said = f"no {what} named {ref}" if isinstance(ref, str) else f"name the {what} by its id"
        raise ApiError(404, f"unknown-{what}", said)
    matches = [i for i in known if codec.b64u(i).startswith(ref)]
    if len(matches) != 1:
        reason = "is ambiguous" if matches else "is unknown"
        raise ApiError(404, f"unknown-{what}", f"{what} {ref} {reason}")
    return matches[0]
