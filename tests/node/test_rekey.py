"""A federation roster moves a council to a new root key (issue 10), over real nodes: asked by the council
with its old root key (``shora keys move-root`` and its recovery file) or decided by the federation. Peers
that follow the roster then answer the new key and refuse the old one."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from federation.client import SignedClient
from protocol import codec
from protocol.keys import SigningKey, load_signing_key
from protocol.recovery import Recovery
from protocol.sealed import BackupKey
from tests.conftest import NodeFactory, RunningNode
from tests.node.test_cli import shora
from tests.node.test_federation_admin import FAST, apply_to, b64, own_size, refused, sync, until


def councils_in(value: object) -> list[dict[str, Any]]:
    """Every council entry of a summary, wherever it sits (continent → country → councils)."""
    if isinstance(value, dict):
        found = [value] if "log_id" in value and "status" in value else []
        return found + [c for v in value.values() for c in councils_in(v)]
    if isinstance(value, list):
        return [c for v in value for c in councils_in(v)]
    return []


async def gossip_status(node: RunningNode, key: SigningKey) -> int:
    """The status ``node`` answers a gossip request signed by ``key`` (403: it does not trust the key)."""
    client = SignedClient(node.session, node.url, key, node.config.node_id)
    reply = await client.request("GET", "/v1/federation/digest", check=False)
    return reply.status


async def test_a_council_moves_to_a_new_root_key_and_peers_follow(
    start_node: NodeFactory, tmp_path: Path
) -> None:
    fed = await start_node("Federation of Councils of Canada", kind="federation", settings=FAST)
    at_fed = (fed.url, fed.config.node_id)
    toronto = await start_node("Toronto Council", city="Toronto", settings=FAST, federation=at_fed)
    montreal = await start_node("Montreal Council", city="Montreal", settings=FAST, federation=at_fed)
    for council in (toronto, montreal):
        apply_to(fed, council)
        await fed.operator.call(
            "POST", "/v1/admin/roster/admit", {"member": b64(council), "reason": "applied"}
        )
        await council.operator.call("POST", "/v1/admin/peers", {"url": fed.url, "key": b64(fed)})
    old_root = load_signing_key(toronto.dir / "root.key")

    async def montreal_trusts(key: SigningKey, trusted: bool) -> bool:
        await sync(montreal)
        return (await gossip_status(montreal, key) != 403) is trusted

    await until(lambda: montreal_trusts(old_root, True), "Montreal trusts Toronto by the roster")

    # Toronto's machine is stolen: a new folder, a new root key; the old key comes from the recovery file
    recovery = tmp_path / "toronto.recovery"
    recovery.write_bytes(Recovery(old_root, BackupKey.generate()).encode())
    renewed = await start_node("Toronto Council", city="Toronto", settings=FAST, federation=at_fed)
    new_root = load_signing_key(renewed.dir / "root.key")
    fed_key = b64(fed)

    def move(*extra: str, code: int = 0) -> dict[str, object]:
        done = shora(
            "keys", "move-root", "--dir", renewed.dir, "--recovery", recovery, "--federation", fed.url,
            fed_key, "--json", *extra, code=code,
        )  # fmt: skip
        return dict(json.loads(done.stdout))

    before = await own_size(fed)
    # refusals first: nothing is recorded
    missing = await asyncio.to_thread(move, "--reason", "", code=1)
    assert missing["error"] == "roster.reason-missing"
    stranger = tmp_path / "stranger.recovery"
    stranger.write_bytes(Recovery(SigningKey.generate(), BackupKey.generate()).encode())
    done = await asyncio.to_thread(
        shora, "keys", "move-root", "--dir", renewed.dir, "--recovery", stranger, "--federation", fed.url,
        fed_key, "--reason", "x", "--json", code=1,
    )  # fmt: skip
    assert json.loads(done.stdout)["error"] == "request-unknown-key"
    assert "does not know the old root key in the recovery file" in json.loads(done.stdout)["message"]
    assert await own_size(fed) == before

    moved = await asyncio.to_thread(move, "--reason", "laptop stolen on 3 December")
    assert moved["member"] == b64(toronto) and moved["new_key"] == b64(renewed)
    assert moved["requested_by"] == "member"
    roster = {m["member"]: m for m in (await fed.operator.call("GET", "/v1/admin/roster"))["members"]}
    assert not roster[b64(toronto)]["active"] and roster[b64(renewed)]["active"]
    assert roster[b64(toronto)]["events"][-1]["action"] == "rekey"

    # the federation's summary shows the old key suspended at the size held, the new one admitted
    async with fed.session.get(fed.url + "/v1/federation/summary") as response:
        summary = await response.json()
    statuses = {c["log_id"]: c["status"] for c in councils_in(summary)}
    assert statuses[b64(toronto)] == "suspended" and statuses[b64(renewed)] == "admitted"
    assert [s["reason"] for s in summary["suspended"]] == ["laptop stolen on 3 December"]

    # the old key cannot move it again, nor be suspended or readmitted: it is retired for good
    again = await asyncio.to_thread(move, "--reason", "again", code=1)
    assert again["error"] == "roster.rekeyed"
    retired = await refused(fed, "POST", "/v1/admin/roster/readmit", {"member": b64(toronto), "reason": "x"})
    assert retired.code == "roster.rekeyed"

    # Montreal follows the federation's roster: the new key is trusted, the old one refused
    await until(lambda: montreal_trusts(new_root, True), "Montreal trusts Toronto's new key")
    assert await gossip_status(montreal, old_root) == 403


async def test_the_federation_decides_a_move_and_refuses_bad_ones(start_node: NodeFactory) -> None:
    fed = await start_node("Federation of Councils of Canada", kind="federation", settings=FAST)
    toronto = await start_node("Toronto Council", city="Toronto", settings=FAST)
    apply_to(fed, toronto)
    await fed.operator.call("POST", "/v1/admin/roster/admit", {"member": b64(toronto), "reason": "applied"})
    new = codec.b64u(SigningKey.generate().public.raw)
    path = "/v1/admin/roster/rekey"
    for body, code in (
        ({"member": b64(toronto), "new_key": new}, "roster.reason-missing"),
        ({"member": b64(toronto), "new_key": b64(toronto), "reason": "x"}, "roster.key-taken"),
        ({"member": b64(toronto), "new_key": b64(fed), "reason": "x"}, "roster.key-taken"),
        ({"member": b64(toronto), "new_key": "short", "reason": "x"}, "bad-field"),
        ({"member": "zzzzzzzz", "new_key": new, "reason": "x"}, "unknown-member"),
    ):
        assert (await refused(fed, "POST", path, body)).code == code, body
    moved = await fed.operator.call(
        "POST", path, {"member": b64(toronto)[:8], "new_key": new, "reason": "stolen"}
    )
    assert moved["requested_by"] == "federation" and moved["new_key"] == new
    # a council is asked nothing of the kind: its node has no such route
    assert (await refused(toronto, "POST", path, {"member": b64(toronto), "new_key": new})).status == 404
