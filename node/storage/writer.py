"""The node's one writer: governance commands in, durable signed entries out (DESIGN.md §2, §4).

Commands queue up; the writer task takes everything waiting (up to ``write_batch_max``), judges each command
against the state in turn, signs its entries, and commits the whole batch — entries, tree nodes, checkpoint
and any directory rows — in one SQLite transaction on the writer thread. Only then are the commands
answered: nothing is acknowledged before it is durable, and a batch costs one fsync however many commands
it holds (group commit). A refused command appends nothing and does not disturb the others in its batch.

The in-memory state may run ahead of the disk by the batch being committed; if that commit fails, the
state is rebuilt by replaying the log, which is always the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, overload

from federation.store import LogStore
from node.rules.council import Appended, Council, Draft, RuleError
from node.rules.machines import CouncilMachine, Machine, NodeCommand, NodeState, machine_for
from node.settings import Settings
from node.storage.migrations import open_database
from node.storage.signer import Signer, SigningBatch
from protocol.entry import SALT_SIZE, Entry, Unsigned, prepare_entry
from protocol.keys import Domain, SigningKey
from protocol.note import Checkpoint, log_origin, sign_checkpoint

log = logging.getLogger("shora.writer")

T = TypeVar("T")
S = TypeVar("S")
# A row written in the same transaction as a command's entries (the member directory's), as an SQL
# statement and its parameters: rows of one statement are written together with executemany.
SideEffect = tuple[str, tuple[object, ...]]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def stored(entry: Entry) -> Appended:
    return Appended(entry.seq, entry.id, entry.header.ts_ms, entry.header.vis, entry.body())


@overload
def load_state(store: LogStore, log_id: bytes) -> Council: ...
@overload
def load_state(store: LogStore, log_id: bytes, machine: Machine[S, Any]) -> S: ...
def load_state(store: LogStore, log_id: bytes, machine: Machine[Any, Any] | None = None) -> Any:
    """Replay the whole log, page by page (a council's, unless ``machine`` says otherwise)."""
    entries: list[Appended] = []
    after = -1
    while page := store.entries(log_id, after, 5000, council_bodies=True):
        entries.extend(stored(e) for e in page)
        after = page[-1].seq
    return (machine or CouncilMachine()).replay(entries)


def make_entries(key: SigningKey, drafts: list[Draft], previous: Entry | None, ts_ms: int) -> list[Entry]:
    """Sign ``drafts`` as the entries after ``previous``; council bodies get a fresh random salt."""
    unsigned = [u for u, _ in prepare_drafts(key, drafts, previous, ts_ms)]
    signatures = key.sign_many(Domain.ENTRY, [u.header_bytes for u in unsigned])
    return [u.signed(signature) for u, signature in zip(unsigned, signatures, strict=True)]


def prepare_drafts(
    key: SigningKey,
    drafts: list[Draft],
    previous: Entry | Unsigned | None,
    ts_ms: int,
    *,
    log_id: bytes | None = None,
) -> list[tuple[Unsigned, dict[str, Any]]]:
    """``drafts`` laid out as the entries after ``previous`` in ``log_id`` (by default ``key``'s own log),
    to be signed by ``key``, each with the body value it carries; council bodies get a fresh random salt."""
    out = []
    key_id = key.public.id
    log_id = key.public.raw if log_id is None else log_id
    for draft in drafts:
        body = dict(draft.body)
        if draft.vis == "council":
            body["salt"] = os.urandom(SALT_SIZE)
        seq = previous.seq + 1 if previous else 0
        ts = max(ts_ms, previous.header.ts_ms) if previous else ts_ms
        prev = previous.id if previous else None
        unsigned = prepare_entry(
            key_id, log_id=log_id, seq=seq, prev=prev, ts_ms=ts, vis=draft.vis, body=body
        )
        out.append((unsigned, body))
        previous = unsigned
    return out


def checkpoint_signer(key: SigningKey) -> Callable[[int, bytes], str]:
    origin = log_origin(key.public.raw)
    return lambda size, root: sign_checkpoint(key, Checkpoint(origin, size, root))


@dataclass
class _Job:
    command: NodeCommand
    side_effect: SideEffect | None
    future: asyncio.Future[list[Appended]]


@dataclass
class _KeyJob:
    """``log/key`` entries, signed by the root key, after which the node signs with ``signing``."""

    bodies: list[dict[str, Any]]
    signing: SigningKey | None
    future: asyncio.Future[list[Appended]]


class Writer:
    """Owns the write connection (on its own thread) and the live governance state."""

    def __init__(
        self,
        path: Path,
        key: SigningKey,
        settings: Settings,
        kind: str = "council",
        signing: SigningKey | None = None,
    ) -> None:
        self.key = key  # the root key: the log's id; it signs checkpoints and log/key entries
        self.signing = signing or key  # what signs every other entry: a key the root key delegated, or itself
        self.log_id = key.public.raw
        self.machine = machine_for(kind, self.log_id)
        self.settings = settings
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shora-writer")
        self._signer = Signer(self.signing, settings.signer_chunk)
        self.conn = self._thread.submit(open_database, path).result()
        self.store = LogStore(self.conn)
        self.state: NodeState = self._thread.submit(
            load_state, self.store, self.log_id, self.machine
        ).result()
        last = self._thread.submit(self._last_entry).result()
        self._last: Entry | None = last
        self._sign_checkpoint = checkpoint_signer(key)
        self._queue: asyncio.Queue[_Job | _KeyJob] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.blocked: str | None = None  # why appends are refused (a peer holds more of our own log)
        # bumped whenever our own log or its newest checkpoint note changes (appends, cosignatures merged,
        # a reload): what is derived from them (bundles) is cached against it, with no query to check
        self.log_version = 0
        self.on_append: list[Callable[[], None]] = []  # told after every durable batch (gossip push)

    def _last_entry(self) -> Entry | None:
        head = self.store.head(self.log_id)
        return self.store.entry(self.log_id, head.size - 1) if head and head.size else None

    def sign_with(self, key: SigningKey) -> None:
        """Before ``start``: sign entries with ``key`` (a signing key the root key delegated)."""
        assert self._task is None, "the signing key changes on a running writer through change_keys"
        self.signing = key
        self._signer.close()
        self._signer = Signer(key, self.settings.signer_chunk)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="shora-writer")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(RuntimeError("the node is shutting down"))
        self._thread.submit(self.conn.close).result()
        self._thread.shutdown(wait=True)
        self._signer.close()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the writer thread, the only one that touches the write connection."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    def submit_sync(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queue ``fn(*args)`` on the writer thread without waiting (bookkeeping such as peer status)."""
        return self._thread.submit(fn, *args)

    def block(self, reason: str | None) -> None:
        """Refuse (or, with ``None``, accept again) new entries: see ``federation`` restore checks."""
        self.blocked = reason

    async def reload(self) -> None:
        """Re-read state from the log after something other than ``submit`` wrote our own log."""
        await self._reload()

    async def submit(self, command: NodeCommand, side_effect: SideEffect | None = None) -> list[Appended]:
        """Judge, sign and durably append ``command``; raises ``RuleError`` if a rule refuses it."""
        if self.blocked is not None:
            raise RuleError("node.behind-peers", self.blocked)
        future: asyncio.Future[list[Appended]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(command, side_effect, future))  # unbounded: never waits
        return await future

    async def change_keys(self, bodies: list[dict[str, Any]], signing: SigningKey | None) -> list[Appended]:
        """Append ``log/key`` entries signed by the root key, in turn with the commands queued, and sign
        with ``signing`` (if given) from the next entry on. Raises ``RuleError`` on a malformed body."""
        if self.blocked is not None:
            raise RuleError("node.behind-peers", self.blocked)
        future: asyncio.Future[list[Appended]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_KeyJob(bodies, signing, future))
        return await future

    async def _run(self) -> None:
        while True:
            queued = [await self._queue.get()]
            while len(queued) < self.settings.write_batch_max and not self._queue.empty():
                queued.append(self._queue.get_nowait())
            jobs: list[_Job] = []
            for job in [*queued, None]:  # a key change commits the commands before it first
                if isinstance(job, _Job):
                    jobs.append(job)
                    continue
                if jobs:
                    await self._guarded(self._commit(jobs), jobs)
                    jobs = []
                if job is not None:
                    await self._guarded(self._commit_keys(job), [job])

    async def _guarded(self, work: Coroutine[Any, Any, None], jobs: Sequence[_Job | _KeyJob]) -> None:
        try:
            await work
        except Exception as exc:  # a bug, not a refusal: fail this batch, but never the writer itself
            log.exception("batch failed before it was written; rebuilding state from the log")
            await self._reload()
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(RuntimeError(f"command failed: {exc}"))

    async def _commit_keys(self, job: _KeyJob) -> None:
        """A few entries signed by the root key itself, then the new signing key takes over."""
        if job.future.done():
            return
        ts = now_ms()
        pairs = prepare_drafts(self.key, [Draft("public", b) for b in job.bodies], self._last, ts)
        appended = [Appended(u.seq, u.id, u.header.ts_ms, u.header.vis, b) for u, b in pairs]
        try:
            for item in appended:
                self.machine.apply(self.state, item, False)
        except RuleError as exc:
            await self._reload()  # the entries before the refused one were folded in: undo them
            job.future.set_exception(exc)
            return
        signatures = self.key.sign_many(Domain.ENTRY, [u.header_bytes for u, _ in pairs])
        entries = [u.signed(sig) for (u, _), sig in zip(pairs, signatures, strict=True)]

        def write() -> None:
            with self.store.transaction():
                appender = self.store.appender(self.log_id)
                appender.add(entries)
                appender.finish(self._sign_checkpoint)

        try:
            await asyncio.get_running_loop().run_in_executor(self._thread, write)
        except BaseException as exc:
            log.error("commit failed, rebuilding state from the log: %s", exc)
            await self._reload()
            if not job.future.done():
                job.future.set_exception(RuntimeError(f"storage failed: {exc}"))
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        self._last = entries[-1]
        self.log_version += 1
        if job.signing is not None:
            retired, self._signer = self._signer, Signer(job.signing, self.settings.signer_chunk)
            self.signing = job.signing
            await asyncio.get_running_loop().run_in_executor(self._thread, retired.close)
        job.future.set_result(appended)
        for listener in self.on_append:
            listener()

    async def _reload(self) -> None:
        """The state and last entry from the log, which is always the truth."""
        loop = asyncio.get_running_loop()
        self.state = await loop.run_in_executor(
            self._thread, load_state, self.store, self.log_id, self.machine
        )
        self._last = await loop.run_in_executor(self._thread, self._last_entry)
        self.log_version += 1

    async def _commit(self, jobs: list[_Job]) -> None:
        accepted: list[tuple[_Job, list[Appended]]] = []
        batch = self._signer.batch()  # large batches are signed by the child process meanwhile
        effects: list[SideEffect] = []
        ts = now_ms()
        try:
            for job in jobs:
                if job.future.done():  # the caller went away before we got to it
                    continue
                try:
                    drafts = self.machine.execute(self.state, job.command, ts)
                    last = batch.unsigned[-1] if batch.unsigned else self._last
                    pairs = prepare_drafts(self.signing, drafts, last, ts, log_id=self.log_id)
                    # the bodies as signed, not a decode of them: the same values, without the cost
                    appended = [Appended(u.seq, u.id, u.header.ts_ms, u.header.vis, b) for u, b in pairs]
                    for n, item in enumerate(appended):
                        self.machine.apply(self.state, item, n == 0)
                except Exception as exc:  # a refusal, or a command no entry can carry: this job fails alone
                    job.future.set_exception(exc)
                    continue
                batch.add([u for u, _ in pairs])
                if job.side_effect:
                    effects.append(job.side_effect)
                accepted.append((job, appended))
        except BaseException:
            batch.abandon()
            raise
        if not batch.unsigned:
            return
        try:
            last_entry = await asyncio.get_running_loop().run_in_executor(
                self._thread, self._write, batch, effects
            )
        except BaseException as exc:
            log.error("commit failed, rebuilding state from the log: %s", exc)
            await self._reload()
            for job, _ in accepted:
                if not job.future.done():
                    job.future.set_exception(RuntimeError(f"storage failed: {exc}"))
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        self._last = last_entry
        self.log_version += 1
        for job, appended in accepted:
            if not job.future.done():
                job.future.set_result(appended)
        for listener in self.on_append:
            listener()

    def _write(self, batch: SigningBatch, effects: list[SideEffect]) -> Entry:
        """On the writer thread, in one transaction: the directory rows, then the entries a chunk at a
        time as their signatures come (from the signing process, or made here meanwhile), their tree
        nodes and the checkpoint. Returns the last entry."""
        try:
            with self.store.transaction():
                grouped: dict[str, list[tuple[object, ...]]] = {}
                for statement, params in effects:
                    grouped.setdefault(statement, []).append(params)
                for statement, rows in grouped.items():
                    self.conn.executemany(statement, rows)
                appender = self.store.appender(self.log_id)
                for entries in batch.signed():
                    appender.add(entries)
                appender.finish(self._sign_checkpoint)
        finally:
            batch.abandon()  # a no-op once every signature was collected
        return entries[-1]
