"""Decision bundles (protocol/bundle.py): round trip, every failing step of ``verify_bundle``, key
delegation through ``log/key`` entries, and random mutations that never verify as another decision."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import codec, merkle
from protocol.bundle import Bundle, ProvenEntry, VerifiedEntry, verify_bundle
from protocol.entry import Entry, sign_entry
from protocol.errors import DecodeError, VerificationError
from protocol.keys import BACKENDS, Domain, PublicKey, SigningKey
from protocol.note import (
    Checkpoint,
    NoteSignature,
    add_signatures,
    cosign,
    format_note,
    log_origin,
    sign_checkpoint,
    sign_note,
)
from tests.vectors.generate import (
    ATTACKER,
    COSIGN_TIMES,
    COUNCIL,
    DELEGATE,
    OTHER_COUNCIL,
    PROFILE,
    WITNESSES,
    build_log,
    log_bodies,
)

Spec = tuple[str, dict[str, Any], SigningKey]

backends = pytest.mark.parametrize("backend", sorted(BACKENDS))
ROOT = COUNCIL.public
TRUSTED = [(name, key.public) for name, key in WITNESSES]
FOUND: Spec = ("public", {"kind": "council/found", "profile": PROFILE}, COUNCIL)
DECISION_BODY = log_bodies()[3][1]


def key_entry(key: SigningKey, signer: SigningKey = COUNCIL, action: str = "add") -> Spec:
    return ("public", {"kind": "log/key", "action": action, "key": key.public.raw}, signer)


def decision(signer: SigningKey = DELEGATE) -> Spec:
    return ("public", dict(DECISION_BODY), signer)


def checkpoint_note(
    entries: Sequence[Entry], signer: SigningKey = COUNCIL, log: SigningKey = COUNCIL
) -> tuple[Checkpoint, str]:
    """A checkpoint of ``entries`` signed by ``signer`` under ``log``'s origin, cosigned by both witnesses."""
    ids = [e.id for e in entries]
    checkpoint = Checkpoint(log_origin(log.public.raw), len(ids), merkle.root_from_leaves(ids))
    text = checkpoint.body().decode()
    note = format_note(text, [sign_note(signer, checkpoint.origin, text)])
    cosignatures = [
        cosign(w, name, checkpoint, ts) for (name, w), ts in zip(WITNESSES, COSIGN_TIMES, strict=True)
    ]
    return checkpoint, add_signatures(note, cosignatures)


def make(
    entries: Sequence[Entry],
    decision_seq: int,
    key_seqs: Sequence[int] = (),
    *,
    founding_seq: int = 0,
    note: str | None = None,
) -> Bundle:
    tree = merkle.MemoryTree([e.id for e in entries])

    def proven(seq: int) -> ProvenEntry:
        return ProvenEntry(entries[seq], tuple(merkle.inclusion_proof(tree, seq, tree.size)))

    if note is None:
        note = checkpoint_note(entries)[1]
    return Bundle(proven(decision_seq), note, proven(founding_seq), tuple(proven(s) for s in key_seqs))


def verify(
    data: bytes, council: PublicKey = ROOT, min_cosignatures: int = 2, backend: str | None = None
) -> VerifiedEntry:
    return verify_bundle(data, council, TRUSTED, min_cosignatures, backend=backend)


def fails(step: str, data: bytes, council: PublicKey = ROOT, min_cosignatures: int = 2) -> None:
    for backend in sorted(BACKENDS):
        with pytest.raises(VerificationError) as info:
            verify(data, council, min_cosignatures, backend)
        assert info.value.step == step, info.value


LOG = build_log()
VALID = make(LOG, 3, [1])


# --- round trip ----------------------------------------------------------------------------------------


@backends
def test_round_trip(backend: str) -> None:
    data = VALID.encode()
    assert Bundle.decode(data).encode() == data
    result = verify(data, backend=backend)
    assert (result.log_id, result.seq, result.id) == (ROOT.raw, 3, LOG[3].id)
    assert result.body == LOG[3].body() and result.signing_key == DELEGATE.public.raw
    assert result.council == PROFILE
    assert [(c.name, c.timestamp) for c in result.cosigners] == [
        (name, ts) for (name, _), ts in zip(WITNESSES, COSIGN_TIMES, strict=True)
    ]
    assert result.checkpoint.size == 4


def test_root_signed_decision_needs_no_key_history() -> None:
    entries = build_log([FOUND, decision(COUNCIL)])
    assert verify(make(entries, 1).encode()).signing_key == ROOT.raw


