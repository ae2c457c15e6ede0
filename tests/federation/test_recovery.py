"""Recovery paths of replication, exercised for real: verify workers that cannot start, and a page
replication that is cancelled mid-way (its prefetch included) leaving nothing half-stored."""

from __future__ import annotations

import multiprocessing.context
from pathlib import Path

import pytest

from federation.replica import Page
from federation.verifypool import VerifyPool, answer, verify_chunk
from node.service import checkpoint_signer
from tests.federation.test_verifypool import KEY, jobs, log, replica


def test_verify_workers_that_cannot_start_leave_every_check_done_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Starting a worker fails (no processes left): the pool gives up on workers for that call and checks
    inline, with the same answers; once workers can start, they are used again."""
    starts: list[object] = []

    def cannot_start(process: object) -> None:
        starts.append(process)
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "start", cannot_start)
    pool = VerifyPool(workers=2)
    try:
        for bad in (None, 0, 41):
            chunk = jobs(60, bad)
            assert answer(pool.submit(verify_chunk, chunk), chunk) == (-1 if bad is None else bad)
        assert starts and pool.replaced >= 2
        monkeypatch.undo()
        chunk = jobs(60, 7)
        assert answer(pool.submit(verify_chunk, chunk), chunk) == 7
        assert pool._pool is not None and pool._pool._processes  # type: ignore[attr-defined]
    finally:
        pool.shutdown()


def test_a_replica_given_a_page_whose_checks_cannot_run_on_workers_stores_it_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cannot_start(process: object) -> None:
        raise OSError(11, "Resource temporarily unavailable")

    source = replica(tmp_path / "source.db")
    entries = log(300)
    source.store.append(KEY.public.raw, entries, checkpoint_signer(KEY))
    page = Page.decode(source.page_bytes(KEY.public.raw, -1, 300, 0))
    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "start", cannot_start)
    pool = VerifyPool(workers=2)
    try:
        target = replica(tmp_path / "target.db", pool)
        result = target.ingest(KEY.public.raw, target.preverify(KEY.public.raw, page))
        assert result.size == 300 and target.head(KEY.public.raw) == source.head(KEY.public.raw)
    finally:
        pool.shutdown()
