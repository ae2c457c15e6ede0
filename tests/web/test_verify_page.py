"""The decision page's in-browser verification (node/web/static/verify.js) against the Python verifier
(protocol/bundle.py, protocol/recount.py) on the same bundles — genuine, tampered at every step, randomly
mutated, and one whose outcome does not follow from its tally — and the page itself: served by a node, saved
to disk and run offline on a bundle file, at 360 px, with hostile signed text."""

from __future__ import annotations

import base64
import inspect
import random
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from protocol import codec
from protocol.bundle import verify_bundle
from protocol.errors import VerificationError
from protocol.keys import PublicKey
from protocol.note import Checkpoint, add_signatures, cosign, format_note, parse_note, sign_note
from protocol.recount import recount
from protocol.unicode_assigned import ASSIGNED
from tests.conftest import NodeFactory
from tests.protocol.test_bundle import FOUND, LOG, ROOT, TRUSTED, VALID, checkpoint_note, make
from tests.vectors.generate import ATTACKER, COUNCIL, OTHER_COUNCIL, WITNESSES, build_log
from tests.web.conftest import LOW_CONTRAST, screenshot_path
from tests.web.council import HOSTILE, council

WEB = Path(__file__).resolve().parents[2] / "node" / "web"
Witnesses = Sequence[tuple[str, PublicKey]]


def python_verdict(data: bytes, key: PublicKey, witnesses: Witnesses) -> tuple[str | None, str]:
    """The failing step by protocol/bundle.py then protocol/recount.py (None: every step holds), and whether
    the outcome was recounted ("pass") or could not be ("info")."""
    try:
        verified = verify_bundle(data, key, witnesses)
        return None, "pass" if recount(verified.body) else "info"
    except VerificationError as exc:
        return exc.step, "fail" if exc.step == "outcome" else "skipped"


@pytest.fixture
async def offline(abrowser: Any, tmp_path: Path) -> Any:
    """The decision page as saved to disk: its HTML beside a static/ folder, opened from file://."""
    saved = tmp_path / "saved"
    shutil.copytree(WEB / "static", saved / "static")
    shutil.copy(WEB / "html" / "decision.html", saved / "decision.html")
    page = await abrowser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto((saved / "decision.html").as_uri())
    await page.wait_for_selector("body[data-ready]")
    page.errors = errors
    return page


async def js_verdict(page: Any, data: bytes, key: PublicKey | None, witnesses: Witnesses) -> dict[str, Any]:
    return await page.evaluate(  # type: ignore[no-any-return]
        """async ([data, key, witnesses]) => {
            const v = globalThis.shora.verify;
            const ws = witnesses.map(([name, k]) => ({name, key: Uint8Array.from(k)}));
            const council = key === null ? null : Uint8Array.from(key);
            const r = await v.verifyBundle(Uint8Array.from(data), council, ws);
            const steps = Object.fromEntries(r.steps.map(s => [s.step, s.status]));
            return {failed: r.failed, message: r.message, steps};
        }""",
        [list(data), None if key is None else list(key.raw), [[n, list(k.raw)] for n, k in witnesses]],
    )


async def same_verdict(
    page: Any, data: bytes, key: PublicKey = ROOT, witnesses: Witnesses = TRUSTED
) -> str | None:
    step, outcome = python_verdict(data, key, witnesses)
    got = await js_verdict(page, data, key, witnesses)
    assert got["failed"] == step, (step, got)
    if step is None or step == "outcome":
        assert got["steps"]["outcome"] == outcome, got
    return step


def edited(change: Any) -> bytes:
    value = codec.decode(VALID.encode())
    change(value)
    return codec.encode(value)


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def note_with(checkpoint: Checkpoint, signers: Sequence[Any] = (COUNCIL,)) -> str:
    text = checkpoint.body().decode()
    return format_note(text, [sign_note(s, checkpoint.origin, text) for s in signers])


