"""Fork proofs: two statements by one log's keys that cannot both be true (docs/gossip.md, "Forks").

    proof = canonical msgpack map {
        "v": 1 | 2, "log_id": bin32, "kind": "entries" | "checkpoints",
        "a": side, "b": side,
        "evidence": map                  v2 only (below)
    }
    side  = {"header": bin, "signature": bin}    kind "entries": two entries at one seq, different ids
          | str                                  kind "checkpoints": two C2SP checkpoint notes

v1 (no evidence) proves what the log's **root key** signed alone: two root-signed entries at one seq (in the
order of their ids), or two checkpoints of one size with different roots (in the order of their bytes).

v2 carries the evidence a verifier needs for the rest:

- kind "entries", an entry signed by a **delegated key** (a ``log/key`` entry, protocol.bundle)::

      evidence = {"checkpoint": note,  the log's root-signed checkpoint of a tree that holds ...
                  "anchor": bin32,     ... the entry of this id (one of a, b) at the contested seq,
                  "path": [bin32, …],  by this inclusion path;
                  "count": proven,     an entry of that tree at or after the contested seq, signed by a
                                       delegated key: its body's ``key_entries`` says how many ``log/key``
                                       entries precede it, so none can be left out;
                  "keys": [proven, …]} exactly those ``log/key`` entries, in log order
      proven   = {"header", "signature", "body", "proof"}    an entry with its inclusion path in "checkpoint"

  Each side is signed by the root key or by a key the root-signed tree makes valid at the contested seq
  (added before it, not revoked before it, nor by a later revocation whose ``from`` is at or before it).
  The tree the root signed holds one of the two entries: a second one, signed by a key of the log valid
  there, is the log speaking twice for one position.

- kind "checkpoints", two checkpoints of **different sizes** n < m, a (size n) first::

      evidence = {"root": bin32, "consistency": [bin32, …]}

  ``consistency`` proves that the tree of size m (b) has root ``root`` at size n, which is not a's root: the
  root key signed two trees that no append-only log can both be.

A proof is self-verifying: anyone holding the log id (the log's root public key) checks it with
``verify_fork_proof`` and needs nothing else. Sides carry no bodies (a council body never travels).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Literal

from protocol import codec, merkle
from protocol.bundle import KEY_COUNT, KEY_KIND, MAX_KEYS, MAX_PROOF, ProvenEntry
from protocol.entry import Entry
from protocol.errors import DecodeError, VerificationError
from protocol.keys import PUBLIC_KEY_SIZE, PublicKey
from protocol.note import Checkpoint, SignedCheckpoint, open_checkpoint, parse_note

FORK_VERSION = 1
EVIDENCE_VERSION = 2
ForkKind = Literal["entries", "checkpoints"]
FORK_KINDS: tuple[ForkKind, ...] = ("entries", "checkpoints")
# Two headers (≤ 256 bytes each) or two notes (cosignatures included, a few KiB in practice); v2 evidence
# adds at most 64 key entries with their paths.
FORK_LIMITS = codec.Limits(max_size=128 * 1024, max_depth=5, max_length=64 * 1024)
_PROVEN = {"header", "signature", "body", "proof"}


@dataclass(frozen=True, slots=True)
class KeyEvidence:
    """Why a delegated key was valid at the contested seq (module docstring, v2 "entries")."""

    checkpoint: str
    anchor: bytes
    path: tuple[bytes, ...]
    count: ProvenEntry
    keys: tuple[ProvenEntry, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.checkpoint, str):
            raise DecodeError("the evidence's checkpoint is note text")
        if not isinstance(self.anchor, bytes) or len(self.anchor) != merkle.HASH_SIZE:
            raise DecodeError("the evidence's anchor is an entry id")
        if len(self.path) > MAX_PROOF or not all(isinstance(h, bytes) for h in self.path):
            raise DecodeError("an inclusion path is at most 64 hashes")
        if len(self.keys) > MAX_KEYS:
            raise DecodeError(f"at most {MAX_KEYS} key entries")

    def to_value(self) -> dict[str, Any]:
        return {
            "checkpoint": self.checkpoint,
            "anchor": self.anchor,
            "path": list(self.path),
            "count": self.count.to_value(),
            "keys": [k.to_value() for k in self.keys],
        }

    @classmethod
    def from_value(cls, value: object) -> KeyEvidence:
        if not isinstance(value, dict) or set(value) != {"checkpoint", "anchor", "path", "count", "keys"}:
            raise DecodeError("key evidence is a map of checkpoint, anchor, path, count and keys")
        if not isinstance(value["path"], list) or not isinstance(value["keys"], list):
            raise DecodeError("path and keys are lists")
        if len(value["keys"]) > MAX_KEYS:
            raise DecodeError(f"at most {MAX_KEYS} key entries")
        keys = tuple(_proven(k) for k in value["keys"])
        return cls(value["checkpoint"], value["anchor"], tuple(value["path"]), _proven(value["count"]), keys)


@dataclass(frozen=True, slots=True)
class ConsistencyEvidence:
    """The larger checkpoint's root at the smaller one's size, and the consistency proof that says so."""

    root: bytes
    consistency: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.root, bytes) or len(self.root) != merkle.HASH_SIZE:
            raise DecodeError("the evidence's root is a 32-byte hash")
        if len(self.consistency) > MAX_PROOF or not all(isinstance(h, bytes) for h in self.consistency):
            raise DecodeError("a consistency proof is at most 64 hashes")

    def to_value(self) -> dict[str, Any]:
        return {"root": self.root, "consistency": list(self.consistency)}

    @classmethod
    def from_value(cls, value: object) -> ConsistencyEvidence:
        if not isinstance(value, dict) or set(value) != {"root", "consistency"}:
            raise DecodeError("consistency evidence is a map of root and consistency")
        if not isinstance(value["consistency"], list):
            raise DecodeError("consistency is a list")
        return cls(value["root"], tuple(value["consistency"]))


Evidence = KeyEvidence | ConsistencyEvidence


def _proven(value: object) -> ProvenEntry:
    if not isinstance(value, dict) or set(value) != _PROVEN:
        raise DecodeError("a proven entry has header, signature, body and proof")
    if not isinstance(value["proof"], list):
        raise DecodeError("proof is a list")
    return ProvenEntry(Entry(value["header"], value["signature"], value["body"]), tuple(value["proof"]))


@dataclass(frozen=True, slots=True)
class ForkProof:
    """Two contradicting statements of ``log_id``, in canonical order, with the v2 ``evidence`` if any.
    Constructing one checks shapes only; ``verify_fork_proof`` checks the signatures and the contradiction."""

    log_id: bytes
    kind: ForkKind
    a: Entry | str
    b: Entry | str
    evidence: Evidence | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.log_id, bytes) or len(self.log_id) != PUBLIC_KEY_SIZE:
            raise DecodeError("a fork proof's log_id is 32 bytes")
        if self.kind == "entries":
            if not isinstance(self.a, Entry) or not isinstance(self.b, Entry):
                raise DecodeError("an entries fork proof holds two entries")
            if self.evidence is not None and not isinstance(self.evidence, KeyEvidence):
                raise DecodeError("an entries fork proof's evidence is a key history")
            a, b = self.a.without_body(), self.b.without_body()
            if b.id < a.id:
                a, b = b, a
            object.__setattr__(self, "a", a)
            object.__setattr__(self, "b", b)
        elif self.kind == "checkpoints":
            if not isinstance(self.a, str) or not isinstance(self.b, str):
                raise DecodeError("a checkpoints fork proof holds two checkpoint notes")
            if self.evidence is not None and not isinstance(self.evidence, ConsistencyEvidence):
                raise DecodeError("a checkpoints fork proof's evidence is a consistency proof")
            if self.evidence is None:
                swap = self.b.encode() < self.a.encode()
            else:
                swap = _note_size(self.b) < _note_size(self.a)
            if swap:
                first, second = self.b, self.a
                object.__setattr__(self, "a", first)
                object.__setattr__(self, "b", second)
        else:
            raise DecodeError(f"unknown fork kind {self.kind!r}")

    @property
    def version(self) -> int:
        return FORK_VERSION if self.evidence is None else EVIDENCE_VERSION

    def encode(self) -> bytes:
        value: dict[str, Any] = {
            "v": self.version,
            "log_id": self.log_id,
            "kind": self.kind,
            "a": _side(self.a),
            "b": _side(self.b),
        }
        if self.evidence is not None:
            value["evidence"] = self.evidence.to_value()
        return codec.encode(value)

    @classmethod
    def decode(cls, data: bytes) -> ForkProof:
        value = codec.decode(data, FORK_LIMITS)
        if not isinstance(value, dict) or "v" not in value:
            raise DecodeError("a fork proof is a map of v, log_id, kind, a, b (and evidence in v2)")
        version = value["v"]
        if type(version) is not int or version not in (FORK_VERSION, EVIDENCE_VERSION):
            raise DecodeError(f"unknown fork proof version {version!r}")
        fields = {"v", "log_id", "kind", "a", "b"}
        if version == EVIDENCE_VERSION:
            fields.add("evidence")
        if set(value) != fields:
            if version == FORK_VERSION:
                raise DecodeError("a fork proof is a map of v, log_id, kind, a and b")
            raise DecodeError("a v2 fork proof is a map of v, log_id, kind, a, b and evidence")
        kind = value["kind"]
        if kind not in FORK_KINDS:
            raise DecodeError(f"unknown fork kind {kind!r}")
        evidence: Evidence | None = None
        if version == EVIDENCE_VERSION:
            evidence = (
                KeyEvidence.from_value(value["evidence"])
                if kind == "entries"
                else ConsistencyEvidence.from_value(value["evidence"])
            )
        proof = cls(value["log_id"], kind, _unside(kind, value["a"]), _unside(kind, value["b"]), evidence)
        if proof.encode() != bytes(data):
            raise DecodeError("the fork proof is not in canonical order")
        return proof

    @property
    def position(self) -> int:
        """The contested seq (entries) or the (smaller) tree size (checkpoints)."""
        if isinstance(self.a, Entry):
            return self.a.seq
        return _note_size(self.a)

    def describe(self) -> str:
        if self.kind == "entries":
            by = " (by a delegated key)" if self.evidence is not None else ""
            return f"fork: two entries at seq {self.position}{by}"
        if isinstance(self.b, str) and self.evidence is not None:
            return f"fork: checkpoints of sizes {self.position} and {_note_size(self.b)} disagree"
        return f"fork: two checkpoints of size {self.position}"


def _note_size(note: str) -> int:
    return Checkpoint.from_body(parse_note(note).text).size


def _side(side: Entry | str) -> Any:
    if isinstance(side, Entry):
        return {"header": side.header_bytes, "signature": side.signature}
    return side


def _unside(kind: str, value: object) -> Entry | str:
    if kind == "entries":
        if not isinstance(value, dict) or set(value) != {"header", "signature"}:
            raise DecodeError("an entry in a fork proof has a header and a signature, no body")
        return Entry(value["header"], value["signature"])
    if not isinstance(value, str):
        raise DecodeError("a checkpoint in a fork proof is note text")
    return value


def entries_fork(held: Entry, offered: Entry, evidence: KeyEvidence | None = None) -> ForkProof:
    """The proof for two entries of one log at one seq (bodies dropped); ``evidence`` if a side is signed
    by a delegated key (``key_evidence``)."""
    return ForkProof(held.header.log_id, "entries", held, offered, evidence)


def key_evidence(
    checkpoint: str, anchor: Entry, path: Sequence[bytes], count: ProvenEntry, keys: Sequence[ProvenEntry]
) -> KeyEvidence:
    """The evidence that the keys of an entries fork were valid at its seq (module docstring)."""
    return KeyEvidence(checkpoint, anchor.id, tuple(path), count, tuple(keys))


def checkpoints_fork(
    log_id: bytes, held: str, offered: str, evidence: ConsistencyEvidence | None = None
) -> ForkProof:
    """The proof for two checkpoint notes of ``log_id``: one size and two roots, or (with ``evidence``) two
    sizes whose trees disagree."""
    return ForkProof(log_id, "checkpoints", held, offered, evidence)


def verify_fork_proof(data: bytes, *, backend: str | None = None) -> ForkProof:
    """Decode a fork proof and check it proves a fork of its log; raise ``DecodeError`` or
    ``VerificationError`` (step ``fork``) otherwise."""
    proof = ForkProof.decode(data)
    if proof.a == proof.b:
        raise VerificationError("fork", "the same statement twice is no fork")
    if isinstance(proof.a, Entry) and isinstance(proof.b, Entry):
        evidence = proof.evidence if isinstance(proof.evidence, KeyEvidence) else None
        _verify_entries(proof.log_id, proof.a, proof.b, evidence, backend)
    elif isinstance(proof.a, str) and isinstance(proof.b, str):
        consistency = proof.evidence if isinstance(proof.evidence, ConsistencyEvidence) else None
        _verify_checkpoints(proof.log_id, proof.a, proof.b, consistency, backend)
    return proof


def _log_key(log_id: bytes) -> PublicKey:
    try:
        return PublicKey(log_id)
    except DecodeError as exc:
        raise VerificationError("fork", f"the log id is not a usable key: {exc}") from exc


def _verify_entries(
    log_id: bytes, a: Entry, b: Entry, evidence: KeyEvidence | None, backend: str | None
) -> None:
    root = _log_key(log_id)
    for entry in (a, b):
        if entry.header.log_id != log_id:
            raise VerificationError("fork", "an entry belongs to another log")
    if a.seq != b.seq:
        raise VerificationError("fork", f"entries at seq {a.seq} and {b.seq} do not contend for one seq")
    if a.id == b.id:
        raise VerificationError("fork", "the same entry twice is no fork")
    keys = {root.id: root} if evidence is None else _valid_keys(root, a, b, evidence, backend)
    for entry in (a, b):
        key = keys.get(entry.header.key_id)
        if key is None:
            raise VerificationError(
                "fork",
                f"entry {entry.seq} is not signed by the log's root key"
                + (
                    " (a delegated key needs the v2 evidence)"
                    if evidence is None
                    else " nor a key valid there"
                ),
            )
        try:
            entry.verify_signature(key, backend=backend)
        except VerificationError as exc:
            raise VerificationError("fork", f"entry {entry.seq}: {exc.message}") from exc


def _valid_keys(
    root: PublicKey, a: Entry, b: Entry, evidence: KeyEvidence, backend: str | None
) -> dict[bytes, PublicKey]:
    """The keys the root-signed tree of ``evidence`` makes valid at the contested seq (and the root key)."""
    seq = a.seq
    checkpoint = _open(root.raw, evidence.checkpoint, backend).checkpoint
    if evidence.anchor not in (a.id, b.id):
        raise VerificationError("fork", "the evidence anchors neither entry")
    _included(evidence.anchor, seq, evidence.path, checkpoint, "the anchored entry")
    count = evidence.count.entry
    try:
        if count.header.log_id != root.raw:
            raise DecodeError("it belongs to another log")
        count.check_body()
        stated = count.body().get(KEY_COUNT)
    except DecodeError as exc:
        raise VerificationError("fork", f"the counting entry: {exc}") from exc
    if count.seq < seq:
        raise VerificationError("fork", "the counting entry comes before the contested seq")
    if not isinstance(stated, int) or isinstance(stated, bool) or stated < 0:
        raise VerificationError("fork", f"the counting entry states no {KEY_COUNT}")
    _included(count.id, count.seq, evidence.count.proof, checkpoint, "the counting entry")
    history = [p.entry for p in evidence.keys]
    if len(history) != stated:
        raise VerificationError(
            "fork", f"the counting entry follows {stated} log/key entries, not {len(history)}"
        )
    seqs = [e.seq for e in history]
    if any(x >= y for x, y in pairwise(seqs)) or (seqs and seqs[-1] >= count.seq):
        raise VerificationError("fork", "the key history is the log/key entries before the count, in order")
    changes: list[tuple[int, str, int, PublicKey]] = []  # (seq, action, from, key)
    for proven in evidence.keys:
        entry = proven.entry
        try:
            if entry.header.log_id != root.raw:
                raise DecodeError("it belongs to another log")
            entry.check_body()
            entry.verify_signature(root, backend=backend)
            body = entry.body()
            if body.get("kind") != KEY_KIND or body.get("action") not in ("add", "revoke"):
                raise DecodeError("not a log/key entry that adds or revokes")
            key = PublicKey(body.get("key"))  # type: ignore[arg-type]
        except (DecodeError, VerificationError, TypeError) as exc:
            raise VerificationError("fork", f"key history entry {entry.seq}: {exc}") from exc
        _included(entry.id, entry.seq, proven.proof, checkpoint, f"key history entry {entry.seq}")
        start = body.get("from", entry.seq)
        if not isinstance(start, int) or isinstance(start, bool) or not 0 < start <= entry.seq:
            raise VerificationError("fork", f"key history entry {entry.seq}: from is a position not after it")
        changes.append((entry.seq, body["action"], start, key))
    valid = _keys_at(root, changes, seq)
    signer = _keys_at(root, changes, count.seq).get(count.header.key_id)
    if signer is None or signer is root:
        raise VerificationError("fork", "the counting entry is not signed by a delegated key valid there")
    try:
        count.verify_signature(signer, backend=backend)
    except VerificationError as exc:
        raise VerificationError("fork", f"the counting entry: {exc.message}") from exc
    return valid


def _keys_at(
    root: PublicKey, changes: Sequence[tuple[int, str, int, PublicKey]], seq: int
) -> dict[bytes, PublicKey]:
    """The keys valid at ``seq``: the root, those added before it, less those revoked before it or from a
    position at or before it (a back-dated revocation, wherever it stands)."""
    keys = {root.id: root}
    for at, action, start, key in changes:
        if key.id == root.id:
            continue
        if action == "add" and at < seq:
            keys[key.id] = key
        elif action == "revoke" and (at < seq or start <= seq):
            keys.pop(key.id, None)
    return keys


def _included(leaf: bytes, seq: int, path: Sequence[bytes], checkpoint: Checkpoint, what: str) -> None:
    try:
        merkle.verify_inclusion(leaf, seq, checkpoint.size, path, checkpoint.root)
    except VerificationError as exc:
        raise VerificationError("fork", f"{what} is not in the checkpoint's tree: {exc.message}") from exc


def _open(log_id: bytes, note: str, backend: str | None) -> SignedCheckpoint:
    try:
        return open_checkpoint(note, _log_key(log_id), backend=backend)
    except (DecodeError, VerificationError) as exc:
        raise VerificationError("fork", f"{getattr(exc, 'step', 'checkpoint')}: {exc}") from exc


def _verify_checkpoints(
    log_id: bytes, a: str, b: str, evidence: ConsistencyEvidence | None, backend: str | None
) -> None:
    first = _open(log_id, a, backend).checkpoint
    second = _open(log_id, b, backend).checkpoint
    if evidence is None:
        if first.size != second.size:
            raise VerificationError(
                "fork", f"checkpoints of sizes {first.size} and {second.size} do not contend"
            )
        if first.root == second.root:
            raise VerificationError("fork", "two notes of one tree head are no fork")
        return
    if not first.size < second.size:
        raise VerificationError("fork", "checkpoints of two sizes, the smaller first")
    if evidence.root == first.root:
        raise VerificationError("fork", f"the larger tree agrees with the smaller at size {first.size}")
    try:
        merkle.verify_consistency(first.size, second.size, evidence.root, second.root, evidence.consistency)
    except VerificationError as exc:
        raise VerificationError("fork", f"consistency: {exc.message}") from exc
