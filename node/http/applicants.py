"""The path in for keys nobody trusts yet: applications to a federation body (``POST /v1/federation/apply``).

An application is signed by the applicant's own key, which the node cannot know beforehand, so any valid
signature passes — and anyone can make fresh keys. That path is kept apart so it can never crowd out the
operator and the peers (issue 11): its nonces live in a store of their own (``application_nonces``), and
it is rate limited before anything is verified or read, per (hashed) address and for everyone together
(``applications_*`` settings). Storage is capped too (``applications_pending_max``, in the route).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from federation.auth import RequestVerifier
from federation.quota import TokenBuckets
from node.http.wire import ApiError
from node.settings import Settings

EVERYONE = b""  # the one bucket all applicants share


@dataclass
class Applicants:
    verifier: RequestVerifier
    everyone: TokenBuckets
    by_address: TokenBuckets
    salt: bytes = field(default_factory=lambda: secrets.token_bytes(16))

    @classmethod
    def of(cls, node_id: bytes, settings: Settings, clock: Callable[[], float] = time.time) -> Applicants:
        nonces = settings.application_nonces
        return cls(
            RequestVerifier(node_id, settings.signature_window_s, nonces, nonces, clock=clock),
            TokenBuckets(settings.applications_rate, settings.applications_burst),
            TokenBuckets(settings.applications_rate, settings.applications_per_ip_burst),
        )

    def admit(self, request: web.BaseRequest) -> None:
        """Charge the request's address and everyone's bucket, or refuse it 429 before it is read."""
        address = hashlib.blake2b((request.remote or "").encode(), key=self.salt, digest_size=16).digest()
        if not self.by_address.take(address) or not self.everyone.take(EVERYONE):
            raise ApiError(429, "quota", "too many applications; try again later")