def wrong_outcome_bundle() -> bytes:
    """Signed, included and cosigned as any genuine decision, but 1 yes against 5 no says "adopted"."""
    body = {
        "kind": "decision", "motion_kind": "policy", "text": "Close the library", "majority": "simple",
        "outcome": "adopted", "quorum": {"fraction": [1, 2]}, "active_members": 7, "quorum_required": 4,
        "participants": 6, "votes_cast": 6, "tally": {"yes": 1, "no": 5, "abstain": 0},
    }  # fmt: skip
    return decision_bundle(body)


def decision_bundle(body: dict[str, Any]) -> bytes:
    """``body`` as a genuine decision: signed, included and cosigned; only its arithmetic is in question."""
    return make(build_log([FOUND, ("public", body, COUNCIL)]), 1).encode()


def recount_cases() -> list[tuple[str, dict[str, Any]]]:
    """Every decision body tests/protocol/test_recount.py recounts or refuses, by its test and id, plus
    decisions the node takes under each majority rule and the quorum cap."""
    from tests.protocol import test_recount as rc

    def params(test: Any) -> list[Any]:
        return [p for mark in test.pytestmark if mark.name == "parametrize" for p in mark.args[1]]

    cases = [
        (
            f"boundary-{m}-{yes}-{no}-{n}",
            rc.body(yes, no, outcome, majority=m, participants=n, votes_cast=yes + no),
        )
        for m, yes, no, n, outcome in params(rc.test_each_rule_at_its_boundary)
    ]
    cases += [(f"refusal-{attack}", rc.body(3, 0, "adopted") | over) for attack, over, _ in params(
        rc.test_refusals_name_their_check)]  # fmt: skip
    cases += [(f"forged-election-{p.id}", p.values[0]) for p in params(rc.test_a_forged_election_is_refused)]
    cases += [(f"forged-election-{attack}", rc.election({rc.X: 3}, 4, [rc.X], [], "adopted", seats=1) | over)
              for attack, over, _ in params(rc.test_a_forged_election_names_its_check)]  # fmt: skip
    cases += [
        (
            "two-thirds-of-participants",
            rc.body(4, 0, "adopted", majority="two_thirds_participants", participants=6),
        ),
        ("two-thirds-of-participants-short", rc.body(2, 1, "rejected", majority="two_thirds_participants")),
        ("election", rc.election({rc.X: 3, rc.Y: 4}, 4, [rc.Y, rc.X], [], "adopted")),
        ("election-tied", rc.election({rc.X: 4, rc.Y: 3, rc.Z: 3}, 4, [rc.X], [rc.Y, rc.Z], "adopted")),
        (
            "election-absolute",
            rc.election(
                {rc.X: 3}, 4, [], [], "rejected", seats=1, majority="absolute", participants=6, votes_cast=4
            ),
        ),
        ("capped", rc.body(3, 0, "adopted", quorum={"count": 8}, quorum_required=5, quorum_capped=True)),
        (
            "capped-short",
            rc.body(
                3,
                0,
                "no_quorum",
                quorum={"count": 8},
                quorum_required=5,
                quorum_capped=True,
                participants=4,
                votes_cast=3,
            ),
        ),
        ("capped-not-above", rc.body(3, 0, "adopted", quorum_capped=True)),
    ]
    return cases


async def test_every_majority_rule_elections_and_the_quorum_cap_recount_as_python_does(offline: Any) -> None:
    """Issue 13: verify.js recounts exactly as protocol/recount.py — two thirds of participants, elections
    seat by seat, the quorum cap, and every refusal of tests/protocol/test_recount.py, each in a bundle."""
    seen: dict[tuple[str | None, str], int] = {}
    for name, body in recount_cases():
        data = decision_bundle(body)
        try:
            step = await same_verdict(offline, data)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc
        assert step in (None, "outcome"), (name, step)  # only the arithmetic is in question
        verdict = python_verdict(data, ROOT, TRUSTED)
        seen[verdict] = seen.get(verdict, 0) + 1
    # the cases recount and refuse both, elections included (an election is "pass" only when recounted)
    assert seen[(None, "pass")] >= 10 and seen[("outcome", "fail")] >= 40, seen
    assert offline.errors == []


