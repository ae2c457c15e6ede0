"""The privacy canary (DESIGN.md §6): names, phones and e-mail addresses never leave the node.

Members with canary names and contacts join through the operator API and take part in a whole assembly —
named by name in every request that allows it, so names cross the API as often as they can. Then every
stored entry's header and body (of the record and of the public log), every byte of every public
endpoint, and every line the ``shora serve`` process wrote (INFO level, access log included) is searched
for each canary: as text (any case, JSON \\u-escapes too), as UTF-8 bytes, and in base64 and base64url
at every byte alignment. Zero hits.
"""

from __future__ import annotations

import base64
import hashlib
import json
import signal
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from federation.client import RemoteError, SignedClient
from node import config as cfg
from node.bootstrap import init_node
from node.rules.council import FoundCouncil
from protocol import codec
from protocol.bundle import verify_bundle
from protocol.entry import Entry
from protocol.keys import PublicKey
from protocol.record import RecordEntry, record_log_id
from tests.node.served import start_served

PEOPLE = [  # name, contact
    ("Canary Parisa Zand-7731", "+98 912 555 0147, canary.parisa.7731@example.org"),
    ("پریسا زند کناری", "+98 912 555 0148"),
    ("Canary Babak Rahimi-8842", "canary.babak.8842@example.org"),
    ("بابک رحیمی کناری", "+1 416 555 0199 / babak.fa.8842@example.net"),
    ("Canary Shirin Navabi-5519", "shirin.5519@example.com"),
    ("شیرین نوابی کناری", "+98 21 5550 6612"),
]
UNKNOWN = "Canary Nobody Farahani-4406"  # named in refused requests only
# distinctive pieces too, so a name logged in part (or reformatted) is still caught
FRAGMENTS = [
    "Parisa",
    "Zand-7731",
    "Rahimi-8842",
    "Navabi-5519",
    "Farahani-4406",
    "پریسا",
    "بابک رحیمی",
    "شیرین",
    "کناری",
    "912 555",
    "555 0147",
    "5550147",
    "416 555 0199",
    "5550 6612",
    "canary.parisa",
    "babak.8842",
    "babak.fa",
    "shirin.5519",
    "example.org",
    "example.net",
    "example.com",
]
MINUTES = "The assembly elected a board member, adopted one policy and then recalled the mandate."


def canaries() -> list[str]:
    return [text for person in PEOPLE for text in person] + [UNKNOWN, *FRAGMENTS]


def _b64_cores(data: bytes) -> list[bytes]:
    """Base64 of ``data`` wherever it starts in a larger byte string: the characters ``data`` alone fixes."""
    cores = []
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * shift + data).rstrip(b"=")
            head = (shift * 8 + 5) // 6  # characters that also carry bits of the bytes before
            tail = 0 if (shift + len(data)) % 3 == 0 else 1  # the last character may carry bits after
            core = text[head : len(text) - tail]
            if len(core) >= 8:
                cores.append(core)
    return cores


def needles() -> tuple[dict[bytes, str], dict[bytes, str]]:
    """Every form a canary could take in bytes, mapped to the canary for the report: forms to find ignoring
    case (UTF-8, JSON \\u-escapes), and base64 forms to find exactly."""
    text: dict[bytes, str] = {}
    encoded: dict[bytes, str] = {}
    for canary in canaries():
        raw = canary.encode()
        text[raw.lower()] = canary
        text[json.dumps(canary)[1:-1].encode().lower()] = canary
        for core in _b64_cores(raw):
            encoded[core] = canary
    return text, encoded


def hits(haystacks: dict[str, bytes]) -> list[str]:
    text, encoded = needles()
    out = []
    for where, data in haystacks.items():
        lowered = data.lower()
        out += [f"{canary!r} in {where}" for needle, canary in text.items() if needle in lowered]
        out += [f"{canary!r} (base64) in {where}" for needle, canary in encoded.items() if needle in data]
    return out


