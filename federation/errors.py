"""The one error tree of ``federation`` (drawn in the package docstring): callers catch by branch.

Each branch says what to do about it: bad data from a peer is dropped whole and the peer penalised, a
transport failure is retried with backoff, a refusal is not the peer's fault and not progress either, a
local conflict (a fork found, a frozen log, a write the store refuses) stops that log. Foreign errors
(aiohttp, sqlite, msgpack) are mapped to these where they are raised, with ``raise … from exc``.
"""

from __future__ import annotations


class FederationError(Exception):
    """Base of every error ``federation`` raises on purpose."""


# --- bad data from a peer: drop it, penalise the peer ------------------------------------------------------


class PeerDataError(FederationError):
    """A peer (or a log it relayed) sent something invalid: drop it whole, penalise the peer with
    ``reason``."""

    @property
    def reason(self) -> str:
        return str(self)


class BadData(PeerDataError):
    """A page, entry, checkpoint or fork proof that fails a check; ``step`` names the check."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step
        self.message = message


class Misbehaved(PeerDataError):
    """A gossip message that breaks the gossip protocol (bad data outside a page)."""


class ReplyError(PeerDataError):
    """A witness's answer that we cannot use: malformed, or a cosignature that does not verify.
    ``status`` is the HTTP status it came with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status, self.message = status, message


class UnreadableBody(PeerDataError):
    """A public body, already stored, without the shape of its kind: it counts nothing (aggregation)."""


# --- transport failure: retry with backoff -----------------------------------------------------------------


class TransportError(FederationError):
    """The other node could not be reached, was too slow, or sent too much: retry later."""


# --- refusal: the peer or witness said no ------------------------------------------------------------------


class Refusal(FederationError):
    """The other side answered, and said no: not bad data, but no progress either (back off).
    ``status`` is the HTTP status that says it."""

    status: int


class RemoteError(Refusal):
    """A node answered a request with an error status and an ``{"error", "message"}`` body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class WitnessError(Refusal):
    """A witness's refusal, with the HTTP status tlog-witness.md gives it (400, 403, 404, 409, 422)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status, self.message = status, message


class SizeMismatch(WitnessError):
    """409: the old size is not ``size``, the size of the newest checkpoint the witness cosigned."""

    def __init__(self, size: int) -> None:
        super().__init__(409, f"the witness holds size {size}")
        self.size = size


class PeerError(Refusal, ValueError):
    """A peer this node refuses to add: a bad key or URL (400)."""

    status = 400


# --- local conflict: this node's own state says no ---------------------------------------------------------


class LocalConflict(FederationError):
    """What this node holds forbids the operation: a fork, a frozen log, a write the store refuses."""


class Frozen(LocalConflict):
    """The log is frozen: a fork proof is held (``proof``, for the 409 answer)."""

    def __init__(self, reason: str, proof: bytes | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.proof = proof


class ForkFound(LocalConflict):
    """A fork was detected, its proof stored and the log frozen: spread ``proof`` to every peer."""

    def __init__(self, proof: bytes, reason: str = "fork") -> None:
        super().__init__(reason)
        self.proof = proof
        self.reason = reason


class StoreError(LocalConflict):
    """A write the store refuses; nothing was written."""


__all__ = [
    "BadData",
    "FederationError",
    "ForkFound",
    "Frozen",
    "LocalConflict",
    "Misbehaved",
    "PeerDataError",
    "PeerError",
    "Refusal",
    "RemoteError",
    "ReplyError",
    "SizeMismatch",
    "StoreError",
    "TransportError",
    "UnreadableBody",
    "WitnessError",
]
