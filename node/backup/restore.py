"""Bringing a council's node back from its sealed backup (issue 9; docs/protocol.md §10.5, §11).

    recovery file ──► root key, backup secret
    peers ─────────► the public log (every entry, chain and checkpoint checked, as replication does)
                     the sealed stream: the longest run of segments 0 … n-1 that opens, each segment taken
                     from the first peer whose copy opens (a corrupted copy is refused, the next one used)
    source ────────► a backup file (``shora backup``), or that same run from the peers
                     → record entries (signature, chain, gaps) and directory rows
    new folder ────► root, operator and backup keys; the public log; each epoch's kept entries; ONE signed
                     ``record/gap`` opening the next epoch; the directory; the backup cursor

Why always a gap: a restore cannot know how many entries were written after the copy it restores from, so it
never writes at a record position again — the record goes on in the next epoch. Its public log comes from
peers, so the node goes on after the newest public entry any peer holds, and the self-fork guard
(``Replication``) checks that again when it starts. So a restored node never signs a second entry at any
position of either log, and nothing is left for it to wait on: it is never locked.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from federation.client import SignedClient, TransportError
from federation.gossip import entries_path
from federation.peers import PeerTable
from federation.replica import BadData, Page, Replica
from federation.store import LogStore, verified
from federation.transport import MSGPACK
from node import config as cfg
from node.backup import stream, tables
from node.backup.councilkeys import council_keys
from node.backup.keyfile import save_backup_key
from node.backup.ticker import page_limits, segment_path
from node.errors import NodeError
from node.ops.progress import Progress
from node.replication.engine import RESTORE_LOG
from node.settings import Settings
from node.storage import directory
from node.storage.migrations import open_database
from node.words import plural
from protocol import codec
from protocol.entry import SALT_SIZE, verify_follows
from protocol.errors import DecodeError, ProtocolError, VerificationError
from protocol.keys import PublicKey, SigningKey, save_signing_key
from protocol.merkle import MemoryTree
from protocol.record import (
    EPOCH_MAX,
    Commitment,
    Gap,
    RecordEntry,
    check_gap,
    commitment_of,
    record_log_id,
    sign_record_entry,
)
from protocol.recovery import Recovery
from protocol.sealed import SEGMENT_SIZE, open_segment, read_header

log = logging.getLogger("shora.restore")


class RestoreError(NodeError):
    """A restore refused: ``step`` names the check that failed; nothing was kept of the new folder."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step

    @property
    def code(self) -> str:
        return self.step


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


@dataclass
class Outcome:
    directory: Path
    council: bytes
    public_size: int
    kept: dict[int, int]  # epoch -> entries kept
    gap_epoch: int  # the epoch the gap opens
    lost_public: bool  # the public log committed to a record entry the restore does not hold
    members: int
    segments: int
    refused: list[tuple[bytes, int, str]]


# --- from peers -------------------------------------------------------------------------------------------


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


# --- the record -------------------------------------------------------------------------------------------


def check_record(
    restored: stream.Restored, council: bytes, keys: list[PublicKey], progress: TextIO | None = None
) -> dict[int, list[RecordEntry]]:
    """Each epoch's entries a replay may use, every one checked: contiguous from 0 and chained, signed by
    the council's keys or a member key registered before it, and each later epoch opened by a gap that
    describes exactly the entries kept of the epoch before (which are all that is kept of it). Entries
    checked are reported to ``progress`` (None: nowhere)."""
    known = {k.id: k for k in keys}
    total = sum(len(entries) for entries in restored.records.values())
    bar = Progress("checking the record", total, stream=progress) if progress else None
    checked = 0
    kept: dict[int, list[RecordEntry]] = {}
    last = max(restored.records, default=0)
    for epoch in range(0, last + 1):
        by_seq: dict[int, RecordEntry] = {}
        for entry in restored.records.get(epoch, []):
            held = by_seq.get(entry.seq)
            if held is not None and held.id != entry.id:
                raise RestoreError(
                    "restore-fork", f"two different entries at position {entry.seq} of epoch {epoch}"
                )
            by_seq[entry.seq] = entry
        entries: list[RecordEntry] = []
        while len(entries) in by_seq:  # a position missing ends what can be chained
            entries.append(by_seq[len(entries)])
        previous: RecordEntry | None = None
        for entry in entries:
            try:
                verify_follows(previous, entry)
                key = known.get(entry.header.key_id)
                if key is None:
                    raise VerificationError("unknown-key", "signed by a key the council never registered")
                entry.verify_signature(key)
            except VerificationError as exc:
                raise RestoreError(
                    exc.step, f"record entry {entry.seq} of epoch {epoch}: {exc.message}"
                ) from exc
            for name in ("pubkey", "key"):
                value = entry.body().get(name)
                if type(value) is bytes and len(value) == 32:
                    member = PublicKey(value)
                    known.setdefault(member.id, member)
            previous = entry
            checked += 1
            if bar is not None:
                bar.update(checked)
        if epoch > 0:
            if not entries:
                raise RestoreError("gap-position", f"epoch {epoch} of the record does not begin with its gap")
            try:
                gap = check_gap(entries[0], root_key=council, kept=kept[epoch - 1][: _claimed(entries[0])])
            except VerificationError as exc:
                raise RestoreError(exc.step, f"the gap opening epoch {epoch}: {exc.message}") from exc
            kept[epoch - 1] = kept[epoch - 1][: gap.kept]
        kept[epoch] = entries
    if bar is not None:
        bar.finish()
    return kept


