"""Signed notes, checkpoints and cosignatures against the C2SP specs and Go's sumdb/note test vectors."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.codec import INT64_MAX
from protocol.codec import b64u as codec_b64u
from protocol.errors import DecodeError, VerificationError
from protocol.keys import BACKENDS, Domain, SigningKey
from protocol.note import (
    MAX_NOTE_SIZE,
    MAX_SIGNATURES,
    Checkpoint,
    Cosignature,
    KeyKind,
    Note,
    NoteSignature,
    SignedCheckpoint,
    VerifierKey,
    add_signatures,
    cosign,
    cosigned_message,
    format_note,
    log_origin,
    note_key_id,
    open_checkpoint,
    open_note,
    parse_note,
    parse_vkey,
    sign_checkpoint,
    sign_note,
    verify_cosignatures,
    vkey,
    witness_name,
)

backends = pytest.mark.parametrize("backend", sorted(BACKENDS))

# What each check says: a refusal test names the check it expects, so a note refused for another reason
# fails it.
NO_BLANK_LINE = "no blank line separates the note text from its signatures"
NO_SIGNATURE_LINE = "a signed note has at least one signature line"
NO_FINAL_NEWLINE = "the signature block does not end with a newline"
CONTROL_CHAR = "a signed note has no control characters other than newline"
NOT_A_SIGNATURE_LINE = "a signature line starts with an em dash and a space"
NOT_BASE64 = "not standard base64"
NOT_CANONICAL_BASE64 = "not canonical standard base64"
BAD_SIZE = "a tree size is decimal, without leading zeros, at most 2\\^63-1"
BAD_ROOT = "a root hash is 32 bytes"
NOT_UTF8 = "a signed note is UTF-8"
TOO_BIG = "a signed note is at most 1048576 bytes"


def refused_note(check: str, data: str | bytes) -> None:
    with pytest.raises(DecodeError, match=f"^{check}"):
        parse_note(data)


# --- golang.org/x/mod/sumdb/note: note.go's documentation and note_test.go ---------------------------

PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
PETER_B64 = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
ENOCH_B64 = "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ="
PETER_SIG = f"— PeterNeumann {PETER_B64}\n"
ENOCH_SIG = f"— EnochRoot {ENOCH_B64}\n"


def _peter_key() -> SigningKey:
    return SigningKey.from_seed(base64.b64decode(PETER_SKEY.split("+", 4)[4])[1:])


def _insert_go(line: str, at: int, extra: str) -> str:
    """Go's ``sig[:60] + "ABCD" + sig[60:]`` indexes bytes, and the em dash is three of them."""
    raw = line.encode()
    return (raw[:at] + extra.encode() + raw[at:]).decode()


def test_go_sign_peter_neumann_byte_for_byte() -> None:
    signature = sign_note(_peter_key(), "PeterNeumann", GO_TEXT)
    assert format_note(GO_TEXT, [signature]) == GO_TEXT + "\n" + PETER_SIG
    assert signature.key_id.hex() == "c74f20a3"


def test_go_vkeys_reproduced_and_parsed() -> None:
    assert vkey("PeterNeumann", _peter_key().public) == PETER_VKEY
    peter = parse_vkey(PETER_VKEY)
    assert (peter.name, peter.kind, peter.key_id.hex()) == ("PeterNeumann", KeyKind.ED25519, "c74f20a3")
    assert peter.public_key == _peter_key().public
    assert parse_vkey(ENOCH_VKEY).text() == ENOCH_VKEY


def test_go_vkey_manglings_rejected() -> None:
    """As Go's TestNewVerifier: every proper substring and every one-character increment fails."""
    for i in range(len(PETER_VKEY) + 1):
        for j in range(i + 1, len(PETER_VKEY) + 1):
            if (i, j) != (0, len(PETER_VKEY)):
                with pytest.raises(DecodeError):
                    parse_vkey(PETER_VKEY[i:j])
    for i in range(len(PETER_VKEY)):
        mangled = PETER_VKEY[:i] + chr(ord(PETER_VKEY[i]) + 1) + PETER_VKEY[i + 1 :]
        with pytest.raises(DecodeError):
            parse_vkey(mangled)
    wrong_length = "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
    unknown_algorithm = "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    for bad in (wrong_length, unknown_algorithm):
        with pytest.raises(DecodeError):
            parse_vkey(bad)


@backends
def test_go_open_one_verified_one_unknown(backend: str) -> None:
    opened = open_note(GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG, [parse_vkey(PETER_VKEY)], backend=backend)
    assert opened.text == GO_TEXT
    assert [s.line() for s in opened.verified] == [PETER_SIG]
    assert [s.line() for s in opened.unverified] == [ENOCH_SIG]
    both = open_note(
        GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG,
        [parse_vkey(PETER_VKEY), parse_vkey(ENOCH_VKEY)],
        backend=backend,
    )
    assert [s.line() for s in both.verified] == [PETER_SIG, ENOCH_SIG]
    assert both.unverified == ()


@backends
def test_go_open_no_known_signature_rejected(backend: str) -> None:
    with pytest.raises(VerificationError) as caught:
        open_note(GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG, [], backend=backend)
    assert (caught.value.step, caught.value.message) == (
        "note-signature",
        "the note has no signature by a known key",
    )


@backends
def test_go_open_invalid_signature_by_known_key(backend: str) -> None:
    with pytest.raises(VerificationError) as caught:
        open_note(
            GO_TEXT + "\n" + _insert_go(PETER_SIG, 60, "ABCD"), [parse_vkey(PETER_VKEY)], backend=backend
        )
    assert caught.value.step == "note-signature"  # the failing line named by its key, then why it fails
    assert caught.value.message == "PeterNeumann+c74f20a3: an Ed25519 signature is 64 bytes"
    line = base64.b64decode(PETER_B64)  # the right length, one bit of the signature flipped
    flipped = base64.b64encode(line[:-1] + bytes([line[-1] ^ 1])).decode()
    with pytest.raises(VerificationError) as caught:
        open_note(GO_TEXT + f"\n— PeterNeumann {flipped}\n", [parse_vkey(PETER_VKEY)], backend=backend)
    assert (caught.value.step, caught.value.message) == (
        "note-signature",
        "PeterNeumann+c74f20a3: not a valid note signature by this key",
    )


