"""Pages decoded on a worker process (federation/replica/offload.py): the same page, or the same refusal, as
``Page.decode`` in the node's process; small pages, and pages before the worker is up, are decoded here; a
killed worker costs a decode here, never a check."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import pytest

from federation.replica import BadData, Page, PageDecoder
from federation.replica.offload import POOL_FROM_BYTES, checked_parts
from federation.replica.page import encode_page
from federation.settings import DEFAULTS
from federation.verifypool import VerifyPool
from protocol import merkle
from protocol.entry import Entry, from_parts, sign_entry
from protocol.keys import SigningKey

KEY = SigningKey.from_seed(b"\x0b" * 32)
MAX = DEFAULTS.max_response_bytes
T = TypeVar("T")


def log(n: int) -> list[Entry]:
    """Public entries with bodies, and every seventh a council entry (served without its body)."""
    entries: list[Entry] = []
    for seq in range(n):
        council = seq % 7 == 3
        body: dict[str, Any] = {"kind": "note", "n": seq, "text": "متن " * 20}
        if council:
            body["salt"] = seq.to_bytes(16, "big")
        entry = sign_entry(
            KEY, log_id=KEY.public.raw, seq=seq, prev=entries[-1].id if entries else None, ts_ms=1_000 + seq,
            vis="council" if council else "public", body=body,
        )  # fmt: skip
        entries.append(entry.without_body() if council else entry)
    return entries


ENTRIES = log(600)
PROOF = [merkle.leaf_hash(bytes([i])) for i in range(3)]


def served(entries: list[Entry], *, tamper: Callable[[int, bytes], bytes] | None = None) -> bytes:
    """A page as a peer sends it (a checkpoint and proof whose shape is all decoding looks at)."""
    rows = [(e.header_bytes, e.signature, e.body_bytes) for e in entries]
    if tamper is not None:
        rows = [(tamper(i, h), s, b) for i, (h, s, b) in enumerate(rows)]
    return encode_page(rows, "a checkpoint note\n", PROOF, 9)


PAGE = served(ENTRIES)


def flip_body(data: bytes, seq: int) -> bytes:
    """``data`` with one byte of entry ``seq``'s body changed (its text, so it still decodes)."""
    body = ENTRIES[seq].body_bytes
    assert body is not None and data.count(body) == 1
    return data.replace(body, body.replace("متن".encode(), "متم".encode(), 1))


BAD_PAGES = {
    "body-hash": flip_body(PAGE, 501),
    "header": served(ENTRIES, tamper=lambda i, h: h[:-1] + b"\x00\x00" if i == 400 else h),
    "signature": PAGE.replace(ENTRIES[450].signature, ENTRIES[450].signature[:63]),
    "trailing": PAGE + b"\x00",
}


def refusal(data: bytes) -> tuple[str, str]:
    with pytest.raises(BadData) as caught:
        Page.decode(data, MAX)
    return caught.value.step, caught.value.message


class Counting(VerifyPool):
    """The real pool, counting the pages sent to it."""

    def __init__(self) -> None:
        super().__init__(workers=1, niceness=0)
        self.pages = 0

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Any:
        if fn is checked_parts:
            self.pages += 1
        return super().submit(fn, *args, **kwargs)


@pytest.fixture
async def decoder() -> AsyncIterator[PageDecoder]:
    pool = Counting()
    decoding = PageDecoder(pool)
    try:
        await decoding.started()
        yield decoding
    finally:
        pool.shutdown()


def test_the_parts_rebuild_the_page_decode_checked() -> None:
    assert len(PAGE) >= POOL_FROM_BYTES
    parts, refused = checked_parts(PAGE, MAX)
    assert refused is None and parts is not None
    rows, checkpoint, consistency, first = parts
    rebuilt = Page(tuple(from_parts(rows)), checkpoint, consistency, first)
    decoded = Page.decode(PAGE, MAX)
    assert rebuilt == decoded and rebuilt.entries == tuple(ENTRIES)
    for mine, theirs in zip(rebuilt.entries, decoded.entries, strict=True):
        assert type(mine) is Entry and mine.header == theirs.header and mine.id == theirs.id
    assert rebuilt.entries[3].body_bytes is None and rebuilt.entries[0].header.prev is None


@pytest.mark.parametrize("bad", sorted(BAD_PAGES))
def test_a_worker_refuses_as_page_decode_does(bad: str) -> None:
    data = BAD_PAGES[bad]
    assert len(data) >= POOL_FROM_BYTES
    assert checked_parts(data, MAX) == (None, refusal(data))


async def test_the_worker_gives_the_same_page_and_the_same_refusals(decoder: PageDecoder) -> None:
    pool = decoder.pool
    assert isinstance(pool, Counting)
    assert await decoder.decode(PAGE, MAX) == Page.decode(PAGE, MAX)
    for data in BAD_PAGES.values():
        with pytest.raises(BadData) as caught:
            await decoder.decode(data, MAX)
        assert (caught.value.step, caught.value.message) == refusal(data)
    assert pool.pages == 1 + len(BAD_PAGES)


async def test_small_and_oversized_pages_are_decoded_here(decoder: PageDecoder) -> None:
    pool = decoder.pool
    assert isinstance(pool, Counting)
    small = served(ENTRIES[:100])
    assert len(small) < POOL_FROM_BYTES
    assert await decoder.decode(small, MAX) == Page.decode(small, MAX)
    with pytest.raises(BadData) as caught:
        await decoder.decode(PAGE, len(PAGE) - 1)
    assert caught.value.step == "page-size"
    assert pool.pages == 0


async def test_pages_are_decoded_here_until_the_worker_is_up() -> None:
    pool = Counting()
    decoding = PageDecoder(pool)
    try:
        # the first page starts the worker and does not wait for it: a process cannot have started yet
        assert await decoding.decode(PAGE, MAX) == Page.decode(PAGE, MAX)
        assert pool.pages == 0
        await decoding.started()
        assert await decoding.decode(PAGE, MAX) == Page.decode(PAGE, MAX)
        assert pool.pages == 1
    finally:
        pool.shutdown()
    assert await PageDecoder(None).decode(PAGE, MAX) == Page.decode(PAGE, MAX)  # no pool: always here


async def test_a_killed_decode_worker_costs_a_decode_here_never_a_check(decoder: PageDecoder) -> None:
    pool = decoder.pool
    assert isinstance(pool, Counting)
    for _ in range(2):
        (pid,) = pool.worker_pids()
        os.kill(pid, signal.SIGKILL)
        assert await decoder.decode(PAGE, MAX) == Page.decode(PAGE, MAX)
        for data in BAD_PAGES.values():
            with pytest.raises(BadData) as caught:
                await decoder.decode(data, MAX)
            assert (caught.value.step, caught.value.message) == refusal(data)
        await decoder.started()  # new workers, up again
        assert pool.worker_pids() != [pid]
    assert await decoder.decode(PAGE, MAX) == Page.decode(PAGE, MAX)
