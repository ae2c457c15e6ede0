"""A continent federation over real nodes: Europe admits Germany, Germany admits a council.

Nobody runs ``shora sync``: gossip alone brings the council's log to Europe (through Germany, which holds
it), Europe's summary shows the council's census, and no node keeps a peer that refuses it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from protocol import codec
from tests.conftest import NodeFactory, RunningNode
from tests.node.test_cli import shora

FAST = {"gossip_interval_s": 0.2, "request_timeout_s": 2.0}


async def until(condition: Callable[[], Awaitable[Any]], what: str, deadline_s: float = 120.0) -> Any:
    end = time.monotonic() + deadline_s
    while not (found := await condition()):
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline_s} s: {what}")
        await asyncio.sleep(0.05)
    return found


async def admit(federation: RunningNode, applicant: RunningNode) -> None:
    """Wait for ``applicant``'s own application (sent by its node) and admit it, as the operator does."""
    key = codec.b64u(applicant.config.node_id)

    async def applied() -> bool:
        waiting = await federation.operator.call("GET", "/v1/admin/applications")
        return any(a["key"] == key for a in waiting["applications"])

    await until(applied, f"{applicant.config.profile['name']} applies")
    await federation.operator.call("POST", "/v1/admin/roster/admit", {"member": key, "reason": "applied"})


async def test_a_continent_shows_its_councils_without_a_manual_sync(start_node: NodeFactory) -> None:
    europe = await start_node("Europe", kind="federation", level="continent", continent="Europe",
                              settings=FAST)  # fmt: skip
    germany = await start_node(
        "Germany", kind="federation", level="country", country="DE", continent="Europe",
        federation=(europe.url, europe.config.node_id), settings=FAST,
    )  # fmt: skip
    berlin = await start_node(
        "Berlin Council", city="Berlin", country="DE", continent="Europe",
        federation=(germany.url, germany.config.node_id), settings=FAST,
    )  # fmt: skip
    await admit(europe, germany)
    await admit(germany, berlin)
    op = berlin.operator
    for name in ("Anna", "Ben", "Cem"):
        await op.call("POST", "/v1/admin/members", {"name": name})

    async def berlin_in_summary(census: bool) -> dict[str, Any] | None:
        summary = await europe.operator.call("GET", "/v1/federation/summary")
        councils = summary["continents"].get("Europe", {}).get("DE", [])
        return next(
            (c for c in councils if c["name"] == "Berlin Council" and bool(c["members"]) == census), None
        )

    # before Berlin publishes a census, Europe's summary says whose count is missing and how to get it
    await until(lambda: berlin_in_summary(census=False), "Europe's summary lists Berlin")
    table = (await asyncio.to_thread(shora, "federation", "summary", home=europe.dir)).stdout
    assert "no census published yet by Berlin Council" in table and "shora census" in table

    await op.call("POST", "/v1/admin/census")
    council = await until(lambda: berlin_in_summary(census=True), "Europe's summary counts Berlin's members")
    assert council["members"]["count"] == 3

    # a sync peers with every roster member that trusts us back first: Europe does not take Berlin (known to
    # Germany, not to Europe) as a peer, and no node keeps a peer that refuses it
    for node in (europe, germany, berlin):
        await node.operator.request("POST", "/v1/admin/sync")
    for node in (europe, germany, berlin):
        peers = (await node.operator.call("GET", "/v1/admin/peers"))["peers"]
        assert all("unknown-key" not in (p["last_error"] or "") for p in peers), peers
    europe_peers = (await europe.operator.call("GET", "/v1/admin/peers"))["peers"]
    assert [p["node_id"] for p in europe_peers] == [codec.b64u(germany.config.node_id)]
