"""The ``/v1/federation/…`` routes: a thin aiohttp adapter around ``GossipServer`` and ``Witness``.

Every request is RFC 9421-signed by a trusted peer, for this node (``federation.auth``), and charged to
that peer's gossip quota before its nonce is recorded (a flood is refused 429 unread); then the same
transport-free handlers that ``MemoryTransport`` calls answer it.

A refusal that no honest peer earns — over its quota (429), or a request that is not validly signed (401:
no signature, a bad one, a replay, out of its window) — is held: the connection stops being read, the
answer waits ``refused_hold_s``, and the connection is closed after it. A flooder then gets one answer per
connection per hold, whatever it sends, so an address can cost the node at most ``max_connections_per_ip /
refused_hold_s`` refusals a second (docs/resilience.md, Floods). A key the node does not trust (403) is not
held: an honest peer not yet trusted gets its answer at once. ``add-checkpoint`` speaks C2SP
tlog-witness's text format; everything else canonical msgpack.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from federation.auth import RequestVerifier, status_of
from federation.gossip import PREFIX, GossipServer
from federation.transport import MSGPACK, Reply
from federation.witness import WitnessReply
from protocol import codec
from protocol.errors import VerificationError
from protocol.keys import PublicKey

ADD_CHECKPOINT = f"{PREFIX}/add-checkpoint"

Witnessing = Callable[[bytes], Awaitable[WitnessReply]]  # body -> reply, judged at the node's own clock


class FederationRoutes:
    """``handle`` answers every ``/v1/federation/…`` request the node routes to it."""

    def __init__(
        self,
        verifier: RequestVerifier,
        peer_key: Callable[[bytes], PublicKey | None],
        server: GossipServer,
        witness: Witnessing,
        refused_hold_s: float = 0.0,
    ) -> None:
        self.verifier, self.peer_key, self.server, self.witness = verifier, peer_key, server, witness
        self.refused_hold_s = refused_hold_s

    async def handle(self, request: web.Request) -> web.Response:
        try:
            sender = await self.verifier.verify(request, self.peer_key, self.server.quota)
        except VerificationError as exc:
            return await self.refuse(request, status_of(exc), f"request-{exc.step}", exc.message)
        body = await request.read()
        if request.path == ADD_CHECKPOINT:
            if request.method != "POST":
                return _error(405, "method", "add-checkpoint is a POST")
            answer = await self.witness(body)
            media, _, params = answer.content_type.partition(";")
            charset = params.partition("charset=")[2].strip() or None
            return web.Response(
                body=answer.body, status=answer.status, content_type=media.strip(), charset=charset
            )
        reply: Reply = await self.server.answer(sender.raw, request.method, request.path_qs, body)
        return web.Response(body=reply.body, status=reply.status, content_type=reply.content_type)

    async def refuse(self, request: web.Request, status: int, code: str, message: str) -> web.Response:
        """The refusal, held first when no honest peer earns it (module docstring)."""
        answer = _error(status, code, message)
        if status in HELD and self.refused_hold_s > 0:
            transport = request.transport
            if transport is not None:
                transport.pause_reading()  # what else it sends waits in the kernel, unread and unparsed
            await asyncio.sleep(self.refused_hold_s)
            answer.force_close()
        return answer


HELD = frozenset({401, 429})  # refusals no honest peer earns; 403 (a key not trusted yet) is answered at once


def _error(status: int, code: str, message: str) -> web.Response:
    return web.Response(
        body=codec.encode({"error": code, "message": message}), status=status, content_type=MSGPACK
    )
