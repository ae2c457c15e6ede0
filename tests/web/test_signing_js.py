"""node/web/static/signing.js and keystore.js against protocol/: what the browser signs, Python verifies.

For random statements of every act and random requests, signed in chromium with a key made by keystore.js
(non-extractable, kept in IndexedDB and read back): the statement bytes are those of
``protocol.member.Statement.encode``, ``verify_statement`` accepts the signature, and ``verify_request``
accepts the request; a mutated statement, signature or request is refused at the step that names it.
"""

from __future__ import annotations

import base64
import random
from typing import Any

import pytest

from protocol import codec
from protocol.errors import DecodeError, VerificationError
from protocol.httpsig import verify_request
from protocol.keys import PublicKey
from protocol.member import ACTS, Statement, verify_statement
from tests.web.conftest import STATIC

SCRIPTS = ("assigned.js", "msgpack.js", "verify.js", "keystore.js", "signing.js")
TEXTS = (
    "yes",
    "no",
    "abstain",
    "",
    "انتخابات شورا",
    "Rally <b>now</b> \u202eevil\u202c",
    "\u00e9t\u00e9 \U0001f600",
)

# JSON cannot carry bytes: {"bytes": [...]} stands for a Uint8Array on the way into the page
REVIVE = """const revive = (v) => v && v.bytes ? Uint8Array.from(v.bytes)
    : Array.isArray(v) ? v.map(revive)
    : v && typeof v === "object"
    ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)])) : v;"""


def wire(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"bytes": list(value)}
    if isinstance(value, list):
        return [wire(v) for v in value]
    return value


@pytest.fixture
def signing_page(static_page: Any) -> Any:
    for name in SCRIPTS:
        static_page.add_script_tag(content=(STATIC / name).read_text(encoding="utf-8"))
    # one key for the module's samples: made non-extractable, stored in IndexedDB and read back
    static_page.evaluate(
        """async () => {
            const ks = globalThis.shora.keystore;
            const made = await ks.generate();
            await ks.save("member", {...made, member_id: "m"});
            globalThis.key = await ks.load("member");
        }"""
    )
    return static_page


def public_key(page: Any) -> bytes:
    return bytes(page.evaluate("Array.from(globalThis.key.publicRaw)"))


def test_the_key_is_non_extractable_and_kept(signing_page: Any) -> None:
    found = signing_page.evaluate(
        """async () => {
            const ks = globalThis.shora.keystore;
            const k = await ks.load("member");
            let exported = "refused";
            try { await crypto.subtle.exportKey("pkcs8", k.privateKey); exported = "exported"; } catch (e) {}
            const missing = await ks.load("nobody");
            await ks.remove("member");
            return [k.privateKey.extractable, k.privateKey.type, k.member_id, exported, missing,
                    await ks.load("member"), k.publicRaw.length];
        }"""
    )
    assert found == [False, "private", "m", "refused", None, None, 32]


def random_statement(rng: random.Random) -> tuple[str, bytes, dict[str, Any]]:
    act = rng.choice(sorted(ACTS))
    sizes = {"member": 16, "charter_hash": 32, "key": 32, "assembly": 32, "motion": 32, "decision": 32}
    fields: dict[str, Any] = {}
    for name in ACTS[act]:
        if name in sizes:
            fields[name] = rng.randbytes(sizes[name])
        elif name == "choice":
            fields[name] = rng.choice([None, *TEXTS[:3]])
        elif name == "approvals":
            fields[name] = [rng.randbytes(16) for _ in range(rng.randrange(4))]
        elif name == "due_ms":
            fields[name] = rng.randrange(2**53)
        else:
            fields[name] = rng.choice(TEXTS[3:])
    return act, rng.randbytes(32), fields


def js_statements(page: Any, samples: list[tuple[str, bytes, dict[str, Any]]]) -> list[Any]:
    return page.evaluate(  # type: ignore[no-any-return]
        "async (samples) => { "
        + REVIVE
        + """
        const s = globalThis.shora.signing;
        const out = [];
        for (const [act, council, fields] of samples) {
            const bytes = s.statement(act, revive(council), revive(fields));
            const body = await s.signed(globalThis.key.privateKey, act, revive(council), revive(fields));
            const sig = await s.signStatement(globalThis.key.privateKey, bytes);
            out.push([Array.from(bytes), Array.from(sig), body]);
        }
        return out; }""",
        [[act, wire(council), {k: wire(v) for k, v in fields.items()}] for act, council, fields in samples],
    )


@pytest.mark.parametrize("seed", range(3))
def test_statements_signed_in_the_browser_verify_in_python(signing_page: Any, seed: int) -> None:
    rng = random.Random(seed)
    key = public_key(signing_page)
    samples = [random_statement(rng) for _ in range(12)]
    for (act, council, fields), (data, sig, body) in zip(
        samples, js_statements(signing_page, samples), strict=True
    ):
        statement = Statement(act, council, fields)
        assert bytes(data) == statement.encode() == codec.unb64u(body["statement"])
        assert Statement.decode(bytes(data)) == statement
        verify_statement(key, statement, bytes(sig))
        verify_statement(key, statement, codec.unb64u(body["sig"]))
        # a signature is over these bytes only: another bit of the signature, or another act, is refused
        flipped = bytearray(sig)
        flipped[rng.randrange(64)] ^= 1 << rng.randrange(8)
        with pytest.raises(VerificationError) as refused:
            verify_statement(key, statement, bytes(flipped))
        assert refused.value.step == "member-signature"
        other = Statement("leave", council, {"member": fields.get("member", bytes(16))})
        if other != statement:
            with pytest.raises(VerificationError, match="member-signature"):
                verify_statement(key, other, bytes(sig))