@backends
def test_go_open_duplicated_signatures(backend: str) -> None:
    enoch_abcd = _insert_go(ENOCH_SIG, 60, "ABCD")
    text = GO_TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_abcd
    opened = open_note(text, [parse_vkey(PETER_VKEY)], backend=backend)
    assert [s.line() for s in opened.verified] == [PETER_SIG]
    assert [s.line() for s in opened.unverified] == [ENOCH_SIG, enoch_abcd]


@pytest.mark.parametrize(
    ("message", "check"),
    [
        pytest.param(GO_TEXT, NO_BLANK_LINE, id="no-signatures"),
        pytest.param(GO_TEXT + "\n", NO_SIGNATURE_LINE, id="blank-line-only"),
        pytest.param(GO_TEXT + "\n" + PETER_SIG[:-1], NO_FINAL_NEWLINE, id="no-final-newline"),
        pytest.param("\x01" + GO_TEXT + "\n" + PETER_SIG, CONTROL_CHAR, id="control-character"),
        pytest.param(
            GO_TEXT + "\n" + f"— Bad Name {PETER_B64}", NO_FINAL_NEWLINE, id="space-in-name-unended"
        ),
        pytest.param(GO_TEXT + "\n" + f"— Bad Name {PETER_B64}\n", NOT_BASE64, id="space-in-name"),
        pytest.param(
            GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n", NOT_A_SIGNATURE_LINE, id="unexpected-line"
        ),
    ],
)
def test_go_malformed_notes(message: str, check: str) -> None:
    with pytest.raises(DecodeError, match=f"^{check}"):
        open_note(message, [parse_vkey(PETER_VKEY)])


def test_go_malformed_note_bytes() -> None:
    refused_note(NOT_UTF8, b"\xff" + (GO_TEXT + "\n" + PETER_SIG).encode())


def test_go_tlog_tree_format() -> None:
    """golang.org/x/mod/sumdb/tlog TestFormatTree / TestParseTree."""
    golden = "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n"
    checkpoint = Checkpoint("go.sum database tree", 123456789012, hashlib.sha256(b"\x00hello world").digest())
    assert checkpoint.body() == golden.encode()
    assert Checkpoint.from_body(golden) == checkpoint
    for bad, check in (
        ("go.sum database tree\n0xabcdef\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n", BAD_SIZE),
        (
            "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBTOOBIG=\n",
            NOT_CANONICAL_BASE64,
        ),
        # Go ignores junk; a checkpoint note body must end in a newline
        (golden + "JOE", "a checkpoint ends with a newline"),
    ):
        with pytest.raises(DecodeError, match=f"^{check}"):
            Checkpoint.from_body(bad)
    assert Checkpoint.from_body(golden + "JOE\n").extensions == ("JOE",)


# --- C2SP examples -----------------------------------------------------------------------------------

C2SP_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "— example.com/behind-the-sofa "
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
C2SP_COSIGNATURE = (
    "— witness.example.com/w1 "
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)
C2SP_NOTE = (
    "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n"
    "— quasimodo.example/salvatore "
    "NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
)


def test_c2sp_signed_note_example() -> None:
    note = parse_note(C2SP_NOTE)
    assert (
        note.text
        == "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
    )
    (signature,) = note.signatures
    assert signature.name == "quasimodo.example/salvatore" and len(signature.signature) == 64
    assert note.format() == C2SP_NOTE


def test_c2sp_checkpoint_and_cosignature_examples() -> None:
    note = parse_note(C2SP_CHECKPOINT + C2SP_COSIGNATURE)
    assert note.format() == C2SP_CHECKPOINT + C2SP_COSIGNATURE
    checkpoint = Checkpoint.from_body(note.text)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    assert checkpoint.body() == note.text.encode()
    log_sig, witness_sig = note.signatures
    assert len(log_sig.signature) == 64
    assert len(witness_sig.signature) == 8 + 64
    timestamp = int.from_bytes(witness_sig.signature[:8], "big")
    assert timestamp == 1679315147  # the "time" line of the spec's signed-message example
    assert cosigned_message(checkpoint.body(), timestamp) == (
        b"cosignature/v1\ntime 1679315147\n"
        b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )


# --- shora checkpoints and cosignatures --------------------------------------------------------------

LOG_KEY = SigningKey.from_seed(bytes(range(32)))
OTHER_LOG_KEY = SigningKey.from_seed(bytes(range(1, 33)))
WITNESSES = [SigningKey.from_seed(bytes([0xA0 + i]) * 32) for i in range(3)]
ORIGIN = log_origin(LOG_KEY.public.raw)
CHECKPOINT = Checkpoint(ORIGIN, 7, hashlib.sha256(b"root").digest())
TIMESTAMP = 1_700_000_000


def _trusted() -> dict[str, SigningKey]:
    return {witness_name(key.public): key for key in WITNESSES}


def _cosigned(count: int) -> SignedCheckpoint:
    signatures = [
        cosign(key, name, CHECKPOINT, TIMESTAMP + i) for i, (name, key) in enumerate(_trusted().items())
    ]
    return open_checkpoint(
        add_signatures(sign_checkpoint(LOG_KEY, CHECKPOINT), signatures[:count]), LOG_KEY.public
    )


def test_names_and_key_ids() -> None:
    assert ORIGIN.startswith("shora/") and "+" not in ORIGIN and "=" not in ORIGIN
    name = witness_name(WITNESSES[0].public)
    assert name.startswith("shora-witness/")
    ed = note_key_id(name, WITNESSES[0].public, KeyKind.ED25519)
    co = note_key_id(name, WITNESSES[0].public, KeyKind.COSIGNATURE_V1)
    assert ed == hashlib.sha256(name.encode() + b"\n\x01" + WITNESSES[0].public.raw).digest()[:4]
    assert co == hashlib.sha256(name.encode() + b"\n\x04" + WITNESSES[0].public.raw).digest()[:4]
    assert parse_vkey(vkey(name, WITNESSES[0].public, KeyKind.COSIGNATURE_V1)).kind is KeyKind.COSIGNATURE_V1


