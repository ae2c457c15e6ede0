"""``shora doctor``: is this data folder, and the node that serves it, sound? (issue 10)

Each check returns ``Finding``-s: what it looked at, whether it is well, and — when it is not — what to do,
in plain words. Checks read only: the database is opened read-only, the log is verified from its bytes, peers
are asked only for their public ``GET /v1/node``. A check that cannot run (the database will not open) says
so as its own finding instead of hiding the rest.
"""

from __future__ import annotations

import email.utils
import os
import shutil
import sqlite3
import stat
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from federation import db as dbmod
from federation.peers import PeerTable
from federation.replica.signatures import Deferred
from federation.store import LogStore, verified
from federation.verifypool import Job, VerifyPool
from node import config as cfg
from node.backup.keyfile import RECOVERY_FILE
from node.ops.keys import Delegation, history, signer_at
from node.settings import Settings
from node.storage.migrations import MIGRATIONS
from node.words import plural
from protocol import codec, merkle
from protocol.entry import Entry, verify_follows
from protocol.errors import ProtocolError
from protocol.keys import ENTRY_TAG, PublicKey
from protocol.note import open_checkpoint

PAGE = 2000
POOL_FROM = 4 * PAGE  # entries of the log from which its signatures are checked on workers
Progress = Callable[[int, int], None]  # (entries verified, entries in the log)


@dataclass(frozen=True)
class Finding:
    check: str  # files, database, log, checkpoint, replicas, parser, disk, node, peers, clock
    ok: bool
    message: str
    fix: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def examine(directory: Path, progress: Progress | None = None) -> list[Finding]:
    """Every check, in the order an operator would want to read them."""
    config = cfg.load(directory)
    findings = [
        *check_files(directory),
        *check_recovery_file(directory),
        check_parser(),
        check_disk(directory, config.settings),
    ]
    database = check_database(config.database)
    findings += database
    if all(f.ok for f in database):
        conn = dbmod.connect(config.database, readonly=True)
        try:
            findings += check_log(conn, config.node_id, progress)
            findings.append(check_replicas(conn))
            findings += check_peers(conn, config.settings)
        finally:
            conn.close()
    findings.append(check_node(config))
    return findings


# --- files ------------------------------------------------------------------------------------------


def check_files(directory: Path) -> list[Finding]:
    """Every folder 0700 and every file 0600: the folder holds the council's keys and its members' names."""
    loose = []
    for path in _tree(directory):
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            wanted = "700" if path.is_dir() else "600"
            loose.append(
                Finding(
                    "files",
                    False,
                    f"{path} can be read by other users of this machine (mode {mode:o})",
                    f"chmod {wanted} {path}",
                )
            )
    return loose or [Finding("files", True, f"{directory} and every file in it are private (0700 / 0600)")]


def check_recovery_file(directory: Path) -> list[Finding]:
    """The recovery file must not lie beside the node (README, "Backups and restore"): whoever takes the
    machine would find the root key with it, and a lost machine takes the only copy with it."""
    left = directory / RECOVERY_FILE
    if not left.exists():
        return []
    return [
        Finding(
            "recovery",
            False,
            f"the recovery file still lies in the data folder ({left}): if this machine is lost the copy "
            "goes with it, and whoever takes the machine finds the root key beside the node",
            f"copy {left} to a USB stick or paper kept by a trusted person away from this machine (two "
            f"copies in two places), then delete it here: rm {left}",
        )
    ]


def _tree(directory: Path) -> Iterator[Path]:
    yield directory
    for root, dirs, files in os.walk(directory):
        for name in (*dirs, *files):
            path = Path(root) / name
            if not path.is_symlink():
                yield path


# --- the database -----------------------------------------------------------------------------------


