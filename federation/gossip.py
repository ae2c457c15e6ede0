"""Anti-entropy gossip (docs/gossip.md, DESIGN.md §5): digests, buckets, push-pull, pulls, fork spreading.

Two halves, both transport-free (STYLE.md 8):

- ``GossipServer.handle(sender, method, path, body) -> Reply`` answers the ``/v1/federation/`` gossip
  requests; ``routes.py`` calls it after verifying the RFC 9421 signature, ``MemoryTransport`` directly.
- ``Gossip`` initiates: a round with a random peer every ``interval_s`` (± ``jitter``), a push of our own
  head to ``fanout`` peers on every local append, and pulls of what peers hold beyond us.

The federation API speaks canonical msgpack both ways, errors included: a 4xx answer carries
``{"error": code, "message": text}`` (``log-frozen`` adds ``"proof"``), so one decoder with one set of
limits reads every answer.

    POST …/digest  {"hash": H}        -> {"equal": true} | {"heads": [..]} | {"buckets": [[b, h]..]}
    POST …/digest  {"buckets": [b..]} -> {"heads": [..]}       (the heads in those buckets)
    POST …/heads   {"heads": [..]}    -> {"pulls": n}          (the receiver pulls from us where we are ahead)
    GET  …/logs/{b64u log_id}/entries?after_seq=S&limit=N&first=M -> Page (replica.Page.encode) | 409
    POST …/forks   {"proof": bytes}   -> {"new": bool}

(``…`` is ``/v1/federation``.)

A head is ``[log_id, size, root]``; heads travel sorted by ``log_id``.

What goes wrong with a peer is sorted into two branches (STYLE.md 6): bad data (``BadData`` from the
replica, or an answer that breaks this protocol) penalises the peer with the reason; no answer
(``TransportError``, a deadline, 429 or 5xx, a refusal) records a failure so the peer table backs off.
``ForkFound`` is neither: the proof is stored and spread to every peer.

Time is the running event loop's clock: real in a node, virtual under ``transport.VirtualTimeLoop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from federation.client import TransportError
from federation.replica import BadData, ForkFound, Frozen, Head, Page
from federation.transport import Reply, Transport
from protocol import codec
from protocol.errors import DecodeError, ProtocolError

T = TypeVar("T")
RunWrite = Callable[[Callable[[], T]], Awaitable[T]]

log = logging.getLogger("shora.gossip")

PREFIX = "/v1/federation"
DIGEST, HEADS, FORKS = f"{PREFIX}/digest", f"{PREFIX}/heads", f"{PREFIX}/forks"
INLINE_HEADS = 64  # at most this many logs: answer a digest with the heads themselves
BUCKETS = 256
HASH_SIZE = KEY_SIZE = 32
MAX_REQUEST = 2 << 20  # bytes of a gossip request body, checked before decoding
MESSAGE_LIMITS = codec.Limits(max_size=MAX_REQUEST, max_depth=4, max_length=100_000)
MAX_PROOF = 64 << 10


# --- digests -------------------------------------------------------------------------------------------


def _wire(heads: Iterable[Head]) -> list[list[Any]]:
    return [[h.log_id, h.size, h.root] for h in sorted(heads, key=lambda h: h.log_id)]


def digest(heads: Iterable[Head]) -> bytes:
    """SHA-256 of the canonical msgpack of the heads ``[log_id, size, root]`` sorted by ``log_id``."""
    return hashlib.sha256(codec.encode(_wire(heads))).digest()


def bucket_of(log_id: bytes) -> int:
    return log_id[0]


def bucket_hashes(heads: Iterable[Head]) -> dict[int, bytes]:
    """The digest of each non-empty bucket (a log falls in bucket ``log_id[0]``)."""
    buckets: dict[int, list[Head]] = {}
    for head in heads:
        buckets.setdefault(bucket_of(head.log_id), []).append(head)
    return {b: digest(members) for b, members in sorted(buckets.items())}


class Misbehaved(Exception):
    """A peer's message breaks the gossip protocol (bad data outside a page): penalise with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Refused(Exception):
    """A peer answered with an error status: not bad data, but no progress either (back off)."""

    def __init__(self, status: int, code: str) -> None:
        why = HINTS.get(code)
        super().__init__(f"refused: {status} {code}" + (f" ({why})" if why else ""))
        self.status, self.code = status, code


