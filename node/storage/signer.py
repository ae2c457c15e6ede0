"""Entry signatures made in a child process, so a large batch is signed on a second core (DESIGN.md §4).

A signature is most of an entry's cost, and Python runs one thread at a time: signing threads would wait for
the event loop, which is busy judging the batch. But an entry's place in its log needs no signature — its
``prev`` is the id of the entry before it, the hash of that entry's header alone — so the writer lays out
a batch's entries while judging them and ships their headers, a chunk at a time, to a child process holding
the same root key. The child signs while the writer judges the rest; the writer thread collects the
signatures when it writes the batch, and signs the last, incomplete chunk itself meanwhile.

The child is started at the first batch large enough to need it, and signs entry headers only — of the
public log or of the record: it puts that log's domain tag in front of every message itself, so nothing else
(a checkpoint, a request) can be signed through it. It never sees a body. It exits when its input closes, so
it does not outlive the node. If it dies, stalls or answers wrongly, the writer signs those entries itself
and starts a fresh child at the next large batch: signatures are deterministic, so either way the entries
are the same.

Wire, on the child's stdin and stdout: the 32-byte key seed once; then each request is a 4-byte count and
that many (1-byte log — 0 the public log, 1 the record —, 2-byte length, header) triples, answered by that
many 64-byte signatures in order.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, BinaryIO

from protocol.entry import Entry, Unsigned
from protocol.keys import SIGNATURE_SIZE, Domain, SigningKey

log = logging.getLogger("shora.signer")

# Entries the child may owe signatures for, at most (this batch's and late copies of earlier ones): their
# requests (≈ 130 bytes each) and replies (64 bytes each) fit in the pipes' 64 KiB. The writer's writes
# never block anyway (a full pipe means a stuck child, which is replaced); the child's would, but the
# writer reads every reply. A chunk larger than this (the setting ``signer_chunk``) means no child at all.
MAX_IN_FLIGHT = 256
REPLY_TIMEOUT_S = 10.0
RETRY_AFTER_S = 60.0  # after a child failed, the writer signs alone this long before starting another
SEED_SIZE = 32
# The domains the child signs in, by the byte that names them on its wire: entry headers of either log.
DOMAINS = (Domain.ENTRY, Domain.RECORD)


def sign_locally(key: SigningKey, unsigned: list[Unsigned]) -> list[bytes]:
    """The signatures of ``unsigned``, made in this process, each in its own log's domain."""
    return [key.sign(u.entry_type.DOMAIN, u.header_bytes) for u in unsigned]


