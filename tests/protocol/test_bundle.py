"""Decision bundles (protocol/bundle.py): round trip, every failing step of ``verify_bundle``, key
delegation through ``log/key`` entries, and random mutations that never verify as another decision."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import codec, merkle
from protocol.bundle import STEPS, Bundle, ProvenEntry, VerifiedEntry, key_history, verify_bundle
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


def decision(signer: SigningKey = DELEGATE, key_entries: int = 1) -> Spec:
    """A decision; one signed by a delegated key states how many log/key entries precede it."""
    body = {k: v for k, v in DECISION_BODY.items() if k != "key_entries"}
    if signer is not COUNCIL:
        body["key_entries"] = key_entries
    return ("public", body, signer)


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


def fails(step: str, check: str, data: bytes, council: PublicKey = ROOT, min_cosignatures: int = 2) -> None:
    """``verify_bundle`` refuses ``data`` at ``step``, by the check whose message matches ``check``."""
    for backend in sorted(BACKENDS):
        with pytest.raises(VerificationError) as info:
            verify(data, council, min_cosignatures, backend)
        assert info.value.step == step, info.value
        assert re.match(check, info.value.message), info.value


# What each check says, where several checks share a step.
NOT_A_BUNDLE = "a bundle is a map of v, entry, proof, checkpoint, keys and founding"
NOT_DELEGATED = (
    r"the signing key is neither the root key nor delegated by it at the entry's position "
    r"\(never added, or revoked\)$"
)
MISCOUNTED = r"the decision follows \d+ log/key entries, the bundle carries \d+"
NOT_IN_ORDER = "the key history is the log/key entries before the decision, in log order"
NOT_A_KEY_ENTRY = r"key history entry \d+ is not a log/key entry"
NOT_ENTRY_0 = "the founding entry is not entry 0 of this council's log"
NOT_FOUNDING = "entry 0 does not found a council"
NOT_INCLUDED = r"entry \d+ is not in the checkpoint's tree"


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


def test_every_named_witness_is_required_by_default() -> None:
    data = VALID.encode()
    assert len(verify_bundle(data, ROOT, TRUSTED).cosigners) == 2
    assert len(verify_bundle(data, ROOT, iter(TRUSTED)).cosigners) == 2  # any iterable, read once
    assert len(verify_bundle(data, ROOT, dict(TRUSTED)).cosigners) == 2
    uncosigned = make(LOG, 3, [1], note=sign_checkpoint(COUNCIL, checkpoint_note(LOG)[0])).encode()
    with pytest.raises(VerificationError, match=r"^cosignatures: 0 valid witness cosignatures, at least 1"):
        verify_bundle(uncosigned, ROOT, TRUSTED[:1])
    stranger = ("shora-witness/stranger", ATTACKER.public)
    with pytest.raises(VerificationError, match=r"^cosignatures: 2 valid witness cosignatures, at least 3"):
        verify_bundle(data, ROOT, [*TRUSTED, stranger])
    # One key under two names is one witness; fewer may be asked for explicitly.
    (name, key), _ = TRUSTED
    assert len(verify_bundle(data, ROOT, [(name, key), ("shora-witness/alias", key)]).cosigners) == 1
    assert verify_bundle(uncosigned, ROOT, TRUSTED, 0).cosigners == ()


def test_the_entry_map_takes_no_extra_proof() -> None:
    # One bundle, one encoding: "proof" lives beside "entry", never inside it.
    value = codec.decode(VALID.encode())
    value["entry"]["proof"] = []
    with pytest.raises(DecodeError, match=r"^bundle entry has header, signature and body"):
        Bundle.decode(codec.encode(value))
    fails("encoding", "bundle entry has header, signature and body", codec.encode(value))


# --- every failing step, in verify_bundle's order ------------------------------------------------------


def test_encoding() -> None:
    fails("encoding", "empty input", b"")
    fails("encoding", NOT_A_BUNDLE, b"\x80")
    fails("encoding", "trailing bytes", VALID.encode() + b"\x00")
    value = codec.decode(VALID.encode())
    value["v"] = 2
    fails("encoding", "unknown bundle version 2", codec.encode(value))


def test_log() -> None:
    fails("log", "the entry belongs to another council's log", VALID.encode(), OTHER_COUNCIL.public)


def test_body_hash() -> None:
    fails("body-hash", "the body does not match", VALID.encode().replace(b"adopted", b"refused"))


def test_kind() -> None:
    # Every other entry of the log is validly signed and included, yet none of them is a decision.
    fails("kind", "the bundled entry is not a decision", make(LOG, 1).encode())  # a log/key entry
    fails("kind", "the bundled entry is not a decision", make(LOG, 0).encode())  # the founding entry
    council_only = make(LOG, 2)  # a council entry (member/join), signed by the root key
    fails("kind", "the bundled entry is not a decision", council_only.encode())
    # The kind is read from the signed body: a decision re-labelled is a body-hash failure, not a pass.
    fails("body-hash", "the body does not match", VALID.encode().replace(b"\xa8decision", b"\xa8decisiom"))


def test_checkpoint_signature() -> None:
    _, forged = checkpoint_note(LOG, signer=ATTACKER)
    fails(
        "checkpoint-signature",
        "the note has no signature by a known key",
        make(LOG, 3, [1], note=forged).encode(),
    )
    fails("checkpoint-signature", "no blank line", make(LOG, 3, [1], note="not a note").encode())


def test_origin() -> None:
    _, other = checkpoint_note(LOG, signer=OTHER_COUNCIL, log=OTHER_COUNCIL)
    fails("origin", "checkpoint of 'shora/", make(LOG, 3, [1], note=other).encode())


def test_unknown_key() -> None:
    fails("unknown-key", MISCOUNTED, make(LOG, 3, []).encode())
    entries = build_log([FOUND, key_entry(ATTACKER), decision()])
    fails("unknown-key", NOT_DELEGATED, make(entries, 2, [1]).encode())


def test_entry_signature() -> None:
    entries = build_log([FOUND, decision(COUNCIL)])
    header = entries[1].header_bytes
    bad = Entry(header, ATTACKER.sign(Domain.ENTRY, header), entries[1].body_bytes)
    fails("entry-signature", "not a valid entry signature", make([entries[0], bad], 1).encode())


def test_inclusion() -> None:
    wrong_path = Bundle(
        ProvenEntry(LOG[3], VALID.founding.proof), VALID.checkpoint, VALID.founding, VALID.keys
    )
    fails("inclusion", "entry 3 is not in the checkpoint's tree", wrong_path.encode())
    # A checkpoint of the first three entries cannot include entry 3.
    _, short = checkpoint_note(LOG[:3])
    fails("inclusion", "entry 1 is not in the checkpoint's tree", make(LOG, 3, [1], note=short).encode())


def test_founding() -> None:
    fails("founding", NOT_ENTRY_0, make(LOG, 3, [1], founding_seq=1).encode())
    other_kind: Spec = ("public", {"kind": "council/other", "profile": PROFILE}, COUNCIL)
    fails("founding", NOT_FOUNDING, make(build_log([other_kind, decision(COUNCIL)]), 1).encode())
    no_profile: Spec = ("public", {"kind": "council/found", "profile": "Tabriz"}, COUNCIL)
    fails("founding", NOT_FOUNDING, make(build_log([no_profile, decision(COUNCIL)]), 1).encode())
    # Entry 0 of another council's log does not found this one.
    foreign = sign_entry(
        OTHER_COUNCIL, log_id=OTHER_COUNCIL.public.raw, seq=0, prev=None, ts_ms=0, vis="public", body=FOUND[1]
    )
    foreign_founding = Bundle(VALID.decision, VALID.checkpoint, ProvenEntry(foreign, ()), VALID.keys)
    fails("founding", NOT_ENTRY_0, foreign_founding.encode())
    # An entry 0 of this log that is not the one in the checkpoint's tree.
    other = build_log([FOUND])[0]
    other_founding = Bundle(VALID.decision, VALID.checkpoint, ProvenEntry(other, ()), VALID.keys)
    fails("inclusion", "entry 0 is not in the checkpoint's tree", other_founding.encode())


def test_cosignatures() -> None:
    fails(
        "cosignatures",
        "2 valid witness cosignatures, at least 3 required",
        VALID.encode(),
        min_cosignatures=3,
    )
    checkpoint = Checkpoint(log_origin(ROOT.raw), 4, merkle.root_from_leaves([e.id for e in LOG]))
    name, witness = WITNESSES[0]
    good = cosign(witness, name, checkpoint, COSIGN_TIMES[0])
    bad = NoteSignature(good.name, good.key_id, good.signature[:8] + bytes(64))
    note = add_signatures(sign_checkpoint(COUNCIL, checkpoint), [bad])
    # A trusted witness's invalid line fails even when no cosignature is required.
    fails(
        "cosignatures",
        r"shora-witness/\S+: not a valid note signature by this key",
        make(LOG, 3, [1], note=note).encode(),
        min_cosignatures=0,
    )


# --- key delegation ------------------------------------------------------------------------------------


def test_delegated_key_added_by_root_is_valid() -> None:
    entries = build_log([FOUND, key_entry(DELEGATE), decision()])
    assert verify(make(entries, 2, [1]).encode()).signing_key == DELEGATE.public.raw


def test_key_revoked_before_the_decision_is_unknown() -> None:
    entries = build_log(
        [FOUND, key_entry(DELEGATE), key_entry(DELEGATE, action="revoke"), decision(key_entries=2)]
    )
    fails("unknown-key", NOT_DELEGATED, make(entries, 3, [1, 2]).encode())


def test_a_revocation_left_out_is_refused() -> None:
    """The attack: the bundle carries the delegation but not the revocation that followed it. The decision
    states how many log/key entries precede it, so a short history is refused, whichever entry is missing."""
    entries = build_log(
        [FOUND, key_entry(DELEGATE), key_entry(DELEGATE, action="revoke"), decision(key_entries=2)]
    )
    fails("unknown-key", MISCOUNTED, make(entries, 3, [1]).encode())
    fails("unknown-key", MISCOUNTED, make(entries, 3, [2]).encode())
    # Counting the revocation twice, or a key entry of another position in its place, is no substitute.
    fails("unknown-key", NOT_IN_ORDER, make(entries, 3, [1, 1]).encode())
    fails("unknown-key", NOT_IN_ORDER, make(entries, 3, [2, 1]).encode())
    # A decision that understates the count is a different signed body: it cannot stand in for this one.
    understated = build_log(
        [FOUND, key_entry(DELEGATE), key_entry(DELEGATE, action="revoke"), decision(key_entries=1)]
    )
    assert understated[3].id != entries[3].id


@pytest.mark.parametrize("count", [None, -1, True, "1"], ids=["missing", "negative", "bool", "text"])
def test_a_delegated_decision_states_its_key_entries(count: Any) -> None:
    body = {k: v for k, v in decision()[1].items() if k != "key_entries"}
    if count is not None:
        body["key_entries"] = count
    entries = build_log([FOUND, key_entry(DELEGATE), ("public", body, DELEGATE)])
    fails("unknown-key", "a delegated key's decision states its key_entries", make(entries, 2, [1]).encode())


def test_key_revoked_after_the_decision_still_signed_it() -> None:
    entries = build_log([FOUND, key_entry(DELEGATE), decision(), key_entry(DELEGATE, action="revoke")])
    assert verify(make(entries, 2, [1]).encode()).signing_key == DELEGATE.public.raw
    # A later revocation of its key may be carried: without ``from`` it ends the key after its own position.
    assert verify(make(entries, 2, [1, 3]).encode()).signing_key == DELEGATE.public.raw
    # Any other entry after the decision is refused, not read.
    added_again = build_log([FOUND, key_entry(DELEGATE), decision(), key_entry(DELEGATE)])
    fails(
        "unknown-key", "key history entry 3 comes after the decision", make(added_again, 2, [1, 3]).encode()
    )


def revoke_from(start: object, signer: SigningKey = COUNCIL) -> Spec:
    body = {"kind": "log/key", "action": "revoke", "key": DELEGATE.public.raw, "from": start}
    return ("public", body, signer)


def test_key_revoked_later_from_a_position_at_or_before_the_decision_is_unknown() -> None:
    # the key was stolen at entry 2 and found out at entry 4: what it signed from 2 on no longer counts
    for start in (1, 2, 3):  # 1: from the delegation itself, the first position a revocation may name
        entries = build_log([FOUND, key_entry(DELEGATE), decision(), decision(), revoke_from(start)])
        fails("unknown-key", NOT_DELEGATED, make(entries, 3, [1, 4]).encode())
    entries = build_log([FOUND, key_entry(DELEGATE), decision(), decision(), revoke_from(3)])
    assert verify(make(entries, 2, [1, 4]).encode()).signing_key == DELEGATE.public.raw


def test_back_dated_revocation_counts_only_if_the_root_key_signed_it() -> None:
    entries = build_log([FOUND, key_entry(DELEGATE), decision(), revoke_from(2, signer=ATTACKER)])
    assert verify(make(entries, 2, [1]).encode()).signing_key == DELEGATE.public.raw  # not in the bundle
    fails(
        "unknown-key", "key history entry 3 is invalid", make(entries, 2, [1, 3]).encode()
    )  # in it: refused


def test_revocation_from_after_itself_or_not_a_position_fails() -> None:
    for start in (5, 0, "2", True):
        entries = build_log([FOUND, key_entry(DELEGATE), decision(), revoke_from(start)])
        fails(
            "unknown-key",
            "key history entry 3: from is a position not after it$",
            make(entries, 2, [1, 3]).encode(),
        )


def test_key_added_by_a_non_root_key_is_unknown() -> None:
    # The delegate adding itself, or an attacker adding it: neither is the root key's word.
    for signer in (DELEGATE, ATTACKER):
        entries = build_log([FOUND, key_entry(DELEGATE, signer=signer), decision()])
        fails("unknown-key", "key history entry 1 is invalid", make(entries, 2, [1]).encode())


def test_key_added_after_the_decision_does_not_count() -> None:
    entries = build_log([FOUND, decision(key_entries=0), key_entry(DELEGATE)])
    fails("unknown-key", NOT_DELEGATED, make(entries, 1).encode())
    fails("unknown-key", "key history entry 2 comes after the decision", make(entries, 1, [2]).encode())


def test_history_entry_that_is_not_a_key_entry() -> None:
    not_a_key: Spec = ("public", {"kind": "note", "key": DELEGATE.public.raw}, COUNCIL)
    entries = build_log([FOUND, not_a_key, decision()])
    fails("unknown-key", NOT_A_KEY_ENTRY, make(entries, 2, [1]).encode())


@pytest.mark.parametrize(
    "kind", ["note", "log/keys", "LOG/KEY", "council/found"], ids=["note", "plural", "upper", "founding"]
)
def test_root_signed_entry_of_another_kind_never_delegates(kind: str) -> None:
    """Only a ``log/key`` entry delegates: another root-signed entry that happens to carry ``key`` and
    ``action: add`` gives that key no signing power."""
    body = {"kind": kind, "action": "add", "key": DELEGATE.public.raw}
    entries = build_log([FOUND, ("public", body, COUNCIL), decision()])
    fails("unknown-key", NOT_A_KEY_ENTRY, make(entries, 2, [1]).encode())


@pytest.mark.parametrize(
    "key", [DELEGATE.public.raw[:31], "not bytes", None], ids=["31-bytes", "text", "missing"]
)
def test_key_entry_without_a_usable_key(key: Any) -> None:
    body: dict[str, Any] = {"kind": "log/key", "action": "add"}
    if key is not None:
        body["key"] = key
    entries = build_log([FOUND, ("public", body, COUNCIL), decision()])
    check = "key history entry 1: " if isinstance(key, bytes) else NOT_A_KEY_ENTRY
    fails("unknown-key", check, make(entries, 2, [1]).encode())


@pytest.mark.parametrize("action", ["Add", "added", None], ids=["capitalised", "other-word", "missing"])
def test_key_entry_with_another_action_is_refused(action: str | None) -> None:
    body: dict[str, Any] = {"kind": "log/key", "key": DELEGATE.public.raw}
    if action is not None:
        body["action"] = action
    entries = build_log([FOUND, ("public", body, COUNCIL), decision()])
    fails("unknown-key", "key history entry 1 neither adds nor revokes", make(entries, 2, [1]).encode())


def test_key_history_of_another_key_neither_grants_nor_revokes() -> None:
    entries = build_log(
        [
            FOUND,
            key_entry(DELEGATE),
            key_entry(ATTACKER),
            key_entry(ATTACKER, action="revoke"),
            decision(key_entries=3),
        ]
    )
    assert verify(make(entries, 4, [1, 2, 3]).encode()).signing_key == DELEGATE.public.raw
    fails("unknown-key", MISCOUNTED, make(entries, 4, [2, 3]).encode())


def test_key_history_is_read_in_log_order_and_given_in_it() -> None:
    readded = build_log(
        [
            FOUND,
            key_entry(DELEGATE),
            key_entry(DELEGATE, action="revoke"),
            key_entry(DELEGATE),
            decision(key_entries=3),
        ]
    )
    assert verify(make(readded, 4, [1, 2, 3]).encode()).signing_key == DELEGATE.public.raw
    fails("unknown-key", NOT_IN_ORDER, make(readded, 4, [3, 2, 1]).encode())


def test_key_history_of_another_log_is_refused() -> None:
    foreign = sign_entry(
        OTHER_COUNCIL,
        log_id=OTHER_COUNCIL.public.raw,
        seq=1,
        prev=bytes(32),
        ts_ms=0,
        vis="public",
        body=key_entry(DELEGATE)[1],
    )
    bundle = make(LOG, 3, [1])
    with_foreign = Bundle(bundle.decision, bundle.checkpoint, bundle.founding, (ProvenEntry(foreign, ()),))
    fails(
        "unknown-key",
        "key history entry 1 is invalid: log: it belongs to another log$",
        with_foreign.encode(),
    )


def test_a_later_founding_entry_is_not_the_founding_one() -> None:
    """A second ``council/found`` entry, root-signed and in the tree, does not found the council: only
    entry 0 does."""
    second: Spec = ("public", {"kind": "council/found", "profile": {**PROFILE, "name": "Elsewhere"}}, COUNCIL)
    entries = build_log([FOUND, second, decision(COUNCIL)])
    assert verify(make(entries, 2).encode()).council == PROFILE
    fails("founding", NOT_ENTRY_0, make(entries, 2, founding_seq=1).encode())


# --- the bundle's shape: one encoding, nothing extra --------------------------------------------------


def _reshaped(change: Any) -> bytes:
    value = codec.decode(VALID.encode())
    change(value)
    return codec.encode(value)


def _set(path: tuple[Any, ...], item: Any) -> Any:
    def change(value: Any) -> None:
        for key in path[:-1]:
            value = value[key]
        value[path[-1]] = item

    return change


CHECKPOINT_BYTES = VALID.checkpoint.encode()


@pytest.mark.parametrize(
    ("change", "check"),
    [
        pytest.param(
            _set(("checkpoint",), CHECKPOINT_BYTES),
            "bundle entry is a map and checkpoint is note text",
            id="checkpoint-as-bytes",
        ),
        pytest.param(
            _set(("entry",), [1]), "bundle entry is a map and checkpoint is note text", id="entry-as-list"
        ),
        pytest.param(_set(("extra",), 1), NOT_A_BUNDLE, id="extra-field"),
        pytest.param(lambda v: v.pop("founding"), NOT_A_BUNDLE, id="missing-field"),
        pytest.param(_set(("v",), True), "unknown bundle version True", id="version-true"),
        pytest.param(_set(("v",), "1"), "unknown bundle version '1'", id="version-text"),
        pytest.param(
            _set(("entry", "extra"), b""), "bundle entry has header, signature and body", id="entry-extra"
        ),
        pytest.param(_set(("founding", "extra"), b""), "a bundled entry has header", id="founding-extra"),
        pytest.param(_set(("keys", 0, "extra"), b""), "a bundled entry has header", id="key-entry-extra"),
        pytest.param(
            lambda v: v["keys"][0].pop("proof"), "a bundled entry has header", id="key-entry-no-proof"
        ),
        pytest.param(_set(("founding",), []), "a bundled entry has header", id="founding-as-list"),
        pytest.param(_set(("keys",), {}), "bundle keys is a list of at most 64 entries", id="keys-empty-map"),
        pytest.param(
            _set(("keys",), b""), "bundle keys is a list of at most 64 entries", id="keys-empty-bytes"
        ),
        pytest.param(_set(("proof",), {}), "proof is a list", id="proof-empty-map"),
        pytest.param(_set(("proof",), b""), "proof is a list", id="proof-empty-bytes"),
        pytest.param(_set(("founding", "proof"), ""), "proof is a list", id="founding-proof-empty-text"),
        pytest.param(
            _set(("proof",), ["x" * 32]), "an inclusion path is at most 64 hashes", id="proof-of-text"
        ),
        pytest.param(
            _set(("founding", "body"), None), "a bundled entry carries its body", id="founding-no-body"
        ),
    ],
)
def test_bundle_shape_refused(change: Any, check: str) -> None:
    data = _reshaped(change)
    with pytest.raises(DecodeError, match=f"^{check}"):
        Bundle.decode(data)
    fails("encoding", check, data)


def test_key_and_proof_counts_are_bounded_at_64() -> None:
    keys = [key_entry(DELEGATE if i % 2 == 0 else ATTACKER, action="add") for i in range(64)]
    entries = build_log([FOUND, *keys, decision(key_entries=64)])
    at_limit = make(entries, 65, range(1, 65))
    assert len(Bundle.decode(at_limit.encode()).keys) == 64
    assert verify(at_limit.encode()).signing_key == DELEGATE.public.raw
    over = Bundle(VALID.decision, VALID.checkpoint, VALID.founding, (VALID.keys[0],) * 65)
    fails("encoding", "bundle keys is a list of at most 64 entries", over.encode())
    assert ProvenEntry(LOG[3], (bytes(32),) * 64).proof == (bytes(32),) * 64
    with pytest.raises(DecodeError, match=r"^an inclusion path is at most 64 hashes"):
        ProvenEntry(LOG[3], (bytes(32),) * 65)
    long_path = _reshaped(_set(("proof",), [bytes(32)] * 65))
    fails("encoding", "an inclusion path is at most 64 hashes", long_path)


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


def test_verified_entry_carries_what_was_verified() -> None:
    result = verify(VALID.encode())
    header = LOG[3].header
    assert (result.ts_ms, result.vis, result.seq) == (header.ts_ms, "public", 3)
    assert result.checkpoint == Checkpoint(
        log_origin(ROOT.raw), 4, merkle.root_from_leaves([e.id for e in LOG])
    )
    assert result.body == DECISION_BODY and result.body is not verify(VALID.encode()).body


def test_the_decision_itself_in_the_key_history_is_refused() -> None:
    """The history is what precedes the decision: the decision cannot vouch for itself."""
    bundle = make(LOG, 3, [1])
    with_itself = Bundle(bundle.decision, bundle.checkpoint, bundle.founding, (*bundle.keys, bundle.decision))
    fails("unknown-key", NOT_IN_ORDER, with_itself.encode())
    only_itself = Bundle(bundle.decision, bundle.checkpoint, bundle.founding, (bundle.decision,))
    fails("unknown-key", NOT_IN_ORDER, only_itself.encode())


def test_key_history_picks_the_log_key_entries_with_bodies() -> None:
    entries = build_log([FOUND, key_entry(DELEGATE), decision(), key_entry(ATTACKER, action="revoke")])
    assert key_history(entries) == [entries[1], entries[3]]
    assert key_history([entries[1].without_body(), entries[3]]) == [entries[3]]
    assert key_history([]) == []


def test_bundle_layout() -> None:
    value = codec.decode(VALID.encode())
    assert sorted(value) == ["checkpoint", "entry", "founding", "keys", "proof", "v"]
    assert value["v"] == 1 and value["entry"] == {
        "header": LOG[3].header_bytes,
        "signature": LOG[3].signature,
        "body": LOG[3].body_bytes,
    }
    assert (
        value["founding"]["header"] == LOG[0].header_bytes and value["keys"][0]["body"] == LOG[1].body_bytes
    )
    assert value["proof"] == list(VALID.decision.proof) and value["checkpoint"] == VALID.checkpoint


def test_a_bundle_without_key_history() -> None:
    entries = build_log([FOUND, decision(COUNCIL)])
    full = make(entries, 1)
    bare = Bundle(full.decision, full.checkpoint, full.founding)
    assert bare.keys == () and bare.encode() == full.encode()
    assert verify(bare.encode()).signing_key == ROOT.raw


def test_a_founding_entry_not_signed_by_the_root_key() -> None:
    """Entry 0 of this log, in the tree, but signed by another key: it founds nothing."""
    forged = sign_entry(ATTACKER, log_id=ROOT.raw, seq=0, prev=None, ts_ms=0, vis="public", body=FOUND[1])
    entries = build_log([FOUND, decision(COUNCIL)])
    entries = [forged, *entries[1:]]
    tree = merkle.MemoryTree([e.id for e in entries])
    _, note = checkpoint_note(entries)
    bundle = Bundle(
        ProvenEntry(entries[1], tuple(merkle.inclusion_proof(tree, 1, 2))),
        note,
        ProvenEntry(forged, tuple(merkle.inclusion_proof(tree, 0, 2))),
    )
    fails("founding", "the founding entry is invalid: unknown-key: ", bundle.encode())


def test_history_before_the_delegation_does_not_stop_the_search() -> None:
    """An entry of another key that comes first is read, not the end of the search."""
    entries = build_log([FOUND, key_entry(ATTACKER), key_entry(DELEGATE), decision(key_entries=2)])
    assert verify(make(entries, 3, [1, 2]).encode()).signing_key == DELEGATE.public.raw


# --- the spec and the verifier name the same steps -----------------------------------------------------


def _spec_section_8() -> str:
    text = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text()
    return text[text.index("## 8. The decision bundle") : text.index("## 9. Attack vectors")]


def test_the_spec_names_the_verifiers_steps_in_its_order() -> None:
    """Each step §8 defines (``**name** —``) is one ``verify_bundle`` raises, in the same order; every other
    bold name there (``else **inclusion**``) is one of them too."""
    section = _spec_section_8()
    assert re.findall(r"\*\*([a-z-]+)\*\* —", section) == list(STEPS)
    assert set(re.findall(r"\*\*([a-z-]+)\*\*", section)) == set(STEPS)


def test_the_verifier_raises_only_named_steps() -> None:
    """Every step the bundle code raises directly, and every bundle attack's expected step, is in STEPS."""
    source = (Path(__file__).parents[2] / "protocol" / "bundle.py").read_text()
    raised = set(re.findall(r'VerificationError\(\s*"([a-z-]+)"', source))
    assert raised <= set(STEPS) and raised >= {"encoding", "body-hash", "kind", "unknown-key"}
    attacks = json.loads((Path(__file__).parents[1] / "vectors" / "attacks.json").read_text())
    expected = {a["expect"]["step"] for a in attacks if a["target"] == "bundle"}
    assert expected and expected <= set(STEPS)
