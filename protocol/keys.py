"""Ed25519 keys, key ids, and domain-separated signing (DESIGN.md §3).

Every signature names its ``Domain``; there is no way to sign or verify bare bytes. Entries are framed by a
tag (``shora/v1/entry\\0`` + header bytes; a record entry by ``shora/v1/record\\0``, a sealed segment by
``shora/v1/segment\\0``); a checkpoint or cosignature is separated by the C2SP signed-note
format itself, and a request by its RFC 9421 signature base, whose ``@signature-params`` line carries
``tag="shora/v1/request"``. Each domain checks the shape of what it signs, so the domains cannot overlap.

Verification uses libsodium (PyNaCl) when it is installed — about twice as fast as OpenSSL here — and
``cryptography`` otherwise. Both accept and reject exactly the same signatures on the test vectors.
"""

from __future__ import annotations

import enum
import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from protocol.errors import DecodeError, KeyFileError, VerificationError

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
KEY_ID_SIZE = 8


ENTRY_TAG = b"shora/v1/entry\x00"
# A council's record (protocol.record) and its sealed backup segments (protocol.sealed) sign under tags of
# their own, so no record entry can pass for a public one, nor a segment for either.
RECORD_TAG = b"shora/v1/record\x00"
SEGMENT_TAG = b"shora/v1/segment\x00"
# A member's own statements (protocol.member: joins, key bindings, check-ins, ballots, requisitions,
# resignations) carried into the council's record, checkable by anyone who holds the record.
MEMBER_TAG = b"shora/v1/member\x00"


@enum.unique
class Domain(enum.Enum):
    """What a signature is for; ``prefix`` is signed before the message.

    The values are names, not the prefixes: NOTE and REQUEST share the empty prefix, and two members with
    equal values would make REQUEST a mere alias of NOTE (``enum`` merges them), checked with NOTE's shape.
    """

    ENTRY = "entry"
    RECORD = "record"
    SEGMENT = "segment"
    MEMBER = "member"
    # Empty prefixes: these formats separate themselves; ``_check_shape`` keeps them apart.
    NOTE = "note"
    REQUEST = "request"

    @property
    def prefix(self) -> bytes:
        return _TAGS.get(self, b"")

    def frame(self, message: bytes) -> bytes:
        if self is _ENTRY:  # the tag alone keeps entries apart; checked once per entry received
            return ENTRY_TAG + message
        if self is _RECORD:
            return RECORD_TAG + message
        if self is _SEGMENT:
            return SEGMENT_TAG + message
        if self is _MEMBER:
            return MEMBER_TAG + message
        _check_shape(self, message)
        return message


# Reading a member off an enum class is several times slower than a global: the verify path uses these.
_ENTRY, _RECORD, _SEGMENT, _MEMBER = Domain.ENTRY, Domain.RECORD, Domain.SEGMENT, Domain.MEMBER
_NOTE, _REQUEST = Domain.NOTE, Domain.REQUEST
_TAGS = {_ENTRY: ENTRY_TAG, _RECORD: RECORD_TAG, _SEGMENT: SEGMENT_TAG, _MEMBER: MEMBER_TAG}


REQUEST_TAG = "shora/v1/request"


def _check_shape(domain: Domain, message: bytes) -> None:
    if domain is _NOTE:
        # A C2SP note body ("origin\n…\n") or a cosignature/v1 signed message; never a quoted line.
        if not message.endswith(b"\n") or message.startswith(b'"'):
            raise VerificationError("domain", "a note signature covers note text ending in a newline")
    elif domain is _REQUEST:
        # An RFC 9421 signature base: quoted component lines, ending in our tagged @signature-params.
        last_line = message.rsplit(b"\n", 1)[-1]
        if not message.startswith(b'"') or f'tag="{REQUEST_TAG}"'.encode() not in last_line:
            raise VerificationError("domain", "a request signature covers an RFC 9421 base tagged for shora")


def key_id(public_key: bytes) -> bytes:
    """The 8-byte id that names a key inside headers and bundles."""
    return hashlib.sha256(b"shora/v1/key-id\x00" + public_key).digest()[:KEY_ID_SIZE]


# --- verification backends -------------------------------------------------------------------------

Verifier = Callable[[bytes, bytes, bytes], bool]  # (public key, signature, message) -> valid

_P = 2**255 - 19
# The y coordinates of the eight points of small order (0 and 1 and p-1, and the two of order 8), which
# libsodium refuses as a public key or as a signature's R, sign bit ignored (its ``blocklist``). OpenSSL
# accepts them: with the identity as the key, R = identity and S = 0 "sign" every message. Refusing them
# in the cryptography backend too keeps the two backends' verdicts identical (DESIGN.md §3).
_SMALL_ORDER_Y = frozenset(
    {0, 1, _P - 1}
    | {
        int.from_bytes(bytes.fromhex(encoding), "little")
        for encoding in (
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        )
    }
)


