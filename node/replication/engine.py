"""A node's place in the federation: its peers, its replicas of their logs, gossip and witnessing.

Wires ``federation``'s transport-free parts to this node: reads run on the node's read connection (on the
event loop), every write on the writer thread, requests over signed HTTP. Owned by the app's lifecycle:
``start`` and ``stop`` start and await everything it runs (STYLE.md 11).

Its check, after a start, that no peer holds more of our own log, and taking that log back, are
``node.replication.ownlog``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import aiohttp

from federation.aggregate import Aggregate
from federation.client import RemoteError, SignedClient, TransportError
from federation.gossip import Gossip, GossipServer
from federation.peers import Peer, PeerTable
from federation.replica import Head, IngestResult, Replica
from federation.store import LogStore, receipts
from federation.tasks import cancel_and_wait, wait_or_timeout
from federation.transport import MSGPACK, HttpTransport
from federation.verifypool import VerifyPool
from federation.witness import Collector, ReplyError, WitnessError, WitnessReply
from federation.witness import Witness as WitnessService
from node.config import NodeConfig
from node.replication.ownlog import OwnLog
from node.replication.roster import RosterView
from node.replication.split import SplitReplica
from node.storage import clock as node_clock
from node.storage.writer import Writer
from protocol import codec
from protocol.keys import PublicKey

log = logging.getLogger("shora.replication")
APPLY = "/v1/federation/apply"


def _now_s() -> float:
    """The node's one clock (``clock.now_ms``, looked up each call), in seconds: entries are judged
    against it, receipts and witness cosignatures stamped with it."""
    return node_clock.now_ms() / 1000


@dataclass
class PeerView:
    peer: Peer
    lag: int | None
    forks: list[bytes]


class Replication:
    def __init__(
        self,
        config: NodeConfig,
        writer: Writer,
        reader: sqlite3.Connection,
        session: aiohttp.ClientSession,
        *,
        peers_unreachable_ok: bool = False,
    ) -> None:
        self.config, self.writer, self.reader, self.session = config, writer, reader, session
        self.me = config.node_id
        key = writer.key
        settings = config.settings
        self.peers = PeerTable(reader, settings)
        self._peers_w = PeerTable(writer.conn, settings)
        self.pool = VerifyPool(workers=settings.verify_workers)  # processes: not this process's GIL
        self.decoders = VerifyPool(settings.decode_workers, niceness=0) if settings.decode_workers else None
        roots = [self.me] if config.kind == "federation" else []
        if config.federation is not None:
            roots.append(config.federation[1])
        self.roster = RosterView(LogStore(reader), roots)
        trusted = self.trusted
        self.replica = SplitReplica(
            Replica(reader, self.me, trusted, settings=settings, clock=_now_s),
            Replica(writer.conn, self.me, trusted, self.pool, settings, clock=_now_s),
            self.roster.limit,
            on_fork=self._fork_stored,
        )
        self.witness = WitnessService(
            writer.conn, key, lambda log_id: PublicKey(log_id) if trusted(log_id) else None
        )
        self.collector = Collector(writer.conn, key)
        self.transport = HttpTransport(session, key, self._url_of, settings)
        self.gossip = Gossip(
            self.me,
            self.replica,
            self.transport,
            self._available,
            writer.run,
            trusted=trusted,
            penalise=self._penalise,
            record_success=self._success,
            record_failure=self._failure,
            on_peer_heads=self._peer_heads,
            settings=settings,
            decode_pool=self.decoders,
        )
        self.server = GossipServer(
            self.replica,
            writer.run,
            trusted,
            on_heads=self._heads_pushed,
            on_fork=self.gossip.fork_received,
            penalise=self._penalise,
            settings=settings,
        )
        # A federation body keeps the aggregated picture of what it holds, folded in as entries arrive.
        self._aggregate_w: Aggregate | None = None
        if config.kind == "federation":
            self._aggregate_w = Aggregate(writer.conn, self.me)
            self.replica.after_ingest.append(lambda log_id, result: self._fold(log_id))
        self._lags: dict[bytes, int] = {}
        self.own_log = OwnLog(
            config,
            writer,
            self.replica,
            self.peers,
            self.transport,
            self.pool,
            self._penalise,
            peers_unreachable_ok=peers_unreachable_ok,
        )
        self.surveyed = self.own_log.surveyed  # set each time the start's check with the peers has concluded
        self._failures: dict[bytes, str] = {}  # each peer's newest failure, for `shora sync` to report
        self._admitted = False  # our federation answered that we are on its roster (until its log arrives)
        self._dirty = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle ---------------------------------------------------------------------------------

    def _fold(self, log_id: bytes) -> None:
        """On the writer thread, right after an ingest or an own append: fold the new entries in."""
        if self._aggregate_w is not None:
            self._aggregate_w.update(log_id)

    async def start(self) -> None:
        if self._aggregate_w is not None:
            await self.writer.run(self._aggregate_w.update_all)  # entries a crash left unfolded
        if self.config.federation is not None and self.peers.get(self.config.federation[1]) is None:
            await self.add_peer(self.config.federation[1], self.config.federation[0])
        self._tasks.append(asyncio.create_task(self._roster_loop(), name="shora-roster"))
        self.writer.on_append.append(self._appended)
        await self.gossip.start()
        self.own_log.hold()
        self._tasks.append(asyncio.create_task(self.own_log.check_then_open(), name="shora-own-log-check"))
        self._tasks.append(asyncio.create_task(self._collect_loop(), name="shora-cosignatures"))

    async def stop(self) -> None:
        try:
            await cancel_and_wait(*self._tasks)
            await self.gossip.stop()
        finally:
            self.pool.shutdown(wait=True)
            if self.decoders is not None:
                self.decoders.shutdown(wait=True)

    # --- trust ------------------------------------------------------------------------------------

    def trusted(self, node_id: bytes) -> bool:
        """A key we replicate and answer: a peer the operator added, or a member of a roster we trust."""
        if self.roster.retired(node_id):
            return False
        return self.peers.trusted(node_id) or self.roster.trusted(node_id)

    def key_of(self, node_id: bytes) -> PublicKey | None:
        return PublicKey(node_id) if self.trusted(node_id) else None

    async def _roster_loop(self) -> None:
        """Peer with the members of the rosters we trust; apply to our federation until admitted."""
        next_application = 0.0
        seen = -1  # the roster version whose members are all peers already
        while True:
            await asyncio.sleep(self.config.settings.roster_poll_s)
            try:
                next_application, seen = await self._roster_step(next_application, seen)
            except Exception:  # a bug here must not end peering and applying for the life of the node
                log.exception("roster step failed; trying again")

    async def _roster_step(self, next_application: float, seen: int) -> tuple[float, int]:
        """Peer with roster members not yet peers (when the roster changed); apply again when due."""
        self.roster.members()  # recomputed (a new version) when a roster grew
        if self.roster.version != seen:
            await self.peer_with_roster()
            seen = self.roster.version
        federation = self.config.federation
        loop = asyncio.get_running_loop()
        if (
            federation is not None
            and not self._admitted
            and not self.roster.admitted(self.me)
            and loop.time() >= next_application
            and not self.public_url().endswith(":0")  # wait until we know where we listen
        ):
            delivered = await self.apply_to(*federation)
            settings = self.config.settings
            next_application = loop.time() + (
                settings.apply_retry_s if delivered else settings.roster_poll_s * 5
            )
        return next_application, seen

    async def peer_with_roster(self) -> None:
        """Add as peers the roster members that trust us back: those admitted by this node or by the
        federation it belongs to. A council admitted by another federation (a continent's view of a
        country's councils) knows nothing of us and would refuse us for ever (403 request-unknown-key);
        its log reaches us through the federation that admitted it, which holds it."""
        for member in self.roster.members().values():
            if (
                member.admitted_by in self.roster.roots
                and member.key != self.me
                and member.url
                and self.peers.get(member.key) is None
            ):
                with contextlib.suppress(ValueError):
                    await self.add_peer(member.key, member.url)

    def public_url(self) -> str:
        """Where peers reach us: the configured URL, or the address really bound when it named port 0."""
        address = self.config.dir / "serve.addr"
        if self.config.url.endswith(":0") and address.exists():
            return f"http://{address.read_text().strip()}"
        return self.config.url

    async def apply_to(self, url: str, key: bytes) -> bool:
        """Send our signed application for admission to the federation at ``url`` (its key: ``key``)."""
        profile = dict(self.config.profile)
        body = codec.encode(
            {
                "kind": self.config.kind,
                "url": self.public_url(),
                **{k: str(profile.get(k, "")) for k in ("name", "name_fa", "city", "country", "continent")},
            }
        )
        client = SignedClient(
            self.session, url, self.writer.key, key, timeout=self.config.settings.request_timeout_s
        )
        try:
            await client.request("POST", APPLY, body, content_type=MSGPACK, accept=MSGPACK)
        except RemoteError as exc:
            if exc.code == "already-admitted":  # its roster has not reached us yet: it will, by gossip
                if not self._admitted:
                    log.info("the federation at %s has admitted this node", url)
                self._admitted = True
                return True
            log.info("application to the federation at %s not delivered: %s", url, exc.message)
            return False
        except TransportError as exc:
            log.info("application to the federation at %s not delivered: %s", url, exc)
            return False
        log.info("applied for admission to the federation at %s", url)
        return True

    # --- peers -------------------------------------------------------------------------------------

    def _fork_stored(self) -> None:
        """After a fork proof is stored (on the writer thread): one of our own log stops our appends with a
        clear refusal (422), rather than commits failing on a frozen log."""
        held = self.replica.writer.store.fork(self.me)
        if held is not None:
            self.writer.block(f"our own log is frozen: a peer holds a fork proof of it ({held[1]})")

    def _url_of(self, node_id: bytes) -> str | None:
        peer = self.peers.get(node_id)
        return peer.url if peer else None

    def _available(self) -> list[bytes]:
        available = self.peers.available(node_clock.now_ms())
        return [p.node_id for p in available if not self.roster.retired(p.node_id)]

    def _post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Fire-and-forget a peer-table write on the writer thread (its errors are logged, not lost)."""

        def report(done: Future[Any]) -> None:
            if done.exception() is not None:
                log.error("peer table: %s", done.exception())

        self.writer.submit_sync(fn, *args).add_done_callback(report)

    def _penalise(self, peer: bytes, reason: str) -> None:
        self._post(self._peers_w.penalise, peer, reason, node_clock.now_ms())

    def _success(self, peer: bytes) -> None:
        self._post(self._peers_w.record_success, peer, node_clock.now_ms())

    def _failure(self, peer: bytes, error: str) -> None:
        self._failures[peer] = error
        self._post(self._peers_w.record_failure, peer, node_clock.now_ms(), error)

    def _peer_heads(self, peer: bytes, theirs: list[Head]) -> None:
        ours = {h.log_id: h.size for h in self.replica.heads()}
        self._lags[peer] = sum(
            max(0, h.size - ours.get(h.log_id, 0)) for h in theirs if self.trusted(h.log_id)
        )
        self._heard(theirs)

    def _heard(self, heads: list[Head]) -> None:
        """A federation body notes when it last heard of each trusted log's head, from a signed gossip
        message: a proposal closes early only once every admitted council was heard past its deadline."""
        if self.config.kind != "federation":
            return
        heard = [(h.log_id, h.size) for h in heads if h.log_id != self.me and self.trusted(h.log_id)]
        if heard:
            self._post(self._note_heard, heard, node_clock.now_ms())

    def _note_heard(self, heard: list[tuple[bytes, int]], when_ms: int) -> None:
        with self.replica.writer.store.transaction():
            for log_id, size in heard:
                receipts.heard(self.writer.conn, log_id, size, when_ms)

    def _heads_pushed(self, sender: bytes, heads: list[Head]) -> int:
        self._heard(heads)
        return self.gossip.heads_received(sender, heads)

    async def add_peer(self, node_id: bytes, url: str) -> Peer:
        if node_id == self.me:
            raise ValueError("a node is not its own peer")
        peer: Peer = await self.writer.run(self._peers_w.add, node_id, url, node_clock.now_ms())
        self._dirty.set()
        return peer

    async def remove_peer(self, node_id: bytes) -> bool:
        """Stop gossiping with and witnessing for ``node_id``; the entries held of its log stay."""
        removed: bool = await self.writer.run(self._peers_w.remove, node_id)
        self._lags.pop(node_id, None)
        self._failures.pop(node_id, None)
        return removed

    def view(self) -> list[PeerView]:
        forks = self.replica.forks()
        return [
            PeerView(p, self._lags.get(p.node_id), [proof for log_id, proof in forks if log_id == p.node_id])
            for p in self.peers.all()
        ]

    async def witness_call(self, body: bytes) -> WitnessReply:
        """``add-checkpoint`` from a peer: judged and stored on the writer thread, at the node's clock."""
        reply: WitnessReply = await self.writer.run(self.witness.add_checkpoint, body, int(_now_s()))
        if reply.fork is not None:  # the request proved a fork: kept, the log frozen; tell every peer
            self.gossip.fork_proven(reply.fork)
        return reply

    # --- pushing our news and collecting cosignatures --------------------------------------------------

    def _appended(self) -> None:
        if self._aggregate_w is not None:
            self.writer.submit_sync(self._fold, self.me)
        self.gossip.notify_local_append()
        self._dirty.set()

    async def _collect_loop(self) -> None:
        """Collect cosignatures after every append, and retry now and then for peers that missed one."""
        while True:
            # never asyncio.wait_for: on 3.11 it swallows a cancellation that comes as the event is set
            await wait_or_timeout(self._dirty, self.config.settings.cosign_retry_s)
            self._dirty.clear()
            try:
                await self.collect_cosignatures()
            except Exception:  # a bug here must not end cosigning for the life of the node
                log.exception("collecting cosignatures failed; trying again at the next append")

    async def collect_cosignatures(self) -> int:
        """Ask every available peer to witness our newest checkpoint; the number of cosignatures added."""
        results = await asyncio.gather(*(self._witness_by(peer) for peer in self._available()))
        return sum(results)

    async def _witness_by(self, peer: bytes) -> int:
        for _ in range(2):  # a 409 tells us the size the witness holds; ask once more from there
            try:
                body = await self.writer.run(self.collector.request_for, peer)
                reply = await self.transport.call(peer, "POST", "/v1/federation/add-checkpoint", body)
                answer = WitnessReply(reply.status, reply.body, reply.content_type)
                size = await self.writer.run(self.collector.accept, peer, answer, body)
                if reply.status == 200:
                    self.writer.log_version += 1  # the note now carries one more cosignature
            except ReplyError as exc:
                self._penalise(peer, f"witness: {exc}")
                return 0
            except (WitnessError, TransportError) as exc:
                log.info("peer %s did not cosign: %s", codec.short_id(peer), exc)
                return 0
            if reply.status == 200:
                return 1
            log.info("peer %s holds size %d of our log; asking again", codec.short_id(peer), size)
        return 0

    # --- our own log after a restart (node.replication.ownlog) ----------------------------------------

    async def peers_ahead(self) -> dict[bytes, int]:
        """Peers holding a longer, validly signed checkpoint of our own log than we do."""
        return await self.own_log.peers_ahead()

    def restore_own(self) -> AsyncIterator[IngestResult]:
        """Take our own log back from the peers that hold more of it, then accept appends again."""
        return self.own_log.restore_own()

    async def sync(self) -> AsyncIterator[tuple[Peer, str | None, int]]:
        """One round with every peer now, those in backoff too (the operator asked): (peer, why it failed
        or None, entries pulled in this round). Members newly on a roster we trust are peered with first."""
        await self.peer_with_roster()
        for peer in self.peers.all():
            before = self.gossip.stats.pulled
            self._failures.pop(peer.node_id, None)
            await self.gossip.run_round(peer.node_id)  # False also when a round with it is under way
            await self.gossip.idle()
            yield peer, self._failures.get(peer.node_id), self.gossip.stats.pulled - before
