"""A federation body's public face: applications for admission, and the aggregated picture.

``POST /v1/federation/apply`` takes a council's (or lower federation's) application, signed with the
applicant's own root key — the one key the federation cannot know yet, so any valid signature is accepted,
and what it proves is that the applicant holds the key it asks to have admitted. The operator decides
(``shora federation admit``). ``GET /v1/federation/summary`` and friends serve the aggregate, unsigned:
counts, outcomes and public texts only (DESIGN.md §6).

These routes are registered before the ``/v1/federation/…`` gossip catch-all, which answers only peers.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from federation.aggregate import Aggregate
from federation.auth import status_of
from node.errors import ApplicationError
from node.http.context import Node, node_of
from node.http.params import int_param
from node.http.wire import ApiError, bad_request, not_found, respond
from node.storage.clock import now_ms
from protocol import codec
from protocol.errors import DecodeError, VerificationError
from protocol.keys import PublicKey

routes = web.RouteTableDef()
T = TypeVar("T")
PROFILE = ("kind", "name", "name_fa", "city", "country", "continent", "url")


def setup(app: web.Application) -> None:
    app.add_routes(routes)


def federation_body(request: web.Request) -> Node:
    node = node_of(request)
    if node.config.kind != "federation":
        raise ApiError(404, "wrong-kind-of-node", "this is a council node; this command is for a federation")
    return node


@routes.post("/v1/federation/apply")
async def apply(request: web.Request) -> web.Response:
    from node.storage import applications  # the operator's side of the same table

    node = federation_body(request)
    node.applicants.admit(request)
    try:
        signer = await node.applicants.verifier.verify(request, _any_key)
    except VerificationError as exc:
        raise ApiError(status_of(exc), f"request-{exc.step}", exc.message) from exc
    try:
        limits = codec.Limits(
            max_size=node.config.settings.application_max_bytes, max_depth=1, max_length=1000
        )
        value = codec.decode(await request.read(), limits)
    except DecodeError as exc:
        raise bad_request("bad-application", f"an application is a canonical msgpack map: {exc}") from exc
    if (
        not isinstance(value, dict)
        or set(value) != set(PROFILE)
        or not all(isinstance(v, str) for v in value.values())
    ):
        raise bad_request("bad-application", f"an application carries exactly {', '.join(PROFILE)} as text")
    if signer.raw == node.config.node_id:
        raise bad_request("bad-application", "a federation does not apply to itself")
    pending_max = node.config.settings.applications_pending_max

    def store(conn: sqlite3.Connection) -> bool:
        if not applications.has_room(conn, signer.raw, pending_max):
            return False
        applications.record(conn, signer.raw, value, now_ms())
        return True

    try:
        stored = await node.writer.run(store, node.writer.conn)
    except applications.AlreadyAdmitted as exc:  # the applicant stops applying when it reads this code
        raise ApiError(409, "already-admitted", str(exc)) from exc
    except ApplicationError as exc:
        raise bad_request("bad-application", str(exc)) from exc
    if not stored:
        raise ApiError(503, "applications-full", "this federation holds too many pending applications")
    return respond(request, {"received": True, "applicant": signer.raw, "at": int(time.time())})


def _any_key(keyid: bytes) -> PublicKey | None:
    try:
        return PublicKey(keyid)
    except DecodeError:
        return None


async def _read(node: Node, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``node.aggregate.method(*args, **kwargs)``, on the reader's thread (whose connection it reads)."""
    aggregate = node.aggregate
    if aggregate is None:
        raise not_found("this node is a council, not a federation body")
    return await node.reads.run(lambda _: method(aggregate, *args, **kwargs))


@routes.get("/v1/federation/summary")
async def summary(request: web.Request) -> web.Response:
    node = federation_body(request)
    return respond(request, await _read(node, Aggregate.summary))


@routes.get("/v1/federation/councils/{log_id}")
async def council(request: web.Request) -> web.Response:
    node = federation_body(request)
    try:
        log_id = codec.unb64u(request.match_info["log_id"], 32)
    except DecodeError as exc:
        raise bad_request("bad-log-id", "a council id is 32 bytes in base64url") from exc
    detail = await _read(node, Aggregate.council, log_id)
    if detail is None:
        raise not_found("this federation holds no such council")
    return respond(request, detail)


@routes.get("/v1/federation/decisions")
async def decisions(request: web.Request) -> web.Response:
    node = federation_body(request)
    query: dict[str, Any] = {}
    try:
        if "council" in request.query:
            query["council"] = codec.unb64u(request.query["council"], 32)
        for name in ("since_ms", "until_ms", "limit", "offset"):
            if name in request.query:
                query[name] = int_param(request, name)
    except DecodeError as exc:
        raise bad_request("bad-parameter", str(exc)) from exc
    query["limit"] = min(query.get("limit", 100), 500)
    found = await _read(
        node,
        Aggregate.decisions,
        request.query.get("q") or None,
        kind=request.query.get("kind") or None,
        **query,
    )
    return respond(request, {"decisions": found})
