"""What every handler reaches through the request: the running node (``Node``), found by ``node_of``."""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from dataclasses import dataclass, field

from aiohttp import web

from federation.aggregate import Aggregate
from federation.auth import RequestVerifier
from federation.routes import FederationRoutes
from federation.store import LogStore
from node.config import NodeConfig
from node.http.applicants import Applicants
from node.http.live import Live
from node.replication.engine import Replication
from node.rules.council import Council
from node.rules.fedbody import Federation
from node.settings import Settings
from node.storage.reader import Reader
from node.storage.writer import Writer
from protocol.keys import PublicKey


@dataclass
class Node:
    config: NodeConfig
    writer: Writer
    reader: sqlite3.Connection
    verifier: RequestVerifier
    replication: Replication
    federation_routes: FederationRoutes
    reads: Reader  # reads that cost more than a lookup run here, off the event loop
    aggregate: Aggregate | None  # a federation body's aggregated picture, read on the reader's thread
    applicants: Applicants  # the separate, rate-limited path of keys nobody trusts yet
    # decision id -> (log version, visibility, bundle bytes): a bundle is a pure function of the decision and
    # the checkpoint it is proven in, so it is built once per checkpoint (node.http.decisions.build_bundle)
    bundles: OrderedDict[bytes, tuple[int, str, bytes]] = field(default_factory=OrderedDict)
    # checks the redemption of member invitations, signed by keys nobody knows yet (node.http.middleware)
    redeem_verifier: RequestVerifier | None = None
    # invitations being redeemed right now: one invitation, one redemption, even before either commits
    redeeming: set[bytes] = field(default_factory=set)
    # the assembly console's open live streams, woken as the record grows (node.http.live)
    live: Live = field(default_factory=lambda: Live(Settings().console_streams_max))

    @property
    def store(self) -> LogStore:
        return LogStore(self.reader)

    def council(self) -> Council:
        """A council's state (its routes are set up on a council's node only)."""
        state = self.writer.state
        if not isinstance(state, Council):
            raise TypeError("a council's route on a federation body's node")  # a wiring bug, a 500
        return state

    def federation(self) -> Federation:
        """A federation body's state (its routes are set up on a federation body's node only)."""
        state = self.writer.state
        if not isinstance(state, Federation):
            raise TypeError("a federation body's route on a council's node")
        return state

    @property
    def operator_keys(self) -> dict[bytes, PublicKey]:
        return {self.config.operator_key: PublicKey(self.config.operator_key)}


NODE: web.AppKey[Node] = web.AppKey("node", Node)
# the verified key that signed a request (its 32 raw bytes), and the member a member's request speaks for
# (set by node.http.middleware)
SIGNER: web.RequestKey[bytes] = web.RequestKey("shora.signer", bytes)
MEMBER: web.RequestKey[bytes] = web.RequestKey("shora.member", bytes)


def node_of(request: web.Request) -> Node:
    """The node a request is served by."""
    return request.app[NODE]
