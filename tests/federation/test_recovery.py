"""Recovery paths of replication, exercised for real: verify workers that cannot start, or start slowly,
and a page replication that is cancelled mid-way (its prefetch included) leaving nothing half-stored."""

from __future__ import annotations

import asyncio
import multiprocessing.context
import threading
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from federation.replica import Page
from federation.store import verified
from federation.transport import Reply
from federation.verifypool import VerifyPool, answer, verify_chunk
from node.storage.drafts import checkpoint_signer
from protocol import merkle
from tests.federation.test_gossip import Cluster, SqlReplica, run
from tests.federation.test_verifypool import KEY, jobs, log, replica

# the pool forks its workers from a fork server where the platform has one, and spawns them elsewhere
WORKER_CLASSES = (multiprocessing.context.ForkServerProcess, multiprocessing.context.SpawnProcess)


def workers_cannot_start(monkeypatch: pytest.MonkeyPatch, starts: list[object]) -> None:
    def cannot_start(process: object) -> None:
        starts.append(process)
        raise OSError(11, "Resource temporarily unavailable")

    for cls in WORKER_CLASSES:
        monkeypatch.setattr(cls, "start", cannot_start)


def test_verify_workers_that_cannot_start_leave_every_check_done_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Starting a worker fails (no processes left): the pool gives up on workers for that call and checks
    inline, with the same answers; once workers can start, they are used again."""
    starts: list[object] = []
    workers_cannot_start(monkeypatch, starts)
    pool = VerifyPool(workers=2)
    try:
        for bad in (None, 0, 41):
            chunk = jobs(60, bad)
            assert answer(pool.submit(verify_chunk, chunk), chunk) == (-1 if bad is None else bad)
        assert starts and pool.replaced >= 2
        monkeypatch.undo()
        chunk = jobs(60, 7)
        assert answer(pool.submit(verify_chunk, chunk), chunk) == 7
        assert pool.worker_pids()
    finally:
        pool.shutdown()


def workers_start_when(
    release: threading.Event, monkeypatch: pytest.MonkeyPatch, starters: list[str]
) -> None:
    """Worker starts wait for ``release`` on the pool's own thread; a start on any other thread (a caller's)
    is recorded and goes ahead, so that a pool starting workers on its caller fails the test, not hangs."""
    for cls in WORKER_CLASSES:

        def start(process: multiprocessing.process.BaseProcess, real: object = cls.start) -> None:
            starters.append(threading.current_thread().name)
            if threading.current_thread().name == "shora-pool-start":
                release.wait()
            real(process)  # type: ignore[operator]

        monkeypatch.setattr(cls, "start", start)


def test_workers_start_on_a_thread_of_the_pool_and_never_on_the_callers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first start waits for the fork server to load the node, half a second: the writer thread and the
    event loop, which submit, do not wait for it. What they submit meanwhile runs once the workers are up."""
    release, starters = threading.Event(), list[str]()
    workers_start_when(release, monkeypatch, starters)
    pool = VerifyPool(workers=2)
    try:
        chunk = jobs(60, 13)
        future = pool.submit(verify_chunk, chunk)  # back at once: the start waits on the pool's thread
        other = pool.submit(verify_chunk, jobs(60, None))
        assert not future.done() and not other.done()
        release.set()
        assert answer(future, chunk) == 13 and other.result() == -1
        assert starters == ["shora-pool-start"] * 2
        assert len(pool.worker_pids()) == 2
        assert answer(pool.submit(verify_chunk, chunk), chunk) == 13
        assert starters == ["shora-pool-start"] * 2  # both were started up front: later tasks start none
    finally:
        release.set()
        pool.shutdown()


def test_a_pool_shut_down_while_its_workers_start_leaves_what_waited_to_be_checked_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release, starters = threading.Event(), list[str]()
    workers_start_when(release, monkeypatch, starters)
    pool = VerifyPool(workers=2)
    chunk = jobs(60, 5)
    future = pool.submit(verify_chunk, chunk)
    pool.shutdown(wait=False)
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(verify_chunk, chunk)
    release.set()
    assert isinstance(future.exception(), BrokenProcessPool)  # waits for the pool's thread to end
    assert answer(future, chunk) == 5
    assert pool.worker_pids() == []


def test_a_replica_given_a_page_whose_checks_cannot_run_on_workers_stores_it_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    starts: list[object] = []
    source = replica(tmp_path / "source.db")
    entries = log(300)
    source.store.append(KEY.public.raw, entries, checkpoint_signer(KEY))
    page = Page.decode(source.page_bytes(KEY.public.raw, -1, 300, 0))
    workers_cannot_start(monkeypatch, starts)
    pool = VerifyPool(workers=2)
    try:
        target = replica(tmp_path / "target.db", pool)
        result = target.ingest(KEY.public.raw, target.preverify(KEY.public.raw, page))
        assert result.size == 300 and target.head(KEY.public.raw) == source.head(KEY.public.raw)
        assert target.settle(wait=True) == []  # every signature checked, here
        assert verified.pending(target.store.conn) == []
        assert starts and not pool.worker_pids()
    finally:
        pool.shutdown()


def test_a_pull_cancelled_with_its_prefetch_in_flight_leaves_whole_pages_only() -> None:
    """Cancel a pull while its prefetch of the next page is on the wire: the replica holds exactly the
    pages it ingested, each whole and verified, and the next pull resumes where it stopped."""

    async def main() -> None:
        async with Cluster(2, replica=SqlReplica, page_entries_max=10) as cluster:
            a, b = cluster.nodes
            a.replica.append(a.id, a.council.sign(35))
            serve = cluster.network.handlers[a.id]
            on_the_wire, release = asyncio.Event(), asyncio.Event()
            cancelled: list[str] = []

            async def second_page_waits(sender: bytes, method: str, path: str, body: bytes) -> Reply:
                if "after_seq=9&" in path:  # the prefetch of entries 10..19
                    on_the_wire.set()
                    try:
                        await release.wait()
                    except asyncio.CancelledError:
                        cancelled.append(path)
                        raise
                return await serve(sender, method, path, body)

            cluster.network.register(a.id, second_page_waits)
            theirs = a.replica.head(a.id)
            pull = asyncio.create_task(b.gossip._pull(a.id, theirs))
            await on_the_wire.wait()
            pull.cancel()
            with pytest.raises(asyncio.CancelledError):
                await pull
            assert cancelled, "the prefetch was left running"

            first = [e.id for e in a.council.entries[:10]]
            held = b.replica.head(a.id)
            assert (held.size, held.root) == (10, merkle.root_from_leaves(first))
            assert [e.id for e in b.replica.store.entries(a.id, -1, 100)] == first
            assert b.replica.store.root(a.id, 10) == held.root  # the stored tree agrees with its leaves

            release.set()
            await b.gossip._pull(a.id, theirs)
            assert b.replica.head(a.id) == theirs
            assert [e.id for e in b.replica.store.entries(a.id, -1, 100)] == [e.id for e in a.council.entries]

    run(main())
