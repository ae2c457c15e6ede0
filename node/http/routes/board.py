"""A sitting board member chairing the assembly, with their own key (issue 15: the assembly console).

The same acts as the operator's routes for a sitting assembly (the ``*_by`` handlers of
``node.http.routes.assemblies`` and ``node.http.routes.motions``), issued by the board member whose key signed
the request, so each entry names who held the pen (``node.rules.council.issuer``: the board's chair kinds).
Anyone not sitting on the board: 403 ``board.not-member``; the rules refuse the rest (422, e.g.
``board.own-motion``).

    GET  /v1/member/board/assembly                      the console's picture (node.http.live.view)
    GET  /v1/member/board/live                          the same, streamed as server-sent events
    POST /v1/member/board/assemblies/{assembly}/attend  {members}: the roll call, hands in the room
    POST /v1/member/board/assemblies/{assembly}/depart  {member}
    POST /v1/member/board/assemblies/{assembly}/close   {minutes?, next_ms?}
    POST /v1/member/board/motions                       as POST /v1/admin/motions
    POST /v1/member/board/motions/{motion}/votes        a vote counted in the room {member, choice|approvals}
    POST /v1/member/board/motions/{motion}/close

Convening (``POST /v1/member/board/assemblies``) and reports are ``node.http.routes.members``'.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from node.http.context import MEMBER, NODE, SIGNER, node_of
from node.http.live import view
from node.http.routes import assemblies, motions
from node.http.wire import ApiError, respond
from node.rules.council import Council, Issuer
from node.storage import directory
from protocol.codec import jsonable

routes = web.RouteTableDef()
Handler = Callable[[web.Request], Awaitable[web.Response]]


def setup(app: web.Application) -> None:
    app.add_routes(routes)

    async def end_streams(app: web.Application) -> None:
        if NODE in app:
            app[NODE].live.close()

    app.on_shutdown.append(end_streams)


def board_member(request: web.Request) -> Issuer:
    """The sitting board member this request comes from (article 5: the board's tasks between assemblies;
    issue 15: chairing one)."""
    member = request[MEMBER]
    if member not in node_of(request).council().board_members():
        raise ApiError(403, "board.not-member", "only a sitting board member does this (or the operator)")
    return Issuer("board", request[SIGNER], member)


def _sitting(state: Council, request: web.Request) -> bool:
    """The stream's member still sits, and still holds the key that opened it (not replaced since)."""
    member = request[MEMBER]
    return member in state.board_members() and state.member_keys.get(request[SIGNER]) == member


async def _picture(request: web.Request) -> dict[str, Any]:
    node = node_of(request)
    people = await node.reads.run(directory.everyone)
    return view(node.council(), people)


@routes.get("/v1/member/board/assembly")
async def assembly(request: web.Request) -> web.Response:
    board_member(request)
    return respond(request, await _picture(request))


@routes.get("/v1/member/board/live")
async def live(request: web.Request) -> web.StreamResponse:
    """Server-sent events: an ``assembly`` event with the picture at once and whenever the record grows, a
    comment line every ``console_heartbeat_s`` otherwise; the stream ends when the member stops sitting."""
    board_member(request)
    node = node_of(request)
    with node.live.stream() as changed:
        if changed is None:
            raise ApiError(429, "console.streams", "too many consoles are open on this node; try later")
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        heartbeat = node.config.settings.console_heartbeat_s
        with contextlib.suppress(ConnectionResetError):
            news = True
            while not node.live.closing and _sitting(node.council(), request):
                if news:
                    changed.clear()
                    text = json.dumps(jsonable(await _picture(request)), ensure_ascii=False)
                    await response.write(f"event: assembly\ndata: {text}\n\n".encode())
                else:
                    await response.write(b": heartbeat\n\n")
                try:
                    async with asyncio.timeout(heartbeat):
                        await changed.wait()
                    news = True
                except TimeoutError:
                    news = False
        return response


# the operator's acts on a sitting assembly, each with the board member as issuer
CHAIRED: dict[str, Callable[[web.Request, Issuer], Awaitable[web.Response]]] = {
    "/v1/member/board/assemblies/{assembly}/attend": assemblies.attend_by,
    "/v1/member/board/assemblies/{assembly}/depart": assemblies.depart_by,
    "/v1/member/board/assemblies/{assembly}/close": assemblies.close_assembly_by,
    "/v1/member/board/motions": motions.propose_by,
    "/v1/member/board/motions/{motion}/votes": motions.vote_by,
    "/v1/member/board/motions/{motion}/close": motions.close_motion_by,
}


def _chaired(act: Callable[[web.Request, Issuer], Awaitable[web.Response]]) -> Handler:
    async def chaired(request: web.Request) -> web.Response:
        return await act(request, board_member(request))

    return chaired


for _path, _act in CHAIRED.items():
    routes.post(_path)(_chaired(_act))


__all__ = ["board_member", "routes", "setup"]
