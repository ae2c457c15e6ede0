"""The assembly console's routes (issue 15) over real HTTP: a sitting board member chairs an assembly with
their own key — the roll, motions, hands counted in the room, the closes — each entry naming them; anyone
else is refused 403 ``board.not-member``; the live stream carries each ballot's tally; too many streams 429.

Every refusal asserts the code that refused and that the record did not grow.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from protocol import codec
from tests.conftest import NodeFactory, RunningNode
from tests.node.members_helpers import KeyedMember, keyed_member
from tests.node.test_members import assembly_with, motion, record_log, record_size, refused_with

Json = dict[str, Any]
B = "/v1/member/board"
GUARD_S = 120.0  # a broken stream fails the test instead of hanging it; never a measure of speed


def b64(value: bytes) -> str:
    return codec.b64u(value)


async def council_with_a_board(
    start_node: NodeFactory, **kwargs: Any
) -> tuple[RunningNode, list[KeyedMember]]:
    """A council whose first member (the chair) was elected to the board; three more keyed members."""
    node = await start_node(**kwargs)
    people = [await keyed_member(node, name) for name in ("Chair", "Babak", "Chris", "Dana")]
    assembly = await assembly_with(node, *people)
    assert (await people[0].consent(assembly)).status == 200  # a candidate stands only with consent
    election = await motion(node, "election", seats=1, candidates=[b64(people[0].member)])
    for m in people:
        assert (await m.vote(assembly, election, None, [people[0].member])).status == 200
    await node.operator.call("POST", f"/v1/admin/motions/{b64(election)}/close")
    await node.operator.call("POST", f"/v1/admin/assemblies/{b64(assembly)}/close")
    return node, people


async def post(member: KeyedMember, path: str, body: Json | None = None) -> Any:
    return await member.post(B + path, body or {})


async def test_a_board_member_chairs_a_whole_assembly_with_their_own_key(start_node: NodeFactory) -> None:
    node, (chair, babak, _, dana) = await council_with_a_board(start_node)
    opened = await post(chair, "/assemblies", {"agenda": "autumn"})
    assert opened.status == 200, opened.body
    a = opened.json()["assembly_id"]
    # the roll call: by name, as the secretary calls it in the room
    roll = await post(chair, f"/assemblies/{a}/attend", {"members": ["Babak", "Chris", "Chair"]})
    assert roll.status == 200 and roll.json()["present"] == 3, roll.body
    assert (await dana.checkin(codec.unb64u(a, 32))).status == 200  # online: checks in herself
    assert (await post(chair, f"/assemblies/{a}/depart", {"member": "Chris"})).json()["present"] == 3

    policy = await post(chair, "/motions", {"text": "open a library", "kind": "policy"})
    assert policy.status == 200, policy.body
    m = policy.json()["motion_id"]
    assert (await babak.vote(codec.unb64u(a, 32), codec.unb64u(m, 32), "yes")).status == 200
    hand = await post(chair, f"/motions/{m}/votes", {"member": "Dana", "choice": "yes"})  # hands counted
    assert hand.status == 200, hand.body
    picture = (await chair.get(B + "/assembly")).json()
    shown = picture["assembly"]["motions"][0]
    assert (shown["tally"], shown["voters"], shown["status"]) == (
        {"yes": 2, "no": 0, "abstain": 0},
        2,
        "open",
    )
    assert {p["name"] for p in picture["members"] if p["present"]} == {"Chair", "Babak", "Dana"}
    closed = await post(chair, f"/motions/{m}/close")
    assert closed.status == 200 and closed.json()["outcome"] == "adopted", closed.body

    for candidate in (babak, dana):
        assert (await candidate.consent(codec.unb64u(a, 32))).status == 200
    election = await post(
        chair,
        "/motions",
        {"text": "the board", "kind": "election", "seats": 1, "candidates": ["Babak", "Dana"]},
    )
    e = election.json()["motion_id"]
    for voter, choice in ((babak, babak), (dana, babak), (chair, dana)):
        ballot = await voter.vote(codec.unb64u(a, 32), codec.unb64u(e, 32), None, [choice.member])
        assert ballot.status == 200, ballot.body
    result = (await post(chair, f"/motions/{e}/close")).json()
    assert result["outcome"] == "adopted"
    assert [seat["member"] for seat in result["elected"]] == [b64(babak.member)]
    done = await post(chair, f"/assemblies/{a}/close", {"minutes": "held in the library"})
    assert done.status == 200 and done.json()["participants"] == 4, done.body

    by_chair = [
        e
        for e in await record_log(node)
        if e["issued_by"] is not None and e["issued_by"].get("role") == "board"
    ]
    kinds = {e["kind"] for e in by_chair}
    assert {"assembly/attend", "assembly/depart", "motion/propose", "motion/vote", "decision"} <= kinds
    assert {"assembly/close", "assembly/minutes"} <= kinds
    assert all(e["issued_by"]["member"] == b64(chair.member) for e in by_chair)
    assert all(e["issued_by"]["key"] == b64(chair.key.public.raw) for e in by_chair)


async def test_every_console_route_refuses_a_member_not_sitting(start_node: NodeFactory) -> None:
    node, (chair, babak, *_) = await council_with_a_board(start_node)
    a = (await post(chair, "/assemblies", {"agenda": "x"})).json()["assembly_id"]
    m = (await post(chair, "/motions", {"text": "x"})).json()["motion_id"]
    before = await record_size(node)
    for path, body in (
        (f"/assemblies/{a}/attend", {"members": ["Babak"]}),
        (f"/assemblies/{a}/depart", {"member": "Babak"}),
        (f"/assemblies/{a}/close", {}),
        ("/motions", {"text": "y"}),
        (f"/motions/{m}/votes", {"member": "Babak", "choice": "yes"}),
        (f"/motions/{m}/close", {}),
    ):
        refused_with(await post(babak, path, body), 403, "board.not-member")
    refused_with(await babak.get(B + "/assembly"), 403, "board.not-member")
    refused_with(await babak.get(B + "/live"), 403, "board.not-member")
    assert await record_size(node) == before


async def test_the_rules_refusals_reach_the_console_by_name(start_node: NodeFactory) -> None:
    node, (chair, babak, *_) = await council_with_a_board(start_node)
    a = (await post(chair, "/assemblies", {"agenda": "x"})).json()["assembly_id"]
    before = await record_size(node)
    refused_with(await post(chair, "/assemblies", {"agenda": "again"}), 422, "assembly.already-open")
    refused_with(await post(chair, f"/assemblies/{a}/attend", {"members": "Babak"}), 400, "bad-field")
    refused_with(await post(chair, "/motions", {"text": " "}), 400, "bad-field")
    assert await record_size(node) == before
    await post(chair, f"/assemblies/{a}/attend", {"members": ["Chair", "Babak"]})
    m = (await post(chair, "/motions", {"text": "x"})).json()["motion_id"]
    no_consent = {"text": "e", "kind": "election", "seats": 1, "candidates": ["Babak"]}
    refused_with(await post(chair, "/motions", no_consent), 422, "candidate.no-consent")
    assert (await babak.consent(codec.unb64u(a, 32))).status == 200
    e = await post(chair, "/motions", no_consent)
    recall = await post(chair, "/motions", {"text": "recall", "kind": "recall", "target": "Chair"})
    assert recall.status == 200, recall.body
    r = recall.json()["motion_id"]
    before = await record_size(node)
    refused_with(
        await post(chair, f"/motions/{m}/votes", {"member": "Chris", "choice": "yes"}),
        422,
        "vote.not-present",
    )
    refused_with(
        await post(
            chair, f"/motions/{e.json()['motion_id']}/votes", {"member": "Babak", "approvals": ["Babak"]}
        ),
        422,
        "vote.signature-required",
    )
    refused_with(
        await post(chair, f"/motions/{m}/votes", {"member": "Babak", "choice": "yse"}), 422, "vote.bad-choice"
    )
    refused_with(await post(chair, f"/motions/{r}/close"), 422, "board.own-motion")
    refused_with(await post(chair, f"/assemblies/{a}/close"), 422, "assembly.motions-open")
    assert await record_size(node) == before
    await post(chair, f"/motions/{m}/close")
    refused_with(await post(chair, f"/motions/{m}/close"), 422, "motion.closed")


async def events(node: RunningNode, member: KeyedMember) -> AsyncIterator[tuple[str, Any]]:
    """The console's stream, read as the page reads it: a signed GET and its body line by line."""
    url = node.url + B + "/live"
    headers = member.client.headers("GET", url, b"")
    async with node.session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=None)) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "text/event-stream"
        event, data = "", ""
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith(":"):
                yield "comment", line
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and event:
                yield event, json.loads(data)
                event, data = "", ""