HINTS = {
    "request-unknown-key": "it does not know this node's key: its operator adds us with `shora peers add`",
    "request-recipient": "the key configured for this peer is not the key of the node at its URL",
}


def decode_message(data: bytes) -> dict[str, Any]:
    """A gossip message: a canonical msgpack map within ``MESSAGE_LIMITS``; else ``Misbehaved``."""
    try:
        value = codec.decode(data, MESSAGE_LIMITS)
    except DecodeError as exc:
        raise Misbehaved(f"malformed message: {exc}") from exc
    if not isinstance(value, dict):
        raise Misbehaved("a message is a map")
    return value


def decode_heads(value: object) -> list[Head]:
    """Heads as sent: ``[log_id, size, root]`` items, strictly sorted by ``log_id``."""
    if not isinstance(value, list):
        raise Misbehaved("heads is a list")
    heads: list[Head] = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 3):
            raise Misbehaved("a head is [log_id, size, root]")
        log_id, size, root = item
        if not (isinstance(log_id, bytes) and len(log_id) == KEY_SIZE):
            raise Misbehaved("a head's log_id is 32 bytes")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise Misbehaved("a head's size is a non-negative integer")
        if not (isinstance(root, bytes) and len(root) == HASH_SIZE):
            raise Misbehaved("a head's root is 32 bytes")
        if heads and heads[-1].log_id >= log_id:
            raise Misbehaved("heads are not sorted by log_id")
        heads.append(Head(log_id, size, root))
    return heads


def entries_path(log_id: bytes, after_seq: int, limit: int, first: int) -> str:
    return f"{PREFIX}/logs/{codec.b64u(log_id)}/entries?after_seq={after_seq}&limit={limit}&first={first}"


def _msg(status: int, value: dict[str, Any]) -> Reply:
    return Reply(status, codec.encode(value))


def _error(status: int, code: str, message: str, **extra: Any) -> Reply:
    return _msg(status, {"error": code, "message": message, **extra})


# --- server --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quota:
    """Per-sender token bucket: ``burst`` requests at once, refilled at ``rate`` per second."""

    rate: float = 50.0
    burst: float = 200.0


@dataclass
class _Bucket:
    tokens: float
    at: float


async def _direct(fn: Callable[[], T]) -> T:
    return fn()