@pytest.mark.parametrize(
    ("name", "check"),
    [
        pytest.param("", "a note key name is non-empty text", id="empty"),
        pytest.param("a b", r"note key name '.*' contains a space", id="space"),
        pytest.param("a+b", r"note key name '.*' contains a space", id="plus"),
        pytest.param("a\tb", r"note key name '.*' contains a space", id="tab"),
        pytest.param("a\u00a0b", r"note key name '.*' contains a space", id="no-break-space"),
        pytest.param("a\u3000b", r"note key name '.*' contains a space", id="ideographic-space"),
        pytest.param("a\nb", r"note key name '.*' contains a space", id="newline"),
        pytest.param("a\x7fb"[:1] + "\x01b", r"note key name '.*' contains a space", id="control"),
        pytest.param("\ud800", "text is not valid Unicode", id="lone-surrogate"),
    ],
)
def test_bad_key_names_rejected(name: str, check: str) -> None:
    with pytest.raises(DecodeError, match=f"^{check}"):
        VerifierKey(name, LOG_KEY.public)


@backends
def test_checkpoint_round_trip(backend: str) -> None:
    text = sign_checkpoint(LOG_KEY, CHECKPOINT)
    assert text.startswith(CHECKPOINT.body().decode() + "\n— " + ORIGIN + " ")
    signed = open_checkpoint(text, LOG_KEY.public, backend=backend)
    assert signed.checkpoint == CHECKPOINT and signed.note_text == text and len(signed.signatures) == 1
    assert (
        open_note(text, [VerifierKey(ORIGIN, LOG_KEY.public)], backend=backend).text
        == CHECKPOINT.body().decode()
    )


@backends
def test_cosignatures_verified(backend: str) -> None:
    signed = _cosigned(3)
    trusted = {name: key.public for name, key in _trusted().items()}
    found = verify_cosignatures(signed, trusted, 3, backend=backend)
    assert found == [Cosignature(name, TIMESTAMP + i) for i, name in enumerate(trusted)]
    assert verify_cosignatures(signed, list(trusted.items())[:2], 2, backend=backend) == found[:2]
    with pytest.raises(VerificationError) as caught:
        verify_cosignatures(_cosigned(1), trusted, 2, backend=backend)
    assert caught.value.step == "cosignatures"


def test_add_signatures_keeps_log_first_and_deduplicates() -> None:
    note = sign_checkpoint(LOG_KEY, CHECKPOINT)
    names = list(_trusted())
    first = cosign(WITNESSES[0], names[0], CHECKPOINT, TIMESTAMP)
    second = cosign(WITNESSES[1], names[1], CHECKPOINT, TIMESTAMP)
    merged = add_signatures(add_signatures(note, [first]), [second, first, second])
    assert [s.name for s in parse_note(merged).signatures] == [ORIGIN, names[0], names[1]]
    newer = cosign(WITNESSES[0], names[0], CHECKPOINT, TIMESTAMP + 60)
    replaced = parse_note(add_signatures(merged, [newer])).signatures
    assert replaced[1] == newer and len(replaced) == 3


def test_checkpoint_validates_fields() -> None:
    bad_size = "a tree size is an integer in 0..2\\^63-1"
    bad_fields: list[tuple[str, tuple[Any, ...]]] = [
        ("a checkpoint origin is one non-empty line", ("", 1, bytes(32))),
        ("a checkpoint origin is one non-empty line", ("a\nb", 1, bytes(32))),
        (CONTROL_CHAR, ("a\rb", 1, bytes(32))),
        (bad_size, ("o", -1, bytes(32))),
        (bad_size, ("o", INT64_MAX + 1, bytes(32))),
        (bad_size, ("o", True, bytes(32))),
        (bad_size, ("o", "1", bytes(32))),
        (BAD_ROOT, ("o", 1, bytes(31))),
        (BAD_ROOT, ("o", 1, bytearray(32))),
        ("extension lines are a tuple", ("o", 1, bytes(32), ["ext"])),
        ("a checkpoint extension line is one non-empty line", ("o", 1, bytes(32), ("",))),
    ]
    for check, fields in bad_fields:
        with pytest.raises(DecodeError, match=f"^{check}"):
            Checkpoint(*fields)
    assert Checkpoint("o", 0, bytes(32)).size == 0
    assert Checkpoint("o", INT64_MAX, bytes(32)).size == 9223372036854775807


def test_a_checkpoint_text_takes_the_largest_size_and_refuses_one_more() -> None:
    largest = Checkpoint.from_body(_body(size="9223372036854775807"))
    assert largest.size == INT64_MAX and largest.body().decode() == _body(size="9223372036854775807")
    with pytest.raises(DecodeError, match=f"^{BAD_SIZE}$"):
        Checkpoint.from_body(_body(size="9223372036854775808"))


# --- attacks -----------------------------------------------------------------------------------------


def _body(size: str = "7", root: str | None = None) -> str:
    root = base64.b64encode(CHECKPOINT.root).decode() if root is None else root
    return f"{ORIGIN}\n{size}\n{root}\n"


def _hand_signed(body: str) -> str:
    return format_note(body, [sign_note(LOG_KEY, ORIGIN, body)])


@backends
def test_attack_checkpoint_of_another_log(backend: str) -> None:
    other = Checkpoint(log_origin(OTHER_LOG_KEY.public.raw), 7, CHECKPOINT.root)
    with pytest.raises(VerificationError) as caught:
        open_checkpoint(sign_checkpoint(OTHER_LOG_KEY, other), LOG_KEY.public, backend=backend)
    assert (caught.value.step, caught.value.message) == (
        "origin",
        f"checkpoint of {other.origin!r}, expected {ORIGIN!r}",
    )
    with pytest.raises(VerificationError) as caught:
        open_checkpoint(
            sign_checkpoint(LOG_KEY, CHECKPOINT), LOG_KEY.public, "shora/elsewhere", backend=backend
        )
    assert caught.value.step == "origin"


