"""Generate the vectors of the record, its public twins, a sealed segment and a recovery file:
``python -m tests.vectors.generate_record`` (docs/protocol.md §10–§12).

Everything comes from fixed seeds, times and salts, and the segment from a fixed ephemeral key, so running
this twice writes the same bytes (``tests/protocol/test_record_vectors.py`` checks it byte for byte). Files,
under ``tests/vectors/record/`` (bytes in JSON are lowercase hex):

    record.json    record log ids; a 5-entry record (header, signing input, signature, body, id, root after
                   it); its 3 public twins (header, signature, body, commitment); the gap entry of a restore
    sealed.json    one segment: keys, the HPKE intermediate values, the clear header, the carried data
    segment.bin    that segment, byte for byte (65,536 bytes)
    recovery.txt   a recovery file; recovery.json what it holds
    attacks.json   named attacks on all of them, each with the step it must fail with
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from protocol import codec
from protocol.entry import Entry, prepare_entry
from protocol.keys import SEGMENT_TAG, Domain, SigningKey
from protocol.merkle import MemoryTree
from protocol.record import (
    RECORD_LOG_TAG,
    Gap,
    RecordEntry,
    commitment_of,
    record_log_id,
    sign_record_entry,
    sign_twin,
)
from protocol.recovery import Recovery
from protocol.sealed import (
    INFO_SIZE,
    ITEM_DIRECTORY,
    ITEM_RECORD,
    BackupKey,
    encode_items,
    key_schedule,
    seal_segment,
    segment_digest,
)
from tests.vectors.generate import CHARTER, COUNCIL, DELEGATE, MEMBER, OTHER_COUNCIL, PEER, to_json

HERE = Path(__file__).resolve().parent / "record"
T0_MS = 1_700_000_000_000
BACKUP = BackupKey.from_secret(bytes([9]) * 32)
OTHER_BACKUP = BackupKey.from_secret(bytes([10]) * 32)
EPHEMERAL = bytes([11]) * 32  # the segment's ephemeral X25519 secret: fixed here, fresh in real use
SEGMENT_INDEX = 3


def salt(seq: int, epoch: int = 0) -> bytes:
    return bytes([0x50 + 16 * epoch + seq]) * 16


# (vis, signer, body without salt) of each record entry
SCRIPT: list[tuple[str, SigningKey, dict[str, Any]]] = [
    (
        "public",
        COUNCIL,
        {"kind": "council/found", "profile": {"name": "Tabriz city council", "city": "Tabriz"}},
    ),
    ("council", DELEGATE, {"kind": "member/join", "member": MEMBER, "charter_hash": CHARTER, "pubkey": None}),
    (
        "public",
        DELEGATE,
        {"kind": "motion/propose", "text": "Open the parks at night", "visibility": "public"},
    ),
    ("council", DELEGATE, {"kind": "motion/vote", "member": MEMBER, "choice": "yes"}),
    (
        "public",
        DELEGATE,
        {"kind": "decision", "outcome": "adopted", "tally": {"abstain": 0, "no": 0, "yes": 1}},
    ),
]


def build_record() -> list[RecordEntry]:
    record: list[RecordEntry] = []
    for seq, (vis, signer, body) in enumerate(SCRIPT):
        record.append(
            sign_record_entry(
                signer,
                root_key=COUNCIL.public.raw,
                seq=seq,
                prev=record[-1].id if record else None,
                ts_ms=T0_MS + 60_000 * seq,
                vis=vis,  # type: ignore[arg-type]
                body={**body, "salt": salt(seq)},
            )
        )
    return record


def build_public(record: list[RecordEntry]) -> list[Entry]:
    """The public log, published from the record by the key that signed each record twin."""
    tree, public = MemoryTree(), []
    for record_entry, (vis, signer, _) in zip(record, SCRIPT, strict=True):
        tree.append(record_entry.id)
        if vis == "public":
            public.append(
                sign_twin(
                    signer,
                    record_entry,
                    tree.root(),
                    root_key=COUNCIL.public.raw,
                    seq=len(public),
                    prev=public[-1].id if public else None,
                )
            )
    return public


KEPT = 3  # the restore of the gap vector kept entries 0-2 of epoch 0


def build_gap(record: list[RecordEntry], public: list[Entry]) -> RecordEntry:
    gap = Gap(0, KEPT, MemoryTree([e.id for e in record[:KEPT]]).root(), commitment_of(public[-1]))
    return sign_record_entry(
        COUNCIL,
        root_key=COUNCIL.public.raw,
        epoch=1,
        seq=0,
        prev=None,
        ts_ms=T0_MS + 3_600_000,
        vis="council",
        body=gap.to_body(salt(0, epoch=1)),
    )


def _entry(entry: Entry, signer: SigningKey, domain: Domain) -> dict[str, Any]:
    assert entry.body_bytes is not None
    h = entry.header
    return {
        "seq": h.seq,
        "vis": h.vis,
        "log_id": h.log_id.hex(),
        "ts_ms": h.ts_ms,
        "signer": signer.public.raw.hex(),
        "header": entry.header_bytes.hex(),
        "signing_input": domain.frame(entry.header_bytes).hex(),
        "signature": entry.signature.hex(),
        "body": entry.body_bytes.hex(),
        "body_value": to_json(entry.body()),
        "id": entry.id.hex(),
    }


def record_vectors(record: list[RecordEntry], public: list[Entry], gap: RecordEntry) -> dict[str, Any]:
    tree = MemoryTree([e.id for e in record])
    signers = {e.seq: signer for e, (_, signer, _) in zip(record, SCRIPT, strict=True)}
    return {
        "root_key": COUNCIL.public.raw.hex(),
        "record_log_ids": [
            {
                "epoch": epoch,
                "hash_input": (RECORD_LOG_TAG + COUNCIL.public.raw + epoch.to_bytes(4, "big")).hex(),
                "log_id": record_log_id(COUNCIL.public.raw, epoch).hex(),
            }
            for epoch in (0, 1)
        ],
        "record": [
            {**_entry(e, signers[e.seq], Domain.RECORD), "root": tree.root(e.seq + 1).hex()} for e in record
        ],
        "public": [
            {
                **_entry(p, signers[_seq_of(record, commitment_of(p).entry)], Domain.ENTRY),
                "twin": _seq_of(record, commitment_of(p).entry),
            }
            for p in public
        ],
        "gap": {**_entry(gap, COUNCIL, Domain.RECORD), "kept": KEPT},
    }


def _seq_of(record: list[RecordEntry], entry_id: bytes) -> int:
    return next(e.seq for e in record if e.id == entry_id)


def build_segment(record: list[RecordEntry]) -> tuple[bytes, bytes]:
    """Segment 3 of the council's backup stream, carrying its first two record entries and a directory row."""
    items = [(ITEM_RECORD, codec.encode([e.header_bytes, e.signature, e.body_bytes])) for e in record[:2]]
    items.append(
        (ITEM_DIRECTORY, codec.encode({"member": MEMBER, "name": "Roya", "contact": "roya@example"}))
    )
    data = encode_items(items)
    segment = seal_segment(
        data,
        council=COUNCIL.public.raw,
        index=SEGMENT_INDEX,
        backup_public=BACKUP.public,
        signer=DELEGATE,
        ephemeral=EPHEMERAL,
    )
    return data, segment


