"""Issue 11, item 7: a node whose clock is behind its own log refuses to append, not freezing time."""

from __future__ import annotations

import pytest

from node.storage import clock
from tests.conftest import NodeFactory


@pytest.mark.parametrize("attack", ["clock_jumped_back_after_entries_stamped_ahead"], ids=lambda a: a)
async def test_a_node_behind_its_last_entry_refuses_to_append(
    monkeypatch: pytest.MonkeyPatch, start_node: NodeFactory, attack: str
) -> None:
    node = await start_node()
    real = clock.now_ms
    await node.operator.call("POST", "/v1/admin/members", {"name": "Ava"})
    entries = await node.operator.call("GET", "/v1/admin/record/entries")  # joins are council-only
    before = len(entries["entries"])
    set_back = real() - 600_000  # the last entry was stamped just now; the clock is set back ten minutes
    monkeypatch.setattr(clock, "now_ms", lambda: set_back)
    answer = await node.operator.request("POST", "/v1/admin/members", b'{"name": "Babak"}', check=False)
    assert answer.status == 422 and answer.json()["error"] == "node.clock-behind"
    assert "fix the system clock" in answer.json()["message"]
    after = await node.operator.call("GET", "/v1/admin/record/entries")
    assert len(after["entries"]) == before, "nothing was appended"
    monkeypatch.setattr(clock, "now_ms", real)  # the operator fixed the clock
    await node.operator.call("POST", "/v1/admin/members", {"name": "Babak"})
