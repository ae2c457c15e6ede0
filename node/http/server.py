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

ADDRESS_FILE = "serve.addr"
log = logging.getLogger("shora.server")


def address_file(directory: Path) -> Path:
    return directory / ADDRESS_FILE


async def serve(config: NodeConfig, stop: asyncio.Event, *, peers_unreachable_ok: bool = False) -> None:
    runner = web.AppRunner(
        make_app(config, peers_unreachable_ok=peers_unreachable_ok),
        access_log_format='"%r" %s %b %Tf',  # no client address: IPs never leave the node, not even to logs
        keepalive_timeout=config.settings.keepalive_timeout_s,
        handler_cancellation=True,
        shutdown_timeout=5,
    )
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, reuse_address=True)
    await site.start()
    host, port = runner.addresses[0][:2]
    target = address_file(config.dir)
    temp = target.with_suffix(".tmp")
    temp.write_text(f"{host}:{port}\n")
    os.replace(temp, target)
    log.info("serving %s on http://%s:%s", config.profile.get("name"), host, port)
    try:
        await stop.wait()
    finally:
        target.unlink(missing_ok=True)
        await runner.cleanup()


def run(config: NodeConfig, *, peers_unreachable_ok: bool = False) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(config, stop, peers_unreachable_ok=peers_unreachable_ok)

    asyncio.run(main())
