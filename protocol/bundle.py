"""The decision bundle: everything a member needs to verify one entry offline (DESIGN.md §3).

    bundle = canonical msgpack map {
        "v": 1,
        "entry":      {"header": bin, "signature": bin, "body": bin},
        "proof":      [bin32, …],          inclusion path of the entry (index = seq) in the checkpoint's tree
        "checkpoint": str,                 C2SP signed note: the log's signature and witnesses' cosignatures
        "keys":       [{"header", "signature", "body", "proof"}, …]   key history (see below)
        "founding":   {"header", "signature", "body", "proof"}        the log's entry 0, naming the council
    }

A log's root key (its ``log_id``) may sign every entry. It may also delegate: a public entry of kind
``log/key`` signed by the root key, ``{"kind": "log/key", "action": "add" | "revoke", "key": bin32}``,
makes ``key`` valid for the entries after it until a later revocation. A revocation may carry ``"from":
uint`` (at most its own seq): the key is then invalid from that position on, already — how a key found
compromised late is revoked from the position it was stolen at. The bundle carries those entries (with
their own inclusion proofs in the same checkpoint) for the key that signed the decision, revocations after
the decision included.

``verify_bundle`` checks, in this order, and names the step that failed: ``encoding``, ``log``,
``body-hash``, ``checkpoint-signature`` (and ``origin``), ``unknown-key``, ``entry-signature``,
``inclusion``, ``founding``, ``cosignatures``. The founding entry (seq 0, signed by the root key, in the same
checkpoint) is what tells a member *which* council the key belongs to, in its own signed words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from protocol import codec, merkle
from protocol.entry import Entry
from protocol.errors import DecodeError, VerificationError
from protocol.keys import PublicKey, key_id
from protocol.note import Checkpoint, Cosignature, open_checkpoint, verify_cosignatures

BUNDLE_VERSION = 1
KEY_KIND = "log/key"
FOUNDING_KIND = "council/found"
BUNDLE_LIMITS = codec.Limits(max_size=2 * 1024 * 1024, max_depth=4, max_length=300_000)
MAX_PROOF = 64
MAX_KEYS = 64


@dataclass(frozen=True, slots=True)
class ProvenEntry:
    """An entry with its body and its inclusion path in the bundle's checkpoint."""

    entry: Entry
    proof: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if self.entry.body_bytes is None:
            raise DecodeError("a bundled entry carries its body")
        if len(self.proof) > MAX_PROOF or not all(isinstance(h, bytes) for h in self.proof):
            raise DecodeError("an inclusion path is at most 64 hashes")

    def to_value(self) -> dict[str, Any]:
        return {
            "header": self.entry.header_bytes,
            "signature": self.entry.signature,
            "body": self.entry.body_bytes,
            "proof": list(self.proof),
        }

    @classmethod
    def from_value(cls, value: object) -> ProvenEntry:
        if not isinstance(value, dict) or set(value) != {"header", "signature", "body", "proof"}:
            raise DecodeError("a bundled entry has header, signature, body and proof")
        if not isinstance(value["proof"], list):
            raise DecodeError("proof is a list")
        return cls(Entry(value["header"], value["signature"], value["body"]), tuple(value["proof"]))