def test_ill_formed_statements_are_refused_in_the_browser(signing_page: Any) -> None:
    refused = signing_page.evaluate(
        """() => {
            const s = globalThis.shora.signing;
            const id = (n) => new Uint8Array(n);
            const vote = {assembly: id(32), motion: id(32), member: id(16)};
            const cases = [
                ["vote", id(32), {member: id(16)}],
                ["leave", id(31), {member: id(16)}],
                ["leave", id(32), {member: id(32)}],
                ["leave", id(32), {member: id(16), extra: 1}],
                ["checkin", id(32), {member: id(16)}],
                ["ballot", id(32), {...vote, choice: 1, approvals: []}],
                ["ballot", id(32), {...vote, choice: null, approvals: [id(8)]}],
                ["requisition", id(32), {member: id(16), text: "e\\u0301"}],
            ];
            return cases.map(([act, c, f]) => {
                try { s.statement(act, c, f); return "made"; } catch (e) { return "refused"; }
            });
        }"""
    )
    assert refused == ["refused"] * 8
    # and Python refuses each of them too (the NFC one when decoding the text)
    with pytest.raises(DecodeError):
        Statement("vote", bytes(32), {"member": bytes(16)})
    with pytest.raises(DecodeError):
        codec.encode({"text": "e\u0301"})


def random_request(rng: random.Random) -> dict[str, Any]:
    path = "/v1/member/" + rng.choice(
        ["me", "checkin", "motions/" + codec.b64u(rng.randbytes(32)) + "/ballot"]
    )
    query = rng.choice(["", f"after_seq={rng.randrange(-1, 500)}&limit={rng.randrange(1, 100)}"])
    return {
        "method": rng.choice(["GET", "POST"]),
        "authority": rng.choice(["127.0.0.1:" + str(rng.randrange(1024, 65536)), "Council.Example"]),
        "path": path,
        "query": query,
        "body": rng.randbytes(rng.randrange(0, 200)),
        "recipient": rng.randbytes(32),
        "created": 1_700_000_000 + rng.randrange(10**6),
        "nonce": codec.b64u(rng.randbytes(rng.randrange(16, 65))),
    }


def js_requests(page: Any, samples: list[dict[str, Any]]) -> list[dict[str, str]]:
    return page.evaluate(  # type: ignore[no-any-return]
        "(samples) => { "
        + REVIVE
        + """
        return Promise.all(samples.map((r) => globalThis.shora.signing.requestHeaders(
            globalThis.key.privateKey, globalThis.key.publicRaw, revive(r)))); }""",
        [{k: wire(v) for k, v in r.items()} for r in samples],
    )


def verified(key: bytes, r: dict[str, Any], headers: dict[str, str], **changed: Any) -> str:
    """The step at which ``verify_request`` refuses the request (with ``changed`` parts), or "ok"."""
    parts = {**r, **changed}
    seen: set[str] = set()
    try:
        verify_request(
            method=parts["method"],
            authority=parts["authority"],
            path=parts["path"],
            query=parts["query"],
            headers=parts.get("sent", headers),
            body=parts["body"],
            recipient=parts.get("me", r["recipient"]),
            now=r["created"] + 5,
            lookup_key=lambda k: PublicKey(key) if k == key else None,
            check_nonce=lambda k, n, c: not (n in seen or seen.add(n)),  # type: ignore[func-returns-value]
        )
    except VerificationError as exc:
        return exc.step
    return "ok"


@pytest.mark.parametrize("seed", range(3))
def test_requests_signed_in_the_browser_verify_in_python(signing_page: Any, seed: int) -> None:
    rng = random.Random(100 + seed)
    key = public_key(signing_page)
    samples = [random_request(rng) for _ in range(10)]
    for r, headers in zip(samples, js_requests(signing_page, samples), strict=True):
        assert set(headers) == {"Content-Digest", "Shora-Recipient", "Signature-Input", "Signature"}
        assert verified(key, r, headers) == "ok"
        assert verified(key, r, headers, authority=r["authority"].lower()) == "ok"  # the host is lowercased
        assert verified(key, r, headers, body=r["body"] + b"x") == "content-digest"
        assert verified(key, r, headers, path=r["path"] + "x") == "signature"
        assert verified(key, r, headers, query=r["query"] + "&x=1") == "signature"
        assert verified(key, r, headers, method="PUT") == "signature"
        assert verified(key, r, headers, me=rng.randbytes(32)) == "recipient"
        sig = headers["Signature"]
        raw = bytearray(base64.b64decode(sig[len("shora=:") : -1]))
        raw[rng.randrange(64)] ^= 1 << rng.randrange(8)
        mutated = {**headers, "Signature": "shora=:" + base64.b64encode(raw).decode() + ":"}
        assert verified(key, r, headers, sent=mutated) == "signature"
        stranger = {
            **headers,
            "Signature-Input": headers["Signature-Input"].replace(codec.b64u(key), "A" * 43),
        }
        assert verified(key, r, headers, sent=stranger) == "unknown-key"


def test_created_and_nonce_default_to_now_and_fresh(signing_page: Any) -> None:
    headers = signing_page.evaluate(
        """async () => {
            const s = globalThis.shora.signing;
            const r = {method: "GET", authority: "127.0.0.1:1", path: "/v1/member/me", query: "",
                       body: new Uint8Array(0), recipient: new Uint8Array(32)};
            const k = globalThis.key;
            return [await s.requestHeaders(k.privateKey, k.publicRaw, r),
                    await s.requestHeaders(k.privateKey, k.publicRaw, r), Math.floor(Date.now() / 1000)];
        }"""
    )
    first, second, now = headers
    assert first["Signature-Input"] != second["Signature-Input"]  # a fresh nonce each time
    created = int(first["Signature-Input"].split(";created=")[1].split(";")[0])
    assert abs(created - now) <= 120
