"""``shora serve`` sets Python's garbage collector for a node (node/http/server.py, docs/gossip.md "Pulling"):
what is alive once the node has started is frozen out of full collections, and the youngest generation is
collected after ``gc_young_objects`` allocations; both undone when the node stops. A node served beside
others in one process (the tests' way) leaves the collector alone."""

from __future__ import annotations

import asyncio
import gc
import json
from pathlib import Path

from node import config as cfg
from node.bootstrap import init_node
from node.http.server import address_file, serve
from node.rules.council import FoundCouncil


def _node(folder: Path, settings: dict[str, int] | None = None) -> cfg.NodeConfig:
    place = {"city": "Toronto", "country": "CA", "continent": "North America"}
    init_node(folder, FoundCouncil(name="Toronto", name_fa="شورای تورنتو", **place), listen="127.0.0.1:0")
    if settings:
        raw = json.loads((folder / cfg.CONFIG).read_text(encoding="utf-8"))
        raw["settings"] = settings
        (folder / cfg.CONFIG).write_text(json.dumps(raw), encoding="utf-8")
    return cfg.load(folder)


async def _while_serving(config: cfg.NodeConfig, own_process: bool) -> tuple[tuple[int, ...], int]:
    """The collector's thresholds and frozen count while ``config``'s node serves."""
    stop = asyncio.Event()
    task = asyncio.create_task(serve(config, stop, own_process=own_process))
    while not (address_file(config.dir).exists() or task.done()):
        await asyncio.sleep(0.01)
    seen = gc.get_threshold(), gc.get_freeze_count()
    stop.set()
    await task
    return seen


async def test_a_node_in_its_own_process_sets_the_collector_and_restores_it(tmp_path: Path) -> None:
    before = gc.get_threshold()
    threshold, frozen = await _while_serving(_node(tmp_path / "a", {"gc_young_objects": 12_345}), True)
    assert threshold == (12_345, *before[1:])
    assert frozen > 1000  # the modules and the app at least
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


async def test_the_default_young_generation_is_the_settings(tmp_path: Path) -> None:
    config = _node(tmp_path / "a")
    threshold, _ = await _while_serving(config, True)
    assert threshold[0] == config.settings.gc_young_objects == 50_000


async def test_a_node_beside_others_leaves_the_collector_alone(tmp_path: Path) -> None:
    before = gc.get_threshold()
    threshold, frozen = await _while_serving(_node(tmp_path / "a"), False)
    assert threshold == before
    assert frozen == 0
