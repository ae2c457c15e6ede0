"""Moving a member of a federation body's roster to a new root key (``roster/rekey``; issue 10).

A council whose machine was lost restores its root key from the recovery file and can rotate every other
key away (``shora keys``). A council whose *root key* may be in other hands starts a new log under a new
root key, and its federation moves the roster entry to it — two ways, both recorded as a signed entry of
the federation's log with the reason:

- ``POST /v1/federation/rekey``: the member asks itself, in a request signed with its old root key (it
  still holds it, from the recovery file): ``{"new_key": bin32, "reason": str}`` in canonical msgpack;
- ``POST /v1/admin/roster/rekey``: the federation decides (its operator, after checking with the council by
  other means) — the way out when the old key is in a thief's hands, who may even have moved it first.

Peers follow the roster (``node.replication.roster``): they trust the new key and no longer the old one.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web

from node.http.context import Node, node_of
from node.http.params import by_prefix, text_field
from node.http.wire import ApiError, bad_request, read_json, respond
from node.rules.fedbody import Rekey
from node.rules.fedbody.limits import MAX_REASON
from protocol import codec
from protocol.errors import DecodeError, VerificationError
from protocol.keys import PublicKey

routes = web.RouteTableDef()
REQUEST_LIMITS = codec.Limits(max_size=4 << 10, max_depth=1, max_length=100)


def setup(app: web.Application) -> None:
    app.add_routes(routes)


@routes.post("/v1/admin/roster/rekey")
async def decide(request: web.Request) -> web.Response:
    node = node_of(request)
    body = await read_json(request)
    member = by_prefix(body.get("member"), list(node.federation().roster), "member")
    try:
        new_key = PublicKey(codec.unb64u(text_field(body, "new_key"), 32)).raw
    except DecodeError as exc:
        raise bad_request(
            "bad-field", "new_key is the council's new root key: 32 bytes in base64url"
        ) from exc
    return respond(request, await _move(node, member, new_key, text_field(body, "reason", ""), "federation"))


@routes.post("/v1/federation/rekey")
async def requested(request: web.Request) -> web.Response:
    node = node_of(request)
    roster = node.federation().roster
    try:
        signer = await node.verifier.verify(request, lambda keyid: _member_key(roster, keyid))
    except VerificationError as exc:
        status = 403 if exc.step in ("unknown-key", "recipient") else 401
        raise ApiError(status, f"request-{exc.step}", exc.message) from exc
    try:
        value = codec.decode(await request.read(), REQUEST_LIMITS)
        if not isinstance(value, dict) or set(value) != {"new_key", "reason"}:
            raise DecodeError("a move request is a map of new_key and reason")
        if not isinstance(value["reason"], str) or not isinstance(value["new_key"], bytes):
            raise DecodeError("new_key is 32 bytes and reason text")
        new_key = PublicKey(value["new_key"]).raw
    except DecodeError as exc:
        raise bad_request("bad-request", str(exc)) from exc
    return respond(request, await _move(node, signer.raw, new_key, value["reason"], "member"))


def _member_key(roster: dict[bytes, Any], keyid: bytes) -> PublicKey | None:
    """Only a member's own (old) root key may ask to move it."""
    return PublicKey(keyid) if keyid in roster else None


async def _move(
    node: Node, member: bytes, new_key: bytes, reason: str, by: Literal["member", "federation"]
) -> dict[str, Any]:
    if len(reason) > MAX_REASON:
        raise bad_request("bad-field", f"a reason is at most {MAX_REASON} characters")
    head = node.replication.replica.head(member)
    size = head.size if head else 0  # the old log is accepted up to here, never beyond
    appended = await node.writer.submit(Rekey(member, new_key, reason, size, by))
    return {
        "member": member,
        "new_key": new_key,
        "entry_id": appended[0].id,
        "size": size,
        "requested_by": by,
    }