def sealed_vectors(data: bytes, segment: bytes) -> dict[str, Any]:
    ephemeral = X25519PrivateKey.from_private_bytes(EPHEMERAL)
    enc = ephemeral.public_key().public_bytes_raw()
    dh = ephemeral.exchange(X25519PublicKey.from_public_bytes(BACKUP.public))
    info = segment[:INFO_SIZE]
    aead_key, nonce = key_schedule(dh, enc, BACKUP.public, info)
    return {
        "council": COUNCIL.public.raw.hex(),
        "index": SEGMENT_INDEX,
        "signer": DELEGATE.public.raw.hex(),
        "key_id": DELEGATE.public.id.hex(),
        "backup_secret": BACKUP.secret().hex(),
        "backup_public": BACKUP.public.hex(),
        "ephemeral_secret": EPHEMERAL.hex(),
        "enc": enc.hex(),
        "dh": dh.hex(),
        "info": info.hex(),
        "aead_key": aead_key.hex(),
        "base_nonce": nonce.hex(),
        "data": data.hex(),
        "ciphertext_head": segment[INFO_SIZE + 32 : INFO_SIZE + 64].hex(),
        "signature": segment[-64:].hex(),
        "signed_digest": segment_digest(segment[:-64]).hex(),
        "signing_input": (SEGMENT_TAG + segment_digest(segment[:-64])).hex(),
        "segment_sha256": hashlib.sha256(segment).hexdigest(),
    }


def recovery_vectors() -> tuple[bytes, dict[str, Any]]:
    text = Recovery(COUNCIL, BACKUP).encode()
    return text, {
        "council": COUNCIL.public.raw.hex(),
        "root_seed": COUNCIL.seed().hex(),
        "backup_secret": BACKUP.secret().hex(),
        "checksum_input": text[: text.index(b"checksum ")].hex(),
        "text": text.decode(),
    }


def _expect(step: str) -> dict[str, Any]:
    return {"error": "VerificationError", "step": step}


def _forged_public(base: Entry, body: dict[str, Any], signer: SigningKey) -> Entry:
    h = base.header
    unsigned = prepare_entry(
        signer.public.id, log_id=h.log_id, seq=h.seq, prev=h.prev, ts_ms=h.ts_ms, vis="public", body=body
    )
    return unsigned.signed(signer.sign(Domain.ENTRY, unsigned.header_bytes))


