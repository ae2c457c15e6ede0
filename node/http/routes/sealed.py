"""Sealed backups over HTTP (docs/protocol.md §11.6).

Between nodes, RFC 9421-signed:
    PUT /v1/sealed/{council}/{index}   a council pushes segment ``index`` of its backup stream to a peer that
                                       agreed to hold it (a trusted peer); signed by the council's key
    GET /v1/sealed/{council}?from=I&limit=N
                                       the council takes its segments back; only a request signed by the
                                       council's root key gets anything (403 ``sealed-not-yours`` otherwise)
For the operator (``/v1/admin/``, signed by the operator key):
    POST /v1/admin/backup-peers {"key", "url"} · GET /v1/admin/backup-peers ·
    POST /v1/admin/backup-peers/remove {"key"} · POST /v1/admin/backup (the sealed full backup, bytes)
"""

from __future__ import annotations

import asyncio
import sqlite3

from aiohttp import web

from federation import db as dbmod
from federation.peers import PeerError, check_node_id, check_url
from node.backup import tables
from node.backup.councilkeys import council_keys
from node.backup.ticker import OCTETS, Backups, seal_everything
from node.http.context import Node, node_of
from node.http.params import id_param, int_param, text_field
from node.http.wire import ApiError, bad_request, read_json, respond
from node.storage.writer import Writer
from protocol import codec
from protocol.errors import DecodeError, VerificationError
from protocol.keys import PublicKey
from protocol.sealed import verify_segment

routes = web.RouteTableDef()
BACKUPS: web.AppKey[Backups] = web.AppKey("backups", Backups)


def setup(app: web.Application) -> None:
    app.add_routes(routes)


def _refuse(request: web.Request, status: int, code: str, message: str, **extra: object) -> web.Response:
    return respond(request, {"error": code, "message": message, **extra}, status)


# --- a peer holding councils' sealed copies ------------------------------------------------------------


@routes.put("/v1/sealed/{council}/{index}")
async def put_segment(request: web.Request) -> web.Response:
    node = node_of(request)
    council = id_param(request, "council", "council")
    try:
        index = int(request.match_info["index"])
    except ValueError:
        index = -1
    if not 0 <= index < 2**63:
        raise bad_request("bad-index", "a segment index is an integer from 0 to 2**63 - 1")
    try:
        # a council pushes its own copy: the request is signed by that council's key, a peer we trust
        await node.verifier.verify(
            request, lambda kid: PublicKey(kid) if kid == council and node.replication.trusted(kid) else None
        )
    except VerificationError as exc:
        return _refuse(
            request,
            403,
            "sealed-not-held",
            f"this node holds sealed copies only for the trusted councils that sign their own ({exc.step})",
        )
    segment = await request.read()
    try:
        verify_segment(segment, council=council, index=index, keys=council_keys(node.store, council))
    except VerificationError as exc:
        return _refuse(request, 400, exc.step, exc.message)
    cap = node.config.settings.sealed_max_segments
    status, code, held = await node.writer.run(_hold, node.writer, council, index, segment, cap)
    if code is None:
        return respond(request, {"council": council, "held": held})
    messages = {
        "segment-order": f"this node holds {held} segments of that council: the next is number {held}",
        "segment-conflict": f"this node holds another segment {index} of that council",
        "sealed-quota": f"this node holds at most {cap} segments per council",
    }
    return _refuse(request, status, code, messages[code], held=held)


def _hold(
    writer: Writer, council: bytes, index: int, segment: bytes, cap: int
) -> tuple[int, str | None, int]:
    """On the writer thread, judged and stored in one transaction: ``(status, refusal or None, held)``."""
    conn = writer.conn
    with writer.store.transaction():
        held = tables.held_count(conn, council)
        if index < held:
            same = tables.held_segment(conn, council, index) == segment
            return (200, None, held) if same else (409, "segment-conflict", held)
        if index > held:
            return 409, "segment-order", held
        if held >= cap:
            return 413, "sealed-quota", held
        tables.hold(conn, council, index, segment)
        return 200, None, held + 1


