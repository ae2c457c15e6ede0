"""The federation body's public page in chromium, served by a real federation of real councils (issue 15):
Persian first (rtl), English by the switch; its councils by continent and country, its delegates, its
proposals with each council's answer and the signed result; a proposal's markup and bidi overrides inert;
usable at 360 px, labelled, contrasted and focusable."""

from __future__ import annotations

from typing import Any

from protocol import codec
from tests.conftest import NodeFactory
from tests.node.federated import federation
from tests.node.test_continent import FAST, admit, until
from tests.node.test_federation_admin import b64
from tests.web.conftest import LOW_CONTRAST, screenshot_path
from tests.web.council import HOSTILE
from tests.web.test_council_page import open_page

LANG = "[document.documentElement.lang, document.documentElement.dir]"


async def test_the_federation_page_in_persian_then_english_and_at_360_pixels(
    start_node: NodeFactory, abrowser: Any
) -> None:
    f = await federation(start_node, closed_text=HOSTILE)
    page = await open_page(abrowser, f.fed.url + "/")
    assert await page.evaluate("document.body.dataset.ready") == "true", page.errors
    assert await page.evaluate(LANG) == ["fa", "rtl"]
    assert await page.text_content("h1") == "فدراسیون شوراهای کانادا"
    assert "فدراسیون کشوری" in await page.text_content("#profile-list")
    # the councils by continent and country, named in Persian
    councils = await page.text_content("#council-list")
    assert "North America" in councils and "CA" in councils
    assert "شورای تورنتو" in councils and "شورای مونترال" in councils
    # Toronto's delegate: the decision and seat, no name
    delegates = await page.text_content("#delegate-list")
    assert "شورای تورنتو" in delegates and "۱ نماینده" in delegates
    assert f.delegate["decision_id"][:10] in delegates and "Toronto member" not in delegates
    # newest first: the open proposal with the answer received so far, the closed one with its result
    cards = page.locator("#proposal-list > li")
    assert await cards.count() == 2
    still_open = await cards.nth(0).text_content()
    assert "Solidarity with the strike" in still_open and "باز" in still_open and "رد شد" in still_open
    closed = cards.nth(1)
    text = await closed.text_content()
    assert "نتیجهٔ امضاشده" in text and "تصویب شد" in text and "شورای تورنتو" in text
    assert "شوراهایی که از آن‌ها خبری نرسید" in text and "شورای مونترال" in text
    answer = await page.request.get(f"{f.fed.url}/v1/federation/proposals/{codec.b64u(f.closed)}")
    decision = (await answer.json())["answers"][0]["decision"]
    verify = closed.locator(".answers a")
    assert await verify.get_attribute("href") == f"{f.toronto.url}/decision?id={decision}"
    assert await closed.locator(".result a").count() == 3  # the signed entry, its inclusion proof, checkpoint
    # the proposal's markup is text and its directional overrides are shown as code points
    assert await page.locator("#injected").count() == 0
    assert await page.evaluate("document.body.dataset.owned") is None
    hostile = closed.locator(".text[lang=en]")
    assert '<b id="injected">now</b>' in await hostile.text_content()
    assert await hostile.locator(".control").all_text_contents() == ["U+202E", "U+202C", "U+2067", "U+2069"]
    assert await page.text_content("#federation-key") == b64(f.fed)
    await page.screenshot(path=screenshot_path("federation-fa"), full_page=True)

    await page.click("#lang")
    assert await page.evaluate(LANG) == ["en", "ltr"]
    assert await page.text_content("h1") == "Federation of Canada"
    text = await page.locator("#proposal-list > li").nth(1).text_content()
    assert "Signed result" in text and "adopted" in text and "Not heard from" in text
    assert "Montreal Council" in text and "Toronto Council" in text
    assert "delegate(s)" in await page.text_content("#delegate-list")
    await page.screenshot(path=screenshot_path("federation-en"), full_page=True)
    assert page.errors == []

    phone = await open_page(abrowser, f.fed.url + "/", viewport={"width": 360, "height": 740}, is_mobile=True)
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
    assert await phone.locator("header, main, footer").count() == 3
    for section in ("profile", "councils", "delegates", "proposals"):
        label = await phone.get_attribute(f"#{section}", "aria-labelledby")
        assert await phone.text_content(f"#{label}"), section
    await phone.keyboard.press("Tab")
    assert await phone.evaluate("document.activeElement.id") == "lang"
    await phone.keyboard.press("Tab")  # then the links, in the order they are read
    assert await phone.evaluate("document.activeElement.tagName") == "A"
    assert await phone.evaluate(LOW_CONTRAST, 4.5) == []
    await phone.screenshot(path=screenshot_path("federation-360"), full_page=True)
    assert phone.errors == []


