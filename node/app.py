"""The node's aiohttp application: wiring, limits, error shape, and the lifecycle of what it owns."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from federation import db as dbmod
from federation.auth import RequestVerifier
from federation.routes import FederationRoutes
from federation.store import LogStore
from node import routes_admin, routes_fedbody, routes_federation, routes_peers, routes_public
from node.config import NodeConfig
from node.governance import RuleError
from node.replication import Replication
from node.service import Writer
from node.wire import ApiError
from protocol.errors import ProtocolError, VerificationError
from protocol.keys import PublicKey

log = logging.getLogger("shora.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
VERSION = "0.3.1"


@dataclass
class Node:
    config: NodeConfig
    writer: Writer
    reader: sqlite3.Connection
    verifier: RequestVerifier
    replication: Replication
    federation_routes: FederationRoutes
    # decision id -> (checkpoint note, visibility, bundle bytes): a bundle is a pure function of the decision
    # and the checkpoint it is proven in, so it is built once per checkpoint (see routes_public.build_bundle)
    bundles: OrderedDict[bytes, tuple[int, str, bytes]] = field(default_factory=OrderedDict)

    @property
    def store(self) -> LogStore:
        return LogStore(self.reader)

    @property
    def operator_keys(self) -> dict[bytes, PublicKey]:
        return {self.config.operator_key: PublicKey(self.config.operator_key)}


NODE: web.AppKey[Node] = web.AppKey("node", Node)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every refusal becomes ``{"error", "message"}`` with a 4xx; anything else is a bug, logged as one."""
    try:
        return await handler(request)
    except ApiError:
        raise
    except RuleError as exc:
        raise ApiError(422, exc.rule, exc.message) from exc
    except ProtocolError as exc:
        raise ApiError(400, "bad-data", str(exc)) from exc
    except web.HTTPRequestEntityTooLarge as exc:
        raise ApiError(413, "too-large", "request body exceeds the node's limit") from exc
    except web.HTTPException as exc:
        if exc.status >= 500:
            raise
        code = exc.reason.lower().replace(" ", "-")
        raise ApiError(exc.status, code, exc.reason) from exc


@web.middleware
async def operator_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/v1/admin/"):
        node = request.app[NODE]
        try:
            await node.verifier.verify(request, node.operator_keys.get)
        except VerificationError as exc:
            status = 403 if exc.step in ("unknown-key", "recipient") else 401
            raise ApiError(status, f"request-{exc.step}", exc.message) from exc
    return await handler(request)


@web.middleware
async def time_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No request with a body may hold the node longer than ``handler_timeout_s`` (a body trickled in, a
    stuck peer). Reads without a body answer from the database at once and skip the timer (it would cost
    every public GET); the streamed sync is the operator's own long-running call and is exempt."""
    if request.path == "/v1/admin/sync" or (request.method in ("GET", "HEAD") and not request.body_exists):
        return await handler(request)
    try:
        async with asyncio.timeout(request.app[NODE].config.settings.handler_timeout_s):
            return await handler(request)
    except TimeoutError as exc:
        raise ApiError(408, "timeout", "the request took longer than this node allows") from exc


def make_app(config: NodeConfig) -> web.Application:
    settings = config.settings
    app = web.Application(
        client_max_size=settings.max_request_bytes, middlewares=[errors, time_limit, operator_only]
    )
    routes_public.setup(app)
    routes_peers.setup(app)
    if config.kind == "council":
        routes_admin.setup(app)
    if config.kind == "federation":
        routes_fedbody.setup(app)

    # before the gossip catch-all below: these answer anyone (a council answers them 404, saying why)
    routes_federation.setup(app)

    async def federation(request: web.Request) -> web.Response:
        return await request.app[NODE].federation_routes.handle(request)

    app.router.add_route("*", "/v1/federation/{tail:.*}", federation)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        writer = Writer(config.database, config.root_key(), settings, config.kind)
        await writer.start()
        reader = dbmod.connect(config.database, readonly=True)
        verifier = RequestVerifier(config.node_id, settings.signature_window_s, settings.nonce_capacity)
        session = aiohttp.ClientSession()
        replication = Replication(config, writer, reader, session)
        routes = FederationRoutes(
            verifier, replication.peers.key_of, replication.server, replication.witness_call
        )
        app[NODE] = Node(config, writer, reader, verifier, replication, routes)
        await replication.start()
        log.info("node %s serving", config.url)
        try:
            yield
        finally:
            await replication.stop()
            await session.close()
            await writer.close()
            reader.close()

    app.cleanup_ctx.append(lifecycle)
    return app
