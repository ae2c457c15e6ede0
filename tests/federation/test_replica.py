"""Replicas: catching up a log in pages, every attack on a page refused with nothing stored, and forks."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import random
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from federation.db import connect, migrate
from federation.replica import BadData, ForkFound, Frozen, Page, Replica
from federation.replica.page import encode_page, frame_size, row_size
from federation.settings import DEFAULTS
from federation.store import MIGRATIONS, LogStore, verified
from protocol import codec
from protocol.entry import Entry, sign_entry
from protocol.fork import entries_fork, verify_fork_proof
from protocol.keys import SigningKey
from protocol.merkle import leaf_hash
from protocol.note import Checkpoint, log_origin, sign_checkpoint

KEY = SigningKey.from_seed(bytes(range(32)))
OTHER = SigningKey.from_seed(bytes(range(1, 33)))
OWN = SigningKey.from_seed(bytes(range(2, 34)))
LOG = KEY.public.raw
T0 = 1_700_000_000_000


def make_entries(n: int, start: int = 0, prev: bytes | None = None, key: SigningKey = KEY) -> list[Entry]:
    out = []
    for seq in range(start, start + n):
        if seq % 5 == 4:
            body: dict[str, Any] = {"kind": "council/minutes", "salt": seq.to_bytes(16, "big")}
            vis = "council"
        else:
            body = {"kind": "decision", "text": f"decision {seq}"}
            vis = "public"
        entry = sign_entry(key, log_id=LOG, seq=seq, prev=prev, ts_ms=T0 + seq, vis=vis, body=body)  # type: ignore[arg-type]
        out.append(entry)
        prev = entry.id
    return out


ENTRIES = make_entries(2_000)
SERVED = [e if e.header.vis == "public" else e.without_body() for e in ENTRIES]  # as a peer sends them


def signer(key: SigningKey = KEY) -> Any:
    return lambda size, root: sign_checkpoint(key, Checkpoint(log_origin(LOG), size, root))


def open_db(path: Path) -> sqlite3.Connection:
    conn = connect(path)
    migrate(conn, MIGRATIONS)
    return conn


@pytest.fixture
def pool() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    with concurrent.futures.ThreadPoolExecutor(2) as executor:
        yield executor


def source(tmp_path: Path, *batches: int) -> tuple[Replica, list[str]]:
    """The log's own node, its entries appended in ``batches``; returns it and each batch's checkpoint."""
    tmp_path.mkdir(exist_ok=True)
    conn = open_db(tmp_path / "source.db")
    store = LogStore(conn)
    notes, done = [], 0
    for n in batches:
        head = store.append(LOG, ENTRIES[done : done + n], signer())
        assert head.checkpoint is not None
        notes.append(head.checkpoint)
        done += n
    return Replica(conn, LOG, lambda _: False), notes


def replica(
    tmp_path: Path, pool: concurrent.futures.Executor | None = None, *, trusted: bool = True, name: str = "r"
) -> Replica:
    return Replica(open_db(tmp_path / f"{name}.db"), OWN.public.raw, lambda log: trusted and log == LOG, pool)


def sync(src: Replica, dst: Replica, limit: int = 300) -> int:
    pages = 0
    while True:
        head = dst.head(LOG)
        size = head.size if head else 0
        page = Page.decode(src.page(LOG, size - 1, limit, size).encode())
        if not page.entries and pages:
            dst.settle(wait=True)  # each entry's own signature, checked after commit
            return pages
        dst.ingest(LOG, page)
        pages += 1


def state(r: Replica) -> tuple[Any, ...]:
    count = r.store.conn.execute("SELECT count(*) FROM entries").fetchone()[0]
    nodes = r.store.conn.execute("SELECT count(*) FROM tree_nodes").fetchone()[0]
    return (r.heads(), r.store.head(LOG), count, nodes, r.forks())


# --- catching up ------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_pool", [False, True], ids=["inline", "pool"])
def test_catch_up_2000_entries_in_pages(tmp_path: Path, pool: Any, with_pool: bool) -> None:
    src, _ = source(tmp_path, 700, 1_300)
    dst = replica(tmp_path, pool if with_pool else None)
    assert sync(src, dst) == 7
    assert dst.heads() == src.heads()
    held, theirs = dst.store.head(LOG), src.store.head(LOG)
    assert held is not None and theirs is not None
    assert (held.size, held.root, held.checkpoint, held.checkpoint_size) == (
        theirs.size,
        theirs.root,
        theirs.checkpoint,
        2_000,
    )
    # public bodies came along, council bodies did not
    assert dst.store.entry(LOG, 3) == ENTRIES[3]
    assert dst.store.entry(LOG, 4) == ENTRIES[4].without_body()
    # and the replica serves what it holds, onward
    again = replica(tmp_path, name="third")
    sync(dst, again, limit=1_000)
    assert again.heads() == src.heads()


def test_checkpoint_held_only_when_reached(tmp_path: Path) -> None:
    src, _ = source(tmp_path, 100)
    dst = replica(tmp_path)
    result = dst.ingest(LOG, src.page(LOG, -1, 60, 0))
    assert (result.appended, result.size, result.checkpoint_size) == (60, 60, None)
    result = dst.ingest(LOG, src.page(LOG, 59, 60, 60))
    assert (result.appended, result.size, result.checkpoint_size) == (40, 100, 100)
    assert dst.ingest(LOG, src.page(LOG, 99, 60, 100)).appended == 0


def test_newer_checkpoint_for_entries_already_held(tmp_path: Path) -> None:
    src, _ = source(tmp_path, 100)
    dst = replica(tmp_path)
    dst.ingest(LOG, Page(tuple(SERVED[:100]), None, (), 0))
    assert dst.store.head(LOG).checkpoint is None  # type: ignore[union-attr]
    result = dst.ingest(LOG, src.page(LOG, 99, 10, 100))
    assert (result.appended, result.size, result.checkpoint_size) == (0, 100, 100)
    # a checkpoint below what we hold is held too, when its root is our root at its size
    src2, _ = source(tmp_path / "b", 50)
    dst2 = replica(tmp_path, name="r2")
    dst2.ingest(LOG, Page(tuple(SERVED[:100]), None, (), 0))
    assert dst2.ingest(LOG, src2.page(LOG, 99, 10, 100)).checkpoint_size == 50


def test_served_pages(tmp_path: Path) -> None:
    src, _ = source(tmp_path, 10, 10)
    page = src.page(LOG, 3, 3, 4)
    # the proof starts where the page ends: appended, the page gives the root the checkpoint extends
    assert [e.seq for e in page.entries] == [4, 5, 6] and page.first == 7
    assert page.entries[0].body_bytes is None and page.entries[1].body_bytes is not None  # seq 5 is council
    assert len(page.consistency) > 0
    assert src.page(LOG, 16, 3, 0).consistency == () and src.page(LOG, 4, 3, 20).consistency == ()
    assert src.page(LOG, 4, 3, 20).first == 20  # never below the size asked for
    assert src.page(bytes(32), -1, 10, 0) == Page((), None, (), 0)
    assert Page.decode(page.encode()) == page


def test_served_page_stops_at_the_head_it_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An append may commit between the read of the head (with its checkpoint) and the read of the rows:
    the page holds only what that head covers, so a peer never takes entries beside an older checkpoint
    (it would hold them with that checkpoint for good: heads compare equal, nothing is pulled again)."""
    src, notes = source(tmp_path, 10, 10)
    held = src.store.head(LOG)
    assert held is not None and held.size == 20
    before = dataclasses.replace(held, size=10, checkpoint=notes[0], checkpoint_size=10)
    monkeypatch.setattr(src.store, "head", lambda log_id: before)
    page = src.page(LOG, 3, 100, 4)
    assert [e.seq for e in page.entries] == list(range(4, 10)) and page.checkpoint == notes[0]
    assert src.page(LOG, 9, 100, 10).entries == ()