@backends
def test_attack_checkpoint_signed_by_another_key(backend: str) -> None:
    with pytest.raises(VerificationError) as caught:
        open_checkpoint(sign_checkpoint(OTHER_LOG_KEY, CHECKPOINT), LOG_KEY.public, backend=backend)
    assert caught.value.step == "checkpoint-signature"


@backends
def test_attack_forged_key_id(backend: str) -> None:
    """A signature line claiming the log's name and key id, with another key's signature bytes."""
    forged = NoteSignature(
        ORIGIN, VerifierKey(ORIGIN, LOG_KEY.public).key_id, OTHER_LOG_KEY.sign(Domain.NOTE, CHECKPOINT.body())
    )
    with pytest.raises(VerificationError) as caught:
        open_checkpoint(format_note(CHECKPOINT.body().decode(), [forged]), LOG_KEY.public, backend=backend)
    assert caught.value.step == "checkpoint-signature"


@backends
def test_attack_known_name_with_other_key_id_is_ignored(backend: str) -> None:
    impostor = sign_note(OTHER_LOG_KEY, ORIGIN, CHECKPOINT.body().decode())
    text = add_signatures(sign_checkpoint(LOG_KEY, CHECKPOINT), [impostor])
    signed = open_checkpoint(text, LOG_KEY.public, backend=backend)  # the impostor is unknown, not fatal
    assert len(signed.signatures) == 2
    with pytest.raises(VerificationError) as caught:
        open_checkpoint(format_note(CHECKPOINT.body().decode(), [impostor]), LOG_KEY.public, backend=backend)
    assert caught.value.step == "checkpoint-signature"


@backends
def test_attack_cosignature_by_unknown_key(backend: str) -> None:
    intruder = SigningKey.from_seed(b"\x55" * 32)
    names = list(_trusted())
    fake = cosign(intruder, names[0], CHECKPOINT, TIMESTAMP)  # a trusted name, an untrusted key
    stranger = cosign(intruder, witness_name(intruder.public), CHECKPOINT, TIMESTAMP)
    text = add_signatures(sign_checkpoint(LOG_KEY, CHECKPOINT), [fake, stranger])
    trusted = {name: key.public for name, key in _trusted().items()}
    with pytest.raises(VerificationError) as caught:
        verify_cosignatures(open_checkpoint(text, LOG_KEY.public), trusted, 1, backend=backend)
    assert caught.value.step == "cosignatures"


@backends
def test_attack_invalid_cosignature_by_trusted_witness(backend: str) -> None:
    name = witness_name(WITNESSES[0].public)
    good = cosign(WITNESSES[0], name, CHECKPOINT, TIMESTAMP)
    replayed = NoteSignature(name, good.key_id, (TIMESTAMP + 1).to_bytes(8, "big") + good.signature[8:])
    text = add_signatures(sign_checkpoint(LOG_KEY, CHECKPOINT), [replayed])
    with pytest.raises(VerificationError) as caught:
        verify_cosignatures(
            open_checkpoint(text, LOG_KEY.public), {name: WITNESSES[0].public}, 1, backend=backend
        )
    assert caught.value.step == "cosignatures"


@backends
def test_attack_one_witness_key_under_two_names_counts_once(backend: str) -> None:
    names = ["w.example/a", "w.example/b"]
    signatures = [cosign(WITNESSES[0], name, CHECKPOINT, TIMESTAMP) for name in names]
    signed = open_checkpoint(add_signatures(sign_checkpoint(LOG_KEY, CHECKPOINT), signatures), LOG_KEY.public)
    trusted = [(name, WITNESSES[0].public) for name in names]
    with pytest.raises(VerificationError) as caught:
        verify_cosignatures(signed, trusted, 2, backend=backend)
    assert (caught.value.step, caught.value.message) == (
        "cosignatures",
        "1 valid witness cosignatures, at least 2 required",
    )
    assert len(verify_cosignatures(signed, trusted, 1, backend=backend)) == 1


def test_attack_cosignature_for_another_checkpoint() -> None:
    name = witness_name(WITNESSES[0].public)
    elsewhere = cosign(WITNESSES[0], name, Checkpoint(ORIGIN, 8, CHECKPOINT.root), TIMESTAMP)
    signed = open_checkpoint(
        add_signatures(sign_checkpoint(LOG_KEY, CHECKPOINT), [elsewhere]), LOG_KEY.public
    )
    with pytest.raises(VerificationError) as caught:
        verify_cosignatures(signed, {name: WITNESSES[0].public}, 1)
    assert caught.value.step == "cosignatures"  # the line by the trusted witness fails its own signature
    assert re.match(rf"^{re.escape(name)}: ", caught.value.message), caught.value.message
    assert "required" not in caught.value.message