class GossipServer:
    """Answers gossip requests from ``sender`` (an authenticated node id) about ``replica``.

    ``is_trusted(key)`` says whether a key is in the peer table: untrusted senders get 403, heads of
    untrusted logs are ignored. ``run_write`` runs a replica write on the writer thread; ``run_read`` a
    read (default: on the loop). ``on_heads(sender, heads)`` hands a peer's pushed heads to the engine,
    ``on_fork(proof, sender)`` a newly stored fork proof, ``penalise(sender, reason)`` reports bad data.
    """

    def __init__(
        self,
        replica: Any,
        run_write: RunWrite[Any],
        is_trusted: Callable[[bytes], bool],
        *,
        run_read: RunWrite[Any] = _direct,
        on_heads: Callable[[bytes, list[Head]], int] | None = None,
        on_fork: Callable[[bytes, bytes], None] | None = None,
        penalise: Callable[[bytes, str], None] | None = None,
        quota: Quota = Quota(),
        page_limit: int = 4000,
    ) -> None:
        self.replica, self.run_write, self.run_read = replica, run_write, run_read
        self.is_trusted = is_trusted
        self.on_heads, self.on_fork, self.penalise = on_heads, on_fork, penalise
        self.quota, self.page_limit = quota, page_limit
        self._buckets: dict[bytes, _Bucket] = {}

    async def handle(self, sender: bytes, method: str, path: str, body: bytes) -> Reply:
        if not self.is_trusted(sender):
            return _error(403, "untrusted-sender", "the sender is not in this node's peer table")
        if not self._allow(sender):
            return _error(429, "quota", "too many requests from this peer")
        if len(body) > MAX_REQUEST:
            return _error(413, "too-large", f"request bodies are at most {MAX_REQUEST} bytes")
        parts = urlsplit(path)
        try:
            if method == "POST" and parts.path == DIGEST:
                return await self.rpc_digest(sender, body)
            if method == "POST" and parts.path == HEADS:
                return await self.rpc_heads(sender, body)
            if method == "POST" and parts.path == FORKS:
                return await self.rpc_forks(sender, body)
            segments = parts.path.split("/")
            if (
                method == "GET"
                and len(segments) == 6
                and "/".join(segments[:4]) == f"{PREFIX}/logs"
                and (segments[5] == "entries")
            ):
                return await self.rpc_entries(sender, segments[4], parts.query)
        except Misbehaved as exc:
            self._penalise(sender, exc.reason)
            return _error(400, "bad-request", exc.reason)
        return _error(404, "not-found", f"no {method} {parts.path}")

    def _allow(self, sender: bytes) -> bool:
        now = asyncio.get_running_loop().time()
        bucket = self._buckets.setdefault(sender, _Bucket(self.quota.burst, now))
        bucket.tokens = min(self.quota.burst, bucket.tokens + (now - bucket.at) * self.quota.rate)
        bucket.at = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def _penalise(self, sender: bytes, reason: str) -> None:
        log.warning("peer %s sent bad data: %s", codec.short_id(sender), reason)
        if self.penalise is not None:
            self.penalise(sender, reason)

    async def rpc_digest(self, sender: bytes, body: bytes) -> Reply:
        request = decode_message(body)
        heads: list[Head] = await self.run_read(self.replica.heads)
        if "hash" in request:
            if not isinstance(request["hash"], bytes):
                raise Misbehaved("hash is bytes")
            if request["hash"] == digest(heads):
                return _msg(200, {"equal": True})
            if len(heads) <= INLINE_HEADS:
                return _msg(200, {"heads": _wire(heads)})
            return _msg(200, {"buckets": [[b, h] for b, h in bucket_hashes(heads).items()]})
        wanted = request.get("buckets")
        if not isinstance(wanted, list) or not all(
            isinstance(b, int) and not isinstance(b, bool) and 0 <= b < BUCKETS for b in wanted
        ):
            raise Misbehaved("a digest request carries a hash or a list of bucket numbers")
        chosen = set(wanted)
        return _msg(200, {"heads": _wire(h for h in heads if bucket_of(h.log_id) in chosen)})

    async def rpc_heads(self, sender: bytes, body: bytes) -> Reply:
        heads = decode_heads(decode_message(body).get("heads"))
        scheduled = self.on_heads(sender, heads) if self.on_heads is not None else 0
        return _msg(200, {"pulls": scheduled})

    async def rpc_entries(self, sender: bytes, log_text: str, query: str) -> Reply:
        try:
            log_id = codec.unb64u(log_text, KEY_SIZE)
            params = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=True))
            after_seq, limit, first = (int(params[k]) for k in ("after_seq", "limit", "first"))
        except (DecodeError, ValueError, KeyError) as exc:
            raise Misbehaved(f"bad entries request: {exc}") from exc
        head: Head | None = await self.run_read(partial(self.replica.head, log_id))
        if head is None:
            return _error(404, "unknown-log", "this node holds no such log")
        if not (after_seq >= -1 and limit >= 1 and 0 <= first <= head.size):
            raise Misbehaved("after_seq >= -1, limit >= 1 and 0 <= first <= size")
        try:
            page: bytes = await self.run_read(
                partial(self.replica.page_bytes, log_id, after_seq, min(limit, self.page_limit), first)
            )
        except Frozen as exc:
            extra = {} if exc.proof is None else {"proof": exc.proof}
            return _error(409, "log-frozen", exc.reason, **extra)
        return Reply(200, page)

    async def rpc_forks(self, sender: bytes, body: bytes) -> Reply:
        proof = decode_message(body).get("proof")
        if not isinstance(proof, bytes) or len(proof) > MAX_PROOF:
            raise Misbehaved("a fork message carries a proof of bytes")
        try:
            new = await self.run_write(partial(self.replica.add_fork, proof))
        except BadData as exc:
            raise Misbehaved(f"bad fork proof ({exc.step}): {exc.message}") from exc
        if new and self.on_fork is not None:
            self.on_fork(proof, sender)
        return _msg(200, {"new": bool(new)})


