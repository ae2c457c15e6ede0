"""One error tree for ``federation`` (drawn in its package docstring): every error in one branch, foreign
errors mapped at the boundary with their cause kept."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import federation
from federation import errors
from federation.client import SignedClient
from federation.errors import (
    FederationError,
    LocalConflict,
    PeerDataError,
    Refusal,
    TransportError,
)
from federation.store import ForkError
from protocol.keys import SigningKey

BRANCHES = (PeerDataError, TransportError, Refusal, LocalConflict)
CLASSES = {name: getattr(errors, name) for name in errors.__all__} | {"ForkError": ForkError}
LEAVES = sorted(name for name, cls in CLASSES.items() if cls is not FederationError and cls not in BRANCHES)


@pytest.mark.parametrize("name", LEAVES)
def test_every_error_is_in_exactly_one_branch(name: str) -> None:
    cls = CLASSES[name]
    assert issubclass(cls, FederationError)
    assert sum(issubclass(cls, branch) for branch in BRANCHES) == 1, cls.__mro__


def test_the_tree_is_drawn_in_the_package_docstring() -> None:
    drawn = (federation.__doc__ or "").split()
    for name in CLASSES:
        assert name in drawn, name


async def test_an_unreachable_node_is_a_transport_error_caused_by_aiohttp() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    key = SigningKey.from_seed(b"\x01" * 32)
    async with aiohttp.ClientSession() as session:
        client = SignedClient(session, f"http://127.0.0.1:{port}", key, key.public.raw, timeout=5.0)
        with pytest.raises(TransportError) as caught:
            await client.request("GET", "/v1/node")
    assert isinstance(caught.value.__cause__, aiohttp.ClientError)


CAP = 100_000  # the client's ``max_response`` in the size tests below


async def _size_answer(request: web.Request) -> web.StreamResponse:
    """``/declared/N``: N bytes with their length; ``/streamed/N``: N bytes chunked, no length declared,
    in pieces of 7,000 bytes (so the cap falls inside one)."""
    how, size = request.match_info["how"], int(request.match_info["size"])
    body = b"\x00" * size
    if how == "declared":
        return web.Response(body=body, content_type="application/msgpack")
    response = web.StreamResponse(headers={"Content-Type": "application/msgpack"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        for start in range(0, len(body), 7_000):
            await response.write(body[start : start + 7_000])
        await response.write_eof()
    except ConnectionError:  # the client stopped reading, as it should
        pass
    return response


@pytest.mark.parametrize("how", ["declared", "streamed"])
async def test_a_response_over_the_cap_is_a_transport_error_and_one_at_it_is_read_whole(how: str) -> None:
    key = SigningKey.from_seed(b"\x01" * 32)
    app = web.Application()
    app.router.add_get("/{how}/{size}", _size_answer)
    async with TestServer(app, host="127.0.0.1", port=0) as server, aiohttp.ClientSession() as session:
        url = str(server.make_url("")).rstrip("/")
        client = SignedClient(session, url, key, key.public.raw, timeout=30.0, max_response=CAP)
        whole = await client.request("GET", f"/{how}/{CAP}", accept="application/msgpack")
        assert (whole.status, whole.body) == (200, b"\x00" * CAP)
        with pytest.raises(TransportError) as caught:
            await client.request("GET", f"/{how}/{CAP + 1}", accept="application/msgpack")
        said = str(caught.value)
        if how == "declared":  # refused on its declared length, unread
            assert said == f"response of {CAP + 1} bytes exceeds {CAP}"
        else:  # refused once what arrived passes the cap, the rest unread
            assert said == f"response exceeds {CAP} bytes"