@dataclass(frozen=True, slots=True)
class Bundle:
    decision: ProvenEntry
    checkpoint: str
    founding: ProvenEntry
    keys: tuple[ProvenEntry, ...] = ()

    def encode(self) -> bytes:
        decision = self.decision.to_value()
        return codec.encode(
            {
                "v": BUNDLE_VERSION,
                "entry": {k: decision[k] for k in ("header", "signature", "body")},
                "proof": decision["proof"],
                "checkpoint": self.checkpoint,
                "keys": [key.to_value() for key in self.keys],
                "founding": self.founding.to_value(),
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> Bundle:
        value = codec.decode(data, BUNDLE_LIMITS)
        if not isinstance(value, dict) or set(value) != {
            "v",
            "entry",
            "proof",
            "checkpoint",
            "keys",
            "founding",
        }:
            raise DecodeError("a bundle is a map of v, entry, proof, checkpoint, keys and founding")
        if value["v"] != BUNDLE_VERSION or isinstance(value["v"], bool):
            raise DecodeError(f"unknown bundle version {value['v']!r}")
        if not isinstance(value["entry"], dict) or not isinstance(value["checkpoint"], str):
            raise DecodeError("bundle entry is a map and checkpoint is note text")
        # Exactly these keys: an extra "proof" inside "entry" would otherwise be silently overridden,
        # giving one bundle two encodings.
        if set(value["entry"]) != {"header", "signature", "body"}:
            raise DecodeError("bundle entry has header, signature and body")
        if not isinstance(value["keys"], list) or len(value["keys"]) > MAX_KEYS:
            raise DecodeError("bundle keys is a list of at most 64 entries")
        decision = ProvenEntry.from_value({**value["entry"], "proof": value["proof"]})
        keys = tuple(ProvenEntry.from_value(k) for k in value["keys"])
        return cls(decision, value["checkpoint"], ProvenEntry.from_value(value["founding"]), keys)


@dataclass(frozen=True, slots=True)
class VerifiedEntry:
    """What ``verify_bundle`` vouches for."""

    log_id: bytes
    seq: int
    id: bytes
    ts_ms: int
    vis: str
    body: dict[str, Any]
    checkpoint: Checkpoint
    cosigners: tuple[Cosignature, ...]
    signing_key: bytes
    council: dict[str, Any]  # the founding entry's profile: name, name_fa, city, country, continent


def verify_bundle(
    data: bytes,
    council_key: PublicKey,
    witnesses: Mapping[str, PublicKey] | Iterable[tuple[str, PublicKey]] = (),
    min_cosignatures: int = 0,
    *,
    backend: str | None = None,
) -> VerifiedEntry:
    """Verify a bundle offline against the council's root key; return the entry or raise naming the step."""
    try:
        bundle = Bundle.decode(data)
    except DecodeError as exc:
        raise VerificationError("encoding", str(exc)) from exc
    decision = bundle.decision.entry
    header = decision.header
    if header.log_id != council_key.raw:
        raise VerificationError("log", "the entry belongs to another council's log")
    try:
        decision.check_body()
    except DecodeError as exc:
        raise VerificationError("body-hash", str(exc)) from exc
    try:
        signed = open_checkpoint(bundle.checkpoint, council_key, backend=backend)
    except DecodeError as exc:
        raise VerificationError("checkpoint-signature", str(exc)) from exc
    checkpoint = signed.checkpoint
    signer = _signing_key(bundle, council_key, checkpoint, backend)
    try:
        decision.verify_signature(signer, backend=backend)
    except VerificationError as exc:
        raise VerificationError("entry-signature", exc.message) from exc
    _verify_included(bundle.decision, checkpoint)
    council = _founding(bundle.founding, council_key, checkpoint, backend)
    cosigners = verify_cosignatures(signed, witnesses, min_cosignatures, backend=backend)
    return VerifiedEntry(
        header.log_id,
        header.seq,
        decision.id,
        header.ts_ms,
        header.vis,
        decision.body(),
        checkpoint,
        tuple(cosigners),
        signer.raw,
        council,
    )


def _founding(
    proven: ProvenEntry, root: PublicKey, checkpoint: Checkpoint, backend: str | None
) -> dict[str, Any]:
    entry = proven.entry
    if entry.header.log_id != root.raw or entry.seq != 0:
        raise VerificationError("founding", "the founding entry is not entry 0 of this council's log")
    try:
        entry.verify_signature(root, backend=backend)
        body = entry.body()
    except (DecodeError, VerificationError) as exc:
        raise VerificationError("founding", f"the founding entry is invalid: {exc}") from exc
    _verify_included(proven, checkpoint)
    profile = body.get("profile")
    if body.get("kind") != FOUNDING_KIND or not isinstance(profile, dict):
        raise VerificationError("founding", "entry 0 does not found a council")
    return profile


def _verify_included(proven: ProvenEntry, checkpoint: Checkpoint) -> None:
    seq = proven.entry.seq
    try:
        merkle.verify_inclusion(proven.entry.id, seq, checkpoint.size, proven.proof, checkpoint.root)
    except VerificationError as exc:
        raise VerificationError(
            "inclusion", f"entry {seq} is not in the checkpoint's tree: {exc.message}"
        ) from exc


def _signing_key(bundle: Bundle, root: PublicKey, checkpoint: Checkpoint, backend: str | None) -> PublicKey:
    """The key that signed the decision, proven valid at its position by the bundle's key history.

    Only positions count, never a clock: an ``add`` before the decision makes the key valid, a ``revoke``
    before it ends that, and so does a later ``revoke`` whose ``from`` is at or before the decision — a key
    found compromised is revoked from the position it was stolen at, which may be in the past."""
    wanted = bundle.decision.entry.header.key_id
    if wanted == root.id:
        return root
    seq = bundle.decision.entry.seq
    valid: PublicKey | None = None
    for proven in sorted(bundle.keys, key=lambda p: p.entry.seq):
        entry = proven.entry
        if entry.header.log_id != root.raw:
            continue
        if entry.seq >= seq and not _revokes(entry, wanted):
            continue  # after the decision only a revocation of its key can matter
        key, body = _key_entry(proven, root, checkpoint, backend)
        if key.id != wanted:
            continue
        if body.get("action") == "add" and entry.seq < seq:
            valid = key
        elif body.get("action") == "revoke":
            start = body.get("from", entry.seq)
            if not isinstance(start, int) or isinstance(start, bool) or not 0 < start <= entry.seq:
                raise VerificationError(
                    "unknown-key", f"key history entry {entry.seq}: from is a position not after it"
                )
            if start <= seq:
                valid = None
    if valid is None:
        raise VerificationError(
            "unknown-key",
            "the signing key is neither the root key nor delegated by it at the entry's position "
            "(never added, or revoked)",
        )
    return valid


def _revokes(entry: Entry, wanted: bytes) -> bool:
    """Whether ``entry`` says it revokes the key with id ``wanted`` (not yet verified)."""
    try:
        entry.check_body()
        body = entry.body()
    except DecodeError:
        return False
    key = body.get("key")
    return (
        body.get("kind") == KEY_KIND
        and body.get("action") == "revoke"
        and isinstance(key, bytes)
        and len(key) == 32
        and key_id(key) == wanted
    )


def _key_entry(
    proven: ProvenEntry, root: PublicKey, checkpoint: Checkpoint, backend: str | None
) -> tuple[PublicKey, dict[str, Any]]:
    """A key history entry, verified: signed by the root key, in the checkpoint, a ``log/key`` entry."""
    entry = proven.entry
    try:
        entry.check_body()
        entry.verify_signature(root, backend=backend)
    except (DecodeError, VerificationError) as exc:
        raise VerificationError("unknown-key", f"key history entry {entry.seq} is invalid: {exc}") from exc
    _verify_included(proven, checkpoint)
    body = entry.body()
    if body.get("kind") != KEY_KIND or not isinstance(body.get("key"), bytes):
        raise VerificationError("unknown-key", f"key history entry {entry.seq} is not a log/key entry")
    try:
        return PublicKey(body["key"]), body
    except DecodeError as exc:
        raise VerificationError("unknown-key", f"key history entry {entry.seq}: {exc}") from exc


def key_history(entries: Sequence[Entry]) -> list[Entry]:
    """The ``log/key`` entries among ``entries`` (bodies required), in log order."""
    return [e for e in entries if e.body_bytes is not None and e.body().get("kind") == KEY_KIND]
