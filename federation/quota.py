"""Quotas: how many requests a key may make, before anything it sent is read (issue 11).

Transport-free (STYLE.md 8): ``federation.auth`` asks a ``Quota`` while it verifies a request, the gossip
server through ``MemoryTransport`` directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

MAX_IDLE_BUCKETS = 4096  # beyond, buckets that are full again are forgotten (they would start full anyway)


class Quota(Protocol):
    """What a verifier asks before it reads a body (``peek``) and once the signature holds (``take``)."""

    def peek(self, key: bytes) -> bool: ...

    def take(self, key: bytes) -> bool: ...


class TokenBuckets:
    """A token bucket per key: ``burst`` at once, refilled at ``rate`` per second (a ``Quota``).

    ``clock`` is monotonic seconds. Idle buckets are full again and are forgotten, so the table holds only
    the keys that spent tokens in the last ``burst / rate`` seconds.
    """

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[bytes, tuple[float, float]] = {}

    def _tokens(self, key: bytes) -> float:
        tokens, at = self._buckets.get(key, (self.burst, 0.0))
        return min(self.burst, tokens + (self.clock() - at) * self.rate)

    def peek(self, key: bytes) -> bool:
        return self._tokens(key) >= 1

    def take(self, key: bytes) -> bool:
        tokens = self._tokens(key)
        if tokens < 1:
            return False
        if len(self._buckets) > MAX_IDLE_BUCKETS:
            self._forget_full()
        self._buckets[key] = (tokens - 1, self.clock())
        return True

    def _forget_full(self) -> None:
        for key in [k for k in self._buckets if self._tokens(k) >= self.burst]:
            del self._buckets[key]