def test_the_unicode_table_is_the_protocols() -> None:
    source = (WEB / "static" / "assigned.js").read_text()
    ranges = " ".join(
        part.strip().strip('"').strip() for part in source.split("const RANGES =")[1].split(";")[0].split("+")
    )
    assert ranges.split() == ASSIGNED.split()


async def test_genuine_bundles_pass_every_step(offline: Any) -> None:
    assert (
        await same_verdict(offline, VALID.encode()) is None
    )  # signed by a delegated key: its history checked
    assert await same_verdict(offline, VALID.encode(), witnesses=()) is None
    vector = (Path(__file__).parents[1] / "vectors" / "bundle.bin").read_bytes()
    assert await same_verdict(offline, vector) is None
    root_signed = make(build_log([FOUND, ("public", {"kind": "decision", "outcome": "adopted"}, COUNCIL)]), 1)
    assert await same_verdict(offline, root_signed.encode()) is None
    assert offline.errors == []


async def test_each_tampered_bundle_fails_at_the_step_python_names(offline: Any) -> None:
    data = VALID.encode()
    value = codec.decode(data)
    cases: dict[str, tuple[bytes, PublicKey, Witnesses]] = {
        "encoding": (data + b"\x00", ROOT, TRUSTED),
        "log": (data, OTHER_COUNCIL.public, TRUSTED),
        "body-hash": (data.replace(b"adopted", b"refused"), ROOT, TRUSTED),
        "kind": (make(LOG, 1).encode(), ROOT, TRUSTED),
        "checkpoint-signature": (
            make(LOG, 3, [1], note=checkpoint_note(LOG, signer=ATTACKER)[1]).encode(),
            ROOT,
            TRUSTED,
        ),
        "origin": (
            make(LOG, 3, [1], note=checkpoint_note(LOG, OTHER_COUNCIL, OTHER_COUNCIL)[1]).encode(),
            ROOT,
            TRUSTED,
        ),
        "unknown-key": (edited(lambda v: v.update(keys=[])), ROOT, TRUSTED),
        "entry-signature": (edited(lambda v: v["entry"].update(signature=bytes(64))), ROOT, TRUSTED),
        "inclusion": (edited(lambda v: v.update(proof=[bytes(32), *v["proof"][1:]])), ROOT, TRUSTED),
        "founding": (make(LOG, 3, [1], founding_seq=1).encode(), ROOT, TRUSTED),
        "cosignatures": (data, ROOT, [*TRUSTED, ("shora-witness/stranger", ATTACKER.public)]),
        "outcome": (wrong_outcome_bundle(), ROOT, TRUSTED),
    }
    # a cosignature line by a trusted witness that does not verify
    lines = value["checkpoint"].split("\n")
    *_, witness_line, _ = lines
    name, sig = witness_line[2:].split(" ")
    raw = base64.b64decode(sig)
    broken = base64.b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).decode()  # its Ed25519 signature, one bit off
    cases["cosignatures (a bad line)"] = (
        edited(lambda v: v.update(checkpoint=v["checkpoint"].replace(sig, broken))),
        ROOT,
        TRUSTED,
    )
    # the same signature with S + L: the arithmetic holds, but libsodium and protocol/keys.py refuse it
    order = 2**252 + 27742317777372353535851937790883648493
    signature = value["entry"]["signature"]
    s_plus_l = (int.from_bytes(signature[32:], "little") + order).to_bytes(32, "little")
    cases["entry-signature (S + L)"] = (
        edited(lambda v: v["entry"].update(signature=signature[:32] + s_plus_l)),
        ROOT,
        TRUSTED,
    )
    for name, (bundle, key, witnesses) in cases.items():
        assert await same_verdict(offline, bundle, key, witnesses) == name.split(" ")[0], name
    assert offline.errors == []


async def test_random_mutations_fail_at_the_same_step_in_both(offline: Any) -> None:
    data = VALID.encode()
    rng = random.Random(15)
    for at in sorted(rng.sample(range(len(data)), 120)):
        await same_verdict(offline, flip(data, at))


