"""The protocol's errors: one tree, so callers can tell bad data from a failed check.

    ProtocolError
    ├── DecodeError          bytes that are not canonical, well-formed, or within limits
    ├── KeyError_            a key that cannot be loaded, or is stored unsafely
    └── VerificationError    well-formed data that fails a check; ``step`` names which one
        └── ProofError       a Merkle proof that does not verify

Every error raised from inside ``protocol`` is one of these; foreign exceptions (msgpack, cryptography,
binascii) are mapped at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base of every error the protocol layer raises."""


class DecodeError(ProtocolError):
    """Input bytes are malformed, not canonical, or exceed a limit."""


class KeyFileError(ProtocolError):
    """A key cannot be parsed or loaded, or its file is readable by others."""


class VerificationError(ProtocolError):
    """Well-formed data failed a check. ``step`` names the check, for people and for tests."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step
        self.message = message


class ProofError(VerificationError):
    """A Merkle inclusion or consistency proof does not verify."""

    def __init__(self, message: str, step: str = "proof") -> None:
        super().__init__(step, message)
