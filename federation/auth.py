"""Signed requests in: RFC 9421 by a known key, for this node, fresh, admitted, never replayed (DESIGN.md §3).

Used for the operator's requests (``/v1/admin/``), the peers' (``/v1/federation/``) and, through a verifier
of their own, applications (keys nobody trusts yet). The order is what keeps a node from being locked out by
anyone without a key (issue 11):

1. the signature headers are parsed and the key looked up, and ``created`` checked, before a byte of the
   body is read: an unknown key or a stale request costs no memory;
2. the caller's quota is asked (``admit.peek``) first, before the key is looked up or the body read, and
   charged (``admit.take``) only once the signature holds — a forger cannot spend a peer's quota, a peer's
   flood is refused 429 unread and for the least work the node can do;
3. the nonce is recorded last, in a store kept **per key**: one key filling its share never refuses another.

Time is whole seconds everywhere (``created`` is an integer; ``now`` is ``int(clock())``). A nonce is
remembered until ``created + window`` has passed, which is exactly as long as ``|created - now| <= window``
can still accept it: the replay window covers the acceptance window by construction.

A restart forgets the nonces, so a request created before this process started is refused too: a request
captured before a restart cannot be replayed after it.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable

from aiohttp import web

from federation.quota import Quota
from protocol.codec import b64u
from protocol.errors import VerificationError
from protocol.httpsig import signature_input, verify_request
from protocol.keys import PublicKey

# The HTTP status of each failed step; every other step is 401.
STATUS = {"unknown-key": 403, "recipient": 403, "quota": 429, "busy": 429}


def status_of(exc: VerificationError) -> int:
    return STATUS.get(exc.step, 401)


class NonceStore:
    """Seen nonces per key, each until its ``created + window_s`` has passed (integer seconds).

    At most ``per_key`` live nonces for one key and ``total`` for all: a key that has used its share is
    refused (``busy``) until its nonces expire, and no other key notices.
    """

    def __init__(self, window_s: int, per_key: int, total: int) -> None:
        self.window_s, self.per_key, self.total = window_s, per_key, total
        self._seen: dict[bytes, dict[str, int]] = {}
        self._expiry: dict[bytes, list[tuple[int, str]]] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def check(self, keyid: bytes, nonce: str, created: int, now: int) -> bool:
        """Record the nonce; ``False`` if it was seen. ``VerificationError("busy")`` when no room is left."""
        self._expire(keyid, now)
        seen = self._seen.setdefault(keyid, {})
        if nonce in seen:
            return False
        if len(seen) >= self.per_key or self._count >= self.total:
            if self._count >= self.total:
                for other in list(self._seen):
                    self._expire(other, now)
            if len(seen) >= self.per_key or self._count >= self.total:
                raise VerificationError("busy", "too many recent requests from this key; try again later")
        expiry = created + self.window_s
        seen[nonce] = expiry
        heapq.heappush(self._expiry.setdefault(keyid, []), (expiry, nonce))
        self._count += 1
        return True

    def _expire(self, keyid: bytes, now: int) -> None:
        heap = self._expiry.get(keyid)
        if not heap:
            return
        seen = self._seen[keyid]
        while heap and heap[0][0] < now:
            _, nonce = heapq.heappop(heap)
            del seen[nonce]
            self._count -= 1
        if not heap:
            del self._expiry[keyid], self._seen[keyid]


class RequestVerifier:
    """Checks signed requests for ``node_id``; ``clock`` (seconds) is injectable for tests."""

    def __init__(
        self,
        node_id: bytes,
        window_s: int,
        per_key: int,
        total: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.node_id = node_id
        self.window_s = window_s
        self.clock = clock
        self.nonces = NonceStore(window_s, per_key, total)
        self.started = int(clock())

    async def verify(
        self,
        request: web.Request,
        lookup_key: Callable[[bytes], PublicKey | None],
        quota: Quota | None = None,
    ) -> PublicKey:
        """The key that signed ``request``, or ``VerificationError`` naming the check that failed."""
        now = int(self.clock())
        keyid, created, _ = signature_input(request.headers)
        # The cheapest refusal first: a key over its quota (only its holder can have spent it) is refused
        # before its key is looked up. ``peek`` changes nothing, and an unknown key has a full bucket.
        if quota is not None and not quota.peek(keyid):
            raise VerificationError("quota", "too many requests from this key")
        public_key = lookup_key(keyid)
        if public_key is None or public_key.raw != keyid:
            raise VerificationError("unknown-key", f"no known key {b64u(keyid)}")
        if abs(created - now) > self.window_s:
            raise VerificationError("created", f"created {created} is more than {self.window_s}s from now")
        body = await request.read()

        def fresh(signer: bytes, nonce: str, signed_at: int) -> bool:
            if signed_at < self.started - 1:
                return False
            if quota is not None and not quota.take(signer):
                raise VerificationError("quota", "too many requests from this key")
            return self.nonces.check(signer, nonce, signed_at, now)

        verified = verify_request(
            method=request.method,
            authority=request.host,
            path=request.rel_url.raw_path,
            query=request.rel_url.raw_query_string,
            headers=request.headers,
            body=body,
            recipient=self.node_id,
            now=now,
            lookup_key=lambda k: public_key if k == keyid else None,
            check_nonce=fresh,
            window=self.window_s,
        )
        return verified.public_key
