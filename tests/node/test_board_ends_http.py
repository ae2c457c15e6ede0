"""A council-only recall or removal of a publicly elected board member, through a real node (issue 13): the
public log holds one board/left with its cause, GET /v1/board shows the mandate ended by it, and nothing
public names or reveals the council-only decision."""

from __future__ import annotations

from typing import Any

from node.rules.council import Rules
from protocol import codec
from tests.conftest import NodeFactory, RunningNode
from tests.node.members_helpers import KeyedMember, keyed_member
from tests.node.test_assembly_http import elect
from tests.node.test_members import motion, record_log


async def public_bodies(node: RunningNode) -> list[dict[str, Any]]:
    """Every body of the node's public log, as anyone reads it."""
    log_id = codec.b64u(node.config.node_id)
    async with node.session.get(f"{node.url}/v1/logs/{log_id}/entries?limit=1000") as answer:
        assert answer.status == 200
        served = (await answer.json())["entries"]
    return [codec.decode(codec.unb64u(e["body"])) for e in served if "body" in e]


async def decided_in_camera(
    node: RunningNode, chair: KeyedMember, kind: str, target: KeyedMember, *voters: KeyedMember
) -> dict[str, Any]:
    """The sitting board member ``chair`` convenes an assembly; the voters adopt a council-only ``kind`` on
    ``target``, recorded and closed by the operator; the close's answer."""
    opened = await chair.post("/v1/member/board/assemblies", {"agenda": "in camera"})
    assert opened.status == 200, opened.body
    assembly = codec.unb64u(opened.json()["assembly_id"], 32)
    for m in voters:
        assert (await m.checkin(assembly)).status == 200
    text = f"{kind}: the reason stays in the council"
    decided = await motion(node, kind, text=text, visibility="council", target=codec.b64u(target.member))
    for m in voters:
        assert (await m.vote(assembly, decided, "yes")).status == 200
    closed = await node.operator.call("POST", f"/v1/admin/motions/{codec.b64u(decided)}/close")
    await node.operator.call("POST", f"/v1/admin/assemblies/{codec.b64u(assembly)}/close")
    return {**closed, "motion_id": decided, "text": text}


async def test_a_council_only_recall_and_removal_end_the_public_mandates_in_public(
    start_node: NodeFactory,
) -> None:
    node = await start_node(rules=Rules(signed_ballots=()))
    chair, ava, bijan, cyrus = [await keyed_member(node, n) for n in ("Chair", "Ava", "Bijan", "Cyrus")]
    first = await elect(node, chair, ava, bijan, cyrus)
    assert [m["decision"] for m in (await (await node.get("/v1/board")).json())["mandates"]] == [first]

    recalled = await decided_in_camera(node, chair, "recall", chair, ava, bijan, cyrus)
    second = await elect(node, ava, bijan, cyrus)
    removed = await decided_in_camera(node, ava, "removal", ava, bijan, cyrus)
    for closed, who, given in ((recalled, chair, first), (removed, ava, second)):
        assert closed["outcome"] == "adopted"
        assert closed["ended"] == [{"decision": given, "seat": 0, "member": codec.b64u(who.member)}]

    record = await record_log(node)
    ends = {}
    for closed, cause in ((recalled, "recall"), (removed, "removal")):
        at = next(i for i, e in enumerate(record) if e["id"] == closed["decision_id"])
        decision, left = record[at], record[at + 1]
        assert (decision["vis"], left["vis"], left["kind"], left["body"]["cause"]) == (
            "council",
            "public",
            "board/left",
            cause,
        )
        ends[cause] = left

    # the public board: nobody sits; each mandate ended with its cause, by its public board/left
    board = await (await node.get("/v1/board")).json()
    assert board["mandates"] == [] and board["vacancies"] == board["seats"]
    assert board["ended"] == [
        {
            "member": codec.b64u(who.member),
            "decision": given,
            "seat": 0,
            "cause": cause,
            "ended_by": ends[cause]["id"],
        }
        for who, given, cause in ((chair, first, "recall"), (ava, second, "removal"))
    ]

    # the public log holds each board/left, saying only which public mandate ended, how — and nothing of the
    # council-only decisions: not their ids, motions, texts or tallies
    public = await public_bodies(node)
    lefts = [p for p in public if p["kind"] == "board/left"]
    assert [{k: v for k, v in p.items() if k != "record"} for p in lefts] == [
        {
            "kind": "board/left",
            "member": who.member,
            "decision": codec.unb64u(given),
            "seat": 0,
            "cause": cause,
        }
        for who, given, cause in ((chair, first, "recall"), (ava, second, "removal"))
    ]
    served = codec.encode(public)
    for closed in (recalled, removed):
        for secret in (codec.unb64u(closed["decision_id"]), closed["motion_id"], closed["text"].encode()):
            assert secret not in served
    assert not [
        p for p in public if p["kind"] in ("decision", "motion/propose") and p.get("visibility") == "council"
    ]
    log_id = codec.b64u(node.config.node_id)
    for path in ("/v1/board", "/v1/decisions", f"/v1/logs/{log_id}/entries?limit=1000"):
        async with node.session.get(node.url + path) as answer:
            said = await answer.read()
        for closed in (recalled, removed):
            for secret in (closed["decision_id"], codec.b64u(closed["motion_id"]), closed["text"]):
                assert secret.encode() not in said, path
    listed = (await (await node.get("/v1/decisions")).json())["decisions"]
    assert {d["record_id"] for d in listed} == {first, second}  # the two elections only
