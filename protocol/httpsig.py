"""Signed requests: RFC 9421 HTTP Message Signatures with RFC 9530 ``Content-Digest`` (DESIGN.md §3).

A request is signed with ``ed25519`` over a signature base that covers, in this order, ``"@method"``,
``"@authority"``, ``"@path"``, ``"@query"``, ``"content-digest"`` and ``"shora-recipient"`` (the recipient
node's id), with the parameters ``created``, ``nonce``, ``keyid``, ``alg`` and ``tag="shora/v1/request"``.
The tag is what keeps this signature apart from every other kind (``Domain.REQUEST`` checks it), and the
recipient is what keeps a request for one node from being replayed to another.

The module is pure: the caller passes the request's parts, the time, and two callbacks (key lookup and nonce
store); nothing here reads a clock, a socket or a request object. That is why it builds the signature base
and the few RFC 8941 structured fields it needs itself rather than through ``http-message-signatures``,
whose signer and verifier work on request objects and read the clock: the subset needed is small, and
a small strict parser is easier to trust than an adapter around a general one.

``verify_request`` checks, in order, and raises ``VerificationError`` whose ``step`` names the failure:
``signature-input`` (headers missing or malformed, wrong label, components, parameters, ``alg`` or ``tag``),
``unknown-key``, ``created`` (outside ``±window`` of ``now``), ``content-digest``, ``recipient``,
``signature``, and last ``replay`` — the nonce is recorded only once the signature holds, so unsigned
traffic cannot fill the caller's nonce store.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from protocol.codec import b64u, unb64u
from protocol.errors import DecodeError, VerificationError
from protocol.keys import PUBLIC_KEY_SIZE, REQUEST_TAG, Domain, PublicKey, SigningKey

LABEL = "shora"
ALGORITHM = "ed25519"
COMPONENTS = ("@method", "@authority", "@path", "@query", "content-digest", "shora-recipient")
PARAMETERS = ("created", "nonce", "keyid", "alg", "tag")
MAX_HEADER_SIZE = 4096  # characters of one header value, checked before parsing
MIN_NONCE_BYTES = 16  # 128 bits: collisions stay negligible for the life of a key
MAX_NONCE_BYTES = 64
DEFAULT_WINDOW = 120  # seconds either side of now (DESIGN.md §3)
_MAX_SF_INTEGER = 999_999_999_999_999  # RFC 8941 §3.3.1

_HEADERS = {
    "signature-input": "Signature-Input",
    "signature": "Signature",
    "content-digest": "Content-Digest",
    "shora-recipient": "Shora-Recipient",
}


@dataclass(frozen=True, slots=True)
class VerifiedRequest:
    """What a verified request proves: who signed it, when, and under which nonce."""

    public_key: PublicKey
    keyid: bytes
    created: int
    nonce: str


def encode_nonce(random_bytes: bytes) -> str:
    """The nonce text for ``random_bytes`` (at least 16 fresh random bytes, e.g. ``secrets.token_bytes``)."""
    if not MIN_NONCE_BYTES <= len(random_bytes) <= MAX_NONCE_BYTES:
        raise DecodeError(f"a nonce is {MIN_NONCE_BYTES} to {MAX_NONCE_BYTES} random bytes")
    return b64u(random_bytes)


def sign_request(
    key: SigningKey,
    *,
    method: str,
    authority: str,
    path: str,
    query: str,
    body: bytes,
    recipient: bytes,
    created: int,
    nonce: str,
) -> dict[str, str]:
    """The headers that make this request verifiable by ``recipient`` (its 32-byte node id).

    ``path`` and ``query`` are the raw, percent-encoded forms as sent on the wire; ``query`` has no
    leading ``?``. Values that cannot appear in a signature base raise ``DecodeError``.
    """
    if len(recipient) != PUBLIC_KEY_SIZE:
        raise DecodeError(f"a recipient node id is {PUBLIC_KEY_SIZE} bytes")
    _check_nonce_text(nonce)
    _check_created(created)
    digest = _content_digest(body)
    recipient_text = b64u(recipient)
    params: list[tuple[str, int | str]] = [
        ("created", created),
        ("nonce", nonce),
        ("keyid", b64u(key.public.raw)),
        ("alg", ALGORITHM),
        ("tag", REQUEST_TAG),
    ]
    base, signature_params = _signature_base(
        _request_components(method, authority, path, query, digest, recipient_text), params
    )
    signature = key.sign(Domain.REQUEST, base)
    return {
        "Signature-Input": f"{LABEL}={signature_params}",
        "Signature": f"{LABEL}={_sf_bytes(signature)}",
        "Content-Digest": digest,
        "Shora-Recipient": recipient_text,
    }


def signature_input(headers: Mapping[str, str]) -> tuple[bytes, int, str]:
    """``(keyid, created, nonce)`` as the request's signature headers claim them, checked for shape only.

    What a server reads before it reads the body: an unknown key or a stale ``created`` is refused without
    buffering a byte of it. Nothing here is proven until ``verify_request`` checks the signature.
    """
    found = _collect_headers(headers)
    for name in ("signature-input", "signature"):
        if name not in found:
            raise VerificationError("signature-input", f"no {_HEADERS[name]} header")
    signed = _parse_signature_headers(found["signature-input"], found["signature"])
    return signed.keyid, signed.created, signed.nonce


def verify_request(
    *,
    method: str,
    authority: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    recipient: bytes,
    now: int,
    lookup_key: Callable[[bytes], PublicKey | None],
    check_nonce: Callable[[bytes, str, int], bool],
    window: int = DEFAULT_WINDOW,
    backend: str | None = None,
) -> VerifiedRequest:
    """Return what the request proves, or raise ``VerificationError`` naming the check that failed.

    ``recipient`` is this node's id; ``lookup_key`` maps a signer's 32-byte public key to the key if it is
    known; ``check_nonce(keyid, nonce, created)`` records the nonce and returns ``False`` if it was seen.
    """
    found = _collect_headers(headers)
    for name in ("signature-input", "signature"):
        if name not in found:
            raise VerificationError("signature-input", f"no {_HEADERS[name]} header")
    signed = _parse_signature_headers(found["signature-input"], found["signature"])
    keyid, created, nonce = signed.keyid, signed.created, signed.nonce

    public_key = lookup_key(keyid)
    if public_key is None or public_key.raw != keyid:
        raise VerificationError("unknown-key", f"no known key {b64u(keyid)}")

    if abs(created - now) > window:
        raise VerificationError("created", f"created {created} is more than {window}s from now ({now})")

    digest_text = found.get("content-digest")
    if digest_text is None:
        raise VerificationError("content-digest", "no Content-Digest header")
    _check_content_digest(digest_text, body)

    recipient_text = found.get("shora-recipient")
    if recipient_text is None:
        raise VerificationError("signature-input", "no Shora-Recipient header")
    try:
        named = unb64u(recipient_text, PUBLIC_KEY_SIZE)
    except DecodeError as exc:
        raise VerificationError("signature-input", "Shora-Recipient is not a base64url node id") from exc
    if not hmac.compare_digest(named, recipient):
        raise VerificationError("recipient", f"request is for node {recipient_text}, not this one")

    try:
        components = _request_components(method, authority, path, query, digest_text, recipient_text)
        base, _ = _signature_base(components, signed.params)
    except DecodeError as exc:
        raise VerificationError("signature", f"request cannot have been signed: {exc}") from exc
    public_key.verify(Domain.REQUEST, base, signed.signature, backend=backend)

    if not check_nonce(keyid, nonce, created):
        raise VerificationError("replay", "nonce already seen for this key")
    return VerifiedRequest(public_key=public_key, keyid=keyid, created=created, nonce=nonce)


# --- the request's components -------------------------------------------------------------------------

_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token
_AUTHORITY = re.compile(r"[A-Za-z0-9._~%!$&'()*+,;=:\[\]-]+")  # RFC 3986 host[:port], no userinfo
_PATH = re.compile(r"/[\x21-\x22\x24-\x3e\x40-\x7e]*")  # printable ASCII except space, "#" and "?"
_QUERY = re.compile(r"[\x21-\x22\x24-\x7e]*")  # printable ASCII except space and "#"


def _request_components(
    method: str, authority: str, path: str, query: str, digest: str, recipient: str
) -> list[tuple[str, str]]:
    """The covered components, in ``COMPONENTS`` order, as RFC 9421 §2.2 derives them."""
    for name, value, pattern in (
        ("method", method, _METHOD),
        ("authority", authority, _AUTHORITY),
        ("path", path, _PATH),
        ("query", query, _QUERY),
    ):
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise DecodeError(f"{name} {value!r} is not valid in a request line")
    values = (method, authority.lower(), path, "?" + query, digest, recipient)  # §2.2.3, §2.2.7
    return list(zip(COMPONENTS, values, strict=True))


def _content_digest(body: bytes) -> str:
    return "sha-256=" + _sf_bytes(hashlib.sha256(body).digest())


def _check_content_digest(text: str, body: bytes) -> None:
    """RFC 9530: a sha-256 member is required; every member whose algorithm we know must match."""
    try:
        members = _parse_dictionary(text)
    except DecodeError as exc:
        raise VerificationError("content-digest", f"malformed Content-Digest: {exc}") from exc
    if "sha-256" not in members:
        raise VerificationError("content-digest", "Content-Digest has no sha-256 member")
    for algorithm, (value, params) in members.items():
        hasher = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}.get(algorithm)
        if hasher is None:
            continue  # RFC 9530 §2: unknown algorithms are ignored
        if not isinstance(value, bytes) or params:
            raise VerificationError("content-digest", f"{algorithm} is not a byte sequence")
        if not hmac.compare_digest(value, hasher(body).digest()):
            raise VerificationError("content-digest", f"{algorithm} digest does not match the body")


def _collect_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The four headers we read, by lowercase name; a repeated one is refused rather than combined."""
    found: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower() if isinstance(name, str) else ""
        if lower not in _HEADERS:
            continue
        step = "content-digest" if lower == "content-digest" else "signature-input"
        if lower in found:
            raise VerificationError(step, f"more than one {_HEADERS[lower]} header")
        if not isinstance(value, str) or len(value) > MAX_HEADER_SIZE:
            raise VerificationError(step, f"{_HEADERS[lower]} is longer than {MAX_HEADER_SIZE} characters")
        found[lower] = value.strip(" \t")
    return found


