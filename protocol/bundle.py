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
makes ``key`` valid for the entries after it until a later revocation. An entry signed by a delegated key
states in its body how many ``log/key`` entries precede it (``"key_entries": n``); its bundle carries exactly
those n entries, in log order, each with its inclusion proof in the same checkpoint — so a revocation cannot
be left out. A decision signed by the root key needs no key history. A revocation may
carry ``"from": uint`` (at most its own seq): the key is then invalid from that position on, already; the
bundle may carry such later revocations of the signing key after the history before the decision.

``verify_bundle`` checks, in this order, and names the step that failed: ``encoding``, ``log``,
``body-hash``, ``kind``, ``checkpoint-signature`` (and ``origin``), ``unknown-key``, ``entry-signature``,
``inclusion``, ``founding``, ``cosignatures``. The founding entry (seq 0, signed by the root key, in the same
checkpoint) is what tells a member *which* council the key belongs to, in its own signed words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from protocol import codec, merkle
from protocol.entry import Entry
from protocol.errors import DecodeError, VerificationError
from protocol.keys import PublicKey
from protocol.note import Checkpoint, Cosignature, open_checkpoint, verify_cosignatures

BUNDLE_VERSION = 1
KEY_KIND = "log/key"
FOUNDING_KIND = "council/found"
DECISION_KIND = "decision"
KEY_COUNT = "key_entries"  # in an entry signed by a delegated key: how many log/key entries precede it
# The steps ``verify_bundle`` names, in the order it checks them (docs/protocol.md §8 is the same list).
STEPS = (
    "encoding",
    "log",
    "body-hash",
    "kind",
    "checkpoint-signature",
    "origin",
    "unknown-key",
    "entry-signature",
    "inclusion",
    "founding",
    "cosignatures",
)
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
    min_cosignatures: int | None = None,
    *,
    backend: str | None = None,
) -> VerifiedEntry:
    """Verify a bundle offline against the council's root key; return the entry or raise naming the step.

    Every named witness must have cosigned (a key named twice counts once) unless ``min_cosignatures``
    asks for fewer — or more than the witnesses named, which then always fails.
    """
    trusted = list(witnesses.items() if isinstance(witnesses, Mapping) else witnesses)
    if min_cosignatures is None:
        min_cosignatures = len({key.raw for _, key in trusted})
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
    if decision.body().get("kind") != DECISION_KIND:
        raise VerificationError("kind", "the bundled entry is not a decision")
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
    cosigners = verify_cosignatures(signed, trusted, min_cosignatures, backend=backend)
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

    A decision signed by a delegated key states in its signed body how many ``log/key`` entries precede
    it (``key_entries``); the bundle must carry exactly those, in log order, each proven in the checkpoint.
    So no entry of the history before the decision — a revocation above all — can be left out without the
    count failing. After them the bundle may carry later revocations of the signing key: only positions
    count, never a clock, and a revocation whose ``from`` is at or before the decision ends the key for it
    already (a key found compromised is revoked from the position it was stolen at)."""
    wanted = bundle.decision.entry.header.key_id
    if wanted == root.id:
        return root
    seq = bundle.decision.entry.seq
    count = bundle.decision.entry.body().get(KEY_COUNT)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise VerificationError("unknown-key", f"a delegated key's decision states its {KEY_COUNT}")
    history = bundle.keys
    seqs = [proven.entry.seq for proven in history]
    if seq in seqs or any(a >= b for a, b in pairwise(seqs)):
        raise VerificationError(
            "unknown-key", "the key history is the log/key entries before the decision, in log order"
        )
    before = [proven for proven in history if proven.entry.seq < seq]
    if len(before) != count:
        raise VerificationError(
            "unknown-key", f"the decision follows {count} log/key entries, the bundle carries {len(before)}"
        )
    valid: PublicKey | None = None
    for proven in history:
        entry = proven.entry
        key, body = _key_entry(proven, root, checkpoint, backend)
        after = entry.seq > seq
        if after and not (body["action"] == "revoke" and key.id == wanted):
            raise VerificationError(
                "unknown-key",
                f"key history entry {entry.seq} comes after the decision and does not revoke its key",
            )
        if key.id != wanted:
            continue
        if body["action"] == "add":
            valid = key
        else:
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


def _key_entry(
    proven: ProvenEntry, root: PublicKey, checkpoint: Checkpoint, backend: str | None
) -> tuple[PublicKey, dict[str, Any]]:
    """One ``log/key`` entry of the root's log, verified: signed by the root, in the tree, adding or
    revoking a key; its key and body."""
    entry = proven.entry
    try:
        if entry.header.log_id != root.raw:
            raise VerificationError("log", "it belongs to another log")
        entry.check_body()
        entry.verify_signature(root, backend=backend)
    except (DecodeError, VerificationError) as exc:
        raise VerificationError("unknown-key", f"key history entry {entry.seq} is invalid: {exc}") from exc
    _verify_included(proven, checkpoint)
    body = entry.body()
    if body.get("kind") != KEY_KIND or not isinstance(body.get("key"), bytes):
        raise VerificationError("unknown-key", f"key history entry {entry.seq} is not a log/key entry")
    if body.get("action") not in ("add", "revoke"):
        raise VerificationError("unknown-key", f"key history entry {entry.seq} neither adds nor revokes")
    try:
        return PublicKey(body["key"]), body
    except DecodeError as exc:
        raise VerificationError("unknown-key", f"key history entry {entry.seq}: {exc}") from exc


def key_history(entries: Sequence[Entry]) -> list[Entry]:
    """The ``log/key`` entries among ``entries`` (bodies required), in log order."""
    return [e for e in entries if e.body_bytes is not None and e.body().get("kind") == KEY_KIND]
