"""The node's one clock, in milliseconds since the epoch: what the writer stamps entries with and what the
routes, the replication engine and the backup ticker read the time from.

Tests move the node's time by patching ``now_ms`` on this module: the writer and the replication engine look
it up here at every call (``clock.now_ms()``), so they follow the patch.
"""

from __future__ import annotations

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000
