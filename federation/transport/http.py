"""``HttpTransport``: RFC 9421-signed requests over one aiohttp session (``federation.client``)."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from federation.client import SignedClient
from federation.errors import TransportError
from federation.settings import DEFAULTS, FederationSettings
from federation.transport.base import MSGPACK, Reply
from protocol import codec
from protocol.keys import SigningKey


class HttpTransport:
    """Signed HTTP requests to the URL the peer table holds for each node id; the timeout and the largest
    answer taken come from ``settings``."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        key: SigningKey,
        url_of: Callable[[bytes], str | None],
        settings: FederationSettings = DEFAULTS,
    ) -> None:
        self.session, self.key, self.url_of = session, key, url_of
        self.timeout, self.max_response = settings.request_timeout_s, settings.max_response_bytes

    async def call(self, peer: bytes, method: str, path: str, body: bytes = b"") -> Reply:
        url = self.url_of(peer)
        if url is None:
            raise TransportError(f"no URL known for peer {codec.short_id(peer)}")
        client = SignedClient(
            self.session, url, self.key, peer, timeout=self.timeout, max_response=self.max_response
        )
        response = await client.request(method, path, body, content_type=MSGPACK, accept=MSGPACK, check=False)
        return Reply(response.status, response.body, response.content_type)
