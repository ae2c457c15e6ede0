"""What a restore takes back from outside the lost node (issue 9; docs/protocol.md §10.5, §11): the public
log from the council's peers, every page checked as replication checks it; the longest run of sealed
segments that opens, each from the first peer whose copy opens; and the sealed stream of a backup file
(``shora backup``). ``restore`` decides which to use and writes the new folder."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TextIO

import aiohttp

from federation.client import SignedClient, TransportError
from federation.gossip import entries_path
from federation.replica import BadData, Page, Replica
from federation.store import verified
from federation.transport import MSGPACK
from node.backup.errors import RestoreError
from node.backup.ticker import page_limits, segment_path
from node.ops.progress import Progress
from node.replication.ownlog import RESTORE_LOG
from node.settings import Settings
from protocol import codec
from protocol.errors import DecodeError, ProtocolError, VerificationError
from protocol.keys import PublicKey
from protocol.recovery import Recovery
from protocol.sealed import SEGMENT_SIZE, open_segment, read_header

log = logging.getLogger("shora.restore")


@dataclass(frozen=True)
class PeerRef:
    url: str
    key: bytes


@dataclass
class SealedRun:
    """What the peers hold of the council's sealed stream: the opened data of segments 0 … len-1, how many
    segments the fullest peer holds, each peer's count (None: no answer), and the copies refused."""

    data: list[bytes] = field(default_factory=list)
    held: int = 0
    counts: dict[bytes, int | None] = field(default_factory=dict)
    refused: list[tuple[bytes, int, str]] = field(default_factory=list)


def _client(
    session: aiohttp.ClientSession, recovery: Recovery, peer: PeerRef, settings: Settings
) -> SignedClient:
    return SignedClient(session, peer.url, recovery.root_key, peer.key, timeout=settings.request_timeout_s)


async def take_public_log(
    session: aiohttp.ClientSession,
    recovery: Recovery,
    peers: Sequence[PeerRef],
    conn: sqlite3.Connection,
    settings: Settings,
    progress: TextIO | None = None,
) -> tuple[int, list[str]]:
    """The council's public log from its peers into ``conn``, every page checked (signatures, chain,
    checkpoint, consistency) as replication checks it: how many peers gave all they hold, and why each
    other one did not, in words. Entries taken (of the size the peer's checkpoint states) are reported to
    ``progress`` (None: nowhere)."""
    council = recovery.council
    replica = Replica(conn, RESTORE_LOG, lambda log_id: log_id == council)
    answered, failures = 0, []
    for peer in peers:
        client = _client(session, recovery, peer, settings)
        bar = Progress(f"public log from {peer.url}", None, stream=progress) if progress else None
        note = await _take_from(client, replica, council, settings, bar)
        if note is None:
            answered += 1
        else:
            failures.append(f"{peer.url}: {note}")
        if bar is not None:
            bar.finish(note or "taken back")
    await _mend(session, recovery, peers, replica, council, settings)
    return answered, failures


async def _mend(
    session: aiohttp.ClientSession,
    recovery: Recovery,
    peers: Sequence[PeerRef],
    replica: Replica,
    council: bytes,
    settings: Settings,
) -> None:
    """Entries whose signature a peer served bad (the leaf commits the header, not the signature), with a
    valid signature asked of every peer; one no peer can give refuses the restore (docs/gossip.md)."""
    for left in verified.pending(replica.store.conn, council):
        for peer in peers:
            client = _client(session, recovery, peer, settings)
            try:
                reply = await client.request(
                    "GET",
                    entries_path(council, left.first - 1, settings.entries_page_max, left.first),
                    accept=MSGPACK,
                    check=False,
                )
                if reply.status == 200 and replica.mend(council, Page.decode(reply.body)) > 0:
                    break
            except (TransportError, BadData, ProtocolError) as exc:
                log.info("peer %s gave no signature to mend the public log: %s", client.base_url, exc)
    still = verified.pending(replica.store.conn, council)
    if still:
        raise RestoreError(
            "restore-bad-signature",
            f"entry {still[0].first} of the public log was served with a signature that does not verify, "
            "and no peer gave a valid one. Nothing was written.",
        )