def test_cosignatures_optional_and_counted() -> None:
    data = VALID.encode()
    assert verify_bundle(data, ROOT).cosigners == ()
    assert len(verify(data, min_cosignatures=1).cosigners) == 2
    # Only trusted witnesses count; the other's line is ignored.
    assert len(verify_bundle(data, ROOT, TRUSTED[:1], 1).cosigners) == 1
    with pytest.raises(VerificationError) as info:
        verify_bundle(data, ROOT, TRUSTED[:1], 2)
    assert info.value.step == "cosignatures"


def test_the_entry_map_takes_no_extra_proof() -> None:
    # One bundle, one encoding: "proof" lives beside "entry", never inside it.
    value = codec.decode(VALID.encode())
    value["entry"]["proof"] = []
    with pytest.raises(DecodeError):
        Bundle.decode(codec.encode(value))
    fails("encoding", codec.encode(value))


# --- every failing step, in verify_bundle's order ------------------------------------------------------


def test_encoding() -> None:
    fails("encoding", b"")
    fails("encoding", b"\x80")
    fails("encoding", VALID.encode() + b"\x00")
    value = codec.decode(VALID.encode())
    value["v"] = 2
    fails("encoding", codec.encode(value))


def test_log() -> None:
    fails("log", VALID.encode(), OTHER_COUNCIL.public)


def test_body_hash() -> None:
    fails("body-hash", VALID.encode().replace(b"adopted", b"refused"))


def test_checkpoint_signature() -> None:
    _, forged = checkpoint_note(LOG, signer=ATTACKER)
    fails("checkpoint-signature", make(LOG, 3, [1], note=forged).encode())
    fails("checkpoint-signature", make(LOG, 3, [1], note="not a note").encode())


def test_origin() -> None:
    _, other = checkpoint_note(LOG, signer=OTHER_COUNCIL, log=OTHER_COUNCIL)
    fails("origin", make(LOG, 3, [1], note=other).encode())


def test_unknown_key() -> None:
    fails("unknown-key", make(LOG, 3, []).encode())


def test_entry_signature() -> None:
    entries = build_log([FOUND, decision(COUNCIL)])
    header = entries[1].header_bytes
    bad = Entry(header, ATTACKER.sign(Domain.ENTRY, header), entries[1].body_bytes)
    fails("entry-signature", make([entries[0], bad], 1).encode())


def test_inclusion() -> None:
    wrong_path = Bundle(
        ProvenEntry(LOG[3], VALID.founding.proof), VALID.checkpoint, VALID.founding, VALID.keys
    )
    fails("inclusion", wrong_path.encode())
    # A checkpoint of the first three entries cannot include entry 3.
    _, short = checkpoint_note(LOG[:3])
    fails("inclusion", make(LOG, 3, [1], note=short).encode())


def test_founding() -> None:
    fails("founding", make(LOG, 3, [1], founding_seq=1).encode())
    other_kind: Spec = ("public", {"kind": "council/other", "profile": PROFILE}, COUNCIL)
    fails("founding", make(build_log([other_kind, decision(COUNCIL)]), 1).encode())
    no_profile: Spec = ("public", {"kind": "council/found", "profile": "Tabriz"}, COUNCIL)
    fails("founding", make(build_log([no_profile, decision(COUNCIL)]), 1).encode())
    # Entry 0 of another council's log does not found this one.
    foreign = sign_entry(
        OTHER_COUNCIL, log_id=OTHER_COUNCIL.public.raw, seq=0, prev=None, ts_ms=0, vis="public", body=FOUND[1]
    )
    fails("founding", Bundle(VALID.decision, VALID.checkpoint, ProvenEntry(foreign, ()), VALID.keys).encode())
    # An entry 0 of this log that is not the one in the checkpoint's tree.
    other = build_log([FOUND])[0]
    fails("inclusion", Bundle(VALID.decision, VALID.checkpoint, ProvenEntry(other, ()), VALID.keys).encode())


def test_cosignatures() -> None:
    fails("cosignatures", VALID.encode(), min_cosignatures=3)
    checkpoint = Checkpoint(log_origin(ROOT.raw), 4, merkle.root_from_leaves([e.id for e in LOG]))
    name, witness = WITNESSES[0]
    good = cosign(witness, name, checkpoint, COSIGN_TIMES[0])
    bad = NoteSignature(good.name, good.key_id, good.signature[:8] + bytes(64))
    note = add_signatures(sign_checkpoint(COUNCIL, checkpoint), [bad])
    # A trusted witness's invalid line fails even when no cosignature is required.
    fails("cosignatures", make(LOG, 3, [1], note=note).encode(), min_cosignatures=0)


