"""Benchmark of a node under a flood (issue 11, suite: floods; docs/resilience.md).

Run as ``python tests/bench/flood.py``; prints one JSON line on stdout (progress goes to stderr):

- ``resilience.flood``: the honest peer's median gossip latency (``POST /v1/federation/digest``) while
  another peer floods the node as fast as it can and 500 slow connections stay open, against the same peer's
  median on the quiet node measured just before in the same run (the bare primitive). The goal is a ratio of
  at most 2. The flooder pre-signs its requests and is pinned to another core than the node's: it models an
  attacker on another machine, who can send without end but cannot take this machine's CPU
  (tests/resilience/flood.py). ``ratio`` is a trusted peer flooding over its quota, ``ratio_keyless`` a
  flood of unsigned requests; ``ratio_no_hold`` the peer's flood with ``refused_hold_s`` 0, what the hold
  is measured against.

Each repetition is a fresh node (``shora serve``) measured quiet, then flooded; the figures are the medians
of ``REPEATS`` repetitions of ``SAMPLES`` requests each. Compare the ratio with the goal, never an absolute
latency with another machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.resilience.test_flood import Figures, flood_scenario

REPEATS = int(os.environ.get("SHORA_BENCH_REPEATS", "5"))
SAMPLES = int(os.environ.get("SHORA_FLOOD_SAMPLES", "200"))
SLOW = int(os.environ.get("SHORA_FLOOD_SLOW", "500"))


async def repeat(mode: str, hold_s: float | None) -> list[Figures]:
    runs: list[Figures] = []
    for i in range(REPEATS):
        with tempfile.TemporaryDirectory() as tmp:
            figures = await flood_scenario(Path(tmp) / "node", SLOW, SAMPLES, mode, hold_s)
        print(f"{mode} hold={hold_s} run {i + 1}/{REPEATS}: {figures.line()}", file=sys.stderr, flush=True)
        runs.append(figures)
    return runs


def ratio(runs: list[Figures]) -> float:
    return round(statistics.median(f.loud for f in runs) / statistics.median(f.quiet for f in runs), 2)


async def main() -> None:
    runs = await repeat("peer", None)
    keyless = await repeat("keyless", None)
    no_hold = await repeat("peer", 0.0)
    quiet = statistics.median(f.quiet for f in runs)
    loud = statistics.median(f.loud for f in runs)
    flood_rps = statistics.median(sum(f.counts.values()) / f.flood_s for f in runs)
    refused = statistics.median(f.counts.get("429", 0) / max(1, sum(f.counts.values())) for f in runs)
    rss = [round(statistics.median(f.rss[i] for f in runs)) for i in range(3)]
    per_request = statistics.median(f.cpu_per_request_ms for f in runs)
    print(
        json.dumps(
            {
                "bench": "resilience.flood",
                "quiet_median_ms": round(quiet * 1000, 3),
                "flooded_median_ms": round(loud * 1000, 3),
                "ratio": round(loud / quiet, 2),
                "ratios": [round(f.loud / f.quiet, 2) for f in runs],
                "ratio_keyless": ratio(keyless),
                "ratio_no_hold": ratio(no_hold),
                "flooder_requests_per_s_no_hold": round(
                    statistics.median(sum(f.counts.values()) / f.flood_s for f in no_hold)
                ),
                "goal": 2.0,
                "flooder_requests_per_s": round(flood_rps),
                "flooder_429_share": round(refused, 3),
                "slow_connections": SLOW,
                "rss_mib_before_flooded_after": rss,
                "node_cpu_ms_per_request_flooded": round(per_request, 3),
                "flooder_cpu_s": round(statistics.median(f.flooder_cpu_s for f in runs), 2),
                "repeats": REPEATS,
                "samples": SAMPLES,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main())