# --- attacks: refused whole, nothing stored --------------------------------------------------------


@pytest.fixture
def setup(tmp_path: Path, pool: Any) -> tuple[Replica, Replica, list[str]]:
    """A source with checkpoints at 100 and 200, and a replica holding the first 100 (checkpoint 100)."""
    src, notes = source(tmp_path, 100, 100)
    dst = replica(tmp_path, pool)
    dst.ingest(LOG, Page(src.page(LOG, -1, 100, 0).entries, notes[0], (), 0))
    assert dst.store.head(LOG).checkpoint == notes[0]  # type: ignore[union-attr]
    return src, dst, notes


def refused(dst: Replica, page: Page | bytes, step: str, log: bytes = LOG) -> None:
    before = state(dst)
    with pytest.raises(BadData) as caught:
        dst.ingest(log, page if isinstance(page, Page) else Page.decode(page))
    assert caught.value.step == step, caught.value
    assert state(dst) == before


def next_page(src: Replica) -> Page:
    """Entries 100-199 with a proof from the caller's size (100): no checkpoint vouches for them as a
    page, so every signature is checked before commit (the pages of ``vouched_page`` are the others)."""
    page = src.page(LOG, 99, 100, 100)
    return Page(page.entries, page.checkpoint, tuple(src.store.consistency_proof(LOG, 100, 200)), 100)


