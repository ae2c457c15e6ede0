"""The ``log/key`` entry both kinds of node carry (protocol.bundle, docs/protocol.md §4.4–4.5): the root key
adds a signing key, or revokes one — from its own position, or from an earlier ``from`` position when the
key was compromised before anyone noticed.

    {"kind": "log/key", "action": "add" | "revoke", "key": bin32 [, "from": uint, revoke only]}

The governance state does not change: which key may sign is the log's business, checked by every verifier
from the entries themselves. The machines only insist the entry is well-formed, so a malformed one cannot
enter the log and then fail every replay.
"""

from __future__ import annotations

from typing import Any

from node.rules.council.fields import check_bytes, exact_keys, get_int, malformed
from node.rules.council.log import Appended

KIND = "log/key"
KEY_LEN = 32


def check(body: dict[str, Any], seq: int | None = None) -> None:
    """A well-formed ``log/key`` body (``seq``: the position it is stored at, when known)."""
    action = body.get("action")
    if action == "add":
        exact_keys(body, {"kind", "action", "key"}, KIND)
    elif action == "revoke":
        if "from" in body:
            exact_keys(body, {"kind", "action", "key", "from"}, KIND)
            start = get_int(body, "from")
            if start < 1 or (seq is not None and start > seq):
                raise malformed("a revocation's from is a position after entry 0 and not after itself")
        else:
            exact_keys(body, {"kind", "action", "key"}, KIND)
    else:
        raise malformed("a log/key entry adds or revokes a key")
    check_bytes(body["key"], "key", KEY_LEN)


def judge(body: dict[str, Any], entry: Appended | None) -> None:
    """The machines' handler: judge only; nothing in the governance state changes."""
    check(body, None if entry is None else entry.seq)
