"""Signature checks of a page's entries on the verify pool, while the rest of ingest goes on.

``SignatureChecks`` sends the checks of the entries ``Replica.ingest`` accepts a chunk at a time, as soon as a
chunk is ready, and ``failed()`` waits for every answer before the transaction commits: nothing unverified is
ever committed. ``Preverified`` sends those of a page's root-signed entries as soon as the page is decoded,
before its turn to be ingested (``Replica.preverify``); ingest then only waits for their answers.
"""

from __future__ import annotations

import concurrent.futures
import os

from federation.verifypool import Job, answer, verify_chunk
from protocol.entry import Entry
from protocol.keys import ENTRY_TAG, PublicKey

# Below this many signatures a thread pool costs more than it saves.
POOL_THRESHOLD = 32


class Preverified:
    """Signature checks of a page's root-signed entries, sent to the pool as soon as the page was decoded
    (``Replica.preverify``), before its turn to be ingested: ``ingest`` does not verify them again, it
    only waits for their answers. Bound to the exact entries of one log it was made for."""

    def __init__(self, log_id: bytes, entries: tuple[Entry, ...], pool: concurrent.futures.Executor) -> None:
        self.log_id = log_id
        self.entries = entries
        root_id = PublicKey(log_id).id
        self.covered: set[int] = set()  # indexes in ``entries``
        # (indexes of the chunk's jobs, the jobs, the future answering the first that fails or -1)
        self.chunks: list[tuple[list[int], list[Job], concurrent.futures.Future[int]]] = []
        chunk = max(1, -(-len(entries) // (2 * (os.cpu_count() or 1))))
        indexes: list[int] = []
        jobs: list[Job] = []
        for i, entry in enumerate(entries):
            if entry.header.key_id != root_id:
                continue  # a delegated key, or none valid: ingest decides
            indexes.append(i)
            jobs.append((log_id, entry.signature, ENTRY_TAG + entry.header_bytes))
            if len(jobs) >= chunk:
                self.chunks.append((indexes, jobs, pool.submit(verify_chunk, jobs)))
                indexes, jobs = [], []
        if jobs:
            self.chunks.append((indexes, jobs, pool.submit(verify_chunk, jobs)))
        for indexes, _, _ in self.chunks:
            self.covered.update(indexes)

    def cancel(self) -> None:
        for _, _, future in self.chunks:
            future.cancel()

    def failed(self, wanted: set[int]) -> int:
        """The smallest index in ``wanted`` whose signature fails, or -1 (waits for every chunk)."""
        failures: list[int] = []
        for indexes, jobs, future in self.chunks:
            bad = answer(future, jobs)
            if bad < 0:
                continue
            if indexes[bad] in wanted:
                failures.append(indexes[bad])
                continue
            # the first failure is not one asked about: check the wanted ones after it here
            after = zip(indexes[bad + 1 :], jobs[bad + 1 :], strict=True)
            rest = [(i, job) for i, job in after if i in wanted]
            again = verify_chunk([job for _, job in rest])
            if again >= 0:
                failures.append(rest[again][0])
        return min(failures, default=-1)


class SignatureChecks:
    """Signature jobs sent to the pool a chunk at a time, as soon as a chunk is ready; with those of a
    ``Preverified`` already on their way, waited for too."""

    def __init__(
        self,
        pool: concurrent.futures.Executor | None,
        total: int,
        pre: Preverified | None = None,
        offset: int = 0,
    ) -> None:
        self.pool = pool if total >= POOL_THRESHOLD else None
        chunks = 2 * (os.cpu_count() or 1)
        self.chunk = max(1, -(-total // chunks))
        self.pending: list[Job] = []
        self.done = 0  # jobs already handed out
        self.futures: list[tuple[int, list[Job], concurrent.futures.Future[int]]] = []
        self.positions: list[int] = []  # the position (in the entries checked) of each job
        # entries whose checks ``pre`` already sent: their index in its page is ``offset`` + their position
        self.pre, self.offset = pre, offset
        self.pre_wanted: set[int] = set()

    def covers(self, position: int) -> bool:
        return self.pre is not None and self.offset + position in self.pre.covered

    def add(self, position: int, public: bytes, signature: bytes, header: bytes) -> None:
        self.positions.append(position)
        self.pending.append((public, signature, ENTRY_TAG + header))
        if self.pool is not None and len(self.pending) >= self.chunk:
            self._flush()

    def skip(self, position: int) -> None:
        """The entry at ``position`` is verified by ``pre`` (``covers``): only wait for its answer."""
        self.pre_wanted.add(self.offset + position)

    def _flush(self) -> None:
        if self.pending and self.pool is not None:
            self.futures.append((self.done, self.pending, self.pool.submit(verify_chunk, self.pending)))
            self.done += len(self.pending)
            self.pending = []

    def cancel(self) -> None:
        for _, _, future in self.futures:
            future.cancel()
        if self.pre is not None:
            self.pre.cancel()

    def failed(self) -> int:
        """The position of the first entry whose signature fails, or -1 (waits for every chunk)."""
        self._flush()
        answers = [(start, answer(future, jobs)) for start, jobs, future in self.futures]
        failures = [self.positions[start + bad] for start, bad in answers if bad >= 0]
        bad = verify_chunk(self.pending)
        if bad >= 0:
            failures.append(self.positions[self.done + bad])
        if self.pre is not None and self.pre_wanted:
            bad = self.pre.failed(self.pre_wanted)
            if bad >= 0:
                failures.append(bad - self.offset)
        return min(failures, default=-1)


class Deferred:
    """The signature checks of a page committed on its checkpoint's authority (``Replica.ingest``): sent to
    the pool once the page is committed, off the critical path, and collected by ``Replica.settle``. Without
    a pool they are checked in this process at once, after the commit all the same."""

    def __init__(
        self,
        log_id: bytes,
        first: int,
        jobs: list[Job],
        source: bytes | None,
        pool: concurrent.futures.Executor | None,
    ) -> None:
        self.log_id, self.first, self.end, self.source = log_id, first, first + len(jobs), source
        size = max(1, -(-len(jobs) // (2 * (os.cpu_count() or 1))))
        self.chunks: list[tuple[int, list[Job], concurrent.futures.Future[int]]] = []
        for start in range(0, len(jobs), size):
            part = jobs[start : start + size]
            if pool is None:
                future: concurrent.futures.Future[int] = concurrent.futures.Future()
                future.set_result(verify_chunk(part))
            else:
                future = pool.submit(verify_chunk, part)
            self.chunks.append((start, part, future))

    def futures(self) -> list[concurrent.futures.Future[int]]:
        return [future for _, _, future in self.chunks]

    def done(self) -> bool:
        return all(future.done() for future in self.futures())

    def failed(self) -> int:
        """The seq of the first entry whose signature fails, or -1 (waits for every chunk)."""
        for start, jobs, future in self.chunks:
            bad = answer(future, jobs)
            if bad >= 0:
                return self.first + start + bad
        return -1

    def cancel(self) -> None:
        for future in self.futures():
            future.cancel()