async def test_the_live_stream_carries_a_ballots_tally(start_node: NodeFactory) -> None:
    node, (chair, babak, *_) = await council_with_a_board(start_node)
    a = (await post(chair, "/assemblies", {"agenda": "x"})).json()["assembly_id"]
    await post(chair, f"/assemblies/{a}/attend", {"members": ["Chair", "Babak"]})
    m = (await post(chair, "/motions", {"text": "x"})).json()["motion_id"]
    stream = events(node, chair)
    async with asyncio.timeout(GUARD_S):
        kind, first = await anext(stream)
        assert kind == "assembly"
        assert first["assembly"]["motions"][0]["tally"] == {"yes": 0, "no": 0, "abstain": 0}
        assert (await babak.vote(codec.unb64u(a, 32), codec.unb64u(m, 32), "no")).status == 200
        async for kind, picture in stream:
            if kind == "assembly" and picture["assembly"]["motions"][0]["voters"] == 1:
                assert picture["assembly"]["motions"][0]["tally"] == {"yes": 0, "no": 1, "abstain": 0}
                # the picture says the record's size it was drawn at: the ballot made it one entry larger, and
                # a picture asked for now is as new (the console drops an older one arriving late)
                assert picture["seq"] == first["seq"] + 1
                assert (await chair.get(B + "/assembly")).json()["seq"] == picture["seq"]
                break
    await stream.aclose()
    # a delegate motion names candidates (who consented), but is voted yes, no or abstain: so is its tally
    assert (await babak.consent(codec.unb64u(a, 32))).status == 200
    d = await post(chair, "/motions", {"text": "d", "kind": "delegate", "candidates": ["Babak"]})
    assert d.status == 200, d.body
    voted = await post(chair, f"/motions/{d.json()['motion_id']}/votes", {"member": "Babak", "choice": "yes"})
    assert voted.status == 200, voted.body
    shown = (await chair.get(B + "/assembly")).json()["assembly"]["motions"][1]
    assert (shown["kind"], shown["tally"]) == ("delegate", {"yes": 1, "no": 0, "abstain": 0})


