"""Running a node: bind, announce the address, serve until a signal, shut down cleanly.

The address actually bound (``--listen 127.0.0.1:0`` picks a free port) is written to ``DIR/serve.addr`` so
the CLI and tests find the running node; it is removed on a clean stop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

from aiohttp import web

from node.config import NodeConfig
from node.http.app import make_app
from node.http.gate import ConnectionGate, listen
from node.http.logs import ACCESS_LOG, PROTOCOL_LOG, AccessLog

ADDRESS_FILE = "serve.addr"
log = logging.getLogger("shora.server")


def address_file(directory: Path) -> Path:
    return directory / ADDRESS_FILE


async def serve(config: NodeConfig, stop: asyncio.Event, *, peers_unreachable_ok: bool = False) -> None:
    settings = config.settings
    runner = web.AppRunner(
        make_app(config, peers_unreachable_ok=peers_unreachable_ok),
        access_log_class=AccessLog,  # no address, no path: IPs never leave the node, not even to logs
        access_log=ACCESS_LOG,
        logger=PROTOCOL_LOG,
        keepalive_timeout=settings.keepalive_timeout_s,
        handler_cancellation=True,
        shutdown_timeout=5,
    )
    await runner.setup()
    gate = ConnectionGate(settings.max_connections, settings.max_connections_per_ip)
    listening = await listen(runner, config.host, config.port, gate)
    host, port = listening.sockets[0].getsockname()[:2]
    target = address_file(config.dir)
    temp = target.with_suffix(".tmp")
    temp.write_text(f"{host}:{port}\n")
    os.replace(temp, target)
    log.info("serving %s on http://%s:%s", config.profile.get("name"), host, port)
    try:
        await stop.wait()
    finally:
        target.unlink(missing_ok=True)
        listening.close()
        await runner.cleanup()


def run(config: NodeConfig, *, peers_unreachable_ok: bool = False) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(config, stop, peers_unreachable_ok=peers_unreachable_ok)

    asyncio.run(main())
