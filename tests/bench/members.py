"""Benchmark: an online assembly's ballots, each member with their own key over HTTP (issue 12).

Run as ``python tests/bench/members.py``; prints one JSON line on stdout (progress goes to stderr).

``MEMBERS`` members, each holding their own Ed25519 key (invited, redeemed and checked in beforehand), send
their signed ballots on one motion at once: each ballot is a member-signed statement inside an RFC 9421
request signed by the same key, verified twice at the node (request and statement), judged, recorded with
the member's signature and answered once its entry is durable. Reported: p50 and p99 of ballot sent →
durable acknowledgement, the time the whole assembly took (``all_within_s``: the issue asks for within a
second), and the sustained ballots per second against one durable single-row SQLite commit per op (WAL,
synchronous=FULL) measured in the same run, interleaved. Medians over ``REPS`` motions.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402  (after the path fix above)

from federation.client import SignedClient  # noqa: E402
from node.storage.invitations import Token  # noqa: E402
from protocol import codec  # noqa: E402
from protocol.keys import SigningKey  # noqa: E402
from protocol.member import Statement, sign_statement  # noqa: E402
from tests.bench.node import NodeProcess, durable_commits_per_s, median, say  # noqa: E402

MEMBERS = 50
REPS = 5
RAW_COMMITS = 200


def body(key: SigningKey, act: str, council: bytes, **fields: object) -> bytes:
    statement = Statement(act, council, fields)
    signed = {"statement": codec.b64u(statement.encode()), "sig": codec.b64u(sign_statement(key, statement))}
    return json.dumps(signed).encode()


async def setup(
    node: NodeProcess, session: aiohttp.ClientSession
) -> tuple[list[tuple[SigningKey, bytes]], bytes]:
    op = node.client(session)
    log = await op.call("GET", "/v1/admin/record/log?limit=1")
    council = codec.unb64u(log["entries"][0]["id"], 32)
    charter = codec.unb64u((await op.call("GET", "/v1/node"))["charter_hash"], 32)
    members = []
    for i in range(MEMBERS):
        token = Token.parse(
            (await op.call("POST", "/v1/admin/invitations", {"name": f"member {i}"}))["invitation"]
        )
        key = SigningKey.generate()
        fields = {"member": token.member, "charter_hash": charter, "key": key.public.raw}
        statement = Statement("join", council, fields)
        redeem = {
            "invitation": token.text(),
            "statement": codec.b64u(statement.encode()),
            "sig": codec.b64u(sign_statement(key, statement)),
        }
        await client(node, session, key).request("POST", "/v1/member/redeem", json.dumps(redeem).encode())
        members.append((key, token.member))
    assembly = codec.unb64u(
        (await op.call("POST", "/v1/admin/assemblies", {"agenda": "bench"}))["assembly_id"], 32
    )
    for key, member in members:
        checkin = body(key, "checkin", council, assembly=assembly, member=member)
        await client(node, session, key).request("POST", "/v1/member/checkin", checkin)
    return members, council


def client(node: NodeProcess, session: aiohttp.ClientSession, key: SigningKey) -> SignedClient:
    return SignedClient(session, node.url, key, node.config.node_id)


async def one_round(
    node: NodeProcess, session: aiohttp.ClientSession, members: list[tuple[SigningKey, bytes]], council: bytes
) -> tuple[list[float], float]:
    op = node.client(session)
    motion_id = (await op.call("POST", "/v1/admin/motions", {"text": "bench motion"}))["motion_id"]
    motion = codec.unb64u(motion_id, 32)
    me = await client(node, session, members[0][0]).call("GET", "/v1/member/me")
    assembly = codec.unb64u(me["open_assembly"], 32)
    ballots = [
        (
            key,
            body(
                key, "ballot", council, assembly=assembly, motion=motion, member=m, choice="yes", approvals=[]
            ),
        )
        for key, m in members
    ]
    path = f"/v1/member/motions/{motion_id}/ballot"

    async def cast(key: SigningKey, payload: bytes) -> float:
        start = time.perf_counter()
        response = await client(node, session, key).request("POST", path, payload)
        assert response.status == 200
        return time.perf_counter() - start

    start = time.perf_counter()
    latencies = await asyncio.gather(*(cast(key, payload) for key, payload in ballots))
    elapsed = time.perf_counter() - start
    closed = await op.call("POST", f"/v1/admin/motions/{motion_id}/close")
    assert closed["ballots_signed"] == MEMBERS, closed
    return list(latencies), elapsed


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        node = NodeProcess(folder / "node")
        try:
            connector = aiohttp.TCPConnector(limit=MEMBERS)
            async with aiohttp.ClientSession(connector=connector) as session:
                say(f"setting up {MEMBERS} members with their own keys")
                members, council = await setup(node, session)
                p50, p99, totals, rates, raw = [], [], [], [], []
                for rep in range(REPS):
                    latencies, elapsed = await one_round(node, session, members, council)
                    p50.append(percentile(latencies, 0.5))
                    p99.append(percentile(latencies, 0.99))
                    totals.append(elapsed)
                    rates.append(MEMBERS / elapsed)
                    raw.append(durable_commits_per_s(folder, RAW_COMMITS))
                    say(f"rep {rep}: {MEMBERS} ballots in {elapsed * 1000:.0f} ms")
        finally:
            node.stop()
    ratio = median(rates) / median(raw)
    print(
        json.dumps(
            {
                "bench": "members.signed_ballots_http",
                "members": MEMBERS,
                "p50_ms": round(median(p50) * 1000, 1),
                "p99_ms": round(median(p99) * 1000, 1),
                "all_within_s": round(median(totals), 3),
                "within_one_second": median(totals) < 1.0,
                "ballots_per_s": round(median(rates), 1),
                "sqlite_durable_commits_per_s": round(median(raw), 1),
                "ratio": round(ratio, 3),
                "reps": REPS,
            },
            separators=(",", ":"),
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