async def test_more_live_streams_than_the_limit_are_refused(start_node: NodeFactory) -> None:
    node, (chair, *_) = await council_with_a_board(
        start_node, settings={"console_streams_max": 1, "console_heartbeat_s": 0.2}
    )
    stream = events(node, chair)
    async with asyncio.timeout(GUARD_S):
        assert (await anext(stream))[0] == "assembly"
        refused_with(await chair.get(B + "/live"), 429, "console.streams")
        assert (await anext(stream))[0] == "comment"  # nothing new: the heartbeat keeps the stream
        await stream.aclose()
        # the closed stream's place is freed once the node notices (its next heartbeat fails to write)
        while await live_status(node, chair) == 429:
            await asyncio.sleep(0.2)


async def live_status(node: RunningNode, member: KeyedMember) -> int:
    """The status a new stream is answered with; its body, endless when 200, is left unread."""
    url = node.url + B + "/live"
    async with node.session.get(url, headers=member.client.headers("GET", url, b"")) as response:
        return response.status


async def test_the_chair_closes_a_tie_into_its_runoff_and_recalls_another_board_member(
    start_node: NodeFactory,
) -> None:
    node, (chair, babak, chris, dana) = await council_with_a_board(start_node)
    a = (await post(chair, "/assemblies", {"agenda": "x"})).json()["assembly_id"]
    assembly = codec.unb64u(a, 32)
    for m in (babak, chris, dana):
        assert (await m.checkin(assembly)).status == 200
    for m in (babak, chris, dana):
        assert (await m.consent(assembly)).status == 200
    body = {"text": "two seats", "kind": "election", "seats": 2, "candidates": ["Babak", "Chris", "Dana"]}
    e = codec.unb64u((await post(chair, "/motions", body)).json()["motion_id"], 32)
    # each approved by two of the three present: three tied for the two seats
    for voter, approvals in ((babak, (babak, chris)), (chris, (chris, dana)), (dana, (babak, dana))):
        assert (await voter.vote(assembly, e, None, [m.member for m in approvals])).status == 200
    tied = (await post(chair, f"/motions/{b64(e)}/close")).json()
    assert tied["outcome"] == "tied", tied
    runoff = tied["runoff_motion_id"]
    picture = (await chair.get(B + "/assembly")).json()
    shown = {m["motion_id"]: m for m in picture["assembly"]["motions"]}
    assert shown[runoff]["runoff_of"] == b64(e) and shown[runoff]["status"] == "open"
    for voter in (babak, chris, dana):
        ballot = await voter.vote(assembly, codec.unb64u(runoff, 32), None, [babak.member, chris.member])
        assert ballot.status == 200
    second = (await post(chair, f"/motions/{runoff}/close")).json()
    assert second["outcome"] == "adopted"
    assert {s["member"] for s in second["elected"]} == {b64(babak.member), b64(chris.member)}

    # Babak now sits: the chair may put and close his recall (not their own)
    recall = await post(chair, "/motions", {"text": "recall", "kind": "recall", "target": "Babak"})
    r = codec.unb64u(recall.json()["motion_id"], 32)
    for voter in (chris, dana):
        assert (await voter.vote(assembly, r, "yes")).status == 200
    assert (await post(chair, f"/motions/{b64(r)}/close")).json()["outcome"] == "adopted"
    board = await node.operator.call("GET", "/v1/admin/members")
    assert {m["name"] for m in board["members"] if m["board"]} == {"Chair", "Chris"}
    # every entry the chair's closes wrote names the chair: the runoff's proposal and both tallies too
    log = await record_log(node)
    kinds = [e["kind"] for e in log if (e["issued_by"] or {}).get("role") == "board"]
    assert kinds.count("motion/propose") == 3 and kinds.count("decision") == 3
