"""What wraps every handler: the error shape, the time limit, and the operator's signature on /v1/admin/."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from federation.auth import status_of
from federation.errors import Frozen
from node.http import elsewhere
from node.http.context import MEMBER, SIGNER, node_of
from node.http.wire import ApiError
from node.rules.council import Council, RuleError
from protocol.errors import ProtocolError, VerificationError
from protocol.keys import PublicKey

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every refusal becomes ``{"error", "message"}`` with a 4xx; anything else is a bug, logged as one."""
    try:
        return await handler(request)
    except ApiError:
        raise
    except Frozen as exc:
        raise ApiError(409, "log-frozen", exc.reason) from exc
    except RuleError as exc:
        raise ApiError(422, exc.rule, exc.message) from exc
    except ProtocolError as exc:
        raise ApiError(400, "bad-data", str(exc)) from exc
    except web.HTTPRequestEntityTooLarge as exc:
        raise ApiError(413, "too-large", "request body exceeds the node's limit") from exc
    except web.HTTPException as exc:
        if exc.status >= 500:
            raise
        if exc.status in (404, 405) and request.path.startswith("/v1/admin/"):
            raise elsewhere.explain(request, node_of(request).config.kind) from exc
        code = exc.reason.lower().replace(" ", "-")
        raise ApiError(exc.status, code, exc.reason) from exc


@web.middleware
async def strict_http(request: web.Request, handler: Handler) -> web.StreamResponse:
    """What aiohttp's parser lets through and a proxy in front might read otherwise: a request without an
    HTTP/1.x version line (HTTP/0.9), or with its Host given twice."""
    if request.version < (1, 0) or len(request.headers.getall("Host", ())) > 1:
        raise ApiError(400, "bad-request", "an HTTP/1.x request with one Host header")
    return await handler(request)


REDEEM_PATH = "/v1/member/redeem"  # signed by a key no one knows yet: the invitation vouches for it


@web.middleware
async def operator_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/v1/admin/"):
        node = node_of(request)
        try:
            key = await node.verifier.verify(request, node.operator_keys.get)
        except VerificationError as exc:
            raise ApiError(status_of(exc), f"request-{exc.step}", exc.message) from exc
        request[SIGNER] = key.raw
    return await handler(request)


@web.middleware
async def members_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """``/v1/member/``: requests signed by an active member's current key (a council's node only).

    A replaced key is refused as ``request-revoked-key``; the redemption of an invitation is signed by the
    new key itself, which the invitation vouches for (checked by the route)."""
    if not request.path.startswith("/v1/member/"):
        return await handler(request)
    node = node_of(request)
    state = node.writer.state
    if not isinstance(state, Council):
        raise ApiError(404, "not-a-council", "a federation body's node has no members of its own")
    redeem = request.path == REDEEM_PATH

    def lookup(keyid: bytes) -> PublicKey | None:
        if redeem:
            try:
                return PublicKey(keyid)
            except ProtocolError:
                return None
        if keyid in state.retired_keys:
            raise VerificationError("revoked-key", "this key was replaced and revoked")
        member = state.member_keys.get(keyid)
        if member is None:
            return None
        if not state.is_active(member):
            raise VerificationError("not-member", "this key's member has left or was removed")
        return PublicKey(keyid)

    try:
        # redemptions come from keys nobody knows yet: their nonces are kept apart, so a flood of fresh
        # keys cannot fill the store the operator's and members' requests need
        verifier = node.redeem_verifier if redeem and node.redeem_verifier else node.verifier
        key = await verifier.verify(request, lookup)
    except VerificationError as exc:
        status = 403 if exc.step in ("revoked-key", "not-member") else status_of(exc)
        raise ApiError(status, f"request-{exc.step}", exc.message) from exc
    request[SIGNER] = key.raw
    if not redeem:
        request[MEMBER] = state.member_keys[key.raw]
    return await handler(request)


@web.middleware
async def time_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No request with a body may hold the node longer than ``handler_timeout_s`` (a body trickled in, a
    stuck peer). Reads without a body answer from the database at once and skip the timer (it would cost
    every public GET); the streamed sync is the operator's own long-running call and is exempt."""
    if request.path == "/v1/admin/sync" or (request.method in ("GET", "HEAD") and not request.body_exists):
        return await handler(request)
    try:
        async with asyncio.timeout(node_of(request).config.settings.handler_timeout_s):
            return await handler(request)
    except TimeoutError as exc:
        raise ApiError(408, "timeout", "the request took longer than this node allows") from exc
