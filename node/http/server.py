"""Running a node: bind, announce the address, serve until a signal, shut down cleanly.

The address actually bound (``--listen 127.0.0.1:0`` picks a free port) is written to ``DIR/serve.addr`` so
the CLI and tests find the running node; it is removed on a clean stop.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import gc
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
LOCK_FILE = "serve.lock"
log = logging.getLogger("shora.server")


def address_file(directory: Path) -> Path:
    return directory / ADDRESS_FILE


async def serve(
    config: NodeConfig, stop: asyncio.Event, *, peers_unreachable_ok: bool = False, own_process: bool = False
) -> None:
    """Serve ``config``'s node until ``stop`` is set. ``own_process``: this process runs this node alone
    (``run``), and its garbage collector is set for it until it stops (``_collect_for_a_node``)."""
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
    try:
        listening = await listen(runner, config.host, config.port, gate)
    except OSError:  # the port is taken: stop what the app started before saying so
        await runner.cleanup()
        raise
    host, port = listening.sockets[0].getsockname()[:2]
    target = address_file(config.dir)
    temp = target.with_suffix(".tmp")
    with os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
        out.write(f"{host}:{port}\n")
    os.replace(temp, target)
    log.info("serving %s on http://%s:%s", config.profile.get("name"), host, port)
    threshold = gc.get_threshold()
    if own_process:
        _collect_for_a_node(settings.gc_young_objects)
    try:
        await stop.wait()
    finally:
        if own_process:
            gc.unfreeze()
            gc.set_threshold(*threshold)
        target.unlink(missing_ok=True)
        listening.close()
        await runner.cleanup()


def _collect_for_a_node(young_objects: int) -> None:
    """What is alive once the node has started (modules, the app, its caches: tens of thousands of objects)
    is frozen out of the collector's full collections, which walk every object tracked; and its youngest
    generation is collected after ``young_objects`` allocations, not 700. Pulling a peer's log allocates a
    few objects per entry, most of them freed once the page is committed: with Python's defaults, a
    catch-up spent a third of its time collecting (docs/gossip.md, "Pulling")."""
    gc.collect()  # only what is alive is frozen
    gc.freeze()
    gc.set_threshold(young_objects, *gc.get_threshold()[1:])


class AlreadyServing(Exception):
    """Another ``shora serve`` holds this data folder, or another program the port."""


def run(config: NodeConfig, *, peers_unreachable_ok: bool = False) -> None:
    """Serve ``config``'s node in this process until SIGINT or SIGTERM, saying in the log why it stops.

    One process per data folder: a lock on ``DIR/serve.lock`` keeps a second ``shora serve`` of the same
    folder from writing to the same database."""
    os.umask(0o077)  # whatever the node creates from here on is its own: files 0600, folders 0700
    with os.fdopen(os.open(config.dir / LOCK_FILE, os.O_WRONLY | os.O_CREAT, 0o600), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            address = address_file(config.dir)
            where = f" at http://{address.read_text().strip()}" if address.exists() else ""
            raise AlreadyServing(
                f"another node already runs on this folder ({config.dir}){where}; stop it first"
            ) from None

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()

            def stopping(sig: signal.Signals) -> None:
                log.info("stopping: received %s", sig.name)
                stop.set()

            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stopping, sig)
            try:
                await serve(config, stop, peers_unreachable_ok=peers_unreachable_ok, own_process=True)
            except OSError as exc:
                if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
                    raise AlreadyServing(_cannot_listen(config.listen, exc.errno)) from None
                raise
            log.info("stopped cleanly")

        asyncio.run(main())


def _cannot_listen(listen: str, code: int) -> str:
    if code == errno.EADDRINUSE:
        why = f"another node already runs on this port ({listen})"
    elif code == errno.EACCES:
        why = f"this user may not listen on {listen} (ports below 1024 need privileges)"
    else:
        why = f"{listen} is not an address of this machine"
    return f'{why}; stop it, or choose another address: "listen" in node.json'
