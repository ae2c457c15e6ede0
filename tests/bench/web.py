"""Benchmark: time to first render of a council's public page and of a decision page (issue 15).

Run as ``python tests/bench/web.py``; prints one JSON line on stdout (progress goes to stderr). Needs
Debian's chromium (``SHORA_CHROMIUM``, else ``chromium`` on the PATH) and Playwright, as ``tests/web`` does.

A council node (its own process, ``tests/bench/node.py``) with an elected board and public decisions
(``tests/web/council.py``) serves its pages; a headless Chromium loads each in a fresh browser context (no
cache), ``REPS`` times:

- ``council``: from ``goto`` until the page says it has rendered the council's record (``body[data-ready]``:
  the public JSON routes fetched, the profile, charter, board, decisions and rules in the document);
- ``decision``: from ``goto`` until the decision's bundle is fetched and verified inside the browser
  (``body[data-verified]``: entry signature, inclusion proof, checkpoint, cosignatures, recount);
- the bare primitive, measured in the same run, interleaved: the **same page served by the same node**, the
  same bytes, loaded with JavaScript off, until its ``load`` event — a static page of the same size.

Reported: the medians and each ratio (page / static). Compare ratios, never milliseconds across machines.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402  (after the path fix above)

from federation.client import SignedClient  # noqa: E402
from tests.bench.node import NodeProcess, median, say  # noqa: E402
from tests.web.chromium import find  # noqa: E402
from tests.web.council import council  # noqa: E402

REPS = int(os.environ.get("SHORA_BENCH_REPEATS", "15"))


class Served:
    """What ``tests.web.council`` needs of a node: its URL and the operator's client."""

    def __init__(self, node: NodeProcess, operator: SignedClient) -> None:
        self.url, self.operator = node.url, operator


async def load(browser: Any, url: str, ready: str | None) -> float:
    """Seconds from ``goto`` to ``ready`` (a selector) in a fresh context; ``None``: JavaScript off, until
    the page's ``load`` event."""
    context = await browser.new_context(java_script_enabled=ready is not None)
    try:
        page = await context.new_page()
        started = time.perf_counter()
        await page.goto(url, wait_until="load")
        if ready is not None:
            await page.wait_for_selector(ready, timeout=60_000)
        elapsed = time.perf_counter() - started
        if ready == "body[data-verified]":
            assert await page.get_attribute("body", "data-failed") == "", "the decision did not verify"
        return elapsed
    finally:
        await context.close()


async def main() -> None:
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory() as tmp:
        node = NodeProcess(Path(tmp) / "node")
        try:
            async with aiohttp.ClientSession() as session:
                served = Served(node, node.client(session))

                async def start(*_: Any, **__: Any) -> Served:
                    return served

                c = await council(start)  # type: ignore[arg-type]  # a node as tests.web.council uses one
                decision = c.decisions["Hold a rally"]["decision_id"]
            pages = {
                "council": (f"{node.url}/", "body[data-ready]"),
                "decision": (f"{node.url}/decision?id={decision}", "body[data-verified]"),
            }
            times: dict[str, list[float]] = {f"{k}{s}": [] for k in pages for s in ("", "_static")}
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=find(os.environ), args=["--no-sandbox"])
                try:
                    for url, ready in pages.values():
                        await load(browser, url, ready)  # warm the node and the browser
                    for rep in range(REPS):
                        for name, (url, ready) in pages.items():
                            times[name].append(await load(browser, url, ready))
                            times[f"{name}_static"].append(await load(browser, url, None))
                        say(f"rep {rep + 1}/{REPS}")
                finally:
                    await browser.close()
        finally:
            node.stop()
    ms = {k: round(median(v) * 1000, 1) for k, v in times.items()}
    print(
        json.dumps(
            {
                "bench": "web.first_render",
                "council_ms": ms["council"],
                "council_static_ms": ms["council_static"],
                "council_ratio": round(ms["council"] / ms["council_static"], 2),
                "decision_verified_ms": ms["decision"],
                "decision_static_ms": ms["decision_static"],
                "decision_ratio": round(ms["decision"] / ms["decision_static"], 2),
                "reps": REPS,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main())
