"""The recovery file: a council's root key and backup secret, the two things a restore needs that no peer
holds (docs/protocol.md §12). ``init`` writes it; the operator keeps it off the machine.

    shora-recovery/v1
    council <b64u root public key>
    root-key <b64u 32-byte Ed25519 seed>
    backup-key <b64u 32-byte X25519 secret>
    checksum <hex of SHA-256(the four lines above, newlines included)[:8]>

UTF-8 (ASCII in fact), every line ending in "\\n", nothing before or after. The checksum catches a copy
corrupted on paper or disk; the council line must be the root key's public key, so a file is never
restored under the wrong council.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from protocol.codec import b64u, unb64u
from protocol.errors import DecodeError, VerificationError
from protocol.keys import SigningKey
from protocol.sealed import BACKUP_KEY_SIZE, BackupKey

VERSION_LINE = "shora-recovery/v1"
CHECKSUM_SIZE = 8
MAX_SIZE = 512

_VERSION = re.compile(rb"shora-recovery/v[0-9]{1,9}")
_B64U_32 = r"[A-Za-z0-9_-]{43}"
_FILE = re.compile(
    rf"(shora-recovery/v1\n"
    rf"council ({_B64U_32})\n"
    rf"root-key ({_B64U_32})\n"
    rf"backup-key ({_B64U_32})\n)"
    rf"checksum ([0-9a-f]{{{2 * CHECKSUM_SIZE}}})\n"
)


@dataclass(frozen=True, eq=False)
class Recovery:
    """What a recovery file holds."""

    root_key: SigningKey
    backup_key: BackupKey

    @property
    def council(self) -> bytes:
        """The council's public log id: the root key's public key."""
        return self.root_key.public.raw

    def encode(self) -> bytes:
        text = (
            f"{VERSION_LINE}\ncouncil {b64u(self.council)}\nroot-key {b64u(self.root_key.seed())}\n"
            f"backup-key {b64u(self.backup_key.secret())}\n"
        )
        return (text + f"checksum {_checksum(text.encode())}\n").encode()

    @classmethod
    def decode(cls, data: bytes) -> Recovery:
        """A recovery file, strictly: ``recovery-version`` for another version, ``recovery-format`` for
        anything not exactly the format, ``recovery-checksum`` for a damaged copy, ``recovery-council`` if
        the root key is not the council's."""
        if type(data) is not bytes or len(data) > MAX_SIZE:
            raise VerificationError("recovery-format", f"a recovery file is at most {MAX_SIZE} bytes")
        first_line = data.split(b"\n", 1)[0]
        if _VERSION.fullmatch(first_line) and first_line != VERSION_LINE.encode():
            raise VerificationError(
                "recovery-version", f"not a version this shora reads: {first_line[:32]!r}"
            )
        match = _FILE.fullmatch(data.decode("ascii", "replace"))
        if match is None:
            raise VerificationError("recovery-format", "not a shora recovery file (v1)")
        text, council, root_seed, backup_secret, checksum = match.groups()
        if _checksum(text.encode()) != checksum:
            raise VerificationError("recovery-checksum", "the checksum does not match: this copy is damaged")
        try:
            root_key = SigningKey.from_seed(unb64u(root_seed, 32))
            backup_key = BackupKey.from_secret(unb64u(backup_secret, BACKUP_KEY_SIZE))
            council_key = unb64u(council, 32)
        except DecodeError as exc:  # a non-canonical base64url spelling that still matched the pattern
            raise VerificationError("recovery-format", str(exc)) from exc
        if root_key.public.raw != council_key:
            raise VerificationError("recovery-council", "the root key is not the key of the council named")
        return cls(root_key, backup_key)


def _checksum(text: bytes) -> str:
    return hashlib.sha256(text).digest()[:CHECKSUM_SIZE].hex()