def with_entries(page: Page, entries: list[Entry], checkpoint: bool = True) -> Page:
    if not checkpoint:
        return Page(tuple(entries), None, (), 100)
    return Page(tuple(entries), page.checkpoint, page.consistency, 100)


def alternative(seq: int, key: SigningKey = KEY) -> Entry:
    """Another entry for position ``seq``, chained like the honest one."""
    prev = ENTRIES[seq - 1].id
    return sign_entry(key, log_id=LOG, seq=seq, prev=prev, ts_ms=T0, vis="public", body={"kind": "x"})


def test_the_honest_page_goes_in(setup: Any) -> None:
    src, dst, _ = setup
    assert dst.ingest(LOG, next_page(src)).checkpoint_size == 200


def test_preverified_pages(setup: Any) -> None:
    """Signature checks sent ahead (``preverify``) are waited for, never skipped: a forged one is refused
    whole; a page reaching back over held entries goes in."""
    src, dst, _ = setup
    page = next_page(src)
    for forged_at in (0, 50, 99):
        entries = list(page.entries)
        bad = bytearray(entries[forged_at].signature)
        bad[10] ^= 1
        entries[forged_at] = Entry(entries[forged_at].header_bytes, bytes(bad), entries[forged_at].body_bytes)
        forged = dst.preverify(LOG, with_entries(page, entries))
        assert forged.preverified is not None
        refused(dst, forged, "entry-signature")
    served = src.page(LOG, 49, 150, 100)
    proof = tuple(src.store.consistency_proof(LOG, 100, 200))
    overlapping = dst.preverify(LOG, Page(served.entries, served.checkpoint, proof, 100))
    assert overlapping.preverified is not None and overlapping.entries[0].seq == 50
    assert dst.ingest(LOG, overlapping).checkpoint_size == 200


def test_untrusted_log(setup: Any, tmp_path: Path) -> None:
    src, _, _ = setup
    dst = replica(tmp_path, trusted=False, name="untrusting")
    refused(dst, src.page(LOG, -1, 100, 0), "untrusted-log")
    assert dst.heads() == []


def test_own_log(setup: Any, tmp_path: Path) -> None:
    src, _, _ = setup
    me = Replica(open_db(tmp_path / "me.db"), LOG, lambda _: True)
    refused(me, src.page(LOG, -1, 100, 0), "own-log")


# --- hostile pages: each refused whole, by the check named, with nothing stored -----------------------------

Attack = Callable[[Replica, Replica, list[str]], list[Page | bytes]]  # (src, dst, notes) -> pages offered


def _forged_entry(src: Replica, dst: Replica, notes: list[str]) -> list[Page | bytes]:
    page = next_page(src)
    pages: list[Page | bytes] = []
    for forged_at, count in [(50, 100), (2, 3)]:  # on the pool; inline, below its threshold
        entries = list(page.entries[:count])
        bad = bytearray(entries[forged_at].signature)
        bad[10] ^= 1
        entries[forged_at] = Entry(entries[forged_at].header_bytes, bytes(bad), entries[forged_at].body_bytes)
        pages.append(with_entries(page, entries))
    return pages


