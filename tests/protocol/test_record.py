"""The record and its public twin (protocol.record; docs/protocol.md §10): a record entry never passes for a
public one, a public entry is exactly the publication of the record entry it names, with the record's root at
it, and nothing public lets anyone recompute a record position."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import codec
from protocol.entry import Entry, Header, prepare_entry, verify_follows
from protocol.errors import DecodeError, ProtocolError, VerificationError
from protocol.keys import Domain, SigningKey
from protocol.merkle import EMPTY_ROOT, MemoryTree, leaf_hash
from protocol.record import (
    Commitment,
    Gap,
    RecordEntry,
    check_gap,
    check_record_log,
    commitment_of,
    prepare_record_entry,
    publish,
    record_log_id,
    sign_record_entry,
    sign_twin,
    verify_publication,
    verify_twin,
)
from tests.protocol.strategies import canonical_text

ROOT = SigningKey.from_seed(bytes([1]) * 32)
DELEGATE = SigningKey.from_seed(bytes([2]) * 32)
OTHER = SigningKey.from_seed(bytes([5]) * 32)
T0 = 1_700_000_000_000

# (vis, body) of a small record: what a council does between two public entries stays in the record.
SCRIPT: list[tuple[str, dict[str, Any]]] = [
    ("public", {"kind": "council/found", "profile": {"name": "Tabriz"}}),
    ("council", {"kind": "member/join", "member": b"m1" * 8}),
    ("council", {"kind": "member/join", "member": b"m2" * 8}),
    ("public", {"kind": "assembly/open", "agenda": "budget"}),
    ("public", {"kind": "motion/propose", "text": "parks"}),
    ("council", {"kind": "motion/vote", "member": b"m1" * 8, "choice": "yes"}),
    ("public", {"kind": "decision", "outcome": "adopted", "tally": {"yes": 1, "no": 0}}),
]


def salt(i: int) -> bytes:
    return hashlib.sha256(b"salt" + bytes([i])).digest()[:16]


def build_record(
    script: list[tuple[str, dict[str, Any]]] = SCRIPT, *, root: SigningKey = ROOT, epoch: int = 0
) -> list[RecordEntry]:
    record: list[RecordEntry] = []
    for seq, (vis, body) in enumerate(script):
        record.append(
            sign_record_entry(
                root,
                root_key=root.public.raw,
                epoch=epoch,
                seq=seq,
                prev=record[-1].id if record else None,
                ts_ms=T0 + 1000 * seq,
                vis=vis,
                body={**body, "salt": salt(seq)},
            )
        )
    return record


def build_public(record: list[RecordEntry], *, key: SigningKey = ROOT) -> list[Entry]:
    """The public log, published from ``record`` as a node does it: one twin per public record entry."""
    tree = MemoryTree()
    public: list[Entry] = []
    for record_entry in record:
        tree.append(record_entry.id)
        if record_entry.header.vis == "public":
            public.append(
                sign_twin(
                    key,
                    record_entry,
                    tree.root(),
                    root_key=ROOT.public.raw,
                    seq=len(public),
                    prev=public[-1].id if public else None,
                )
            )
    return public


RECORD = build_record()
PUBLIC = build_public(RECORD)
DECISION = 6  # record position of the decision
DECISION_TWIN = PUBLIC[-1]


def forged_twin(
    *,
    body: Callable[[dict[str, Any]], dict[str, Any]] = lambda b: b,
    ts_ms: int | None = None,
    base: Entry = DECISION_TWIN,
) -> Entry:
    """A validly signed public entry like ``base``, with its body or time changed."""
    h = base.header
    unsigned = prepare_entry(
        ROOT.public.id,
        log_id=h.log_id,
        seq=h.seq,
        prev=h.prev,
        ts_ms=h.ts_ms if ts_ms is None else ts_ms,
        vis="public",
        body=body(base.body()),
    )
    return unsigned.signed(ROOT.sign(Domain.ENTRY, unsigned.header_bytes))


def with_commitment(entry_id: bytes, root: bytes) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda b: {**b, "record": {"entry": entry_id, "root": root}}


# --- the record log id and domain --------------------------------------------------------------------------


def test_record_log_id_is_derived_and_never_the_public_id() -> None:
    raw = ROOT.public.raw
    expected = hashlib.sha256(b"shora/v1/record-log\x00" + raw + bytes(4)).digest()
    assert record_log_id(raw) == expected != raw
    assert record_log_id(raw, 1) not in {expected, raw}
    assert record_log_id(OTHER.public.raw) != expected
    assert RECORD[0].header.log_id == expected and PUBLIC[0].header.log_id == raw


@pytest.mark.parametrize(
    ("root_key", "epoch"),
    [(b"\x01" * 31, 0), (ROOT.public.raw, -1), (ROOT.public.raw, 2**32), (ROOT.public.raw, True)],
    ids=["short-key", "negative-epoch", "epoch-overflow", "bool-epoch"],
)
def test_record_log_id_refuses_bad_input(root_key: bytes, epoch: int) -> None:
    check = "a council root key is 32 bytes" if len(root_key) != 32 else "a record epoch is a u32"
    with pytest.raises(DecodeError, match=f"^{check}$"):
        record_log_id(root_key, epoch)


def test_record_entries_round_trip_and_chain() -> None:
    previous: Entry | None = None
    for entry in RECORD:
        received = RecordEntry(entry.header_bytes, entry.signature, entry.body_bytes)
        assert received == entry and type(received) is RecordEntry
        received.verify_signature(ROOT.public)
        assert check_record_log(received, ROOT.public.raw) is received
        verify_follows(previous, received)
        previous = received
    assert type(RECORD[0].without_body()) is RecordEntry


def test_record_entry_signed_by_a_delegate() -> None:
    entry = sign_record_entry(
        DELEGATE,
        root_key=ROOT.public.raw,
        seq=7,
        prev=RECORD[-1].id,
        ts_ms=T0 + 7000,
        vis="public",
        body={"kind": "board/report", "text": "done", "salt": salt(7)},
    )
    entry.verify_signature(DELEGATE.public)
    with pytest.raises(VerificationError) as info:
        entry.verify_signature(ROOT.public)
    assert info.value.step == "unknown-key"


# --- hostile inputs, each with its step ---------------------------------------------------------------------


def _record_entry_as_public() -> None:
    Entry(RECORD[0].header_bytes, RECORD[0].signature).verify_signature(ROOT.public)


def _public_entry_as_record() -> None:
    RecordEntry(PUBLIC[0].header_bytes, PUBLIC[0].signature).verify_signature(ROOT.public)


def _record_entry_of_other_council() -> None:
    check_record_log(build_record(root=OTHER)[0], ROOT.public.raw)


def _record_entry_of_other_epoch() -> None:
    check_record_log(RECORD[0], ROOT.public.raw, epoch=1)


def _public_entry_as_record_log() -> None:
    check_record_log(PUBLIC[0], ROOT.public.raw)


def _twin_content_swapped() -> None:
    verify_twin(forged_twin(body=lambda b: {**b, "outcome": "rejected"}), RECORD)


def _twin_field_added() -> None:
    verify_twin(forged_twin(body=lambda b: {**b, "note": "extra"}), RECORD)


def _twin_salt_published() -> None:
    verify_twin(forged_twin(body=lambda b: {**b, "salt": salt(DECISION)}), RECORD)


def _root_not_committed() -> None:
    earlier_root = MemoryTree([e.id for e in RECORD[:DECISION]]).root()
    verify_twin(forged_twin(body=with_commitment(RECORD[DECISION].id, earlier_root)), RECORD)


def _root_of_longer_record() -> None:
    longer = build_record([*SCRIPT, ("council", {"kind": "motion/vote", "choice": "no"})])
    later_root = MemoryTree([e.id for e in longer]).root()
    verify_twin(forged_twin(body=with_commitment(RECORD[DECISION].id, later_root)), longer)


def _twin_missing() -> None:
    verify_twin(
        forged_twin(body=with_commitment(bytes(32), MemoryTree([e.id for e in RECORD]).root())), RECORD
    )


def _twin_names_other_entry() -> None:
    # names the motion's record entry, with the root at the motion, but carries the decision's content
    root = MemoryTree([e.id for e in RECORD[:5]]).root()
    verify_twin(forged_twin(body=with_commitment(RECORD[4].id, root)), RECORD)


def _twin_of_council_entry() -> None:
    root = MemoryTree([e.id for e in RECORD[:6]]).root()
    verify_twin(forged_twin(body=with_commitment(RECORD[5].id, root)), RECORD)


def _publish_council_entry() -> None:
    publish(RECORD[1], EMPTY_ROOT)


def _publish_reserved_key() -> None:
    entry = build_record([("public", {"kind": "x", "record": {"entry": b"", "root": b""}})])[0]
    publish(entry, entry.id)


def _twin_time_shifted() -> None:
    verify_twin(forged_twin(ts_ms=DECISION_TWIN.header.ts_ms + 1), RECORD)


def _twin_without_commitment() -> None:
    verify_twin(forged_twin(body=lambda b: {k: v for k, v in b.items() if k != "record"}), RECORD)


def _twin_malformed_commitment() -> None:
    verify_twin(forged_twin(body=lambda b: {**b, "record": {"entry": RECORD[DECISION].id}}), RECORD)


def _twin_without_body() -> None:
    verify_twin(DECISION_TWIN.without_body(), RECORD)


def _twin_of_other_council_record() -> None:
    verify_twin(DECISION_TWIN, build_record(root=OTHER))


def _record_not_from_its_start() -> None:
    verify_twin(PUBLIC[1], RECORD[1:])


def _publication_skips_entry() -> None:
    verify_publication([PUBLIC[0], PUBLIC[2]], RECORD)


def _publication_reordered() -> None:
    verify_publication([PUBLIC[0], PUBLIC[2], PUBLIC[1]], RECORD)


def _publication_beyond_record() -> None:
    verify_publication(PUBLIC, RECORD[:DECISION])


def _publication_of_record_with_hole() -> None:
    verify_publication(PUBLIC, [*RECORD[:2], *RECORD[3:]])


def _unsalted_public_record_body() -> None:
    prepare_record_entry(
        ROOT.public.id, root_key=ROOT.public.raw, seq=0, prev=None, ts_ms=T0, vis="public", body={"kind": "x"}
    )


@dataclass(frozen=True)
class Attack:
    run: Callable[[], None]
    error: type[ProtocolError]
    step: str | None


ATTACKS = {
    "record_entry_as_public": Attack(_record_entry_as_public, VerificationError, "signature"),
    "public_entry_as_record": Attack(_public_entry_as_record, VerificationError, "signature"),
    "record_entry_other_council": Attack(_record_entry_of_other_council, VerificationError, "record-log"),
    "record_entry_other_epoch": Attack(_record_entry_of_other_epoch, VerificationError, "record-log"),
    "public_entry_as_record_log": Attack(_public_entry_as_record_log, VerificationError, "record-log"),
    "unsalted_public_record_body": Attack(_unsalted_public_record_body, DecodeError, None),
    "twin_content_swapped": Attack(_twin_content_swapped, VerificationError, "twin-content"),
    "twin_field_added": Attack(_twin_field_added, VerificationError, "twin-content"),
    # a public log's body never carries a salt, so the record's salt cannot even be put in a public entry
    "twin_salt_published": Attack(_twin_salt_published, DecodeError, None),
    "root_not_committed": Attack(_root_not_committed, VerificationError, "record-root"),
    "root_of_longer_record": Attack(_root_of_longer_record, VerificationError, "record-root"),
    "twin_missing": Attack(_twin_missing, VerificationError, "twin-missing"),
    "twin_names_other_entry": Attack(_twin_names_other_entry, VerificationError, "twin-content"),
    "twin_of_council_entry": Attack(_twin_of_council_entry, VerificationError, "twin-council"),
    "publish_council_entry": Attack(_publish_council_entry, VerificationError, "twin-council"),
    "publish_reserved_key": Attack(_publish_reserved_key, VerificationError, "twin-content"),
    "twin_time_shifted": Attack(_twin_time_shifted, VerificationError, "twin-time"),
    "twin_without_commitment": Attack(_twin_without_commitment, VerificationError, "twin-commitment"),
    "twin_malformed_commitment": Attack(_twin_malformed_commitment, VerificationError, "twin-commitment"),
    "twin_without_body": Attack(_twin_without_body, VerificationError, "twin-commitment"),
    "twin_other_council_record": Attack(_twin_of_other_council_record, VerificationError, "twin-missing"),
    "record_not_from_its_start": Attack(_record_not_from_its_start, VerificationError, "record-root"),
    "publication_skips_entry": Attack(_publication_skips_entry, VerificationError, "twin-missing"),
    "publication_reordered": Attack(_publication_reordered, VerificationError, "twin-missing"),
    "publication_beyond_record": Attack(_publication_beyond_record, VerificationError, "twin-missing"),
    "publication_record_with_hole": Attack(
        _publication_of_record_with_hole, VerificationError, "record-root"
    ),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_is_refused_with_its_step(name: str) -> None:
    attack = ATTACKS[name]
    with pytest.raises(ProtocolError) as info:
        attack.run()
    assert type(info.value) is attack.error, info.value
    assert getattr(info.value, "step", None) == attack.step, info.value


def test_twin_of_another_councils_record_entry_is_refused_as_record_log() -> None:
    # the other council's record entry, named with its own root: found, then refused as another record's
    other = build_record(root=OTHER)
    root = MemoryTree([e.id for e in other[: DECISION + 1]]).root()
    body = {**publish(other[DECISION], root)}
    forged = forged_twin(body=lambda _b: body)
    with pytest.raises(VerificationError) as info:
        verify_twin(forged, other)
    assert info.value.step == "record-log"


# --- what a member checks -----------------------------------------------------------------------------


def test_every_public_entry_is_the_twin_of_its_record_entry() -> None:
    public_positions = [i for i, (vis, _) in enumerate(SCRIPT) if vis == "public"]
    for public_entry, position in zip(PUBLIC, public_positions, strict=True):
        twin = verify_twin(public_entry, RECORD)
        assert twin.seq == position and twin.record_entry is RECORD[position]
        assert twin.root == MemoryTree([e.id for e in RECORD[: position + 1]]).root()
        public_entry.verify_signature(ROOT.public)
    twins = verify_publication(PUBLIC, RECORD)
    assert [t.seq for t in twins] == public_positions


def test_a_lagging_public_log_is_a_prefix_of_the_publication() -> None:
    assert [t.seq for t in verify_publication(PUBLIC[:2], RECORD)] == [0, 3]
    assert verify_publication([], RECORD) == []


def test_public_twin_carries_the_content_and_only_its_own_time() -> None:
    record_entry, twin = RECORD[DECISION], DECISION_TWIN
    body = twin.body()
    commitment = commitment_of(twin)
    assert commitment == Commitment(record_entry.id, MemoryTree([e.id for e in RECORD]).root())
    assert {k: v for k, v in body.items() if k != "record"} == {
        k: v for k, v in record_entry.body().items() if k != "salt"
    }
    h = twin.header
    assert (h.log_id, h.seq, h.prev, h.ts_ms, h.vis) == (
        ROOT.public.raw,
        3,
        PUBLIC[2].id,
        T0 + 6000,
        "public",
    )
    # no record position anywhere in what is published: the record seq 6 is neither in the header nor body
    assert record_entry.seq == DECISION and h.seq != DECISION


def test_record_position_cannot_be_recomputed_from_public_data() -> None:
    """An observer holding the public log tries to recompute a record twin's id — and so its seq — by
    guessing seq (the decision follows a council vote; the motion follows a public entry directly)."""
    motion = PUBLIC[2]  # record entry 4 directly follows record entry 3, assembly/open, itself public
    named = commitment_of(motion).entry
    previous = commitment_of(PUBLIC[1]).entry  # the assembly's record id, public
    unsalted = {k: v for k, v in motion.body().items() if k != "record"}
    body_hash = hashlib.sha256(codec.encode(unsalted)).digest()
    log_id = record_log_id(ROOT.public.raw)
    for seq in range(1, 1000):
        header = Header(log_id, seq, previous, motion.header.ts_ms, "public", body_hash, ROOT.public.id)
        assert leaf_hash(header.encode()) != named


def test_replaying_the_record_rebuilds_the_public_log_byte_for_byte() -> None:
    again = build_public(build_record())
    assert [(e.header_bytes, e.signature, e.body_bytes) for e in again] == [
        (e.header_bytes, e.signature, e.body_bytes) for e in PUBLIC
    ]


_text = canonical_text(max_size=20)
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), _text, st.binary(max_size=40)
)
_bodies = st.dictionaries(
    _text.filter(lambda k: k not in {"kind", "salt", "record"}),
    st.one_of(_scalars, st.lists(_scalars, max_size=4)),
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(
    fields=_bodies,
    kind=_text.filter(bool),
    ts=st.integers(0, 2**40),
    salt_bytes=st.binary(min_size=16, max_size=16),
)
def test_publish_is_a_pure_function(fields: dict[str, Any], kind: str, ts: int, salt_bytes: bytes) -> None:
    body = {**fields, "kind": kind, "salt": salt_bytes}
    entry = sign_record_entry(
        ROOT, root_key=ROOT.public.raw, seq=0, prev=None, ts_ms=ts, vis="public", body=body
    )
    received = RecordEntry(entry.header_bytes, entry.signature, entry.body_bytes)
    first, second = publish(entry, entry.id), publish(received, entry.id)
    assert codec.encode(first) == codec.encode(second)
    assert first.pop("record") == {"entry": entry.id, "root": entry.id}
    assert first == {k: v for k, v in body.items() if k != "salt"}
    twin = sign_twin(ROOT, entry, entry.id, root_key=ROOT.public.raw, seq=0, prev=None)
    assert verify_twin(twin, [received]).seq == 0


# --- the gap a restore leaves ---------------------------------------------------------------------------


def gap_entry(
    gap: Gap, *, epoch: int | None = None, seq: int = 0, vis: str = "council", body: Any = None
) -> RecordEntry:
    return sign_record_entry(
        ROOT,
        root_key=ROOT.public.raw,
        epoch=gap.epoch + 1 if epoch is None else epoch,
        seq=seq,
        prev=None if seq == 0 else bytes(32),
        ts_ms=T0 + 100_000,
        vis=vis,
        body=gap.to_body(salt(99)) if body is None else body,
    )


KEPT = RECORD[:5]
GAP = Gap(0, 5, MemoryTree([e.id for e in KEPT]).root(), commitment_of(PUBLIC[2]))


def test_gap_opens_the_next_epoch() -> None:
    entry = gap_entry(GAP)
    assert check_gap(entry, root_key=ROOT.public.raw, kept=KEPT) == GAP
    assert entry.header.log_id == record_log_id(ROOT.public.raw, 1)
    assert Gap.from_body(entry.body()) == GAP
    empty = Gap(0, 0, EMPTY_ROOT, None)
    assert check_gap(gap_entry(empty), root_key=ROOT.public.raw, kept=[]) == empty


def _gap_bad_body(mutate: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[], None]:
    return lambda: check_gap(
        gap_entry(GAP, body=mutate(GAP.to_body(salt(99)))), root_key=ROOT.public.raw, kept=KEPT
    )


GAP_ATTACKS: dict[str, tuple[Callable[[], object], str]] = {
    "gap_public": (
        lambda: check_gap(
            gap_entry(GAP, vis="public", body={**GAP.to_body(salt(1))}), root_key=ROOT.public.raw, kept=KEPT
        ),
        "gap-shape",
    ),
    "gap_extra_field": (_gap_bad_body(lambda b: {**b, "note": "x"}), "gap-shape"),
    "gap_kept_negative": (_gap_bad_body(lambda b: {**b, "kept": -1}), "gap-shape"),
    "gap_public_malformed": (_gap_bad_body(lambda b: {**b, "public": {"entry": b"x"}}), "gap-shape"),
    "gap_other_kind": (_gap_bad_body(lambda b: {**b, "kind": "record/hole"}), "gap-shape"),
    "gap_skips_an_epoch": (
        lambda: check_gap(gap_entry(GAP, epoch=2), root_key=ROOT.public.raw, kept=KEPT),
        "gap-position",
    ),
    "gap_not_first": (
        lambda: check_gap(gap_entry(GAP, seq=1), root_key=ROOT.public.raw, kept=KEPT),
        "gap-position",
    ),
    "gap_other_council": (
        lambda: check_gap(gap_entry(GAP), root_key=OTHER.public.raw, kept=KEPT),
        "gap-position",
    ),
    "gap_kept_count": (
        lambda: check_gap(gap_entry(GAP), root_key=ROOT.public.raw, kept=RECORD[:4]),
        "gap-kept",
    ),
    "gap_kept_root": (_gap_bad_body(lambda b: {**b, "kept_root": bytes(32)}), "gap-kept"),
    "gap_kept_other_record": (
        lambda: check_gap(gap_entry(GAP), root_key=ROOT.public.raw, kept=build_record(epoch=1)[:5]),
        "gap-kept",
    ),
    "gap_not_a_record_entry": (
        lambda: check_gap(PUBLIC[0], root_key=ROOT.public.raw, kept=KEPT),
        "gap-shape",
    ),
}


@pytest.mark.parametrize("name", sorted(GAP_ATTACKS))
def test_gap_attack_is_refused_with_its_step(name: str) -> None:
    run, step = GAP_ATTACKS[name]
    with pytest.raises(VerificationError) as info:
        run()
    assert info.value.step == step, info.value


@pytest.mark.parametrize(
    ("fields", "salt_value"),
    [
        ((-1, 0, bytes(32), None), salt(0)),
        ((2**32 - 1, 0, bytes(32), None), salt(0)),
        ((0, 0, bytes(31), None), salt(0)),
        ((0, 0, bytes(32), None), b"short"),
    ],
    ids=["negative-epoch", "last-epoch", "short-root", "short-salt"],
)
def test_gap_refuses_malformed_values(fields: tuple[Any, ...], salt_value: bytes, request: Any) -> None:
    check = {
        "negative-epoch": "a gap names an epoch below the last",
        "last-epoch": "a gap names an epoch below the last",
        "short-root": "a gap's kept_root is 32 bytes",
        "short-salt": "a salt is 16 bytes",
    }[request.node.callspec.id]
    with pytest.raises(DecodeError, match=f"^{check}$"):
        Gap(*fields).to_body(salt_value)
