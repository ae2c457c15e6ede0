"""Many simulated nodes on one event loop (virtual time, MemoryTransport): the same Gossip/GossipServer code
a node runs, at a scale a real deployment reaches."""

from __future__ import annotations

import asyncio
import math
import random

from federation.transport import MemoryNetwork
from tests.federation.test_gossip import Cluster, SqlReplica, run


def test_100_nodes_receive_a_new_entry_within_a_few_rounds() -> None:
    async def main() -> int:
        network = MemoryNetwork(random.Random(3), latency=lambda rng: 0.01)  # lockstep: one hop per round
        async with Cluster(100, seed=3, replica=SqlReplica, network=network) as cluster:
            origin = cluster.nodes[0]
            origin.append(1)  # pushed to 3 peers at once
            await cluster.idle()
            for rounds in range(1, 20):
                await cluster.round()
                if cluster.holding(origin.id, 1) == 100:
                    return rounds
        raise AssertionError("no convergence in 20 rounds")

    rounds = run(main())
    bound = math.log(100, 3) + math.log(math.log(100))  # push-pull: log3 N + ln ln N ~ 5.7
    assert rounds <= 1.5 * bound, rounds


def test_periodic_rounds_converge_on_their_own() -> None:
    """No driver: every node's jittered loop picks peers; 30 nodes, 1 s one-way latency, 10 % loss."""

    async def main() -> float:
        network = MemoryNetwork(random.Random(5), loss=0.1, latency=lambda rng: rng.uniform(0.05, 1.0))
        async with Cluster(30, seed=5, network=network, periodic=True, gossip_interval_s=10.0) as cluster:
            loop = asyncio.get_running_loop()
            start = loop.time()
            for node in cluster.nodes[:3]:
                node.append(2)
            while not (cluster.converged() and len(cluster.nodes[0].replica.heads()) == 3):
                await asyncio.sleep(1)
                assert loop.time() - start < 600, "not converged in 10 virtual minutes"
            return loop.time() - start

    elapsed = run(main())
    assert elapsed < 150, elapsed  # a handful of 10 s intervals
