"""Benchmark: verifying a log's entries through the protocol path, against bare Ed25519 in the same run.

Run as ``python tests/bench/protocol.py``; prints one JSON line. ``protocol_per_s`` is entries verified
per second through the protocol: ``Entry(header, signature)`` (strict header decode, entry id) +
``verify_signature`` + ``verify_follows`` — what a replica does for every entry, most of which reach it
without a body; ``bare_per_s`` is the backend's Ed25519 verify of the same signed bytes
(``shora/v1/entry\\0`` + header). Goal: ``ratio`` = ``protocol_per_s / bare_per_s`` ≥ 0.9 (DESIGN.md §9).
``with_body_per_s`` and ``ratio_with_body`` add checking a ~380-byte body against its header (canonical
decode, hash, shape), reported beside it so its cost is visible. The
Merkle figures reuse ``tests/bench/merkle.py`` on a 1,000,000-leaf tree, in microseconds.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from protocol.entry import Entry, sign_entry, verify_follows
from protocol.keys import BACKENDS, DEFAULT_BACKEND, ENTRY_TAG, SigningKey
from protocol.merkle import (
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.bench.merkle import _median_us

N = 5000
ROUNDS = 7
LEAVES = 1_000_000
CASES = 200


def build_entries(key: SigningKey) -> list[Entry]:
    """N entries with realistic bodies (~375 bytes: a vote or a motion with text and a few ids)."""
    rng = random.Random(1)
    entries: list[Entry] = []
    prev = None
    for seq in range(N):
        body = {
            "kind": "motion",
            "assembly": rng.randbytes(16),
            "motion": rng.randbytes(16),
            "proposer": rng.randbytes(16),
            "text": ("The council adopts the neighbourhood library budget for the coming year. " * 3)[:200],
            "visibility": "public",
            "options": ["yes", "no", "abstain"],
            "rule": {"version": 3, "majority": "simple", "quorum": 0},
        }
        entry = sign_entry(
            key,
            log_id=key.public.raw,
            seq=seq,
            prev=prev,
            ts_ms=1_700_000_000_000 + seq,
            vis="public",
            body=body,
        )
        entries.append(entry)
        prev = entry.id
    return entries


def protocol_path(
    raw: list[tuple[bytes, bytes, bytes]], key: SigningKey, backend: str, with_body: bool = False
) -> float:
    start = time.perf_counter()
    previous: Entry | None = None
    public = key.public
    for header, signature, body in raw:
        entry = Entry(header, signature, body if with_body else None)
        entry.verify_signature(public, backend=backend)
        verify_follows(previous, entry)
        previous = entry
    return len(raw) / (time.perf_counter() - start)


def bare_ed25519(messages: list[tuple[bytes, bytes]], public: bytes, backend: str) -> float:
    verify = BACKENDS[backend]
    start = time.perf_counter()
    for message, signature in messages:
        if not verify(public, signature, message):
            raise AssertionError("a signature did not verify")
    return len(messages) / (time.perf_counter() - start)


def merkle_figures() -> dict[str, float]:
    rng = random.Random(9162)
    tree = MemoryTree()
    for i in range(LEAVES):
        tree.append(leaf_hash(i.to_bytes(8, "big")))
    roots: dict[int, bytes] = {}

    def root_of(size: int) -> bytes:
        if size not in roots:
            roots[size] = tree.root(size)
        return roots[size]

    inclusion = []
    for _ in range(CASES):
        size = rng.randint(LEAVES // 2, LEAVES)
        index = rng.randrange(size)
        inclusion.append((index, size, tree.node(0, index), root_of(size)))
    consistency = []
    for _ in range(CASES):
        second = rng.randint(2, LEAVES)
        first = rng.randint(1, second - 1)
        consistency.append((first, second, root_of(first), root_of(second)))
    inclusion_paths = [inclusion_proof(tree, i, n) for i, n, _, _ in inclusion]
    consistency_paths = [consistency_proof(tree, m, n) for m, n, _, _ in consistency]
    return {
        "inclusion_gen_us": _median_us([partial(inclusion_proof, tree, i, n) for i, n, _, _ in inclusion]),
        "inclusion_verify_us": _median_us(
            [
                partial(verify_inclusion, leaf, i, n, path, root)
                for (i, n, leaf, root), path in zip(inclusion, inclusion_paths, strict=True)
            ]
        ),
        "consistency_gen_us": _median_us(
            [partial(consistency_proof, tree, m, n) for m, n, _, _ in consistency]
        ),
        "consistency_verify_us": _median_us(
            [
                partial(verify_consistency, m, n, r1, r2, path)
                for (m, n, r1, r2), path in zip(consistency, consistency_paths, strict=True)
            ]
        ),
    }


def main() -> None:
    backend = DEFAULT_BACKEND
    key = SigningKey.from_seed(bytes([1]) * 32)
    entries = build_entries(key)
    raw = [(e.header_bytes, e.signature, e.body_bytes or b"") for e in entries]
    messages = [(ENTRY_TAG + e.header_bytes, e.signature) for e in entries]
    protocol_rates, body_rates, bare_rates = [], [], []
    for _ in range(ROUNDS):  # interleaved, so drift in the machine's speed hits all alike
        bare_rates.append(bare_ed25519(messages, key.public.raw, backend))
        protocol_rates.append(protocol_path(raw, key, backend))
        body_rates.append(protocol_path(raw, key, backend, with_body=True))
    protocol_rate, bare_rate = statistics.median(protocol_rates), statistics.median(bare_rates)
    body_rate = statistics.median(body_rates)
    result = {
        "bench": "protocol",
        "backend": backend,
        "entries": N,
        "body_bytes": round(statistics.mean(len(b) for _, _, b in raw)),
        "protocol_per_s": round(protocol_rate),
        "bare_per_s": round(bare_rate),
        "ratio": round(protocol_rate / bare_rate, 3),
        "with_body_per_s": round(body_rate),
        "ratio_with_body": round(body_rate / bare_rate, 3),
        "merkle_leaves": LEAVES,
        **merkle_figures(),
    }
    print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
