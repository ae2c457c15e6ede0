"""Reads off the event loop (datasette's way): ``await reader.run(fn, *args)`` runs ``fn(conn, *args)`` on
one thread that owns its own read-only connection. For reads that cost more than an index lookup —
scanning every decision, replaying a federation's log, building a bundle — so that one request cannot
hold every other one up."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from federation import db as dbmod

P = ParamSpec("P")
T = TypeVar("T")


class Reader:
    def __init__(self, path: Path) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shora-reader")
        self.conn = self._thread.submit(dbmod.connect, path, readonly=True).result()

    async def run(
        self, fn: Callable[Concatenate[sqlite3.Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        call = functools.partial(fn, self.conn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    def close(self) -> None:
        self._thread.submit(self.conn.close).result()
        self._thread.shutdown(wait=True)
