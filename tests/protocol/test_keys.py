"""Ed25519 keys, key ids, domain separation, both verification backends, and key files on disk."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from protocol.errors import DecodeError, KeyFileError, VerificationError
from protocol.keys import (
    BACKENDS,
    KEY_ID_SIZE,
    REQUEST_TAG,
    Domain,
    PublicKey,
    SigningKey,
    key_id,
    load_signing_key,
    save_signing_key,
)

# Computed once from SigningKey.from_seed(bytes(32)); the public key is RFC 8032's for the all-zero seed.
ZERO_SEED_PUBLIC = "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"
ZERO_SEED_KEY_ID = "2ee2cb8dfd769ed7"

ENTRY_MESSAGE = b"\x98\x01\xc4\x20" + bytes(32)  # the start of an entry header: a fixarray of 8
NOTE_MESSAGE = b"shora/AAAA\n12\nq83vEjRWeJA=\n"
REQUEST_MESSAGE = (
    b'"@method": POST\n"@authority": node.example\n"@path": /gossip\n'
    b'"@signature-params": ("@method" "@authority" "@path");created=1;keyid="k";tag="'
    + REQUEST_TAG.encode()
    + b'"'
)
MESSAGES = {
    Domain.ENTRY: ENTRY_MESSAGE,
    Domain.RECORD: ENTRY_MESSAGE,  # a record header has an entry header's shape; only the tag differs
    Domain.SEGMENT: b"shora/v1/sealed\x00" + bytes(48),
    Domain.MEMBER: b"\x82\xa3act\xa6ballot\xa7council\xc4\x20" + bytes(32),  # a canonical statement map
    Domain.NOTE: NOTE_MESSAGE,
    Domain.REQUEST: REQUEST_MESSAGE,
}

backends = pytest.mark.parametrize("backend", sorted(BACKENDS))


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.from_seed(bytes(range(32)))


@pytest.fixture(scope="module")
def other_key() -> SigningKey:
    return SigningKey.from_seed(bytes(range(1, 33)))


def test_every_domain_is_distinct() -> None:
    # Two members with equal values would be one member under two names (enum aliasing).
    assert len(list(Domain)) == 6
    assert {domain.name for domain in Domain} == {"ENTRY", "RECORD", "SEGMENT", "MEMBER", "NOTE", "REQUEST"}
    assert set(MESSAGES) == set(Domain)


def test_both_backends_present() -> None:
    assert "cryptography" in BACKENDS
    pytest.importorskip("nacl")
    assert "nacl" in BACKENDS


@backends
@pytest.mark.parametrize("domain", list(Domain), ids=lambda d: d.name)
def test_sign_verify_round_trip(key: SigningKey, domain: Domain, backend: str) -> None:
    message = MESSAGES[domain]
    signature = key.sign(domain, message)
    assert len(signature) == 64
    key.public.verify(domain, message, signature, backend=backend)


def test_default_backend_verifies(key: SigningKey) -> None:
    key.public.verify(Domain.ENTRY, ENTRY_MESSAGE, key.sign(Domain.ENTRY, ENTRY_MESSAGE))


@backends
@pytest.mark.parametrize("signed_in", list(Domain), ids=lambda d: d.name)
@pytest.mark.parametrize("checked_in", list(Domain), ids=lambda d: d.name)
def test_signature_under_other_domain(
    key: SigningKey, signed_in: Domain, checked_in: Domain, backend: str
) -> None:
    if signed_in is checked_in:
        return
    message = MESSAGES[signed_in]
    signature = key.sign(signed_in, message)
    with pytest.raises(VerificationError) as info:
        key.public.verify(checked_in, message, signature, backend=backend)
    assert info.value.step in {"signature", "domain"}


def test_entry_signature_is_over_the_tagged_bytes(key: SigningKey) -> None:
    # What Ed25519 signs for an entry is the tag and the header; a bare signature over the header is not one.
    bare = key._key.sign(ENTRY_MESSAGE)
    with pytest.raises(VerificationError, match=r"^[a-z-]+: not a valid entry signature by this key"):
        key.public.verify(Domain.ENTRY, ENTRY_MESSAGE, bare)
    assert Domain.ENTRY.frame(ENTRY_MESSAGE) == b"shora/v1/entry\x00" + ENTRY_MESSAGE


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        pytest.param(Domain.NOTE, b"no trailing newline", id="note-without-newline"),
        pytest.param(Domain.NOTE, b'"@method": GET\n', id="note-shaped-like-request"),
        pytest.param(Domain.REQUEST, b"shora/AAAA\n1\nroot\n", id="request-shaped-like-note"),
        pytest.param(Domain.REQUEST, b'"@method": GET\n"@params": ();tag="other"', id="request-other-tag"),
        pytest.param(Domain.REQUEST, b'"@method": GET\n;tag="shora/v1/request"\n"x": 1', id="tag-not-last"),
    ],
)
def test_sign_refuses_wrong_shape(key: SigningKey, domain: Domain, message: bytes) -> None:
    with pytest.raises(VerificationError) as info:
        key.sign(domain, message)
    assert info.value.step == "domain"


@backends
def test_signature_by_other_key(key: SigningKey, other_key: SigningKey, backend: str) -> None:
    signature = other_key.sign(Domain.ENTRY, ENTRY_MESSAGE)
    with pytest.raises(VerificationError) as info:
        key.public.verify(Domain.ENTRY, ENTRY_MESSAGE, signature, backend=backend)
    assert info.value.step == "signature"


@backends
def test_other_message(key: SigningKey, backend: str) -> None:
    signature = key.sign(Domain.ENTRY, ENTRY_MESSAGE)
    with pytest.raises(VerificationError, match=r"^[a-z-]+: not a valid entry signature by this key"):
        key.public.verify(Domain.ENTRY, ENTRY_MESSAGE + b"\x00", signature, backend=backend)


@backends
@pytest.mark.parametrize("length", [0, 32, 63, 65, 128])
def test_wrong_length_signature(key: SigningKey, length: int, backend: str) -> None:
    signature = (key.sign(Domain.ENTRY, ENTRY_MESSAGE) * 2)[:length]
    with pytest.raises(VerificationError) as info:
        key.public.verify(Domain.ENTRY, ENTRY_MESSAGE, signature, backend=backend)
    assert info.value.step == "signature"


@backends
@pytest.mark.parametrize("bit", [0, 7, 100, 255, 256, 400, 504, 511])
def test_bit_flipped_signature(key: SigningKey, bit: int, backend: str) -> None:
    signature = bytearray(key.sign(Domain.ENTRY, ENTRY_MESSAGE))
    signature[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(VerificationError, match=r"^[a-z-]+: not a valid entry signature by this key"):
        key.public.verify(Domain.ENTRY, ENTRY_MESSAGE, bytes(signature), backend=backend)


@backends
def test_signature_with_s_not_reduced(key: SigningKey, backend: str) -> None:
    # S + L is the same scalar; RFC 8032 requires S < L so that signatures are not malleable.
    order = 2**252 + 27742317777372353535851937790883648493
    signature = key.sign(Domain.ENTRY, ENTRY_MESSAGE)
    s = int.from_bytes(signature[32:], "little") + order
    malleated = signature[:32] + s.to_bytes(32, "little")
    with pytest.raises(VerificationError, match=r"^[a-z-]+: not a valid entry signature by this key"):
        key.public.verify(Domain.ENTRY, ENTRY_MESSAGE, malleated, backend=backend)


IDENTITY = bytes([1]) + bytes(31)
ORDER_8 = (  # libsodium's blocklist entries for the two points of order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
)
SMALL_ORDER_KEYS = [
    pytest.param(bytes(32), id="y=0-order-4"),
    pytest.param(IDENTITY, id="identity"),
    pytest.param(bytes.fromhex("ec" + "ff" * 30 + "7f"), id="y=p-1-order-2"),
    pytest.param(bytes.fromhex(ORDER_8[0]), id="order-8"),
    pytest.param(bytes.fromhex(ORDER_8[1]), id="order-8b"),
    pytest.param(bytes.fromhex("ee" + "ff" * 30 + "7f"), id="identity-non-canonical-p+1"),
    pytest.param(bytes([1]) + bytes(30) + b"\x80", id="identity-sign-bit"),
    pytest.param(b"\xff" * 32, id="y-beyond-p"),
]


@pytest.mark.parametrize("raw", SMALL_ORDER_KEYS)
def test_small_order_or_non_canonical_public_key(raw: bytes) -> None:
    with pytest.raises(DecodeError, match=r"^a non-canonical or small-order Ed25519 public key"):
        PublicKey(raw)


@backends
def test_identity_key_universal_forgery(backend: str) -> None:
    # With the identity as public key, R = identity and S = 0 satisfy the equation for every message.
    # OpenSSL alone accepts it; both backends must refuse, or nodes with and without libsodium disagree.
    verify = BACKENDS[backend]
    assert not verify(IDENTITY, IDENTITY + bytes(32), b"shora/v1/entry\x00anything")


@backends
def test_small_order_r_refused(key: SigningKey, backend: str) -> None:
    signature = key.sign(Domain.ENTRY, ENTRY_MESSAGE)
    assert not BACKENDS[backend](key.public.raw, IDENTITY + signature[32:], Domain.ENTRY.frame(ENTRY_MESSAGE))


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_public_key_wrong_length(length: int) -> None:
    with pytest.raises(DecodeError, match=r"^an Ed25519 public key is 32 bytes"):
        PublicKey(bytes(range(length)))


def test_public_key_not_bytes() -> None:
    with pytest.raises(DecodeError, match=r"^an Ed25519 public key is 32 bytes"):
        PublicKey(bytearray(32))  # type: ignore[arg-type]
    with pytest.raises(DecodeError, match=r"^an Ed25519 public key is 32 bytes"):
        PublicKey(ZERO_SEED_PUBLIC)  # type: ignore[arg-type]


@backends
def test_non_point_public_key(key: SigningKey, backend: str) -> None:
    # y = 2 has no x on the curve. OpenSSL does not check the point when loading the key, so the
    # PublicKey may exist; no signature can verify under it.
    raw = bytes([2]) + bytes(31)
    try:
        public = PublicKey(raw)
    except DecodeError:
        return
    with pytest.raises(VerificationError, match=r"^[a-z-]+: not a valid entry signature by this key"):
        public.verify(Domain.ENTRY, ENTRY_MESSAGE, key.sign(Domain.ENTRY, ENTRY_MESSAGE), backend=backend)


def test_key_id_is_stable() -> None:
    zero = SigningKey.from_seed(bytes(32))
    assert zero.public.raw.hex() == ZERO_SEED_PUBLIC
    assert zero.public.id.hex() == ZERO_SEED_KEY_ID
    assert key_id(bytes.fromhex(ZERO_SEED_PUBLIC)).hex() == ZERO_SEED_KEY_ID
    assert len(zero.public.id) == KEY_ID_SIZE


def test_key_ids_differ(key: SigningKey, other_key: SigningKey) -> None:
    assert key.public.id != other_key.public.id


def test_seed_round_trip(key: SigningKey) -> None:
    assert SigningKey.from_seed(key.seed()).public == key.public


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_seed_wrong_length(length: int) -> None:
    with pytest.raises(KeyFileError, match=r"^an Ed25519 seed is 32 bytes"):
        SigningKey.from_seed(bytes(length))


def test_generated_keys_differ() -> None:
    assert SigningKey.generate().public != SigningKey.generate().public


def test_repr_never_contains_seed() -> None:
    for signing_key in (SigningKey.from_seed(bytes(range(32))), SigningKey.generate()):
        seed_hex = signing_key.seed().hex()
        for text in (repr(signing_key), str(signing_key), f"{signing_key!r}"):
            assert seed_hex not in text
            assert seed_hex[:16] not in text
            assert seed_hex.upper()[:16] not in text
            assert repr(signing_key.seed()) not in text


def test_signing_keys_compare_by_identity() -> None:
    assert SigningKey.from_seed(bytes(32)) != SigningKey.from_seed(bytes(32))


# --- key files ---------------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "node.key"
    save_signing_key(key, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    loaded = load_signing_key(path)
    assert loaded.public == key.public
    assert loaded.seed() == key.seed()
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_save_accepts_str_path(tmp_path: Path, key: SigningKey) -> None:
    path = str(tmp_path / "node.key")
    save_signing_key(key, path)
    assert load_signing_key(path).public == key.public


def test_mode_0600_even_with_permissive_umask(tmp_path: Path, key: SigningKey) -> None:
    old = os.umask(0)
    try:
        save_signing_key(key, tmp_path / "node.key")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "node.key").st_mode) == 0o600


def test_refuses_to_overwrite(tmp_path: Path, key: SigningKey, other_key: SigningKey) -> None:
    path = tmp_path / "node.key"
    save_signing_key(key, path)
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="exists; refusing to overwrite a key"):
        save_signing_key(other_key, path)
    assert path.read_bytes() == before


def test_refuses_to_overwrite_any_file(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"precious")
    with pytest.raises(KeyFileError, match="exists; refusing to overwrite a key"):
        save_signing_key(key, path)
    assert path.read_bytes() == b"precious"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o610, 0o601, 0o620])
def test_refuses_key_readable_by_others(tmp_path: Path, key: SigningKey, mode: int) -> None:
    path = tmp_path / "node.key"
    save_signing_key(key, path)
    os.chmod(path, mode)
    with pytest.raises(KeyFileError) as info:
        load_signing_key(path)
    assert "chmod 600" in str(info.value)


def test_accepts_mode_0400(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "node.key"
    save_signing_key(key, path)
    os.chmod(path, 0o400)
    assert load_signing_key(path).public == key.public


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot open key file"):
        load_signing_key(tmp_path / "absent.key")


def _private_file(path: Path, data: bytes) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return path


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not a key at all\n", id="text"),
        pytest.param(bytes(range(256)), id="binary"),
        pytest.param(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", id="broken-pem"),
    ],
)
def test_refuses_non_pem_file(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(KeyFileError, match="is not a PEM private key"):
        load_signing_key(_private_file(tmp_path / "node.key", data))


def test_refuses_raw_seed_file(tmp_path: Path, key: SigningKey) -> None:
    with pytest.raises(KeyFileError, match="is not a PEM private key"):
        load_signing_key(_private_file(tmp_path / "node.key", key.seed()))


def test_refuses_non_ed25519_pem_key(tmp_path: Path) -> None:
    p256 = ec.generate_private_key(ec.SECP256R1())
    pem = p256.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(KeyFileError) as info:
        load_signing_key(_private_file(tmp_path / "node.key", pem))
    assert "Ed25519" in str(info.value)


def test_refuses_encrypted_pem_key(tmp_path: Path, key: SigningKey) -> None:
    pem = key._key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"password"),
    )
    with pytest.raises(KeyFileError, match="is not a PEM private key"):
        load_signing_key(_private_file(tmp_path / "node.key", pem))
