"""The member's page in chromium at 360 px, against a real node: a member redeems the invitation the operator
made, with a key made in the browser (non-extractable), checks in, votes on a motion and in an election, is
refused in words (not present, not in the electorate, a second ballot), and after the close verifies in the
page that the ballot was counted; Persian first (rtl), English by the switch; signed text inert."""

from __future__ import annotations

from typing import Any

from protocol import codec
from protocol.errors import VerificationError
from protocol.member import verify_ballot_proof
from tests.conftest import NodeFactory, RunningNode
from tests.web.conftest import LOW_CONTRAST, screenshot_path
from tests.web.council import HOSTILE, council
from tests.web.test_council_page import open_page

PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True}


async def act(page: Any, selector: str) -> None:
    """Click what starts one of the member's actions and wait until the page has finished it."""
    before = int(await page.evaluate("document.body.dataset.acted || '0'"))
    await page.click(selector)
    await page.wait_for_selector(f'body[data-acted="{before + 1}"]', state="attached")


async def operator(node: RunningNode, method: str, path: str, value: dict[str, Any] | None = None) -> Any:
    return await node.operator.call(method, path, value)


async def error_text(page: Any) -> str:
    return str(await page.text_content("#error")) if await page.is_visible("#error") else ""


async def motion_card(page: Any, motion: str) -> Any:
    return page.locator(f'#motion-list li[data-motion="{motion}"]')