def check_database(path: Path) -> list[Finding]:
    """SQLite's own integrity check over every page, and every migration this version knows applied."""
    restore = "stop the node and restore the folder from a backup (see `shora restore` in the README)"
    if not path.exists():
        return [Finding("database", False, f"{path} is missing", restore)]
    try:
        conn = dbmod.connect(path, readonly=True)
        try:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
            applied = {row[0] for row in conn.execute("SELECT name FROM migrations")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return [Finding("database", False, f"{path} cannot be read: {exc}", restore)]
    if problems != ["ok"]:
        shown = "; ".join(problems[:3]) + (" …" if len(problems) > 3 else "")
        return [Finding("database", False, f"{path} is damaged: {shown}", restore)]
    missing = [m.name for m in MIGRATIONS if m.name not in applied]
    if missing:
        return [
            Finding(
                "database",
                False,
                f"{path} lacks {len(missing)} schema change(s) this version needs ({', '.join(missing)})",
                "start the node once with `shora serve`: it applies them",
            )
        ]
    return [Finding("database", True, "the database passes SQLite's integrity check, its schema is current")]


# --- the own log ------------------------------------------------------------------------------------


def check_log(conn: sqlite3.Connection, log_id: bytes, progress: Progress | None = None) -> list[Finding]:
    """The node's own log from entry 0: every signature by a key valid at that position, the chain, the
    bodies against their hashes, the stored tree, and the newest checkpoint against the entries. The
    signatures are checked on worker processes while the rest is checked here (docs/gossip.md, "Pulling":
    the same split as a replica's), a long log on every core; the first entry that fails either is named."""
    store = LogStore(conn)
    head = store.head(log_id)
    restore = "the log on disk was altered: stop the node and restore the folder from a backup"
    if head is None or head.size == 0:
        return [Finding("log", False, "the database holds no log of this node", restore)]
    root = PublicKey(log_id)
    try:  # each log/key entry's signature is verified in its turn below
        delegations = history(store.delegations(log_id), log_id)
    except ProtocolError as exc:
        return [Finding("log", False, f"a key entry of the log is damaged: {exc}", restore)]
    ids: list[bytes] = []
    previous: Entry | None = None
    failed: tuple[int, str] | None = None
    with _Signatures(log_id, head.size) as signatures:
        while failed is None and (rows := store.rows(log_id, len(ids) - 1, PAGE, council_bodies=True)):
            jobs: list[Job] = []
            for header, signature, body in rows:
                seq = len(ids)
                try:
                    entry = Entry(header, signature, body)
                    signer = signer_at(delegations, root, entry.header.key_id, seq)
                    if signer is None:
                        raise ProtocolError(f"it is signed by a key that is not valid at seq {seq}")
                    verify_follows(previous, entry)
                    if entry.seq != seq:
                        raise ProtocolError(f"it says it is entry {entry.seq}")
                except ProtocolError as exc:
                    failed = seq, str(exc)
                    break
                jobs.append((signer.raw, entry.signature, ENTRY_TAG + entry.header_bytes))
                ids.append(entry.id)
                previous = entry
            signatures.submit(len(ids) - len(jobs), jobs)
            if progress is not None:
                progress(len(ids), head.size)
        bad = signatures.first_failure()
    if bad >= 0 and (failed is None or bad < failed[0]):
        failed = bad, _signature_failure(store, log_id, bad, root, delegations)
    if failed is not None:
        return [
            Finding("log", False, f"entry {failed[0]} of the log fails verification: {failed[1]}", restore)
        ]
    if len(ids) != head.size:
        return [
            Finding(
                "log",
                False,
                f"the log says it holds {plural(head.size, 'entry', 'entries')}, {len(ids)} are stored",
                restore,
            )
        ]
    computed = merkle.root_from_leaves(ids)
    if computed != head.root:
        return [Finding("log", False, "the stored Merkle tree does not match the entries", restore)]
    return [
        Finding(
            "log",
            True,
            f"{_all(len(ids))} verif{'ies' if len(ids) == 1 else 'y'} from entry 0: signatures, chain, tree",
        ),
        _checkpoint(head.checkpoint, head.checkpoint_size, root, ids),
    ]


class _Signatures:
    """The entries' signature checks, a page at a time (``Deferred``, as a replica checks after commit): on
    worker processes for a log of ``POOL_FROM`` entries or more (a pool costs its start), else here."""

    def __init__(self, log_id: bytes, size: int) -> None:
        self.log_id = log_id
        self.pool = VerifyPool(os.cpu_count() or 2) if size >= POOL_FROM else None
        self.pages: list[Deferred] = []

    def __enter__(self) -> _Signatures:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, first: int, jobs: list[Job]) -> None:
        """The signature checks of entries ``first``, ``first + 1``, … (one job each)."""
        self.pages.append(Deferred(self.log_id, first, jobs, None, self.pool))

    def first_failure(self) -> int:
        """The seq of the first entry whose signature fails, or -1 (waits for every check)."""
        return next((bad for page in self.pages if (bad := page.failed()) >= 0), -1)


