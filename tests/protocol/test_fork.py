"""Fork proofs: the two kinds verify on both backends; every way of faking one is refused by name."""

from __future__ import annotations

import pytest

from protocol import codec
from protocol.entry import Entry, sign_entry
from protocol.errors import DecodeError, VerificationError
from protocol.fork import ForkProof, checkpoints_fork, entries_fork, verify_fork_proof
from protocol.keys import BACKENDS, SigningKey
from protocol.merkle import leaf_hash
from protocol.note import Checkpoint, add_signatures, log_origin, sign_checkpoint, sign_note

KEY = SigningKey.from_seed(bytes(range(32)))
OTHER = SigningKey.from_seed(bytes(range(1, 33)))
LOG = KEY.public.raw
T0 = 1_700_000_000_000
PREV = leaf_hash(b"x")

backends = pytest.mark.parametrize("backend", sorted(BACKENDS))


def entry(text: str, seq: int = 5, key: SigningKey = KEY, log: bytes = LOG) -> Entry:
    return sign_entry(key, log_id=log, seq=seq, prev=PREV, ts_ms=T0, vis="public", body={"kind": text})


def checkpoint(size: int, root: bytes, key: SigningKey = KEY, log: bytes = LOG) -> str:
    return sign_checkpoint(key, Checkpoint(log_origin(log), size, root))


def raw(kind: str, a: object, b: object, log: bytes = LOG) -> bytes:
    """A proof encoded by hand, in the given order, to build what the constructor would not."""
    return codec.encode({"v": 1, "log_id": log, "kind": kind, "a": a, "b": b})


def side(e: Entry) -> dict[str, bytes]:
    return {"header": e.header_bytes, "signature": e.signature}


@backends
def test_entries_fork_verifies(backend: str) -> None:
    a, b = entry("one"), entry("two")
    proof = verify_fork_proof(entries_fork(a, b).encode(), backend=backend)
    assert proof.kind == "entries" and proof.log_id == LOG and proof.position == 5
    assert {proof.a, proof.b} == {a.without_body(), b.without_body()}
    assert "seq 5" in proof.describe()


@backends
def test_checkpoints_fork_verifies(backend: str) -> None:
    a, b = checkpoint(10, leaf_hash(b"a")), checkpoint(10, leaf_hash(b"b"))
    proof = verify_fork_proof(checkpoints_fork(LOG, a, b).encode(), backend=backend)
    assert proof.kind == "checkpoints" and proof.position == 10


def test_one_fork_one_encoding() -> None:
    a, b = entry("one"), entry("two")
    assert entries_fork(a, b).encode() == entries_fork(b, a).encode()
    ca, cb = checkpoint(3, leaf_hash(b"a")), checkpoint(3, leaf_hash(b"b"))
    assert checkpoints_fork(LOG, ca, cb).encode() == checkpoints_fork(LOG, cb, ca).encode()
    assert ForkProof.decode(entries_fork(a, b).encode()) == entries_fork(b, a)


def test_bodies_never_travel() -> None:
    proof = entries_fork(entry("one"), entry("two"))
    assert isinstance(proof.a, Entry) and proof.a.body_bytes is None
    assert b"one" not in proof.encode()


def test_non_canonical_order_refused() -> None:
    a, b = sorted([entry("one"), entry("two")], key=lambda e: e.id)
    with pytest.raises(DecodeError, match="canonical"):
        verify_fork_proof(raw("entries", side(b), side(a)))


@backends
def test_same_entry_twice(backend: str) -> None:
    a = entry("one")
    with pytest.raises(VerificationError) as caught:
        verify_fork_proof(raw("entries", side(a), side(a)), backend=backend)
    assert caught.value.step == "fork"


@backends
def test_different_seqs(backend: str) -> None:
    with pytest.raises(VerificationError, match="seq") as caught:
        verify_fork_proof(entries_fork(entry("one", seq=5), entry("two", seq=6)).encode(), backend=backend)
    assert caught.value.step == "fork"


@backends
def test_entries_of_another_log(backend: str) -> None:
    theirs = entry("two", key=OTHER, log=OTHER.public.raw)
    proof = ForkProof(LOG, "entries", entry("one"), theirs)
    with pytest.raises(VerificationError, match="another log"):
        verify_fork_proof(proof.encode(), backend=backend)


@backends
def test_entry_by_another_key_claiming_the_log(backend: str) -> None:
    with pytest.raises(VerificationError, match="root key"):
        verify_fork_proof(entries_fork(entry("one"), entry("two", key=OTHER)).encode(), backend=backend)