def _entry_by_another_key(src: Replica, dst: Replica, notes: list[str]) -> list[Page | bytes]:
    forged = make_entries(1, start=100, prev=ENTRIES[99].id, key=OTHER)
    return [with_entries(next_page(src), forged, checkpoint=False)]


def _gap_in_seq(src: Replica, dst: Replica, notes: list[str]) -> list[Page | bytes]:
    page = next_page(src)
    return [
        with_entries(page, list(page.entries[1:])),
        with_entries(page, [page.entries[0], *page.entries[2:]]),
    ]


def _broken_prev_link(src: Replica, dst: Replica, notes: list[str]) -> list[Page | bytes]:
    return [with_entries(next_page(src), make_entries(3, start=100, prev=ENTRIES[98].id), checkpoint=False)]


def _body_swapped(src: Replica, dst: Replica, notes: list[str]) -> list[Page | bytes]:
    value = codec.decode(next_page(src).encode(), codec.Limits(max_size=1 << 24, max_length=1 << 20))
    value["entries"][0]["body"] = value["entries"][1]["body"]
    return [codec.encode(value)]  # refused as the page is read: no Entry holds it


def _council_body_leaked(src: Replica, dst: Replica, notes: list[str]) -> list[Page | bytes]:
    leaked = src.store.entries(LOG, 99, 100, council_bodies=True)
    assert leaked[4].header.vis == "council" and leaked[4].body_bytes is not None
    return [with_entries(next_page(src), leaked)]


def _public_body_withheld(src: Replica, dst: Replica, notes: list[str]) -> list[Page | bytes]:
    entries = list(next_page(src).entries)
    entries[7] = entries[7].without_body()
    return [with_entries(next_page(src), entries)]


def _checkpoint_rollback(src: Replica, dst: Replica, notes: list[str]) -> list[Page | bytes]:
    dst.ingest(LOG, next_page(src))
    return [Page((), notes[0], (), 200)]


def _bad_consistency_proof(src: Replica, dst: Replica, notes: list[str]) -> list[Page | bytes]:
    page = next_page(src)
    bad = list(page.consistency)
    bad[0] = leaf_hash(b"not a node")
    return [
        Page(page.entries, page.checkpoint, tuple(bad), 100),
        Page(page.entries, page.checkpoint, (), 100),
        Page(page.entries, page.checkpoint, page.consistency, 150),
    ]


def _forged_checkpoint(src: Replica, dst: Replica, notes: list[str]) -> list[Page | bytes]:
    page = next_page(src)
    theirs = src.store.head(LOG)
    assert theirs is not None
    return [Page(page.entries, signer(OTHER)(theirs.size, theirs.root), page.consistency, 100)]


HOSTILE_PAGES: dict[str, tuple[Attack, str]] = {
    "forged_entry": (_forged_entry, "entry-signature"),
    "entry_signed_by_another_key": (_entry_by_another_key, "unknown-key"),
    "gap_in_seq": (_gap_in_seq, "sequence"),
    "broken_prev_link": (_broken_prev_link, "prev"),
    "body_swapped": (_body_swapped, "body-hash"),
    "council_body_leaked": (_council_body_leaked, "council-body"),
    "public_body_withheld": (_public_body_withheld, "missing-body"),
    "checkpoint_rollback": (_checkpoint_rollback, "rollback"),
    "consistency_proof_does_not_verify": (_bad_consistency_proof, "consistency"),
    "forged_checkpoint": (_forged_checkpoint, "checkpoint-signature"),
}


@pytest.mark.parametrize("attack", sorted(HOSTILE_PAGES), ids=sorted(HOSTILE_PAGES))
def test_hostile_page_is_refused_whole(setup: Any, attack: str) -> None:
    src, dst, notes = setup
    build, step = HOSTILE_PAGES[attack]
    for page in build(src, dst, notes):
        refused(dst, page, step)


def test_checkpoint_contradicting_the_entries(tmp_path: Path) -> None:
    dst = replica(tmp_path)
    note = signer()(100, leaf_hash(b"another tree"))
    refused(dst, Page(tuple(SERVED[:100]), note, (), 0), "checkpoint-root")
    assert dst.heads() == []


NOT_A_PAGE = "a page is a map of entries, checkpoint, consistency and first"


