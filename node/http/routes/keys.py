"""Operator endpoints for a node's keys over time (issue 10).

``GET /v1/admin/keys`` lists every key with its role and where in the log it was added or revoked: the
root key (the log's id, valid from entry 0 for ever), the signing keys it delegated by ``log/key`` entries
(protocol.bundle), and the operator key node.json holds. ``POST …/keys/rotate`` replaces the signing key,
``POST …/keys/revoke`` revokes one from a position, and ``POST …/keys/operator`` replaces the operator key:
the request is signed with the old one, and from its answer on only the new one is accepted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from typing import Any

from aiohttp import web

from node import config as cfg
from node.http.context import Node, node_of
from node.http.params import by_prefix, text_field
from node.http.wire import ApiError, bad_request, read_json, respond
from node.ops.keys import PENDING_SIGNING_KEY, SIGNING_KEY, history
from node.rules.council import Appended
from protocol import codec
from protocol.bundle import KEY_KIND
from protocol.errors import DecodeError
from protocol.keys import PublicKey, SigningKey, save_signing_key

routes = web.RouteTableDef()


LOCK: web.AppKey[asyncio.Lock] = web.AppKey("keys_lock", asyncio.Lock)


def setup(app: web.Application) -> None:
    app[LOCK] = asyncio.Lock()  # one key change at a time: each reads the key history it changes
    app.add_routes(routes)


@routes.get("/v1/admin/keys")
async def keys(request: web.Request) -> web.Response:
    node = node_of(request)
    root = node.config.node_id
    signing = node.writer.signing.public.raw
    out: list[dict[str, Any]] = [
        {
            "key": root,
            "role": "root",
            "added_seq": 0,
            "revoked_seq": None,
            "revoked_from": None,
            "signs_now": signing == root,
        }
    ]
    for d in history(node.store.delegations(root), root).values():
        out.append(
            {
                "key": d.key,
                "role": "signing",
                "added_seq": d.added_seq,
                "revoked_seq": d.revoked_seq,
                "revoked_from": d.revoked_from,
                "signs_now": d.key == signing,
            }
        )
    out.append(
        {
            "key": node.config.operator_key,
            "role": "operator",
            "added_seq": None,
            "revoked_seq": None,
            "revoked_from": None,
            "signs_now": False,
        }
    )
    return respond(request, {"keys": out})


@routes.post("/v1/admin/keys/rotate")
async def rotate(request: web.Request) -> web.Response:
    """A fresh signing key, added by the root key; the one signing until now is revoked."""
    node = node_of(request)
    await read_json(request)
    async with request.app[LOCK]:
        old = node.writer.signing.public.raw
        new = SigningKey.generate()
        bodies = [_body("add", new.public.raw)]
        if old != node.config.node_id:
            bodies.append(_body("revoke", old))
        appended = await _change(node, bodies, new)
    return respond(
        request,
        {
            "added": new.public.raw,
            "added_seq": appended[0].seq,
            "revoked": old if len(appended) > 1 else None,
            "revoked_seq": appended[1].seq if len(appended) > 1 else None,
        },
    )


@routes.post("/v1/admin/keys/revoke")
async def revoke(request: web.Request) -> web.Response:
    """Revoke a signing key from a position (``from``) or from now on. Revoking the key the node signs
    with gives it a fresh one first, so the node can go on signing."""
    node = node_of(request)
    body = await read_json(request)
    root = node.config.node_id
    async with request.app[LOCK]:
        delegations = history(node.store.delegations(root), root)
        key = by_prefix(body.get("key"), [root, *delegations], "key")
        if key == root:
            raise bad_request(
                "root-key",
                "the root key cannot be revoked in its own log: move the council to a new root key "
                "through its federation (see the README, 'Keys')",
            )
        found = delegations[key]
        if not found.valid:
            raise ApiError(409, "already-revoked", f"this key was revoked at entry {found.revoked_seq}")
        head = node.store.head(root)
        size = head.size if head else 0
        start = body.get("from", "now")
        if start != "now" and (
            not isinstance(start, int) or isinstance(start, bool) or not found.added_seq < start <= size
        ):
            raise bad_request(
                "bad-from",
                f"--from is now, or a log position from {found.added_seq + 1} (the entry after the key "
                f"was added) to {size} (the log's size)",
            )
        revocation = _body("revoke", key, None if start == "now" else start)
        new = SigningKey.generate() if key == node.writer.signing.public.raw else None
        bodies = [_body("add", new.public.raw), revocation] if new else [revocation]
        appended = await _change(node, bodies, new)
    return respond(
        request,
        {
            "revoked": key,
            "revoked_seq": appended[-1].seq,
            "from": appended[-1].seq if start == "now" else start,
            "added": new.public.raw if new else None,
            "added_seq": appended[0].seq if new else None,
        },
    )


def _body(action: str, key: bytes, start: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": KEY_KIND, "action": action, "key": key}
    if start is not None:
        body["from"] = start
    return body


async def _change(node: Node, bodies: list[dict[str, Any]], new: SigningKey | None) -> list[Appended]:
    """Append ``bodies`` (signed by the root key); with ``new``, the node signs with it from then on. The
    key reaches the disk before the log names it, and takes its final name once the log does (see
    ``node.ops.keys``)."""
    folder = node.config.dir
    pending = folder / PENDING_SIGNING_KEY
    if new is not None:
        pending.unlink(missing_ok=True)
        save_signing_key(new, pending)
    try:
        appended = await node.writer.change_keys(bodies, new)
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    if new is not None:
        os.replace(pending, folder / SIGNING_KEY)
    return appended


@routes.post("/v1/admin/keys/operator")
async def operator_rotate(request: web.Request) -> web.Response:
    node = node_of(request)
    body = await read_json(request)
    try:
        new = PublicKey(codec.unb64u(text_field(body, "key"), 32))
    except DecodeError as exc:
        raise bad_request("bad-field", "key is the new operator key: 32 bytes in base64url") from exc
    if new.raw == node.config.operator_key:
        raise bad_request("same-key", "that is the operator key already; generate a new one")
    if new.raw == node.config.node_id:
        raise bad_request("root-key", "the operator key must not be the council's root key")
    config = dataclasses.replace(node.config, operator_key=new.raw)
    await asyncio.get_running_loop().run_in_executor(None, cfg.save, config)  # durable before it counts
    node.config = config
    return respond(request, {"operator_key": new.raw})