def attack_vectors(
    record: list[RecordEntry], public: list[Entry], segment: bytes, recovery: bytes
) -> list[Any]:
    decision, decision_twin = record[4], public[2]

    def twin(name: str, entry: Entry, step: str) -> dict[str, Any]:
        return {
            "name": name,
            "target": "twin",
            "header": entry.header_bytes.hex(),
            "signature": entry.signature.hex(),
            "body": None if entry.body_bytes is None else entry.body_bytes.hex(),
            "expect": _expect(step),
        }

    swapped = {**decision_twin.body(), "outcome": "rejected"}
    earlier_root = MemoryTree([e.id for e in record[:4]]).root()
    stale = {**decision_twin.body(), "record": {"entry": decision.id, "root": earlier_root}}
    missing = {**decision_twin.body(), "record": {"entry": bytes(32), "root": earlier_root}}
    council_root = MemoryTree([e.id for e in record[:4]]).root()
    council_twin = {**decision_twin.body(), "record": {"entry": record[3].id, "root": council_root}}

    def segment_attack(name: str, step: str, **change: Any) -> dict[str, Any]:
        return {
            "name": name,
            "target": "segment",
            "council": change.get("council", COUNCIL.public.raw).hex(),
            "index": change.get("index", SEGMENT_INDEX),
            "backup_secret": change.get("backup", BACKUP).secret().hex(),
            "truncate": change.get("truncate", 0),
            "flip": change.get("flip"),  # offset of a byte whose lowest bit is flipped
            "expect": _expect(step),
        }

    corrupted = bytearray(recovery)
    corrupted[recovery.index(b"backup-key ") + 20] ^= 0x01
    other_council = (
        Recovery(OTHER_COUNCIL, BACKUP)
        .encode()
        .replace(codec.b64u(OTHER_COUNCIL.public.raw).encode(), codec.b64u(COUNCIL.public.raw).encode())
    )
    text = other_council[: other_council.index(b"checksum ")]
    other_council = text + f"checksum {hashlib.sha256(text).digest()[:8].hex()}\n".encode()
    record_as_public = record[0]
    return [
        {
            "name": "record_entry_as_public",
            "target": "entry",
            "header": record_as_public.header_bytes.hex(),
            "signature": record_as_public.signature.hex(),
            "public_key": COUNCIL.public.raw.hex(),
            "expect": _expect("signature"),
        },
        {
            "name": "public_entry_as_record",
            "target": "record_entry",
            "header": public[0].header_bytes.hex(),
            "signature": public[0].signature.hex(),
            "public_key": COUNCIL.public.raw.hex(),
            "expect": _expect("signature"),
        },
        twin("twin_content_swapped", _forged_public(decision_twin, swapped, DELEGATE), "twin-content"),
        twin("root_not_committed", _forged_public(decision_twin, stale, DELEGATE), "record-root"),
        twin("twin_missing", _forged_public(decision_twin, missing, DELEGATE), "twin-missing"),
        twin("twin_of_council_entry", _forged_public(decision_twin, council_twin, DELEGATE), "twin-council"),
        segment_attack("segment_replayed_other_index", "segment-index", index=SEGMENT_INDEX + 1),
        segment_attack("segment_other_council", "segment-council", council=PEER.public.raw),
        segment_attack("segment_truncated", "segment-size", truncate=1),
        segment_attack("segment_bitflip", "segment-signature", flip=1000),
        segment_attack("segment_other_backup_key", "segment-auth", backup=OTHER_BACKUP),
        {
            "name": "recovery_file_corrupted",
            "target": "recovery",
            "text": corrupted.decode(),
            "expect": _expect("recovery-checksum"),
        },
        {
            "name": "recovery_other_council",
            "target": "recovery",
            "text": other_council.decode(),
            "expect": _expect("recovery-council"),
        },
    ]


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=1, ensure_ascii=False) + "\n").encode()


def build_files() -> dict[str, bytes]:
    """Every vector file, by path relative to ``tests/vectors/record``."""
    record = build_record()
    public = build_public(record)
    data, segment = build_segment(record)
    recovery, recovery_json = recovery_vectors()
    return {
        "record.json": _json(record_vectors(record, public, build_gap(record, public))),
        "sealed.json": _json(sealed_vectors(data, segment)),
        "segment.bin": segment,
        "recovery.txt": recovery,
        "recovery.json": _json(recovery_json),
        "attacks.json": _json(attack_vectors(record, public, segment, recovery)),
    }


def generate(out: Path = HERE) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in build_files().items():
        path = out / name
        path.write_bytes(data)
        written.append(path)
    return written


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    for path in generate(out):
        print(path)


if __name__ == "__main__":
    main()
