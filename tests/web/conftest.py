"""Browser fixtures: Debian's chromium driven by Playwright through ``executable_path``.

Where chromium is found, and when its absence skips or fails: tests/web/chromium.py.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.web.chromium import NoChromium, find, in_ci


@pytest.fixture(scope="session")
def chromium_path() -> str:
    try:
        return find(os.environ)
    except NoChromium as e:
        if in_ci(os.environ):
            pytest.fail(f"CI=true and {e}")
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    """Playwright's sync API, one browser per module: while it runs it holds the thread's event loop, so it
    must be closed before a module of async tests (``abrowser``) starts."""
    sync_api = pytest.importorskip("playwright.sync_api") if not in_ci(os.environ) else None
    if sync_api is None:
        from playwright import sync_api  # under CI a missing playwright is a failure, not a skip
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        yield b
        b.close()


STATIC = Path(__file__).resolve().parents[2] / "node" / "web" / "static"


@pytest.fixture
def static_page(browser: Any) -> Iterator[Any]:
    """A page opened on node/web/static served from 127.0.0.1: a secure context (WebCrypto exists only in
    one; about:blank is not), where the static scripts can be imported."""

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(STATIC), **kwargs)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page = browser.new_page()
    page.goto(f"http://127.0.0.1:{server.server_address[1]}/calendar.js")
    yield page
    page.close()
    server.shutdown()
    server.server_close()


ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # screenshots, kept by CI (gitignored)


@pytest.fixture
async def abrowser(chromium_path: str) -> Any:
    """The browser for tests that run a node in the same event loop: Playwright's async API (its sync API
    refuses to run inside a running loop)."""
    async_api = pytest.importorskip("playwright.async_api") if not in_ci(os.environ) else None
    if async_api is None:
        from playwright import async_api
    async with async_api.async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        yield b
        await b.close()


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"


# WCAG 2 contrast of every element that shows text, against the nearest background behind it
LOW_CONTRAST = """(minimum) => {
    const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => {
        const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (el) => {
        for (let e = el; e; e = e.parentElement) {
            const c = rgb(getComputedStyle(e).backgroundColor);
            if (c.length === 3 || c[3] > 0) return c.slice(0, 3);
        }
        return [255, 255, 255];
    };
    const low = [];
    for (const el of document.querySelectorAll("body *")) {
        const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
        if (!text || el.offsetParent === null) continue;
        const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(background(el))];
        const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        if (ratio < minimum) low.push(`${el.tagName}#${el.id}.${el.className}: ${ratio.toFixed(2)}`);
    }
    return low;
}"""
