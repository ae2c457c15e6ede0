"""Pages decoded and checked on a worker process (docs/gossip.md, "Pulling").

``Page.decode`` checks every byte of a page: its canonical encoding, each header's layout and fields, each
body against its header's hash and as a canonical body. That is about a third of what a node spends on each
entry it pulls, and in the node's own process it shares one interpreter with the event loop and the writer
ingesting the page before. ``PageDecoder`` runs the same ``Page.decode`` on a worker process instead, and
rebuilds the checked page here from its parts (``protocol.entry.from_parts``), decoding nothing again: the
checks are the same ones, made elsewhere. A refusal is the same ``BadData``.

Until its worker is up (it starts with the first large page), and for small pages, a page is decoded here:
nothing waits for a process to start. A worker that dies costs a decode here, never a check.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging

from federation.errors import BadData
from federation.replica.page import Page
from protocol.entry import EntryParts, from_parts

log = logging.getLogger("shora.gossip")

# Smaller pages are decoded here: the round trip to a worker would cost more than it saves.
POOL_FROM_BYTES = 64 << 10

PageParts = tuple[list[EntryParts], str | None, tuple[bytes, ...], int]
Decoded = tuple[PageParts, None] | tuple[None, tuple[str, str]]  # the page's parts, or (step, message)


def checked_parts(data: bytes, max_bytes: int) -> Decoded:
    """On a worker: ``Page.decode(data, max_bytes)``, as the parts ``PageDecoder`` rebuilds it from, or the
    refusal's step and message (an exception's own arguments need not survive the trip back)."""
    try:
        page = Page.decode(data, max_bytes)
    except BadData as exc:
        return None, (exc.step, exc.message)
    rows = [entry.parts() for entry in page.entries]
    if rows:  # one log_id object for the page's entries of one log: sent, and kept, once
        first = rows[0][4]
        rows = [(*row[:4], first, *row[5:]) if row[4] == first else row for row in rows]
    return (rows, page.checkpoint, page.consistency, page.first), None


def _alive() -> bool:
    return True


class PageDecoder:
    """``Page.decode`` for the pages a node pulls: on ``pool`` (a ``federation.verifypool.VerifyPool`` at
    the node's own priority) for large pages once its worker is up, in this process otherwise."""

    def __init__(self, pool: concurrent.futures.Executor | None) -> None:
        self.pool = pool
        self._up: concurrent.futures.Future[bool] | None = None

    def ready(self) -> bool:
        """Whether the pool has answered: the first call starts its workers and answers False."""
        if self.pool is None:
            return False
        if self._up is None:
            self._up = self.pool.submit(_alive)
        return self._up.done()

    async def started(self) -> None:
        """Wait until the pool's workers are up (``ready``)."""
        if self.ready():
            return
        assert self._up is not None
        await asyncio.wrap_future(self._up)

    async def decode(self, data: bytes, max_bytes: int) -> Page:
        """``Page.decode(data, max_bytes)``: the same checks, the same answer or the same ``BadData``."""
        if not POOL_FROM_BYTES <= len(data) <= max_bytes or not self.ready():
            return Page.decode(data, max_bytes)
        assert self.pool is not None
        try:
            parts, refused = await asyncio.wrap_future(self.pool.submit(checked_parts, data, max_bytes))
        except concurrent.futures.BrokenExecutor:
            log.warning("a decode worker died; decoding its page of %d bytes here", len(data))
            # the pool starts new workers with the next page; until they are up, pages are decoded here
            self._up = None
            return Page.decode(data, max_bytes)
        if refused is not None:
            raise BadData(*refused)
        assert parts is not None
        rows, checkpoint, consistency, first = parts
        return Page(tuple(from_parts(rows)), checkpoint, consistency, first)