@pytest.mark.parametrize(
    ("data", "check"),
    [
        (b"", "empty input"),
        (b"\xc1garbage", "malformed msgpack: "),
        (codec.encode({"entries": []}), NOT_A_PAGE),
        (codec.encode([1, 2, 3]), NOT_A_PAGE),
        (
            codec.encode({"entries": [{"header": b"x"}], "checkpoint": None, "consistency": [], "first": 0}),
            "a page entry is a map of header, signature and an optional body",
        ),
        (
            codec.encode({"entries": [], "checkpoint": None, "consistency": [b"short"], "first": 0}),
            "a consistency proof holds 32-byte hashes",
        ),
        (
            codec.encode({"entries": [], "checkpoint": None, "consistency": [], "first": -1}),
            "first is a tree size",
        ),
    ],
    ids=[
        "empty_page",
        "garbage_page",
        "page_missing_fields",
        "page_not_a_map",
        "malformed_entry",
        "short_proof_hash",
        "negative_first",
    ],
)
def test_garbage_page_bytes(data: bytes, check: str) -> None:
    with pytest.raises(BadData) as caught:
        Page.decode(data)
    assert (caught.value.step, caught.value.message) == ("encoding", check)


def test_page_sizes_are_counted_as_encoded() -> None:
    """What a server counts against its byte budget is what ``encode_page`` writes, never less: every entry
    exactly (40 entries off by a byte each would break the bound), the count and ``first`` at their widest."""
    rng = random.Random(7)
    for _ in range(300):
        rows = [
            (
                rng.randbytes(rng.choice([100, 255, 256])),
                rng.randbytes(64),
                rng.choice([None, rng.randbytes(rng.choice([0, 31, 255, 256, 65535, 65536, 70_000]))]),
            )
            for _ in range(rng.choice([0, 1, 15, 16, 40]))
        ]
        note = rng.choice([None, "n" * rng.choice([1, 31, 32, 255, 256, 70_000])])
        proof = [rng.randbytes(32) for _ in range(rng.choice([0, 1, 15, 16, 63]))]
        first = rng.choice([0, 127, 128, 70_000, 2**40])
        size = len(encode_page(rows, note, proof, first))
        counted = frame_size(note, proof) + sum(row_size(row) for row in rows)
        assert counted - 12 <= size <= counted


def test_oversize_page() -> None:
    with pytest.raises(BadData) as caught:
        Page.decode(b"\x00" * (DEFAULTS.max_response_bytes + 1))
    assert caught.value.step == "page-size"


# --- delegated keys ---------------------------------------------------------------------------------


def test_delegated_key(tmp_path: Path) -> None:
    dst = replica(tmp_path)
    first = ENTRIES[0]

    def entry(seq: int, prev: bytes, key: SigningKey, body: dict[str, Any]) -> Entry:
        return sign_entry(key, log_id=LOG, seq=seq, prev=prev, ts_ms=T0, vis="public", body=body)

    add = entry(1, first.id, KEY, {"kind": "log/key", "action": "add", "key": OTHER.public.raw})
    by_delegate = entry(2, add.id, OTHER, {"kind": "decision"})
    dst.ingest(LOG, Page((first, add, by_delegate), None, (), 0))
    revoke = entry(3, by_delegate.id, KEY, {"kind": "log/key", "action": "revoke", "key": OTHER.public.raw})
    dst.ingest(LOG, Page((revoke,), None, (), 3))
    late = entry(4, revoke.id, OTHER, {"kind": "decision"})
    refused(dst, Page((late,), None, (), 4), "unknown-key")


# --- forks ------------------------------------------------------------------------------------------


def test_two_entries_at_one_seq(setup: Any) -> None:
    src, dst, _ = setup
    dst.ingest(LOG, next_page(src))
    other = sign_entry(
        KEY, log_id=LOG, seq=150, prev=ENTRIES[149].id, ts_ms=T0, vis="public", body={"kind": "equivocation"}
    )
    with pytest.raises(ForkFound) as caught:
        dst.ingest(LOG, Page((*SERVED[148:150], other), None, (), 200))
    proof = verify_fork_proof(caught.value.proof)
    assert proof == entries_fork(ENTRIES[150], other)
    assert dst.forks() == [(LOG, caught.value.proof)]
    assert dst.frozen(LOG) is not None and "seq 150" in (dst.frozen(LOG) or "")
    with pytest.raises(Frozen):
        dst.ingest(LOG, next_page(src))
    with pytest.raises(Frozen) as frozen:
        dst.page(LOG, -1, 10, 0)
    assert frozen.value.proof == caught.value.proof
    assert dst.head(LOG) is not None and dst.head(LOG).size == 200  # type: ignore[union-attr]


