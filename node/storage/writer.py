"""The node's one writer: governance commands in, durable signed entries out (DESIGN.md §2–§4).

Commands queue up; the writer task takes everything waiting (up to ``write_batch_max``), judges each command
against the state in turn, lays out its record entries and, after each public one, its public twin
(``node.storage.logs``), signs them all, and commits the whole batch — both logs' entries, tree nodes
and checkpoints, and any directory rows — in one SQLite transaction on the writer thread. Only then are
the commands answered: nothing is acknowledged before it is durable, and a batch costs one fsync however
many commands it holds (group commit). A refused command appends nothing and does not disturb the others
in its batch.

Two copies of the state: the working one, which a batch's commands are judged against and which runs ahead
of the disk by the batch being committed, and the committed one (``state``), the only one anybody else
reads. The committed copy takes a batch's entries only once its transaction has committed, in one step of
the event loop, so a reader is never shown a member or a vote that a failed commit (or a crash) then
loses. If a commit fails, both are rebuilt by replaying the record, which is always the truth.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from federation.errors import Frozen
from federation.tasks import cancel_and_wait
from node.rules.council import Appended, Draft, RuleError
from node.rules.machines import NodeCommand, NodeState, machine_for
from node.settings import Settings
from node.storage import clock, epochs, logs
from node.storage.migrations import open_database
from node.storage.replay import replay_record
from node.storage.signer import Signer, SigningBatch
from protocol.entry import TS_TOLERANCE_MS
from protocol.keys import SigningKey

log = logging.getLogger("shora.writer")

T = TypeVar("T")
# A row written in the same transaction as a command's entries (the member directory's), as an SQL
# statement and its parameters: rows of one statement are written together with executemany.
SideEffect = tuple[str, tuple[object, ...]]


@dataclass
class _Job:
    command: NodeCommand
    side_effect: SideEffect | list[SideEffect] | None
    future: asyncio.Future[list[Appended]]


@dataclass
class _KeyJob:
    """``log/key`` entries, signed by the root key, after which the node signs with ``signing``."""

    bodies: list[dict[str, Any]]
    signing: SigningKey | None
    future: asyncio.Future[list[Appended]]


class Writer:
    """Owns the write connection (on its own thread) and the state: ``state`` is the committed one."""

    def __init__(
        self,
        path: Path,
        key: SigningKey,
        settings: Settings,
        kind: str = "council",
        signing: SigningKey | None = None,
    ) -> None:
        self.key = key  # the root key: the logs' id; it signs checkpoints and log/key entries
        self.signing = signing or key  # what signs every other entry: a key the root key delegated, or itself
        self.log_id = logs.public_id(key.public.raw)  # our own log, as peers know it: the public log
        self.machine = machine_for(kind, self.log_id)
        self.settings = settings
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shora-writer")
        self._signer = self._new_signer(self.signing)
        check = functools.partial(logs.refuse_single_log, root_key=self.log_id)
        try:
            self.conn = self._thread.submit(open_database, path, check).result()
        except BaseException:
            self._thread.shutdown(wait=True)
            raise
        self.store = logs.record_store(self.conn)  # the writer's store sees the record
        working = self._thread.submit(self._replay).result()
        self._working: NodeState = working  # judged against; ahead of the disk while a batch commits
        self.state: NodeState = copy.deepcopy(working)  # committed: what handlers read
        self._cursor: logs.Cursor = self._thread.submit(logs.cursor_of, self.store, self.log_id).result()
        self._queue: asyncio.Queue[_Job | _KeyJob] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.blocked: str | None = None  # why appends are refused (a peer holds more of our own log)
        # bumped whenever our own log or its newest checkpoint note changes (appends, cosignatures merged,
        # a reload): what is derived from them (bundles) is cached against it, with no query to check
        self.log_version = 0
        # told after every durable batch that grew the public log (gossip push, witnessing): a batch of
        # council-only entries is no news to anyone, and must not look like any
        self.on_append: list[Callable[[], None]] = []
        # told after every durable batch, with its entries in order, once the committed state holds them:
        # what follows the record as it is written (the assembly console's live stream, node.http.live)
        self.on_record: list[Callable[[list[Appended]], None]] = []

    @property
    def record_id(self) -> bytes:
        """The record's log id (its current epoch)."""
        return logs.record_id(self.log_id, self._cursor.epoch)

    def unrecorded(self) -> int:
        """How many entries of the public log publish record entries the record does not hold (on the writer
        thread): none, unless the public log was taken back from peers after the record lost its tail. A
        restore's ``record/gap`` (the current epoch's entry 0) accounts for every public entry up to the
        last commitment the public log held then; the current epoch publishes the rest."""
        public = self.store.head(self.log_id)
        published = int(
            self.conn.execute(
                "SELECT count(*) FROM entries WHERE log_id = ? AND vis = 'public'", (self.record_id,)
            ).fetchone()[0]
        )
        accounted = 0
        if self._cursor.epoch > 0:
            gap = next(epochs.entries_of(self.store, self.log_id, self._cursor.epoch, 1), None)
            committed = gap.body().get("public") if gap is not None else None
            if isinstance(committed, dict) and isinstance(entry := committed.get("entry"), bytes):
                twin = logs.twin_seq(self.conn, self.log_id, entry)
                accounted = 0 if twin is None else twin + 1
        return max(0, (public.size if public else 0) - accounted - published)

    def _replay(self) -> NodeState:
        return replay_record(self.store, self.log_id, self.machine)

    def _frozen(self) -> str | None:
        head = self.store.head(self.log_id)
        return head.frozen if head is not None else None

    def sign_with(self, key: SigningKey) -> None:
        """Before ``start``: sign entries with ``key`` (a signing key the root key delegated)."""
        assert self._task is None, "the signing key changes on a running writer through change_keys"
        self.signing = key
        self._signer.close()
        self._signer = self._new_signer(key)

    def _new_signer(self, key: SigningKey) -> Signer:
        return Signer(key, self.settings.signer_chunk, self.settings.signer_reply_timeout_s)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="shora-writer")

    async def close(self) -> None:
        try:
            await cancel_and_wait(self._task)
        finally:
            self._release()

    def _release(self) -> None:
        """Fail the jobs still queued, close the connection and end the thread and the signer."""
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
        """Re-read state from the record after something other than ``submit`` wrote our own logs."""
        await self._reload()

    async def submit(
        self, command: NodeCommand, side_effect: SideEffect | list[SideEffect] | None = None
    ) -> list[Appended]:
        """Judge, sign and durably append ``command``, with ``side_effect`` row(s) in the same transaction;
        raises ``RuleError`` if a rule refuses it."""
        if self.blocked is not None:
            raise RuleError("node.behind-peers", self.blocked)
        future: asyncio.Future[list[Appended]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(command, side_effect, future))  # unbounded: never waits
        return await future

    async def change_keys(self, bodies: list[dict[str, Any]], signing: SigningKey | None) -> list[Appended]:
        """Append ``log/key`` entries signed by the root key (public record entries and their twins), in turn
        with the commands queued, and sign with ``signing`` (if given) from the next entry on. Answers the
        twins, at their public-log positions. Raises ``RuleError`` on a malformed body."""
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
        """``log/key`` entries, public record entries and their twins, signed by the root key itself (the
        public log's key history is what bundles and peers read); then the new signing key takes over."""
        if job.future.done():
            return
        if self.blocked is not None:
            job.future.set_exception(RuleError("node.behind-peers", self.blocked))
            return
        ts = clock.now_ms()
        try:
            laid, cursor = self._cursor.lay_out(self.key, [Draft("public", b) for b in job.bodies], ts)
            appended = [
                Appended(u.seq + cursor.delta, u.id, u.header.ts_ms, u.header.vis, b) for u, b in laid.record
            ]
            for item in appended:
                self.machine.apply(self._working, item, False)
        except (RuleError, ValueError) as exc:
            await self._reload()  # the entries before the refused one were folded in: undo them
            job.future.set_exception(exc)
            return
        entries = logs.sign_entries(self.key, laid.unsigned)

        def write() -> None:
            with self.store.transaction():
                ours, twins = logs.split(entries)
                record = self.store.appender(self.record_id)
                record.add(ours)
                record.finish(logs.checkpoint_signer(self.key, self.record_id))
                public = self.store.appender(self.log_id)
                public.add(twins)
                public.finish(logs.checkpoint_signer(self.key, self.log_id))

        try:
            await asyncio.get_running_loop().run_in_executor(self._thread, write)
        except BaseException as exc:
            log.error("commit failed, rebuilding state from the record: %s", exc)
            await self._reload()
            frozen = await asyncio.get_running_loop().run_in_executor(self._thread, self._frozen)
            if not job.future.done():
                job.future.set_exception(
                    Frozen(f"this node's own log is frozen: {frozen}")
                    if frozen
                    else RuntimeError(f"storage failed: {exc}")
                )
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        self._publish([appended], False)
        self._cursor = cursor
        self.log_version += 1
        if job.signing is not None:
            retired, self._signer = self._signer, self._new_signer(job.signing)
            self.signing = job.signing
            await asyncio.get_running_loop().run_in_executor(self._thread, retired.close)
        twins = logs.split(entries)[1]
        # answered with where the public log holds them: the key history bundles and peers read
        job.future.set_result(
            [
                Appended(t.seq, t.id, t.header.ts_ms, t.header.vis, b)
                for t, b in zip(twins, job.bodies, strict=True)
            ]
        )
        for listener in self.on_append:
            listener()

    async def _reload(self) -> None:
        """The state and both logs' ends from the record, which is always the truth."""
        loop = asyncio.get_running_loop()
        self._working = await loop.run_in_executor(self._thread, self._replay)
        self.state = copy.deepcopy(self._working)
        self._cursor = await loop.run_in_executor(self._thread, logs.cursor_of, self.store, self.log_id)
        self.log_version += 1

    async def _commit(self, jobs: list[_Job]) -> None:
        accepted: list[tuple[_Job, list[Appended]]] = []
        ts = clock.now_ms()
        cursor = self._cursor
        last_ts = max(
            (e.header.ts_ms for e in (cursor.last_record, cursor.last_public) if e is not None), default=0
        )
        if ts < last_ts - TS_TOLERANCE_MS:
            # A clock a little behind (an NTP step) is stamped max(now, last), as a follower may lag 5 s
            # (docs/protocol.md §4.5); further behind, stamping so would freeze the log's time at the last
            # entry's (ten years ahead, once): refuse until the clock is fixed.
            refusal = RuleError(
                "node.clock-behind",
                f"this node's clock reads {ts} ms, {last_ts - ts} ms before its last entry's: "
                "fix the system clock (NTP) before appending again",
            )
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(refusal)
            return
        batch = self._signer.batch()  # large batches are signed by the child process meanwhile
        effects: list[SideEffect] = []
        diverged = False
        try:
            for job in jobs:
                applied = 0
                if job.future.done():  # the caller went away before we got to it
                    continue
                try:
                    drafts = self.machine.execute(self._working, job.command, ts)
                    laid, after = cursor.lay_out(self.signing, drafts, ts)
                    # the bodies as signed, not a decode of them: the same values, without the cost
                    appended = [
                        Appended(u.seq + cursor.delta, u.id, u.header.ts_ms, u.header.vis, b)
                        for u, b in laid.record
                    ]
                    for n, item in enumerate(appended):
                        applied = n
                        self.machine.apply(self._working, item, n == 0)
                except Exception as exc:  # a refusal, or a command no entry can carry: this job fails alone
                    job.future.set_exception(exc)
                    # a command refused after its first entry was applied left the working state ahead
                    diverged = diverged or applied > 0
                    continue
                cursor = after
                batch.add(laid.unsigned)
                if isinstance(job.side_effect, list):
                    effects.extend(job.side_effect)
                elif job.side_effect:
                    effects.append(job.side_effect)
                accepted.append((job, appended))
        except BaseException:
            batch.abandon()
            raise
        if not batch.unsigned:
            if diverged:
                self._working = copy.deepcopy(self.state)
            return
        try:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._write, batch, effects)
        except BaseException as exc:
            refused = isinstance(exc, RuleError)  # blocked while the batch was judged: a refusal
            (log.warning if refused else log.error)(
                "commit failed, rebuilding state from the record: %s", exc
            )
            await self._reload()
            # a fork proof froze our own log while the batch was judged: a refusal, not a failure
            frozen = await asyncio.get_running_loop().run_in_executor(self._thread, self._frozen)
            for job, _ in accepted:
                if not job.future.done():
                    job.future.set_exception(
                        exc
                        if refused
                        else Frozen(f"this node's own log is frozen: {frozen}")
                        if frozen
                        else RuntimeError(f"storage failed: {exc}")
                    )
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        try:
            self._publish([appended for _, appended in accepted], diverged)
        except Exception:  # a bug (the entries were judged already), but the batch is durable all the same
            log.exception("the committed state refused a committed batch; rebuilding it from the record")
            await self._reload()
        published = cursor.last_public is not self._cursor.last_public
        self._cursor = cursor
        self.log_version += 1
        for job, appended in accepted:
            if not job.future.done():
                job.future.set_result(appended)
        recorded = [item for _, appended in accepted for item in appended]
        for follower in self.on_record:
            follower(recorded)
        if published:  # only the public log's growth is news to peers and witnesses (DESIGN.md §6)
            for listener in self.on_append:
                listener()

    def _publish(self, batch: list[list[Appended]], diverged: bool) -> None:
        """The batch is durable: the committed state takes its entries, as the working state took them (the
        same entries, in the same order, judged the same way: the same state). No ``await`` in here, so
        no reader sees half a batch."""
        for appended in batch:
            for n, item in enumerate(appended):
                self.machine.apply(self.state, item, n == 0)
        if diverged:
            self._working = copy.deepcopy(self.state)

    def _write(self, batch: SigningBatch, effects: list[SideEffect]) -> None:
        """On the writer thread, in one transaction: the directory rows, then the entries of both logs a
        chunk at a time as their signatures come (from the signing process, or made here meanwhile), their
        tree nodes and both checkpoints."""
        if self.blocked is not None:  # e.g. a fork proof of our own log was stored since the batch was judged
            batch.abandon()
            raise RuleError("node.behind-peers", self.blocked)
        try:
            with self.store.transaction():
                grouped: dict[str, list[tuple[object, ...]]] = {}
                for statement, params in effects:
                    grouped.setdefault(statement, []).append(params)
                for statement, rows in grouped.items():
                    self.conn.executemany(statement, rows)
                record_id = self.record_id
                record = self.store.appender(record_id)
                public = self.store.appender(self.log_id)
                for entries in batch.signed():
                    ours, twins = logs.split(entries)
                    record.add(ours)
                    if twins:
                        public.add(twins)
                record.finish(logs.checkpoint_signer(self.key, record_id))
                if public.added:
                    public.finish(logs.checkpoint_signer(self.key, self.log_id))
        finally:
            batch.abandon()  # a no-op once every signature was collected