class Signer:
    """The child process of one writer; ``batch()`` gives the handle one group commit uses."""

    def __init__(self, key: SigningKey, chunk: int, reply_timeout_s: float = REPLY_TIMEOUT_S) -> None:
        self.key, self.chunk, self.reply_timeout_s = key, chunk, reply_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.shipped = self.collected = 0  # chunks, over the child's life and its successors'
        self.failures = 0
        self.retry_at = 0.0
        self.stale = 0  # bytes of replies the child still owes for entries a writer signed itself: skipped
        self.warm = False  # the child has answered once: worth waiting for (a new one is still starting)

    def batch(self) -> SigningBatch:
        return SigningBatch(self)

    def close(self) -> None:
        """Stop the child: its input closes and it exits; killed if it has not after a second."""
        proc, self.proc = self.proc, None
        self.stale, self.warm = 0, False
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
        try:
            proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    # --- used by SigningBatch ---------------------------------------------------------------------

    def _child(self) -> subprocess.Popen[bytes] | None:
        if self.proc is not None and self.proc.poll() is None:
            return self.proc
        if self.proc is not None:
            self._broken("it exited")
        if time.monotonic() < self.retry_at:
            return None
        root = Path(__file__).resolve().parents[2]  # the folder holding node/ and protocol/
        path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "node.storage.signer"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                bufsize=0,
                env={**os.environ, "PYTHONPATH": path},
            )
            assert proc.stdin is not None
            proc.stdin.write(self.key.seed())
            os.set_blocking(proc.stdin.fileno(), False)
        except OSError as exc:
            log.warning("could not start the signing process, signing in the node's own: %s", exc)
            self.failures += 1
            self.retry_at = time.monotonic() + RETRY_AFTER_S
            return None
        self.proc = proc
        return proc

    def _ship(self, unsigned: list[Unsigned]) -> bool:
        """Send one chunk; False if it could not be sent (it is then signed by the writer)."""
        proc = self._child()
        if proc is None:
            return False
        request = [len(unsigned).to_bytes(4, "big")]
        for entry in unsigned:
            header = entry.header_bytes
            domain = DOMAINS.index(entry.entry_type.DOMAIN).to_bytes(1, "big")
            request += (domain, len(header).to_bytes(2, "big"), header)
        data = b"".join(request)
        try:
            assert proc.stdin is not None
            written = os.write(proc.stdin.fileno(), data)  # non-blocking: never stalls the event loop
        except OSError as exc:  # BlockingIOError included: the child is not reading
            self._broken(f"could not write to it: {exc}")
            return False
        if written != len(data):  # half a request in the pipe: this child can no longer be understood
            self._broken("its input is full")
            return False
        self.shipped += 1
        return True

    def _collect(self, count: int) -> list[bytes] | None:
        """The signatures of the oldest chunk shipped, or None if the child failed to give them."""
        proc = self.proc
        if proc is None or proc.stdout is None:
            return None
        try:
            if self.stale:
                _read_exactly(proc.stdout, self.stale, self.reply_timeout_s)
                self.stale = 0
            reply = _read_exactly(proc.stdout, count * SIGNATURE_SIZE, self.reply_timeout_s)
        except (OSError, TimeoutError, EOFError) as exc:
            self._broken(f"no reply: {exc}")
            return None
        self.collected += 1
        self.warm = True
        return [reply[i : i + SIGNATURE_SIZE] for i in range(0, len(reply), SIGNATURE_SIZE)]

    def _ready(self) -> bool:
        """A reply (or the child's end) has begun to arrive; stale replies that have arrived are skipped on
        the way. The child writes each reply at once, so the rest of a begun reply follows at once."""
        proc = self.proc
        if proc is None or proc.stdout is None:
            return True  # reading fails at once, and the caller falls back
        return self._skip_stale() and bool(select.select([proc.stdout.fileno()], [], [], 0)[0])

    def _skip_stale(self) -> bool:
        """Skip the late copies that have arrived, without waiting; True once none are owed."""
        proc = self.proc
        if proc is None or proc.stdout is None:
            return True
        fd = proc.stdout.fileno()
        while self.stale and select.select([fd], [], [], 0)[0]:
            try:
                skipped = os.read(fd, self.stale)
            except OSError:
                return True  # the read that follows says what is wrong
            if not skipped:
                return True  # the child's end: likewise
            self.stale -= len(skipped)
            self.warm = True
        return not self.stale

    def _broken(self, why: str) -> None:
        """Give up on this child (its pipes may hold half a reply): the next large batch starts another."""
        log.warning("signing process failed (%s); the writer signs these entries itself", why)
        self.failures += 1
        self.retry_at = time.monotonic() + RETRY_AFTER_S
        proc, self.proc = self.proc, None
        self.stale, self.warm = 0, False
        if proc is not None:
            proc.kill()
            proc.wait()
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()