def test_a_different_entry_with_a_bad_signature_is_no_fork(setup: Any) -> None:
    _, dst, _ = setup
    other = alternative(50)
    forged = Entry(other.header_bytes, bytes(64), other.body_bytes)
    refused(dst, Page((forged,), None, (), 100), "entry-signature")
    assert dst.frozen(LOG) is None


def test_two_checkpoints_of_one_size(setup: Any) -> None:
    src, dst, notes = setup
    forged = signer()(100, leaf_hash(b"another tree"))
    with pytest.raises(ForkFound) as caught:
        dst.ingest(LOG, Page((), forged, (), 100))
    proof = verify_fork_proof(caught.value.proof)
    assert proof.kind == "checkpoints" and {proof.a, proof.b} == {notes[0], forged}
    assert dst.frozen(LOG) is not None
    with pytest.raises(Frozen):
        dst.ingest(LOG, next_page(src))


def test_add_fork(setup: Any, tmp_path: Path) -> None:
    src, dst, _ = setup
    other = alternative(7)
    proof = entries_fork(ENTRIES[7], other).encode()
    assert dst.add_fork(proof) is True
    assert dst.add_fork(proof) is False
    assert dst.forks() == [(LOG, proof)]
    with pytest.raises(Frozen):
        dst.ingest(LOG, next_page(src))
    with pytest.raises(Frozen):
        dst.page(LOG, -1, 1, 0)
    # a log we hold nothing of and do not trust: nothing to freeze
    stranger = replica(tmp_path, trusted=False, name="stranger")
    assert stranger.add_fork(proof) is False and stranger.forks() == []
    # a trusted log we hold nothing of yet: frozen before its first page
    fresh = replica(tmp_path, name="fresh")
    assert fresh.add_fork(proof) is True and fresh.frozen(LOG) is not None
    with pytest.raises(Frozen):
        fresh.ingest(LOG, src.page(LOG, -1, 10, 0))


def test_add_invalid_fork(setup: Any) -> None:
    _, dst, _ = setup
    same = Entry(ENTRIES[7].header_bytes, ENTRIES[7].signature)
    forged = alternative(7, OTHER)
    for bad in [
        b"garbage",
        entries_fork(ENTRIES[7], forged).encode(),
        codec.encode(
            {
                "v": 1,
                "log_id": LOG,
                "kind": "entries",
                "a": {"header": same.header_bytes, "signature": same.signature},
                "b": {"header": same.header_bytes, "signature": same.signature},
            }
        ),
    ]:
        with pytest.raises(BadData) as caught:
            dst.add_fork(bad)
        assert caught.value.step == "fork"
    assert dst.forks() == [] and dst.frozen(LOG) is None


@pytest.mark.parametrize("attack", ["entries_stamped_in_the_future"], ids=lambda a: a)
def test_entries_ahead_of_the_receivers_clock_are_refused(setup: Any, attack: str) -> None:
    src, dst, _ = setup
    skew_s = dst.settings.entry_skew_s
    dst.clock = lambda: (T0 + 100) / 1000 - skew_s - 1  # the page's first entry is stamped T0 + 100
    refused(dst, next_page(src), "timestamp")
    dst.clock = lambda: (T0 + 199) / 1000 - skew_s  # within the skew window of the page's last entry
    dst.ingest(LOG, next_page(src))
    assert dst.store.head(LOG).size == 200  # type: ignore[union-attr]


