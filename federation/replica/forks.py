"""Fork proofs built from what a replica holds (protocol.fork): every equivocation the node can prove.

- ``prove_entries_fork``: a validly signed entry that differs from the one held at its seq. Both by the
  root key: a v1 proof. A side by a delegated key: the v2 evidence from our tree — our checkpoint that holds
  our entry, the first entry at or after that seq signed by a delegated key (its ``key_entries``) and the
  ``log/key`` entries before it, each with its inclusion path.
- ``prove_checkpoint_contradiction``: a root-signed checkpoint of size n whose root is not our tree's at n,
  while we hold a root-signed checkpoint of size m ≥ n: one size and two roots (v1), or the consistency
  proof from n to m that shows our checkpoint's root at n (v2).

Both say ``None`` when what we hold proves nothing (the caller then refuses the peer's data as bad).
Kept apart from ``ingest`` so the verification of pages can change without touching them.
"""

from __future__ import annotations

from federation.errors import BadData
from federation.store import LogStore
from protocol.bundle import KEY_COUNT, KEY_KIND, ProvenEntry
from protocol.entry import Entry
from protocol.errors import DecodeError, VerificationError
from protocol.fork import (
    ConsistencyEvidence,
    ForkProof,
    KeyEvidence,
    checkpoints_fork,
    entries_fork,
    key_evidence,
)
from protocol.keys import PublicKey
from protocol.note import Checkpoint, parse_note


def keys_valid_at(store: LogStore, root: PublicKey, seq: int) -> dict[bytes, PublicKey]:
    """The keys our copy of the log makes valid at ``seq`` (docs/protocol.md §4.5): the root key, those a
    root-signed ``log/key`` entry before ``seq`` added and none revoked before it — nor from a position at
    or before it, wherever that revocation stands in what we hold."""
    keys = {root.id: root}
    for entry in store.delegations(root.raw):
        change = _change(root, entry)
        if change is None:
            continue
        action, start, key = change
        if action == "add" and entry.seq < seq:
            keys[key.id] = key
        elif action == "revoke" and (entry.seq < seq or start <= seq):
            keys.pop(key.id, None)
    return keys


def _change(root: PublicKey, entry: Entry) -> tuple[str, int, PublicKey] | None:
    if entry.header.key_id != root.id:
        return None
    body = entry.body()
    if body.get("kind") != KEY_KIND or body.get("action") not in ("add", "revoke"):
        return None
    try:
        key = PublicKey(body.get("key"))  # type: ignore[arg-type]
    except (DecodeError, TypeError):
        return None
    if key.id == root.id:
        return None
    start = body.get("from", entry.seq)
    if not isinstance(start, int) or isinstance(start, bool) or not 0 < start <= entry.seq:
        start = entry.seq
    return body["action"], start, key


def prove_entries_fork(store: LogStore, root: PublicKey, held: Entry, offered: Entry) -> ForkProof | None:
    """``offered`` differs from ``held`` at one seq. ``BadData`` if ``offered`` is not validly signed by a
    key of the log valid there (then it is only bad data); the proof if what we hold proves the fork;
    else ``None``."""
    seq = offered.seq
    keys = keys_valid_at(store, root, seq)
    signer = keys.get(offered.header.key_id)
    if signer is None:
        raise BadData("unknown-key", f"a different entry at seq {seq}, by no key valid there")
    try:
        offered.verify_signature(signer)
    except VerificationError as exc:
        raise BadData("entry-signature", f"seq {seq}: {exc.message}") from exc
    if held.header.key_id == root.id and signer is root:
        return entries_fork(held, offered)
    evidence = held_key_evidence(store, root, held)
    return None if evidence is None else entries_fork(held, offered, evidence)


def held_key_evidence(store: LogStore, root: PublicKey, held: Entry) -> KeyEvidence | None:
    """The v2 evidence, from what we hold, of the keys valid at ``held``'s seq: our checkpoint holding it,
    the first entry from there on signed by a delegated key, and the ``log/key`` entries before that one;
    ``None`` if no checkpoint of ours holds ``held`` or our tree has no such entry up to it."""
    log_id, seq = root.raw, held.seq
    head = store.head(log_id)
    if head is None or head.checkpoint is None or head.checkpoint_size is None or head.checkpoint_size <= seq:
        return None  # no checkpoint of ours holds our entry yet
    size = head.checkpoint_size
    count = held if held.header.key_id != root.id else _first_delegated(store, root, seq, size)
    if count is None or count.body_bytes is None:
        return None
    stated = count.body().get(KEY_COUNT)
    history = [e for e in store.delegations(log_id) if e.seq < count.seq]
    if not isinstance(stated, int) or isinstance(stated, bool) or stated != len(history):
        return None

    def proven(entry: Entry) -> ProvenEntry:
        return ProvenEntry(entry, tuple(store.inclusion_proof(log_id, entry.seq, size)))

    return key_evidence(
        head.checkpoint,
        held,
        store.inclusion_proof(log_id, seq, size),
        proven(count),
        [proven(e) for e in history],
    )


def _first_delegated(store: LogStore, root: PublicKey, seq: int, end: int) -> Entry | None:
    """The first entry of ours in ``seq``..``end``-1 signed by a delegated key (it states ``key_entries``)."""
    after = seq - 1
    while after < end - 1:
        batch = store.entries(root.raw, after, min(256, end - 1 - after))
        if not batch:
            return None
        for entry in batch:
            if entry.header.key_id != root.id and entry.body_bytes is not None:
                return entry
        after = batch[-1].seq
    return None


def prove_checkpoint_contradiction(store: LogStore, log_id: bytes, offered_note: str) -> ForkProof | None:
    """A fork proof if ``offered_note`` (a checkpoint already verified under the log's key) contradicts
    the checkpoint we hold of that log, at its size or below; else ``None``."""
    head = store.head(log_id)
    if head is None or head.checkpoint is None or head.checkpoint_size is None:
        return None
    offered = Checkpoint.from_body(parse_note(offered_note).text)
    held_size = head.checkpoint_size
    if offered.size > held_size or offered.size > head.size:
        return None
    if offered.size == held_size:
        held = Checkpoint.from_body(parse_note(head.checkpoint).text)
        if held.root == offered.root:
            return None
        return checkpoints_fork(log_id, head.checkpoint, offered_note)
    ours = store.root(log_id, offered.size)
    if ours == offered.root:
        return None
    consistency = store.consistency_proof(log_id, offered.size, held_size) if offered.size else []
    evidence = ConsistencyEvidence(ours, tuple(consistency))
    return checkpoints_fork(log_id, head.checkpoint, offered_note, evidence)
