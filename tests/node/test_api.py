"""The HTTP API of a council node (DESIGN.md §8), against real nodes on 127.0.0.1 port 0.

Happy paths check the shapes clients rely on and that every proof verifies; refusals check the status, the
``{"error", "message"}`` shape and that the log did not grow; operator requests are attacked one signature
component at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from federation.store import verified
from node.bootstrap import init_node
from node.rules.council import FoundCouncil, OpenAssembly, RuleError
from node.storage.writer import Writer
from protocol import codec, merkle
from protocol.bundle import verify_bundle
from protocol.entry import Entry, Header
from protocol.errors import ProtocolError
from protocol.httpsig import encode_nonce, sign_request
from protocol.keys import PublicKey, SigningKey
from protocol.note import log_origin, open_checkpoint
from protocol.record import RecordEntry, record_log_id
from tests.conftest import NodeFactory, RunningNode

Json = dict[str, Any]
MSGPACK = "application/msgpack"


# --- helpers --------------------------------------------------------------------------------------------


async def fetch(node: RunningNode, path: str, accept: str = "application/json") -> tuple[int, str, bytes]:
    async with node.session.get(node.url + path, headers={"Accept": accept}) as response:
        return response.status, response.content_type, await response.read()


async def get_json(node: RunningNode, path: str) -> Any:
    status, content_type, body = await fetch(node, path)
    assert status == 200, body
    assert content_type == "application/json"
    return json.loads(body)


async def log_size(node: RunningNode) -> int:
    """The record's size, read through the operator's route: what a refused command must not grow."""
    return int((await node.operator.call("GET", "/v1/admin/record/checkpoint"))["size"])


async def public_size(node: RunningNode) -> int:
    (head,) = (await get_json(node, "/v1/logs"))["logs"]
    return int(head["size"])


def error_of(status: int, body: bytes, expected: int, code: str | None) -> Json:
    assert status == expected, (status, body[:300])
    err = json.loads(body)
    assert set(err) == {"error", "message"}, err
    assert isinstance(err["error"], str) and isinstance(err["message"], str) and err["message"]
    if code is not None:
        assert err["error"] == code, err
    return err


async def refused_get(node: RunningNode, path: str, expected: int, code: str | None = None) -> Json:
    before = await log_size(node)
    status, _, body = await fetch(node, path)
    err = error_of(status, body, expected, code)
    assert await log_size(node) == before
    return err


async def refused(
    node: RunningNode,
    method: str,
    path: str,
    value: Any = None,
    expected: int = 400,
    code: str | None = None,
    *,
    raw: bytes | None = None,
) -> Json:
    """Send an operator request that must be refused with ``expected``/``code`` and append nothing."""
    before = await log_size(node)
    body = raw if raw is not None else (b"" if value is None else json.dumps(value).encode())
    response = await node.operator.request(method, path, body, check=False)
    err = error_of(response.status, response.body, expected, code)
    assert await log_size(node) == before
    return err


async def ok(node: RunningNode, method: str, path: str, value: Json | None = None) -> Any:
    return await node.operator.call(method, path, value)


@dataclass
class Council:
    node: RunningNode
    members: dict[str, str]  # name -> member id (base64url)
    assembly: str


async def council(
    start_node: NodeFactory, names: tuple[str, ...] = ("Ava", "Babak", "Chris", "Dara")
) -> Council:
    """A node with members and an open assembly with the first three members on the roll."""
    node = await start_node()
    members = {n: (await ok(node, "POST", "/v1/admin/members", {"name": n}))["member_id"] for n in names}
    assembly = (await ok(node, "POST", "/v1/admin/assemblies", {"agenda": "Spring assembly"}))["assembly_id"]
    await ok(
        node, "POST", f"/v1/admin/assemblies/{assembly}/attend", {"members": [members[n] for n in names[:3]]}
    )
    return Council(node, members, assembly)


async def motion(c: Council, text: str = "Hold a rally", **extra: Any) -> str:
    if extra.get("kind") == "election":  # each candidate consents to stand first (issue 13)
        for candidate in extra.get("candidates", []):
            await consent(c.node, c.assembly, candidate)
    value = {"assembly": c.assembly, "text": text, **extra}
    return str((await ok(c.node, "POST", "/v1/admin/motions", value))["motion_id"])


async def consent(node: RunningNode, assembly: str, member: str) -> None:
    """The secretary records a keyless member's consent to stand in ``assembly``'s elections."""
    await ok(node, "POST", f"/v1/admin/assemblies/{assembly}/consent", {"member": member})


async def decide(c: Council, text: str, choices: tuple[str, ...], **extra: Any) -> Json:
    m = await motion(c, text, **extra)
    for name, choice in zip(c.members, choices, strict=False):
        await ok(c.node, "POST", f"/v1/admin/motions/{m}/votes", {"member": name, "choice": choice})
    return dict(await ok(c.node, "POST", f"/v1/admin/motions/{m}/close"))


async def all_entries(node: RunningNode) -> list[Json]:
    """The public log's entries."""
    log_id = codec.b64u(node.config.node_id)
    return list((await get_json(node, f"/v1/logs/{log_id}/entries"))["entries"])


async def record_entries(node: RunningNode, query: str = "") -> Json:
    """A page of the record, through the operator's route."""
    return dict(await node.operator.call("GET", f"/v1/admin/record/entries{query}"))


# --- public endpoints: happy paths and shapes ------------------------------------------------------------


async def test_node_and_logs(start_node: NodeFactory) -> None:
    node = await start_node()
    info = await get_json(node, "/v1/node")
    assert info["id"] == codec.b64u(node.config.node_id)
    assert info["kind"] == "council"
    assert info["profile"]["name"] == "Toronto Council" and info["profile"]["city"] == "Toronto"
    assert len(codec.unb64u(info["charter_hash"], 32)) == 32
    assert info["software"].startswith("shora ")
    (head,) = (await get_json(node, "/v1/logs"))["logs"]
    assert head["log_id"] == info["id"] and head["size"] == 1 and not head["frozen"]
    signed = open_checkpoint(head["note"], PublicKey(node.config.node_id))
    assert signed.checkpoint.size == 1 and codec.b64u(signed.checkpoint.root) == head["root"]