@pytest.mark.parametrize(
    ("text", "check"),
    [
        pytest.param(_body() + "\n— " + ORIGIN + " not*base64!\n", NOT_BASE64, id="bad-base64"),
        pytest.param(_body() + "\n— " + ORIGIN + " AAAAAAA\n", NOT_BASE64, id="unpadded-base64"),
        pytest.param(_body() + "— " + ORIGIN + " AAAAAAAA\n", NO_BLANK_LINE, id="missing-blank-line"),
        pytest.param(_body() + "\n", NO_SIGNATURE_LINE, id="no-signatures"),
        pytest.param(_hand_signed(_body()) + "trailing", NO_FINAL_NEWLINE, id="extra-trailing-text"),
        pytest.param(_hand_signed(_body()) + "trailing\n", NOT_A_SIGNATURE_LINE, id="extra-trailing-line"),
        pytest.param(_hand_signed(_body()).replace("\n", "\r\n", 1), CONTROL_CHAR, id="carriage-return"),
        pytest.param(_hand_signed(_body()).replace(ORIGIN, ORIGIN + "\t", 1), CONTROL_CHAR, id="tab"),
        pytest.param(_hand_signed(_body()).replace("—", "-"), NOT_A_SIGNATURE_LINE, id="no-em-dash"),
        pytest.param(
            _body() + "\n— " + ORIGIN + "\n", "a signature line is '— name signature'", id="name-only"
        ),
        pytest.param(
            _body() + "\n— " + ORIGIN + " AAAAAA==\n",
            "a note signature holds a key id and at least one byte",
            id="key-id-only",
        ),
        pytest.param(_hand_signed(_body(size="07")), BAD_SIZE, id="size-leading-zero"),
        pytest.param(_hand_signed(_body(size="-7")), BAD_SIZE, id="size-negative"),
        pytest.param(_hand_signed(_body(size="+7")), BAD_SIZE, id="size-plus"),
        pytest.param(_hand_signed(_body(size="٧")), BAD_SIZE, id="size-unicode-digit"),
        pytest.param(_hand_signed(_body(size=str(INT64_MAX + 1))), BAD_SIZE, id="size-over-int64"),
        pytest.param(
            _hand_signed(_body(root=base64.b64encode(bytes(31)).decode())), BAD_ROOT, id="root-31-bytes"
        ),
        pytest.param(
            _hand_signed(_body(root=base64.b64encode(bytes(33)).decode())), BAD_ROOT, id="root-33-bytes"
        ),
        pytest.param(
            _hand_signed(_body(root=base64.urlsafe_b64encode(b"\xff" * 32).decode())),
            NOT_BASE64,
            id="root-base64url",
        ),
        pytest.param(
            _hand_signed(_body(root=base64.b64encode(bytes(32)).decode().rstrip("="))),
            NOT_BASE64,
            id="root-unpadded",
        ),
        pytest.param(
            _hand_signed(f"{ORIGIN}\n7\n"),
            "a checkpoint has an origin, a size and a root hash line",
            id="two-lines-only",
        ),
        pytest.param(
            _hand_signed(_body() + "ext\n\n"),
            "a checkpoint extension line is one non-empty line",
            id="empty-extension",
        ),
    ],
)
def test_attack_malformed_checkpoint_note(text: str, check: str) -> None:
    with pytest.raises(DecodeError, match=f"^{check}"):
        open_checkpoint(text, LOG_KEY.public)


def test_attack_too_many_signatures() -> None:
    line = sign_checkpoint(LOG_KEY, CHECKPOINT).split("\n\n", 1)[1]
    assert parse_note(CHECKPOINT.body().decode() + "\n" + line * MAX_SIGNATURES)
    refused_note("more than 100 signatures", CHECKPOINT.body().decode() + "\n" + line * (MAX_SIGNATURES + 1))