async def _take_from(
    client: SignedClient, replica: Replica, council: bytes, settings: Settings, bar: Progress | None
) -> str | None:
    """Every page of the public log one peer holds, into ``replica``; None once it has given all it
    holds, else why it stopped, in words."""
    while True:
        head = replica.head(council)
        size = head.size if head else 0
        try:
            reply = await client.request(
                "GET",
                entries_path(council, size - 1, settings.entries_page_max, size),
                accept=MSGPACK,
                check=False,
            )
            if reply.status != 200:
                log.info("peer %s answered %d for our public log", client.base_url, reply.status)
                return "holds none of it" if reply.status == 404 else f"refused: {_refusal(reply.body)}"
            page = replace(Page.decode(reply.body), source=client.recipient)
            result = replica.ingest(council, page)
            # a page its checkpoint vouched for is committed first; each entry's own signature now
            bad = replica.settle(wait=True)
            if bad:
                return f"sent entry {bad[0].seq} with a signature that does not verify"
        except TransportError as exc:
            log.info("peer %s not reached: %s", client.base_url, exc)
            return f"not reached: {str(exc).removeprefix(client.base_url + ': ')}"
        except (BadData, ProtocolError) as exc:
            log.warning("peer %s sent a public log that does not verify: %s", client.base_url, exc)
            return f"sent a public log that does not verify ({exc})"
        if bar is not None:
            held = replica.store.head(council)  # the checkpoint taken says how long the log is
            bar.update(held.size if held else 0, held.checkpoint_size if held else None)
        if result.appended == 0:  # it has given all it holds
            return None


def _refusal(body: bytes) -> str:
    """A peer's refusal in its own words (its ``message`` and ``error``), whatever the encoding."""
    for decode in (codec.decode, json.loads):
        try:
            answer = decode(body)
        except (DecodeError, ValueError):
            continue
        if isinstance(answer, dict) and answer.get("error") == "request-unknown-key":
            return "it does not know this council as a peer, so it holds none of its log"
        if isinstance(answer, dict) and "message" in answer:
            return f"{answer['message']} ({answer.get('error')})"
    return "an answer that is not shora's"


async def take_sealed(
    session: aiohttp.ClientSession,
    recovery: Recovery,
    peers: Sequence[PeerRef],
    keys: list[PublicKey],
    settings: Settings,
    progress: TextIO | None = None,
) -> SealedRun:
    """The longest run of the council's segments 0 … n-1 that opens, each from the first peer (the
    fullest first) whose copy verifies and opens with the backup secret; segments opened (of the most a
    peer holds) are reported to ``progress`` (None: nowhere)."""
    council, run = recovery.council, SealedRun()
    pages: dict[tuple[bytes, int], bytes] = {}
    clients = {p.key: _client(session, recovery, p, settings) for p in peers}

    async def fetch(peer: bytes, first: int) -> int | None:
        try:
            reply = await clients[peer].request(
                "GET",
                f"{segment_path(council)}?from={first}&limit={settings.sealed_page_max}",
                accept=MSGPACK,
                check=False,
            )
            if reply.status != 200:
                return None
            answer = codec.decode(reply.body, page_limits(settings.sealed_page_max))
            segments, held = answer["segments"], answer["held"]
            if type(held) is not int or not isinstance(segments, list):
                return None
            for i, segment in enumerate(segments):
                if type(segment) is bytes:
                    pages[(peer, first + i)] = segment
            return held
        except (TransportError, DecodeError, KeyError, TypeError) as exc:
            log.info("peer %s gave no sealed copy: %s", clients[peer].base_url, exc)
            return None

    for peer in clients:
        run.counts[peer] = await fetch(peer, 0)
    run.held = max((c for c in run.counts.values() if c), default=0)
    bar = (
        Progress("sealed copy from the peers", run.held, "segments", stream=progress)
        if progress and run.held
        else None
    )
    index = 0
    while True:
        holders = sorted(
            (p for p, c in run.counts.items() if c and c > index), key=lambda p: -(run.counts[p] or 0)
        )
        opened = None
        for peer in holders:
            if (peer, index) not in pages:
                await fetch(peer, index)
            segment = pages.pop((peer, index), None)
            if segment is None:
                run.refused.append((peer, index, "segment-missing"))
                continue
            try:
                opened = open_segment(
                    segment, council=council, index=index, keys=keys, backup=recovery.backup_key
                )
                break
            except VerificationError as exc:
                run.refused.append((peer, index, exc.step))
        if opened is None:
            if bar is not None:
                bar.finish()
            return run
        run.data.append(opened)
        index += 1
        if bar is not None:
            bar.update(index)


def open_file(data: bytes, recovery: Recovery, keys: list[PublicKey]) -> bytes:
    """The stream of a backup file (``shora backup``): every segment must open — a file is one copy."""
    if len(data) % SEGMENT_SIZE or not data:
        raise RestoreError("segment-size", f"a backup file is a whole number of {SEGMENT_SIZE}-byte segments")
    out = []
    for index in range(len(data) // SEGMENT_SIZE):
        segment = data[index * SEGMENT_SIZE : (index + 1) * SEGMENT_SIZE]
        try:
            read_header(segment)
            out.append(
                open_segment(
                    segment, council=recovery.council, index=index, keys=keys, backup=recovery.backup_key
                )
            )
        except VerificationError as exc:
            raise RestoreError(exc.step, f"segment {index} of the backup file: {exc.message}") from exc
    return b"".join(out)