async def test_a_member_votes_from_a_phone_and_verifies_the_count(
    start_node: NodeFactory, abrowser: Any
) -> None:
    c = await council(start_node)
    node = c.node
    invited = await operator(node, "POST", "/v1/admin/invitations", {"name": "Nasrin"})
    early = (await operator(node, "POST", "/v1/admin/motions", {"assembly": c.assembly, "text": "Early"}))[
        "motion_id"
    ]

    page = await open_page(abrowser, node.url + "/member", **PHONE)
    assert await page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
        "fa",
        "rtl",
    ]
    assert await page.is_visible("#redeem") and not await page.is_visible("#me")
    # an invitation that is not one is refused in words, before any key is made
    await page.fill("#invitation", "not-an-invitation")
    await act(page, "#redeem-run")
    assert "دعوت‌نامهٔ شورا نیست" in await error_text(page)
    await page.fill("#invitation", invited["invitation"])
    await act(page, "#redeem-run")
    assert await error_text(page) == "", page.errors
    assert await page.is_visible("#me")
    assert await page.text_content("#me-list code") == invited["member_id"]
    # the key was made in the browser, non-extractable, kept in IndexedDB; the node knows its public half
    key = await page.evaluate(
        """async () => {
            const k = await globalThis.shora.keystore.load("member");
            let exported = false;
            try { await crypto.subtle.exportKey("pkcs8", k.privateKey); exported = true; } catch (e) {}
            return [k.privateKey.extractable, exported, globalThis.shora.verify.b64u(k.publicRaw)];
        }"""
    )
    assert key[:2] == [False, False]
    members = await operator(node, "GET", "/v1/admin/record/log?after_seq=-1&limit=500")
    joins = [e for e in members["entries"] if e["issued_by"] and e["issued_by"].get("key") == key[2]]
    assert [e["kind"] for e in joins] == ["member/join"]
    # the same invitation again: refused by the node, in words
    await page.evaluate("globalThis.shora.keystore.remove('member')")
    await page.reload()
    await page.wait_for_selector("body[data-ready]")
    await page.fill("#invitation", invited["invitation"])
    await act(page, "#redeem-run")
    assert "پیش‌تر به کار رفته" in await error_text(page) and "invitation.used" in await error_text(page)
    # the key is lost (a new phone): a new invitation for the member, redeemed with a `key` statement
    again = await operator(node, "POST", "/v1/admin/invitations", {"member": invited["member_id"]})
    await page.fill("#invitation", again["invitation"])
    await act(page, "#redeem-run")  # a `key` statement this time: the node refuses the join, the page retries
    assert await error_text(page) == "" and await page.text_content("#me-list code") == invited["member_id"]

    # not checked in yet: the early motion's ballot is refused, in words
    card = await motion_card(page, early)
    await card.locator('input[value="yes"]').check()
    await act(page, f'#motion-list li[data-motion="{early}"] .cast')
    assert "اعلام حضور" in await error_text(page) and "vote.not-present" in await error_text(page)
    await act(page, "#checkin")
    assert await error_text(page) == ""
    assert "حاضرید" in await page.text_content("#me-list") and not await page.is_visible("#checkin")
    # consent to stand in this assembly's elections, signed in the page; a second time refused, in words
    await act(page, "#consent")
    assert await error_text(page) == "" and "نامزدی" in await page.text_content("#notice")
    await act(page, "#consent")
    assert "consent.duplicate" in await error_text(page)
    # checked in after the early motion opened: not in its electorate
    card = await motion_card(page, early)
    await card.locator('input[value="no"]').check()
    await act(page, f'#motion-list li[data-motion="{early}"] .cast')
    assert "vote.not-in-electorate" in await error_text(page)

    # two motions opened now: the hostile text, and an election for the board's last seat
    hostile = (await operator(node, "POST", "/v1/admin/motions", {"assembly": c.assembly, "text": HOSTILE}))[
        "motion_id"
    ]
    election = (
        await operator(
            node,
            "POST",
            "/v1/admin/motions",
            {
                "assembly": c.assembly,
                "text": "Elect",
                "kind": "election",
                "seats": 1,
                "candidates": [invited["member_id"]],  # who consented above
            },
        )
    )["motion_id"]
    await act(page, "#refresh")
    stale = await page.context.new_page()  # a second tab, opened before the ballot: it will offer it again
    await stale.goto(node.url + "/member")
    await stale.wait_for_selector("body[data-ready]")

    # the motion's text is shown inert: no element made of its markup, its bidi controls as code points
    text = (await motion_card(page, hostile)).locator(".text")
    assert await page.locator("#injected").count() == 0
    assert await page.evaluate("document.body.dataset.owned") is None
    assert await text.locator(".control").all_text_contents() == ["U+202E", "U+202C", "U+2067", "U+2069"]
    assert '<b id="injected">now</b>' in await text.text_content()

    await (await motion_card(page, hostile)).locator('input[value="yes"]').check()
    await act(page, f'#motion-list li[data-motion="{hostile}"] .cast')
    assert await error_text(page) == "", await error_text(page)
    assert "ثبت شد" in await page.text_content("#notice")
    assert await (await motion_card(page, hostile)).locator(".voted").count() == 1
    await (await motion_card(page, election)).locator("input[type=checkbox]").first.check()
    await act(page, f'#motion-list li[data-motion="{election}"] .cast')
    assert await error_text(page) == ""
    # the second tab still offers the ballot: the node refuses a second one, and the page says why
    await (await motion_card(stale, hostile)).locator('input[value="no"]').check()
    await act(stale, f'#motion-list li[data-motion="{hostile}"] .cast')
    assert "هر عضو یک رأی دارد" in await error_text(stale) and "vote.duplicate" in await error_text(stale)
    await stale.close()

    # before the close there is nothing to check yet
    await page.fill("#check-motion", hostile)
    await act(page, "#check-run")
    assert "motion.open" in await error_text(page) and "هنوز باز" in await error_text(page)
    await page.screenshot(path=screenshot_path("member-fa"), full_page=True)

    await operator(node, "POST", f"/v1/admin/motions/{hostile}/close")
    await operator(node, "POST", f"/v1/admin/motions/{election}/close")
    for motion, choice in ((hostile, "موافق"), (election, "تأییدها")):
        await page.fill("#check-motion", motion)
        await act(page, "#check-run")
        assert await page.evaluate("document.body.dataset.checked") == "true", await error_text(page)
        assert await page.locator("#check-steps li.pass").count() == 9
        assert "شمرده شد" in await page.text_content("#check-summary")
        assert choice in await page.text_content("#check-counted")
    await page.screenshot(path=screenshot_path("member-check-fa"), full_page=True)

    # the record, paged: the member's own ballots among its entries, marked as theirs
    first = await page.locator("#record-list li").count()
    assert first == 20
    while await page.is_visible("#record-more"):
        await act(page, "#record-more")
    entries = await page.locator("#record-list li").all_text_contents()
    assert len(entries) > first and sum("motion/vote" in e and "(شما)" in e for e in entries) == 2

    await page.click("#lang")
    assert await page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
        "en",
        "ltr",
    ]
    assert await page.text_content("h1") == "Member's page"
    assert "counted in the decision" in await page.text_content("#check-summary")
    assert "(you)" in await page.text_content("#record-list")
    await page.fill("#check-motion", "")
    await act(page, "#check-run")
    assert "write the motion's id" in await error_text(page)
    await page.screenshot(path=screenshot_path("member-en"), full_page=True)
    # the refusals are the only errors: the browser logs each refused request, and nothing else went wrong
    assert [e for e in page.errors if not e.startswith("Failed to load resource")] == []


