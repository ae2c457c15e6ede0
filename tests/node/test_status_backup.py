"""``shora status`` shows the sealed backup (issue 10): the backup peers, and per peer what the last push did
— when, which segments, ok or failed with a reason in words — kept in the database across a restart.
Real nodes on 127.0.0.1, the real ``shora`` command in a process of its own."""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any

from tests.node.backup_helpers import Live, Start, befriend
from tests.node.test_cli import shora


async def status(live: Live) -> tuple[dict[str, Any], str]:
    """``shora status --json`` and ``shora status`` as an operator runs them against ``live``."""
    as_json: subprocess.CompletedProcess[str] = await asyncio.to_thread(
        shora, "status", "--dir", live.config.dir, "--json"
    )
    assert as_json.stdout.count("\n") == 1, as_json.stdout
    human: subprocess.CompletedProcess[str] = await asyncio.to_thread(
        shora, "status", "--dir", live.config.dir
    )
    return json.loads(as_json.stdout), human.stdout


def peer_of(value: dict[str, Any], live: Live) -> dict[str, Any]:
    [found] = [p for p in value["backup"]["peers"] if p["node_id"] == live.b64]
    return found


async def test_status_shows_each_backup_peer_and_what_its_last_push_did(start_live: Start) -> None:
    a, b, c = await start_live("a"), await start_live("b"), await start_live("c")

    value, human = await status(a)  # no backup peer yet: said, with what to do, and no warning
    assert value["backup"]["peers"] == [] and value["backup"]["sealed"] == 0 and value["warnings"] == []
    assert "no backup peer yet" in human and "shora backup-peers add KEY URL" in human

    await befriend(a, b)
    await befriend(a, c)
    value, human = await status(a)
    assert [peer_of(value, p)["last_push"] for p in (b, c)] == [None, None]
    assert "last push: none yet" in human

    await a.backups.tick()
    value, human = await status(a)
    assert value["backup"]["sealed"] == 1 and value["warnings"] == []
    for peer in (b, c):
        push = peer_of(value, peer)["last_push"]
        assert (push["ok"], push["sent"], push["held_before"], push["held"], push["failure"]) == (
            True,
            1,
            0,
            1,
            None,
        )
    assert human.count("segment 0, ok: it holds all 1 segment") == 2, human

    # c is gone (connection refused); b stops trusting a, so it refuses the segment
    await c.stop()
    await b.call("POST", "/v1/admin/peers/remove", {"peer": a.b64})
    await a.backups.tick()
    value, human = await status(a)
    assert value["backup"]["sealed"] == 2
    pushed_b, pushed_c = peer_of(value, b)["last_push"], peer_of(value, c)["last_push"]
    assert (pushed_c["ok"], pushed_c["sent"], pushed_c["held"]) == (False, 0, 1)
    assert pushed_c["failure"].startswith("not reached: ") and "cannot connect" in pushed_c["failure"]
    assert (pushed_b["ok"], pushed_b["held"]) == (False, 1)
    assert pushed_b["failure"].startswith("refused segment 1: "), pushed_b
    assert {w.split(":")[0] for w in value["warnings"] if w.startswith("backup peer")} == {
        f"backup peer {b.b64[:10]}",
        f"backup peer {c.b64[:10]}",
    }
    assert human.count("FAILED: ") == 2 and "cannot connect" in human
    assert "Error" not in human and "errno" not in human.lower()

    # kept in the database: a restart still shows it, and a push that succeeds clears the warning
    await a.stop()
    a = await start_live(folder=a.config.dir)
    value, _ = await status(a)
    assert peer_of(value, c)["last_push"] == pushed_c
    await b.call("POST", "/v1/admin/peers", {"key": a.b64, "url": a.url})
    await a.call("POST", "/v1/admin/backup-peers/remove", {"key": c.b64})
    await a.backups.tick()
    value, human = await status(a)
    push = peer_of(value, b)["last_push"]
    assert (push["ok"], push["sent"], push["held_before"], push["held"]) == (True, 2, 1, 3)
    assert value["warnings"] == [] and [p["node_id"] for p in value["backup"]["peers"]] == [b.b64]
    assert "segments 1–2, ok: it holds all 3 segments" in human