# --- engine --------------------------------------------------------------------------------------------


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
    peer table. Start and stop
    it with ``start``/``stop`` (or ``async with``): every task it spawns is owned by one ``TaskGroup``.
    """

    def __init__(
        self,
        me: bytes,
        replica: Any,
        transport: Transport,
        peers: Callable[[], list[bytes]],
        run_write: RunWrite[Any],
        *,
        rng: random.Random | None = None,
        own_log: bytes | None = None,
        trusted: Callable[[bytes], bool] = lambda log_id: True,
        interval_s: float = 10.0,
        jitter: float = 0.5,
        fanout: int = 3,
        page_limit: int = 4000,
        deadline_s: float = 30.0,
        max_pending: int = 1000,
        workers: int = 4,
        periodic: bool = True,
        penalise: Callable[[bytes, str], None] = _ignore_peer,
        record_success: Callable[[bytes], None] = _ignore_peer,
        record_failure: Callable[[bytes, str], None] = _ignore_peer,
        on_peer_heads: Callable[[bytes, list[Head]], None] = _ignore_peer,
    ) -> None:
        self.me, self.replica, self.transport = me, replica, transport
        self.peers, self.run_write = peers, run_write
        self.rng = rng or random.Random()
        self.own_log = me if own_log is None else own_log
        self.trusted = trusted
        self.interval_s, self.jitter, self.fanout, self.page_limit = interval_s, jitter, fanout, page_limit
        self.deadline_s, self.workers, self.periodic = deadline_s, workers, periodic
        self._penalise, self._success, self._failure = penalise, record_success, record_failure
        self._on_peer_heads = on_peer_heads  # what a peer holds, as it told us (for the operator's "lag")
        self.stats = Stats()
        self._busy: set[bytes] = set()  # peers with an exchange in progress
        self._log_locks: dict[bytes, asyncio.Lock] = {}
        self._pending: dict[tuple[bytes, bytes], Head] = {}
        self._queue: asyncio.Queue[tuple[bytes, bytes]] = asyncio.Queue(max_pending)
        self._group: asyncio.TaskGroup | None = None
        self._runner: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        ready = asyncio.Event()
        self._runner = asyncio.create_task(self.run(ready))
        await ready.wait()

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner

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
                for _ in range(self.workers):
                    group.create_task(self._work())
                if self.periodic:
                    group.create_task(self._loop())
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
        """Wait until no pull is queued or running (for simulations and tests)."""
        await self._queue.join()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s * (1 + self.jitter * (2 * self.rng.random() - 1)))
            peer = self._choose()
            if peer is not None:
                self._spawn(self._round(peer))

    def _choose(self) -> bytes | None:
        candidates = [p for p in self.peers() if p != self.me and p not in self._busy]
        return self.rng.choice(candidates) if candidates else None

    async def _round(self, peer: bytes) -> None:
        await self.run_round(peer)

    # --- outcome of talking to one peer ------------------------------------------------------------

    async def _guarded(self, peer: bytes, work: Callable[[], Awaitable[None]]) -> bool:
        """Run ``work`` against ``peer`` under the deadline and sort its outcome; True on success."""
        try:
            async with asyncio.timeout(self.deadline_s):
                await work()
        except BadData as exc:
            self._bad(peer, f"{exc.step}: {exc.message}")
        except Misbehaved as exc:
            self._bad(peer, exc.reason)
        except (TransportError, TimeoutError, Refused) as exc:
            self.stats.failures += 1
            why = str(exc) or f"no answer within {self.deadline_s:g} s"
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
            raise Refused(reply.status, _error_code(reply))
        return decode_message(reply.body)

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
        ours: list[Head] = self.replica.heads()
        answer = await self._rpc(peer, DIGEST, {"hash": digest(ours)})
        if answer.get("equal") is True:
            self.stats.equal += 1
            return
        compared: set[int] | None = None  # buckets compared; None: all
        if "heads" in answer:
            theirs = decode_heads(answer["heads"])
        else:
            their_buckets = _decode_buckets(answer.get("buckets"))
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
            await self._rpc(peer, HEADS, {"heads": _wire(ahead)})
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
        """Pull pages until we hold ``theirs``. The next page is requested as soon as a page arrives, so
        the peer serves it and this loop decodes it while the writer verifies and commits the current one;
        it is used only if that commit leaves us exactly where it starts (a refused or trimmed page makes
        it stale: it is dropped and asked for again)."""
        log_id = theirs.log_id
        ahead: asyncio.Task[Page | None] | None = None
        ahead_from = -1  # the tree size the prefetched page starts at (its ``first``)
        try:
            while not self.replica.frozen(log_id):
                head: Head | None = self.replica.head(log_id)
                size = head.size if head is not None else 0
                if size > theirs.size or (size == theirs.size and (head is None or head.root == theirs.root)):
                    return
                if size == theirs.size:  # same size, other root: fetch our last position, the replica judges
                    page = await self._page(peer, log_id, size - 2, 1, size)
                elif ahead is not None and ahead_from == size:
                    page, ahead = await ahead, None
                else:
                    page = await self._page(peer, log_id, size - 1, self.page_limit, size)
                if ahead is not None:  # stale
                    await _cancelled(ahead)
                    ahead = None
                if page is None:
                    return
                if not page.entries:
                    raise Misbehaved(f"empty page below the advertised size {theirs.size}")
                end = page.entries[-1].seq + 1
                if size < end < theirs.size:
                    ahead, ahead_from = (
                        asyncio.create_task(self._page(peer, log_id, end - 1, self.page_limit, end)),
                        end,
                    )
                try:
                    result = await self.run_write(partial(self.replica.ingest, log_id, page))
                except BadData as exc:
                    if exc.step == "consistency" and size > 0:
                        await self._probe_fork(peer, log_id, size)  # ForkFound if the histories diverged
                    raise
                self.stats.pulled += result.appended
                if result.appended == 0:
                    return
        finally:
            if ahead is not None:
                await _cancelled(ahead)

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
            answer = decode_message(reply.body)
            proof = answer.get("proof")
            if isinstance(proof, bytes):
                await self._learn_fork(peer, proof)
            return None
        if reply.status != 200:
            raise Refused(reply.status, _error_code(reply))
        page = Page.decode(reply.body)
        # its signature checks start now, while the pages before it are still being ingested
        preverify: Callable[[bytes, Page], Page] | None = getattr(self.replica, "preverify", None)
        return page if preverify is None else preverify(log_id, page)

    def heads_received(self, sender: bytes, heads: list[Head]) -> int:
        """``GossipServer.on_heads``: queue pulls from ``sender`` where it is ahead; the number queued.
        A full queue drops the rest: the next rounds find them again."""
        queued = 0
        for theirs in heads:
            if theirs.log_id == self.own_log or not self.trusted(theirs.log_id):
                continue
            ours: Head | None = self.replica.head(theirs.log_id)
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
        for peer in self.rng.sample(candidates, min(self.fanout, len(candidates))):
            self._spawn(self._push(peer, head))

    async def _push(self, peer: bytes, head: Head) -> None:
        self.stats.pushes += 1
        await self._guarded(peer, partial(self._rpc_none, peer, HEADS, {"heads": _wire([head])}))

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
        pre = getattr(page, "_preverified", None)
        if pre is not None:
            pre.cancel()  # checks nobody will wait for
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():  # we are being cancelled too
            raise
    except Exception as exc:  # the page was not going to be used: its failure is not news
        log.debug("discarded prefetch ended with %r", exc)


def _decode_buckets(value: object) -> dict[int, bytes]:
    if not isinstance(value, list):
        raise Misbehaved("a digest answer carries equal, heads or buckets")
    buckets: dict[int, bytes] = {}
    for item in value:
        if not (isinstance(item, list) and len(item) == 2):
            raise Misbehaved("a bucket is [number, hash]")
        number, digest_ = item
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < BUCKETS:
            raise Misbehaved("a bucket number is 0..255")
        if not isinstance(digest_, bytes) or len(digest_) != HASH_SIZE or number in buckets:
            raise Misbehaved("a bucket hash is 32 bytes, once per bucket")
        buckets[number] = digest_
    return buckets


def _error_code(reply: Reply) -> str:
    with contextlib.suppress(ProtocolError):
        value = codec.decode(reply.body, MESSAGE_LIMITS)
        if isinstance(value, dict) and isinstance(value.get("error"), str):
            return str(value["error"])
    return "http"


__all__: Sequence[str] = [
    "BUCKETS",
    "DIGEST",
    "FORKS",
    "HEADS",
    "INLINE_HEADS",
    "Gossip",
    "GossipServer",
    "Misbehaved",
    "Quota",
    "Refused",
    "Stats",
    "bucket_hashes",
    "bucket_of",
    "decode_heads",
    "digest",
    "entries_path",
]
