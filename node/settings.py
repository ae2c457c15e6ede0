"""Every limit and interval of a node, in one typed table with its default and why (STYLE.md 9).

A node's ``node.json`` may override any of them under ``"settings"``; unknown names are refused. The README's
settings table is checked against ``documented()`` by a test, so the two cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any


def _setting(default: float, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class Settings:
    max_request_bytes: int = _setting(1 << 20, "largest request body accepted, checked before it is read")
    request_timeout_s: float = _setting(30.0, "outbound calls give up after this long")
    handler_timeout_s: float = _setting(60.0, "an inbound request still unanswered after this long gets 408")
    signature_window_s: int = _setting(120, "signed requests must be created within this many seconds of now")
    nonce_capacity: int = _setting(
        100_000, "nonces remembered per window; when full, new requests are refused"
    )
    entries_page_max: int = _setting(1000, "most entries returned by one GET …/entries")
    decisions_page_max: int = _setting(500, "most decisions returned by one GET /v1/decisions")
    write_batch_max: int = _setting(256, "most commands committed in one transaction (group commit)")
    signer_chunk: int = _setting(
        32,
        "a large batch's entries are signed in a child process, on another core, this many at a time; "
        "above 256, never",
    )
    keepalive_timeout_s: float = _setting(15.0, "idle keep-alive connections are closed after this long")
    gossip_interval_s: float = _setting(
        10.0, "mean seconds between gossip rounds with a random peer (± 50 %)"
    )
    doctor_timeout_s: float = _setting(5.0, "`shora doctor` waits this long for the node and each peer")
    doctor_max_skew_s: int = _setting(
        30, "`shora doctor` warns when a peer's clock is further off than this (requests allow 120 s)"
    )
    doctor_min_free_mib: int = _setting(512, "`shora doctor` warns when the disk has less free space (MiB)")

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any]) -> Settings:
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        for name, value in overrides.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"setting {name} must be a positive number")
        return replace(cls(), **overrides)


def documented() -> dict[str, tuple[Any, str]]:
    """Each setting's default and what it is for."""
    return {f.name: (f.default, f.metadata["doc"]) for f in fields(Settings)}