@routes.get("/v1/sealed/{council}")
async def get_segments(request: web.Request) -> web.Response:
    node = node_of(request)
    council = id_param(request, "council", "council")
    try:
        await node.verifier.verify(request, lambda kid: PublicKey(kid) if kid == council else None)
    except VerificationError as exc:
        return _refuse(
            request,
            403,
            "sealed-not-yours",
            f"sealed copies go back only to their council, on a request signed by its root key ({exc.step})",
        )
    first = int_param(request, "from", 0)
    limit = min(
        int_param(request, "limit", node.config.settings.sealed_page_max, 1),
        node.config.settings.sealed_page_max,
    )
    held = tables.held_count(node.reader, council)
    segments = tables.held(node.reader, council, first, limit)
    return respond(request, {"council": council, "held": held, "from": first, "segments": segments})


# --- the operator's backup peers and full backup ------------------------------------------------------


def _key_field(body: dict[str, object]) -> bytes:
    try:
        return codec.unb64u(text_field(body, "key"), 32)
    except DecodeError as exc:
        raise bad_request("bad-field", "key is a node's 32-byte key in base64url") from exc


@routes.post("/v1/admin/backup-peers")
async def add_backup_peer(request: web.Request) -> web.Response:
    node = node_of(request)
    body = await read_json(request)
    key = _key_field(body)
    try:
        check_node_id(key)
        url = check_url(text_field(body, "url"))
    except PeerError as exc:
        raise bad_request("bad-peer", str(exc)) from exc
    if key == node.config.node_id:
        raise bad_request("bad-peer", "a council does not hold its own backup")
    await node.writer.run(tables.add_backup_peer, node.writer.conn, key, url)
    return respond(request, {"node_id": key, "url": url})


@routes.get("/v1/admin/backup-peers")
async def list_backup_peers(request: web.Request) -> web.Response:
    node = node_of(request)
    sealed = tables.cursor(node.reader).next_index
    peers = [
        {"node_id": p.node_id, "url": p.url, "held": p.acked, "behind": sealed - p.acked}
        for p in tables.backup_peers(node.reader)
    ]
    return respond(request, {"peers": peers, "sealed": sealed})


@routes.post("/v1/admin/backup-peers/remove")
async def remove_backup_peer(request: web.Request) -> web.Response:
    node = node_of(request)
    key = _key_field(await read_json(request))
    if not await node.writer.run(tables.remove_backup_peer, node.writer.conn, key):
        raise ApiError(404, "unknown-peer", "no backup peer has this key")
    return respond(request, {"node_id": key, "removed": True})


@routes.post("/v1/admin/backup")
async def full_backup(request: web.Request) -> web.StreamResponse:
    """The whole record and directory, sealed, as one file's bytes: a consistent snapshot (one read
    transaction on a connection of its own), sealed on a worker thread."""
    node, backups = node_of(request), request.app[BACKUPS]
    if backups.backup_public is None:
        raise ApiError(409, "no-backup-key", "this node has no backup key (made before backups existed?)")
    segments = await asyncio.get_running_loop().run_in_executor(None, _seal_all, node, backups.backup_public)
    response = web.StreamResponse(headers={"Content-Type": OCTETS})
    response.content_length = sum(len(s) for s in segments)
    await response.prepare(request)
    for segment in segments:
        await response.write(segment)
    await response.write_eof()
    return response


def _seal_all(node: Node, backup_public: bytes) -> list[bytes]:
    conn: sqlite3.Connection = dbmod.connect(node.config.database, readonly=True)
    try:
        return seal_everything(conn, node.config.node_id, node.writer.key, backup_public)
    finally:
        conn.close()


__all__ = ["BACKUPS"]