def _signature_failure(
    store: LogStore, log_id: bytes, seq: int, root: PublicKey, delegations: dict[bytes, Delegation]
) -> str:
    """Why entry ``seq``'s signature fails, in the verifier's own words."""
    header, signature, body = store.rows(log_id, seq - 1, 1, council_bodies=True)[0]
    entry = Entry(header, signature, body)
    signer = signer_at(delegations, root, entry.header.key_id, seq)
    try:
        entry.verify_signature(signer or root)
    except ProtocolError as exc:
        return str(exc)
    return "its signature did not verify on a worker, and does here: check the machine's memory"


def _all(count: int) -> str:
    """``all 5 entries``, ``the one entry``."""
    return "the one entry" if count == 1 else f"all {count} entries"


def _checkpoint(note: str | None, size: int | None, root: PublicKey, ids: list[bytes]) -> Finding:
    fix = "restart the node: it signs a fresh checkpoint with its next entry"
    if note is None:
        return Finding("checkpoint", False, "the log has no signed checkpoint", fix)
    try:
        checkpoint = open_checkpoint(note, root).checkpoint
    except ProtocolError as exc:
        return Finding(
            "checkpoint",
            False,
            f"the stored checkpoint does not verify: {exc}",
            "stop the node and restore the folder from a backup",
        )
    if checkpoint.size > len(ids) or merkle.root_from_leaves(ids[: checkpoint.size]) != checkpoint.root:
        return Finding(
            "checkpoint",
            False,
            f"the checkpoint (size {checkpoint.size}) does not match the entries held",
            "stop the node and restore the folder from a backup",
        )
    if checkpoint.size != len(ids) or size != checkpoint.size:
        return Finding(
            "checkpoint",
            False,
            f"the newest checkpoint covers {checkpoint.size} of {plural(len(ids), 'entry', 'entries')}",
            fix,
        )
    return Finding("checkpoint", True, f"the newest checkpoint is signed and covers {_all(len(ids))}")


# --- the replicas -----------------------------------------------------------------------------------


def check_replicas(conn: sqlite3.Connection) -> Finding:
    """Peers' logs held: any whose owner served an entry with a bad signature under its own checkpoint
    (kept as proof, docs/gossip.md "Pulling"), and how many entries still wait for their own signature
    check (committed on their checkpoint's authority; checked after commit, again after a restart)."""
    flagged = verified.flagged(conn)
    if flagged:
        shown = ", ".join(f"{codec.short_id(log_id)} entry {seq}" for log_id, seq in flagged[:5])
        return Finding(
            "replicas",
            False,
            f"{plural(len(flagged), 'entry', 'entries')} signed into a peer's tree with a bad signature by "
            f"its own owner ({shown}): the owner's checkpoint and the entry are kept as proof",
            "tell the federation: that council's log holds an entry its own key did not sign",
        )
    waiting = sum(r.end - r.first for r in verified.pending(conn))
    if waiting:
        return Finding(
            "replicas",
            True,
            f"{plural(waiting, 'entry', 'entries')} of peers' logs wait for their own signature check "
            "(each page was authenticated by its checkpoint; the node checks them after commit)",
        )
    return Finding("replicas", True, "every entry of the peers' logs held had its own signature checked")


# --- the machine ------------------------------------------------------------------------------------