class SigningBatch:
    """The entries of one group commit: ``add`` them as they are laid out (event loop), then take them
    signed from ``signed()`` on the writer thread. A batch whose ``signed()`` did not run to its end must
    be ``abandon``-ed."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer
        self.unsigned: list[Unsigned] = []
        self.shipped = 0  # entries, from the start of ``unsigned``, whose headers went to the child
        self.shipping = True  # until a chunk could not be sent: the rest is then signed here
        self.unread = 0  # chunks shipped whose replies are neither read nor left for the next batch

    def add(self, unsigned: list[Unsigned]) -> None:
        """Lay out more entries; each full chunk goes to the child at once."""
        if not self.unsigned:
            self.signer._skip_stale()
        self.unsigned.extend(unsigned)
        chunk = self.signer.chunk
        while (
            self.shipping
            and len(self.unsigned) - self.shipped >= chunk
            # what the child still owes (late copies from the batch before included) stays bounded: a
            # child that falls behind gets less, and its pipes never fill
            and self.signer.stale // SIGNATURE_SIZE + self.shipped + chunk <= MAX_IN_FLIGHT
        ):
            self.shipping = self.signer._ship(self.unsigned[self.shipped : self.shipped + chunk])
            if self.shipping:
                self.shipped += chunk
                self.unread += 1

    def signed(self) -> Iterator[list[Entry]]:
        """The batch's entries with their signatures, in order, a chunk at a time as soon as it is signed
        (the writer inserts one while the child signs the next). Whenever the next chunk's signatures
        are not there yet, this thread signs a chunk itself, from the back, where the child will get last:
        the two meet in the middle, and the child's late copies are skipped at the next batch. A child
        that has not answered yet (just started: its imports take a tenth of a second) is not waited for
        at all."""
        key, chunk, signer = self.signer.key, self.signer.chunk, self.signer
        parts = [self.unsigned[i : i + chunk] for i in range(0, len(self.unsigned), chunk)]
        shipped = self.shipped // chunk  # parts[:shipped] are (being) signed by the child, in order
        signatures: list[list[bytes] | None] = [None] * len(parts)
        front = 0  # the next part whose reply the child sends
        for emit, part in enumerate(parts):
            while signatures[emit] is None:
                if front < shipped and self.unread and signer._ready():
                    front = self._read_reply(front, len(parts[front]), signatures)
                elif (back := _last_missing(signatures, emit)) is not None and back >= max(front, emit + 1):
                    signatures[back] = sign_locally(key, parts[back])
                elif front < shipped and self.unread and signer.warm:
                    front = self._read_reply(front, len(parts[front]), signatures)
                else:  # never shipped, or the child is gone or still starting (its imports take a while)
                    signatures[emit] = sign_locally(key, part)
            done = signatures[emit]
            assert done is not None
            yield [u.signed(s) for u, s in zip(part, done, strict=True)]
        # replies still to come are for parts signed here: the next batch skips them
        signer.stale += (shipped - front) * chunk * SIGNATURE_SIZE if self.unread else 0
        self.unread = 0

    def _read_reply(self, index: int, count: int, signatures: list[list[bytes] | None]) -> int:
        got = self.signer._collect(count)
        if got is None:
            self.unread = 0  # the child is gone, with what it held: the rest is signed here
            return index
        self.unread -= 1
        if signatures[index] is None:
            signatures[index] = got
        return index + 1

    def abandon(self) -> None:
        """``signed()`` stopped early: the child's replies can no longer be matched, so it is replaced."""
        if self.unread:
            self.signer._broken("a batch was abandoned with chunks in flight")
            self.unread = 0


def _last_missing(signatures: list[list[bytes] | None], after: int) -> int | None:
    for index in range(len(signatures) - 1, after - 1, -1):
        if signatures[index] is None:
            return index
    return None


def _read_exactly(stream: IO[bytes], size: int, timeout_s: float) -> bytes:
    deadline = time.monotonic() + timeout_s
    parts, got = [], 0
    fd = stream.fileno()
    while got < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise TimeoutError(f"no signatures within {timeout_s:g} s")
        data = os.read(fd, size - got)
        if not data:
            raise EOFError("the signing process closed its output")
        parts.append(data)
        got += len(data)
    return b"".join(parts)


# --- the child --------------------------------------------------------------------------------------


def _read(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if data is None or len(data) != size:
        raise EOFError
    return data


def main() -> None:
    """The child: sign entry headers (of either log, each in its domain) read from stdin until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the node, which closes our input
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        key = SigningKey.from_seed(_read(stdin, SEED_SIZE))
        while True:
            count = int.from_bytes(_read(stdin, 4), "big")
            signatures = []
            for _ in range(count):
                domain = DOMAINS[_read(stdin, 1)[0]]  # any other byte ends the child: not our writer
                header = _read(stdin, int.from_bytes(_read(stdin, 2), "big"))
                signatures.append(key.sign(domain, header))
            stdout.write(b"".join(signatures))
            stdout.flush()
    except (EOFError, BrokenPipeError, IndexError):
        return


if __name__ == "__main__":
    main()
