"""Issue 13, item 6, over real nodes: a federation judges lateness by its own receipt, closes a proposal only
once every admitted council was heard from past the deadline (or a stated grace ended), and lets a council
whose assembly had no valid decision answer again.

Councils here are ``Hostile`` peers (``tests/federation/test_nodes.py``): their entries carry whatever time
the test writes, which is exactly a council whose clock is wrong.
"""

from __future__ import annotations

from typing import Any

from node.storage.writer import now_ms
from protocol import codec
from protocol.entry import sign_entry
from tests.conftest import NodeFactory, RunningNode
from tests.federation.test_federation_e2e import federation_node, rounds
from tests.federation.test_nodes import Hostile, heads, hostile, until

__all__ = ["hostile"]  # the fixture
HOUR = 3_600_000


async def admit_directly(fed: RunningNode, councils: list[Hostile]) -> None:
    for n, bad in enumerate(councils):
        await fed.operator.call(
            "POST", "/v1/admin/roster/admit",
            {"member": codec.b64u(bad.id), "name": f"Council {n}", "city": f"City {n}", "country": "CA",
             "continent": "North America", "url": bad.url, "reason": "founding member"},
        )  # fmt: skip


async def publish(fed: RunningNode, deadline_ms: int, **extra: Any) -> bytes:
    published = await fed.operator.call(
        "POST", "/v1/admin/proposals",
        {"text_fa": "پیشنهاد", "text_en": "A four-day week", "deadline": deadline_ms, "rule": "answering",
         **extra},
    )  # fmt: skip
    return codec.unb64u(published["proposal_id"], 32)


async def past(deadline_ms: int) -> None:
    async def passed() -> bool:
        return now_ms() > deadline_ms

    await until(passed, "the deadline passes")


async def holds(fed: RunningNode, council: Hostile) -> bool:
    await rounds(fed)
    return (await heads(fed)).get(codec.b64u(council.id), (0,))[0] == len(council.entries)


async def test_a_council_one_hour_slow_cannot_get_a_late_answer_counted(
    start_node: NodeFactory, hostile: Any
) -> None:
    fed = await federation_node(start_node, "Federation of Councils of Canada", level="country")
    slow = await hostile(21)
    await admit_directly(fed, [slow])
    deadline = now_ms() + 500
    pid = await publish(fed, deadline)
    me = fed.config.node_id
    await past(deadline)
    # decided after the deadline by the federation's clock, stamped an hour before it by the council's
    slow.sign(1)
    answer_at(slow, me, pid, "adopted", 7, deadline - HOUR)
    await until(lambda: holds(fed, slow), "the federation holds the slow council's answer")
    closed = await fed.operator.call("POST", f"/v1/admin/proposals/{codec.b64u(pid)}/close")
    result = closed["result"]
    assert result["counted"] == [] and [r["reason"] for r in result["refused"]] == ["late"]
    refused = result["refused"][0]
    assert refused["ts_ms"] == deadline - HOUR and refused["received_ms"] > deadline
    assert result["result"] == "tied" and result["totals"]["answered"] == 0


def answer_at(bad: Hostile, federation: bytes, proposal: bytes, outcome: str, people: int, ts: int) -> None:
    """``bad`` appends a public decision answering ``proposal``, stamped ``ts`` by its own clock."""
    body = {
        "kind": "decision", "motion": bytes(32), "motion_kind": "federation", "text": "Answer",
        "outcome": outcome, "participants": people, "proposal": [federation, proposal],
    }  # fmt: skip
    seq = len(bad.entries)
    prev = bad.entries[-1].id if bad.entries else None
    entry = sign_entry(bad.key, log_id=bad.id, seq=seq, prev=prev, ts_ms=ts, vis="public", body=body)
    bad.entries.append(entry)
    bad.tree.append(entry.id)