async def test_the_member_page_is_accessible_at_360_pixels(start_node: NodeFactory, abrowser: Any) -> None:
    c = await council(start_node)
    invited = await operator(c.node, "POST", "/v1/admin/invitations", {"name": "Nasrin"})
    page = await open_page(abrowser, c.node.url + "/member", **PHONE)
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "lang"
    # focus follows the page: the invitation, then the button that redeems it
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "invitation"
    await page.keyboard.type(invited["invitation"])
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "redeem-run"
    before = int(await page.evaluate("document.body.dataset.acted || '0'"))
    await page.keyboard.press("Enter")
    await page.wait_for_selector(f'body[data-acted="{before + 1}"]', state="attached")
    assert await page.is_visible("#me"), await error_text(page)
    await act(page, "#checkin")
    await operator(c.node, "POST", "/v1/admin/motions", {"assembly": c.assembly, "text": "Hold a picnic"})
    await act(page, "#refresh")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    assert await page.locator("header, main").count() == 2
    for section in ("me", "motions", "check", "record"):
        label = await page.get_attribute(f"#{section}", "aria-labelledby")
        assert await page.text_content(f"#{label}")
    # every control is named: a label, a legend's group, or its own text
    unnamed = await page.evaluate(
        """() => [...document.querySelectorAll("input, textarea, button")]
            .filter((e) => e.offsetParent !== null)
            .filter((e) => !(e.labels && e.labels.length) && !e.textContent.trim())
            .map((e) => e.id || e.outerHTML)"""
    )
    assert unnamed == []
    assert await page.evaluate(LOW_CONTRAST, 4.5) == []
    # the yes/no/abstain choices are one group, reached with the keyboard
    yes = page.locator('#motion-list input[value="yes"]')
    await yes.focus()
    await page.keyboard.press("Space")
    assert await yes.is_checked()
    await page.click("#lang")  # drawn again in English: the choice stays
    assert await yes.is_checked()
    await page.click("#lang")
    await page.screenshot(path=screenshot_path("member-360"), full_page=True)
    await page.click("#lang")
    assert await page.evaluate("document.documentElement.dir") == "ltr"
    assert await page.evaluate(LOW_CONTRAST, 4.5) == []