async def run_assembly(op: SignedClient) -> dict[str, Any]:
    """A whole assembly with the canary members, naming them by name; returns ids for the checks."""
    names = [name for name, _ in PEOPLE]
    members = {}
    for name, contact in PEOPLE:
        members[name] = (await op.call("POST", "/v1/admin/members", {"name": name, "contact": contact}))[
            "member_id"
        ]
    listed = await op.call("GET", "/v1/admin/members")  # the operator may read the directory
    assert {m["name"] for m in listed["members"]} == set(names)
    assembly = (await op.call("POST", "/v1/admin/assemblies", {"agenda": "Spring general assembly"}))[
        "assembly_id"
    ]
    await op.call("POST", f"/v1/admin/assemblies/{assembly}/attend", {"members": names[:5]})

    async def vote(motion: str, member: str, **cast: Any) -> None:
        await op.call("POST", f"/v1/admin/motions/{motion}/votes", {"member": member, **cast})

    async def close(motion: str) -> dict[str, Any]:
        return dict(await op.call("POST", f"/v1/admin/motions/{motion}/close"))

    a, b = names[0], names[1]
    for candidate in (a, b):  # each consents to stand (issue 13)
        await op.call("POST", f"/v1/admin/assemblies/{assembly}/consent", {"member": candidate})
    election = (
        await op.call(
            "POST",
            "/v1/admin/motions",
            {
                "assembly": assembly,
                "kind": "election",
                "text": "Elect the board",
                "seats": 1,
                "candidates": [a, b],
            },
        )
    )["motion_id"]
    for voter, approvals in zip(names[:5], ([a], [a], [b], [a], []), strict=True):
        await vote(election, voter, approvals=approvals)
    elected = await close(election)
    assert elected["outcome"] == "adopted" and [e["member"] for e in elected["elected"]] == [members[a]]
    await op.call("POST", "/v1/admin/reports", {"member": a, "text": "The board met twice."})

    policy = (
        await op.call("POST", "/v1/admin/motions", {"assembly": assembly, "text": "Open a community kitchen"})
    )["motion_id"]
    for voter, choice in zip(names[:5], ("yes", "no", "yes", "abstain", "yes"), strict=True):
        await vote(policy, voter, choice=choice)
    assert (await close(policy))["outcome"] == "adopted"

    private = (
        await op.call(
            "POST",
            "/v1/admin/motions",
            {"assembly": assembly, "text": "Rent the back room", "visibility": "council"},
        )
    )["motion_id"]
    for voter, choice in zip(names[:3], ("yes", "no", "no"), strict=True):
        await vote(private, voter, choice=choice)
    council_decision = (await close(private))["decision_id"]

    # refusals naming canaries: their messages go to the operator, never to a log, and nothing is stored
    async def stored() -> tuple[int, int, int]:
        # this node's own logs only: replicas of peers' logs grow by gossip while a refusal is tried
        status = await op.call("GET", "/v1/admin/status")
        directory = (await op.call("GET", "/v1/admin/members"))["members"]
        return int(status["log"]["size"]), int(status["record"]["size"]), len(directory)

    for refused, status, code in (
        (vote(policy, names[5], choice="yes"), 422, "motion.closed"),  # not on the roll, and decided
        (vote(private, UNKNOWN, choice="yes"), 404, "unknown-member"),  # nobody by that name
        # a contact too long
        (op.call("POST", "/v1/admin/members", {"name": UNKNOWN, "contact": "x" * 600}), 400, "bad-field"),
    ):
        before = await stored()
        with pytest.raises(RemoteError) as caught:
            await refused
        assert (caught.value.status, caught.value.code) == (status, code), caught.value
        assert await stored() == before

    recall = (
        await op.call(
            "POST",
            "/v1/admin/motions",
            {"assembly": assembly, "kind": "recall", "text": "Recall the board member", "target": a},
        )
    )["motion_id"]
    for voter, choice in zip(names[:5], ("yes", "yes", "yes", "no", "yes"), strict=True):
        await vote(recall, voter, choice=choice)
    assert (await close(recall))["outcome"] == "adopted"
    await op.call("POST", f"/v1/admin/assemblies/{assembly}/depart", {"member": names[4]})
    await op.call("POST", f"/v1/admin/assemblies/{assembly}/close", {"minutes": MINUTES})
    await op.call("POST", "/v1/admin/members/leave", {"member": names[5]})
    return {
        "members": members,
        "voters": [members[n] for n in names[:5]],
        "candidates": [members[a], members[b]],
        "motions": [election, policy, private, recall],
        "council_decision": council_decision,
    }