@pytest.mark.parametrize("attack", ["entries_going_back_in_time"], ids=lambda a: a)
def test_entries_going_back_in_time_are_refused(setup: Any, attack: str) -> None:
    src, dst, _ = setup
    body = {"kind": "decision", "text": "back to the past"}
    back = sign_entry(
        KEY, log_id=LOG, seq=100, prev=ENTRIES[99].id, ts_ms=T0 + 99 - 5_001, vis="public", body=body
    )
    refused(dst, with_entries(next_page(src), [back], checkpoint=False), "timestamp")
    near = sign_entry(
        KEY, log_id=LOG, seq=100, prev=ENTRIES[99].id, ts_ms=T0 + 99 - 5_000, vis="public", body=body
    )
    dst.ingest(LOG, with_entries(next_page(src), [near], checkpoint=False))  # within the protocol's 5 s


# --- pages vouched for by their checkpoint: signatures checked after commit (issue 14) --------------------


def vouched_page(src: Replica) -> Page:
    """Entries 100-159 as a server sends them: the proof starts where the page ends (160) and reaches the
    checkpoint of size 200, so the checkpoint's one signature authenticates the page."""
    page = src.page(LOG, 99, 60, 100)
    assert page.first == 160 and page.consistency
    return page


def test_vouched_page_commits_first_and_is_verified_after(setup: Any) -> None:
    src, dst, _ = setup
    assert dst.ingest(LOG, vouched_page(src)).appended == 60
    conn = dst.store.conn
    assert verified.verified_up_to(conn, LOG) == 100  # held, not yet individually verified
    assert [h.size for h in dst.heads()] == [100] and len(dst.page(LOG, 99, 100, 100).entries) == 0
    assert dst.settle(wait=True) == []
    assert verified.verified_up_to(conn, LOG) is None and [h.size for h in dst.heads()] == [160]


def test_vouched_page_with_a_forged_checkpoint_is_refused(setup: Any) -> None:
    src, dst, _ = setup
    page = vouched_page(src)
    forged = signer(OTHER)(200, leaf_hash(b"whatever"))
    refused(dst, Page(page.entries, forged, page.consistency, page.first), "checkpoint-signature")


def test_genuine_checkpoint_with_a_page_not_in_its_tree_is_refused(setup: Any) -> None:
    """Even an entry validly signed by the log key is refused if the signed tree does not hold it."""
    src, dst, _ = setup
    page = vouched_page(src)
    entries = [*page.entries[:-1], alternative(159)]
    refused(dst, Page(tuple(entries), page.checkpoint, page.consistency, page.first), "consistency")
    whole = src.page(LOG, 99, 100, 100)  # reaches the checkpoint's size: compared with its root
    entries = [*whole.entries[:-1], alternative(199)]
    refused(dst, Page(tuple(entries), whole.checkpoint, whole.consistency, whole.first), "checkpoint-root")


def _bad_signature_at(page: Page, index: int, source: bytes) -> Page:
    entries = list(page.entries)
    bad = entries[index]
    entries[index] = Entry(bad.header_bytes, bytes(64), bad.body_bytes)
    return Page(tuple(entries), page.checkpoint, page.consistency, page.first, source=source)


def test_a_relayed_bad_signature_charges_the_relay_and_is_mended_not_flagged(setup: Any) -> None:
    src, dst, _ = setup
    relay = b"\x09" * 32
    dst.ingest(LOG, _bad_signature_at(vouched_page(src), 30, relay))
    found = dst.settle(wait=True)
    assert [(b.seq, b.source, b.owner) for b in found] == [(130, relay, False)]
    conn = dst.store.conn
    assert verified.verified_up_to(conn, LOG) == 130 and verified.flagged(conn) == []
    assert dst.frozen(LOG) is None and [h.size for h in dst.heads()] == [130]
    assert dst.mend(LOG, src.page(LOG, 129, 100, 130)) == 30
    assert verified.verified_up_to(conn, LOG) is None and dst.store.entry(LOG, 130) == ENTRIES[130]


def test_a_bad_signature_served_by_the_owner_flags_the_log(setup: Any) -> None:
    src, dst, _ = setup
    dst.ingest(LOG, _bad_signature_at(vouched_page(src), 5, LOG))
    found = dst.settle(wait=True)
    assert [(b.seq, b.owner) for b in found] == [(105, True)]
    assert verified.flagged(dst.store.conn) == [(LOG, 105)]
    assert dst.page(LOG, 99, 100, 100).entries[-1].seq == 104  # never served past it
