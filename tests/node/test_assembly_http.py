"""Assemblies the board cannot block, through a real node with members' own keys (issue 13, article 5): a
board that never convenes, members who requisition, the rules' delay passing on the node's one clock
(``clock.now_ms``, moved here, never slept on), a member who convenes, an assembly that recalls the board;
and a board member's resignation and leaving, each shown with its cause.

Every refusal asserts its code and that the record did not grow.
"""

from __future__ import annotations

import pytest

from node.rules.council import Rules
from node.rules.council.model import DAY_MS
from node.storage import clock
from protocol import codec
from tests.conftest import NodeFactory, RunningNode
from tests.node.members_helpers import KeyedMember, codec_json, keyed_member
from tests.node.test_members import assembly_with, motion, record_log, record_size, refused_with

DELAY_DAYS = 7


async def elect(node: RunningNode, chair: KeyedMember, *voters: KeyedMember) -> str:
    """An assembly elects ``chair`` to a board of one seat; the electing decision's id."""
    assembly = await assembly_with(node, chair, *voters)
    assert (await chair.consent(assembly)).status == 200
    election = await motion(node, "election", seats=1, candidates=[codec.b64u(chair.member)])
    for m in (chair, *voters):
        assert (await m.vote(assembly, election, None, [chair.member])).status == 200
    closed = await node.operator.call("POST", f"/v1/admin/motions/{codec.b64u(election)}/close")
    assert closed["outcome"] == "adopted"
    await node.operator.call("POST", f"/v1/admin/assemblies/{codec.b64u(assembly)}/close")
    return str(closed["decision_id"])


async def council(start_node: NodeFactory) -> tuple[RunningNode, list[KeyedMember], str]:
    node = await start_node(rules=Rules(requisition=(1, 2), requisition_delay_days=DELAY_DAYS))
    people = [await keyed_member(node, name) for name in ("Chair", "Ava", "Bijan", "Cyrus")]
    return node, people, await elect(node, people[0], *people[1:])


async def convene(m: KeyedMember, ground: str, due_ms: int, agenda: str = "recall the board") -> object:
    body = m.signed("convene", agenda=agenda, ground=ground, due_ms=due_ms)
    return await m.post("/v1/member/assemblies", body)


async def test_members_convene_the_assembly_a_board_never_convenes_and_recall_it(
    monkeypatch: pytest.MonkeyPatch, start_node: NodeFactory
) -> None:
    node, (chair, ava, bijan, cyrus), elected = await council(start_node)
    # the operator cannot convene while a board sits, and the board never does
    opened = await node.operator.request(
        "POST", "/v1/admin/assemblies", codec_json({"agenda": "x"}), check=False
    )
    refused_with(opened, 422, "assembly.board-sits")

    first = await ava.requisition("recall the board")
    assert first.status == 200, first.body
    assert first.json()["requisition"] | {"may_convene": []} == {
        "round": 1,  # one assembly (the board's election) opened before: requisitions ask for the second
        "requisitioned": True,
        "count": 1,
        "needed": 2,
        "met_ms": None,
        "next_ms": None,
        "may_convene": [],
    }
    before = await record_size(node)
    refused_with(
        await ava.requisition("again"),
        422,
        "requisition.duplicate",
    )
    refused_with(await convene(ava, "requisition", 0), 422, "convene.no-requisition")
    assert await record_size(node) == before

    second = await bijan.requisition("and now")
    status = second.json()["requisition"]
    assert (status["count"], status["needed"]) == (2, 2) and status["met_ms"] is not None
    due = status["may_convene"][0]["due_ms"]
    assert status["may_convene"] == [{"ground": "requisition", "due_ms": due}]
    assert due == status["met_ms"] + DELAY_DAYS * DAY_MS

    # within the board's delay nobody but the board convenes
    before = await record_size(node)
    refused_with(await convene(ava, "requisition", due), 422, "convene.too-early")
    assert await record_size(node) == before
    # the delay passes on the node's one clock
    now = clock.now_ms
    monkeypatch.setattr(clock, "now_ms", lambda: now() + (DELAY_DAYS + 1) * DAY_MS)
    refused_with(await convene(cyrus, "requisition", due), 422, "convene.not-requisitioner")
    refused_with(await convene(ava, "requisition", due, agenda=" "), 422, "convene.no-agenda")
    signed_by_other = ava.signed("convene", agenda="x", ground="requisition", due_ms=due)
    refused_with(await bijan.post("/v1/member/assemblies", signed_by_other), 422, "statement.signature")
    assert await record_size(node) == before

    signed_in_round_1 = cyrus.signed("requisition", text="me too", round=1)
    done = await convene(ava, "requisition", due)
    assert done.status == 200, done.body
    assembly = codec.unb64u(done.json()["assembly_id"], 32)
    # the assembly answers the requisitions before it: one signed before it opened counts for none after
    before = await record_size(node)
    stale = await cyrus.post("/v1/member/requisitions", signed_in_round_1)
    refused_with(stale, 422, "requisition.stale")
    unnamed = cyrus.signed("requisition", text="me too")  # a statement naming no round
    refused_with(await cyrus.post("/v1/member/requisitions", unnamed), 422, "requisition.stale")
    assert await record_size(node) == before
    assert (await cyrus.get("/v1/member/me")).json()["requisition"]["round"] == 2
    opened_entry = (await record_log(node))[-1]
    opened_body = opened_entry["body"]
    assert (opened_entry["kind"], opened_body["ground"], opened_body["due_ms"], opened_body["agenda"]) == (
        "assembly/open",
        "requisition",
        due,
        "recall the board",
    )
    assert opened_entry["issued_by"]["role"] == "member"
    assert opened_body["convened_by"] == codec.b64u(ava.member)
    listed = (await node.operator.call("GET", "/v1/admin/assemblies"))["assemblies"][-1]
    assert (listed["ground"], listed["due_ms"], listed["convened_by"]) == (
        "requisition",
        due,
        codec.b64u(ava.member),
    )

    for m in (ava, bijan, cyrus):
        assert (await m.checkin(assembly)).status == 200
    recall = await motion(node, "recall", target=codec.b64u(chair.member))
    for m in (ava, bijan, cyrus):
        assert (await m.vote(assembly, recall, "yes")).status == 200
    closed = await node.operator.call("POST", f"/v1/admin/motions/{codec.b64u(recall)}/close")
    assert closed["outcome"] == "adopted"
    board = await (await node.get("/v1/board")).json()
    assert board["mandates"] == [] and board["vacancies"] == 3
    assert board["ended"] == [
        {
            "member": codec.b64u(chair.member),
            "decision": elected,
            "seat": 0,
            "cause": "recall",
            "ended_by": closed["decision_id"],
        }
    ]