async def test_the_proof_is_judged_in_the_browser_as_in_python(
    start_node: NodeFactory, abrowser: Any
) -> None:
    """ballot.js's verifyProof against protocol.member.verify_ballot_proof: the genuine proof, and the
    proof with one bit flipped at many places, another member's key, another council's key."""
    c = await council(start_node)
    invited = await operator(c.node, "POST", "/v1/admin/invitations", {"name": "Nasrin"})
    page = await open_page(abrowser, c.node.url + "/member", **PHONE)
    await page.fill("#invitation", invited["invitation"])
    await act(page, "#redeem-run")
    await act(page, "#checkin")
    motion = (await operator(c.node, "POST", "/v1/admin/motions", {"assembly": c.assembly, "text": "Go"}))[
        "motion_id"
    ]
    await act(page, "#refresh")
    await (await motion_card(page, motion)).locator('input[value="abstain"]').check()
    await act(page, f'#motion-list li[data-motion="{motion}"] .cast')
    await operator(c.node, "POST", f"/v1/admin/motions/{motion}/close")
    got = await page.evaluate(
        """async (motion) => {
            const s = globalThis.shora;
            const k = await s.keystore.load("member");
            const path = `/v1/member/motions/${motion}/proof`;
            const r = await s.signing.call(k, s.verify.unb64u(k.node_id), "GET", path);
            return [Array.from(new Uint8Array(await r.arrayBuffer())), Array.from(k.publicRaw), k.node_id];
        }""",
        motion,
    )
    data, member_key, root = bytes(got[0]), bytes(got[1]), codec.unb64u(got[2])

    def python(d: bytes, r: bytes, m: bytes) -> str | None:
        try:
            verify_ballot_proof(d, r, m)
        except VerificationError as exc:
            return exc.step
        return None

    samples: list[tuple[bytes, bytes, bytes]] = [(data, root, member_key)]
    samples += [(data, root, bytes(32)), (data, bytes(32), member_key), (data[:-1], root, member_key)]
    for i in range(0, len(data), max(1, len(data) // 150)):
        flipped = bytearray(data)
        flipped[i] ^= 1 << (i % 8)
        samples.append((bytes(flipped), root, member_key))
    verdicts = await page.evaluate(
        """async (samples) => {
            const out = [];
            for (const [d, r, m] of samples) {
                const report = await globalThis.shora.ballot.verifyProof(
                    Uint8Array.from(d), Uint8Array.from(r), Uint8Array.from(m));
                out.push(report.failed);
            }
            return out;
        }""",
        [[list(d), list(r), list(m)] for d, r, m in samples],
    )
    expected = [python(d, r, m) for d, r, m in samples]
    assert expected[0] is None and verdicts[0] is None
    assert verdicts == expected
    assert len({v for v in expected if v}) >= 4  # the mutations reach several steps


async def test_election_candidates_by_name_shown_inert(start_node: NodeFactory, abrowser: Any) -> None:
    """A member approves candidates by their names (fellow members', from the council's own directory), each
    isolated and inert: a Persian name reads right to left inside the page, a name holding markup and bidi
    overrides is text with its controls shown as code points; the short id stays beside each name."""
    c = await council(start_node)
    node = c.node
    persian = "پریسا زندی"
    hostile = 'Kian <b id="injected">K</b><img src=x onerror="document.body.dataset.owned=1"> \u202eev\u202c'
    ids = [
        (await operator(node, "POST", "/v1/admin/members", {"name": name}))["member_id"]
        for name in (persian, hostile)
    ]
    invited = await operator(node, "POST", "/v1/admin/invitations", {"name": "Nasrin"})
    page = await open_page(abrowser, node.url + "/member", **PHONE)
    await page.fill("#invitation", invited["invitation"])
    await act(page, "#redeem-run")
    await act(page, "#checkin")
    for member in ids:  # neither holds a key: the secretary records the consent they said in the room
        await operator(node, "POST", f"/v1/admin/assemblies/{c.assembly}/consent", {"member": member})
    value = {"assembly": c.assembly, "text": "Elect", "kind": "election", "seats": 1, "candidates": ids}
    election = (await operator(node, "POST", "/v1/admin/motions", value))["motion_id"]
    await act(page, "#refresh")
    card = await motion_card(page, election)
    labels = card.locator("label.choice")
    assert await labels.count() == 2
    names = labels.locator("bdi.signed")
    assert await names.evaluate_all("(b) => b.map((x) => x.getAttribute('dir'))") == ["auto", "auto"]
    assert await names.nth(0).text_content() == persian
    assert await labels.nth(0).locator("code").text_content() == ids[0][:10]
    # the markup is text, the override a code point: nothing injected, nothing reordered
    assert await page.locator("#injected").count() == 0
    assert await page.evaluate("document.body.dataset.owned") is None
    assert '<b id="injected">K</b>' in await names.nth(1).text_content()
    assert await names.nth(1).locator(".control").all_text_contents() == ["U+202E", "U+202C"]
    assert await labels.nth(1).locator("code").text_content() == ids[1][:10]
    # the name is the checkbox's label: chosen by it, the ballot approves that member's id
    await page.get_by_label(persian).check()
    await page.screenshot(path=screenshot_path("member-candidates-fa"), full_page=True)
    await act(page, f'#motion-list li[data-motion="{election}"] .cast')
    assert await error_text(page) == ""
    closed = await operator(node, "POST", f"/v1/admin/motions/{election}/close")
    assert dict(map(tuple, closed["tally"]["approvals"])) == {ids[0]: 1, ids[1]: 0}
    await page.click("#lang")
    assert await page.evaluate("document.documentElement.dir") == "ltr"
    assert await page.evaluate(LOW_CONTRAST, 4.5) == []
    assert [e for e in page.errors if not e.startswith("Failed to load resource")] == []
