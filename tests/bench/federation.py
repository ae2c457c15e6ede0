"""Benchmark: what aggregation costs a federation node, and how fast it answers.

Run as ``python tests/bench/federation.py [--quick]``; prints JSON lines.

``aggregate.update_vs_ingest``: council logs written through the real governance machine and signed (a
realistic mix: members join, assemblies with a roll, motions with votes, decisions, closes, censuses,
board reports — most entries are council-visibility), held by a source node; a fresh federation node pulls
them in pages of 500 with ``Replica.ingest`` (signatures verified on a 2-thread pool), timed alone, and
``Aggregate.update`` is called after each page, timed alone. Goal: update / ingest ≤ 0.20.

``aggregate.summary``: 1,000 councils × 1,000 entries in one federation node's database. Signing a million
entries would take minutes, so the rows are **well-formed but unsigned**: real headers (prev links, body
hashes, ids), zero signatures, real public bodies of every kind the aggregate reads, council entries
without bodies as a replica holds them, a real signed checkpoint per log over a made-up root, no tree
nodes — nothing here verifies, and the aggregate reads bodies only. The federation log (1,000
``roster/admit``) is real and signed. Then ``rebuild()`` folds everything and ``summary()`` is timed
over 200 calls as served (rendered once, then cached until the database changes) and over 50 renders
(cache dropped each time: the cost after every ingest); plus 50 one-word searches (a page of 50, newest
first). Goal: p99 < 50 ms for the render and for the search. Resident memory
is the process's peak (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

# Runnable as a plain script from anywhere: the repository root goes on the path before our imports.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import msgpack

from federation.aggregate import Aggregate
from federation.replica import Replica
from federation.store import LogStore
from node.rules import fedbody
from node.rules.council import (
    Census,
    CloseAssembly,
    FileReport,
    Rules,
)
from protocol.entry import Header, sha256
from protocol.keys import SigningKey
from protocol.merkle import leaf_hash
from protocol.note import Checkpoint, log_origin, sign_checkpoint
from tests.federation.test_aggregate import (
    FED,
    WORDS,
    CouncilLog,
    FederationLog,
    checkpoint_signer,
    open_node_db,
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def maxrss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


# --- 1. update cost vs ingest cost ---------------------------------------------------------------------


def council_history(n: int, public_goal: int) -> CouncilLog:
    """A council's log through the governance machine until it holds ``public_goal`` public entries."""
    c = CouncilLog(
        100 + n, f"Council {n}", city=f"City {n}", country="IR", continent="Asia",
        rules=Rules(board_seats=3, census_bucket=5),
    )  # fmt: skip
    rng = random.Random(n)
    members = c.join(30)
    while sum(e.header.vis == "public" for e in c.entries) < public_goal:
        present = rng.sample(members, 10)
        assembly = c.open(present, rng.choice(WORDS))
        vacancies = c.state.vacancies()
        if vacancies:
            candidates = tuple(m for m in present if m not in c.state.board_members())[:3]
            c.motion(
                assembly, {m: (rng.choice(candidates),) for m in present}, kind="election", text="Board",
                seats=min(vacancies, 1), candidates=candidates,
            )  # fmt: skip
        elif rng.random() < 0.3 and c.state.board_members():
            target = min(c.state.board_members())
            c.motion(assembly, {m: "yes" for m in present}, kind="recall", text="Recall", target=target)
        for _ in range(2):
            text = " ".join(rng.choice(WORDS) for _ in range(8))
            votes = {m: rng.choice(["yes", "yes", "no", "abstain"]) for m in present}
            c.motion(
                assembly, votes, kind="policy", text=text, visibility=rng.choice(["public"] * 4 + ["council"])
            )
        c.do(CloseAssembly(assembly, minutes="minutes"))
        c.do(Census())
        if c.state.board_members():
            c.do(FileReport(min(c.state.board_members()), "report"))
    return c


