"""Each entry's own signature, after commit, as gossip follows it up (docs/gossip.md, "Pulling").

A page its checkpoint vouches for is committed before its entries' own signatures are checked; the replica
checks them on the verify pool afterwards (``federation.replica.deferred``). ``SignatureFollowUp`` waits for
those checks, has the replica record them on the writer (``settle``) and acts on each that failed: a leaf
commits the header, not the signature, so the peer that served it is charged (``entry-signature``) and a
valid signature is asked of the other peers, the log's owner first (``mend``) — and asked again at each
start and after each periodic round while none has given it (``unmended``). Only a bad signature served by
the owner itself, under its own checkpoint, is kept and the log flagged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from typing import Any

from federation.gossip.server import RunOn
from federation.replica import Page, ReplicaLike
from federation.settings import FederationSettings
from federation.store.verified import BadSignature
from protocol import codec

log = logging.getLogger("shora.gossip")

# (peer, log_id, after_seq, limit, first) -> the page, or None
FetchPage = Callable[[bytes, bytes, int, int, int], Awaitable[Page | None]]
# (peer, work) -> whether the work succeeded
Guarded = Callable[[bytes, Callable[[], Awaitable[None]]], Awaitable[bool]]


class SignatureFollowUp:
    """The after-commit signature checks of what gossip pulled, for the engine of node ``me``.

    Of the engine it uses: ``fetch_page`` (a page of a log from a peer), ``guarded`` (work against a peer
    under the deadline, its outcome sorted; True on success), ``bad`` (charge a peer with a reason),
    ``spawn`` (a task in the engine's group) and ``running`` (whether that group exists).
    """

    def __init__(
        self,
        me: bytes,
        replica: ReplicaLike,
        peers: Callable[[], list[bytes]],
        run_write: RunOn,
        settings: FederationSettings,
        *,
        fetch_page: FetchPage,
        guarded: Guarded,
        bad: Callable[[bytes, str], None],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        running: Callable[[], bool],
    ) -> None:
        self.me, self.replica, self.peers, self.run_write = me, replica, peers, run_write
        self.settings = settings
        self.fetch_page, self.guarded, self.bad = fetch_page, guarded, bad
        self.spawn, self.running = spawn, running
        self._settling = False  # a task waits for the signature checks of committed pages

    def watch(self) -> None:
        """Once the signature checks of the pages committed so far answer, record them (``settle``)."""
        if not self._settling and self.running() and self.replica.deferred_futures():
            self._settling = True
            self.spawn(self._settle())

    async def resume(self) -> None:
        """Entries a previous run committed and did not finish checking (the node stopped first): their
        checks are sent again now, not only once the next page of their log arrives."""
        for found in await self.run_write(self.replica.settle):
            await self._bad_signature(found)
        self.watch()
        await self.mend_left()

    async def mend_left(self) -> None:
        """Ask the peers again for a valid signature of each entry one served bad and none has mended
        yet (they may hold it now: at start, and after each periodic round)."""
        for found in await self.run_write(self.replica.unmended):
            await self._bad_signature(found)

    async def _settle(self) -> None:
        try:
            await self.check_signatures()
        finally:
            self._settling = False

    async def check_signatures(self) -> None:
        """Wait for the signature checks of every page committed so far, record them on the writer and act
        on those that failed (``_bad_signature``)."""
        while futures := self.replica.deferred_futures():
            # an answer may be an exception (the pool broke, or was shut down before its workers started):
            # taken here, and ``settle`` checks those chunks in this process (``verifypool.answer``)
            await asyncio.gather(*(asyncio.wrap_future(f) for f in futures), return_exceptions=True)
            for found in await self.run_write(self.replica.settle):
                await self._bad_signature(found)

    async def _bad_signature(self, found: BadSignature) -> None:
        """An entry committed on its checkpoint's authority whose own signature failed. The leaf commits
        the header, not the signature: the peer that served it is charged and a valid signature is asked
        of the others — the log's owner first. Served by the owner itself, it stays flagged."""
        seq, log_id = found.seq, found.log_id
        if found.source is not None:
            self.bad(found.source, f"entry-signature: seq {seq} of {codec.short_id(log_id)}, after commit")
        if found.owner:
            log.error("log %s: its owner served entry %d with a bad signature", codec.short_id(log_id), seq)
            return
        others = [p for p in self.peers() if p not in (self.me, found.source)]
        for peer in sorted(others, key=lambda p: p != log_id):
            page: Page | None = None

            async def fetch(peer: bytes = peer) -> None:
                nonlocal page
                page = await self.fetch_page(peer, log_id, seq - 1, self.settings.page_entries_max, seq)

            if not await self.guarded(peer, fetch) or page is None:
                continue
            if await self.run_write(partial(self.replica.mend, log_id, page)) > 0:
                return
