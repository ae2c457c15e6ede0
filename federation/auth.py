"""Signed requests in: RFC 9421 by a known key, for this node, fresh, and never replayed (DESIGN.md §3).

Used for the operator's requests (``/v1/admin/``) and the peers' (``/v1/federation/``). Nonces are
remembered in memory for the signature window. A restart forgets them, so a request created before this
process started is refused too: a request captured before a restart cannot be replayed after it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from aiohttp import web

from protocol.httpsig import verify_request
from protocol.keys import PublicKey


class NonceStore:
    """Seen (key, nonce) pairs until they fall out of the window; bounded, oldest expire first."""

    def __init__(self, window_s: int, capacity: int) -> None:
        self.window_s, self.capacity = window_s, capacity
        self._seen: OrderedDict[tuple[bytes, str], float] = OrderedDict()

    def check(self, keyid: bytes, nonce: str, created: int, now: float) -> bool:
        """Record the nonce; ``False`` if it was seen (or the store is full of live nonces)."""
        horizon = now - 2 * self.window_s
        while self._seen and next(iter(self._seen.values())) < horizon:
            self._seen.popitem(last=False)
        if (keyid, nonce) in self._seen or len(self._seen) >= self.capacity:
            return False
        self._seen[(keyid, nonce)] = now
        return True


class RequestVerifier:
    def __init__(self, node_id: bytes, window_s: int, capacity: int) -> None:
        self.node_id = node_id
        self.window_s = window_s
        self.nonces = NonceStore(window_s, capacity)
        self.started = int(time.time())

    async def verify(
        self, request: web.Request, lookup_key: Callable[[bytes], PublicKey | None]
    ) -> PublicKey:
        """The key that signed ``request``, or ``VerificationError`` naming the check that failed."""
        body = await request.read()
        now = time.time()
        verified = verify_request(
            method=request.method,
            authority=request.host,
            path=request.rel_url.raw_path,
            query=request.rel_url.raw_query_string,
            headers=request.headers,
            body=body,
            recipient=self.node_id,
            now=int(now),
            lookup_key=lookup_key,
            check_nonce=lambda keyid, nonce, created: self._fresh(keyid, nonce, created, now),
            window=self.window_s,
        )
        return verified.public_key

    def _fresh(self, keyid: bytes, nonce: str, created: int, now: float) -> bool:
        if created < self.started - 1:
            return False
        return self.nonces.check(keyid, nonce, created, now)
