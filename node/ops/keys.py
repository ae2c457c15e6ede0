"""A node's keys over time, read from its own log and its data folder (issue 10).

- the **root key** (``root.key``): the log's id; it signs checkpoints and ``log/key`` entries, nothing else;
- the **signing key** (``signing.key``): a key the root key delegated with a ``log/key add`` entry; it signs
  every other entry. A folder without one (made before keys could rotate) signs with the root key;
- the **operator key** (``operator.key``, its public half in ``node.json``): what admin requests are signed
  with; it never signs an entry.

A rotation writes the next signing key to ``signing.key.new`` first, then appends the entries that make it
valid, then renames it over ``signing.key``: ``operational_key`` finishes a rotation a crash interrupted, and
drops a pending key the log never made valid. The log is the truth of which key is valid; files follow it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from federation.store import LogStore
from node.config import NodeConfig
from protocol.bundle import KEY_KIND
from protocol.entry import Entry
from protocol.keys import PublicKey, SigningKey, load_signing_key

SIGNING_KEY = "signing.key"
PENDING_SIGNING_KEY = "signing.key.new"


@dataclass
class Delegation:
    key: bytes
    added_seq: int
    revoked_seq: int | None = None
    revoked_from: int | None = None  # the first position the revocation applies to

    @property
    def valid(self) -> bool:
        return self.revoked_seq is None


def history(entries: Iterable[Entry], root: bytes) -> dict[bytes, Delegation]:
    """Every key the root key delegated, in log order, with its revocation if any (``entries``: the log's
    ``log/key`` entries; any not signed by the root key, or malformed, delegates nothing — as a verifier)."""
    root_id = PublicKey(root).id
    out: dict[bytes, Delegation] = {}
    for entry in entries:
        if entry.header.key_id != root_id or entry.body_bytes is None:
            continue
        body = entry.body()
        key = body.get("key")
        if body.get("kind") != KEY_KIND or not isinstance(key, bytes) or key == root:
            continue
        if body.get("action") == "add":
            out[key] = Delegation(key, entry.seq)
        elif body.get("action") == "revoke" and key in out and out[key].valid:
            start = body.get("from")
            out[key].revoked_seq = entry.seq
            out[key].revoked_from = start if isinstance(start, int) else entry.seq
    return out


def signer_at(
    delegations: dict[bytes, Delegation], root: PublicKey, key_id: bytes, seq: int
) -> PublicKey | None:
    """The key with ``key_id`` if it could sign entry ``seq`` as the log grew: the root key, or a key added
    before ``seq`` and not revoked before it (a back-dated ``from`` voids bundles, not the log's chain)."""
    if key_id == root.id:
        return root
    for d in delegations.values():
        if d.added_seq < seq and (d.revoked_seq is None or seq < d.revoked_seq):
            key = PublicKey(d.key)
            if key.id == key_id:
                return key
    return None


def operational_key(directory: Path, delegations: dict[bytes, Delegation]) -> SigningKey | None:
    """The signing key this folder holds that the log says is valid now, or ``None`` (sign with the root
    key). Finishes or drops a rotation a crash interrupted."""
    current, pending = directory / SIGNING_KEY, directory / PENDING_SIGNING_KEY
    if pending.exists():
        key = load_signing_key(pending)
        if _valid(key, delegations):
            os.replace(pending, current)
            return key
        pending.unlink()
    if current.exists():
        key = load_signing_key(current)
        if _valid(key, delegations):
            return key
    return None


def _valid(key: SigningKey, delegations: dict[bytes, Delegation]) -> bool:
    found = delegations.get(key.public.raw)
    return found is not None and found.valid


def signing_key_of(config: NodeConfig, store: LogStore) -> SigningKey | None:
    """``operational_key`` for a node's folder, from its own log's key history (at start-up, on the writer's
    thread and connection: a second connection opened right after a crash would wait on WAL recovery)."""
    return operational_key(config.dir, history(store.delegations(config.node_id), config.node_id))
