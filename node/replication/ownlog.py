"""Our own log after a restart: before the node appends to it, no peer may hold more of it.

Before the node appends to its own log after a start, it asks its peers for their newest checkpoint of that
log (docs/gossip.md, "Forks"): a node restored from an old backup must not sign a second history. While
any peer holds more, appends are refused until ``restore_own`` pulls the log back; while it has peers and
none answers, appends are refused too (fail closed) unless the operator says ``--peers-unreachable-ok``.
The replication engine (``node.replication.engine``) holds one and runs its start-up check.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from federation.client import TransportError
from federation.gossip import entries_path
from federation.peers import PeerTable
from federation.replica import BadData, IngestResult, Page, Replica
from federation.transport import HttpTransport
from federation.verifypool import VerifyPool
from node.config import NodeConfig
from node.replication.split import SplitReplica
from node.storage.writer import Writer
from node.words import plural
from protocol import codec
from protocol.errors import ProtocolError
from protocol.keys import PublicKey
from protocol.note import open_checkpoint

log = logging.getLogger("shora.replication")
RESTORE_LOG = b"\x00" * 32  # a replica that may take our own log back from peers names no own log


class OwnLog:
    """The start-up check of our own log with the peers, the writer block it keeps, and taking it back."""

    def __init__(
        self,
        config: NodeConfig,
        writer: Writer,
        replica: SplitReplica,
        peers: PeerTable,
        transport: HttpTransport,
        pool: VerifyPool,
        penalise: Callable[[bytes, str], None],
        *,
        peers_unreachable_ok: bool = False,
    ) -> None:
        self.config, self.writer, self.replica, self.peers = config, writer, replica, peers
        self.transport, self.pool, self.penalise = transport, pool, penalise
        self.peers_unreachable_ok = peers_unreachable_ok
        self.me = config.node_id
        # set each time the start's check of our own log with the peers has concluded, for now (tests and
        # status wait on it rather than on the clock)
        self.surveyed = asyncio.Event()

    def hold(self) -> None:
        """Refuse appends until ``check_then_open`` has asked the peers."""
        self.writer.block("checking with peers that none holds more of our own log")

    async def check_then_open(self) -> None:
        """Before the first append after a start: no peer may hold more of our own log. Fails closed: while
        this node has peers and none of them answers, appends stay refused (asking again, with back-off),
        unless the operator started it with ``--peers-unreachable-ok``."""
        wait = self.config.settings.roster_poll_s
        refused = False
        try:
            while True:
                ahead, answered = await self._survey()
                if answered or not self.peers.all() or self.peers_unreachable_ok:
                    break
                refused = True
                self.writer.block(
                    f"none of this node's peers ({len(self.peers.all())}) answered whether it holds more "
                    "of our own log, so appending could sign a second entry where a lost one stands. Appends "
                    "wait until a peer answers. If every peer is gone for good and this node's log is surely "
                    "its newest, start it with `shora serve --peers-unreachable-ok`."
                )
                log.error("refusing to append: %s", self.writer.blocked)
                self.surveyed.set()
                await asyncio.sleep(wait)
                wait = min(wait * 2, self.config.settings.gossip_interval_s * 6)
        finally:
            if self.writer.blocked and self.writer.blocked.startswith(("checking", "none of")):
                self.writer.block(None)
        if ahead:
            peer, size = max(ahead.items(), key=lambda item: item[1])
            self.writer.block(
                f"peer {codec.short_id(peer)} holds {plural(size, 'entry', 'entries')} of our own log, more "
                "than this node: it was probably restored from a backup. Run `shora sync --own` to take the "
                "log back first."
            )
            log.error("refusing to append: %s", self.writer.blocked)
        elif refused:  # the log said it refused: it says when that ends, and why
            why = "a peer answered and holds no more of our own log" if answered else "no peer is left to ask"
            log.info("appending again: %s", why)
        self.surveyed.set()

    async def peers_ahead(self) -> dict[bytes, int]:
        """Peers holding a longer, validly signed checkpoint of our own log than we do."""
        return (await self._survey())[0]

    async def _survey(self) -> tuple[dict[bytes, int], int]:
        """Ask every peer for its newest checkpoint of our own log: the peers holding more than we do,
        and how many peers answered at all (a well-formed answer, whatever it holds)."""
        head = self.replica.head(self.me)
        size = head.size if head else 0
        key = PublicKey(self.me)

        async def ask(peer: bytes) -> tuple[bytes, int, bool]:
            try:
                reply = await self.transport.call(peer, "GET", entries_path(self.me, size - 1, 1, size))
                if reply.status != 200:
                    return peer, 0, reply.status < 500
                page = Page.decode(reply.body)
                if page.checkpoint is None:
                    return peer, 0, True
                return peer, open_checkpoint(page.checkpoint, key).checkpoint.size, True
            except (TransportError, BadData, ProtocolError) as exc:
                log.info("peer %s could not say how much of our log it holds: %s", codec.short_id(peer), exc)
                return peer, 0, False

        answers = await asyncio.gather(*(ask(p.node_id) for p in self.peers.all()))
        return {peer: held for peer, held, _ in answers if held > size}, sum(ok for _, _, ok in answers)

    async def restore_own(self) -> AsyncIterator[IngestResult]:
        """Take our own log back from the peers that hold more of it, then accept appends again."""
        restorer = Replica(
            self.writer.conn, RESTORE_LOG, lambda log_id: log_id == self.me, self.pool, self.config.settings
        )
        for peer in sorted(await self.peers_ahead(), key=lambda p: p):
            while True:
                head = self.replica.head(self.me)
                size = head.size if head else 0
                try:
                    reply = await self.transport.call(
                        peer, "GET", entries_path(self.me, size - 1, 1000, size)
                    )
                    if reply.status != 200:
                        break
                    result = await self.writer.run(restorer.ingest, self.me, Page.decode(reply.body))
                except TransportError as exc:  # another peer may hold it too
                    log.info("peer %s could not give our log back: %s", codec.short_id(peer), exc)
                    break
                except BadData as exc:
                    self.penalise(peer, f"{exc.step}: {exc.message}")
                    break
                yield result
                if result.appended == 0:
                    break
        await self.writer.reload()
        missing = await self.writer.run(self.writer.unrecorded)
        if missing:
            # Peers hold our public log, never our record (DESIGN.md §3): the public entries taken back
            # publish record entries this node lost. Appending now would sign on top of a state we do not
            # know, at record positions we may have used, so the node stays blocked, saying why.
            self.writer.block(
                f"our public log was taken back from peers, but {missing} of its entries publish record "
                "entries this node no longer holds: peers never hold the record. Restore the record (a "
                "newer backup of this node's folder) before appending again."
            )
            log.error("%s", self.writer.blocked)
            return
        ahead, answered = await self._survey()
        # lifted only as the start-up guard would lift it: no peer holds more, and one answered (or there is
        # no peer, or the operator said they are gone for good); else it stays as it was, saying why
        if not ahead and (answered or not self.peers.all() or self.peers_unreachable_ok):
            self.writer.block(None)