async def fetch_public(session: aiohttp.ClientSession, url: str, log_id: str) -> dict[str, bytes]:
    """Every public endpoint, every page and proof, in JSON and msgpack: path -> response body."""
    seen: dict[str, bytes] = {}

    async def get(path: str, accept: str = "application/json") -> bytes:
        async with session.get(url + path, headers={"Accept": accept}) as response:
            body = await response.read()
            assert response.status < 500, (path, body)
            seen[f"{path} [{accept}]"] = body
            return body

    for accept in ("application/json", "application/msgpack"):
        for path in ("/v1/node", "/v1/logs", f"/v1/logs/{log_id}/checkpoint", "/v1/decisions", "/v1/board"):
            await get(path, accept)
    await get(f"/v1/logs/{log_id}/checkpoint", "text/plain")
    size = json.loads(await get(f"/v1/logs/{log_id}/checkpoint"))["size"]
    for after in range(-1, size, 3):
        await get(f"/v1/logs/{log_id}/entries?after_seq={after}&limit=3")
        await get(f"/v1/logs/{log_id}/entries?after_seq={after}&limit=3", "application/msgpack")
    await get(f"/v1/logs/{log_id}/entries")
    for index in range(size):
        await get(f"/v1/logs/{log_id}/proof/inclusion?index={index}&size={size}")
    for first in range(size + 1):
        await get(f"/v1/logs/{log_id}/proof/consistency?first={first}&second={size}")
    for decision in json.loads(await get("/v1/decisions"))["decisions"]:
        await get(f"/v1/decisions/{decision['decision_id']}/bundle", "application/msgpack")
    return seen


