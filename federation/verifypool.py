"""Signature checks of replicated entries on worker processes (docs/gossip.md, "Pulling").

Verifying an Ed25519 signature is most of the cost of taking a peer's entries. On threads, the checks would
share one interpreter with the event loop reading pages and the writer storing them, and wait for it; worker
processes check on both cores while this process goes on. ``VerifyPool`` is an ``Executor``: ``Replica``
hands it chunks of ``(public key, signature, framed message)`` jobs and waits for the answer before it
commits anything, exactly as with a thread pool.

Workers start at the first large page (small pages are checked inline), ignore Ctrl-C (the node stops them)
and exit when the node does. If a worker dies, its pool is replaced; whatever it was asked is checked again
here (``answer``), so a broken pool costs time, never a check, and never a peer a penalty.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from protocol.keys import BACKENDS, DEFAULT_BACKEND

log = logging.getLogger("shora.verify")
WATCH_INTERVAL_S = 0.5
WORKER_NICENESS = 19
T = TypeVar("T")

Job = tuple[bytes, bytes, bytes]  # (public key, signature, framed message)


def verify_chunk(jobs: Sequence[Job]) -> int:
    """The index of the first signature in ``jobs`` that fails, or -1."""
    verify = BACKENDS[DEFAULT_BACKEND]
    for i, (public, signature, message) in enumerate(jobs):
        if not verify(public, signature, message):
            return i
    return -1


def answer(future: Future[int], jobs: Sequence[Job]) -> int:
    """``future``'s answer to ``verify_chunk(jobs)``; checked here if its worker died on the way."""
    try:
        return future.result()
    except concurrent.futures.BrokenExecutor:
        log.warning("a verify worker died; checking its %d signatures in the node's process", len(jobs))
        return verify_chunk(jobs)


def _worker_init(node: int, niceness: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the node, which stops its workers
    os.nice(niceness)
    # A worker holds both ends of its task pipe, so it would never see the node die (killed, say): it
    # watches for the node to be gone instead, and leaves.
    threading.Thread(target=_exit_with, args=(node,), daemon=True, name="shora-verify-watch").start()


def _exit_with(node: int) -> None:
    while os.getppid() == node:
        time.sleep(WATCH_INTERVAL_S)
    os._exit(0)


class VerifyPool(concurrent.futures.Executor):
    """A process pool, started on first use and replaced when broken."""

    def __init__(self, workers: int = 2, niceness: int = WORKER_NICENESS) -> None:
        self.workers = workers
        # Signature checkers run at idle priority (``WORKER_NICENESS``): most of what they check is off the
        # critical path (the signatures of pages their checkpoint authenticated, checked after commit), and
        # must not slow the ingest that waits for CPU. A page checked before commit waits for them with the
        # node's process idle, so they run then. Page decoders (``federation.replica.offload``) are on the
        # critical path: they run at the node's own priority (0).
        self.niceness = niceness
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.replaced = 0

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            for _ in range(2):
                if self._pool is None:
                    self._pool = ProcessPoolExecutor(
                        self.workers,
                        mp_context=multiprocessing.get_context("spawn"),  # no fork of a threaded process
                        initializer=_worker_init,
                        initargs=(os.getpid(), self.niceness),
                    )
                try:
                    return self._pool.submit(fn, *args, **kwargs)
                except (BrokenProcessPool, OSError) as exc:  # OSError: a worker could not even start
                    log.warning("verify workers broken (%s); starting new ones", exc)
                    self._pool.shutdown(wait=False, cancel_futures=True)
                    self._pool, self.replaced = None, self.replaced + 1
        done: Future[T] = Future()  # could not start workers twice over: check here
        try:
            done.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            done.set_exception(exc)
        return done

    def worker_pids(self) -> list[int]:
        """The process ids of the workers running now (none before the first large page)."""
        with self._lock:
            pool = self._pool
        # the standard library names its workers only in a private attribute: read here, nowhere else
        return [] if pool is None else sorted(pool._processes or {})

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=cancel_futures)