def _claimed(gap_entry: RecordEntry) -> int:
    kept = gap_entry.body().get("kept")
    return kept if type(kept) is int and kept >= 0 else 0


def last_commitment(store: LogStore, council: bytes) -> Commitment | None:
    """The record commitment of the newest public entry held (None: nothing published with one)."""
    head = store.head(council)
    if head is None or head.size == 0:
        return None
    newest = store.entry(council, head.size - 1)
    try:
        return commitment_of(newest) if newest is not None else None
    except VerificationError:
        return None


def make_gap(
    council: bytes, recovery: Recovery, kept: dict[int, list[RecordEntry]], public: Commitment | None
) -> RecordEntry:
    """The one entry a restore signs: entry 0 of the epoch after the last one restored (docs §10.5)."""
    epoch = max(kept, default=0)
    if epoch >= EPOCH_MAX:
        raise RestoreError("gap-position", "the record has no epoch left to continue in")
    entries = kept.get(epoch, [])
    gap = Gap(epoch, len(entries), MemoryTree([e.id for e in entries]).root(), public)
    return sign_record_entry(
        recovery.root_key,
        root_key=council,
        epoch=epoch + 1,
        seq=0,
        prev=None,
        ts_ms=time.time_ns() // 1_000_000,
        vis="council",
        body=gap.to_body(os.urandom(SALT_SIZE)),
    )


# --- the whole restore ------------------------------------------------------------------------------------


async def restore(
    target: Path,
    recovery: Recovery,
    peers: Sequence[PeerRef],
    *,
    backup_file: bytes | None,
    listen: str = cfg.DEFAULT_LISTEN,
    url: str | None = None,
    settings: Settings | None = None,
    progress: TextIO | None = None,
) -> Outcome:
    """Restore the council of ``recovery`` into the new folder ``target``, from ``backup_file`` (bytes of
    a ``shora backup``) or, when it is None, from the peers' sealed copies. Peers are needed either way:
    they give the public log back, and at least one of them must answer. How far each long step got is
    reported to ``progress`` (the CLI's stderr; None: nowhere)."""
    settings = settings or Settings()
    cfg.parse_listen(listen)
    if target.exists() and any(target.iterdir()):
        raise RestoreError(
            "restore-target", f"{target} exists and is not empty; a restore makes a new folder"
        )
    if not peers:
        raise RestoreError(
            "restore-peers", "name the council's peers (--peer URL KEY): they hold its public log"
        )
    council = recovery.council
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(target, 0o700)
        conn = open_database(target / cfg.DATABASE)
        try:
            async with aiohttp.ClientSession() as session:
                answered, failures = await take_public_log(session, recovery, peers, conn, settings, progress)
                if not answered:
                    raise RestoreError(
                        "restore-peers-unreachable",
                        f"no peer gave the public log back ({'; '.join(failures)}): without it the node "
                        "could sign a second public entry where one stands. Try again when a peer answers, "
                        "or name another peer of the council (--peer URL KEY). Nothing was written.",
                    )
                store = LogStore(conn)
                keys = council_keys(store, council)
                run = await take_sealed(session, recovery, peers, keys, settings, progress)
            outcome = _write(target, conn, recovery, peers, run, keys, backup_file, listen, url, progress)
        finally:
            conn.close()
    except BaseException:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        else:
            for child in target.iterdir():
                child.unlink()
        raise
    return outcome


