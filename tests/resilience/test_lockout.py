"""Issue 11, items 1 and 2: nobody without a key locks a node out, and no replay slips past the window's edge.

Each test reproduces an attack first (its id in ``ids=`` or the test's name), against a verifier served on
loopback with an injectable clock: no sleeping.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from federation.auth import NonceStore, RequestVerifier, status_of
from federation.quota import TokenBuckets
from node.http.gate import ConnectionGate
from protocol import codec
from protocol.errors import VerificationError
from protocol.httpsig import encode_nonce, sign_request
from protocol.keys import SigningKey
from tests.conftest import NodeFactory

NODE = SigningKey.generate()
PEER, OTHER = SigningKey.generate(), SigningKey.generate()
START = 1_800_000_000


@dataclass
class Served:
    verifier: RequestVerifier
    clock: list[float]
    url: str
    session: aiohttp.ClientSession
    reads: list[int]  # bodies read by the handler: one per request that got past verification

    async def post(self, key: SigningKey, body: bytes = b"{}", created: int | None = None) -> tuple[int, str]:
        return await self.send(self.sign(key, body, created), body)

    def sign(self, key: SigningKey, body: bytes = b"{}", created: int | None = None) -> dict[str, str]:
        return sign_request(
            key,
            method="POST",
            authority=self.url.removeprefix("http://"),
            path="/x",
            query="",
            body=body,
            recipient=NODE.public.raw,
            created=int(self.clock[0]) if created is None else created,
            nonce=encode_nonce(secrets.token_bytes(16)),
        )

    async def send(self, headers: dict[str, str], body: bytes = b"{}") -> tuple[int, str]:
        async with self.session.post(self.url + "/x", data=body, headers=headers) as response:
            return response.status, await response.text()


@pytest.fixture
async def served() -> AsyncIterator[Callable[..., Served]]:
    servers: list[TestServer] = []
    session = aiohttp.ClientSession()

    async def start(per_key: int = 100, total: int = 1000, quota: TokenBuckets | None = None) -> Served:
        clock = [float(START)]
        verifier = RequestVerifier(NODE.public.raw, 120, per_key, total, clock=lambda: clock[0])
        known = {k.public.raw: k.public for k in (PEER, OTHER)}
        reads: list[int] = []

        async def handler(request: web.Request) -> web.Response:
            try:
                await verifier.verify(request, known.get, quota)
            except VerificationError as exc:
                return web.Response(status=status_of(exc), text=exc.step)
            reads.append(len(await request.read()))
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/x", handler)
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        servers.append(server)
        return Served(verifier, clock, str(server.make_url("")).rstrip("/"), session, reads)

    yield start  # type: ignore[misc]
    for server in servers:
        await server.close()
    await session.close()


async def test_replay_at_the_windows_edge_is_refused(served: Callable[..., Served]) -> None:
    s = await served()  # type: ignore[misc]
    headers = s.sign(PEER, created=START + 120)  # created 120 s ahead: still inside ±120 s
    assert await s.send(headers) == (200, "ok")
    for later in (240.0, 240.4, 240.999):  # created is now 120 s in the past: acceptable, so remembered
        s.clock[0] = START + later
        assert await s.send(headers) == (401, "replay"), later
    s.clock[0] = START + 241  # 121 s in the past: out of the window, refused for that
    assert await s.send(headers) == (401, "created")
    assert s.reads == [2]


def test_a_nonce_is_remembered_exactly_as_long_as_it_can_be_accepted() -> None:
    store = NonceStore(window_s=120, per_key=10, total=10)
    for created in (START - 120, START, START + 120):
        assert store.check(b"k", f"n{created}", created, START)
        for now in range(created - 120, created + 121):  # every second |created - now| <= 120
            assert not store.check(b"k", f"n{created}", created, now)
    store.check(b"k", "late", START + 300, START + 300)  # expires the others
    assert len(store) == 1


@pytest.mark.parametrize("attack", ["peer_flood_fills_the_nonce_store"], ids=lambda a: a)
async def test_a_flood_is_refused_by_the_quota_before_any_nonce_is_recorded(
    served: Callable[..., Served], attack: str
) -> None:
    quota = TokenBuckets(rate=1e-9, burst=3, clock=lambda: 0.0)
    s = await served(quota=quota)  # type: ignore[misc]
    forged = s.sign(PEER) | {"Signature": "shora=:" + "A" * 86 + "==:"}
    for _ in range(5):  # a forger naming the peer's key spends none of its quota
        assert (await s.send(forged))[0] == 401
    answers = [await s.post(PEER) for _ in range(10)]
    assert answers == [(200, "ok")] * 3 + [(429, "quota")] * 7
    assert len(s.verifier.nonces) == 3, "a refused request left a nonce behind"
    assert await s.post(OTHER) == (200, "ok"), "another key still gets through"


@pytest.mark.parametrize("attack", ["one_key_fills_every_keys_nonces"], ids=lambda a: a)
async def test_nonces_are_kept_per_key(served: Callable[..., Served], attack: str) -> None:
    s = await served(per_key=3, total=100)  # type: ignore[misc]
    assert [await s.post(PEER) for _ in range(4)] == [(200, "ok")] * 3 + [(429, "busy")]
    assert await s.post(OTHER) == (200, "ok")
    s.clock[0] = START + 121  # the peer's nonces expire with their window: it is served again
    assert await s.post(PEER) == (200, "ok")


async def test_an_unknown_key_is_refused_before_its_body_is_read(served: Callable[..., Served]) -> None:
    s = await served()  # type: ignore[misc]
    stranger = SigningKey.generate()
    assert await s.post(stranger, b"x" * 500_000) == (403, "unknown-key")
    assert await s.post(PEER, b"{}", created=START - 500) == (401, "created")
    assert s.reads == [] and len(s.verifier.nonces) == 0


def test_connection_gate_caps_in_total_and_per_address() -> None:
    gate = ConnectionGate(total=3, per_address=2)
    a, b, c = (gate.address_key(ip) for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.3"))
    assert gate.enter(a) and gate.enter(a) and not gate.enter(a), "per address"
    assert gate.enter(b) and not gate.enter(c), "in total"
    gate.leave(a)
    assert gate.enter(c)
    assert gate.refused == 2
    assert b"192.0.2" not in a and len(a) == 16, "addresses are not kept readable"
    assert ConnectionGate(1, 1).address_key("192.0.2.1") != a, "the key dies with the process"


APPLY = "/v1/federation/apply"
PROFILE = {
    "kind": "council",
    "name": "Junk",
    "name_fa": "",
    "city": "X",
    "country": "CA",
    "continent": "North America",
    "url": "https://junk.example",
}


async def apply(node, key: SigningKey) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    body = codec.encode(PROFILE)
    headers = sign_request(
        key,
        method="POST",
        authority=node.url.removeprefix("http://"),
        path=APPLY,
        query="",
        body=body,
        recipient=node.config.node_id,
        created=int(time.time()),
        nonce=encode_nonce(secrets.token_bytes(16)),
    )
    headers["Content-Type"] = "application/msgpack"
    async with node.session.post(node.url + APPLY, data=body, headers=headers) as response:
        answer = await response.read()
        code = (
            ""
            if response.status == 200
            else codec.decode(answer)["error"]
            if response.content_type.endswith("msgpack")
            else json.loads(answer)["error"]
        )
        return response.status, code


@pytest.mark.parametrize("attack", ["junk_applications_fill_the_shared_nonce_store"], ids=lambda a: a)
async def test_applications_never_crowd_out_the_operator(start_node: NodeFactory, attack: str) -> None:
    settings = {
        "nonce_capacity": 5,
        "nonce_per_key": 5,
        "application_nonces": 8,
        "applications_pending_max": 4,
        "applications_per_ip_burst": 1000.0,
    }
    fed = await start_node("Canada", kind="federation", settings=settings)
    answers = [await apply(fed, SigningKey.generate()) for _ in range(12)]
    assert answers[:4] == [(200, "")] * 4
    assert set(answers[4:8]) == {(503, "applications-full")}, "storage is capped"
    assert set(answers[8:]) == {(429, "request-busy")}, "the applicants' own nonce store is full"
    stored = await fed.operator.call("GET", "/v1/admin/applications")
    assert len(stored["applications"]) == 4
    for _ in range(3):  # the operator is served all along, from a store of its own
        assert (await fed.operator.call("GET", "/v1/admin/applications"))["applications"]


async def test_junk_applications_are_rate_limited_per_address(start_node: NodeFactory) -> None:
    fed = await start_node(
        "Canada", kind="federation", settings={"applications_per_ip_burst": 3.0, "applications_rate": 1e-6}
    )
    answers = [await apply(fed, SigningKey.generate()) for _ in range(5)]
    assert answers == [(200, "")] * 3 + [(429, "quota")] * 2
    assert (await fed.operator.call("GET", "/v1/admin/applications"))["applications"]


async def test_connections_over_the_cap_are_closed_unanswered(start_node: NodeFactory) -> None:
    node = await start_node(settings={"max_connections": 4, "max_connections_per_ip": 4})
    host, port = node.url.removeprefix("http://").split(":")
    held = [await asyncio.open_connection(host, int(port)) for _ in range(4)]
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /v1/node HTTP/1.1\r\nHost: x\r\n\r\n")
    assert await reader.read() == b"", "the fifth connection is closed before it is read"
    writer.close()
    for _, w in held:
        w.close()
        await w.wait_closed()
    for _ in range(200):  # the gate counts them out as they close
        async with aiohttp.ClientSession() as fresh:
            try:
                async with fresh.get(node.url + "/v1/node") as response:
                    assert response.status == 200
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.01)
    raise AssertionError("the node never took a connection again")
