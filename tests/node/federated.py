"""A federation of real councils with public proposals, answers, a signed result and a delegate, built
through the operators' APIs: what the federation's public routes and page show (issue 15)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from node.storage.clock import now_ms
from protocol import codec
from tests.conftest import NodeFactory, RunningNode, stop_node
from tests.federation.test_federation_e2e import FAST, rounds
from tests.federation.test_federation_governance import TORONTO_MEMBERS, close, decide, past, publish
from tests.federation.test_nodes import until
from tests.node.test_federation_admin import apply_to, b64

MEMBERS = TORONTO_MEMBERS  # the three who sit in the assembly and vote
# a member with a contact: neither may appear in anything the federation serves
SECRET = {"name": "Shirin Secretname", "contact": "shirin@example.org +98 912 555 0101"}
ANSWER_TIME_MS = (
    20_000  # for Toronto's assembly to answer and the federation to receive it before the deadline
)


@dataclass
class Federated:
    fed: RunningNode
    toronto: RunningNode
    montreal: RunningNode  # admitted, then stopped: never heard from past the deadline
    closed: bytes  # a proposal Toronto answered, closed: its signed result
    open: bytes  # a proposal Toronto answered, still open
    delegate: dict[str, Any]  # Toronto's delegate decision
    member_ids: list[str] = field(default_factory=list)


async def _public(node: RunningNode, path: str) -> Any:
    async with node.session.get(node.url + path) as response:
        return response.status, await response.json()


async def federation(start_node: NodeFactory, closed_text: str = "A four-day week") -> Federated:
    """The Federation of Canada (Toronto and Montreal admitted): Toronto's assembly mandates a delegate and
    answers two proposals — the first ``closed_text``, closed with a signed result that counts Toronto and
    names Montreal as not heard; the second still open."""
    fed = await start_node(
        "Federation of Canada", name_fa="فدراسیون شوراهای کانادا", kind="federation", level="country",
        settings=FAST,
    )  # fmt: skip
    toronto, montreal = [
        await start_node(f"{city} Council", city=city, name_fa=fa, settings=FAST)
        for city, fa in (("Toronto", "شورای تورنتو"), ("Montreal", "شورای مونترال"))
    ]
    for council in (toronto, montreal):
        apply_to(fed, council)
        await council.operator.call("POST", "/v1/admin/peers", {"url": fed.url, "key": b64(fed)})
        await fed.operator.call(
            "POST", "/v1/admin/roster/admit", {"member": b64(council), "reason": "founding"}
        )
    await stop_node(montreal)
    op = toronto.operator
    ids = [(await op.call("POST", "/v1/admin/members", {"name": name}))["member_id"] for name in MEMBERS]
    ids.append((await op.call("POST", "/v1/admin/members", SECRET))["member_id"])
    await op.call("POST", "/v1/admin/assemblies", {"agenda": "Toronto and its federation"})
    await op.call("POST", "/v1/admin/assemblies/current/attend", {"members": MEMBERS})
    # the delegate stands only with their consent, said in the room and recorded by the secretary (issue 13)
    await op.call("POST", "/v1/admin/assemblies/current/consent", {"member": MEMBERS[0]})
    delegate = await decide(
        toronto, "yes", {"kind": "delegate", "text": "delegate", "candidates": [MEMBERS[0]]}
    )

    deadline = now_ms() + ANSWER_TIME_MS
    first = await publish(fed, deadline, grace_s=0, text_en=closed_text)
    second = await publish(
        fed, now_ms() + 30 * 24 * 3_600_000, grace_s=3600, text_en="Solidarity with the strike"
    )
    for pid, choice in ((first, "yes"), (second, "no")):
        ref = f"{b64(fed)}:{codec.b64u(pid)}"
        await decide(toronto, choice, {"kind": "federation", "proposal": ref, "text": f"Answer {ref[-6:]}"})

    async def received() -> bool:
        await rounds(fed)
        for pid in (first, second):
            status, shown = await _public(fed, f"/v1/federation/proposals/{codec.b64u(pid)}")
            if status != 200 or len(shown["answers"]) != 1:
                return False
        status, listed = await _public(fed, "/v1/federation/delegates")
        return any(c["delegates"] for c in listed["councils"])

    await until(received, "the federation holds Toronto's answers and its delegate")
    await past(deadline)
    await rounds(fed)  # Toronto is heard from past the deadline; Montreal, stopped, is not
    await close(fed, first)
    return Federated(fed, toronto, montreal, first, second, delegate, ids)
