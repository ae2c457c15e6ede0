"""Benchmark: Merkle proofs over a 1,000,000-leaf tree, against the bare SHA-256 of the same run.

Run as ``python tests/bench/merkle.py``; prints one JSON line. Times are medians over a few hundred random
cases, in microseconds; compare them with ``sha256_us`` (one 65-byte node hash), not with another machine.
``verify_hashes_per_proof`` is the mean number of node hashes an inclusion verification computes.
Goal (DESIGN.md §9 style budget): a proof verifies in well under 1 ms.
"""

from __future__ import annotations

import hashlib
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

# Runnable as a plain script from anywhere: the repository root goes on the path before our imports.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from protocol.merkle import (
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

LEAVES = 1_000_000
CASES = 400
SEED = 9162


def _median_us(calls: list[Callable[[], object]], repeat: int = 5) -> float:
    """Median over cases of the best of ``repeat`` runs: the cost of the work, not of the scheduler."""
    samples = []
    for call in calls:
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter_ns()
            call()
            best = min(best, time.perf_counter_ns() - start)
        samples.append(best / 1000)
    return round(statistics.median(samples), 2)


def _sha256_us() -> float:
    left, right = hashlib.sha256(b"l").digest(), hashlib.sha256(b"r").digest()
    n = 200_000
    start = time.perf_counter_ns()
    for _ in range(n):
        hashlib.sha256(b"\x01" + left + right).digest()
    return round((time.perf_counter_ns() - start) / n / 1000, 3)


def main() -> None:
    rng = random.Random(SEED)
    build_start = time.perf_counter()
    tree = MemoryTree()
    for i in range(LEAVES):
        tree.append(leaf_hash(i.to_bytes(8, "big")))
    build_s = time.perf_counter() - build_start
    roots: dict[int, bytes] = {}

    def root_of(size: int) -> bytes:
        if size not in roots:
            roots[size] = tree.root(size)
        return roots[size]

    inclusion_cases = []
    for _ in range(CASES):
        size = rng.randint(LEAVES // 2, LEAVES)
        index = rng.randrange(size)
        inclusion_cases.append((index, size, tree.node(0, index), root_of(size)))
    consistency_cases = []
    for _ in range(CASES):
        second = rng.randint(2, LEAVES)
        first = rng.randint(1, second - 1)
        consistency_cases.append((first, second, root_of(first), root_of(second)))

    inclusion_gen = _median_us([partial(inclusion_proof, tree, i, n) for i, n, _, _ in inclusion_cases])
    inclusion_paths = [inclusion_proof(tree, i, n) for i, n, _, _ in inclusion_cases]
    inclusion_verify = _median_us(
        [
            partial(verify_inclusion, leaf, i, n, path, root)
            for (i, n, leaf, root), path in zip(inclusion_cases, inclusion_paths, strict=True)
        ]
    )
    consistency_gen = _median_us([partial(consistency_proof, tree, m, n) for m, n, _, _ in consistency_cases])
    consistency_paths = [consistency_proof(tree, m, n) for m, n, _, _ in consistency_cases]
    consistency_verify = _median_us(
        [
            partial(verify_consistency, m, n, r1, r2, path)
            for (m, n, r1, r2), path in zip(consistency_cases, consistency_paths, strict=True)
        ]
    )
    sha256_us = _sha256_us()
    print(
        json.dumps(
            {
                "bench": "merkle",
                "leaves": LEAVES,
                "inclusion_verify_us": inclusion_verify,
                "consistency_verify_us": consistency_verify,
                "inclusion_gen_us": inclusion_gen,
                "consistency_gen_us": consistency_gen,
                "sha256_us": sha256_us,
                # Inclusion verification computes exactly one node hash per path element.
                "verify_hashes_per_proof": round(statistics.mean(len(p) for p in inclusion_paths), 2),
                "consistency_path_len": round(statistics.mean(len(p) for p in consistency_paths), 2),
                "build_s": round(build_s, 2),
            },
            separators=(",", ":"),
        )
    )


if __name__ == "__main__":
    main()