@dataclass(frozen=True, slots=True)
class _SignatureInput:
    """The checked contents of Signature-Input and Signature; ``params`` keeps the signer's order."""

    params: tuple[tuple[str, int | str], ...]
    keyid: bytes
    created: int
    nonce: str
    signature: bytes


def _parse_signature_headers(input_text: str, signature_text: str) -> _SignatureInput:
    """Check Signature-Input and Signature against what a shora request must carry."""
    try:
        inputs = _parse_dictionary(input_text)
        signatures = _parse_dictionary(signature_text)
    except DecodeError as exc:
        raise VerificationError("signature-input", f"malformed signature headers: {exc}") from exc
    if list(inputs) != [LABEL] or list(signatures) != [LABEL]:
        raise VerificationError("signature-input", f"expected exactly one signature, labelled {LABEL!r}")
    covered, params = inputs[LABEL]
    signature, signature_params = signatures[LABEL]
    if not isinstance(signature, bytes) or signature_params:
        raise VerificationError("signature-input", "Signature is not a byte sequence")
    if not isinstance(covered, list) or [name for name, _ in covered] != list(COMPONENTS):
        raise VerificationError("signature-input", f"components must be exactly {' '.join(COMPONENTS)}")
    if any(component_params for _, component_params in covered):
        raise VerificationError("signature-input", "components must not carry parameters")
    if sorted(params) != sorted(PARAMETERS):
        raise VerificationError("signature-input", f"parameters must be exactly {', '.join(PARAMETERS)}")
    created, nonce, keyid_text = params["created"], params["nonce"], params["keyid"]
    if params["alg"] != ALGORITHM:
        raise VerificationError("signature-input", f"alg must be {ALGORITHM!r}")
    if params["tag"] != REQUEST_TAG:
        raise VerificationError("signature-input", f"tag must be {REQUEST_TAG!r}")
    if not isinstance(created, int) or not isinstance(nonce, str) or not isinstance(keyid_text, str):
        raise VerificationError("signature-input", "created must be an integer, nonce and keyid strings")
    try:
        _check_created(created)
        _check_nonce_text(nonce)
        keyid = unb64u(keyid_text, PUBLIC_KEY_SIZE)
    except DecodeError as exc:
        raise VerificationError("signature-input", str(exc)) from exc
    ordered = tuple((key, value) for key, value in params.items() if not isinstance(value, bytes))
    if len(ordered) != len(params):
        raise VerificationError("signature-input", "parameters must be strings or integers")
    return _SignatureInput(ordered, keyid, created, nonce, signature)


