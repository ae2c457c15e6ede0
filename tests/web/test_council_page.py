"""The council's public page in chromium, served by a real node: Persian first (rtl), English by the switch,
signed text inert, usable at 360 px; and the headers every page and static file is served with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from node.web.pages import CONTENT_SECURITY_POLICY
from tests.conftest import NodeFactory
from tests.web.conftest import LOW_CONTRAST, screenshot_path
from tests.web.council import HOSTILE, council


async def open_page(browser: Any, url: str, **context: Any) -> Any:
    page = await (await browser.new_context(**context)).new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(url)
    await page.wait_for_selector("body[data-ready]")
    page.errors = errors
    return page


async def test_the_council_page_in_persian_then_english(start_node: NodeFactory, abrowser: Any) -> None:
    c = await council(start_node)
    page = await open_page(abrowser, c.node.url + "/")
    assert await page.evaluate("document.body.dataset.ready") == "true", page.errors
    assert await page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
        "fa",
        "rtl",
    ]
    assert await page.text_content("h1") == "شورای سرخ تهران"
    assert await page.text_content("#profile-h") == "معرفی شورا"
    # the charter: Persian (authoritative) beside English, each in its own direction
    assert await page.locator("#charter-fa li").count() == 6 == await page.locator("#charter-en li").count()
    assert await page.get_attribute("#charter-fa", "dir") == "rtl"
    assert (await page.text_content("#charter-en li")).startswith("a) the revolutionary overthrow")
    # board: two seats of three filled, each with the decision that elected it
    assert "۳" in await page.text_content("#board-summary")
    links = page.locator("#board-list a")
    assert await links.count() == 2
    elected = c.decisions["Elect the board"]["decision_id"]
    assert await links.first.get_attribute("href") == f"decision?id={elected}"
    # public decisions, newest first, with tallies in Persian digits and the Solar Hijri date
    cards = page.locator("#decision-list li")
    assert await cards.count() == 3
    rally = await cards.nth(1).text_content()
    assert "Hold a rally" in rally and "تصویب شد" in rally and "موافق ۲" in rally and "مخالف ۱" in rally
    assert "۱۴" in rally  # a Jalali year in Persian digits, the Gregorian beside it
    assert "شمارش آرا منتشر نشده" not in rally
    election = await cards.nth(2).text_content()  # an election's tally: its ballots and each one's approvals
    assert "برگه‌های رأی ۳" in election and "تأییدها" in election and "۲" in election
    assert "اکثریت ساده" in await page.text_content("#rules-list")
    await page.screenshot(path=screenshot_path("council-fa"), full_page=True)

    await page.click("#lang")
    assert await page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
        "en",
        "ltr",
    ]
    assert await page.text_content("h1") == "Reds of Tehran"
    rally = await page.locator("#decision-list li").nth(1).text_content()
    assert "adopted" in rally and "Yes 2" in rally and "No 1" in rally
    assert "simple majority" in await page.text_content("#rules-list")
    await page.screenshot(path=screenshot_path("council-en"), full_page=True)
    assert page.errors == []


async def test_signed_text_is_shown_inert(start_node: NodeFactory, abrowser: Any) -> None:
    c = await council(start_node)
    page = await open_page(abrowser, c.node.url + "/")
    hostile = page.locator("#decision-list li").first.locator(".text")
    # the markup is text: no element was made of it, no handler ran
    assert await page.locator("#injected").count() == 0
    assert await page.evaluate("document.body.dataset.owned") is None
    shown = await hostile.text_content()
    assert '<b id="injected">now</b>' in shown and "onerror" in shown
    # the directional overrides are shown as code points and cannot reorder what surrounds them
    assert await hostile.locator(".control").all_text_contents() == ["U+202E", "U+202C", "U+2067", "U+2069"]
    assert "\u202e" not in shown and "\u2067" not in shown
    assert (
        shown.replace("U+202E", "\u202e")
        .replace("U+202C", "\u202c")
        .replace("U+2067", "\u2067")
        .replace("U+2069", "\u2069")
        == HOSTILE
    )


async def test_the_council_page_at_360_pixels(start_node: NodeFactory, abrowser: Any) -> None:
    c = await council(start_node)
    page = await open_page(abrowser, c.node.url + "/", viewport={"width": 360, "height": 740}, is_mobile=True)
    # nothing wider than the screen: no sideways scrolling on a phone
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    # landmarks and named sections for screen readers; the switch is a real, focusable button
    assert await page.locator("header, main, footer").count() == 3
    for section in ("profile", "charter", "board", "decisions", "rules"):
        label = await page.get_attribute(f"#{section}", "aria-labelledby")
        assert await page.text_content(f"#{label}")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "lang"
    assert await page.evaluate(LOW_CONTRAST, 4.5) == []  # WCAG AA for body text, everywhere on the page
    await page.screenshot(path=screenshot_path("council-360"), full_page=True)


async def test_pages_and_static_files_carry_strict_headers(start_node: NodeFactory) -> None:
    node = await start_node()
    async with aiohttp.ClientSession() as session:
        for path, kind in (
            ("/", "text/html"),
            ("/static/page.js", "text/javascript"),
            ("/static/style.css", "text/css"),
        ):
            async with session.get(node.url + path) as response:
                assert response.status == 200, path
                assert response.content_type == kind
                assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
                assert response.headers["X-Content-Type-Options"] == "nosniff"
                assert response.headers["Referrer-Policy"] == "no-referrer"
        for path in (
            "/static/nothing.js",
            "/static/..%2Fpages.py",
            "/static/__init__.py",
            "/static/icon.svg/x",
        ):
            async with session.get(node.url + path) as response:
                assert response.status == 404, path
                assert (await response.json())["error"] == "not-found"
    assert (
        "'unsafe-inline'" not in CONTENT_SECURITY_POLICY and "default-src 'self'" in CONTENT_SECURITY_POLICY
    )


async def test_the_charter_route(start_node: NodeFactory) -> None:
    node = await start_node()
    async with aiohttp.ClientSession() as session, session.get(node.url + "/v1/charter") as response:
        charter = await response.json()
        async with session.get(node.url + "/v1/node") as info:
            assert charter["hash"] == (await info.json())["charter_hash"]
    assert len(charter["fa"]) == len(charter["en"]) == 6
    federation = await start_node("Canada", kind="federation")
    async with aiohttp.ClientSession() as session, session.get(federation.url + "/v1/charter") as response:
        assert response.status == 404 and (await response.json())["error"] == "not-found"


def test_every_web_file_is_package_data() -> None:
    """A non-editable install ships what pyproject.toml's package data names: every page, script and style."""
    import fnmatch
    import tomllib

    from node.web import pages

    config = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["node.web"]
    files = [p.relative_to(pages.HERE).as_posix() for d in (pages.HTML, pages.STATIC) for p in d.iterdir()]
    assert files and all(any(fnmatch.fnmatch(f, g) for g in globs) for f in files), (files, globs)
    assert all(p.suffix in pages.TYPES for d in (pages.HTML, pages.STATIC) for p in d.iterdir())
