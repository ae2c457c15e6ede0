"""Signed requests (protocol/httpsig.py): the RFC 9421 test vector, round trips, and one test per attack."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import http_sf
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, MappingKeyResolver
from http_message_signatures.algorithms import ED25519
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import httpsig
from protocol.codec import b64u
from protocol.errors import DecodeError, ProtocolError, VerificationError
from protocol.keys import BACKENDS, PublicKey, SigningKey

SEED = bytes(range(32))
SIGNER = SigningKey.from_seed(SEED)
OTHER = SigningKey.from_seed(bytes(range(1, 33)))
NODE = SigningKey.from_seed(b"\x07" * 32).public.raw
OTHER_NODE = SigningKey.from_seed(b"\x08" * 32).public.raw
NOW = 1_700_000_000
NONCE = b64u(b"\x11" * 16)
REQUEST = {"method": "POST", "authority": "node-a.example:8443", "path": "/v1/gossip", "query": "since=4"}
BODY = b'{"entries": []}'


def sign(key: SigningKey = SIGNER, **changes: object) -> dict[str, str]:
    args: dict[str, object] = {**REQUEST, "body": BODY, "recipient": NODE, "created": NOW, "nonce": NONCE}
    args.update(changes)
    return httpsig.sign_request(key, **args)  # type: ignore[arg-type]  # test helper: keywords vary


def known(keyid: bytes) -> PublicKey | None:
    return SIGNER.public if keyid == SIGNER.public.raw else None


def verify(headers: dict[str, str], *, seen: set[tuple[bytes, str]] | None = None, **changes: object):
    store = set() if seen is None else seen

    def check_nonce(keyid: bytes, nonce: str, created: int) -> bool:
        if (keyid, nonce) in store:
            return False
        store.add((keyid, nonce))
        return True

    args: dict[str, object] = {**REQUEST, "headers": headers, "body": BODY, "recipient": NODE, "now": NOW}
    args.update({"lookup_key": known, "check_nonce": check_nonce})
    args.update(changes)
    return httpsig.verify_request(**args)  # type: ignore[arg-type]  # test helper: keywords vary


def refused(step: str, headers: dict[str, str], **changes: object) -> None:
    with pytest.raises(VerificationError) as caught:
        verify(headers, **changes)
    assert caught.value.step == step, caught.value


# --- RFC 9421 Appendix B.2.6 ---------------------------------------------------------------------------

RFC_PRIVATE = "MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF"
RFC_PUBLIC = "MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs="
B26_INPUT = (
    'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)
B26_SIGNATURE = (
    "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:"
)
B26_BASE = (
    '"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
    '"@method": POST\n'
    '"@path": /foo\n'
    '"@authority": example.com\n'
    '"content-type": application/json\n'
    '"content-length": 18\n'
    '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)


def _pem(kind: str, body: str) -> bytes:
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n".encode()


def _b26_base() -> bytes:
    # The B.2 request: POST /foo?param=Value&Pet=dog to example.com with an 18-byte JSON body.
    components = [
        ("date", "Tue, 20 Apr 2021 02:07:55 GMT"),
        ("@method", "POST"),
        ("@path", "/foo"),
        ("@authority", "example.com"),
        ("content-type", "application/json"),
        ("content-length", "18"),
    ]
    base, params = httpsig._signature_base(
        components, [("created", 1618884473), ("keyid", "test-key-ed25519")]
    )
    assert f"sig-b26={params}" == B26_INPUT
    return base


def test_rfc9421_b26_signature_base_and_signature() -> None:
    base = _b26_base()
    assert base == B26_BASE.encode()
    private = load_pem_private_key(_pem("PRIVATE KEY", RFC_PRIVATE), password=None)
    public = load_pem_public_key(_pem("PUBLIC KEY", RFC_PUBLIC))
    assert isinstance(private, Ed25519PrivateKey) and isinstance(public, Ed25519PublicKey)
    signature = private.sign(base)  # Ed25519 is deterministic: the RFC's bytes exactly
    assert f"sig-b26=:{base64.b64encode(signature).decode()}:" == B26_SIGNATURE
    public.verify(signature, base)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_rfc9421_b26_parses_and_verifies_on_every_backend(backend: str) -> None:
    (covered, params) = httpsig._parse_dictionary(B26_INPUT)["sig-b26"]
    assert isinstance(covered, list)
    (signature, _) = httpsig._parse_dictionary(B26_SIGNATURE)["sig-b26"]
    assert isinstance(signature, bytes)
    values = {
        "date": "Tue, 20 Apr 2021 02:07:55 GMT",
        "@method": "POST",
        "@path": "/foo",
        "@authority": "example.com",
        "content-type": "application/json",
        "content-length": "18",
    }
    base, _ = httpsig._signature_base([(name, values[name]) for name, _ in covered], list(params.items()))
    public = load_pem_public_key(_pem("PUBLIC KEY", RFC_PUBLIC))
    assert isinstance(public, Ed25519PublicKey)
    assert BACKENDS[backend](public.public_bytes_raw(), signature, base)
    assert not BACKENDS[backend](public.public_bytes_raw(), signature, base.replace(b"POST", b"PUT"))


# --- round trips ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_sign_then_verify_on_every_backend(backend: str) -> None:
    verified = verify(sign(), backend=backend)
    assert verified == httpsig.VerifiedRequest(SIGNER.public, SIGNER.public.raw, NOW, NONCE)


def test_headers_are_well_formed_structured_fields() -> None:
    headers = sign()
    assert set(headers) == {"Signature-Input", "Signature", "Content-Digest", "Shora-Recipient"}
    inputs = http_sf.parse(headers["Signature-Input"].encode(), tltype="dictionary")
    assert isinstance(inputs, dict)
    covered, params = inputs["shora"]
    assert [name for name, _ in covered] == list(httpsig.COMPONENTS)
    assert params == {
        "created": NOW,
        "nonce": NONCE,
        "keyid": b64u(SIGNER.public.raw),
        "alg": "ed25519",
        "tag": "shora/v1/request",
    }
    digest = http_sf.parse(headers["Content-Digest"].encode(), tltype="dictionary")
    assert isinstance(digest, dict)
    assert digest["sha-256"][0] == hashlib.sha256(BODY).digest()
    assert headers["Shora-Recipient"] == b64u(NODE)


def test_interoperates_with_http_message_signatures() -> None:
    # An independent RFC 9421 implementation accepts what we sign. It reads the clock, so sign "now".
    now = int(time.time())
    headers = sign(created=now)

    @dataclass
    class Request:
        method: str
        url: str
        headers: dict[str, str]

    url = f"https://{REQUEST['authority']}{REQUEST['path']}?{REQUEST['query']}"
    verifier = HTTPMessageVerifier(
        signature_algorithm=ED25519,
        key_resolver=MappingKeyResolver(
            public_keys={b64u(SIGNER.public.raw): Ed25519PublicKey.from_public_bytes(SIGNER.public.raw)},
            private_keys={},
        ),
    )
    results = verifier.verify(
        Request("POST", url, headers),
        expect_tag="shora/v1/request",
        require_components=httpsig.COMPONENTS,
        body=BODY,
    )
    assert [result.nonce for result in results] == [NONCE]
    verify(headers, now=now)

    # And the other way: its signature (parameters in its own order) verifies here.
    request = Request("POST", url, {"Shora-Recipient": b64u(NODE)})
    HTTPMessageSigner(
        signature_algorithm=ED25519,
        key_resolver=MappingKeyResolver(
            public_keys={}, private_keys={b64u(SIGNER.public.raw): Ed25519PrivateKey.from_private_bytes(SEED)}
        ),
    ).sign(
        request,
        key_id=b64u(SIGNER.public.raw),
        created=datetime.fromtimestamp(NOW, tz=UTC),
        nonce=NONCE,
        label="shora",
        tag="shora/v1/request",
        covered_component_ids=httpsig.COMPONENTS,
        body=BODY,
    )
    signature_input = request.headers["Signature-Input"]
    assert signature_input.index("keyid") < signature_input.index("nonce")
    assert verify(request.headers).nonce == NONCE


def test_header_names_are_case_insensitive_and_authority_host_lowercased() -> None:
    headers = {name.lower(): value for name, value in sign(authority="Node-A.Example:8443").items()}
    verify(headers, authority="node-a.example:8443")


def test_empty_query_is_a_lone_question_mark() -> None:
    base, _ = httpsig._signature_base(httpsig._request_components("GET", "a", "/", "", "d", "r"), [])
    assert b'\n"@query": ?\n' in base
    verify(sign(method="GET", query="", body=b""), method="GET", query="", body=b"")


def test_nonce_is_recorded_only_after_the_signature_holds() -> None:
    seen: set[tuple[bytes, str]] = set()
    with pytest.raises(
        VerificationError, match=r"^[a-z-]+: not a valid request signature by this key"
    ) as caught:
        verify(sign(), seen=seen, method="PUT")
    assert caught.value.step == "signature"
    assert not seen
    verify(sign(), seen=seen)
    assert seen == {(SIGNER.public.raw, NONCE)}


def test_created_at_the_edge_of_the_window_is_accepted() -> None:
    verify(sign(), now=NOW + 120)
    verify(sign(), now=NOW - 120)


def test_sign_refuses_short_nonce_and_bad_path() -> None:
    with pytest.raises(DecodeError, match=r"^a nonce is 16 to 64 random bytes"):
        sign(nonce=b64u(b"\x00" * 15))
    with pytest.raises(DecodeError, match=r"^path 'no-slash' is not valid in a request line"):
        sign(path="no-slash")
    with pytest.raises(DecodeError, match=r"^a nonce is 16 to 64 random bytes"):
        httpsig.encode_nonce(b"\x00" * 8)
    assert httpsig.encode_nonce(b"\x00" * 16) == b64u(b"\x00" * 16)


# --- one test per refusal ------------------------------------------------------------------------------


def test_replayed_request() -> None:
    headers, seen = sign(), set[tuple[bytes, str]]()
    verify(headers, seen=seen)
    refused("replay", headers, seen=seen)


def test_request_for_another_node() -> None:
    refused("recipient", sign(recipient=OTHER_NODE))


def test_stale_created() -> None:
    refused("created", sign(), now=NOW + 121)


def test_future_created() -> None:
    refused("created", sign(), now=NOW - 121)


def test_unknown_key() -> None:
    refused("unknown-key", sign(OTHER))


def test_body_tampered() -> None:
    refused("content-digest", sign(), body=BODY + b" ")


def test_digest_header_swapped_with_body() -> None:
    forged = b'{"entries": ["forged"]}'
    headers = {**sign(), "Content-Digest": sign(body=forged)["Content-Digest"]}
    refused("signature", headers, body=forged)


def test_digest_without_sha256() -> None:
    sha512 = base64.b64encode(hashlib.sha512(BODY).digest()).decode()
    refused("content-digest", {**sign(), "Content-Digest": f"sha-512=:{sha512}:"})
    headers = sign()
    del headers["Content-Digest"]
    refused("content-digest", headers)


def test_method_changed() -> None:
    refused("signature", sign(), method="DELETE")


def test_path_changed() -> None:
    refused("signature", sign(), path="/v1/admin")


def test_query_changed() -> None:
    refused("signature", sign(), query="")


def test_authority_changed() -> None:
    refused("signature", sign(), authority="evil.example")


def test_signature_by_other_key() -> None:
    forged = sign(OTHER)
    forged["Signature-Input"] = forged["Signature-Input"].replace(
        b64u(OTHER.public.raw), b64u(SIGNER.public.raw)
    )
    refused("signature", forged)


@pytest.mark.parametrize("component", httpsig.COMPONENTS)
def test_missing_component(component: str) -> None:
    headers = sign()
    headers["Signature-Input"] = headers["Signature-Input"].replace(f'"{component}"', "").replace("( ", "(")
    refused("signature-input", headers)


@pytest.mark.parametrize(
    "old, new",
    [
        ('tag="shora/v1/request"', 'tag="shora/v1/other"'),
        (';tag="shora/v1/request"', ""),
        ('alg="ed25519"', 'alg="rsa-pss-sha512"'),
        ("shora=", "sig1="),
        (f"nonce={NONCE!r}".replace("'", '"'), 'nonce="c2hvcnQ"'),
        (";created=", ";expires=1;created="),
    ],
)
def test_wrong_tag(old: str, new: str) -> None:
    headers = sign()
    assert old in headers["Signature-Input"]
    headers["Signature-Input"] = headers["Signature-Input"].replace(old, new)
    refused("signature-input", headers)


def test_ambiguous_or_oversized_headers() -> None:
    headers = sign()
    refused("signature-input", {**headers, "signature": headers["Signature"]})
    refused("signature-input", {**headers, "Signature-Input": headers["Signature-Input"] + " " * 5000})
    refused("signature-input", {**headers, "Signature": headers["Signature"] + ", other=:AAAA:"})
    refused("signature-input", {k: v for k, v in headers.items() if k != "Shora-Recipient"})


_HEADER_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=300) | st.sampled_from(
    ['shora=("@method");created=1', "sha-256=:AAAA:", "shora=:AAAA:", "(", ":", '"', "shora=(", ""]
)


@settings(max_examples=300, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(["Signature-Input", "Signature", "Content-Digest", "Shora-Recipient", "X"]),
        _HEADER_TEXT,
    ),
    mutate=st.tuples(st.integers(0, 400), st.text(max_size=3)),
)
def test_garbage_headers(fields: dict[str, str], mutate: tuple[int, str]) -> None:
    # Random text alone, and valid headers with a few characters spliced in: only protocol errors come out.
    for headers in (fields, _splice(sign(), mutate)):
        with contextlib.suppress(ProtocolError):
            verify(headers)


def _splice(headers: dict[str, str], mutate: tuple[int, str]) -> dict[str, str]:
    at, text = mutate
    name = sorted(headers)[at % len(headers)]
    value = headers[name]
    position = at % (len(value) + 1)
    return {**headers, name: value[:position] + text + value[position + len(text) :]}
