"""The two shapes exchanged with the storage and signing layers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Vis = Literal["public", "council"]


@dataclass(frozen=True)
class Draft:
    """An entry to be signed and appended; the signer adds a random 16-byte ``salt`` to council bodies."""

    vis: Vis
    body: dict[str, Any]  # has "kind"; never has "salt"


@dataclass(frozen=True)
class Appended:
    """A stored entry, as ``apply`` sees it (``id`` = the 32-byte entry id)."""

    seq: int
    id: bytes
    ts_ms: int
    vis: str
    body: dict[str, Any]
