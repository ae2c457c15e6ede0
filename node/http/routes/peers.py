"""Operator endpoints for replication, on every kind of node: peers, and a sync round on demand."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from node.http.context import node_of
from node.http.params import MIN_PREFIX, text_field
from node.http.wire import ApiError, bad_request, read_json, respond
from node.storage.clock import now_ms
from protocol import codec
from protocol.errors import DecodeError

routes = web.RouteTableDef()


def setup(app: web.Application) -> None:
    app.add_routes(routes)


@routes.post("/v1/admin/peers")
async def add_peer(request: web.Request) -> web.Response:
    node = node_of(request)
    body = await read_json(request)
    try:
        key = codec.unb64u(text_field(body, "key"), 32)
        peer = await node.replication.add_peer(key, text_field(body, "url"))
    except DecodeError as exc:
        raise bad_request("bad-field", "key is a node's 32-byte key in base64url") from exc
    except ValueError as exc:  # PeerError and our own id
        raise bad_request("bad-peer", str(exc)) from exc
    return respond(request, {"node_id": peer.node_id, "url": peer.url})


@routes.post("/v1/admin/peers/remove")
async def remove_peer(request: web.Request) -> web.Response:
    """Forget a peer, named by its key or a unique prefix of it (as ``shora peers`` prints it)."""
    node = node_of(request)
    body = await read_json(request)
    ref = text_field(body, "peer")
    known = node.replication.peers.all()
    matches = [p for p in known if codec.b64u(p.node_id).startswith(ref)] if len(ref) >= MIN_PREFIX else []
    if len(matches) != 1:
        why = "matches several peers; give more of its key" if matches else "is not a peer of this node"
        raise ApiError(404, "unknown-peer", f"{ref} {why} (see shora peers)")
    await node.replication.remove_peer(matches[0].node_id)
    return respond(request, {"node_id": matches[0].node_id, "url": matches[0].url})


@routes.get("/v1/admin/peers")
async def peers(request: web.Request) -> web.Response:
    node = node_of(request)
    now = now_ms()
    heads = {h.log_id: h for h in node.replication.replica.heads()}
    out = []
    for view in node.replication.view():
        p = view.peer
        held = heads.get(p.node_id)
        status = "ok" if p.failures == 0 else ("backoff" if p.backoff_until_ms > now else "failing")
        if p.suspended(now):
            status = "suspended"
        out.append(
            {
                "node_id": p.node_id,
                "url": p.url,
                "status": status,
                "last_contact_ms": p.last_contact_ms,
                "last_error": p.last_error,
                "failures": p.failures,
                "penalties": p.penalties,
                "last_penalty": p.last_penalty,
                "suspended_until_ms": p.suspended_until_ms if p.suspended(now) else None,
                "lag": view.lag,
                "held": held.size if held else 0,
                "frozen": node.replication.replica.frozen(p.node_id),
                "forks": len(view.forks),
            }
        )
    return respond(request, {"peers": out, "blocked": node.writer.blocked})


@routes.post("/v1/admin/sync")
async def sync(request: web.Request) -> web.StreamResponse:
    """One round with every peer now, streamed as JSON lines so the CLI can draw progress."""
    node = node_of(request)
    own = request.query.get("own") == "1"
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    if own:
        # progress: how far the peers that hold more of our log reach, then each page taken back
        ahead = await node.replication.peers_ahead()
        await response.write(_line({"total": max(ahead.values(), default=0)}))
        async for result in node.replication.restore_own():
            await response.write(_line({"restored": result.appended, "size": result.size}))
        await response.write(_line({"done": True, "blocked": node.writer.blocked}))
    else:
        await response.write(_line({"peers": len(node.replication.peers.all())}))
        async for peer, error, pulled in node.replication.sync():
            await response.write(
                _line(
                    {
                        "peer": codec.b64u(peer.node_id),
                        "url": peer.url,
                        "ok": error is None,
                        "error": error,
                        "pulled": pulled,
                    }
                )
            )
        await response.write(_line({"done": True}))
    await response.write_eof()
    return response


def _line(value: dict[str, Any]) -> bytes:
    return (json.dumps(value) + "\n").encode()
