"""The initiating half of gossip (docs/gossip.md, DESIGN.md §5): rounds, pulls, pushes, fork spreading.

``Gossip`` runs a digest exchange with a random peer every ``gossip_interval_s`` (± ``gossip_jitter``),
pushes our own head to ``gossip_fanout`` peers on every local append, and pulls what peers hold beyond us.
A head is ``[log_id, size, root]``; heads travel sorted by ``log_id`` (``federation.gossip.wire``).

What goes wrong with a peer is sorted by the branch of the error tree (``federation``): bad data
(``PeerDataError``: a page the replica refuses, an answer that breaks the protocol) penalises the peer with
the reason; no answer (``TransportError``, the deadline, a ``Refusal`` such as 429 or 5xx) records a failure
so the peer table backs off. ``ForkFound`` is neither: the proof is stored and spread to every peer.

Time is the running event loop's clock: real in a node, virtual under ``transport.VirtualTimeLoop``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from federation.errors import (
    BadData,
    ForkFound,
    Frozen,
    Misbehaved,
    PeerDataError,
    Refusal,
    RemoteError,
    TransportError,
)
from federation.gossip.server import RunOn
from federation.gossip.signatures import SignatureFollowUp
from federation.gossip.wire import (
    DIGEST,
    FORKS,
    HEADS,
    bucket_hashes,
    bucket_of,
    decode_buckets,
    decode_heads,
    decode_message,
    digest,
    entries_path,
    error_code,
    wire_heads,
)
from federation.replica import Head, Page, PageDecoder, ReplicaLike
from federation.settings import DEFAULTS, FederationSettings
from federation.tasks import cancel_and_wait
from federation.transport import Transport
from protocol import codec

log = logging.getLogger("shora.gossip")

HINTS = {  # what the operator can do about a peer's refusal, in words
    "request-unknown-key": "it does not know this node's key: its operator adds us with `shora peers add`",
    "request-recipient": "the key configured for this peer is not the key of the node at its URL",
}


def _ignore_peer(peer: bytes, *args: Any) -> None:
    pass


@dataclass
class Stats:
    rounds: int = 0
    equal: int = 0
    pulled: int = 0  # entries appended from peers
    pushes: int = 0
    failures: int = 0
    penalties: dict[str, int] = field(default_factory=dict)  # reason -> count


class Gossip:
    """The anti-entropy engine of node ``me`` (see the module docstring).

    ``peers()`` lists the peers available now (the peer table applies backoff); ``run_write`` runs a
    replica write on the writer thread; ``trusted(log_id)`` says which logs to replicate. The callbacks
    ``penalise(peer, reason)``, ``record_success(peer)`` and ``record_failure(peer, error)`` report to the
    peer table; intervals, deadlines and limits come from ``settings``. Without ``periodic``, rounds run
    only when ``run_round`` is called. Start and stop it with ``start``/``stop`` (or ``async with``):
    every task it spawns is owned by one ``TaskGroup``.
    """

    def __init__(
        self,
        me: bytes,
        replica: ReplicaLike,
        transport: Transport,
        peers: Callable[[], list[bytes]],
        run_write: RunOn,
        *,
        rng: random.Random | None = None,
        own_log: bytes | None = None,
        trusted: Callable[[bytes], bool] = lambda log_id: True,
        settings: FederationSettings = DEFAULTS,
        periodic: bool = True,
        penalise: Callable[[bytes, str], None] = _ignore_peer,
        record_success: Callable[[bytes], None] = _ignore_peer,
        record_failure: Callable[[bytes, str], None] = _ignore_peer,
        on_peer_heads: Callable[[bytes, list[Head]], None] = _ignore_peer,
        decode_pool: concurrent.futures.Executor | None = None,
    ) -> None:
        self.me, self.replica, self.transport = me, replica, transport
        self.peers, self.run_write = peers, run_write
        self.rng = rng or random.Random()
        self.own_log = me if own_log is None else own_log
        self.trusted = trusted
        self.settings, self.periodic = settings, periodic
        self._penalise, self._success, self._failure = penalise, record_success, record_failure
        self._on_peer_heads = on_peer_heads  # what a peer holds, as it told us (for the operator's "lag")
        # pulled pages are decoded and checked there (federation.replica.offload)
        self.decoder = PageDecoder(decode_pool)
        self.stats = Stats()
        self._busy: set[bytes] = set()  # peers with an exchange in progress
        self._log_locks: dict[bytes, asyncio.Lock] = {}
        self._pending: dict[tuple[bytes, bytes], Head] = {}
        self._queue: asyncio.Queue[tuple[bytes, bytes]] = asyncio.Queue(settings.gossip_pending_max)
        self._group: asyncio.TaskGroup | None = None
        self._runner: asyncio.Task[None] | None = None
        self._signatures = SignatureFollowUp(
            me,
            replica,
            peers,
            run_write,
            settings,
            fetch_page=self._page,
            guarded=self._guarded,
            bad=self._bad,
            spawn=self._spawn,
            running=lambda: self._group is not None,
        )

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        ready = asyncio.Event()
        self._runner = asyncio.create_task(self.run(ready))
        await ready.wait()

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        await cancel_and_wait(runner)

    async def __aenter__(self) -> Gossip:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Pull workers and (if ``periodic``) the jittered round loop, until cancelled."""
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                for _ in range(self.settings.gossip_workers):
                    group.create_task(self._work())
                if self.periodic:
                    group.create_task(self._loop())
                group.create_task(self._signatures.resume())
                if ready is not None:
                    ready.set()
        finally:
            self._group = None

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        if self._group is None:
            coro.close()
            raise RuntimeError("gossip is not running: start() it first")
        self._group.create_task(coro)

    async def idle(self) -> None:
        """Wait until no pull is queued or running and the signature checks of what was pulled are
        recorded (for simulations and tests)."""
        await self._queue.join()
        await self.check_signatures()

    async def check_signatures(self) -> None:
        """Wait for the signature checks of every page committed so far, record them on the writer and act
        on those that failed (``federation.gossip.signatures``: each entry's own signature, after commit)."""
        await self._signatures.check_signatures()

    async def _loop(self) -> None:
        while True:
            interval, jitter = self.settings.gossip_interval_s, self.settings.gossip_jitter
            await asyncio.sleep(interval * (1 + jitter * (2 * self.rng.random() - 1)))
            peer = self._choose()
            if peer is not None:
                self._spawn(self._round(peer))

    def _choose(self) -> bytes | None:
        candidates = [p for p in self.peers() if p != self.me and p not in self._busy]
        return self.rng.choice(candidates) if candidates else None

    async def _round(self, peer: bytes) -> None:
        await self.run_round(peer)
        await self._signatures.mend_left()

    # --- outcome of talking to one peer ------------------------------------------------------------

    async def _guarded(self, peer: bytes, work: Callable[[], Awaitable[None]]) -> bool:
        """Run ``work`` against ``peer`` under the deadline and sort its outcome; True on success."""
        try:
            async with asyncio.timeout(self.settings.gossip_deadline_s):
                await work()
        except PeerDataError as exc:
            self._bad(peer, exc.reason)
        except (TransportError, TimeoutError, Refusal) as exc:
            self.stats.failures += 1
            why = str(exc) or f"no answer within {self.settings.gossip_deadline_s:g} s"
            log.info("peer %s failed: %s", codec.short_id(peer), why)
            self._failure(peer, why)
        except Exception:  # a bug must not stop gossip with the other peers
            log.exception("gossip with %s failed", codec.short_id(peer))
            self.stats.failures += 1
            self._failure(peer, "internal error (see this node's log)")
        else:
            self._success(peer)
            return True
        return False

    def _bad(self, peer: bytes, reason: str) -> None:
        log.warning("peer %s sent bad data: %s", codec.short_id(peer), reason)
        self.stats.penalties[reason] = self.stats.penalties.get(reason, 0) + 1
        self._penalise(peer, reason)

    async def _rpc(self, peer: bytes, path: str, value: dict[str, Any]) -> dict[str, Any]:
        reply = await self.transport.call(peer, "POST", path, codec.encode(value))
        if reply.status != 200:
            raise self._refusal(reply.status, reply.body)
        return self._decode(reply.body)

    def _decode(self, body: bytes) -> dict[str, Any]:
        return decode_message(body, self.settings.max_response_bytes)

    def _refusal(self, status: int, body: bytes) -> RemoteError:
        code = error_code(body, self.settings.max_response_bytes)
        return RemoteError(status, code, HINTS.get(code, ""))

    # --- a round -----------------------------------------------------------------------------------

    async def run_round(self, peer: bytes | None = None) -> bool:
        """One digest exchange with ``peer`` (default: a random available one), pulling where it is
        ahead and pushing our heads where we are; False if no peer, the peer is busy, or it failed."""
        peer = peer or self._choose()
        if peer is None or peer in self._busy:
            return False
        self._busy.add(peer)
        try:
            return await self._guarded(peer, partial(self._exchange, peer))
        finally:
            self._busy.discard(peer)

    async def _exchange(self, peer: bytes) -> None:
        self.stats.rounds += 1
        ours = self.replica.heads()
        answer = await self._rpc(peer, DIGEST, {"hash": digest(ours)})
        if answer.get("equal") is True:
            self.stats.equal += 1
            self._on_peer_heads(peer, ours)  # it holds exactly what we hold, as it just told us
            return
        compared: set[int] | None = None  # buckets compared; None: all
        if "heads" in answer:
            theirs = decode_heads(answer["heads"])
        else:
            their_buckets = decode_buckets(answer.get("buckets"))
            our_buckets = bucket_hashes(ours)
            differ = [b for b, h in their_buckets.items() if our_buckets.get(b) != h]
            compared = set(differ) | (our_buckets.keys() - their_buckets.keys())
            theirs = []
            if differ:
                theirs = decode_heads((await self._rpc(peer, DIGEST, {"buckets": differ})).get("heads"))
            if any(bucket_of(h.log_id) not in differ for h in theirs):
                raise Misbehaved("heads outside the buckets asked for")
        self._on_peer_heads(peer, theirs)
        known = {h.log_id: h for h in theirs}
        ahead = [
            h
            for h in ours
            if (compared is None or bucket_of(h.log_id) in compared)
            and h.size > (known[h.log_id].size if h.log_id in known else 0)
        ]
        if ahead:
            await self._rpc(peer, HEADS, {"heads": wire_heads(ahead)})
        for head in theirs:
            await self._sync_log(peer, head)

    # --- pulls -------------------------------------------------------------------------------------

    async def _sync_log(self, peer: bytes, theirs: Head) -> None:
        """Catch up with ``peer``'s head of one log: pull if it is ahead, probe it if it forks ours."""
        if theirs.log_id == self.own_log or not self.trusted(theirs.log_id):
            return
        lock = self._log_locks.setdefault(theirs.log_id, asyncio.Lock())
        async with lock:
            try:
                await self._pull(peer, theirs)
            except ForkFound as exc:
                await self._fork_found(exc.proof, None)
            except Frozen:
                pass  # frozen while we pulled: nothing more to take from anyone

    async def _pull(self, peer: bytes, theirs: Head) -> None:
        """Pull pages until we hold ``theirs``. While the writer verifies and commits one page, the next two
        are on their way: the one starting where it ends, and the one after that, guessed to start as far
        on again (pages are mostly of one length). A prefetched page is used only if a commit leaves us
        exactly where it starts; one that no commit reaches (a refused, trimmed or shorter page before it)
        is dropped, and asked for again if it is needed."""
        log_id = theirs.log_id
        limit = self.settings.page_entries_max
        ahead: dict[int, asyncio.Task[Page | None]] = {}  # prefetched pages by the tree size each starts at
        try:
            while not self.replica.frozen(log_id):
                head = self.replica.head(log_id)
                size = head.size if head is not None else 0
                if size > theirs.size or (size == theirs.size and (head is None or head.root == theirs.root)):
                    return
                if size == theirs.size:  # same size, other root: fetch our last position, the replica judges
                    page = await self._page(peer, log_id, size - 2, 1, size)
                elif size in ahead:
                    page = await ahead.pop(size)
                else:
                    page = await self._page(peer, log_id, size - 1, limit, size)
                for first in [first for first in ahead if first <= size]:  # stale
                    await _cancelled(ahead.pop(first))
                if page is None:
                    return
                if not page.entries:
                    raise Misbehaved(f"empty page below the advertised size {theirs.size}")
                end = page.entries[-1].seq + 1
                for first in (end, end + end - size):
                    if size < first < theirs.size and first not in ahead:
                        ahead[first] = asyncio.create_task(self._page(peer, log_id, first - 1, limit, first))
                try:
                    result = await self.run_write(partial(self.replica.ingest, log_id, page))
                except BadData as exc:
                    if exc.step == "consistency" and size > 0:
                        await self._probe_fork(peer, log_id, size)  # ForkFound if the histories diverged
                    raise
                self.stats.pulled += result.appended
                self._signatures.watch()
                if result.appended == 0:
                    return
        finally:
            for task in ahead.values():
                task.cancel()  # all of them at once: awaiting one may raise
            for task in ahead.values():
                await _cancelled(task)

    async def _probe_fork(self, peer: bytes, log_id: bytes, size: int) -> None:
        """A checkpoint that is not consistent with our tree: either the peer's proof is bad, or the log
        forked below our size (the peer holds the other branch, longer than ours). Fetch the peer's entry
        at our last position; the replica compares it with ours first and raises ``ForkFound`` if they
        differ (two validly signed entries at one seq). If they agree, the bad proof is the peer's."""
        page = await self._page(peer, log_id, size - 2, 1, size)
        if page is not None and page.entries:
            with contextlib.suppress(BadData):
                await self.run_write(partial(self.replica.ingest, log_id, page))

    async def _page(self, peer: bytes, log_id: bytes, after_seq: int, limit: int, first: int) -> Page | None:
        reply = await self.transport.call(peer, "GET", entries_path(log_id, after_seq, limit, first))
        if reply.status == 409:
            answer = self._decode(reply.body)
            proof = answer.get("proof")
            if isinstance(proof, bytes):
                await self._learn_fork(peer, proof)
            return None
        if reply.status != 200:
            raise self._refusal(reply.status, reply.body)
        decoded = await self.decoder.decode(reply.body, self.settings.max_response_bytes)
        page = dataclasses.replace(decoded, source=peer)
        # its signature checks start now, while the pages before it are still being ingested
        return self.replica.preverify(log_id, page)

    def heads_received(self, sender: bytes, heads: list[Head]) -> int:
        """``GossipServer.on_heads``: queue pulls from ``sender`` where it is ahead; the number queued.
        A full queue drops the rest: the next rounds find them again."""
        queued = 0
        for theirs in heads:
            if theirs.log_id == self.own_log or not self.trusted(theirs.log_id):
                continue
            ours = self.replica.head(theirs.log_id)
            if ours is not None and (ours.size > theirs.size or ours == theirs):
                continue
            key = (sender, theirs.log_id)
            if key in self._pending:
                if theirs.size > self._pending[key].size:
                    self._pending[key] = theirs
                continue
            if self._group is None or self._queue.full():
                continue
            self._pending[key] = theirs
            self._queue.put_nowait(key)
            queued += 1
        return queued

    async def _work(self) -> None:
        while True:
            key = await self._queue.get()
            try:
                theirs = self._pending.pop(key)
                await self._guarded(key[0], partial(self._sync_log, key[0], theirs))
            finally:
                self._queue.task_done()

    # --- push --------------------------------------------------------------------------------------

    def notify_local_append(self) -> None:
        """Push our own log's head to ``fanout`` random peers now, without waiting for a round."""
        head = self.replica.head(self.own_log)
        if head is None:
            return
        candidates = [p for p in self.peers() if p != self.me]
        for peer in self.rng.sample(candidates, min(self.settings.gossip_fanout, len(candidates))):
            self._spawn(self._push(peer, head))

    async def _push(self, peer: bytes, head: Head) -> None:
        self.stats.pushes += 1
        await self._guarded(peer, partial(self._rpc_none, peer, HEADS, {"heads": wire_heads([head])}))

    async def _rpc_none(self, peer: bytes, path: str, value: dict[str, Any]) -> None:
        await self._rpc(peer, path, value)

    # --- forks -------------------------------------------------------------------------------------

    async def _learn_fork(self, peer: bytes, proof: bytes) -> None:
        """A peer showed us a proof (409 on a pull): store it; a bad one is that peer's bad data."""
        try:
            new = await self.run_write(partial(self.replica.add_fork, proof))
        except BadData as exc:
            raise Misbehaved(f"bad fork proof ({exc.step}): {exc.message}") from exc
        if new:
            self._spread(proof, except_peer=peer)

    async def _fork_found(self, proof: bytes, source: bytes | None) -> None:
        """Our replica found a fork while ingesting (and stored it): make sure, then tell everyone."""
        with contextlib.suppress(BadData):
            await self.run_write(partial(self.replica.add_fork, proof))
        self._spread(proof, except_peer=source)

    def fork_received(self, proof: bytes, sender: bytes) -> None:
        """``GossipServer.on_fork``: a peer sent us a proof we did not hold; pass it on."""
        self._spread(proof, except_peer=sender)

    def fork_proven(self, proof: bytes) -> None:
        """This node proved a fork outside gossip (as a witness) and stored it: tell every peer."""
        self._spread(proof, except_peer=None)

    def _spread(self, proof: bytes, except_peer: bytes | None) -> None:
        if self._group is None:  # not running: peers still learn it from our 409 answers
            return
        log.warning("fork proof: spreading it to every peer")
        for peer in self.peers():
            if peer not in (self.me, except_peer):
                self._spawn(self._guarded_none(peer, partial(self._rpc_none, peer, FORKS, {"proof": proof})))

    async def _guarded_none(self, peer: bytes, work: Callable[[], Awaitable[None]]) -> None:
        await self._guarded(peer, work)


async def _cancelled(task: asyncio.Task[Any]) -> None:
    """Cancel a prefetch nobody will use and wait for it; whatever it raised no longer matters."""
    task.cancel()
    try:
        page = await task
        if page is not None and page.preverified is not None:
            page.preverified.cancel()  # checks nobody will wait for
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():  # we are being cancelled too
            raise
    except Exception as exc:  # the page was not going to be used: its failure is not news
        log.debug("discarded prefetch ended with %r", exc)
