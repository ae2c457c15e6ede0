"""Fork proofs: two statements signed by one log's key that cannot both be true (docs/gossip.md, "Forks").

    proof = canonical msgpack map {
        "v": 1, "log_id": bin32, "kind": "entries" | "checkpoints",
        "a": side, "b": side,        a < b, so one fork has exactly one encoding
    }
    side  = {"header": bin, "signature": bin}    kind "entries": two entries at one seq, different ids
          | str                                  kind "checkpoints": two C2SP checkpoint notes of one size
                                                 with different roots

A proof is self-verifying: anyone holding the log id (the log's root public key) checks it with
``verify_fork_proof`` and needs nothing else. Entries carry no bodies (a council body never travels).

v1 accepts only entries signed by the log's **root key**: a fork by a delegated key (a ``log/key`` entry)
would need that delegation's proof of inclusion, which v1 does not carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from protocol import codec
from protocol.entry import Entry
from protocol.errors import DecodeError, VerificationError
from protocol.keys import PUBLIC_KEY_SIZE, PublicKey
from protocol.note import Checkpoint, SignedCheckpoint, open_checkpoint, parse_note

FORK_VERSION = 1
ForkKind = Literal["entries", "checkpoints"]
FORK_KINDS: tuple[ForkKind, ...] = ("entries", "checkpoints")
# Two headers (≤ 256 bytes each) or two notes (cosignatures included, a few KiB in practice).
FORK_LIMITS = codec.Limits(max_size=128 * 1024, max_depth=2, max_length=64 * 1024)


@dataclass(frozen=True, slots=True)
class ForkProof:
    """Two contradicting statements of ``log_id``, in canonical order. Constructing one checks shapes only;
    ``verify_fork_proof`` checks the signatures and the contradiction."""

    log_id: bytes
    kind: ForkKind
    a: Entry | str
    b: Entry | str

    def __post_init__(self) -> None:
        if not isinstance(self.log_id, bytes) or len(self.log_id) != PUBLIC_KEY_SIZE:
            raise DecodeError("a fork proof's log_id is 32 bytes")
        if self.kind == "entries":
            if not isinstance(self.a, Entry) or not isinstance(self.b, Entry):
                raise DecodeError("an entries fork proof holds two entries")
            a, b = self.a.without_body(), self.b.without_body()
            if b.id < a.id:
                a, b = b, a
            object.__setattr__(self, "a", a)
            object.__setattr__(self, "b", b)
        elif self.kind == "checkpoints":
            if not isinstance(self.a, str) or not isinstance(self.b, str):
                raise DecodeError("a checkpoints fork proof holds two checkpoint notes")
            if self.b.encode() < self.a.encode():
                first, second = self.b, self.a
                object.__setattr__(self, "a", first)
                object.__setattr__(self, "b", second)
        else:
            raise DecodeError(f"unknown fork kind {self.kind!r}")

    def encode(self) -> bytes:
        a, b = _side(self.a), _side(self.b)
        return codec.encode({"v": FORK_VERSION, "log_id": self.log_id, "kind": self.kind, "a": a, "b": b})

    @classmethod
    def decode(cls, data: bytes) -> ForkProof:
        value = codec.decode(data, FORK_LIMITS)
        if not isinstance(value, dict) or set(value) != {"v", "log_id", "kind", "a", "b"}:
            raise DecodeError("a fork proof is a map of v, log_id, kind, a and b")
        if type(value["v"]) is not int or value["v"] != FORK_VERSION:
            raise DecodeError(f"unknown fork proof version {value['v']!r}")
        kind = value["kind"]
        if kind not in FORK_KINDS:
            raise DecodeError(f"unknown fork kind {kind!r}")
        proof = cls(value["log_id"], kind, _unside(kind, value["a"]), _unside(kind, value["b"]))
        if proof.encode() != bytes(data):
            raise DecodeError("the fork proof is not in canonical order")
        return proof

    @property
    def position(self) -> int:
        """The contested seq (entries) or tree size (checkpoints)."""
        if isinstance(self.a, Entry):
            return self.a.seq
        return Checkpoint.from_body(parse_note(self.a).text).size

    def describe(self) -> str:
        what = "two entries at seq" if self.kind == "entries" else "two checkpoints of size"
        return f"fork: {what} {self.position}"


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


def entries_fork(held: Entry, offered: Entry) -> ForkProof:
    """The proof for two entries of one log at one seq (bodies dropped)."""
    return ForkProof(held.header.log_id, "entries", held, offered)


def checkpoints_fork(log_id: bytes, held: str, offered: str) -> ForkProof:
    """The proof for two checkpoint notes of ``log_id`` with one size and two roots."""
    return ForkProof(log_id, "checkpoints", held, offered)


def verify_fork_proof(data: bytes, *, backend: str | None = None) -> ForkProof:
    """Decode a fork proof and check it proves a fork of its log; raise ``DecodeError`` or
    ``VerificationError`` (step ``fork``) otherwise."""
    proof = ForkProof.decode(data)
    if proof.a == proof.b:
        raise VerificationError("fork", "the same statement twice is no fork")
    if isinstance(proof.a, Entry) and isinstance(proof.b, Entry):
        _verify_entries(proof.log_id, proof.a, proof.b, backend)
    elif isinstance(proof.a, str) and isinstance(proof.b, str):
        _verify_checkpoints(proof.log_id, proof.a, proof.b, backend)
    return proof


def _log_key(log_id: bytes) -> PublicKey:
    try:
        return PublicKey(log_id)
    except DecodeError as exc:
        raise VerificationError("fork", f"the log id is not a usable key: {exc}") from exc


def _verify_entries(log_id: bytes, a: Entry, b: Entry, backend: str | None) -> None:
    key = _log_key(log_id)
    for entry in (a, b):
        if entry.header.log_id != log_id:
            raise VerificationError("fork", "an entry belongs to another log")
        if entry.header.key_id != key.id:
            raise VerificationError("fork", "an entry is not signed by the log's root key (v1)")
        try:
            entry.verify_signature(key, backend=backend)
        except VerificationError as exc:
            raise VerificationError("fork", f"entry {entry.seq}: {exc.message}") from exc
    if a.seq != b.seq:
        raise VerificationError("fork", f"entries at seq {a.seq} and {b.seq} do not contend for one seq")
    if a.id == b.id:
        raise VerificationError("fork", "the same entry twice is no fork")


def _open(log_id: bytes, note: str, backend: str | None) -> SignedCheckpoint:
    try:
        return open_checkpoint(note, _log_key(log_id), backend=backend)
    except VerificationError as exc:
        raise VerificationError("fork", f"{exc.step}: {exc.message}") from exc


def _verify_checkpoints(log_id: bytes, a: str, b: str, backend: str | None) -> None:
    first = _open(log_id, a, backend).checkpoint
    second = _open(log_id, b, backend).checkpoint
    if first.size != second.size:
        raise VerificationError("fork", f"checkpoints of sizes {first.size} and {second.size} do not contend")
    if first.root == second.root:
        raise VerificationError("fork", "two notes of one tree head are no fork")