async def test_checkpoint_as_json_and_as_note(start_node: NodeFactory) -> None:
    c = await council(start_node)
    node, key = c.node, PublicKey(c.node.config.node_id)
    log_id = codec.b64u(node.config.node_id)
    value = await get_json(node, f"/v1/logs/{log_id}/checkpoint")
    assert set(value) == {"log_id", "size", "root", "note"}
    assert value["log_id"] == log_id and value["size"] == await public_size(node)
    signed = open_checkpoint(value["note"], key)
    assert signed.checkpoint.size == value["size"] and codec.b64u(signed.checkpoint.root) == value["root"]

    status, content_type, text = await fetch(node, f"/v1/logs/{log_id}/checkpoint", accept="text/plain")
    assert status == 200 and content_type == "text/plain"
    assert text.decode() == value["note"]
    assert open_checkpoint(text.decode(), key).checkpoint == signed.checkpoint


async def test_entries_are_served_only_as_far_as_their_own_signatures_were_checked(
    start_node: NodeFactory,
) -> None:
    """A peer's page is committed on its checkpoint's authority and each signature checked after
    (docs/gossip.md "Pulling"): the public entries route, like gossip, stops before the first unchecked."""
    c = await council(start_node)
    node = c.node
    log_id = codec.b64u(node.config.node_id)
    await decide(c, "Hold a rally", ("yes", "yes", "no"))  # four public entries
    size = len((await get_json(node, f"/v1/logs/{log_id}/entries"))["entries"])
    assert size == 4
    with contextlib.closing(sqlite3.connect(node.config.database)) as conn, conn:
        verified.add(conn, node.config.node_id, 2, size, None)
    served = await get_json(node, f"/v1/logs/{log_id}/entries")
    assert [e["seq"] for e in served["entries"]] == [0, 1]
    assert (await get_json(node, f"/v1/logs/{log_id}/entries?after_seq=1"))["entries"] == []


async def test_entries_paging_and_bodies(start_node: NodeFactory) -> None:
    c = await council(start_node)
    await decide(c, "Hold a rally", ("yes", "yes", "no"))
    node = c.node
    log_id = codec.b64u(node.config.node_id)
    key = PublicKey(node.config.node_id)
    everything = await get_json(node, f"/v1/logs/{log_id}/entries")
    assert set(everything) == {"log_id", "entries", "checkpoint"} and everything["log_id"] == log_id
    entries = everything["entries"]
    size = everything["checkpoint"]["size"]
    assert [e["seq"] for e in entries] == list(range(size))

    # the public log: public twins only, each with its body, each committing to the record
    kinds: set[str] = set()
    for served in entries:
        header = codec.unb64u(served["header"])
        assert codec.b64u(merkle.leaf_hash(header)) == served["id"]
        entry = Entry(header, codec.unb64u(served["signature"]), codec.unb64u(served["body"]))
        entry.verify_signature(key)
        assert Header.decode(header).vis == "public"
        assert set(entry.body()["record"]) == {"entry", "root"} and "salt" not in entry.body()
        kinds.add(entry.body()["kind"])
    assert kinds == {"council/found", "assembly/open", "motion/propose", "decision"}

    # the record, for the operator: every entry, every body, signed in the record's domain
    record = await record_entries(node)
    assert set(record) == {"log_id", "entries", "checkpoint"} and record["log_id"] != log_id
    assert record["log_id"] == codec.b64u(record_log_id(node.config.node_id))
    served_record = record["entries"]
    assert [e["seq"] for e in served_record] == list(range(record["checkpoint"]["size"]))
    published = []
    for served in served_record:
        entry = RecordEntry(
            codec.unb64u(served["header"]), codec.unb64u(served["signature"]), codec.unb64u(served["body"])
        )
        entry.verify_signature(key)
        if entry.header.vis == "public":
            published.append(entry.id)
    assert len(served_record) > size  # joins, the roll, votes: in the record only
    assert [codec.unb64u(e["body"]) for e in entries] and published == [
        Entry(codec.unb64u(e["header"]), codec.unb64u(e["signature"]), codec.unb64u(e["body"])).body()[
            "record"
        ]["entry"]
        for e in entries
    ]

    page = await record_entries(node, "?after_seq=2&limit=3")
    assert [e["seq"] for e in page["entries"]] == [3, 4, 5]
    assert page["entries"] == served_record[3:6]
    tail = await record_entries(node, f"?after_seq={len(served_record) - 1}")
    assert tail["entries"] == []
    first = await get_json(node, f"/v1/logs/{log_id}/entries?limit=1")
    assert [e["seq"] for e in first["entries"]] == [0]
    # nobody but the operator reads the record, nor can tell it is there
    assert len((await get_json(node, "/v1/logs"))["logs"]) == 1
    for path in ("checkpoint", "entries", "proof/inclusion?index=0", "proof/consistency?first=1"):
        await refused_get(node, f"/v1/logs/{record['log_id']}/{path}", 404, "not-found")
    status, _, _ = await fetch(node, "/v1/admin/record/entries")
    assert status == 401


async def test_inclusion_and_consistency_proofs_verify(start_node: NodeFactory) -> None:
    c = await council(start_node)
    await decide(c, "Hold a rally", ("yes", "no", "yes"))
    node = c.node
    log_id = codec.b64u(node.config.node_id)
    cp = await get_json(node, f"/v1/logs/{log_id}/checkpoint")
    root = open_checkpoint(cp["note"], PublicKey(node.config.node_id)).checkpoint.root
    size = cp["size"]
    ids = [codec.unb64u(e["id"]) for e in await all_entries(node)]
    assert merkle.root_from_leaves(ids) == root
    for index in range(size):
        proof = await get_json(node, f"/v1/logs/{log_id}/proof/inclusion?index={index}&size={size}")
        assert set(proof) == {"leaf_index", "tree_size", "path"}
        assert proof["leaf_index"] == index and proof["tree_size"] == size
        merkle.verify_inclusion(ids[index], index, size, [codec.unb64u(p) for p in proof["path"]], root)
    # size defaults to the current tree; a smaller tree proves against its own root
    proof = await get_json(node, f"/v1/logs/{log_id}/proof/inclusion?index=1")
    assert proof["tree_size"] == size
    small = await get_json(node, f"/v1/logs/{log_id}/proof/inclusion?index=1&size=3")
    path = [codec.unb64u(p) for p in small["path"]]
    merkle.verify_inclusion(ids[1], 1, 3, path, merkle.root_from_leaves(ids[:3]))

    for first in range(1, size + 1):
        proof = await get_json(node, f"/v1/logs/{log_id}/proof/consistency?first={first}&second={size}")
        assert set(proof) == {"first", "second", "path"}
        assert proof["first"] == first and proof["second"] == size
        path = [codec.unb64u(p) for p in proof["path"]]
        merkle.verify_consistency(first, size, merkle.root_from_leaves(ids[:first]), root, path)
    defaulted = await get_json(node, f"/v1/logs/{log_id}/proof/consistency?first=2")
    assert defaulted["second"] == size