def test_attack_oversized_note() -> None:
    refused_note(TOO_BIG, "x" * MAX_NOTE_SIZE + "\n\n" + PETER_SIG)
    refused_note(TOO_BIG, ("é" * (MAX_NOTE_SIZE // 2) + "\n\n" + PETER_SIG).encode())
    refused_note(TOO_BIG, "é" * (MAX_NOTE_SIZE // 2) + "\n\n" + PETER_SIG)  # counted in UTF-8 bytes
    # exactly 1 MiB is accepted, one byte more is not
    body = "x" * (MAX_NOTE_SIZE - len(PETER_SIG.encode()) - 2) + "\n"
    assert len((body + "\n" + PETER_SIG).encode()) == 1_048_576
    assert parse_note(body + "\n" + PETER_SIG).text == body
    assert parse_note((body + "\n" + PETER_SIG).encode()).text == body
    refused_note(TOO_BIG, "x" + body + "\n" + PETER_SIG)
    refused_note(TOO_BIG, ("x" + body + "\n" + PETER_SIG).encode())
    with pytest.raises(DecodeError, match=f"^{TOO_BIG}"):
        Note("x" + body, (parse_note(PETER_SIG.join(["x\n\n", ""])).signatures))


def test_attack_non_utf8() -> None:
    note = sign_checkpoint(LOG_KEY, CHECKPOINT).encode()
    for bad in (
        b"\xff" + note,
        note.replace(b"\xe2\x80\x94", b"\xe2\x80"),
        b"\xc0\xaf" + note,
        b"\xed\xa0\x80",
    ):
        refused_note(NOT_UTF8, bad)
    refused_note("text is not valid Unicode", "\ud800" + note.decode())
    refused_note("a signed note is text", None)  # type: ignore[arg-type]


def test_signed_checkpoint_must_match_its_note() -> None:
    signed = open_checkpoint(sign_checkpoint(LOG_KEY, CHECKPOINT), LOG_KEY.public)
    mismatch = "the note text does not hold this checkpoint and these signatures"
    with pytest.raises(DecodeError, match=f"^{mismatch}"):
        SignedCheckpoint(Checkpoint(ORIGIN, 8, CHECKPOINT.root), signed.note_text, signed.signatures)
    with pytest.raises(DecodeError, match=f"^{mismatch}"):
        SignedCheckpoint(signed.checkpoint, signed.note_text, ())


# --- properties --------------------------------------------------------------------------------------

_line_chars = st.characters(codec="utf-8", min_codepoint=0x20, exclude_characters="\n")
_names = st.text(st.characters(codec="utf-8", min_codepoint=0x20, exclude_characters="+"), min_size=1).filter(
    lambda name: not any(ch.isspace() for ch in name)
)
_signatures = st.builds(
    NoteSignature, _names, st.binary(min_size=4, max_size=4), st.binary(min_size=1, max_size=80)
)


@settings(max_examples=200)
@given(
    st.lists(st.text(_line_chars, max_size=30), min_size=1, max_size=6),
    st.lists(_signatures, min_size=1, max_size=5),
)
def test_property_note_round_trip(lines: list[str], signatures: list[NoteSignature]) -> None:
    note = Note("".join(line + "\n" for line in lines), tuple(signatures))
    assert parse_note(note.format()) == note
    assert parse_note(note.format().encode()).format() == note.format()


@settings(max_examples=200)
@given(
    st.text(_line_chars, min_size=1, max_size=40),
    st.integers(0, INT64_MAX),
    st.binary(min_size=32, max_size=32),
    st.lists(st.text(_line_chars, min_size=1, max_size=20), max_size=3),
)
def test_property_checkpoint_round_trip(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    checkpoint = Checkpoint(origin, size, root, tuple(extensions))
    assert Checkpoint.from_body(checkpoint.body()) == checkpoint
    assert Checkpoint.from_body(checkpoint.body().decode()).body() == checkpoint.body()


@settings(max_examples=50)
@given(st.integers(0, 2**40), st.binary(min_size=32, max_size=32), st.integers(0, INT64_MAX))
def test_property_signed_and_cosigned_checkpoints_open(size: int, root: bytes, timestamp: int) -> None:
    checkpoint = Checkpoint(ORIGIN, size, root)
    name = witness_name(WITNESSES[0].public)
    text = add_signatures(
        sign_checkpoint(LOG_KEY, checkpoint), [cosign(WITNESSES[0], name, checkpoint, timestamp)]
    )
    signed = open_checkpoint(text, LOG_KEY.public)
    assert verify_cosignatures(signed, {name: WITNESSES[0].public}, 1) == [Cosignature(name, timestamp)]


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_property_parse_raises_only_decode_error(data: str | bytes) -> None:
    try:
        note = parse_note(data)
    except DecodeError:
        return
    text = data if isinstance(data, str) else data.decode()
    assert note.format() == text


# --- signature lines: one text per signature ---------------------------------------------------------

# PETER_B64 encodes 68 bytes: its last character before "=" carries two unused bits, zero in canonical form.
PETER_B64_STRAY_BITS = PETER_B64[:-2] + "N="


def test_signature_line_with_stray_base64_bits_is_refused() -> None:
    """Base64 whose unused bits are set decodes to the very same signature: accepting it would give one
    signed note several texts (a malleable note, and a second copy that dedupes as a different line)."""
    assert base64.b64decode(PETER_B64_STRAY_BITS) == base64.b64decode(PETER_B64)
    stray = GO_TEXT + "\n" + f"— PeterNeumann {PETER_B64_STRAY_BITS}\n"
    refused_note(NOT_CANONICAL_BASE64, stray)
    refused_note(NOT_CANONICAL_BASE64, stray.encode())
    with pytest.raises(DecodeError, match=f"^{NOT_CANONICAL_BASE64}"):
        open_note(stray, [parse_vkey(PETER_VKEY)])


@pytest.mark.parametrize(
    ("encoded", "check"),
    [
        pytest.param(PETER_B64.rstrip("="), NOT_BASE64, id="unpadded"),
        pytest.param(PETER_B64 + "=", NOT_BASE64, id="extra-padding"),
        pytest.param(PETER_B64.replace("+", "-").replace("/", "_"), NOT_BASE64, id="base64url"),
        pytest.param(" " + PETER_B64, NOT_BASE64, id="two-spaces"),
        pytest.param("", NOT_CANONICAL_BASE64, id="empty"),
        pytest.param("AAAA", "a note signature holds a key id and at least one byte", id="key-id-only"),
        pytest.param("AAAAAA==", "a note signature holds a key id and at least one byte", id="short-key-id"),
    ],
)
def test_signature_line_base64_is_strict(encoded: str, check: str) -> None:
    refused_note(check, GO_TEXT + "\n" + f"— PeterNeumann {encoded}\n")


def test_signature_matches_only_its_own_name_and_key_id() -> None:
    key = parse_vkey(PETER_VKEY)
    sig = parse_note(GO_TEXT + "\n" + PETER_SIG).signatures[0]
    assert sig.matches(key)
    assert not NoteSignature(sig.name, bytes(4), sig.signature).matches(key)  # the right name, another key
    assert not NoteSignature("EnochRoot", sig.key_id, sig.signature).matches(key)  # the right key id
    assert not NoteSignature("EnochRoot", bytes(4), sig.signature).matches(key)


@backends
def test_two_known_keys_under_one_name_both_verify(backend: str) -> None:
    """A rotated key signs under the same name with another key id: each line counts for its own key."""
    old, new = SigningKey.from_seed(b"\x01" * 32), SigningKey.from_seed(b"\x02" * 32)
    lines = [sign_note(key, "council", GO_TEXT) for key in (old, new)]
    known = [VerifierKey("council", key.public) for key in (old, new)]
    opened = open_note(format_note(GO_TEXT, lines), known, backend=backend)
    assert opened.verified == tuple(lines) and opened.unverified == ()
    # the same line twice counts once
    assert open_note(format_note(GO_TEXT, [lines[0], lines[0]]), known, backend=backend).verified == (
        lines[0],
    )


@pytest.mark.parametrize(
    ("signature", "check"),
    [
        pytest.param(
            bytes(8) + bytes(63),
            r"shora-witness/\S+: a cosignature/v1 is a timestamp and an Ed25519 signature",
            id="short",
        ),
        pytest.param(
            bytes(8) + bytes(65),
            r"shora-witness/\S+: a cosignature/v1 is a timestamp and an Ed25519 signature",
            id="long",
        ),
        pytest.param(
            b"\x80" + bytes(7) + bytes(64),
            r"shora-witness/\S+: a cosignature timestamp is at most 2\^63-1",
            id="time-2^63",
        ),
    ],
)
def test_malformed_cosignature_by_trusted_witness(signature: bytes, check: str) -> None:
    name = witness_name(WITNESSES[0].public)
    key_id = note_key_id(name, WITNESSES[0].public, KeyKind.COSIGNATURE_V1)
    text = add_signatures(sign_checkpoint(LOG_KEY, CHECKPOINT), [NoteSignature(name, key_id, signature)])
    with pytest.raises(VerificationError, match=f"^[a-z-]+: {check}") as caught:
        verify_cosignatures(open_checkpoint(text, LOG_KEY.public), {name: WITNESSES[0].public}, 1)
    assert caught.value.step == "cosignatures"


def test_cosignature_newest_timestamp_wins_and_zero_required_passes() -> None:
    name = witness_name(WITNESSES[0].public)
    lines = [cosign(WITNESSES[0], name, CHECKPOINT, t) for t in (TIMESTAMP + 5, TIMESTAMP, TIMESTAMP + 9)]
    merged = sign_checkpoint(LOG_KEY, CHECKPOINT) + "".join(line.line() for line in lines)
    signed = open_checkpoint(merged, LOG_KEY.public)
    assert verify_cosignatures(signed, {name: WITNESSES[0].public}, 1) == [Cosignature(name, TIMESTAMP + 9)]
    assert (
        verify_cosignatures(open_checkpoint(sign_checkpoint(LOG_KEY, CHECKPOINT), LOG_KEY.public), {}, 0)
        == []
    )
    with pytest.raises(
        VerificationError, match=r"^[a-z-]+: 0 valid witness cosignatures, at least 1 required"
    ):
        verify_cosignatures(open_checkpoint(sign_checkpoint(LOG_KEY, CHECKPOINT), LOG_KEY.public), {}, 1)


def test_cosigned_message_layout() -> None:
    assert (
        cosigned_message(b"o\n7\nroot\n", 1_700_000_000) == b"cosignature/v1\ntime 1700000000\no\n7\nroot\n"
    )
    for bad in (-1, 2**63, True, "1"):
        with pytest.raises(DecodeError, match=r"^a cosignature timestamp is an integer in 0..2\^63-1"):
            cosigned_message(b"o\n", bad)  # type: ignore[arg-type]


# --- every value's own checks ------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("text", "check"),
    [
        pytest.param(1, "a verifier key is text", id="not-text"),
        pytest.param("a+XYZ+AAAA", "a verifier key's id is 8 lowercase hex digits", id="id-not-hex"),
        pytest.param("a+C74F20A3+AAAA", "a verifier key's id is 8 lowercase hex digits", id="id-upper"),
        pytest.param(
            "a+00000000+AAAA", "a verifier key holds a type byte and a 32-byte Ed25519 key", id="short"
        ),
        pytest.param(
            "a+00000000+" + _b64(b"\x09" + bytes(32)), "unsupported note signature type 0x09", id="type"
        ),
        pytest.param(
            "a+00000000+" + _b64(b"\x01" + LOG_KEY.public.raw),
            "a verifier key's id does not match its name and key",
            id="id-mismatch",
        ),
        pytest.param("a+00000000", NOT_CANONICAL_BASE64, id="no-key"),
    ],
)
def test_parse_vkey_names_the_check(text: Any, check: str) -> None:
    with pytest.raises(DecodeError, match=f"^{check}"):
        parse_vkey(text)


def test_vkey_round_trip_for_both_kinds() -> None:
    for kind in (KeyKind.ED25519, KeyKind.COSIGNATURE_V1):
        key = VerifierKey("w.example/x", LOG_KEY.public, kind)
        assert parse_vkey(key.text()) == key
        assert key.text().split("+")[1] == key.key_id.hex()
    assert VerifierKey("n", LOG_KEY.public, 4).kind is KeyKind.COSIGNATURE_V1  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("build", "check"),
    [
        pytest.param(
            lambda: VerifierKey("n", LOG_KEY.public.raw), "a verifier key holds a PublicKey", id="raw-key"
        ),
        pytest.param(lambda: NoteSignature("n", bytes(3), b"s"), "a note key id is 4 bytes", id="id-3"),
        pytest.param(lambda: NoteSignature("n", "abcd", b"s"), "a note key id is 4 bytes", id="id-text"),
        pytest.param(
            lambda: NoteSignature("n", bytes(4), b""), "a note signature is non-empty bytes", id="empty-sig"
        ),
        pytest.param(
            lambda: NoteSignature("n", bytes(4), "s"), "a note signature is non-empty bytes", id="text-sig"
        ),
        pytest.param(
            lambda: Note("no newline", (PETER,)), "note text ends with a newline", id="note-unended"
        ),
        pytest.param(lambda: Note(b"bytes\n", (PETER,)), "note text ends with a newline", id="note-bytes"),
        pytest.param(lambda: Note("t\n", ()), "a signed note has at least one signature", id="note-unsigned"),
        pytest.param(lambda: Note("t\n", (PETER,) * 101), "more than 100 signatures", id="note-101"),
        pytest.param(
            lambda: Note("t\n", ("line",)), "note signatures are NoteSignature values", id="note-str-sig"
        ),
        pytest.param(lambda: Note("t\x00\n", (PETER,)), CONTROL_CHAR, id="note-control"),
        pytest.param(
            lambda: sign_note(LOG_KEY, "n", "unended"), "note text ends with a newline", id="sign-unended"
        ),
        pytest.param(lambda: sign_note(LOG_KEY, "n", "t\x07\n"), CONTROL_CHAR, id="sign-control"),
        pytest.param(lambda: log_origin(bytes(31)), "a log id is 32 bytes", id="origin-31"),
        pytest.param(lambda: log_origin("x" * 32), "a log id is 32 bytes", id="origin-text"),
    ],
)
def test_values_check_themselves(build: Any, check: str) -> None:
    with pytest.raises(DecodeError, match=f"^{check}"):
        build()


PETER = parse_note(GO_TEXT + "\n" + PETER_SIG).signatures[0]


def test_a_note_of_exactly_100_signatures_is_accepted() -> None:
    assert len(Note("t\n", (PETER,) * 100).signatures) == 100
    assert len(parse_note("t\n\n" + PETER_SIG * 100).signatures) == 100


def test_add_signatures_replaces_every_line_of_the_same_key_by_one() -> None:
    name = witness_name(WITNESSES[0].public)
    old = [cosign(WITNESSES[0], name, CHECKPOINT, TIMESTAMP + i) for i in range(3)]
    other = cosign(WITNESSES[1], witness_name(WITNESSES[1].public), CHECKPOINT, TIMESTAMP)
    note = sign_checkpoint(LOG_KEY, CHECKPOINT) + "".join(s.line() for s in [old[0], other, old[1], old[2]])
    newest = cosign(WITNESSES[0], name, CHECKPOINT, TIMESTAMP + 9)
    merged = parse_note(add_signatures(note, [newest])).signatures
    assert [s.name for s in merged] == [ORIGIN, name, other.name] and merged[1] == newest


def test_a_checkpoint_whose_origin_is_no_key_name() -> None:
    body = "bad origin\n7\n" + _b64(CHECKPOINT.root) + "\n"
    text = format_note(body, [sign_note(LOG_KEY, "n", body)])
    with pytest.raises(
        VerificationError, match=r"^checkpoint-signature: the origin is not a usable key name"
    ) as caught:
        open_checkpoint(text, LOG_KEY.public, "bad origin")
    assert caught.value.step == "checkpoint-signature"


@pytest.mark.parametrize(
    ("body", "check"),
    [
        pytest.param(b"\xff\n", "a checkpoint is UTF-8", id="not-utf8"),
        pytest.param("o\n7\n" + "A" * 43 + "=", "a checkpoint ends with a newline", id="unended"),
        pytest.param(7, "a checkpoint ends with a newline", id="not-text"),
    ],
)
def test_checkpoint_body_checks(body: Any, check: str) -> None:
    with pytest.raises(DecodeError, match=f"^{check}"):
        Checkpoint.from_body(body)


def test_witness_name_and_origin_layout() -> None:
    assert witness_name(LOG_KEY.public) == "shora-witness/" + codec_b64u(LOG_KEY.public.raw)
    assert "shora/" + codec_b64u(LOG_KEY.public.raw) == ORIGIN
    assert CHECKPOINT.body() == f"{ORIGIN}\n7\n{_b64(CHECKPOINT.root)}\n".encode()
    assert Checkpoint(ORIGIN, 7, CHECKPOINT.root, ("ext",)).body().endswith(b"\next\n")


def test_the_size_bound_comes_before_every_other_check() -> None:
    """Too big is refused as too big, whatever else is wrong; exactly 1 MiB is judged on its contents."""
    refused_note(TOO_BIG, "é" * (MAX_NOTE_SIZE // 2 + 1))  # 1 MiB + 2 bytes in fewer characters
    refused_note(TOO_BIG, "x" * (MAX_NOTE_SIZE + 1))
    refused_note(NO_BLANK_LINE, "x" * MAX_NOTE_SIZE)
    refused_note(NO_BLANK_LINE, b"x" * MAX_NOTE_SIZE)


def test_a_note_whose_text_is_one_empty_line() -> None:
    """The blank line that ends the text may be the note's first characters: the text is then one newline."""
    assert parse_note("\n\n" + PETER_SIG).text == "\n"


# --- cosignatures: which line counts, and trust lists (survivors of the mutation run, 5 December) ---------


def test_the_newest_cosignature_wins_wherever_it_stands() -> None:
    name = witness_name(WITNESSES[0].public)
    for order in ((9, 0, 5), (0, 9, 5), (5, 9, 0)):
        lines = "".join(cosign(WITNESSES[0], name, CHECKPOINT, TIMESTAMP + t).line() for t in order)
        signed = open_checkpoint(sign_checkpoint(LOG_KEY, CHECKPOINT) + lines, LOG_KEY.public)
        newest = verify_cosignatures(signed, {name: WITNESSES[0].public}, 1)
        assert newest == [Cosignature(name, TIMESTAMP + 9)], order


def test_one_key_under_two_names_at_one_time_keeps_the_first_line() -> None:
    names = ["w.example/a", "w.example/b"]
    lines = "".join(cosign(WITNESSES[0], name, CHECKPOINT, TIMESTAMP).line() for name in names)
    signed = open_checkpoint(sign_checkpoint(LOG_KEY, CHECKPOINT) + lines, LOG_KEY.public)
    trusted = [(name, WITNESSES[0].public) for name in names]
    assert verify_cosignatures(signed, trusted, 1) == [Cosignature(names[0], TIMESTAMP)]


def test_a_cosignature_at_the_largest_timestamp_verifies() -> None:
    name = witness_name(WITNESSES[0].public)
    line = cosign(WITNESSES[0], name, CHECKPOINT, INT64_MAX)
    signed = open_checkpoint(add_signatures(sign_checkpoint(LOG_KEY, CHECKPOINT), [line]), LOG_KEY.public)
    assert verify_cosignatures(signed, {name: WITNESSES[0].public}, 1) == [Cosignature(name, INT64_MAX)]


# Two keys whose note key ids collide under the name "w" (found by a search over seeds 1, 2, …): only a
# tampered trust list holds both, and nothing signed by either can then be told apart.
COLLIDING = [SigningKey.from_seed(n.to_bytes(32, "big")) for n in (36009, 52840)]


def test_two_keys_with_one_name_and_key_id_are_refused_as_ambiguous() -> None:
    first, second = (VerifierKey("w", key.public) for key in COLLIDING)
    assert first.key_id == second.key_id == bytes.fromhex("fdc5f477") and first != second
    body = "a note\n"
    note = format_note(body, [sign_note(COLLIDING[0], "w", body)])
    for trusted in ([first, second], [second, first]):
        with pytest.raises(VerificationError) as caught:
            open_note(note, trusted)
        assert (caught.value.step, caught.value.message) == ("note-keys", "ambiguous key w+fdc5f477")
    # the same key listed twice is no ambiguity
    assert open_note(note, [first, first]).verified == parse_note(note).signatures
    assert len(verify_cosignatures(open_checkpoint(sign_checkpoint(LOG_KEY, CHECKPOINT), LOG_KEY.public),
                                   [("x", WITNESSES[0].public)] * 2, 0)) == 0  # fmt: skip


def test_a_cosignature_at_time_zero_is_made_and_verifies() -> None:
    assert cosigned_message(b"o\n7\nroot\n", 0) == b"cosignature/v1\ntime 0\no\n7\nroot\n"
    name = witness_name(WITNESSES[0].public)
    line = cosign(WITNESSES[0], name, CHECKPOINT, 0)
    signed = open_checkpoint(add_signatures(sign_checkpoint(LOG_KEY, CHECKPOINT), [line]), LOG_KEY.public)
    assert verify_cosignatures(signed, {name: WITNESSES[0].public}, 1) == [Cosignature(name, 0)]
