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

This module is the restore as a whole and the writing of the new folder; what comes from the peers or a
backup file is ``fetch``, what is checked of the record and the gap it signs is ``recordcheck``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from federation.peers import PeerTable
from federation.store import LogStore
from node import config as cfg
from node.backup import stream, tables
from node.backup.councilkeys import council_keys
from node.backup.errors import RestoreError
from node.backup.fetch import PeerRef, SealedRun, open_file, take_public_log, take_sealed
from node.backup.keyfile import save_backup_key
from node.backup.recordcheck import check_record, last_commitment, make_gap
from node.settings import Settings
from node.storage import directory
from node.storage.migrations import open_database
from node.words import plural
from protocol.errors import VerificationError
from protocol.keys import PublicKey, SigningKey, save_signing_key
from protocol.record import record_log_id
from protocol.recovery import Recovery


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
