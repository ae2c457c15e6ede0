"""Issue 11, item 5: the access and error logs hold no client address and none of the client's bytes.

Read where an operator reads them: the output of ``shora serve``, in its own process, after good requests,
refused ones and malformed ones. The client connects from 127.0.0.2 (still loopback; the node listens on
127.0.0.1), so an address in the log could only be the client's, and everything it sends carries a marker
that must never reach the log: the path it asks for, its headers, its body, its malformed bytes.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp

from node.bootstrap import init_node
from node.rules.council import FoundCouncil
from tests.node.served import start_served

CLIENT = "127.0.0.2"
MARK = "zq7mark"  # in every byte the client chooses
HANG_S = 60.0  # only bounds a hang


def malformed(host: str) -> list[bytes]:
    """Requests aiohttp's parser refuses before any handler, each closing its connection."""
    mark = MARK.encode()
    return [
        b"GET /" + mark * 1200 + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\n\r\n",  # line over 8190 bytes
        b"GET / HTTP/1.1\r\nHost: x\r\nX-" + mark + b": " + mark * 1200 + b"\r\n\r\n",  # header over 8190
        b"G\x00T /" + mark + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # a NUL in the method
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + mark + b"\x00" * 40,  # TLS to a plain port
        b"GET /" + mark + b" HTTP/9.9\r\nHost: x\r\n\r\n",
        b"POST /"
        + mark
        + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"GET /" + mark + b" HTTP/1.1\nHost: x\n\n",  # bare LF
    ]


async def send_raw(host: str, port: int, raw: bytes) -> None:
    reader, writer = await asyncio.open_connection(host, port, local_addr=(CLIENT, 0))
    try:
        writer.write(raw)
        await writer.drain()
        async with asyncio.timeout(HANG_S):
            await reader.read()  # the node answers 4xx and closes, or just closes
    finally:
        writer.close()


async def test_the_served_logs_hold_no_client_address_no_client_bytes_and_no_traceback(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "node"
    init_node(folder, FoundCouncil(name="Quiet Council", continent="Asia"), listen="127.0.0.1:0")
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as output:
        process, url = await start_served(folder, output)
        try:
            host, port = url.removeprefix("http://").split(":")
            connector = aiohttp.TCPConnector(local_addr=(CLIENT, 0))
            async with aiohttp.ClientSession(connector=connector) as session:
                statuses = []
                for method, path, headers, body in [
                    ("GET", "/v1/node", {}, b""),  # a good one
                    ("GET", f"/v1/{MARK}", {}, b""),  # 404
                    ("GET", f"/v1/logs/{MARK}/entries?after_seq={MARK}", {}, b""),  # 400
                    (
                        "POST",
                        "/v1/admin/members",
                        {"Signature-Input": MARK, "Signature": MARK},
                        MARK.encode(),
                    ),
                    ("POST", "/v1/federation/digest", {"X-Mark": MARK}, MARK.encode() * 100),
                    ("POST", "/v1/federation/apply", {"Content-Type": "application/msgpack"}, MARK.encode()),
                ]:
                    async with session.request(method, url + path, headers=headers, data=body) as answer:
                        await answer.read()
                        statuses.append(answer.status)
            assert statuses[0] == 200 and all(400 <= s < 500 for s in statuses[1:]), statuses
            for raw in malformed(host):
                await send_raw(host, int(port), raw)
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(process.wait, HANG_S)
    logged = log_path.read_text(encoding="utf-8", errors="replace")
    assert "GET /v1/node 200" in logged, "the access log was written (by route, never by path)"
    assert "refused a malformed request" in logged, "the malformed requests were logged, as one line each"
    assert CLIENT not in logged, "a client's address was logged"
    assert MARK not in logged, "bytes the client chose were logged"
    assert "Traceback" not in logged and "\\x00" not in logged and "\\x16" not in logged, logged[-2000:]