async def test_cosignatures_counted_as_python_counts_them(offline: Any) -> None:
    checkpoint, _ = checkpoint_note(LOG)
    bare = note_with(checkpoint)
    (name_a, witness_a), _ = WITNESSES
    one = add_signatures(bare, [cosign(witness_a, name_a, checkpoint, 1_700_000_300)])
    twice = add_signatures(one, [cosign(witness_a, name_a, checkpoint, 1_700_000_999)])
    for note in (bare, one, twice, parse_note(twice).format()):
        bundle = make(LOG, 3, [1], note=note).encode()
        for witnesses in ((), TRUSTED[:1], TRUSTED, [TRUSTED[0], ("shora-witness/alias", witness_a.public)]):
            await same_verdict(offline, bundle, ROOT, witnesses)


async def test_offline_page_on_bundle_files(offline: Any, tmp_path: Path) -> None:
    """Saved to disk: no node to ask, the bundle is a file chosen in the form."""
    cases = {
        "genuine": (VALID.encode(), None),
        "tampered": (VALID.encode().replace(b"adopted", b"refused"), "body-hash"),
        "recount": (wrong_outcome_bundle(), "outcome"),
    }
    await offline.fill("#council-key", codec.b64u(ROOT.raw))
    await offline.fill("#witnesses", "")
    for name, (data, failing) in cases.items():
        path = tmp_path / f"{name}.bin"
        path.write_bytes(data)
        await offline.evaluate("delete document.body.dataset.verified")
        await offline.set_input_files("#bundle-file", str(path))
        await offline.wait_for_selector("body[data-verified]")
        assert await offline.get_attribute("body", "data-failed") == (failing or "")
        steps = offline.locator("#steps li")
        assert await steps.count() == 12
        if failing is None:
            assert await offline.locator("#steps li.fail").count() == 0
            assert "همهٔ گام‌ها درست است" in await offline.text_content("#summary")
        else:
            assert await offline.locator("#steps li.fail").get_attribute("data-step") == failing
        await offline.screenshot(path=screenshot_path(f"decision-offline-{name}"), full_page=True)
    # a key that is not a key is refused before anything is checked
    await offline.fill("#council-key", "not a key!")
    await offline.click("#run")
    assert "base64url" in await offline.text_content("#error")
    # saved again by the browser, verdict and all: opened later, it shows no verdict it did not just reach
    saved = tmp_path / "saved" / "resaved.html"
    saved.write_text("<!doctype html>" + await offline.evaluate("document.documentElement.outerHTML"))
    await offline.goto(saved.as_uri())
    await offline.wait_for_selector("body[data-ready]")
    assert await offline.locator("#steps li").count() == 0 and await offline.text_content("#summary") == ""
    assert await offline.get_attribute("body", "data-verified") is None
    await offline.click("#run")  # nothing to verify yet: said so
    assert await offline.text_content("#error") == "یک فایل بستهٔ تصمیم برگزینید."
    assert offline.errors == []


async def test_the_decision_page_served_by_a_node(start_node: NodeFactory, abrowser: Any) -> None:
    c = await council(start_node)
    rally = c.decisions["Hold a rally"]["decision_id"]
    page = await abrowser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    await page.goto(f"{c.node.url}/decision?id={rally}")
    await page.wait_for_selector("body[data-verified]")
    assert await page.get_attribute("body", "data-failed") == ""
    assert await page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
        "fa",
        "rtl",
    ]
    statuses = await page.locator("#steps li").evaluate_all(
        "els => els.map(e => [e.dataset.step, e.className])"
    )
    assert all(status == "pass" for _, status in statuses), statuses
    assert await page.input_value("#council-key") == codec.b64u(c.node.config.node_id)
    assert "Hold a rally" in await page.text_content("#decision")
    assert "موافق ۲" in await page.text_content("#decision")
    await page.screenshot(path=screenshot_path("decision-fa"), full_page=True)
    await page.click("#lang")
    assert await page.evaluate("document.documentElement.dir") == "ltr"
    assert await page.text_content("#summary") == "Every step holds."
    await page.screenshot(path=screenshot_path("decision-en"), full_page=True)

    # from the council page's board, the election behind a mandate: verified, and recounted seat by seat (its
    # method is declared, so verify.js recounts it as protocol/recount.py does)
    await page.goto(f"{c.node.url}/")
    await page.wait_for_selector("body[data-ready]")
    await page.locator("#board-list a").first.click()
    await page.wait_for_selector("body[data-verified]")
    assert await page.get_attribute("body", "data-failed") == ""
    assert await page.get_attribute("#steps li[data-step=outcome]", "class") == "pass"
    assert "Elect the board" in await page.text_content("#decision")

    # the motion with markup and directional overrides: shown as text, the overrides as code points
    hostile = c.decisions[HOSTILE]["decision_id"]
    await page.goto(f"{c.node.url}/decision?id={hostile}")
    await page.wait_for_selector("body[data-verified]")
    assert await page.locator("#injected").count() == 0
    assert await page.evaluate("document.body.dataset.owned") is None
    assert await page.locator("#decision .control").all_text_contents() == [
        "U+202E",
        "U+202C",
        "U+2067",
        "U+2069",
    ]

    # an unknown decision: the node's refusal, said on the page
    await page.goto(f"{c.node.url}/decision?id={codec.b64u(bytes(32))}")
    await page.wait_for_selector("body[data-verified]")
    assert "not-found" in await page.text_content("#error")
    assert errors == []


