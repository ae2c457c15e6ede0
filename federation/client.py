"""Signed HTTP requests to another node, over one reusable aiohttp session.

Used by gossip (node to node) and by tests and tools acting as an operator. Timeouts are on by default and
a response is refused, unread, once it exceeds ``max_response`` bytes (DESIGN.md §5: size caps before
decoding); both default to ``FederationSettings``. aiohttp's errors are mapped here, at the boundary:
transport failures raise ``TransportError``; a refusal by the other side ``RemoteError``
(``federation.errors``).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from federation.errors import RemoteError, TransportError
from federation.settings import DEFAULTS
from protocol.httpsig import encode_nonce, sign_request
from protocol.keys import SigningKey


def unreachable(exc: BaseException, timeout: float) -> str:
    """Why a call did not get an answer, in words (no exception class names, no errno)."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "no such host (check the URL)"
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = os.strerror(exc.errno).lower() if exc.errno else "the connection failed"
        return f"cannot connect ({reason}); is the node running?"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the node closed the connection before answering"
    if isinstance(exc, aiohttp.InvalidURL):
        return "not a valid URL"
    return "the connection failed before an answer came"


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class SignedClient:
    """Requests to ``base_url`` signed by ``key`` for the node ``recipient``."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        key: SigningKey,
        recipient: bytes,
        *,
        timeout: float = DEFAULTS.request_timeout_s,
        max_response: int = DEFAULTS.max_response_bytes,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.session, self.base_url, self.key, self.recipient = session, base_url.rstrip("/"), key, recipient
        self.timeout, self.max_response = timeout, max_response
        self.clock = clock  # seconds: a request's ``created``

    def headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        parts = urlsplit(url)
        return sign_request(
            self.key,
            method=method,
            authority=parts.netloc,
            path=parts.path or "/",
            query=parts.query,
            body=body,
            recipient=self.recipient,
            created=int(self.clock()),
            nonce=encode_nonce(secrets.token_bytes(16)),
        )

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        content_type: str = "application/json",
        accept: str = "application/json",
        check: bool = True,
    ) -> Response:
        url = self.base_url + path
        headers = self.headers(method, url, body)
        headers["Content-Type"], headers["Accept"] = content_type, accept
        try:
            async with self.session.request(
                method, url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as response:
                declared = response.content_length
                if declared is not None and declared > self.max_response:
                    raise TransportError(f"response of {declared} bytes exceeds {self.max_response}")
                data = bytearray()
                # whatever has arrived, a piece at a time: fixed-size pieces would cost a copy and a
                # Python-level step each (iter_chunked(65536): 2.5 ms of CPU per MB against 0.45 here)
                async for chunk in response.content.iter_any():
                    data += chunk
                    if len(data) > self.max_response:
                        raise TransportError(f"response exceeds {self.max_response} bytes")
                result = Response(response.status, response.content_type, bytes(data))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(f"{self.base_url}: {unreachable(exc, self.timeout)}") from exc
        if check and result.status >= 400:
            try:
                err = result.json()
                raise RemoteError(result.status, str(err["error"]), str(err["message"]))
            except (ValueError, KeyError, TypeError):
                raise RemoteError(result.status, "http", result.body[:200].decode(errors="replace")) from None
        return result

    async def call(self, method: str, path: str, value: dict[str, Any] | None = None) -> Any:
        body = b"" if value is None else json.dumps(value, ensure_ascii=False).encode()
        return (await self.request(method, path, body)).json()


__all__ = ["RemoteError", "Response", "SignedClient", "TransportError"]
