"""Members act for themselves (issue 12): invitations, their own keys, signed check-ins and ballots, every
entry attributed, members reading their record, and the offline proof that a ballot was counted.

Every refusal asserts the check that refused and that the record did not grow.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import pytest

from federation.client import SignedClient
from node.rules.council import Rules
from node.storage import invitations
from protocol import codec
from protocol.errors import VerificationError
from protocol.keys import SigningKey
from protocol.member import Statement, sign_statement, verify_ballot_proof
from tests.conftest import NodeFactory, RunningNode
from tests.node.members_helpers import KeyedMember, council_id, invite, keyed_member, redeem
from tests.node.test_observer import FAST, quiet, rounds, snapshot

Json = dict[str, Any]


async def record_size(node: RunningNode) -> int:
    return int((await node.operator.call("GET", "/v1/admin/record/checkpoint"))["size"])


async def record_log(node: RunningNode) -> list[Json]:
    return (await node.operator.call("GET", "/v1/admin/record/log"))["entries"]  # type: ignore[no-any-return]


def refused_with(response: Any, status: int, code: str) -> None:
    assert response.status == status, response.body
    err = response.json()
    assert set(err) == {"error", "message"} and err["error"] == code, err


async def assembly_with(node: RunningNode, *members: KeyedMember) -> bytes:
    opened = await node.operator.call("POST", "/v1/admin/assemblies", {"agenda": "online"})
    assembly = codec.unb64u(opened["assembly_id"], 32)
    for m in members:
        r = await m.checkin(assembly)
        assert r.status == 200, r.body
    return assembly


async def motion(node: RunningNode, kind: str = "policy", **extra: Any) -> bytes:
    out = await node.operator.call("POST", "/v1/admin/motions", {"text": "a motion", "kind": kind, **extra})
    return codec.unb64u(out["motion_id"], 32)


# --- invitations and keys -------------------------------------------------------------------------------


async def test_invitation_is_single_use_hashed_and_binds_a_countersigned_key(start_node: NodeFactory) -> None:
    node = await start_node()
    out = await invite(node, name="Shirin", contact="shirin@example.org")
    token = invitations.Token.parse(out["invitation"])
    # only the hash of the secret is stored
    import sqlite3

    with sqlite3.connect(node.config.database) as conn:
        stored = [bytes(r[0]) for r in conn.execute("SELECT secret_hash FROM member_invitations")]
    assert stored == [invitations.secret_hash(token.secret)] and token.secret not in stored[0]

    response, shirin = await redeem(node, out["invitation"])
    assert response.status == 200, response.body
    join = [e for e in await record_log(node) if e["kind"] == "member/join"][-1]
    by = join["issued_by"]
    assert by["role"] == "member" and by["key"] == codec.b64u(shirin.key.public.raw)
    assert by["invited_by"]["role"] == "operator"
    assert by["invited_by"]["key"] == codec.b64u(node.config.operator_key)
    # the member's name went to the private directory, not the record
    listed = (await node.operator.call("GET", "/v1/admin/members"))["members"]
    assert [m["name"] for m in listed] == ["Shirin"]

    before = await record_size(node)
    again, _ = await redeem(node, out["invitation"])  # used: refused, nothing stored
    refused_with(again, 403, "invitation.used")
    assert await record_size(node) == before


async def test_expired_and_forged_invitations_are_refused(start_node: NodeFactory) -> None:
    node = await start_node(settings={"invitation_ttl_s": 0.001})
    out = await invite(node, name="Late")
    while (
        time.time_ns() // 1_000_000 <= out["expires_ms"]
    ):  # the clock passes the expiry (no timing assertion)
        await asyncio.sleep(0.001)
    before = await record_size(node)
    response, _ = await redeem(node, out["invitation"])
    refused_with(response, 403, "invitation.expired")
    token = invitations.Token.parse(out["invitation"])
    forged = invitations.Token(token.node_id, token.member, os.urandom(16)).text()
    response, _ = await redeem(node, forged)
    refused_with(response, 403, "invitation.unknown")
    assert await record_size(node) == before


async def test_a_new_invitation_replaces_a_lost_key_and_revokes_the_old_one(start_node: NodeFactory) -> None:
    node = await start_node()
    lost = await keyed_member(node, "Kaveh")
    out = await invite(node, member=codec.b64u(lost.member))
    response, found = await redeem(node, out["invitation"], act="key")
    assert response.status == 200, response.body
    entry = [e for e in await record_log(node) if e["kind"] == "member/key"][-1]
    assert entry["body"]["key"] == codec.b64u(found.key.public.raw)
    assert entry["issued_by"]["role"] == "member" and entry["issued_by"]["invited_by"]["role"] == "operator"

    assembly = await assembly_with(node, found)
    m = await motion(node)
    before = await record_size(node)
    # the revoked key: refused before a byte of its request is read, nothing stored
    refused_with(await lost.vote(assembly, m, "yes"), 403, "request-revoked-key")
    refused_with(await lost.get("/v1/member/record/log"), 403, "request-revoked-key")
    assert await record_size(node) == before
    assert (await found.vote(assembly, m, "yes")).status == 200


async def test_the_operator_cannot_bind_a_key_without_the_members_signature(start_node: NodeFactory) -> None:
    node = await start_node()
    before = await record_size(node)
    r = await node.operator.request(
        "POST",
        "/v1/admin/members",
        json.dumps({"name": "X", "key": codec.b64u(SigningKey.generate().public.raw)}).encode(),
        check=False,
    )
    refused_with(r, 400, "member.key-unsigned")
    assert await record_size(node) == before


# --- signed participation -------------------------------------------------------------------------------


async def test_online_assembly_members_check_in_vote_and_prove_their_ballot(start_node: NodeFactory) -> None:
    node = await start_node()
    members = [await keyed_member(node, f"member {i}") for i in range(4)]
    hands = (await node.operator.call("POST", "/v1/admin/members", {"name": "in the room"}))["member_id"]
    assembly = await assembly_with(node, *members)
    await node.operator.call(
        "POST", f"/v1/admin/assemblies/{codec.b64u(assembly)}/attend", {"members": [hands]}
    )
    m = await motion(node)
    for member in members:
        r = await member.vote(assembly, m, "yes")
        assert r.status == 200, r.body
    await node.operator.call(
        "POST", f"/v1/admin/motions/{codec.b64u(m)}/votes", {"member": hands, "choice": "no"}
    )
    closed = await node.operator.call("POST", f"/v1/admin/motions/{codec.b64u(m)}/close")
    assert closed["outcome"] == "adopted"
    assert (closed["ballots_signed"], closed["ballots_recorded"]) == (4, 1)

    log = await record_log(node)
    roles = {(e["kind"], e["issued_by"]["role"]) for e in log if e["issued_by"] is not None}
    assert ("motion/vote", "member") in roles and ("motion/vote", "operator") in roles
    assert ("assembly/attend", "member") in roles and ("decision", "operator") in roles
    # every entry after the founding one states who issued it
    assert all(e["issued_by"] is not None for e in log[1:])

    proof = await members[0].get(f"/v1/member/motions/{codec.b64u(m)}/proof")
    assert proof.status == 200, proof.body
    counted = verify_ballot_proof(proof.body, node.config.node_id, members[0].key.public.raw)
    assert counted.member == members[0].member and counted.choice == "yes" and counted.outcome == "adopted"
    # another member's key does not make it theirs
    with pytest.raises(VerificationError) as caught:
        verify_ballot_proof(proof.body, node.config.node_id, members[1].key.public.raw)
    assert caught.value.step == "ballot"
    # a proof tampered with is refused by the protocol's own check: another choice, another path
    value = codec.decode(proof.body)
    body = codec.decode(value["ballot"]["body"])
    changed = {**value, "ballot": {**value["ballot"], "body": codec.encode({**body, "choice": "no"})}}
    with pytest.raises(VerificationError) as caught:
        verify_ballot_proof(codec.encode(changed), node.config.node_id, members[0].key.public.raw)
    assert caught.value.step == "body-hash"
    path = [bytes(32), *value["ballot"]["proof"][1:]]
    moved = {**value, "ballot": {**value["ballot"], "proof": path}}
    with pytest.raises(VerificationError) as caught:
        verify_ballot_proof(codec.encode(moved), node.config.node_id, members[0].key.public.raw)
    assert caught.value.step == "inclusion"


async def test_phantom_members_show_who_joined_them(start_node: NodeFactory) -> None:
    node = await start_node(rules=Rules(quorum=None))
    await keyed_member(node, "real")
    for name in ("phantom 1", "phantom 2"):
        await node.operator.call("POST", "/v1/admin/members", {"name": name})
    joins = [e for e in await record_log(node) if e["kind"] == "member/join"]
    assert [j["issued_by"]["role"] for j in joins] == ["member", "operator", "operator"]
    assert joins[1]["issued_by"]["key"] == codec.b64u(node.config.operator_key)


@pytest.fixture
async def meeting(start_node: NodeFactory) -> tuple[RunningNode, KeyedMember, KeyedMember, bytes, bytes]:
    node = await start_node()
    a, b = await keyed_member(node, "A"), await keyed_member(node, "B")
    assembly = await assembly_with(node, a)
    return node, a, b, assembly, await motion(node)


async def test_forged_ballot(meeting: Any) -> None:
    node, a, _, assembly, m = meeting
    before = await record_size(node)
    body = a.signed("ballot", assembly=assembly, motion=m, choice="yes", approvals=[])
    body["sig"] = codec.b64u(os.urandom(64))
    refused_with(await a.post(f"/v1/member/motions/{codec.b64u(m)}/ballot", body), 422, "statement.signature")
    assert await record_size(node) == before


async def test_ballot_for_another_motion_assembly_or_council(meeting: Any) -> None:
    node, a, _, assembly, m = meeting
    other = await motion(node)
    before = await record_size(node)
    body = a.signed("ballot", assembly=assembly, motion=other, choice="yes", approvals=[])
    refused_with(await a.post(f"/v1/member/motions/{codec.b64u(m)}/ballot", body), 422, "statement.motion")
    body = a.signed("ballot", assembly=os.urandom(32), motion=m, choice="yes", approvals=[])
    refused_with(await a.post(f"/v1/member/motions/{codec.b64u(m)}/ballot", body), 422, "statement.assembly")
    body = a.signed("ballot", council=os.urandom(32), assembly=assembly, motion=m, choice="yes", approvals=[])
    refused_with(await a.post(f"/v1/member/motions/{codec.b64u(m)}/ballot", body), 422, "statement.council")
    assert await record_size(node) == before


async def test_replayed_ballot(meeting: Any) -> None:
    node, a, _, assembly, m = meeting
    body = a.signed("ballot", assembly=assembly, motion=m, choice="yes", approvals=[])
    path = f"/v1/member/motions/{codec.b64u(m)}/ballot"
    raw = json.dumps(body).encode()
    url = a.client.base_url + path
    headers = a.client.headers("POST", url, raw)
    headers["Content-Type"] = "application/json"
    async with node.session.post(url, data=raw, headers=headers) as first:
        assert first.status == 200
    before = await record_size(node)
    async with node.session.post(url, data=raw, headers=headers) as again:  # the same request, replayed
        assert again.status == 401 and (await again.json())["error"] == "request-replay"
    # the same signed ballot in a fresh request: the rules refuse a second vote
    refused_with(await a.post(path, body), 422, "vote.duplicate")
    assert await record_size(node) == before


async def test_member_not_on_the_roll(meeting: Any) -> None:
    node, _, b, assembly, m = meeting
    before = await record_size(node)
    refused_with(await b.vote(assembly, m, "yes"), 422, "vote.not-present")
    assert await record_size(node) == before


async def test_a_member_checks_in_only_themselves(meeting: Any) -> None:
    node, a, b, assembly, _ = meeting
    before = await record_size(node)
    statement = Statement("checkin", a.council, {"assembly": assembly, "member": a.member})
    body = {"statement": codec.b64u(statement.encode()), "sig": codec.b64u(sign_statement(b.key, statement))}
    refused_with(await b.post("/v1/member/checkin", body), 422, "statement.member")  # B names A
    statement_b = Statement("checkin", a.council, {"assembly": assembly, "member": a.member})
    body = {
        "statement": codec.b64u(statement_b.encode()),
        "sig": codec.b64u(sign_statement(a.key, statement_b)),
    }
    refused_with(await b.post("/v1/member/checkin", body), 422, "statement.signature")  # A's, sent by B
    assert await record_size(node) == before


async def test_secretary_cannot_record_a_keyed_members_vote_where_rules_require_signed(
    start_node: NodeFactory,
) -> None:
    node = await start_node(rules=Rules(board_seats=3))
    a = await keyed_member(node, "A")
    hands = (await node.operator.call("POST", "/v1/admin/members", {"name": "no key"}))["member_id"]
    assembly = await assembly_with(node, a)
    await node.operator.call(
        "POST", f"/v1/admin/assemblies/{codec.b64u(assembly)}/attend", {"members": [hands]}
    )
    await node.operator.call(
        "POST", f"/v1/admin/assemblies/{codec.b64u(assembly)}/consent", {"member": hands}
    )  # no key: the secretary records their consent to stand
    election = await motion(node, "election", seats=1, candidates=[hands])
    before = await record_size(node)
    r = await node.operator.request(
        "POST",
        f"/v1/admin/motions/{codec.b64u(election)}/votes",
        json.dumps({"member": codec.b64u(a.member), "approvals": [hands]}).encode(),
        check=False,
    )
    refused_with(r, 422, "vote.signature-required")
    assert await record_size(node) == before
    # a member without a key still has their hand recorded; the keyed member votes themselves
    await node.operator.call(
        "POST", f"/v1/admin/motions/{codec.b64u(election)}/votes", {"member": hands, "approvals": [hands]}
    )
    assert (await a.vote(assembly, election, None, [codec.unb64u(hands, 16)])).status == 200
    closed = await node.operator.call("POST", f"/v1/admin/motions/{codec.b64u(election)}/close")
    assert (closed["ballots_signed"], closed["ballots_recorded"]) == (1, 1)


async def test_requisition_and_resignation_are_signed(start_node: NodeFactory) -> None:
    node = await start_node()
    a = await keyed_member(node, "A")
    assert (await a.requisition("recall the board")).status == 200
    assert (await a.post("/v1/member/leave", a.signed("leave"))).status == 200
    kinds = [(e["kind"], e["issued_by"]["role"]) for e in (await record_log(node))[-2:]]
    assert kinds == [("assembly/requisition", "member"), ("member/leave", "member")]
    # once gone, the key speaks for nobody
    refused_with(await a.get("/v1/member/me"), 403, "request-not-member")


# --- members read their record, nobody else -------------------------------------------------------------


async def test_members_read_their_record_and_nobody_else_does(start_node: NodeFactory) -> None:
    node, other = (
        await start_node(),
        await start_node("Berlin Council", city="Berlin", country="DE", continent="Europe"),
    )
    a = await keyed_member(node, "A")
    mine = await a.get("/v1/member/record/log")
    assert mine.status == 200
    kinds = [e["kind"] for e in mine.json()["entries"]]
    assert kinds[:2] == ["council/found", "member/join"]
    assert (await a.get("/v1/member/record/entries")).status == 200
    # a member of one council reading another's record
    stranger = KeyedMember(other, a.key, a.member, await council_id(other))
    refused_with(await stranger.get("/v1/member/record/log"), 403, "request-unknown-key")
    # even with the same key a member of both: a request meant for one node is refused by the other
    response, _ = await redeem(other, (await invite(other, name="A too"))["invitation"], key=a.key)
    assert response.status == 200, response.body
    misdirected = SignedClient(node.session, other.url, a.key, node.config.node_id)
    refused_with(
        await misdirected.request("GET", "/v1/member/record/log", check=False), 403, "request-recipient"
    )
    # unsigned: nothing
    async with node.session.get(node.url + "/v1/member/record/log") as unsigned:
        assert unsigned.status == 401


async def test_nothing_of_the_record_leaves_through_federation_or_public_routes(
    start_node: NodeFactory,
) -> None:
    node = await start_node()
    a = await keyed_member(node, "Canary")
    assembly = await assembly_with(node, a)
    m = await motion(node, visibility="public")
    await a.vote(assembly, m, "yes")
    await node.operator.call("POST", f"/v1/admin/motions/{codec.b64u(m)}/close")
    secrets = [a.member, a.key.public.raw]
    public = b""
    for path in (
        "/v1/logs",
        f"/v1/logs/{codec.b64u(node.config.node_id)}/entries?after_seq=-1&limit=100",
        "/v1/decisions",
        "/v1/node",
    ):
        async with node.session.get(node.url + path, headers={"Accept": "application/msgpack"}) as r:
            public += await r.read()
        async with node.session.get(node.url + path) as r:
            public += await r.read()
    for secret in secrets:
        assert secret not in public and codec.b64u(secret).encode() not in public
    assert b"issued_by" not in public


async def test_members_acts_leave_no_trace_through_federation_endpoints(start_node: NodeFactory) -> None:
    """The observer test with members acting themselves: invitations, signed joins, a new key, check-ins,
    signed ballots, a requisition — every public and gossip response of a meshed federation is unchanged,
    and none carries a member's id, key or signature."""
    council = await start_node("Observed Council", settings=FAST)
    peer = await start_node("Peer", settings=FAST)
    for a, b in ((council, peer), (peer, council)):
        await a.operator.call("POST", "/v1/admin/peers", {"url": b.url, "key": codec.b64u(b.config.node_id)})
    assembly = codec.unb64u(
        (await council.operator.call("POST", "/v1/admin/assemblies", {"agenda": "online"}))["assembly_id"], 32
    )
    first = await quiet([council, peer], council, [peer])

    members = [await keyed_member(council, f"canary {i}") for i in range(3)]
    out = await invite(council, member=codec.b64u(members[0].member))
    response, renewed = await redeem(council, out["invitation"], act="key")
    assert response.status == 200, response.body
    members[0] = renewed
    for m in members:
        assert (await m.checkin(assembly)).status == 200
    hidden = await motion(council, visibility="council")
    signatures = []
    for m in members:
        body = m.signed("ballot", assembly=assembly, motion=hidden, choice="yes", approvals=[])
        signatures.append(codec.unb64u(body["sig"], 64))
        assert (await m.post(f"/v1/member/motions/{codec.b64u(hidden)}/ballot", body)).status == 200
    assert (await members[1].requisition("x")).status == 200

    await rounds(council, peer)
    second = await snapshot([council, peer], council, [peer])
    changed = sorted(k for k in first.keys() | second.keys() if first.get(k) != second.get(k))
    assert changed == []
    canaries = [c for m in members for c in (m.member, m.key.public.raw)] + signatures
    for _, _, body in second.values():
        for canary in canaries:
            assert canary not in body and codec.b64u(canary).encode() not in body


