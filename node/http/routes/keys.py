"""Operator endpoints for a node's keys over time (issue 10).

``GET /v1/admin/keys`` lists every key with its role and where in the log it was added or revoked: the
root key (the log's id, valid from entry 0 for ever), the keys it delegated by ``log/key`` entries
(protocol.bundle), and the operator key node.json holds. ``POST /v1/admin/keys/operator`` replaces the
operator key: the request is signed with the old one, and from its answer on only the new one is accepted.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from aiohttp import web

from node import config as cfg
from node.http.context import node_of
from node.http.params import text_field
from node.http.wire import bad_request, read_json, respond
from protocol import codec
from protocol.bundle import KEY_KIND
from protocol.errors import DecodeError
from protocol.keys import PublicKey

routes = web.RouteTableDef()


def setup(app: web.Application) -> None:
    app.add_routes(routes)


@routes.get("/v1/admin/keys")
async def keys(request: web.Request) -> web.Response:
    node = node_of(request)
    root = node.config.node_id
    out: list[dict[str, Any]] = [{"key": root, "role": "root", "added_seq": 0, "revoked_seq": None}]
    delegated: dict[bytes, dict[str, Any]] = {}
    for entry in node.store.delegations(root):
        body = entry.body()
        if entry.header.key_id != PublicKey(root).id or body.get("kind") != KEY_KIND:
            continue  # only the root key delegates (protocol.bundle): anything else changes nothing
        key = body.get("key")
        if body.get("action") == "add" and isinstance(key, bytes):
            delegated[key] = {"key": key, "role": "signing", "added_seq": entry.seq, "revoked_seq": None}
        elif body.get("action") == "revoke" and key in delegated:
            delegated[key]["revoked_seq"] = entry.seq
    out += delegated.values()
    out.append({"key": node.config.operator_key, "role": "operator", "added_seq": None, "revoked_seq": None})
    return respond(request, {"keys": out})


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
