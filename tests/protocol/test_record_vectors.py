"""The committed vectors of the record, its twins, a sealed segment and a recovery file (vectors/record):
reproducible byte for byte, valid ones check out, named attacks fail with exactly their step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from protocol import codec
from protocol.entry import Entry, verify_follows
from protocol.errors import ProtocolError
from protocol.keys import BACKENDS, Domain, PublicKey
from protocol.record import (
    RecordEntry,
    check_gap,
    commitment_of,
    record_log_id,
    verify_publication,
    verify_twin,
)
from protocol.recovery import Recovery
from protocol.sealed import BackupKey, decode_items, open_segment, read_header
from tests.vectors import generate_record
from tests.vectors.generate import from_json

VECTORS = generate_record.HERE


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def _files(root: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in root.iterdir() if path.is_file()}


def test_regenerated_vectors_equal_the_committed_ones(tmp_path: Path) -> None:
    generate_record.generate(tmp_path)
    fresh, committed = _files(tmp_path), _files(VECTORS)
    assert sorted(fresh) == sorted(committed)
    for name, data in fresh.items():
        assert data == committed[name], f"{name} differs from a fresh generation"


def _record() -> list[RecordEntry]:
    return [
        RecordEntry(bytes.fromhex(c["header"]), bytes.fromhex(c["signature"]), bytes.fromhex(c["body"]))
        for c in load("record.json")["record"]
    ]


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_record_and_public_twins(backend: str) -> None:
    case = load("record.json")
    root_key = bytes.fromhex(case["root_key"])
    for item in case["record_log_ids"]:
        assert record_log_id(root_key, item["epoch"]).hex() == item["log_id"]
    record, previous = _record(), None
    for entry, c in zip(record, case["record"], strict=True):
        entry.verify_signature(PublicKey(bytes.fromhex(c["signer"])), backend=backend)
        verify_follows(previous, entry)
        assert (
            entry.id.hex() == c["id"]
            and entry.header.log_id.hex() == c["log_id"] == case["record_log_ids"][0]["log_id"]
        )
        assert bytes.fromhex(c["signing_input"]) == Domain.RECORD.frame(entry.header_bytes)
        assert entry.body() == from_json(c["body_value"])
        previous = entry
    public = []
    for c in case["public"]:
        entry = Entry(bytes.fromhex(c["header"]), bytes.fromhex(c["signature"]), bytes.fromhex(c["body"]))
        entry.verify_signature(PublicKey(bytes.fromhex(c["signer"])), backend=backend)
        twin = verify_twin(entry, record)
        assert twin.seq == c["twin"] and twin.root.hex() == case["record"][c["twin"]]["root"]
        assert entry.header.ts_ms == case["record"][c["twin"]]["ts_ms"] and entry.header.log_id == root_key
        assert bytes.fromhex(c["signing_input"]) == Domain.ENTRY.frame(entry.header_bytes)
        public.append(entry)
    assert [t.seq for t in verify_publication(public, record)] == [c["twin"] for c in case["public"]]
    g = case["gap"]
    gap_entry = RecordEntry(
        bytes.fromhex(g["header"]), bytes.fromhex(g["signature"]), bytes.fromhex(g["body"])
    )
    gap_entry.verify_signature(PublicKey(root_key), backend=backend)
    gap = check_gap(gap_entry, root_key=root_key, kept=record[: g["kept"]])
    assert (
        gap.public == commitment_of(public[-1])
        and gap_entry.header.log_id.hex() == case["record_log_ids"][1]["log_id"]
    )


def test_sealed_segment() -> None:
    case = load("sealed.json")
    segment = (VECTORS / "segment.bin").read_bytes()
    assert segment[:64].hex() == case["info"] and segment[64:96].hex() == case["enc"]
    assert segment[-64:].hex() == case["signature"]
    header = read_header(segment)
    assert (header.council.hex(), header.index, header.key_id.hex()) == (
        case["council"],
        case["index"],
        case["key_id"],
    )
    backup = BackupKey.from_secret(bytes.fromhex(case["backup_secret"]))
    assert backup.public.hex() == case["backup_public"]
    data = open_segment(
        segment,
        council=header.council,
        index=case["index"],
        keys=[PublicKey(bytes.fromhex(case["signer"]))],
        backup=backup,
    )
    assert data.hex() == case["data"]
    items = decode_items(data)
    record = load("record.json")["record"]
    assert [codec.decode(payload) for _, payload in items[:2]] == [
        [bytes.fromhex(c["header"]), bytes.fromhex(c["signature"]), bytes.fromhex(c["body"])]
        for c in record[:2]
    ]


def test_sealed_segment_opens_with_cryptography_hpke() -> None:
    hpke = pytest.importorskip("cryptography.hazmat.primitives.hpke")
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    case = load("sealed.json")
    segment = (VECTORS / "segment.bin").read_bytes()
    suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
    secret = X25519PrivateKey.from_private_bytes(bytes.fromhex(case["backup_secret"]))
    plaintext = suite.decrypt(segment[64:-64], secret, info=segment[:64])
    data = bytes.fromhex(case["data"])
    assert plaintext[:4] == len(data).to_bytes(4, "big") and plaintext[4 : 4 + len(data)] == data


def test_recovery_file() -> None:
    case = load("recovery.json")
    text = (VECTORS / "recovery.txt").read_bytes()
    assert text.decode() == case["text"]
    recovery = Recovery.decode(text)
    assert recovery.council.hex() == case["council"] and recovery.root_key.seed().hex() == case["root_seed"]
    assert recovery.backup_key.secret().hex() == case["backup_secret"]


ATTACKS = load("attacks.json")


def _run(case: dict[str, Any], backend: str) -> None:
    target = case["target"]
    if target in {"entry", "record_entry"}:
        cls = Entry if target == "entry" else RecordEntry
        entry = cls(bytes.fromhex(case["header"]), bytes.fromhex(case["signature"]))
        entry.verify_signature(PublicKey(bytes.fromhex(case["public_key"])), backend=backend)
    elif target == "twin":
        entry = Entry(
            bytes.fromhex(case["header"]), bytes.fromhex(case["signature"]), bytes.fromhex(case["body"])
        )
        verify_twin(entry, _record())
    elif target == "segment":
        sealed = load("sealed.json")
        segment = bytearray((VECTORS / "segment.bin").read_bytes())
        if case["flip"] is not None:
            segment[case["flip"]] ^= 1
        if case["truncate"]:
            del segment[-case["truncate"] :]
        open_segment(
            bytes(segment),
            council=bytes.fromhex(case["council"]),
            index=case["index"],
            keys=[PublicKey(bytes.fromhex(sealed["signer"]))],
            backup=BackupKey.from_secret(bytes.fromhex(case["backup_secret"])),
        )
    elif target == "recovery":
        Recovery.decode(case["text"].encode())
    else:
        raise AssertionError(f"unknown attack target {target}")


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("case", ATTACKS, ids=[a["name"] for a in ATTACKS])
def test_attack_fails_with_its_expected_step(case: dict[str, Any], backend: str) -> None:
    with pytest.raises(ProtocolError) as info:
        _run(case, backend)
    assert type(info.value).__name__ == case["expect"]["error"], info.value
    assert getattr(info.value, "step", None) == case["expect"]["step"], info.value


def test_every_named_attack_has_a_vector() -> None:
    assert sorted(a["name"] for a in ATTACKS) == sorted(
        {
            "record_entry_as_public",
            "public_entry_as_record",
            "twin_content_swapped",
            "root_not_committed",
            "twin_missing",
            "twin_of_council_entry",
            "segment_replayed_other_index",
            "segment_other_council",
            "segment_truncated",
            "segment_bitflip",
            "segment_other_backup_key",
            "recovery_file_corrupted",
            "recovery_other_council",
        }
    )