async def test_a_board_member_resigns_with_their_own_key_and_a_leaving_one_is_shown_as_left(
    start_node: NodeFactory,
) -> None:
    node, (chair, ava, bijan, _), elected = await council(start_node)
    decision = codec.unb64u(elected, 32)
    before = await record_size(node)
    refused_with(
        await ava.post("/v1/member/board/resign", ava.signed("resign", decision=decision)),
        422,
        "board.not-member",
    )
    assert await record_size(node) == before
    me = (await chair.get("/v1/member/me")).json()
    assert me["mandate"] == {"decision": elected, "seat": 0}
    resigned = await chair.post("/v1/member/board/resign", chair.signed("resign", decision=decision))
    assert resigned.status == 200, resigned.body
    board = await (await node.get("/v1/board")).json()
    assert board["mandates"] == []
    assert [(e["cause"], e["ended_by"]) for e in board["ended"]] == [
        ("resignation", resigned.json()["entry_id"])
    ]
    assert (await chair.get("/v1/member/me")).json()["mandate"] is None  # still a member

    second = await elect(node, bijan, ava)
    assert (await bijan.post("/v1/member/leave", bijan.signed("leave"))).status == 200
    board = await (await node.get("/v1/board")).json()
    assert board["mandates"] == []
    left = [e for e in board["ended"] if e["decision"] == second]
    assert [e["cause"] for e in left] == ["left"]
    assert [e["kind"] for e in (await record_log(node))[-2:]] == ["member/leave", "board/left"]


async def test_an_assembly_fixes_the_date_of_the_next_and_a_member_convenes_it_when_it_passes(
    monkeypatch: pytest.MonkeyPatch, start_node: NodeFactory
) -> None:
    node, (chair, _, _, cyrus), _ = await council(start_node)
    opened = await chair.post("/v1/member/board/assemblies", {"agenda": "spring"})
    assembly = opened.json()["assembly_id"]
    now = clock.now_ms()
    before = await record_size(node)
    past = await node.operator.request(
        "POST", f"/v1/admin/assemblies/{assembly}/close", codec_json({"next_ms": now - 1}), check=False
    )
    refused_with(past, 422, "assembly.next-past")
    bad = await node.operator.request(
        "POST", f"/v1/admin/assemblies/{assembly}/close", codec_json({"next_ms": "soon"}), check=False
    )
    refused_with(bad, 400, "bad-field")
    assert await record_size(node) == before
    date = now + 90 * DAY_MS
    await node.operator.call("POST", f"/v1/admin/assemblies/{assembly}/close", {"next_ms": date})
    me = (await cyrus.get("/v1/member/me")).json()["requisition"]
    assert (me["next_ms"], me["may_convene"]) == (date, [{"ground": "schedule", "due_ms": date}])
    refused_with(await convene(cyrus, "schedule", date, "autumn"), 422, "convene.too-early")
    assert await record_size(node) == before + 1
    real = clock.now_ms
    monkeypatch.setattr(clock, "now_ms", lambda: real() + 91 * DAY_MS)
    done = await convene(cyrus, "schedule", date, "autumn")
    assert done.status == 200, done.body
