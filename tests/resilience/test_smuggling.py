"""Issue 11, the resilience suite's request-smuggling corpus: each is answered 400 or its connection closed,
and none reaches a handler (``GET /v1/node`` would answer 200, and the access log would show it)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.conftest import NodeFactory

CORPUS = {
    "cl_and_te": b"POST /v1/node HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
    b"0\r\n\r\nGET /v1/node HTTP/1.1\r\nHost: x\r\n\r\n",
    "te_and_cl": b"POST /v1/node HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Length: 40\r\n\r\n"
    b"0\r\n\r\nGET /v1/node HTTP/1.1\r\nHost: x\r\n\r\n",
    "bare_lf": b"GET /v1/node HTTP/1.1\nHost: x\n\n",
    "bare_lf_in_headers": b"GET /v1/node HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n",
    "duplicate_host": b"GET /v1/node HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "duplicate_content_length": b"POST /v1/node HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
    b"Content-Length: 5\r\n\r\n"
    b"hello",
    "obs_fold": b"GET /v1/node HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
    "huge_chunk_size": b"POST /v1/node HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"FFFFFFFFFFFFFFFFFFFFFFFF\r\nx\r\n",
    "te_obfuscated": b"POST /v1/node HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    "te_chunked_not_last": b"POST /v1/node HTTP/1.1\r\nHost: x\r\n"
    b"Transfer-Encoding: chunked, identity\r\n\r\n"
    b"0\r\n\r\n",
    "content_length_signed": b"POST /v1/node HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello",
    "content_length_negative": b"POST /v1/node HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "space_before_colon": b"GET /v1/node HTTP/1.1\r\nHost : x\r\n\r\n",
    "http_0_9": b"GET /v1/node\r\n\r\n",
    "nul_in_header": b"GET /v1/node HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
}


@pytest.mark.parametrize("attack", sorted(CORPUS), ids=lambda a: a)
async def test_smuggling_is_refused_before_any_handler(
    start_node: NodeFactory, caplog: pytest.LogCaptureFixture, attack: str
) -> None:
    node = await start_node()
    host, port = node.url.removeprefix("http://").split(":")
    caplog.set_level(logging.INFO, logger="shora.http.access")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(CORPUS[attack])
    await writer.drain()
    async with asyncio.timeout(10):
        answer = await reader.read()
    writer.close()
    statuses = [line.split(b" ")[1] for line in answer.split(b"\r\n") if line.startswith(b"HTTP/")]
    assert statuses in ([], [b"400"]), (attack, answer[:300])
    served = [r.getMessage() for r in caplog.records if r.name == "shora.http.access"]
    assert not [m for m in served if " 200 " in m], served