def stored_entries(database: Path, log_id: bytes) -> list[tuple[bytes, bytes, bytes | None, str]]:
    """The entries of one of the node's logs, as stored."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT header, signature, body, vis FROM entries WHERE log_id = ? ORDER BY seq", (log_id,)
        ).fetchall()
    finally:
        conn.close()
    return [(bytes(h), bytes(s), None if b is None else bytes(b), v) for h, s, b, v in rows]


async def test_canary_names_phones_and_emails_never_leave_the_node(tmp_path: Path) -> None:
    folder = tmp_path / "node"
    init_node(
        folder,
        FoundCouncil(
            name="Isfahan Council", name_fa="شورای اصفهان", city="Isfahan", country="IR", continent="Asia"
        ),
        listen="127.0.0.1:0",
    )
    config = cfg.load(folder)
    log_id = codec.b64u(config.node_id)
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as output:
        process, url = await start_served(folder, output)
        try:
            async with aiohttp.ClientSession() as session:
                op = SignedClient(session, url, config.operator_signing_key(), config.node_id)
                ids = await run_assembly(op)
                public = await fetch_public(session, url, log_id)
                private_bundle = await session.get(f"{url}/v1/decisions/{ids['council_decision']}/bundle")
                assert private_bundle.status == 404  # a council decision is not even said to exist
                public["council bundle"] = await private_bundle.read()
        finally:
            process.send_signal(signal.SIGTERM)  # a clean stop flushes every log line
            assert process.wait(timeout=20) == 0
    logged = log_path.read_bytes()
    assert b"GET /v1/decisions" in logged and b"POST /v1/admin/members" in logged, "the access log is on"

    rows = stored_entries(config.database, config.node_id)  # the public log
    record = stored_entries(config.database, record_log_id(config.node_id))
    haystacks: dict[str, bytes] = {}
    for name, held in (("public", rows), ("record", record)):
        for seq, (header, _, body, _) in enumerate(held):
            haystacks[f"{name} entry {seq} header"] = header
            if body is not None:
                haystacks[f"{name} entry {seq} body"] = body
    haystacks |= {f"GET {path}": body for path, body in public.items()}
    haystacks["serve log"] = logged
    assert hits(haystacks) == []

    check_council_entries_stay_home(rows, record, public, log_id)
    check_votes_cannot_be_reconstructed(record, public, ids)
    for path, body in public.items():
        if path.startswith("/v1/decisions/") and path.endswith("/bundle [application/msgpack]"):
            verify_bundle(body, PublicKey(config.node_id))  # what is public still verifies


def check_council_entries_stay_home(
    rows: list[tuple[bytes, bytes, bytes | None, str]],
    record: list[tuple[bytes, bytes, bytes | None, str]],
    public: dict[str, bytes],
    log_id: str,
) -> None:
    """The public log is served whole, each entry with its body, and nothing of the record is: no council
    entry's header, body or position, not even the record's id."""
    served: dict[int, dict[str, Any]] = {}
    for path, data in public.items():
        if "/entries" in path:
            page = codec.decode(data) if "msgpack" in path else json.loads(data)
            assert page["log_id"] in (log_id, codec.unb64u(log_id))
            for item in page["entries"]:
                served[item["seq"]] = item
    assert sorted(served) == list(range(len(rows)))
    for seq, (header, _, body, vis) in enumerate(rows):
        item = served[seq]
        raw = item["header"] if isinstance(item["header"], bytes) else codec.unb64u(item["header"])
        served_body = item["body"] if isinstance(item["body"], bytes) else codec.unb64u(item["body"])
        assert raw == header and served_body == body and vis == "public"
    kinds = {(RecordEntry(h, s, b).body()["kind"], vis) for h, s, b, vis in record}
    assert {
        ("member/join", "council"),
        ("motion/vote", "council"),
        ("assembly/attend", "council"),
        ("assembly/minutes", "council"),
        ("member/leave", "council"),
    } <= kinds
    everything = b"\n".join(public.values())
    record_id = codec.unb64u(log_id, 32)
    for form in (record_log_id(record_id), codec.b64u(record_log_id(record_id)).encode()):
        assert form not in everything, "the record's id is in a public response"
    for header, signature, _, vis in record:
        if vis == "council":
            assert header not in everything and signature not in everything
            assert codec.b64u(header).encode()[:40] not in everything
    for path, body in public.items():
        if path.startswith("/v1/decisions ["):
            listed = codec.decode(body) if "msgpack" in path else json.loads(body)
            assert all(d["vis"] == "public" for d in listed["decisions"])


def check_votes_cannot_be_reconstructed(
    rows: list[tuple[bytes, bytes, bytes | None, str]], public: dict[str, bytes], ids: dict[str, Any]
) -> None:
    """No public byte ties a voter to a vote: voters who were never candidates or targets never appear,
    and a vote's salted body hash cannot be matched by trying every (motion, member, choice)."""
    named = set(ids["candidates"])  # candidates (and the recall's target) are named in public motions
    quiet = [m for m in ids["voters"] if m not in named]
    assert quiet
    everything = b"\n".join(public.values())
    for member in quiet:
        raw = codec.unb64u(member, 16)
        for form in (raw, member.encode(), base64.b64encode(raw).rstrip(b"=")):
            assert form not in everything, "a voter's id is in a public response"
    members = [codec.unb64u(m, 16) for m in ids["members"].values()]
    motions = [codec.unb64u(m, 32) for m in ids["motions"]]
    guesses = set()
    for motion in motions:
        for member in members:
            for choice in ("yes", "no", "abstain"):
                body: dict[str, Any] = {
                    "kind": "motion/vote",
                    "motion": motion,
                    "member": member,
                    "choice": choice,
                    "approvals": [],
                    "ballot": None,
                }
                guesses.add(hashlib.sha256(codec.encode(body)).digest())
            for approvals in ([], *([m] for m in members)):
                body = {
                    "kind": "motion/vote",
                    "motion": motion,
                    "member": member,
                    "choice": None,
                    "approvals": approvals,
                    "ballot": None,
                }
                guesses.add(hashlib.sha256(codec.encode(body)).digest())
    votes = [Entry(h, s) for h, s, _, vis in rows if vis == "council"]
    assert votes and not any(v.header.body_hash in guesses for v in votes), "a vote's body hash was guessed"


def test_the_search_finds_a_canary_in_every_form() -> None:
    for name, contact in PEOPLE:
        for shift in range(3):
            data = b"x" * shift + f"note: {name} / {contact} end".encode() + b"y" * shift
            for form in (
                data,
                base64.b64encode(data),
                base64.urlsafe_b64encode(data).rstrip(b"="),
                json.dumps(data.decode()).encode(),
                data.upper(),
            ):
                assert hits({"sample": form}), (name, shift, form)
    assert hits({"clean": b"Isfahan Council, member 3, agenda: Spring general assembly"}) == []
