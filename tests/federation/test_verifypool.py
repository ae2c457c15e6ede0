"""Signature checks on worker processes (federation/verifypool.py): the same answers as checking inline, a
dead worker costs time but never a check, and no worker outlives its node."""

from __future__ import annotations

import os
import signal
import sys
import types
from pathlib import Path

import pytest

from federation import db as dbmod
from federation.replica import BadData, Page, Replica
from federation.store import MIGRATIONS
from federation.verifypool import WORKER_NICENESS, Job, VerifyPool, answer, preload, verify_chunk
from node.storage.drafts import checkpoint_signer
from protocol.entry import Entry, sign_entry
from protocol.keys import ENTRY_TAG, Domain, SigningKey
from tests.children import kill_and_expect_children_gone

ROOT = Path(__file__).resolve().parents[2]
KEY = SigningKey.from_seed(b"\x07" * 32)


def jobs(n: int, bad: int | None = None) -> list[Job]:
    out = []
    for i in range(n):
        message = ENTRY_TAG + i.to_bytes(4, "big") * 30
        signature = KEY.sign(Domain.ENTRY, message[len(ENTRY_TAG) :])
        if i == bad:
            signature = bytes([signature[0] ^ 1]) + signature[1:]
        out.append((KEY.public.raw, signature, message))
    return out


def log(n: int) -> list[Entry]:
    entries: list[Entry] = []
    for seq in range(n):
        prev = entries[-1].id if entries else None
        body = {"kind": "note", "n": seq}
        entries.append(
            sign_entry(KEY, log_id=KEY.public.raw, seq=seq, prev=prev, ts_ms=1 + seq, vis="public", body=body)
        )
    return entries


def replica(path: Path, pool: VerifyPool | None = None) -> Replica:
    conn = dbmod.connect(path)
    dbmod.migrate(conn, MIGRATIONS)
    return Replica(conn, b"\x00" * 32, lambda log_id: log_id == KEY.public.raw, pool)


def test_workers_answer_as_checking_inline() -> None:
    pool = VerifyPool(workers=2)
    try:
        for bad in (None, 0, 17, 199):
            chunk = jobs(200, bad)
            assert (
                answer(pool.submit(verify_chunk, chunk), chunk)
                == verify_chunk(chunk)
                == (-1 if bad is None else bad)
            )
    finally:
        pool.shutdown()
    with pytest.raises(RuntimeError):
        pool.submit(verify_chunk, jobs(1))


def test_a_killed_worker_costs_no_check_and_the_pool_is_replaced() -> None:
    pool = VerifyPool(workers=2)
    try:
        assert answer(pool.submit(verify_chunk, jobs(1)), jobs(1)) == -1  # workers up
        long = jobs(3000, bad=2500)
        futures = [pool.submit(verify_chunk, long) for _ in range(2)]
        os.kill(pool.worker_pids()[0], signal.SIGKILL)
        assert [answer(f, long) for f in futures] == [2500, 2500]  # checked here where the worker died
        again = jobs(50, bad=3)
        assert answer(pool.submit(verify_chunk, again), again) == 3
        assert pool.replaced == 1
    finally:
        pool.shutdown()


def test_a_forged_signature_is_refused_through_the_workers_and_nothing_is_stored(tmp_path: Path) -> None:
    source = replica(tmp_path / "source.db")
    entries = log(300)
    source.store.append(KEY.public.raw, entries, checkpoint_signer(KEY))
    page = Page.decode(source.page_bytes(KEY.public.raw, -1, 300, 0))
    forged = list(page.entries)
    victim = forged[211]
    forged[211] = Entry(victim.header_bytes, bytes(64 - 1) + b"\x01", victim.body_bytes)
    pool = VerifyPool(workers=2)
    try:
        target = replica(tmp_path / "target.db", pool)
        with pytest.raises(BadData) as refused:
            target.ingest(
                KEY.public.raw, target.preverify(KEY.public.raw, Page(tuple(forged), page.checkpoint, (), 0))
            )
        assert refused.value.step == "entry-signature" and "211" in str(refused.value)
        assert target.head(KEY.public.raw) is None
        result = target.ingest(KEY.public.raw, target.preverify(KEY.public.raw, page))
        assert result.size == 300 and target.head(KEY.public.raw) == source.head(KEY.public.raw)
    finally:
        pool.shutdown()


def test_signature_checkers_run_at_idle_priority_and_page_decoders_at_the_nodes() -> None:
    """Signatures checked after commit must not take CPU from the ingest; pages decoded for it must not
    wait behind those checks (``federation.replica.offload``)."""
    own = os.getpriority(os.PRIO_PROCESS, 0)
    for niceness, expected in ((WORKER_NICENESS, min(19, own + WORKER_NICENESS)), (0, own)):
        pool = VerifyPool(workers=1, niceness=niceness)
        try:
            assert answer(pool.submit(verify_chunk, jobs(1)), jobs(1)) == -1  # up
            assert [os.getpriority(os.PRIO_PROCESS, pid) for pid in pool.worker_pids()] == [expected]
        finally:
            pool.shutdown()


def test_the_fork_server_loads_what_workers_run_and_what_the_main_script_imports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker runs the node's main script again (multiprocessing does, for every process it starts): the
    fork server imports what that script imports, so each worker finds it loaded."""
    import json

    from node.cli.main import main as shora_main

    script = types.ModuleType("__main__")
    script.__dict__.update({"json": json, "main": shora_main, "answer": 42, "__name__": "__main__"})
    monkeypatch.setitem(sys.modules, "__main__", script)
    assert preload() == ["federation.replica.offload", "federation.verifypool", "json", "node.cli.main"]
    monkeypatch.delitem(sys.modules, "__main__")
    assert preload() == ["federation.replica.offload", "federation.verifypool"]


def test_workers_and_their_fork_server_do_not_outlive_a_killed_node() -> None:
    """The workers, and the fork server they are forked from (a child of the node), all leave."""
    code = (
        "import os, time\n"
        "from federation.verifypool import VerifyPool, verify_chunk\n"
        "from tests.children import children_of\n"
        "if __name__ == '__main__':\n"
        "    pool = VerifyPool(workers=2)\n"
        "    futures = [pool.submit(verify_chunk, []) for _ in range(4)]\n"
        "    [f.result() for f in futures]\n"
        "    helpers = set(pool.worker_pids()) | set(children_of(os.getpid()))\n"
        "    assert len(helpers) >= 3, helpers  # two workers, and the fork server or the workers' parent\n"
        "    print(' '.join(str(p) for p in sorted(helpers)), flush=True)\n"
        "    time.sleep(60)\n"
    )
    kill_and_expect_children_gone(code, "verify workers or their fork server")
