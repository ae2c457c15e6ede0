"""The council's sealed backup on its fixed schedule, and pushing it to the peers chosen to hold it.

Every ``backup_interval_s`` (from the node's start, whatever happened meanwhile) one tick seals exactly
``backup_segments_per_tick`` segments — the record's and the directory's new items as far as they fit, the
rest padding; none while the council has no backup peer, as nobody would hold them — and stores them with
the stream's cursor in one transaction on the writer thread. Then each backup peer is sent the segments it
has not acknowledged, in index order, as RFC 9421-signed PUTs. A peer that was away gets its backlog at the
next tick; a peer that holds another count says so (409) and is resumed from there. Owned by the app's
cleanup context: ``start`` and ``stop`` (cancelled and awaited).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator

import aiohttp

from federation.client import SignedClient, TransportError
from federation.tasks import cancel_and_wait
from federation.transport import MSGPACK
from node.backup import stream, tables
from node.backup.keyfile import BACKUP_KEY, load_backup_key
from node.config import NodeConfig
from node.storage.clock import now_ms
from node.storage.writer import Writer
from protocol import codec
from protocol.codec import short_id
from protocol.errors import DecodeError
from protocol.keys import SigningKey
from protocol.sealed import CAPACITY, SEGMENT_SIZE, seal_segment, tick_pieces

log = logging.getLogger("shora.backup")
OCTETS = "application/octet-stream"
PUSH_PAGE = 16  # segments read from the table at a time while pushing


def page_limits(page_max: int) -> codec.Limits:
    """What a page of sealed segments (``GET /v1/sealed/…``) may hold when decoded: ``page_max`` segments."""
    return codec.Limits(max_size=page_max * (SEGMENT_SIZE + 16) + 1024, max_depth=2, max_length=SEGMENT_SIZE)


def segment_path(council: bytes, index: int | None = None) -> str:
    base = f"/v1/sealed/{codec.b64u(council)}"
    return base if index is None else f"{base}/{index}"


class Backups:
    def __init__(
        self, config: NodeConfig, writer: Writer, reader: sqlite3.Connection, session: aiohttp.ClientSession
    ) -> None:
        self.config, self.writer, self.reader, self.session = config, writer, reader, session
        self.council = config.node_id
        self.settings = config.settings
        # a node made before backups existed, or a federation body, seals nothing (and says so once)
        self.backup_public = (
            load_backup_key(config.dir).public if (config.dir / BACKUP_KEY).exists() else None
        )
        self.ticks = 0  # ticks sealed since the start (for tests and status)
        self.next_tick_ms: int | None = None  # when the schedule's next tick is due (None: no schedule)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.backup_public is None:
            log.info("no backup key in %s: this node seals no backups", self.config.dir)
            return
        self.next_tick_ms = now_ms() + int(self.settings.backup_interval_s * 1000)
        self._task = asyncio.create_task(self._schedule(), name="shora-backup")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _schedule(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.settings.backup_interval_s
        due = loop.time() + interval
        while True:
            self.next_tick_ms = now_ms() + int((due - loop.time()) * 1000)
            await asyncio.sleep(max(0.0, due - loop.time()))
            while (
                due <= loop.time()
            ):  # a tick missed (a suspended machine) is not made up: the schedule holds
                due += interval
            self.next_tick_ms = now_ms() + int((due - loop.time()) * 1000)
            try:
                await self.tick()
            except Exception:  # a bug here must not end the council's backups for the life of the node
                log.exception("backup tick failed; trying again at the next tick")

    async def tick(self) -> int:
        """Seal one tick's segments and push to every backup peer; the stream's segment count after it."""
        if self.backup_public is None:
            raise LookupError("this node has no backup key")
        if not tables.backup_peers(self.reader):  # nobody to hold it: nothing sealed, nothing seen
            return tables.cursor(self.reader).next_index
        total: int = await self.writer.run(self._seal_tick, self.backup_public)
        self.ticks += 1
        await self.push_all()
        return total

    def _seal_tick(self, backup_public: bytes) -> int:
        """On the writer thread, in one transaction: take new items, seal exactly one tick's segments."""
        conn, count = self.writer.conn, self.settings.backup_segments_per_tick
        with self.writer.store.transaction():
            cur = tables.cursor(conn)
            pending, epoch, size, rowid = cur.pending, cur.epoch, cur.record_size, cur.directory_rowid
            budget = count * CAPACITY - len(pending)
            if budget > 0:  # a backlog already fills the tick: take nothing more until it drains
                taken = stream.take(
                    conn, self.council, epoch=epoch, record_size=size, directory_rowid=rowid, budget=budget
                )
                pending += taken.stream
                epoch, size, rowid = taken.epoch, taken.record_size, taken.directory_rowid
            pieces, rest = tick_pieces(pending, count)
            segments = [
                seal_segment(
                    piece,
                    council=self.council,
                    index=cur.next_index + i,
                    backup_public=backup_public,
                    signer=self.writer.key,
                )
                for i, piece in enumerate(pieces)
            ]
            tables.add_sealed(conn, cur.next_index, segments)
            tables.set_cursor(conn, tables.Cursor(cur.next_index + count, rest, epoch, size, rowid))
        return cur.next_index + count

    async def push_all(self) -> None:
        await asyncio.gather(*(self.push(peer) for peer in tables.backup_peers(self.reader)))

    async def push(self, peer: tables.BackupPeer) -> int:
        """Send ``peer`` the segments it has not acknowledged; how many it holds afterwards. What the push
        did — which segments, and why it stopped short if it did — is kept for ``shora status``."""
        client = SignedClient(
            self.session, peer.url, self.writer.key, peer.node_id, timeout=self.settings.request_timeout_s
        )
        total = tables.cursor(self.reader).next_index
        acked = start = peer.acked
        failure: str | None = None
        try:
            while acked < total and failure is None:
                for segment in _pages(self.reader, acked, total):
                    held, failure = await self._put(client, peer, acked, segment)
                    if failure is not None:
                        break
                    if held != acked + 1:  # the peer holds another count: go on from there
                        acked = held
                        break
                    acked = held
                else:
                    if acked < total:  # the table ended before the count it promised
                        failure = f"segment {acked} is missing from this node's own table"
        finally:
            push = tables.Push(now_ms(), start, acked, total, failure)
            await self.writer.run(self._record, peer.node_id, push)
        return acked

    def _record(self, node_id: bytes, push: tables.Push) -> None:
        with self.writer.store.transaction():
            tables.record_push(self.writer.conn, node_id, push)

    async def _put(
        self, client: SignedClient, peer: tables.BackupPeer, index: int, segment: bytes
    ) -> tuple[int, str | None]:
        """PUT one segment: the count the peer holds afterwards, and why to stop for this tick (None: go
        on), in words an operator reads in ``shora status``."""
        try:
            reply = await client.request(
                "PUT",
                segment_path(self.council, index),
                segment,
                content_type=OCTETS,
                accept=MSGPACK,
                check=False,
            )
        except TransportError as exc:
            log.info("backup peer %s not reached: %s", short_id(peer.node_id), exc)
            return index, f"not reached: {exc}"
        try:
            answer = codec.decode(reply.body)
        except DecodeError:
            answer = None
        if not isinstance(answer, dict):
            return index, f"answered HTTP {reply.status} with something that is not a shora answer"
        held = answer.get("held")
        if reply.status == 200 and type(held) is int:
            return held, None
        if reply.status == 409 and answer.get("error") == "segment-order" and type(held) is int:
            if held <= tables.cursor(self.reader).next_index:
                return held, None
            return index, f"says it holds {held} segments, more than this node ever sealed"
        log.warning(
            "backup peer %s refused segment %d: %s %s",
            short_id(peer.node_id),
            index,
            answer.get("error"),
            answer.get("message"),
        )
        return index, f"refused segment {index}: {answer.get('message') or answer.get('error')}"


def _pages(conn: sqlite3.Connection, first: int, end: int) -> Iterator[bytes]:
    at = first
    while at < end:
        page = tables.sealed(conn, at, min(PUSH_PAGE, end - at))
        if not page:
            return
        yield from page
        at += len(page)


def seal_everything(
    conn: sqlite3.Connection, council: bytes, key: SigningKey, backup_public: bytes
) -> list[bytes]:
    """A full backup: the whole stream sealed as segments 0, 1, …, read in one read transaction on ``conn``
    (a snapshot: what the writer commits meanwhile is not half in it)."""
    conn.execute("BEGIN")
    try:
        segments: list[bytes] = []
        buffer = b""
        for piece in stream.everything(conn, council):
            buffer += piece
            while len(buffer) >= CAPACITY:
                segments.append(_seal(buffer[:CAPACITY], council, len(segments), key, backup_public))
                buffer = buffer[CAPACITY:]
        if buffer or not segments:
            segments.append(_seal(buffer, council, len(segments), key, backup_public))
        return segments
    finally:
        conn.execute("COMMIT")


def _seal(data: bytes, council: bytes, index: int, key: SigningKey, backup_public: bytes) -> bytes:
    return seal_segment(data, council=council, index=index, backup_public=backup_public, signer=key)
