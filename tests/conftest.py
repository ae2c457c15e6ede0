"""Shared fixtures: real nodes on 127.0.0.1 port 0, each with its own data folder and SQLite file."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from federation.client import SignedClient
from node import config as cfg
from node.bootstrap import init_node
from node.http.server import serve
from node.rules.council import FoundCouncil, Rules
from node.rules.fedbody import FoundFederation


@dataclass
class RunningNode:
    config: cfg.NodeConfig
    url: str
    operator: SignedClient  # signs as the node's operator
    session: aiohttp.ClientSession
    stop: asyncio.Event
    task: asyncio.Task[None]

    @property
    def dir(self) -> Path:
        return self.config.dir

    async def get(self, path: str, **kwargs: str) -> aiohttp.ClientResponse:
        return await self.session.get(self.url + path, headers=kwargs or None)


NodeFactory = Callable[..., Awaitable[RunningNode]]


@pytest.fixture
async def start_node(tmp_path: Path) -> AsyncIterator[NodeFactory]:
    """Start nodes on 127.0.0.1:0; all are stopped (and awaited) at the end of the test."""
    started: list[RunningNode] = []
    session = aiohttp.ClientSession()

    async def start(
        name: str = "Toronto Council",
        *,
        rules: Rules | None = None,
        directory: Path | None = None,
        settings: dict[str, float] | None = None,
        kind: str = "council",
        federation: tuple[str, bytes] | None = None,
        founding: int | None = None,
        own_process: bool = False,
        **profile: str,
    ) -> RunningNode:
        """A council by default; ``kind="federation"`` founds a federation body (``level`` "country" with
        its ``country``, or "continent"). ``federation`` is the (URL, key) of the body the node applies to.
        ``own_process``: served as ``shora serve`` serves it (``node.http.server.serve``)."""
        folder = directory or tmp_path / f"node{len(started)}"
        if not (folder / cfg.CONFIG).exists():
            found: FoundCouncil | FoundFederation
            if kind == "federation":
                level = profile.get("level", "country")
                found = FoundFederation(
                    name=name,
                    name_fa=profile.get("name_fa", ""),
                    level=level,  # type: ignore[arg-type]  # judged by the fedbody rules
                    country=profile.get("country", "CA" if level == "country" else ""),
                    continent=profile.get("continent", "North America"),
                    founding=founding,  # None: no mandates (as federations founded before them)
                )
            else:
                found = FoundCouncil(
                    name=name,
                    name_fa=profile.get("name_fa", "شورای تورنتو"),
                    city=profile.get("city", "Toronto"),
                    country=profile.get("country", "CA"),
                    continent=profile.get("continent", "North America"),
                    rules=rules or Rules(),
                )
            init_node(folder, found, listen="127.0.0.1:0", federation=federation)
        if settings:  # overrides in node.json, as an operator would write them
            raw = json.loads((folder / cfg.CONFIG).read_text(encoding="utf-8"))
            raw["settings"] = {**raw.get("settings", {}), **settings}
            (folder / cfg.CONFIG).write_text(json.dumps(raw), encoding="utf-8")
        config = cfg.load(folder)
        stop = asyncio.Event()
        task = asyncio.create_task(serve(config, stop, own_process=own_process))
        address = folder / "serve.addr"
        loop = asyncio.get_running_loop()
        hang = loop.time() + 120  # only bounds a hang: a loaded machine binds well within, however slowly
        while not (address.exists() or task.done()):
            assert loop.time() < hang, f"{name} did not bind within 120 s"
            await asyncio.sleep(0.01)
        if task.done():
            task.result()
        url = f"http://{address.read_text().strip()}"
        operator = SignedClient(session, url, config.operator_signing_key(), config.node_id)
        node = RunningNode(config, url, operator, session, stop, task)
        started.append(node)
        return node

    yield start
    for node in started:
        node.stop.set()
    # a node that does not stop fails its test instead of hanging the run (a bound, never waited by a pass)
    _, hung = await asyncio.wait([n.task for n in started], timeout=120) if started else (set(), set())
    for task in hung:
        task.cancel()
    await asyncio.gather(*(n.task for n in started), return_exceptions=True)
    await session.close()
    assert not hung, f"{len(hung)} node(s) did not stop within 120 s of being told to"


async def stop_node(node: RunningNode) -> None:
    node.stop.set()
    await node.task
