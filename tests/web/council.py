"""A council with public decisions and an elected board, built through the operator's API, for the pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.conftest import NodeFactory, RunningNode

# markup and bidi overrides (RLO, PDF, RLI, PDI) in a motion's words: the pages must show them inert
HOSTILE = (
    'Rally <b id="injected">now</b><img src=x onerror="document.body.dataset.owned=1"> '
    "\u202eevil\u202c \u2067x\u2069"
)


@dataclass
class Council:
    node: RunningNode
    members: dict[str, str]
    assembly: str
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)


async def _ok(node: RunningNode, method: str, path: str, value: dict[str, Any] | None = None) -> Any:
    return await node.operator.call(method, path, value)


async def _motion(c: Council, text: str, **extra: Any) -> str:
    value = {"assembly": c.assembly, "text": text, **extra}
    return str((await _ok(c.node, "POST", "/v1/admin/motions", value))["motion_id"])


async def decide(c: Council, text: str, choices: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    m = await _motion(c, text, **extra)
    for name, choice in zip(c.members, choices, strict=False):
        await _ok(c.node, "POST", f"/v1/admin/motions/{m}/votes", {"member": name, "choice": choice})
    decision = dict(await _ok(c.node, "POST", f"/v1/admin/motions/{m}/close"))
    c.decisions[text] = decision
    return decision


async def council(start_node: NodeFactory) -> Council:
    """Tehran's council (in Persian and English): four members, three present; a board of two elected, a
    rally adopted, a motion with hostile text rejected."""
    node = await start_node(
        "Reds of Tehran", name_fa="شورای سرخ تهران", city="Tehran", country="IR", continent="Asia"
    )
    names = ("Ava", "Babak", "Chris", "Dara")
    members = {n: (await _ok(node, "POST", "/v1/admin/members", {"name": n}))["member_id"] for n in names}
    assembly = (await _ok(node, "POST", "/v1/admin/assemblies", {"agenda": "Spring"}))["assembly_id"]
    await _ok(
        node, "POST", f"/v1/admin/assemblies/{assembly}/attend", {"members": [members[n] for n in names[:3]]}
    )
    c = Council(node, members, assembly)
    for candidate in ("Ava", "Babak"):  # each consents to stand (issue 13)
        await _ok(node, "POST", f"/v1/admin/assemblies/{assembly}/consent", {"member": candidate})
    m = await _motion(c, "Elect the board", kind="election", seats=2, candidates=["Ava", "Babak"])
    for voter, approvals in (("Ava", ["Ava", "Babak"]), ("Babak", ["Babak"]), ("Chris", ["Ava"])):
        await _ok(node, "POST", f"/v1/admin/motions/{m}/votes", {"member": voter, "approvals": approvals})
    c.decisions["Elect the board"] = await _ok(node, "POST", f"/v1/admin/motions/{m}/close")
    await decide(c, "Hold a rally", ("yes", "yes", "no"))
    await decide(c, HOSTILE, ("no", "no", "yes"))
    return c
