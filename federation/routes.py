"""The ``/v1/federation/…`` routes: a thin aiohttp adapter around ``GossipServer`` and ``Witness``.

Every request is RFC 9421-signed by a trusted peer, for this node (``federation.auth``); then the same
transport-free handlers that ``MemoryTransport`` calls answer it. ``add-checkpoint`` speaks C2SP
tlog-witness's text format; everything else canonical msgpack.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from federation.auth import RequestVerifier
from federation.gossip import PREFIX, GossipServer
from federation.transport import MSGPACK, Reply
from federation.witness import WitnessReply
from protocol import codec
from protocol.errors import VerificationError
from protocol.keys import PublicKey

ADD_CHECKPOINT = f"{PREFIX}/add-checkpoint"

Witnessing = Callable[[bytes, int], Awaitable[WitnessReply]]  # (body, now_s) -> reply, on the writer


class FederationRoutes:
    """``handle`` answers every ``/v1/federation/…`` request the node routes to it."""

    def __init__(
        self,
        verifier: RequestVerifier,
        peer_key: Callable[[bytes], PublicKey | None],
        server: GossipServer,
        witness: Witnessing,
    ) -> None:
        self.verifier, self.peer_key, self.server, self.witness = verifier, peer_key, server, witness

    async def handle(self, request: web.Request) -> web.Response:
        try:
            sender = await self.verifier.verify(request, self.peer_key)
        except VerificationError as exc:
            status = 403 if exc.step in ("unknown-key", "recipient") else 401
            return _error(status, f"request-{exc.step}", exc.message)
        body = await request.read()
        if request.path == ADD_CHECKPOINT:
            if request.method != "POST":
                return _error(405, "method", "add-checkpoint is a POST")
            answer = await self.witness(body, int(time.time()))
            media, _, params = answer.content_type.partition(";")
            charset = params.partition("charset=")[2].strip() or None
            return web.Response(
                body=answer.body, status=answer.status, content_type=media.strip(), charset=charset
            )
        reply: Reply = await self.server.handle(sender.raw, request.method, request.path_qs, body)
        return web.Response(body=reply.body, status=reply.status, content_type=reply.content_type)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.Response(
        body=codec.encode({"error": code, "message": message}), status=status, content_type=MSGPACK
    )