async def test_decisions_newest_first_public_only_and_bundles(start_node: NodeFactory) -> None:
    c = await council(start_node)
    node = c.node
    rally = await decide(c, "Hold a rally", ("yes", "yes", "no"))
    private = await decide(c, "Talk to the landlord", ("yes", "yes", "yes"), visibility="council")
    park = await decide(c, "Clean the park", ("no", "no", "yes"))
    assert rally["outcome"] == "adopted" and park["outcome"] == "rejected"

    listed = (await get_json(node, "/v1/decisions"))["decisions"]
    # public decisions are the public log's twins, each naming the record entry the operator was told of
    assert [d["record_id"] for d in listed] == [park["decision_id"], rally["decision_id"]]
    assert all(d["vis"] == "public" for d in listed)
    assert listed[1]["text"] == "Hold a rally" and listed[1]["outcome"] == "adopted"
    assert listed[1]["tally"] == {"yes": 2, "no": 1, "abstain": 0}
    assert "salt" not in listed[0]
    limited = (await get_json(node, "/v1/decisions?limit=1"))["decisions"]
    assert [d["record_id"] for d in limited] == [park["decision_id"]]
    # the operator sees every decision, council ones included
    everything = (await ok(node, "GET", "/v1/admin/decisions"))["decisions"]
    assert [d["decision_id"] for d in everything] == [
        park["decision_id"],
        private["decision_id"],
        rally["decision_id"],
    ]

    status, content_type, data = await fetch(node, f"/v1/decisions/{rally['decision_id']}/bundle")
    assert status == 200 and content_type == MSGPACK
    verified = verify_bundle(data, PublicKey(node.config.node_id))
    assert codec.b64u(verified.id) == listed[1]["decision_id"]
    assert codec.b64u(verified.body["record"]["entry"]) == rally["decision_id"]
    by_twin = await fetch(node, f"/v1/decisions/{listed[1]['decision_id']}/bundle")
    assert by_twin == (status, content_type, data)
    assert verified.body["text"] == "Hold a rally" and verified.council["name"] == "Toronto Council"
    assert verified.checkpoint.size == await public_size(node)

    # a council-visibility decision is never published, so it has no bundle, even for the operator; and in
    # public it is indistinguishable from nothing
    response = await node.operator.request(
        "GET", f"/v1/admin/decisions/{private['decision_id']}/bundle", check=False
    )
    assert response.status == 404 and b"never published" in response.body
    hidden = await refused_get(node, f"/v1/decisions/{private['decision_id']}/bundle", 404)
    unknown = await refused_get(node, f"/v1/decisions/{codec.b64u(secrets.token_bytes(32))}/bundle", 404)
    assert hidden == unknown  # the answer must not reveal that a council decision exists
    # nor any other entry's id
    join = (await record_entries(node))["entries"][1]["id"]
    assert await refused_get(node, f"/v1/decisions/{join}/bundle", 404) == unknown


async def test_board_after_an_election(start_node: NodeFactory) -> None:
    c = await council(start_node)
    node = c.node
    empty = await get_json(node, "/v1/board")
    assert empty == {"seats": 3, "vacancies": 3, "mandates": [], "ended": []}
    m = await motion(c, "Elect the board", kind="election", seats=2, candidates=["Ava", "Babak"])
    for voter, approvals in (("Ava", ["Ava", "Babak"]), ("Babak", ["Babak"]), ("Chris", ["Ava"])):
        await ok(node, "POST", f"/v1/admin/motions/{m}/votes", {"member": voter, "approvals": approvals})
    decision = await ok(node, "POST", f"/v1/admin/motions/{m}/close")
    assert decision["outcome"] == "adopted"
    board = await get_json(node, "/v1/board")
    assert board["seats"] == 3 and board["vacancies"] == 1
    assert sorted(x["member"] for x in board["mandates"]) == sorted([c.members["Ava"], c.members["Babak"]])
    assert {x["decision"] for x in board["mandates"]} == {decision["decision_id"]}
    assert sorted(x["seat"] for x in board["mandates"]) == [0, 1] or len(board["mandates"]) == 2
    listed = (await ok(node, "GET", "/v1/admin/members"))["members"]
    assert {x["name"] for x in listed if x["board"]} == {"Ava", "Babak"}