def update_vs_ingest(councils: int, public_goal: int, folder: Path) -> dict[str, Any]:
    started = time.perf_counter()
    logs = [council_history(n, public_goal) for n in range(councils)]
    built = time.perf_counter() - started
    source_conn = open_node_db(folder / "source.db")
    source_store = LogStore(source_conn)
    for c in logs:
        source_store.append(c.log_id, c.entries, checkpoint_signer(c.key))
    source = Replica(source_conn, b"\x00" * 32, lambda _: True)

    conn = open_node_db(folder / "federation.db")
    aggregate = Aggregate(conn, FED.public.raw)
    ingest_s = update_s = 0.0
    entries = 0
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        replica = Replica(conn, FED.public.raw, lambda _: True, verify_pool=pool)
        for c in logs:
            size = 0
            while True:
                page = source.page(c.log_id, size - 1, 500, size)
                if not page.entries:
                    break
                t0 = time.perf_counter()
                result = replica.ingest(c.log_id, page)
                t1 = time.perf_counter()
                aggregate.update(c.log_id)
                t2 = time.perf_counter()
                ingest_s += t1 - t0
                update_s += t2 - t1
                entries += result.appended
                size = result.size
    public = sum(e.header.vis == "public" for c in logs for e in c.entries)
    return {
        "bench": "aggregate.update_vs_ingest",
        "councils": councils,
        "entries": entries,
        "public_entries": public,
        "page": 500,
        "ingest_us_per_entry": round(ingest_s / entries * 1e6, 1),
        "update_us_per_entry": round(update_s / entries * 1e6, 1),
        "ratio": round(update_s / ingest_s, 3),
        "goal_ratio": 0.20,
        "build_seconds": round(built, 1),
        "seconds": round(time.perf_counter() - started, 1),
    }


# --- 2. summary latency with 1,000 councils × 1,000 entries --------------------------------------------


ZERO_SIGNATURE = bytes(64)


class Rows:
    """Well-formed, unsigned rows of one council's log (see the module docstring)."""

    def __init__(self, n: int, key_id: bytes) -> None:
        self.log_id = (n.to_bytes(4, "big") * 8)[:32]
        self.key_id = key_id
        self.rows: list[tuple[Any, ...]] = []
        self.prev: bytes | None = None
        self.ts = 1_700_000_000_000 + n

    def add(self, kind: str, body: dict[str, Any] | None) -> bytes:
        seq = len(self.rows)
        self.ts += 60_000
        vis: Literal["public", "council"] = "public" if body is not None else "council"
        data = msgpack.packb({"kind": kind, **body}, use_bin_type=True) if body is not None else None
        digest = sha256(data) if data is not None else sha256(seq.to_bytes(8, "big"))
        header = Header(self.log_id, seq, self.prev, self.ts, vis, digest, self.key_id).encode()
        entry_id = leaf_hash(header)
        self.rows.append(
            (self.log_id, seq, entry_id, header, ZERO_SIGNATURE, data, vis, self.ts, kind if data else None)
        )
        self.prev = entry_id
        return entry_id


def council_rows(n: int, size: int, key_id: bytes, rng: random.Random) -> Rows:
    """About 1 public entry in 2, cycling through every kind the aggregate reads."""
    r = Rows(n, key_id)
    rules = {"version": 1, "majority": "simple", "quorum": None, "board_seats": 3, "publish_tallies": True,
             "census_bucket": 5}  # fmt: skip
    profile = {"name": f"Council {n}", "name_fa": f"شورای {n}", "city": f"City {n}",
               "country": f"C{n % 40:02d}", "continent": ["Asia", "Europe", "Africa"][n % 3]}  # fmt: skip
    r.add("council/found", {"profile": profile, "charter": {"fa": [], "en": []}, "charter_hash": bytes(32),
                            "rules": rules})  # fmt: skip
    for _ in range(20):
        r.add("member/join", None)
    sitting: list[bytes] = []
    while len(r.rows) < size - 25:
        assembly = r.add("assembly/open", {"convened_by": None, "agenda": "agenda"})
        r.add("assembly/attend", None)
        for motion_kind in ("election", "policy", "policy"):
            text = " ".join(rng.choice(WORDS) for _ in range(8))
            motion = r.add("motion/propose", {"assembly": assembly, "motion_kind": motion_kind, "text": text})
            for _ in range(4):
                r.add("motion/vote", None)
            elected, ended = [], []
            if motion_kind == "election":
                if len(sitting) == 3:
                    ended = [{"decision": sitting.pop(0), "seat": 0, "member": bytes(16)}]
                elected = [{"seat": 0, "member": rng.randbytes(16)}]
            decision = r.add("decision", {
                "motion": motion, "assembly": assembly, "motion_kind": motion_kind, "text": text,
                "rules_version": 1, "majority": "simple", "outcome": "adopted", "seats": None,
                "elected": elected, "vacant": 0, "tied": [], "ended": ended, "removed": None,
                "rules_adopted": None, "quorum": None, "active_members": 20, "quorum_required": 0,
                "participants": 8, "votes_cast": 4, "tally": {"yes": 3, "no": 1, "abstain": 0},
            })  # fmt: skip
            if elected:
                sitting.append(decision)
        r.add("assembly/close", {"assembly": assembly, "participants": 8})
        r.add("council/census", {"active_members": 20})
        r.add("board/report", {"member": bytes(16), "text": "report"})
    while len(r.rows) < size:
        r.add("member/join", None)
    return r