def _check_nonce_text(nonce: str) -> None:
    if not isinstance(nonce, str) or len(nonce) > 2 * MAX_NONCE_BYTES:
        raise DecodeError("nonce is not base64url text")
    encode_nonce(unb64u(nonce))


def _check_created(created: int) -> None:
    if type(created) is not int or not 0 <= created <= _MAX_SF_INTEGER:
        raise DecodeError("created is not a non-negative integer of at most 15 digits")


# --- RFC 9421 signature base ---------------------------------------------------------------------------


def _signature_base(
    components: Sequence[tuple[str, str]], params: Sequence[tuple[str, int | str]]
) -> tuple[bytes, str]:
    """RFC 9421 §2.5: the signature base and the serialised ``@signature-params`` value.

    Component values are taken as given (already derived and trimmed); each must be printable ASCII so the
    base has exactly one reading.
    """
    lines = []
    names = [name for name, _ in components]
    if len(set(names)) != len(names):
        raise DecodeError("a component is covered twice")
    for name, value in components:
        if name != name.lower() or not _printable(value) or value != value.strip(" "):
            raise DecodeError(f"component {name!r} cannot appear in a signature base")
        lines.append(f"{_sf_string(name)}: {value}")
    serialized = "(" + " ".join(_sf_string(name) for name in names) + ")"
    for key, item in params:
        serialized += f";{key}={_sf_integer(item) if isinstance(item, int) else _sf_string(item)}"
    lines.append(f'"@signature-params": {serialized}')
    return "\n".join(lines).encode("ascii"), serialized