def _write(
    target: Path,
    conn: sqlite3.Connection,
    recovery: Recovery,
    peers: Sequence[PeerRef],
    run: SealedRun,
    keys: list[PublicKey],
    backup_file: bytes | None,
    listen: str,
    url: str | None,
    progress: TextIO | None,
) -> Outcome:
    council, store = recovery.council, LogStore(conn, private=True)  # it writes the record back
    peer_stream = b"".join(run.data)
    source = peer_stream if backup_file is None else open_file(backup_file, recovery, keys)
    if backup_file is None and not run.data:
        raise RestoreError("restore-no-copy", _no_copy(run))
    try:
        restored = stream.read_stream(source, council)
        peer_tail = (
            stream.read_stream(peer_stream, council).truncated_tail
            if backup_file is not None
            else restored.truncated_tail
        )
    except VerificationError as exc:
        raise RestoreError(exc.step, exc.message) from exc
    kept = check_record(restored, council, keys, progress)
    public = last_commitment(store, council)
    gap_entry = make_gap(council, recovery, kept, public)
    held_ids = {e.id for entries in kept.values() for e in entries}
    founding = store.entry(council, 0)
    if founding is None or founding.body().get("kind") != "council/found":
        raise RestoreError(
            "restore-public-log", "the public log taken back does not begin with a council's founding"
        )
    with store.transaction():
        for epoch, entries in kept.items():
            if entries:
                store.create_private(record_log_id(council, epoch))  # never served, as before the loss
                store.append_in_transaction(record_log_id(council, epoch), entries, lambda size, root: None)
        store.create_private(gap_entry.header.log_id)
        store.append_in_transaction(gap_entry.header.log_id, [gap_entry], lambda size, root: None)
        conn.executemany(
            directory.ADD,
            [(r["member_id"], r["name"], r["contact"], r["created_ms"]) for r in restored.directory.values()],
        )
        for peer in peers:
            tables.add_backup_peer(conn, peer.key, peer.url)
            count = run.counts.get(peer.key)
            if count:
                tables.set_acked(conn, peer.key, count)
        # go on after the peers' stream: close an item it ends inside, then put everything kept in again,
        # so that the stream alone restores this node however old the source was
        pending = stream.filler(peer_stream, peer_tail) if len(run.data) == run.held else b""
        tables.set_cursor(conn, tables.Cursor(run.held, pending, 0, 0, 0))
        for peer in peers:  # gossip with them again, as before the loss
            PeerTable(conn).add(peer.key, peer.url, time.time_ns() // 1_000_000)
    save_signing_key(recovery.root_key, target / cfg.ROOT_KEY)
    operator = _new_operator(target)
    save_backup_key(recovery.backup_key, target)
    profile: dict[str, Any] = founding.body()["profile"]
    head = store.head(council)
    config = cfg.NodeConfig(target, "council", council, operator, listen, url or f"http://{listen}", profile)
    cfg.save(config)
    return Outcome(
        target,
        council,
        head.size if head else 0,
        {e: len(v) for e, v in kept.items()},
        max(kept, default=0) + 1,
        public is not None and public.entry not in held_ids,
        len(restored.directory),
        len(run.data),
        run.refused,
    )


def _no_copy(run: SealedRun) -> str:
    """Why no sealed copy came back from the peers, and what to do, in words; nothing was written."""
    if run.held == 0:
        answered = sum(1 for count in run.counts.values() if count is not None)
        return (
            f"no peer named holds a sealed copy of this council yet ({plural(len(run.counts), 'peer')} "
            f"named, {answered} answered). A council's node seals its copy and sends it to its backup "
            "peers at its backup ticks (every backup_interval_s from its start, an hour by default) once "
            "it has a backup peer, so it was lost before its first tick, or these are not its backup peers "
            "(`shora backup-peers list` on the node showed them). If you have a file "
            "written by `shora backup`, restore from it: --from-file FILE instead of --from-peers. Nothing "
            "was written."
        )
    steps = sorted({step for _, _, step in run.refused})
    return (
        f"the peers hold {run.held} sealed segments of this council, but not one opens "
        f"({', '.join(steps) or 'no segment came back'}): check that the recovery file is this council's "
        "and that it was not damaged, or restore from a file (--from-file FILE). Nothing was written."
    )


def _new_operator(target: Path) -> bytes:
    """A new operator key: the old one was on the lost machine (it signs nothing in either log)."""
    operator = SigningKey.generate()
    save_signing_key(operator, target / cfg.OPERATOR_KEY)
    return operator.public.raw
