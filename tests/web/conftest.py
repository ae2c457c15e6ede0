"""Browser fixtures: Debian's chromium driven by Playwright through ``executable_path``.

Where chromium is found, and when its absence skips or fails: tests/web/chromium.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api") if not in_ci(os.environ) else None
    if sync_api is None:
        from playwright import sync_api  # under CI a missing playwright is a failure, not a skip
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        yield b
        b.close()
