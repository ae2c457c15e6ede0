"""The node's aiohttp application: wiring, limits, and the lifecycle of what it owns."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from federation import db as dbmod
from federation.aggregate import Aggregate
from federation.auth import RequestVerifier
from federation.routes import FederationRoutes
from node.backup.ticker import Backups
from node.config import NodeConfig
from node.http.applicants import Applicants
from node.http.context import NODE, Node, node_of
from node.http.live import Live
from node.http.middleware import errors, members_only, operator_only, strict_http, time_limit
from node.http.routes import (
    admin,
    assemblies,
    board,
    fedbody,
    federation,
    fedpublic,
    keys,
    members,
    motions,
    peers,
    public,
    record,
    rekey,
    sealed,
    status,
)
from node.ops.keys import signing_key_of
from node.replication.engine import Replication
from node.storage.reader import Reader
from node.storage.writer import Writer
from node.web import pages


def make_app(config: NodeConfig, *, peers_unreachable_ok: bool = False) -> web.Application:
    """The node's application; ``peers_unreachable_ok`` lets it append when no peer answers at start
    (``shora serve --peers-unreachable-ok``, see ``Replication``)."""
    settings = config.settings
    app = web.Application(
        client_max_size=settings.max_request_bytes,
        middlewares=[strict_http, errors, time_limit, operator_only, members_only],
    )
    public.setup(app)
    peers.setup(app)
    record.setup(app)
    sealed.setup(app)
    status.setup(app)
    keys.setup(app)
    pages.setup(app, config.kind)  # the web interface: public pages, `/` by the kind of node
    if config.kind == "council":
        admin.setup(app)
        assemblies.setup(app)
        motions.setup(app)
        members.setup(app)
        board.setup(app)  # the assembly console's routes (issue 15)
    if config.kind == "federation":
        fedbody.setup(app)
        rekey.setup(app)

    # before the gossip catch-all below: these answer anyone (a council answers them 404, saying why)
    federation.setup(app)
    fedpublic.setup(app)

    async def gossip(request: web.Request) -> web.Response:
        return await node_of(request).federation_routes.handle(request)

    app.router.add_route("*", "/v1/federation/{tail:.*}", gossip)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        writer = Writer(config.database, config.root_key(), settings, config.kind)
        signing = await writer.run(signing_key_of, config, writer.store)
        if signing is not None:
            writer.sign_with(signing)
        await writer.start()
        reader = dbmod.connect(config.database, readonly=True)
        verifier = RequestVerifier(
            config.node_id, settings.signature_window_s, settings.nonce_per_key, settings.nonce_capacity
        )
        session = aiohttp.ClientSession()
        replication = Replication(config, writer, reader, session, peers_unreachable_ok=peers_unreachable_ok)
        backups = Backups(config, writer, reader, session)
        app[sealed.BACKUPS] = backups
        routes = FederationRoutes(
            verifier,
            replication.peers.key_of,
            replication.server,
            replication.witness_call,
            settings.refused_hold_s,
        )
        reads = Reader(config.database)
        aggregate = await reads.run(Aggregate, config.node_id) if config.kind == "federation" else None
        applicants = Applicants.of(config.node_id, settings)
        app[NODE] = Node(config, writer, reader, verifier, replication, routes, reads, aggregate, applicants)
        app[NODE].live = Live(settings.console_streams_max)
        writer.on_record.append(app[NODE].live.recorded)
        # a key not yet bound signs two requests a window: `shora member redeem` tries a join, and when the
        # invitation is for an existing member (a lost phone), refused `statement.act`, the same as a `key`
        app[NODE].redeem_verifier = RequestVerifier(
            config.node_id, settings.signature_window_s, 2, settings.application_nonces
        )
        await replication.start()
        await backups.start()
        try:
            yield
        finally:
            # each closed even when one before it fails or the shutdown is cancelled (last pushed, first run)
            async with contextlib.AsyncExitStack() as closing:
                closing.callback(reads.close)
                closing.callback(reader.close)
                closing.push_async_callback(writer.close)
                closing.push_async_callback(session.close)
                closing.push_async_callback(replication.stop)
                closing.push_async_callback(backups.stop)

    app.cleanup_ctx.append(lifecycle)
    return app
