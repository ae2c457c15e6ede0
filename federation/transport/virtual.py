"""``VirtualTimeLoop``: an event loop whose clock jumps to the next timer whenever nothing is ready, so a
simulation of many nodes with latency, timeouts and jittered intervals runs in milliseconds of real time.
It is for in-process simulations only: no sockets, no threads."""

from __future__ import annotations

import asyncio
import selectors


class _SkipSelector(selectors.DefaultSelector):
    """A selector that, instead of waiting ``timeout`` seconds, moves its loop's clock forward by it."""

    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:  # nothing scheduled: only another thread can wake us, so really wait
            return super().select(None)
        events = super().select(0)
        if not events and timeout > 0 and self.loop is not None:
            self.loop.now += timeout
        return events


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on a virtual clock: ``asyncio.sleep``, timeouts and ``call_later`` take no real time.

    Use ``asyncio.Runner(loop_factory=VirtualTimeLoop)``."""

    def __init__(self) -> None:
        self.now = 0.0
        selector = _SkipSelector()
        super().__init__(selector)
        selector.loop = self

    def time(self) -> float:
        return self.now
