"""Words the node's messages share, whichever room prints them (the CLI, the server, doctor, restore)."""

from __future__ import annotations


def plural(count: int, one: str, many: str | None = None) -> str:
    """``1 entry``, ``2 entries``."""
    return f"{count} {one if count == 1 else many or one + 's'}"
