"""One error tree for ``federation`` (drawn in its package docstring): every error in one branch, foreign
errors mapped at the boundary with their cause kept."""

from __future__ import annotations

import socket

import aiohttp
import pytest

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