@backends
def test_one_signature_forged(backend: str) -> None:
    good = entry("one")
    forged_source = entry("two")
    forged = Entry(forged_source.header_bytes, bytes(64))
    with pytest.raises(VerificationError) as caught:
        verify_fork_proof(entries_fork(good, forged).encode(), backend=backend)
    assert caught.value.step == "fork"
    flipped = bytearray(forged_source.signature)
    flipped[0] ^= 1
    with pytest.raises(VerificationError, match="not a valid entry signature"):
        verify_fork_proof(entries_fork(good, Entry(forged_source.header_bytes, bytes(flipped))).encode())


@backends
def test_checkpoints_of_different_sizes(backend: str) -> None:
    proof = checkpoints_fork(LOG, checkpoint(10, leaf_hash(b"a")), checkpoint(11, leaf_hash(b"b")))
    with pytest.raises(VerificationError, match="sizes"):
        verify_fork_proof(proof.encode(), backend=backend)


@backends
def test_checkpoints_with_same_root(backend: str) -> None:
    root = leaf_hash(b"a")
    a = checkpoint(10, root)
    # the same tree head with one more signature line: two notes, one head
    body = Checkpoint(log_origin(LOG), 10, root).body().decode()
    b = add_signatures(a, [sign_note(OTHER, "witness", body)])
    with pytest.raises(VerificationError, match="no fork"):
        verify_fork_proof(checkpoints_fork(LOG, a, b).encode(), backend=backend)
    with pytest.raises(VerificationError, match="no fork"):
        verify_fork_proof(raw("checkpoints", a, a), backend=backend)


@backends
def test_checkpoint_signed_by_another_key(backend: str) -> None:
    proof = checkpoints_fork(LOG, checkpoint(10, leaf_hash(b"a")), checkpoint(10, leaf_hash(b"b"), key=OTHER))
    with pytest.raises(VerificationError) as caught:
        verify_fork_proof(proof.encode(), backend=backend)
    assert caught.value.step == "fork"


def test_checkpoint_of_another_log() -> None:
    theirs = checkpoint(10, leaf_hash(b"b"), key=OTHER, log=OTHER.public.raw)
    proof = checkpoints_fork(LOG, checkpoint(10, leaf_hash(b"a")), theirs)
    with pytest.raises(VerificationError, match="origin"):
        verify_fork_proof(proof.encode())


@pytest.mark.parametrize(
    ("data", "check"),
    [
        pytest.param(b"", "empty input", id="empty"),
        pytest.param(b"\xc1", "malformed msgpack", id="garbage"),
        pytest.param(
            codec.encode({"v": 1}), "a fork proof is a map of v, log_id, kind, a and b", id="fields"
        ),
        pytest.param(
            codec.encode({"v": 3, "log_id": LOG, "kind": "entries", "a": {}, "b": {}}),
            "unknown fork proof version 3",
            id="version",
        ),
        pytest.param(
            codec.encode({"v": 1, "log_id": LOG, "kind": "other", "a": "x", "b": "y"}),
            "unknown fork kind 'other'",
            id="kind",
        ),
        pytest.param(
            codec.encode({"v": 1, "log_id": LOG[:31], "kind": "checkpoints", "a": "x", "b": "y"}),
            "a fork proof's log_id is 32 bytes",
            id="log-id",
        ),
        pytest.param(
            codec.encode({"v": 1, "log_id": LOG, "kind": "entries", "a": "x", "b": "y"}),
            "an entry in a fork proof has a header and a signature, no body",
            id="entry-shape",
        ),
        pytest.param(
            codec.encode({"v": 1, "log_id": LOG, "kind": "checkpoints", "a": {}, "b": {}}),
            "a checkpoint in a fork proof is note text",
            id="note-shape",
        ),
        pytest.param(b"\x00" * 200_000, "input of 200000 bytes exceeds the limit of 131072", id="oversize"),
    ],
)
def test_malformed_proofs(data: bytes, check: str) -> None:
    with pytest.raises(DecodeError, match=f"^{check}"):
        verify_fork_proof(data)


def test_entry_with_body_refused_in_a_proof() -> None:
    a, b = entry("one"), entry("two")
    with_body = {**side(a), "body": a.body_bytes}
    with pytest.raises(DecodeError, match="no body"):
        verify_fork_proof(raw("entries", with_body, side(b)))