# --- key delegation ------------------------------------------------------------------------------------


def test_delegated_key_added_by_root_is_valid() -> None:
    entries = build_log([FOUND, key_entry(DELEGATE), decision()])
    assert verify(make(entries, 2, [1]).encode()).signing_key == DELEGATE.public.raw


def test_key_revoked_before_the_decision_is_unknown() -> None:
    entries = build_log([FOUND, key_entry(DELEGATE), key_entry(DELEGATE, action="revoke"), decision()])
    fails("unknown-key", make(entries, 3, [1, 2]).encode())


def test_key_revoked_after_the_decision_still_signed_it() -> None:
    entries = build_log([FOUND, key_entry(DELEGATE), decision(), key_entry(DELEGATE, action="revoke")])
    assert verify(make(entries, 2, [1, 3]).encode()).signing_key == DELEGATE.public.raw


def revoke_from(start: object, signer: SigningKey = COUNCIL) -> Spec:
    body = {"kind": "log/key", "action": "revoke", "key": DELEGATE.public.raw, "from": start}
    return ("public", body, signer)


def test_key_revoked_later_from_a_position_at_or_before_the_decision_is_unknown() -> None:
    # the key was stolen at entry 2 and found out at entry 4: what it signed from 2 on no longer counts
    for start in (2, 3):
        entries = build_log([FOUND, key_entry(DELEGATE), decision(), decision(), revoke_from(start)])
        fails("unknown-key", make(entries, 3, [1, 4]).encode())
    entries = build_log([FOUND, key_entry(DELEGATE), decision(), decision(), revoke_from(3)])
    assert verify(make(entries, 2, [1, 4]).encode()).signing_key == DELEGATE.public.raw


def test_back_dated_revocation_counts_only_if_the_root_key_signed_it() -> None:
    entries = build_log([FOUND, key_entry(DELEGATE), decision(), revoke_from(2, signer=ATTACKER)])
    assert verify(make(entries, 2, [1]).encode()).signing_key == DELEGATE.public.raw  # not in the bundle
    fails("unknown-key", make(entries, 2, [1, 3]).encode())  # in it: an invalid history entry fails


def test_revocation_from_after_itself_or_not_a_position_fails() -> None:
    for start in (5, 0, "2", True):
        entries = build_log([FOUND, key_entry(DELEGATE), decision(), revoke_from(start)])
        fails("unknown-key", make(entries, 2, [1, 3]).encode())


def test_key_added_by_a_non_root_key_is_unknown() -> None:
    # The delegate adding itself, or an attacker adding it: neither is the root key's word.
    for signer in (DELEGATE, ATTACKER):
        entries = build_log([FOUND, key_entry(DELEGATE, signer=signer), decision()])
        fails("unknown-key", make(entries, 2, [1]).encode())


def test_key_added_after_the_decision_does_not_count() -> None:
    entries = build_log([FOUND, decision(), key_entry(DELEGATE)])
    fails("unknown-key", make(entries, 1, [2]).encode())


def test_history_entry_that_is_not_a_key_entry() -> None:
    not_a_key: Spec = ("public", {"kind": "note", "key": DELEGATE.public.raw}, COUNCIL)
    entries = build_log([FOUND, not_a_key, decision()])
    fails("unknown-key", make(entries, 2, [1]).encode())


# --- mutations -----------------------------------------------------------------------------------------

VALID_BYTES = VALID.encode()
EXPECTED = verify(VALID_BYTES)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(VALID_BYTES) - 1), st.integers(0, 255)), min_size=1, max_size=4))
def test_mutations_never_verify_as_another_decision(mutations: list[tuple[int, int]]) -> None:
    data = bytearray(VALID_BYTES)
    for position, value in mutations:
        data[position] = value
    try:
        result = verify(bytes(data))
    except VerificationError:
        return
    # Whatever survives (an unchanged byte) is the same decision of the same council.
    assert (result.log_id, result.seq, result.id, result.body) == (
        EXPECTED.log_id,
        EXPECTED.seq,
        EXPECTED.id,
        EXPECTED.body,
    )
    assert result.council == EXPECTED.council and result.signing_key == EXPECTED.signing_key


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(VALID_BYTES) - 1), st.integers(1, 64))
def test_truncations_and_insertions_never_verify(position: int, length: int) -> None:
    for data in (VALID_BYTES[:position], VALID_BYTES[:position] + bytes(length) + VALID_BYTES[position:]):
        with pytest.raises(VerificationError):
            verify(data)