async def test_a_board_member_convenes_reports_and_invites_with_their_own_key(
    start_node: NodeFactory,
) -> None:
    node = await start_node()
    chair, plain = await keyed_member(node, "Chair"), await keyed_member(node, "Plain")
    assembly = await assembly_with(node, chair, plain)
    assert (await chair.consent(assembly)).status == 200
    election = await motion(node, "election", seats=1, candidates=[codec.b64u(chair.member)])
    for m in (chair, plain):
        assert (await m.vote(assembly, election, None, [chair.member])).status == 200
    closed = await node.operator.call("POST", f"/v1/admin/motions/{codec.b64u(election)}/close")
    assert closed["outcome"] == "adopted" and closed["ballots_signed"] == 2
    await node.operator.call("POST", f"/v1/admin/assemblies/{codec.b64u(assembly)}/close")

    before = await record_size(node)
    refused_with(await plain.post("/v1/member/board/assemblies", {"agenda": "x"}), 403, "board.not-member")
    refused_with(await plain.post("/v1/member/board/reports", {"text": "x"}), 403, "board.not-member")
    refused_with(await plain.post("/v1/member/invitations", {"name": "x"}), 403, "board.not-member")
    assert await record_size(node) == before

    assert (await chair.post("/v1/member/board/reports", {"text": "the rally was held"})).status == 200
    opened = await chair.post("/v1/member/board/assemblies", {"agenda": "autumn"})
    assert opened.status == 200, opened.body
    invited = await chair.post("/v1/member/invitations", {"name": "Newcomer"})
    assert invited.status == 200
    response, _ = await redeem(node, invited.json()["invitation"])
    assert response.status == 200
    log = await record_log(node)
    by_kind = {e["kind"]: e["issued_by"] for e in log}
    assert by_kind["board/report"] == {
        "role": "board",
        "member": codec.b64u(chair.member),
        "key": codec.b64u(chair.key.public.raw),
    }
    assert by_kind["assembly/open"]["role"] == "board"
    assert by_kind["member/join"]["invited_by"]["role"] == "board"
    assert by_kind["member/join"]["invited_by"]["member"] == codec.b64u(chair.member)
