"""The recovery file (protocol.recovery; docs/protocol.md §12): exactly one spelling, and a damaged or foreign
copy is refused with its step, never half-read."""

from __future__ import annotations

import hashlib

import pytest

from protocol.codec import b64u
from protocol.errors import VerificationError
from protocol.keys import SigningKey
from protocol.recovery import Recovery
from protocol.sealed import BackupKey

ROOT = SigningKey.from_seed(bytes([1]) * 32)
BACKUP = BackupKey.from_secret(bytes([9]) * 32)
FILE = Recovery(ROOT, BACKUP).encode()


def with_checksum(text: str) -> bytes:
    return (text + f"checksum {hashlib.sha256(text.encode()).digest()[:8].hex()}\n").encode()


def lines(
    root_seed: bytes = ROOT.seed(), council: bytes = ROOT.public.raw, first: str = "shora-recovery/v1"
) -> str:
    return (
        f"{first}\ncouncil {b64u(council)}\nroot-key {b64u(root_seed)}\nbackup-key {b64u(BACKUP.secret())}\n"
    )


def test_round_trip_and_exact_spelling() -> None:
    assert with_checksum(lines()) == FILE
    assert FILE.startswith(b"shora-recovery/v1\ncouncil iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w\n")
    recovery = Recovery.decode(FILE)
    assert recovery.root_key.seed() == ROOT.seed() and recovery.backup_key.secret() == BACKUP.secret()
    assert recovery.council == ROOT.public.raw
    assert "AQEB" not in repr(recovery)  # no secret in a repr (the seed is 0x01 * 32: b64u "AQEB…")


def _corrupt(at: int) -> bytes:
    return FILE[:at] + (b"B" if FILE[at : at + 1] != b"B" else b"C") + FILE[at + 1 :]


OTHER = SigningKey.from_seed(bytes([5]) * 32)
ATTACKS = {
    "recovery_file_corrupted": (_corrupt(FILE.index(b"backup-key ") + 15), "recovery-checksum"),
    "recovery_root_key_corrupted": (_corrupt(FILE.index(b"root-key ") + 12), "recovery-checksum"),
    "recovery_checksum_corrupted": (
        FILE[:-3] + (b"0" if FILE[-3:-2] != b"0" else b"1") + FILE[-2:],
        "recovery-checksum",
    ),
    "recovery_truncated": (FILE[:-1], "recovery-format"),
    "recovery_line_missing": (
        with_checksum(lines().replace(f"council {b64u(ROOT.public.raw)}\n", "")),
        "recovery-format",
    ),
    "recovery_crlf": (FILE.replace(b"\n", b"\r\n"), "recovery-format"),
    "recovery_trailing_line": (FILE + b"\n", "recovery-format"),
    "recovery_other_version": (with_checksum(lines(first="shora-recovery/v2")), "recovery-version"),
    "recovery_other_council": (with_checksum(lines(council=OTHER.public.raw)), "recovery-council"),
    # 43 base64url characters carry 258 bits: a last character with low bits set spells the same 32 bytes
    "recovery_non_canonical_base64": (
        with_checksum(lines().replace(b64u(BACKUP.secret()), b64u(BACKUP.secret())[:-1] + "l")),
        "recovery-format",
    ),
    "recovery_oversize": (FILE + b"x" * 512, "recovery-format"),
    "recovery_not_text": (b"\xff" * 100, "recovery-format"),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_is_refused_with_its_step(name: str) -> None:
    data, step = ATTACKS[name]
    with pytest.raises(VerificationError) as info:
        Recovery.decode(data)
    assert info.value.step == step, info.value