async def test_msgpack_responses(start_node: NodeFactory) -> None:
    c = await council(start_node)
    node = c.node
    rally = await decide(c, "Hold a rally", ("yes", "yes", "no"))
    log_id = codec.b64u(node.config.node_id)
    paths = [
        "/v1/node",
        "/v1/logs",
        f"/v1/logs/{log_id}/checkpoint",
        f"/v1/logs/{log_id}/entries?limit=4",
        f"/v1/logs/{log_id}/proof/inclusion?index=2",
        f"/v1/logs/{log_id}/proof/consistency?first=2",
        "/v1/decisions",
        "/v1/board",
    ]
    for path in paths:
        status, content_type, data = await fetch(node, path, accept=MSGPACK)
        assert status == 200 and content_type == MSGPACK, path
        value = codec.decode(data)
        # the same value as the JSON answer, with bytes as bytes
        assert json.loads(json.dumps(_jsonable(value))) == await get_json(node, path), path
    node_info = codec.decode((await fetch(node, "/v1/node", accept=MSGPACK))[2])
    assert node_info["id"] == node.config.node_id
    listed = codec.decode((await fetch(node, "/v1/decisions", accept=MSGPACK))[2])
    assert codec.b64u(listed["decisions"][0]["record_id"]) == rally["decision_id"]


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return codec.b64u(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


# --- public refusals ---------------------------------------------------------------------------------------


async def test_public_refusals(start_node: NodeFactory) -> None:
    c = await council(start_node)
    node = c.node
    log_id = codec.b64u(node.config.node_id)
    size = await log_size(node)
    other = codec.b64u(SigningKey.generate().public.raw)
    await refused_get(node, "/v1/logs/not-a-log/checkpoint", 400, "bad-log-id")
    await refused_get(node, f"/v1/logs/{log_id}AA/entries", 400, "bad-log-id")
    await refused_get(node, f"/v1/logs/{log_id[:-1]}=/checkpoint", 400, "bad-log-id")
    for path in ("checkpoint", "entries", "proof/inclusion?index=0", "proof/consistency?first=0"):
        await refused_get(node, f"/v1/logs/{other}/{path}", 404, "not-found")
    entries = f"/v1/logs/{log_id}/entries"
    for query in ("after_seq=x", "after_seq=-2", "limit=0", "limit=-1", "limit=1.5", f"after_seq={2**63}"):
        await refused_get(node, f"{entries}?{query}", 400, "bad-parameter")
    inclusion = f"/v1/logs/{log_id}/proof/inclusion"
    await refused_get(node, inclusion, 400, "missing-parameter")
    await refused_get(node, f"{inclusion}?index=-1", 400, "bad-parameter")
    await refused_get(node, f"{inclusion}?index=0&size=0", 400, "bad-parameter")
    await refused_get(node, f"{inclusion}?index={size}", 400, "bad-range")
    await refused_get(node, f"{inclusion}?index=0&size={size + 1}", 400, "bad-range")
    await refused_get(node, f"{inclusion}?index=3&size=3", 400, "bad-range")
    consistency = f"/v1/logs/{log_id}/proof/consistency"
    await refused_get(node, consistency, 400, "missing-parameter")
    await refused_get(node, f"{consistency}?first=x", 400, "bad-parameter")
    await refused_get(node, f"{consistency}?first=3&second=2", 400, "bad-range")
    await refused_get(node, f"{consistency}?first=1&second={size + 1}", 400, "bad-range")
    await refused_get(node, f"{consistency}?first={size + 1}", 400, "bad-range")
    await refused_get(node, "/v1/decisions?limit=0", 400, "bad-parameter")
    await refused_get(node, "/v1/decisions?limit=ten", 400, "bad-parameter")
    await refused_get(node, "/v1/decisions/short/bundle", 400, "bad-decision-id")
    await refused_get(node, f"/v1/decisions/{codec.b64u(bytes(32))}/bundle", 404, "not-found")
    await refused_get(node, "/v1/nothing-here", 404)
    status, _, body = await fetch(node, "/v1/admin/members")
    error_of(status, body, 401, None)


# --- admin refusals -------------------------------------------------------------------------------------


async def test_malformed_bodies(start_node: NodeFactory) -> None:
    c = await council(start_node)
    node = c.node
    await refused(node, "POST", "/v1/admin/members", raw=b"{not json", code="bad-json")
    await refused(node, "POST", "/v1/admin/members", raw=b"\xff\xfe", code="bad-json")
    await refused(node, "POST", "/v1/admin/members", raw=b'[{"name": "Ava"}]', code="bad-json")
    await refused(node, "POST", "/v1/admin/members", raw=b'"Ava"', code="bad-json")
    await refused(node, "POST", "/v1/admin/members", {}, code="bad-field")
    await refused(node, "POST", "/v1/admin/members", {"name": "  "}, code="bad-field")
    await refused(node, "POST", "/v1/admin/members", {"name": "x" * 201}, code="bad-field")
    await refused(node, "POST", "/v1/admin/members", {"name": "Eve", "key": "short"}, code="bad-field")


async def test_oversize_body_is_413(start_node: NodeFactory) -> None:
    node = await start_node()
    limit = node.config.settings.max_request_bytes
    big = json.dumps({"name": "Eve", "contact": "x" * limit}).encode()
    await refused(node, "POST", "/v1/admin/members", raw=big, expected=413, code="too-large")
    # and nothing is broken afterwards
    assert (await ok(node, "POST", "/v1/admin/members", {"name": "Eve"}))["member_id"]


async def test_wrong_field_types(start_node: NodeFactory) -> None:
    c = await council(start_node)
    node, a = c.node, c.assembly
    m = await motion(c)
    await refused(
        node, "POST", "/v1/admin/motions", {"assembly": a, "text": "x", "seats": "2"}, code="bad-field"
    )
    await refused(
        node, "POST", "/v1/admin/motions", {"assembly": a, "text": "x", "seats": True}, code="bad-field"
    )
    await refused(node, "POST", "/v1/admin/motions", {"assembly": a, "text": 5}, code="bad-field")
    await refused(node, "POST", "/v1/admin/motions", {"assembly": a}, code="bad-field")
    await refused(node, "POST", "/v1/admin/motions", {"assembly": a, "text": "x", "candidates": "Ava"})
    await refused(node, "POST", f"/v1/admin/assemblies/{a}/attend", {"members": "Dara"}, code="bad-field")
    await refused(node, "POST", f"/v1/admin/assemblies/{a}/attend", {"members": []}, code="bad-field")
    await refused(node, "POST", f"/v1/admin/assemblies/{a}/close", {"minutes": 7}, code="bad-field")
    await refused(
        node, "POST", f"/v1/admin/motions/{m}/votes", {"member": "Ava", "choice": 1}, code="bad-field"
    )
    await refused(node, "POST", f"/v1/admin/motions/{m}/votes", {"member": "Ava", "approvals": "Ava"})
    await refused(node, "POST", "/v1/admin/assemblies", {"agenda": ["x"]}, code="bad-field")
    rules = {"assembly": a, "text": "New rules", "kind": "rules"}
    await refused(node, "POST", "/v1/admin/motions", {**rules, "rules": "simple"}, code="bad-field")
    await refused(
        node, "POST", "/v1/admin/motions", {**rules, "rules": {"board_seats": "many"}}, code="bad-field"
    )


async def test_unknown_and_ambiguous_refs(start_node: NodeFactory) -> None:
    c = await council(start_node, ("Ava", "Babak", "Chris", "Sam", "sam"))
    node, a = c.node, c.assembly
    m = await motion(c)
    nobody = codec.b64u(secrets.token_bytes(16))
    await refused(node, "POST", "/v1/admin/members/leave", {"member": nobody}, 404, "unknown-member")
    await refused(node, "POST", "/v1/admin/members/leave", {"member": "Zed"}, 404, "unknown-member")
    await refused(node, "POST", "/v1/admin/members/leave", {}, 404, "unknown-member")
    await refused(node, "POST", "/v1/admin/members/leave", {"member": 12345}, 404, "unknown-member")
    err = await refused(node, "POST", "/v1/admin/members/leave", {"member": "SAM"}, 404, "unknown-member")
    assert "several" in err["message"]
    await refused(
        node, "POST", f"/v1/admin/assemblies/{a}/attend", {"members": ["Nobody"]}, 404, "unknown-member"
    )
    await refused(node, "POST", f"/v1/admin/motions/{m}/votes", {"member": nobody, "choice": "yes"}, 404)
    missing = codec.b64u(secrets.token_bytes(32))
    await refused(
        node, "POST", f"/v1/admin/assemblies/{missing}/attend", {"members": ["Ava"]}, 404, "unknown-assembly"
    )
    await refused(node, "POST", f"/v1/admin/assemblies/{missing}/close", {}, 404, "unknown-assembly")
    await refused(
        node, "POST", "/v1/admin/motions", {"assembly": "abc", "text": "x"}, 404, "unknown-assembly"
    )
    await refused(
        node,
        "POST",
        f"/v1/admin/motions/{missing}/votes",
        {"member": "Ava", "choice": "yes"},
        404,
        "unknown-motion",
    )
    await refused(node, "POST", f"/v1/admin/motions/{missing}/close", None, 404, "unknown-motion")
    await refused(node, "GET", f"/v1/admin/decisions/{missing}/bundle", None, 404, "unknown-decision")


async def test_member_refs_by_id_prefix_and_name(start_node: NodeFactory) -> None:
    c = await council(start_node, ("Ava", "Babak", "Chris", "Dara", "Ezra", "Farid"))
    node = c.node
    m = await motion(c)
    votes = f"/v1/admin/motions/{m}/votes"
    await ok(node, "POST", votes, {"member": c.members["Ava"], "choice": "yes"})  # full id
    await ok(node, "POST", votes, {"member": c.members["Babak"][:8], "choice": "yes"})  # unique prefix
    await ok(node, "POST", votes, {"member": "cHrIs", "choice": "no"})  # name, any case
    # "current" names the open assembly, for attendance as for motions
    await ok(
        node, "POST", "/v1/admin/assemblies/current/attend", {"members": ["dara", c.members["Ezra"][:6]]}
    )
    current = await ok(node, "POST", "/v1/admin/motions", {"assembly": "current", "text": "Second motion"})
    listed = (await ok(node, "GET", "/v1/admin/assemblies"))["assemblies"]
    (assembly,) = listed
    assert assembly["assembly_id"] == c.assembly and assembly["present"] == 5
    assert {x["motion_id"] for x in assembly["motions"]} == {m, current["motion_id"]}
    first = next(x for x in assembly["motions"] if x["motion_id"] == m)
    assert first["votes"] == 3
    # a motion and an assembly by unique prefix
    await ok(node, "POST", f"/v1/admin/motions/{m[:10]}/close")
    await ok(node, "POST", f"/v1/admin/motions/{current['motion_id'][:10]}/close")
    await ok(node, "POST", f"/v1/admin/assemblies/{c.assembly[:10]}/close", {"minutes": "All went well."})
    # with no assembly open, "current" names nothing
    await refused(
        node, "POST", "/v1/admin/motions", {"assembly": "current", "text": "x"}, 404, "unknown-assembly"
    )
    # a prefix shorter than four characters is never taken as a member id
    await refused(
        node, "POST", "/v1/admin/members/leave", {"member": c.members["Farid"][:3]}, 404, "unknown-member"
    )
    left = await ok(node, "POST", "/v1/admin/members/leave", {"member": "FARID"})
    assert left["member_id"] == c.members["Farid"]


async def test_governance_refusals_are_422_with_the_rule(start_node: NodeFactory) -> None:
    c = await council(start_node)
    node, a = c.node, c.assembly
    m = await motion(c)
    votes = f"/v1/admin/motions/{m}/votes"
    # Dara never attended
    await refused(node, "POST", votes, {"member": "Dara", "choice": "yes"}, 422, "vote.not-present")
    await ok(node, "POST", votes, {"member": "Ava", "choice": "yes"})
    await refused(node, "POST", votes, {"member": "Ava", "choice": "no"}, 422, "vote.duplicate")
    await refused(node, "POST", votes, {"member": "Babak", "choice": "maybe"}, 422, "vote.bad-choice")
    await ok(node, "POST", f"/v1/admin/assemblies/{a}/depart", {"member": "Chris"})
    await refused(node, "POST", votes, {"member": "Chris", "choice": "yes"}, 422, "vote.departed")
    await refused(
        node, "POST", f"/v1/admin/assemblies/{a}/depart", {"member": "Chris"}, 422, "roll.not-present"
    )
    await refused(
        node, "POST", f"/v1/admin/assemblies/{a}/attend", {"members": ["Ava"]}, 422, "roll.already-present"
    )
    await refused(node, "POST", "/v1/admin/assemblies", {"agenda": "again"}, 422, "assembly.already-open")
    await refused(node, "POST", "/v1/admin/motions", {"assembly": a, "text": "x" * 20_001}, 422, "limit.text")
    await refused(
        node,
        "POST",
        "/v1/admin/motions",
        {"assembly": a, "text": "x", "kind": "coup"},
        422,
        "motion.bad-kind",
    )
    await refused(
        node,
        "POST",
        "/v1/admin/motions",
        {"assembly": a, "text": "x", "visibility": "secret"},
        422,
        "motion.bad-visibility",
    )
    recall = {"assembly": a, "text": "Recall Babak", "kind": "recall", "target": "Babak"}
    await refused(node, "POST", "/v1/admin/motions", recall, 422, "recall.not-on-board")
    election = await motion(c, "Elect", kind="election", seats=1, candidates=["Ava", "Babak"])
    await refused(
        node,
        "POST",
        f"/v1/admin/motions/{election}/votes",
        {"member": "Ava", "approvals": ["Ava", "Babak"]},
        422,
        "vote.too-many-approvals",
    )
    await refused(node, "POST", f"/v1/admin/assemblies/{a}/close", {}, 422, "assembly.motions-open")
    await ok(node, "POST", f"/v1/admin/motions/{m}/close")
    await ok(node, "POST", f"/v1/admin/motions/{election}/close")
    await refused(node, "POST", votes, {"member": "Babak", "choice": "yes"}, 422, "motion.closed")
    await refused(node, "POST", f"/v1/admin/motions/{m}/close", None, 422, "motion.closed")
    await ok(node, "POST", f"/v1/admin/assemblies/{a}/close", {"minutes": "Done."})
    await refused(
        node, "POST", "/v1/admin/motions", {"assembly": a, "text": "Late"}, 422, "motion.assembly-closed"
    )
    rules = {"assembly": a, "text": "Two thirds", "kind": "rules", "rules": {"majority": "two_thirds"}}
    await refused(node, "POST", "/v1/admin/motions", rules, 422, "motion.assembly-closed")
    await refused(
        node, "POST", "/v1/admin/motions", {**rules, "assembly": "current"}, 404, "unknown-assembly"
    )
    await refused(
        node, "POST", f"/v1/admin/assemblies/{a}/attend", {"members": ["Dara"]}, 422, "assembly.closed"
    )
    await refused(node, "POST", f"/v1/admin/assemblies/{a}/close", {}, 422, "assembly.closed")
    await ok(node, "POST", "/v1/admin/members/leave", {"member": "Dara"})
    await refused(node, "POST", "/v1/admin/members/leave", {"member": "Dara"}, 422, "member.not-active")
    await refused(node, "POST", "/v1/admin/reports", {"member": "Ava", "text": "x"}, 422, "board.not-member")


async def test_no_request_is_answered_with_a_5xx(start_node: NodeFactory) -> None:
    c = await council(start_node)
    node, a = c.node, c.assembly
    m = await motion(c)
    deep = b"[" * 100_000 + b"]" * 100_000
    bodies: list[tuple[str, str, bytes]] = [
        ("POST", "/v1/admin/members", deep),
        ("POST", "/v1/admin/members", b'{"name": "A\\ud800"}'),
        ("POST", "/v1/admin/members", b'{"name": "Eve", "contact": "\\udfff"}'),
        ("POST", "/v1/admin/members", b'{"name": "e\\u0301"}'),
        ("POST", "/v1/admin/members", b'{"name": "Eve", "key": 5}'),
        ("POST", "/v1/admin/members", b'{"name": "Eve", "key": "' + b"A" * 43 + b'"}'),
        ("POST", "/v1/admin/members", b'{"name": NaN}'),
        ("POST", "/v1/admin/members", b'{"name": "Eve", "name": "Eve"}'),
        ("POST", "/v1/admin/assemblies", b'{"agenda": "x\\ud800"}'),
        ("POST", "/v1/admin/assemblies", b'{"agenda": "e\\u0301"}'),
        ("POST", "/v1/admin/assemblies", b'{"convened_by": 5}'),
        ("POST", "/v1/admin/motions", b'{"text": "\\ud800", "assembly": "current"}'),
        ("POST", "/v1/admin/motions", b'{"text": "e\\u0301", "assembly": "current"}'),
        ("POST", "/v1/admin/motions", b'{"text": "x", "seats": 1e400, "kind": "election"}'),
        (
            "POST",
            "/v1/admin/motions",
            b'{"text": "x", "seats": -1, "kind": "election", "candidates": ["Ava"]}',
        ),
        ("POST", "/v1/admin/motions", b'{"text": "x", "seats": 99999999999999999999999, "kind": "election"}'),
        ("POST", "/v1/admin/motions", b'{"text": "x", "kind": ["policy"]}'),
        ("POST", "/v1/admin/motions", b'{"text": "x", "visibility": null}'),
        ("POST", "/v1/admin/motions", b'{"text": "x", "candidates": [1, 2]}'),
        ("POST", "/v1/admin/motions", b'{"text": "x", "candidates": {"a": 1}}'),
        ("POST", "/v1/admin/motions", b'{"text": "x", "kind": "recall", "target": ["Ava"]}'),
        ("POST", "/v1/admin/motions", b'{"text": "x", "proposer": "Dara"}'),
        ("POST", "/v1/admin/motions", b'{"text": "x", "kind": "rules", "rules": {"board_seats": 1e400}}'),
        ("POST", "/v1/admin/motions", b'{"text": "x", "kind": "rules", "rules": {"board_seats": NaN}}'),
        ("POST", "/v1/admin/motions", b'{"text": "x", "kind": "rules", "rules": {"board_seats": 1e30}}'),
        ("POST", "/v1/admin/motions", b'{"text": "x", "kind": "rules", "rules": {"board_seats": [3]}}'),
        ("POST", "/v1/admin/motions", b'{"text": "x", "kind": "rules", "rules": {"majority": 5}}'),
        ("POST", "/v1/admin/motions", b'{"text": "x", "kind": "rules", "rules": {"majority": ["simple"]}}'),
        ("POST", "/v1/admin/motions", b'{"text": "x", "kind": "rules", "rules": {"quorum": "1/3"}}'),
        ("POST", "/v1/admin/motions", b'{"text": "x", "kind": "rules", "rules": {"quorum": {"count": -1}}}'),
        (
            "POST",
            "/v1/admin/motions",
            b'{"text": "x", "kind": "rules", "rules": {"quorum": {"fraction": [1, 0]}}}',
        ),
        (
            "POST",
            "/v1/admin/motions",
            b'{"text": "x", "kind": "rules", "rules": {"quorum": {"fraction": [5, 3]}}}',
        ),
        (
            "POST",
            "/v1/admin/motions",
            b'{"text": "x", "kind": "rules", "rules": {"quorum": {"count": 1e400}}}',
        ),
        ("POST", "/v1/admin/motions", b'{"text": "x", "kind": "rules", "rules": {"quorum": {}}}'),
        (
            "POST",
            "/v1/admin/motions",
            b'{"text": "x", "kind": "rules", "rules": {"quorum": {"fraction": "1"}}}',
        ),
        ("POST", "/v1/admin/motions", b'{"text": "x", "kind": "rules", "rules": {"publish_tallies": "no"}}'),
        ("POST", f"/v1/admin/motions/{m}/votes".encode().decode(), b'{"member": "Ava", "approvals": [5]}'),
        ("POST", f"/v1/admin/motions/{m}/votes", b'{"member": "Ava", "choice": null}'),
        ("POST", f"/v1/admin/motions/{m}/votes", b'{"member": "Ava", "choice": "yes", "approvals": ["Ava"]}'),
        ("POST", f"/v1/admin/motions/{m}/votes", b'{"member": ["Ava"], "choice": "yes"}'),
        ("POST", f"/v1/admin/assemblies/{a}/attend", b'{"members": [null]}'),
        ("POST", f"/v1/admin/assemblies/{a}/attend", b'{"members": ["Dara", "Dara"]}'),
        ("POST", f"/v1/admin/assemblies/{a}/depart", b'{"member": {}}'),
        ("POST", f"/v1/admin/assemblies/{a}/close", b'{"minutes": "\\ud800"}'),
        ("POST", "/v1/admin/reports", b'{"member": "Ava", "text": null}'),
        ("POST", "/v1/admin/members/leave", b'{"member": null}'),
        ("GET", "/v1/admin/decisions/%00/bundle", b""),
        ("GET", "/v1/admin/decisions/" + "A" * 5000 + "/bundle", b""),
        ("DELETE", "/v1/admin/members", b""),
        ("PUT", "/v1/admin/motions", b"{}"),
        ("GET", f"/v1/admin/motions/{m}/votes", b""),
    ]
    for method, path, body in bodies:
        before = (await log_size(node), await public_size(node))
        response = await node.operator.request(method, path, body, check=False)
        assert response.status < 500, (method, path, body[:80], response.body[:300])
        if response.status >= 400:  # refused with {error, message}, and nothing of it stored
            error_of(response.status, response.body, response.status, None)
            assert (await log_size(node), await public_size(node)) == before, (method, path, body[:80])
    public = [
        "/v1/logs/%00/checkpoint",
        "/v1/logs/" + "A" * 10_000 + "/entries",
        f"/v1/logs/{codec.b64u(node.config.node_id)}/entries?after_seq=9223372036854775807",
        f"/v1/logs/{codec.b64u(node.config.node_id)}/entries?limit=99999999999999999999",
        f"/v1/logs/{codec.b64u(node.config.node_id)}/proof/inclusion?index=9223372036854775806",
        f"/v1/logs/{codec.b64u(node.config.node_id)}/proof/consistency?first=0&second=0",
        f"/v1/logs/{codec.b64u(node.config.node_id)}/proof/consistency?first=%20",
        "/v1/decisions?limit=%F0%9F%98%80",
        "/v1/decisions/" + codec.b64u(bytes(31)) + "/bundle",
    ]
    for path in public:
        status, _, body = await fetch(node, path)
        assert status < 500, (path, body[:300])
    # the writer is still alive and the log still whole after all that
    assert (await ok(node, "POST", "/v1/admin/members", {"name": "Still here"}))["member_id"]
    log_id = codec.b64u(node.config.node_id)
    cp = await get_json(node, f"/v1/logs/{log_id}/checkpoint")
    ids = [codec.unb64u(e["id"]) for e in await all_entries(node)]
    assert open_checkpoint(
        cp["note"], PublicKey(node.config.node_id)
    ).checkpoint.root == merkle.root_from_leaves(ids)


# --- operator authentication ------------------------------------------------------------------------------


def signed_headers(
    node: RunningNode,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    key: SigningKey | None = None,
    created: int | None = None,
    recipient: bytes | None = None,
    query: str = "",
) -> dict[str, str]:
    headers = sign_request(
        key or node.config.operator_signing_key(),
        method=method,
        authority=node.url.removeprefix("http://"),
        path=path,
        query=query,
        body=body,
        recipient=recipient or node.config.node_id,
        created=int(time.time()) if created is None else created,
        nonce=encode_nonce(secrets.token_bytes(16)),
    )
    headers["Content-Type"] = "application/json"
    return headers


async def send(
    node: RunningNode, method: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, bytes]:
    async with node.session.request(method, node.url + path, data=body, headers=headers) as response:
        return response.status, await response.read()


async def test_operator_auth_attacks(start_node: NodeFactory) -> None:
    node = await start_node()
    path = "/v1/admin/members"
    body = json.dumps({"name": "Eve"}).encode()
    before = await log_size(node)

    async def attack(
        headers: dict[str, str], expected: int, code: str, *, send_path: str = path, send_body: bytes = body
    ) -> None:
        status, answer = await send(node, "POST", send_path, send_body, headers)
        error_of(status, answer, expected, code)

    # unsigned_request
    await attack({"Content-Type": "application/json"}, 401, "request-signature-input")
    # signed_by_another_key
    await attack(
        signed_headers(node, "POST", path, body, key=SigningKey.generate()), 403, "request-unknown-key"
    )
    # stale_request and future_request
    now = int(time.time())
    await attack(signed_headers(node, "POST", path, body, created=now - 200), 401, "request-created")
    await attack(signed_headers(node, "POST", path, body, created=now + 200), 401, "request-created")
    # request_for_another_node
    await attack(
        signed_headers(node, "POST", path, body, recipient=SigningKey.generate().public.raw),
        403,
        "request-recipient",
    )
    # tampered_body
    await attack(
        signed_headers(node, "POST", path, body),
        401,
        "request-content-digest",
        send_body=json.dumps({"name": "Mallory"}).encode(),
    )
    # retargeted_request: the path, or the query, changed after signing
    await attack(
        signed_headers(node, "POST", path, body), 401, "request-signature", send_path="/v1/admin/assemblies"
    )
    await attack(signed_headers(node, "POST", path, body), 401, "request-signature", send_path=path + "?x=1")
    await attack(signed_headers(node, "POST", path, body, query="x=1"), 401, "request-signature")
    assert await log_size(node) == before

    # replayed_request: the same headers twice; the first is served, the second refused
    headers = signed_headers(node, "POST", path, body)
    status, answer = await send(node, "POST", path, body, headers)
    assert status == 200, answer
    await attack(headers, 401, "request-replay")
    assert await log_size(node) == before + 1
    # a GET is no different
    headers = signed_headers(node, "GET", path)
    assert (await send(node, "GET", path, b"", headers))[0] == 200
    status, answer = await send(node, "GET", path, b"", headers)
    error_of(status, answer, 401, "request-replay")


async def test_request_created_before_the_process_started(start_node: NodeFactory) -> None:
    node = await start_node()
    path = "/v1/admin/members"
    body = json.dumps({"name": "Eve"}).encode()
    # inside the ±120 s window, but older than this process: nonces seen before a restart are forgotten
    headers = signed_headers(node, "POST", path, body, created=int(time.time()) - 30)
    status, answer = await send(node, "POST", path, body, headers)
    error_of(status, answer, 401, "request-replay")
    assert await log_size(node) == 1
    headers = signed_headers(node, "POST", path, body)
    assert (await send(node, "POST", path, body, headers))[0] == 200


# --- group commit ------------------------------------------------------------------------------------------


async def test_fifty_concurrent_joins(start_node: NodeFactory) -> None:
    node = await start_node()
    before = await log_size(node)
    joined = await asyncio.gather(
        *(ok(node, "POST", "/v1/admin/members", {"name": f"Member {i}"}) for i in range(50))
    )
    ids = {j["member_id"] for j in joined}
    assert len(ids) == 50
    assert await log_size(node) == before + 50
    record = await record_entries(node)
    origin = log_origin(record_log_id(node.config.node_id))
    signed = open_checkpoint(record["checkpoint"]["note"], PublicKey(node.config.node_id), origin)
    leaves = [codec.unb64u(e["id"]) for e in record["entries"]]
    assert signed.checkpoint.size == before + 50 == len(leaves)
    assert signed.checkpoint.root == merkle.root_from_leaves(leaves)
    listed = (await ok(node, "GET", "/v1/admin/members"))["members"]
    assert {x["member_id"] for x in listed} == ids
    assert {x["name"] for x in listed} == {f"Member {i}" for i in range(50)}


async def test_writer_survives_a_command_that_fails_unexpectedly(tmp_path: Path) -> None:
    # the HTTP layer refuses lone surrogates; behind it, one bad command must not stop every later write
    # (the rules now refuse such text as malformed, codec.check_text; the writer must survive either way)
    found = FoundCouncil(name="Toronto Council", continent="North America")
    config = init_node(tmp_path / "node", found, listen="127.0.0.1:0")
    writer = Writer(config.database, config.root_key(), config.settings)
    await writer.start()
    try:
        with pytest.raises((RuntimeError, ProtocolError, RuleError)):  # refused alone, or its batch fails
            await asyncio.wait_for(writer.submit(OpenAssembly(None, "agenda \ud800")), 10)
        (opened,) = await asyncio.wait_for(writer.submit(OpenAssembly(None, "a fine agenda")), 10)
        assert opened.seq == 1 and writer.state.open_assembly_id == opened.id
    finally:
        await writer.close()


async def test_a_rules_motion_changes_only_the_rules_it_names(start_node: NodeFactory) -> None:
    """Issue 13: a rules motion naming one rule leaves every other rule in force (seats, census bucket)."""
    c = await council(start_node)
    adopted = await decide(c, "Two seats", ("yes", "yes", "yes"), kind="rules", rules={"board_seats": 2})
    assert adopted["outcome"] == "adopted"
    adopted = await decide(c, "Census by 3", ("yes", "yes", "yes"), kind="rules", rules={"census_bucket": 3})
    assert adopted["outcome"] == "adopted"
    assert (await get_json(c.node, "/v1/board"))["seats"] == 2  # not reset to the default 3
    assert (await ok(c.node, "POST", "/v1/admin/census"))["active_members"] == 3  # 4 members, rounded down
    value = {"assembly": c.assembly, "text": "Nothing", "kind": "rules"}
    await refused(c.node, "POST", "/v1/admin/motions", {**value, "rules": {}}, 400, "bad-field")
    await refused(
        c.node, "POST", "/v1/admin/motions", {**value, "rules": {"census_bucket": 1.5}}, 400, "bad-field"
    )


async def test_an_impossible_quorum_is_refused_at_proposal(start_node: NodeFactory) -> None:
    """Issue 13: a quorum above the active members, or of all of them, would lock the council out for good."""
    c = await council(start_node)  # 4 active members
    value = {"assembly": c.assembly, "text": "Quorum", "kind": "rules"}
    for quorum in ({"count": 5}, {"count": 1000}, {"fraction": [1, 1]}, {"fraction": [3, 3]}):
        await refused(
            c.node,
            "POST",
            "/v1/admin/motions",
            {**value, "rules": {"quorum": quorum}},
            400,
            "impossible-rules",
        )
    await motion(c, "Quorum", kind="rules", rules={"quorum": {"count": 4}})
    await motion(c, "Quorum", kind="rules", rules={"quorum": {"fraction": [3, 4]}})


async def test_the_quorum_cap_is_a_rule_a_count_needs(start_node: NodeFactory) -> None:
    """Issue 13: a count without the quorum cap could be put above the active members by members leaving."""
    c = await council(start_node)
    assert (await get_json(c.node, "/v1/rules"))["rules"]["quorum_cap"] is True  # new councils: on
    value = {"assembly": c.assembly, "text": "Uncap", "kind": "rules"}
    for rules, status, code in (
        ({"quorum_cap": False, "quorum": {"count": 2}}, 400, "impossible-rules"),
        ({"quorum_cap": "no"}, 400, "bad-field"),
        ({"quorum_cap": 0}, 400, "bad-field"),
    ):
        await refused(c.node, "POST", "/v1/admin/motions", {**value, "rules": rules}, status, code)
    assert (await get_json(c.node, "/v1/rules"))["version"] == 1
    uncapped = await decide(c, "Uncap", ("yes", "yes", "yes"), kind="rules", rules={"quorum_cap": False})
    assert uncapped["rules_changed"] == {"quorum_cap": [True, False]}
    assert "quorum_cap" not in (await get_json(c.node, "/v1/rules"))["rules"]  # off: written as absent


async def test_the_rules_in_force_are_public(start_node: NodeFactory) -> None:
    c = await council(start_node)
    before = await get_json(c.node, "/v1/rules")
    assert before["version"] == 1 and before["rules"]["census_bucket"] == 1
    await decide(c, "Census by 2", ("yes", "yes", "yes"), kind="rules", rules={"census_bucket": 2})
    after = await get_json(c.node, "/v1/rules")
    assert after == {"version": 2, "rules": {**before["rules"], "census_bucket": 2}}


async def test_the_rules_history_lists_each_version_with_what_changed_and_its_decision(
    start_node: NodeFactory,
) -> None:
    """Issue 13: every version of the rules, the difference each adopted rules motion made, and the decision
    that made it — unless that decision is council-only, which the public routes do not name."""
    c = await council(start_node)
    public = await decide(c, "Census by 2", ("yes", "yes", "yes"), kind="rules", rules={"census_bucket": 2})
    assert public["rules_changed"] == {"census_bucket": [1, 2]}
    hidden = await decide(
        c, "Rules by absolute majority", ("yes", "yes", "yes"), kind="rules", visibility="council",
        rules={"rules_majority": "absolute"},
    )  # fmt: skip
    assert hidden["rules_changed"] == {"rules_majority": [None, "absolute"]}
    history = await get_json(c.node, "/v1/rules/history")
    assert history["version"] == 3
    assert [(v["version"], v["changed"], v["decision_id"]) for v in history["versions"]] == [
        (1, {}, None),
        (2, {"census_bucket": [1, 2]}, public["decision_id"]),
        (3, {"rules_majority": [None, "absolute"]}, None),
    ]
    assert history["versions"][-1]["rules"] == (await get_json(c.node, "/v1/rules"))["rules"]
    # the higher majority now decides rules motions: 1 yes of 3 present is simple, not absolute, majority
    choices = ("yes", "abstain", "abstain")
    assert (await decide(c, "Rally", choices))["outcome"] == "adopted"
    rejected = await decide(c, "Seats", choices, kind="rules", rules={"board_seats": 1})
    assert (rejected["majority"], rejected["outcome"]) == ("absolute", "rejected")


async def test_bad_or_impossible_rules_are_refused_and_nothing_is_stored(start_node: NodeFactory) -> None:
    c = await council(start_node)  # 4 active members
    value = {"assembly": c.assembly, "text": "Rules", "kind": "rules"}
    for rules, code in (
        ({"rules_majority": "most"}, "rules.bad-majority"),
        ({"majority": "unanimous"}, "rules.bad-majority"),
        ({"quorum": {"count": 5}, "rules_majority": "absolute"}, "impossible-rules"),
    ):
        status = 400 if code == "impossible-rules" else 422
        await refused(c.node, "POST", "/v1/admin/motions", {**value, "rules": rules}, status, code)
    assert (await get_json(c.node, "/v1/rules"))["version"] == 1
    assert not (await ok(c.node, "GET", "/v1/admin/assemblies"))["assemblies"][0]["motions"]
