"""Signature checks of replicated entries on worker processes (docs/gossip.md, "Pulling").

Verifying an Ed25519 signature is most of the cost of taking a peer's entries. On threads, the checks would
share one interpreter with the event loop reading pages and the writer storing them, and wait for it; worker
processes check on both cores while this process goes on. ``VerifyPool`` is an ``Executor``: ``Replica``
hands it chunks of ``(public key, signature, framed message)`` jobs and waits for the answer before it
commits anything, exactly as with a thread pool.

Workers start at the first large page (small pages are checked inline), ignore Ctrl-C (the node stops them)
and exit when the node does. If a worker dies, its pool is replaced; whatever it was asked is checked again
here (``answer``), so a broken pool costs time, never a check, and never a peer a penalty.

Workers are forked from a server process (multiprocessing's ``forkserver``), started once, at the first
pool's first task: it imports the node's modules once, and each worker then starts in milliseconds. A pool
starts its workers on a thread of its own: the first start waits half a second for that server, and the
callers are the writer thread and the event loop, which must not wait (a task submitted meanwhile runs once
the workers are up). A
spawned worker is a new interpreter that imports them all again, half a second of CPU each (``shora``'s own
modules come with its main script); at the start of a catch-up three of them did so at once, on the cores
the catch-up needed (docs/gossip.md, "Catch-up speed"). The server is a fresh process, never a fork of the
node's threaded one, and it leaves when the node does. Where there is no fork server (Windows), workers are
spawned.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import types
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


WORKER_MODULES = ("federation.verifypool", "federation.replica.offload")  # the functions workers run


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(preload())
    return context


def preload() -> list[str]:
    """What the fork server imports before it forks workers: the modules workers run, and what the node's
    main script imports. A worker runs that script again (``__mp_main__``: multiprocessing does so for
    every process it starts), and so finds it all loaded. ``shora``'s script imports the whole node."""
    main = sys.modules.get("__main__")
    names = set(WORKER_MODULES)
    for value in vars(main).values() if main is not None else ():
        name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
        if isinstance(name, str) and name not in ("__main__", "__mp_main__", "builtins"):
            names.add(name)
    return sorted(names)


def _worker_init(node: int, niceness: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the node, which stops its workers
    os.nice(niceness)
    # A worker holds both ends of its task pipe, so it would never see the node die (killed, say): it
    # watches for the node to be gone instead, and leaves. Its parent is the fork server (the node itself
    # where workers are spawned), which leaves when the node does; a worker reparented, or started after
    # the node was gone, leaves too.
    parent = os.getppid()
    threading.Thread(target=_exit_with, args=(node, parent), daemon=True, name="shora-verify-watch").start()


def _exit_with(node: int, parent: int) -> None:
    while os.getppid() == parent and _alive(node):
        time.sleep(WATCH_INTERVAL_S)
    os._exit(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, and another user's: never the node's case, but not gone either
        return True
    return True


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
        self._waiting: list[tuple[Future[Any], Callable[..., Any], Any, Any]] = []
        self._starter: threading.Thread | None = None

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        for _ in range(2):
            with self._lock:
                if self._closed:
                    raise RuntimeError("cannot schedule new futures after shutdown")
                pool = self._pool
                if pool is None:  # only ``_start`` sets it, and one runs at a time
                    return self._after_start(fn, args, kwargs)
            try:
                return pool.submit(fn, *args, **kwargs)
            except (BrokenProcessPool, OSError) as exc:  # OSError: a new worker could not even start
                log.warning("verify workers broken (%s); starting new ones", exc)
                with self._lock:
                    if self._pool is pool:
                        self._pool, self.replaced = None, self.replaced + 1
                pool.shutdown(wait=False, cancel_futures=True)
        done: Future[T] = Future()  # broken twice over, and new workers already up: check here
        _forward(None, done, fn, args, kwargs)
        return done

    def _after_start(self, fn: Callable[..., T], args: Any, kwargs: Any) -> Future[T]:
        """A future for ``fn(*args, **kwargs)``, run once the workers are up (holding ``_lock``).

        Workers are started on a thread of their own, never on the caller's: the first start waits for the
        fork server to load the node (half a second), and the callers are the writer and the event loop."""
        waiting: Future[T] = Future()
        self._waiting.append((waiting, fn, args, kwargs))
        if self._starter is None:
            self._starter = threading.Thread(target=self._start, daemon=True, name="shora-pool-start")
            self._starter.start()
        return waiting

    def _start(self) -> None:
        pool: ProcessPoolExecutor | None = None
        for _ in range(2):
            pool = ProcessPoolExecutor(
                self.workers,
                mp_context=_context(),  # no fork of a threaded process (module docstring)
                initializer=_worker_init,
                initargs=(os.getpid(), self.niceness),
            )
            try:
                # one task per worker starts them all now (the pool starts a worker per task while none is
                # idle), so that no later submit starts one on its caller's thread
                for _ in range(self.workers):
                    pool.submit(_started)
                break
            except (BrokenProcessPool, OSError) as exc:
                log.warning("verify workers could not start (%s)", exc)
                pool.shutdown(wait=False, cancel_futures=True)
                pool = None
                with self._lock:
                    self.replaced += 1
        with self._lock:
            waiting, self._waiting, self._starter = self._waiting, [], None
            closed = self._closed
            if not closed:
                self._pool = pool
        if closed:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            for future, *_ in waiting:  # the caller's ``answer`` checks it in its own process
                future.set_exception(BrokenProcessPool("the pool was shut down before its workers started"))
            return
        for future, fn, args, kwargs in waiting:
            _forward(pool, future, fn, args, kwargs)

    def worker_pids(self) -> list[int]:
        """The process ids of the workers running now (none before the first large page)."""
        with self._lock:
            pool = self._pool
        # the standard library names its workers only in a private attribute: read here, nowhere else
        return [] if pool is None else sorted(pool._processes or {})

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool, starter = self._pool, None, self._starter
        if starter is not None and wait:
            starter.join()  # what it started, it stops: the pool is closed
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def _started() -> bool:
    return True


def _forward(
    pool: ProcessPoolExecutor | None, future: Future[T], fn: Callable[..., T], args: Any, kwargs: Any
) -> None:
    """Run what waited for the workers: on them if they started, here if they could not (the answer is the
    same), and as a broken pool's answer if the pool was shut down meanwhile (``answer`` checks it here)."""
    if pool is None:
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return
    try:
        inner = pool.submit(fn, *args, **kwargs)
    except (BrokenProcessPool, OSError, RuntimeError) as exc:
        future.set_exception(BrokenProcessPool(f"the workers stopped before this task ran: {exc}"))
        return

    def copy(done: Future[T]) -> None:
        if done.cancelled():
            future.set_exception(BrokenProcessPool("the workers stopped before this task ran"))
        elif (error := done.exception()) is not None:
            future.set_exception(error)
        else:
            future.set_result(done.result())

    inner.add_done_callback(copy)