def _is_weak_point(encoding: bytes) -> bool:
    """A point encoding that is non-canonical (y >= p) or of small order: never a key an honest signer has."""
    y = int.from_bytes(encoding[:32], "little") & ((1 << 255) - 1)
    return y >= _P or y in _SMALL_ORDER_Y


def _verify_cryptography(public_key: bytes, signature: bytes, message: bytes) -> bool:
    if _is_weak_point(public_key) or _is_weak_point(signature[:32]):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _load_nacl() -> Verifier | None:
    try:
        from nacl.bindings import crypto_sign_open
        from nacl.exceptions import BadSignatureError, CryptoError
    except ImportError:
        return None

    def verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
        try:
            crypto_sign_open(signature + message, public_key)
        except (BadSignatureError, CryptoError, ValueError):
            return False
        return True

    return verify


BACKENDS: dict[str, Verifier] = {"cryptography": _verify_cryptography}
_nacl = _load_nacl()
if _nacl is not None:
    BACKENDS["nacl"] = _nacl
DEFAULT_BACKEND = os.environ.get("SHORA_ED25519", "nacl" if "nacl" in BACKENDS else "cryptography")
if DEFAULT_BACKEND not in BACKENDS:
    DEFAULT_BACKEND = "cryptography"


# --- keys --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublicKey:
    """An Ed25519 public key (32 bytes)."""

    raw: bytes
    id: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.raw, bytes) or len(self.raw) != PUBLIC_KEY_SIZE:
            raise DecodeError(f"an Ed25519 public key is {PUBLIC_KEY_SIZE} bytes")
        if _is_weak_point(self.raw):
            raise DecodeError("a non-canonical or small-order Ed25519 public key")
        try:
            Ed25519PublicKey.from_public_bytes(self.raw)
        except ValueError as exc:  # OpenSSL checks only the length; a non-point fails at verification
            raise DecodeError("not a valid Ed25519 public key") from exc
        object.__setattr__(self, "id", key_id(self.raw))

    def verify(self, domain: Domain, message: bytes, signature: bytes, *, backend: str | None = None) -> None:
        """Return ``None`` if ``signature`` is this key's over ``message`` in ``domain``; else raise."""
        if len(signature) != SIGNATURE_SIZE:
            raise VerificationError("signature", f"an Ed25519 signature is {SIGNATURE_SIZE} bytes")
        verifier = BACKENDS[backend or DEFAULT_BACKEND]
        if not verifier(self.raw, signature, domain.frame(message)):
            raise VerificationError("signature", f"not a valid {domain.name.lower()} signature by this key")


class SigningKey:
    """An Ed25519 private key. Never printed, never compared by value."""

    __slots__ = ("_key", "public")

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public = PublicKey(key.public_key().public_bytes_raw())

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        if len(seed) != 32:
            raise KeyFileError("an Ed25519 seed is 32 bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def seed(self) -> bytes:
        return self._key.private_bytes_raw()

    def sign(self, domain: Domain, message: bytes) -> bytes:
        return self._key.sign(domain.frame(message))

    def sign_many(self, domain: Domain, messages: list[bytes]) -> list[bytes]:
        """``sign`` for each message. OpenSSL signs without holding the GIL, so two threads signing halves
        of a list take about half the time of one."""
        sign, frame = self._key.sign, domain.frame
        return [sign(frame(message)) for message in messages]

    def __repr__(self) -> str:
        return f"SigningKey(public={self.public.raw.hex()[:16]}…)"


# --- key files ---------------------------------------------------------------------------------------


def save_signing_key(key: SigningKey, path: str | os.PathLike[str]) -> None:
    """Write ``key`` as PKCS#8 PEM, created with mode 0600; an existing file is never overwritten."""
    pem = key._key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise KeyFileError(f"{os.fspath(path)} exists; refusing to overwrite a key") from exc
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
        out.flush()
        os.fsync(out.fileno())


def load_signing_key(path: str | os.PathLike[str]) -> SigningKey:
    """Load a key written by ``save_signing_key``; refuse one that group or others can read."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise KeyFileError(f"cannot open key file {os.fspath(path)}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(
                f"{os.fspath(path)} is accessible by group or others (mode {stat.S_IMODE(mode):o}); "
                "run chmod 600 on it"
            )
        data = handle.read(4096)
    try:
        loaded = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(f"{os.fspath(path)} is not a PEM private key") from exc
    if not isinstance(loaded, Ed25519PrivateKey):
        raise KeyFileError(f"{os.fspath(path)} is not an Ed25519 key")
    return SigningKey(loaded)
