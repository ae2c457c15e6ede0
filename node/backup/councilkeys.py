"""The keys that may sign for a council (its root key, and the keys it delegated in its public log and has
not revoked, docs/protocol.md §4.5): who may sign its sealed segments and its record entries."""

from __future__ import annotations

from federation.store import LogStore
from protocol.bundle import KEY_KIND
from protocol.errors import DecodeError, VerificationError
from protocol.keys import PublicKey


def council_keys(store: LogStore, council: bytes) -> list[PublicKey]:
    """The root key, then every key the root key delegated in the public log held (if any) and did not
    revoke. A ``log/key`` entry not signed by the root key delegates nothing."""
    root = PublicKey(council)
    valid: dict[bytes, PublicKey] = {}
    for entry in store.delegations(council):
        try:
            entry.verify_signature(root)
            body = entry.body()
            key = PublicKey(body["key"])
        except (DecodeError, VerificationError, KeyError, TypeError):
            continue
        if body.get("kind") != KEY_KIND:
            continue
        if body.get("action") == "add":
            valid[key.id] = key
        elif body.get("action") == "revoke":
            valid.pop(key.id, None)
    return [root, *valid.values()]
