"""Every limit and interval of a node, in one typed table with its default and why (STYLE.md 9).

A node's ``node.json`` may override any of them under ``"settings"``; unknown names are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Settings:
    max_request_bytes: int = 1 << 20
    """Largest request body accepted; checked before anything is read or decoded."""
    request_timeout_s: float = 30.0
    """A request that has not completed by then is cut off (slow clients cannot hold the node)."""
    signature_window_s: int = 120
    """Signed requests are accepted only with ``created`` within this many seconds of now (DESIGN.md §3)."""
    nonce_capacity: int = 100_000
    """Nonces remembered per window; beyond it the oldest expire first and new requests are refused."""
    entries_page_max: int = 1000
    """Most entries returned by one ``GET …/entries``."""
    decisions_page_max: int = 500
    """Most decisions returned by one ``GET /v1/decisions``."""
    write_batch_max: int = 256
    """Most commands committed in one transaction by the writer (group commit)."""
    keepalive_timeout_s: float = 15.0
    """Idle keep-alive connections are closed after this long."""

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any]) -> Settings:
        known = {f.name: f.type for f in fields(cls)}
        unknown = set(overrides) - set(known)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        for name, value in overrides.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"setting {name} must be a positive number")
        return replace(cls(), **overrides)


def documented() -> dict[str, str]:
    """Each setting's docstring, read from the source, so the README table can be checked against it."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(Settings))
    docs: dict[str, str] = {}
    body = tree.body[0].body  # type: ignore[attr-defined]
    for node, after in zip(body, body[1:], strict=False):
        if isinstance(node, ast.AnnAssign) and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
            docs[node.target.id] = str(after.value.value)  # type: ignore[union-attr]
    return docs
