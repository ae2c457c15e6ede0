"""The replica the engine sees: reads on the read connection, writes through the writer's, with the node's
policy on what it takes.

``limit(log_id)`` caps what is taken from a log: a member suspended by a federation we trust has its later
entries refused everywhere (docs/gossip.md; ``node.replication.roster``). ``on_fork`` is told after a fork
proof is stored, on the writer thread (the node stops appending to its own log if the proof is of it).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable

from federation.replica import Head, IngestResult, Page, Replica
from federation.store.verified import BadSignature
from protocol.errors import ProtocolError
from protocol.note import Checkpoint, parse_note


class SplitReplica:
    def __init__(
        self,
        reader: Replica,
        writer: Replica,
        limit: Callable[[bytes], int | None],
        on_fork: Callable[[], None] | None = None,
    ) -> None:
        self.reader, self.writer, self.limit = reader, writer, limit
        self.on_fork = on_fork
        self.after_ingest: list[Callable[[bytes, IngestResult], None]] = []  # on the writer thread

    # reads: on the read connection

    def heads(self) -> list[Head]:
        return self.reader.heads()

    def head(self, log_id: bytes) -> Head | None:
        return self.reader.head(log_id)

    def page(self, log_id: bytes, after_seq: int, limit: int, first: int) -> Page:
        return self.reader.page(log_id, after_seq, limit, first)

    def page_bytes(self, log_id: bytes, after_seq: int, limit: int, first: int) -> bytes:
        return self.reader.page_bytes(log_id, after_seq, limit, first)

    def forks(self) -> list[tuple[bytes, bytes]]:
        return self.reader.forks()

    def frozen(self, log_id: bytes) -> str | None:
        return self.reader.frozen(log_id)

    # writes: through the writer's connection, on its thread

    def preverify(self, log_id: bytes, page: Page) -> Page:
        return self.writer.preverify(log_id, page)

    def deferred_futures(self) -> list[concurrent.futures.Future[int]]:
        return self.writer.deferred_futures()

    def settle(self, wait: bool = False) -> list[BadSignature]:
        return self.writer.settle(wait)

    def unmended(self) -> list[BadSignature]:
        return self.writer.unmended()

    def mend(self, log_id: bytes, page: Page) -> int:
        return self.writer.mend(log_id, page)

    def add_fork(self, proof: bytes) -> bool:
        new = self.writer.add_fork(proof)
        if self.on_fork is not None:
            self.on_fork()
        return new

    def ingest(self, log_id: bytes, page: Page) -> IngestResult:
        limit = self.limit(log_id)
        if limit is not None:
            kept = tuple(e for e in page.entries if e.seq < limit)
            checkpoint_fits = page.checkpoint is not None and note_size(page.checkpoint) <= limit
            page = Page(
                kept,
                page.checkpoint if checkpoint_fits else None,
                page.consistency if checkpoint_fits else (),
                page.first,
                source=page.source,
            )
            if not kept:
                head = self.writer.head(log_id)
                return IngestResult(0, head.size if head else 0, None)
        result = self.writer.ingest(log_id, page)
        for listener in self.after_ingest:
            listener(log_id, result)
        return result


def note_size(note: str) -> int:
    """The tree size a checkpoint note states; a note that does not parse counts as infinitely large."""
    try:
        return Checkpoint.from_body(parse_note(note).text).size
    except ProtocolError:
        return 2**63
