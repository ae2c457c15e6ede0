"""Issue 11, items 5 and 6: no input reaches a 500, the logs never hold an address, frozen logs answer 409.

``test_every_route_refuses_malformed_input_without_a_5xx`` walks every route in the node's router (built
from the same ``make_app`` the node serves), so a route added later is walked too.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from federation.gossip import GossipServer
from federation.gossip.wire import PREFIX
from node.http.app import make_app
from protocol import codec
from protocol.entry import sign_entry
from protocol.keys import SigningKey
from tests.conftest import NodeFactory, RunningNode
from tests.federation.doubles import MemoryReplica

NUMERIC = ("after_seq", "limit", "first", "index", "size", "second", "since_ms", "until_ms", "offset")
BAD_NUMBERS = ("9223372036854775808", "-9223372036854775809", "-1", "x", "1e3", "%00", "")
BAD_SEGMENTS = ("%00", "A" * 5000, codec.b64u(bytes(32)), "current", "..")
BAD_BODIES = (b"", b"{", b"[]", b"null", b'{"a": 1}', b"\xc1\x00", b'{"quorum": {"a": 1}}', b"9" * 5000)


def _paths(node: RunningNode) -> list[tuple[str, str]]:
    """(method, path template) of every route the node's app serves."""
    app = make_app(node.config)
    found = []
    for route in app.router.routes():
        canonical = route.resource.canonical if route.resource is not None else ""
        found.append((route.method, canonical))
    return found


async def _send(node: RunningNode, method: str, path: str, body: bytes) -> int:
    if path.startswith("/v1/admin/"):
        response = await node.operator.request(method if method != "*" else "POST", path, body, check=False)
        return response.status
    async with node.session.request(method if method != "*" else "POST", node.url + path, data=body) as r:
        await r.read()
        return r.status


@pytest.mark.parametrize("kind", ["council", "federation"])
async def test_every_route_refuses_malformed_input_without_a_5xx(start_node: NodeFactory, kind: str) -> None:
    # every refusal answered at once: the hold on unsigned gossip requests is tested in test_flood.py
    node = await start_node("Walked", kind=kind, settings={"refused_hold_s": 0})
    routes = _paths(node)
    assert len(routes) > 20
    failures: list[Any] = []
    sent = 0
    for method, template in routes:
        if method == "HEAD":
            continue
        for segment in BAD_SEGMENTS:
            path = template
            while "{" in path:
                start, end = path.index("{"), path.index("}")
                path = (
                    path[:start]
                    + (segment if "tail" not in path[start:end] else "logs/x/entries")
                    + path[end + 1 :]
                )
            queries = [""] + ["?" + "&".join(f"{n}={v}" for n in NUMERIC) for v in BAD_NUMBERS]
            for query in queries:
                for body in BAD_BODIES if method in ("POST", "*") else (b"",):
                    status = await _send(node, method, path + query, body)
                    sent += 1
                    if status >= 500:
                        failures.append((status, method, path[:80] + query, body[:40]))
    assert not failures, failures[:10]
    assert sent > 500


@pytest.mark.parametrize("attack", ["quorum_with_unknown_key"], ids=lambda a: a)
async def test_a_quorum_of_unknown_shape_is_422(start_node: NodeFactory, attack: str) -> None:
    node = await start_node()
    await node.operator.call("POST", "/v1/admin/assemblies", {"agenda": "Rules"})
    body = b'{"text": "x", "kind": "rules", "rules": {"quorum": {"a": 1}}}'
    response = await node.operator.request("POST", "/v1/admin/motions", body, check=False)
    assert (response.status, response.json()["error"]) == (422, "entry.malformed")


@pytest.mark.parametrize("attack", ["after_seq_overflow"], ids=lambda a: a)
async def test_gossip_entries_with_an_overflowing_seq_is_400(attack: str) -> None:
    key, peer = SigningKey.generate(), SigningKey.generate().public.raw
    replica = MemoryReplica(key.public.raw)
    replica.append(
        key.public.raw,
        [
            sign_entry(
                key,
                log_id=key.public.raw,
                seq=0,
                prev=None,
                ts_ms=1_000,
                vis="public",
                body={"kind": "note", "text": "x"},
            )
        ],
    )
    penalties: list[str] = []
    server = GossipServer(replica, lambda fn: fn(), lambda k: True, penalise=lambda s, r: penalties.append(r))  # type: ignore[arg-type,return-value]
    log = codec.b64u(key.public.raw)
    for query in (
        "after_seq=9223372036854775808&limit=1&first=0",
        "after_seq=-1&limit=9223372036854775808&first=0",
    ):
        reply = await server.handle(peer, "GET", f"{PREFIX}/logs/{log}/entries?{query}", b"")
        assert reply.status == 400, query
    assert len(penalties) == 2


BAD_REQUESTS = [
    b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # a request line over 8190 bytes
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",  # a header over 8190 bytes
    b"G\x00T / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,  # TLS to a plain port
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
]


async def test_bad_requests_log_no_address_and_no_traceback(
    start_node: NodeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    node = await start_node()
    host, port = node.url.removeprefix("http://").split(":")
    caplog.set_level(logging.DEBUG)
    for raw in BAD_REQUESTS:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(raw)
        await writer.drain()
        answer = await reader.read()
        assert answer == b"" or answer.split(b" ")[1].startswith(b"4"), answer[:100]
        writer.close()
    await (await node.get("/v1/node")).read()  # and one good request, through the access log
    records = caplog.records
    assert records, "nothing was logged at all"
    for record in records:
        text = record.getMessage() + (str(record.exc_info) if record.exc_info else "")
        assert host not in text and "aaaaaaaa" not in text and "bbbbbbbb" not in text, text[:300]
        if record.name.startswith(("shora.http", "aiohttp")):
            assert record.exc_info is None, text[:300]
