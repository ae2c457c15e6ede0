"""A client that sends its body a byte at a time cannot hold the node: 408 after handler_timeout_s.

Only a request signed by a known key gets as far as its body (issue 11): an unsigned one is refused 401
before the node reads a byte of it.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit


async def test_slow_body_gets_408_and_the_node_keeps_serving(start_node) -> None:
    node = await start_node(settings={"handler_timeout_s": 1.0})
    host, port = urlsplit(node.url).hostname, urlsplit(node.url).port
    reader, writer = await asyncio.open_connection(host, port)
    url = f"{node.url}/v1/admin/members"
    signed = node.operator.headers("POST", url, b"{" + b" " * 998 + b"}")
    head = "".join(f"{name}: {value}\r\n" for name, value in signed.items())
    writer.write(
        f"POST /v1/admin/members HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: 1000\r\n{head}\r\n{{".encode()
    )
    await writer.drain()
    status_line = b""
    async with asyncio.timeout(10):
        while True:  # trickle, one byte a second, until the node gives up on us
            try:
                status_line = await asyncio.wait_for(reader.readline(), 1.0)
                break
            except TimeoutError:
                writer.write(b" ")
                await writer.drain()
    assert b" 408 " in status_line
    rest = await reader.read(4096)
    body = rest.split(b"\r\n\r\n", 1)[1]
    assert json.loads(body)["error"] == "timeout"
    writer.close()
    response = await node.get("/v1/node")  # the node is unharmed
    assert response.status == 200


async def test_unsigned_slow_body_is_refused_before_it_is_read(start_node) -> None:
    node = await start_node(settings={"handler_timeout_s": 30.0})
    host, port = urlsplit(node.url).hostname, urlsplit(node.url).port
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        b"POST /v1/admin/members HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000000\r\n\r\n{"
    )
    await writer.drain()
    async with asyncio.timeout(10):  # no trickle: the answer comes without the body
        status_line = await reader.readline()
    assert b" 401 " in status_line
    writer.close()
