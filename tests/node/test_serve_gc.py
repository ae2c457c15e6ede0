"""``shora serve`` sets Python's garbage collector for a node (node/http/server.py, docs/gossip.md "Pulling"):
what is alive once the node has started is frozen out of full collections, and the youngest generation is
collected after ``gc_young_objects`` allocations; both undone when the node stops. A node served beside
others in one process (the tests' way) leaves the collector alone."""

from __future__ import annotations

import gc

from tests.conftest import NodeFactory, stop_node


async def test_a_node_in_its_own_process_sets_the_collector_and_restores_it(start_node: NodeFactory) -> None:
    before = gc.get_threshold()
    node = await start_node(settings={"gc_young_objects": 12_345}, own_process=True)
    assert gc.get_threshold() == (12_345, *before[1:])
    assert gc.get_freeze_count() > 1000  # the modules and the app at least
    await stop_node(node)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


async def test_the_default_young_generation_is_the_settings(start_node: NodeFactory) -> None:
    node = await start_node(own_process=True)
    assert gc.get_threshold()[0] == node.config.settings.gc_young_objects == 50_000
    await stop_node(node)


async def test_a_node_beside_others_leaves_the_collector_alone(start_node: NodeFactory) -> None:
    before = gc.get_threshold()
    node = await start_node()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    await stop_node(node)