async def test_a_new_federation_s_page_and_a_council_s_own(start_node: NodeFactory, abrowser: Any) -> None:
    """`/` is the federation's page on a federation body's node, the council's on a council's."""
    fed = await start_node("Federation of Canada", kind="federation", level="country")
    page = await open_page(abrowser, fed.url + "/")
    assert await page.evaluate("document.body.dataset.ready") == "true", page.errors
    assert await page.text_content("#proposal-list") == "هنوز پیشنهادی منتشر نشده است."
    assert await page.text_content("#council-list") == "هنوز شورایی در این فدراسیون نیست."
    assert await page.locator("#charter").count() == 0
    council = await start_node()
    page = await open_page(abrowser, council.url + "/")
    assert await page.locator("#charter").count() == 1 and await page.locator("#proposals").count() == 0


async def test_a_continent_s_page_shows_the_councils_of_its_country_federations(
    start_node: NodeFactory, abrowser: Any
) -> None:
    europe = await start_node(
        "Federation of Councils — Europe", name_fa="فدراسیون شوراهای اروپا", kind="federation",
        level="continent", continent="Europe", settings=FAST,
    )  # fmt: skip
    germany = await start_node(
        "Federation of Councils — Germany", kind="federation", level="country", country="DE",
        continent="Europe", federation=(europe.url, europe.config.node_id), settings=FAST,
    )  # fmt: skip
    berlin = await start_node(
        "Berlin Council", name_fa="شورای برلین", city="Berlin", country="DE", continent="Europe",
        federation=(germany.url, germany.config.node_id), settings=FAST,
    )  # fmt: skip
    await admit(europe, germany)
    await admit(germany, berlin)

    async def berlin_listed() -> bool:
        async with europe.session.get(europe.url + "/v1/federation/delegates") as response:
            listed = (await response.json())["councils"]
        return [(c["council"], c["country"], c["continent"]) for c in listed] == [
            (b64(berlin), "DE", "Europe")
        ]

    await until(berlin_listed, "Europe lists Berlin, a council of Germany, without any sync by hand")
    page = await open_page(abrowser, europe.url + "/")
    assert await page.evaluate("document.body.dataset.ready") == "true", page.errors
    assert await page.text_content("h1") == "فدراسیون شوراهای اروپا"
    assert "فدراسیون قاره‌ای" in await page.text_content("#profile-list")
    councils = page.locator("#council-list section.continent")
    assert await councils.locator("h3").all_text_contents() == ["Europe"]
    assert "DE" in await councils.locator("h4").first.text_content()
    assert "شورای برلین" in await councils.locator("li").first.text_content()
    federations = await page.text_content("#federation-list")
    assert "Federation of Councils — Germany" in federations and "پذیرفته" in federations
    await page.screenshot(path=screenshot_path("federation-continent-fa"), full_page=True)
    assert page.errors == []


async def test_older_proposals_a_page_at_a_time(start_node: NodeFactory, abrowser: Any) -> None:
    """The page shows the newest page of proposals; "older proposals" adds the next page below them, by the
    cursor the listing gives, until the oldest (a page of two here: `federation_page_max`)."""
    fed = await start_node(
        "Federation of Canada", kind="federation", level="country", settings={"federation_page_max": 2}
    )
    for n in range(5):
        # the oldest's deadline typed as milliseconds far ahead (the year 37648): beyond the Solar Hijri
        # table, shown as its Gregorian day, and the page still reads
        deadline = 2**50 if n == 0 else "2030-01-01T00:00:00Z"
        await fed.operator.call(
            "POST", "/v1/admin/proposals",
            {"text_fa": f"پیشنهاد {n}", "text_en": f"Proposal {n}", "deadline": deadline},
        )  # fmt: skip
    page = await open_page(abrowser, fed.url + "/?lang=en")
    assert await page.evaluate("document.body.dataset.ready") == "true", await page.text_content("#error")
    texts = page.locator("#proposal-list > li .text[lang=en]")
    assert await texts.all_text_contents() == ["Proposal 4", "Proposal 3"]
    assert await page.text_content("#proposals-shown") == "2 / 5"
    older = page.locator("#proposals-older")
    assert await older.text_content() == "Older proposals"
    assert await page.evaluate(LOW_CONTRAST, 4.5) == []
    for pages, shown in ((1, ["Proposal 2", "Proposal 1"]), (2, ["Proposal 0"])):
        await older.click()
        await page.wait_for_selector(f"body[data-older='{pages}']")
        assert (await texts.all_text_contents())[-len(shown) :] == shown
        # the focus moves to the first proposal added, where reading goes on
        focused = await page.evaluate("document.activeElement.querySelector('.text[lang=en]').textContent")
        assert focused == shown[0]
    assert await texts.all_text_contents() == [f"Proposal {n}" for n in (4, 3, 2, 1, 0)]
    assert "deadline 37648-05-06 ·" in await page.locator("#proposal-list > li").nth(4).text_content()
    assert await older.is_hidden() and await page.text_content("#proposals-shown") == "5 / 5"
    assert await page.is_hidden("#error")
    await page.click("#lang")  # Persian: the pages read so far stay, in its words and digits
    assert await page.text_content("#proposals-shown") == "۵ / ۵"
    assert await page.locator("#proposal-list > li").count() == 5
    await page.screenshot(path=screenshot_path("federation-older-fa"), full_page=True)
    assert page.errors == []
