"""How values leave the node over HTTP: JSON by default (bytes as base64url), msgpack on request.

Every error is ``{"error": CODE, "message": TEXT}`` with a 4xx status (DESIGN.md §8).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from protocol import codec
from protocol.codec import jsonable

MSGPACK = "application/msgpack"


def wants_msgpack(request: web.Request) -> bool:
    return MSGPACK in request.headers.get("Accept", "")


def respond(request: web.Request, value: Any, status: int = 200) -> web.Response:
    if wants_msgpack(request):
        return web.Response(body=codec.encode(value), status=status, content_type=MSGPACK)
    return web.Response(
        text=json.dumps(jsonable(value), ensure_ascii=False, separators=(",", ":")),
        status=status,
        content_type="application/json",
    )


class ApiError(web.HTTPException):
    """A refusal: raised anywhere in a handler, answered as the error shape with its status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status_code = status
        super().__init__(
            text=json.dumps({"error": code, "message": message}, ensure_ascii=False),
            content_type="application/json",
        )
        self.code, self.message = code, message


def bad_request(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "not-found", message)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body; anything else is a 400."""
    raw = await request.read()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
        if isinstance(value, dict):
            _check_unicode(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad_request("bad-json", f"body is not JSON: {exc}") from exc
    except ValueError as exc:  # an integer of more digits than Python converts (sys.get_int_max_str_digits)
        raise bad_request("bad-json", "body holds a number too long to read") from exc
    except RecursionError as exc:  # json has no depth limit of its own: deep nesting must not be a 500
        raise bad_request("bad-json", "body is nested too deeply") from exc
    if not isinstance(value, dict):
        raise bad_request("bad-json", "body must be a JSON object")
    return value


def _check_unicode(value: Any) -> None:
    """JSON's \\uD800 escapes decode to lone surrogates, which no UTF-8 column or msgpack text can hold."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError as exc:
            raise bad_request("bad-json", "body holds text that is not valid Unicode") from exc
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_unicode(key)
            _check_unicode(item)
    elif isinstance(value, list):
        for item in value:
            _check_unicode(item)
