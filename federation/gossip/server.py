"""The answering half of gossip: ``GossipServer.handle(sender, method, path, body) -> Reply``.

Transport-free (STYLE.md 8): ``federation.routes`` calls it after verifying the RFC 9421 signature,
``MemoryTransport`` directly. Requests are checked for size before they are decoded, and rate-limited per
sender; a request that breaks the protocol is answered 400 and its sender penalised.

    POST …/digest  {"hash": H}        -> {"equal": true} | {"heads": [..]} | {"buckets": [[b, h]..]}
    POST …/digest  {"buckets": [b..]} -> {"heads": [..]}       (the heads in those buckets)
    POST …/heads   {"heads": [..]}    -> {"pulls": n}          (the receiver pulls from us where we are ahead)
    GET  …/logs/{b64u log_id}/entries?after_seq=S&limit=N&first=M -> Page (replica.Page.encode) | 409
    POST …/forks   {"proof": bytes}   -> {"new": bool}

(``…`` is ``/v1/federation``.)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl, urlsplit

from federation.errors import BadData, Frozen, Misbehaved
from federation.gossip.wire import (
    BUCKETS,
    DIGEST,
    FORKS,
    HEADS,
    INLINE_HEADS,
    KEY_SIZE,
    MAX_PROOF,
    PREFIX,
    bucket_hashes,
    bucket_of,
    decode_heads,
    decode_message,
    digest,
    error,
    message,
    wire_heads,
)
from federation.quota import TokenBuckets
from federation.replica import Head, ReplicaLike
from federation.settings import DEFAULTS, FederationSettings
from federation.transport import Reply
from protocol import codec
from protocol.errors import DecodeError

T = TypeVar("T")
MAX_SEQ = 2**63  # positions and counts are SQLite integers: larger ones are refused, not overflowed

log = logging.getLogger("shora.gossip")


class RunOn(Protocol):
    """Runs ``fn()`` somewhere (the writer thread, say) and gives its result back."""

    def __call__(self, fn: Callable[[], T], /) -> Awaitable[T]: ...


async def direct(fn: Callable[[], T]) -> T:
    """``RunOn`` that runs ``fn`` right here, on the event loop."""
    return fn()


class GossipServer:
    """Answers gossip requests from ``sender`` (an authenticated node id) about ``replica``.

    ``is_trusted(key)`` says whether a key is in the peer table: untrusted senders get 403, heads of
    untrusted logs are ignored. ``run_write`` runs a replica write on the writer thread; ``run_read`` a
    read (default: on the loop). ``on_heads(sender, heads)`` hands a peer's pushed heads to the engine,
    ``on_fork(proof, sender)`` a newly stored fork proof, ``penalise(sender, reason)`` reports bad data.
    Quotas, the request size and the page limit come from ``settings``.
    """

    def __init__(
        self,
        replica: ReplicaLike,
        run_write: RunOn,
        is_trusted: Callable[[bytes], bool],
        *,
        run_read: RunOn = direct,
        on_heads: Callable[[bytes, list[Head]], int] | None = None,
        on_fork: Callable[[bytes, bytes], None] | None = None,
        penalise: Callable[[bytes, str], None] | None = None,
        settings: FederationSettings = DEFAULTS,
    ) -> None:
        self.replica, self.run_write, self.run_read = replica, run_write, run_read
        self.is_trusted = is_trusted
        self.on_heads, self.on_fork, self.penalise = on_heads, on_fork, penalise
        self.settings = settings
        self.quota = TokenBuckets(settings.gossip_quota_rate, settings.gossip_quota_burst)

    async def handle(self, sender: bytes, method: str, path: str, body: bytes) -> Reply:
        """Answer a request from ``sender``, charging its quota first (``MemoryTransport``'s way in)."""
        if self.is_trusted(sender) and not self.quota.take(sender):
            return error(429, "quota", "too many requests from this peer")
        return await self.answer(sender, method, path, body)

    async def answer(self, sender: bytes, method: str, path: str, body: bytes) -> Reply:
        """Answer a request whose quota was already charged (``federation.routes`` charges it while it
        verifies the signature, before the nonce is recorded)."""
        if not self.is_trusted(sender):
            return error(403, "untrusted-sender", "the sender is not in this node's peer table")
        limit = self.settings.max_request_bytes
        if len(body) > limit:
            return error(413, "too-large", f"request bodies are at most {limit} bytes")
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
            return error(400, "bad-request", exc.reason)
        return error(404, "not-found", f"no {method} {parts.path}")

    def _penalise(self, sender: bytes, reason: str) -> None:
        log.warning("peer %s sent bad data: %s", codec.short_id(sender), reason)
        if self.penalise is not None:
            self.penalise(sender, reason)

    def _decode(self, body: bytes) -> dict[str, Any]:
        return decode_message(body, self.settings.max_request_bytes)

    async def rpc_digest(self, sender: bytes, body: bytes) -> Reply:
        request = self._decode(body)
        heads = await self.run_read(self.replica.heads)
        if "hash" in request:
            if not isinstance(request["hash"], bytes):
                raise Misbehaved("hash is bytes")
            if request["hash"] == digest(heads):
                return message(200, {"equal": True})
            if len(heads) <= INLINE_HEADS:
                return message(200, {"heads": wire_heads(heads)})
            return message(200, {"buckets": [[b, h] for b, h in bucket_hashes(heads).items()]})
        wanted = request.get("buckets")
        if not isinstance(wanted, list) or not all(
            isinstance(b, int) and not isinstance(b, bool) and 0 <= b < BUCKETS for b in wanted
        ):
            raise Misbehaved("a digest request carries a hash or a list of bucket numbers")
        chosen = set(wanted)
        return message(200, {"heads": wire_heads(h for h in heads if bucket_of(h.log_id) in chosen)})

    async def rpc_heads(self, sender: bytes, body: bytes) -> Reply:
        heads = decode_heads(self._decode(body).get("heads"))
        scheduled = self.on_heads(sender, heads) if self.on_heads is not None else 0
        return message(200, {"pulls": scheduled})

    async def rpc_entries(self, sender: bytes, log_text: str, query: str) -> Reply:
        try:
            log_id = codec.unb64u(log_text, KEY_SIZE)
            params = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=True))
            after_seq, limit, first = (int(params[k]) for k in ("after_seq", "limit", "first"))
        except (DecodeError, ValueError, KeyError) as exc:
            raise Misbehaved(f"bad entries request: {exc}") from exc
        head = await self.run_read(partial(self.replica.head, log_id))
        if head is None:
            return error(404, "unknown-log", "this node holds no such log")
        if not (-1 <= after_seq < MAX_SEQ and 1 <= limit < MAX_SEQ and 0 <= first <= head.size):
            raise Misbehaved("after_seq >= -1, limit >= 1 and 0 <= first <= size")
        limit = min(limit, self.settings.page_entries_max)
        try:
            page = await self.run_read(partial(self.replica.page_bytes, log_id, after_seq, limit, first))
        except Frozen as exc:
            extra = {} if exc.proof is None else {"proof": exc.proof}
            return error(409, "log-frozen", exc.reason, **extra)
        return Reply(200, page)

    async def rpc_forks(self, sender: bytes, body: bytes) -> Reply:
        proof = self._decode(body).get("proof")
        if not isinstance(proof, bytes) or len(proof) > MAX_PROOF:
            raise Misbehaved("a fork message carries a proof of bytes")
        try:
            new = await self.run_write(partial(self.replica.add_fork, proof))
        except BadData as exc:
            raise Misbehaved(f"bad fork proof ({exc.step}): {exc.message}") from exc
        if new and self.on_fork is not None:
            self.on_fork(proof, sender)
        return message(200, {"new": bool(new)})