async def test_the_decision_page_at_360_pixels(start_node: NodeFactory, abrowser: Any) -> None:
    c = await council(start_node)
    rally = c.decisions["Hold a rally"]["decision_id"]
    context = await abrowser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = await context.new_page()
    await page.goto(f"{c.node.url}/decision?id={rally}")
    await page.wait_for_selector("body[data-verified]")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    for field in ("bundle-file", "council-key", "witnesses"):  # every field has its label
        assert await page.locator(f"label[for={field}]").text_content()
    order = []  # the keyboard reaches everything, in reading order
    for _ in range(6):
        await page.keyboard.press("Tab")
        order.append(await page.evaluate("document.activeElement.id"))
    assert order == ["lang", "bundle-file", "council-key", "witnesses", "run", "back"]
    assert await page.evaluate(LOW_CONTRAST, 4.5) == []
    await page.screenshot(path=screenshot_path("decision-360"), full_page=True)
    async with aiohttp.ClientSession() as session, session.get(f"{c.node.url}/decision") as response:
        assert response.status == 200 and "Content-Security-Policy" in response.headers


def bundles_of_the_protocol_tests(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, PublicKey]]:
    """Every bundle tests/protocol/test_bundle.py's plain tests verify or refuse (key delegation, revocations,
    founding entries, bounds…), caught by wrapping its ``verify`` and ``fails`` while they run."""
    from tests.protocol import test_bundle

    seen: list[tuple[bytes, PublicKey]] = []
    real_verify, real_fails = test_bundle.verify, test_bundle.fails

    def verify(
        data: bytes, council: PublicKey = ROOT, min_cosignatures: int = 2, backend: str | None = None
    ) -> Any:
        if min_cosignatures == len(TRUSTED):  # the page asks every named witness, as these do by default
            seen.append((data, council))
        return real_verify(data, council, min_cosignatures, backend)

    def fails(
        step: str, check: str, data: bytes, council: PublicKey = ROOT, min_cosignatures: int = 2
    ) -> None:
        if min_cosignatures == len(TRUSTED):
            seen.append((data, council))
        real_fails(step, check, data, council, min_cosignatures)

    monkeypatch.setattr(test_bundle, "verify", verify)
    monkeypatch.setattr(test_bundle, "fails", fails)
    for name, test in sorted(vars(test_bundle).items()):
        if not (name.startswith("test_") and inspect.isfunction(test)) or hasattr(test, "hypothesis"):
            continue
        if not inspect.signature(test).parameters:
            test()
    return seen


async def test_every_bundle_of_the_protocol_tests(offline: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = bundles_of_the_protocol_tests(monkeypatch)
    assert len(cases) > 40
    steps = set()
    for data, key in cases:
        steps.add(await same_verdict(offline, data, key))
    assert {"unknown-key", "founding", "inclusion", "encoding", None} <= steps
    assert offline.errors == []