def check_parser() -> Finding:
    """aiohttp parses HTTP in C unless its extension failed to build or AIOHTTP_NO_EXTENSIONS is set; the
    pure-Python parser is several times slower and has had its own request-smuggling bugs."""
    from aiohttp import http_parser

    if http_parser.HttpRequestParser.__module__ == "aiohttp._http_parser":
        return Finding("parser", True, "aiohttp's C HTTP parser is loaded")
    return Finding(
        "parser",
        False,
        "aiohttp runs its slower pure-Python HTTP parser",
        "unset AIOHTTP_NO_EXTENSIONS, or reinstall aiohttp from a wheel for this platform "
        "(pip install --force-reinstall aiohttp)",
    )


def check_disk(directory: Path, settings: Settings) -> Finding:
    free = shutil.disk_usage(directory).free
    mib = free // (1 << 20)
    if mib < settings.doctor_min_free_mib:
        return Finding(
            "disk",
            False,
            f"only {mib} MiB free where {directory} lives",
            "free some space or move the folder: a node that cannot write stops appending",
        )
    return Finding("disk", True, f"{mib:,} MiB free")


# --- the node and its peers -------------------------------------------------------------------------


def check_node(config: cfg.NodeConfig) -> Finding:
    """Whether a node answers for this folder; not running is no fault (the folder may be a copy)."""
    addr = config.dir / "serve.addr"
    base = addr.read_text().strip() if addr.exists() else config.listen
    try:
        answer = _get(f"http://{base}/v1/node", config.settings.doctor_timeout_s)
    except OSError:
        return Finding("node", True, f"no node answers at {base}: the folder was checked on its own")
    if answer.get("id") != codec.b64u(config.node_id):
        return Finding(
            "node",
            False,
            f"the node at {base} is another node, not this folder's",
            "stop that node or give this one another --listen address in node.json",
        )
    return Finding("node", True, f"the node is running at {base}")


def check_peers(conn: sqlite3.Connection, settings: Settings) -> list[Finding]:
    """Each peer answers its public ``GET /v1/node``; its ``Date`` says how far our clocks are apart (signed
    requests outside ±``signature_window_s`` are refused, so a skewed clock breaks gossip)."""
    findings = []
    for peer in PeerTable(conn).all():
        who = f"peer {codec.b64u(peer.node_id)[:10]} ({peer.url})"
        try:
            date, answer = _get_dated(peer.url.rstrip("/") + "/v1/node", settings.doctor_timeout_s)
        except OSError as exc:
            findings.append(
                Finding(
                    "peers",
                    False,
                    f"{who} does not answer: {_reason(exc)}",
                    "check that it runs and its URL is right (shora peers add URL KEY)",
                )
            )
            continue
        if answer.get("id") != codec.b64u(peer.node_id):
            findings.append(
                Finding(
                    "peers",
                    False,
                    f"{who} answers as another node",
                    "ask its operator for its current URL and key",
                )
            )
            continue
        findings.append(Finding("peers", True, f"{who} answers"))
        if date is not None:
            skew = round(date - time.time())
            if abs(skew) > settings.doctor_max_skew_s:
                findings.append(
                    Finding(
                        "clock",
                        False,
                        f"our clock is {abs(skew)} s {'behind' if skew > 0 else 'ahead of'} {who}",
                        "turn on time synchronisation (timedatectl set-ntp true) on the machine that is off",
                    )
                )
    return findings or [Finding("peers", True, "no peers yet")]


def _get(url: str, timeout: float) -> dict[str, Any]:
    return _get_dated(url, timeout)[1]


def _get_dated(url: str, timeout: float) -> tuple[float | None, dict[str, Any]]:
    import json

    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read(65536))
            date = response.headers.get("Date")
    except (ValueError, urllib.error.HTTPError) as exc:
        raise OSError(f"it does not answer as a shora node ({exc})") from exc
    when = email.utils.parsedate_to_datetime(date).timestamp() if date else None
    return when, payload if isinstance(payload, dict) else {}


def _reason(exc: OSError) -> str:
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        return reason.strerror or str(reason) if isinstance(reason, OSError) else str(reason)
    return exc.strerror or str(exc)