# --- the RFC 8941 subset: strings, integers, byte sequences, inner lists of strings, parameters ----------

_SfValue = int | str | bytes
_SfParams = dict[str, _SfValue]
_SfMember = _SfValue | list[tuple[str, _SfParams]]

_KEY = re.compile(r"[a-z*][a-z0-9_.*-]*")
_STRING = re.compile(r'"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\\"])*)"')
_INTEGER = re.compile(r"-?[0-9]{1,15}")
_BYTES = re.compile(r":([A-Za-z0-9+/=]*):")
_OWS = re.compile(r"[ \t]*")
_SP = re.compile(r" *")
_EQUALS = re.compile("=")
_COMMA = re.compile(",")


def _printable(text: str) -> bool:
    return all(" " <= char <= "~" for char in text)


def _sf_string(text: str) -> str:
    if not _printable(text):
        raise DecodeError("a structured-field string is printable ASCII")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sf_integer(value: int) -> str:
    if abs(value) > _MAX_SF_INTEGER:
        raise DecodeError("a structured-field integer has at most 15 digits")
    return str(value)


def _sf_bytes(data: bytes) -> str:
    return ":" + base64.b64encode(data).decode("ascii") + ":"


class _Parser:
    """A cursor over one header value; every method consumes what it parses or raises ``DecodeError``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def take(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        match = pattern.match(self.text, self.pos)
        if match is not None:
            self.pos = match.end()
        return match

    def expect(self, pattern: re.Pattern[str], what: str) -> re.Match[str]:
        match = self.take(pattern)
        if match is None:
            raise DecodeError(f"expected {what} at character {self.pos}")
        return match

    def peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def bare_item(self) -> _SfValue:
        if (match := self.take(_STRING)) is not None:
            return re.sub(r"\\(.)", r"\1", match.group(1))
        if (match := self.take(_INTEGER)) is not None:
            if self.peek() == ".":
                raise DecodeError("decimals are not accepted here")
            return int(match.group(0))
        if (match := self.take(_BYTES)) is not None:
            try:
                data = base64.b64decode(match.group(1), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise DecodeError("malformed byte sequence") from exc
            if base64.b64encode(data).decode("ascii") != match.group(1):
                raise DecodeError("byte sequence is not canonical base64")
            return data
        raise DecodeError(f"expected a string, integer or byte sequence at character {self.pos}")

    def parameters(self) -> _SfParams:
        params: _SfParams = {}
        while self.peek() == ";":
            self.pos += 1
            self.take(_SP)
            key = self.expect(_KEY, "a parameter name").group(0)
            self.expect(_EQUALS, f"a value for parameter {key!r}")
            if key in params:
                raise DecodeError(f"parameter {key!r} repeated")
            params[key] = self.bare_item()
        return params

    def member(self) -> _SfMember:
        if self.peek() != "(":
            return self.bare_item()
        self.pos += 1
        items: list[tuple[str, _SfParams]] = []
        while True:
            self.take(_SP)
            if self.peek() == ")":
                self.pos += 1
                return items
            if items and self.text[self.pos - 1] != " ":
                raise DecodeError("inner-list items must be separated by a space")
            value = self.bare_item()
            if not isinstance(value, str):
                raise DecodeError("inner-list items must be strings")
            items.append((value, self.parameters()))


def _parse_dictionary(text: str) -> dict[str, tuple[_SfMember, _SfParams]]:
    """RFC 8941 §4.2.2 for the subset above; duplicate keys are refused rather than overwritten."""
    if len(text) > MAX_HEADER_SIZE:
        raise DecodeError("header value too long")
    parser = _Parser(text.strip(" \t"))
    members: dict[str, tuple[_SfMember, _SfParams]] = {}
    while True:
        key = parser.expect(_KEY, "a dictionary key").group(0)
        parser.expect(_EQUALS, f"a value for {key!r}")
        if key in members:
            raise DecodeError(f"dictionary key {key!r} repeated")
        value = parser.member()
        members[key] = (value, parser.parameters())
        parser.take(_OWS)
        if parser.pos == len(parser.text):
            return members
        parser.expect(_COMMA, "a comma")
        parser.take(_OWS)