def summary_latency(councils: int, size: int, folder: Path, calls: int) -> dict[str, Any]:
    started = time.perf_counter()
    conn = open_node_db(folder / "big.db")
    store = LogStore(conn)
    fed = FederationLog(FED, "Asia")
    rng = random.Random(7)
    key = SigningKey.from_seed(b"\x42" * 32)
    for n in range(councils):
        log_id = (n.to_bytes(4, "big") * 8)[:32]
        continent = ["Asia", "Europe", "Africa"][n % 3]
        if continent == "Asia":  # a continent federation rosters its own continent's councils
            fed.do(
                fedbody.Admit(
                    log_id, "council", f"Council {n}", "Asia", f"شورای {n}", f"City {n}", f"C{n % 40:02d}"
                )
            )
    store.append(fed.log_id, fed.entries, checkpoint_signer(FED))
    generated = 0.0
    inserted = 0.0
    batch: list[tuple[Any, ...]] = []
    heads: list[tuple[Any, ...]] = []
    for n in range(councils):
        t0 = time.perf_counter()
        rows = council_rows(n, size, key.public.id, rng)
        root = rng.randbytes(32)
        note = sign_checkpoint(key, Checkpoint(log_origin(rows.log_id), size, root))
        batch.extend(rows.rows)
        heads.append((rows.log_id, size, root, note, size))
        t1 = time.perf_counter()
        generated += t1 - t0
        if len(batch) >= 50_000 or n == councils - 1:
            with store.transaction():
                conn.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
                conn.executemany(
                    "INSERT INTO logs (log_id, size, root, checkpoint, checkpoint_size) "
                    "VALUES (?, ?, ?, ?, ?)",
                    heads,
                )
            batch, heads = [], []
        inserted += time.perf_counter() - t1
    aggregate = Aggregate(conn, FED.public.raw)
    t0 = time.perf_counter()
    aggregate.rebuild()
    rebuild_s = time.perf_counter() - t0

    served = []
    for _ in range(calls):
        t0 = time.perf_counter()
        summary = aggregate.summary()
        served.append(time.perf_counter() - t0)
    rendered = []
    for _ in range(50):
        t0 = time.perf_counter()  # the render the cache saves
        aggregate.render_summary()
        rendered.append(time.perf_counter() - t0)
    searches = []
    for word in WORDS * 5:  # the common case: one word, a page of 50, newest first
        t0 = time.perf_counter()
        aggregate.decisions(query=word, limit=50)
        searches.append(time.perf_counter() - t0)
    entries = conn.execute("SELECT count(*) FROM entries").fetchone()[0]
    return {
        "bench": "aggregate.summary",
        "councils": councils,
        "entries": entries,
        "public_entries": conn.execute("SELECT count(*) FROM entries WHERE vis = 'public'").fetchone()[0],
        "rows": "well-formed, unsigned (zero signatures), council bodies absent",
        "generate_seconds": round(generated, 1),
        "insert_seconds": round(inserted, 1),
        "rebuild_seconds": round(rebuild_s, 1),
        "rebuild_us_per_entry": round(rebuild_s / entries * 1e6, 2),
        "summary_calls": calls,
        "summary_p50_ms": ms(statistics.median(served)),
        "summary_p99_ms": ms(percentile(served, 0.99)),
        "render_p50_ms": ms(statistics.median(rendered)),
        "render_p99_ms": ms(percentile(rendered, 0.99)),
        "search_p50_ms": ms(statistics.median(searches)),
        "search_p99_ms": ms(percentile(searches, 0.99)),
        "goal_p99_ms": 50,
        "summary_councils": summary["totals"]["councils"],
        "summary_decisions": summary["totals"]["decisions"],
        "db_mb": round((folder / "big.db").stat().st_size / 2**20, 1),
        "maxrss_mb": maxrss_mb(),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.quick:
            print(json.dumps(update_vs_ingest(3, 100, folder)), flush=True)
            print(json.dumps(summary_latency(50, 1000, folder, 200)), flush=True)
        else:
            print(json.dumps(update_vs_ingest(20, 500, folder)), flush=True)
            print(json.dumps(summary_latency(1000, 1000, folder, 200)), flush=True)


if __name__ == "__main__":
    main()
