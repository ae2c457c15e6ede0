"""Generate shora's committed protocol test vectors: ``python -m tests.vectors.generate``.

Everything comes from fixed seeds, fixed timestamps and fixed salts; Ed25519 signatures are deterministic,
so running this twice writes the same bytes (``tests/protocol/test_vectors.py`` checks it byte for byte).

Files (bytes in JSON are lowercase hex unless a field says otherwise):

    codec.json       canonical values and their encodings
    keys.json        the seeds, public keys, entry key ids and note key ids used everywhere below
    log.json         a 4-entry log: header, signing input, signature, body, id of each entry
    log/*.bin        the same headers, signatures and bodies as raw bytes
    merkle.json      roots, inclusion and consistency proofs for the log and for a 20-leaf tree
    checkpoint.json  the log's checkpoint, signed and cosigned by two witnesses
    checkpoint.txt   that signed note, byte for byte
    request.json     an RFC 9421 signed request, with its signature base
    request-base.txt the signature base, byte for byte
    bundle.json      a decision bundle and what verifying it vouches for
    bundle.bin       the bundle itself
    attacks.json     named attacks, each with the error class and step it must fail with
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol import codec, httpsig, merkle
from protocol.bundle import Bundle, ProvenEntry
from protocol.entry import Entry, Header, sign_entry
from protocol.keys import ENTRY_TAG, Domain, SigningKey
from protocol.note import (
    Checkpoint,
    KeyKind,
    add_signatures,
    cosign,
    format_note,
    log_origin,
    note_key_id,
    parse_note,
    sign_checkpoint,
    sign_note,
    vkey,
    witness_name,
)

HERE = Path(__file__).resolve().parent
INT64_MAX = 2**63 - 1
T0_MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z
COSIGN_TIMES = (1_700_000_300, 1_700_000_301)
REQUEST_CREATED = 1_700_000_400


def key(i: int) -> SigningKey:
    return SigningKey.from_seed(bytes([i]) * 32)


# The cast: who holds which seed.
COUNCIL = key(1)  # the council's root key: its log id
DELEGATE = key(2)  # a key the root delegates to with a log/key entry
WITNESS_A = key(3)
WITNESS_B = key(4)
OTHER_COUNCIL = key(5)
ATTACKER = key(6)
PEER = key(7)  # a peer node, the recipient of the signed request
OTHER_PEER = key(8)

SALT = bytes(range(0xA0, 0xB0))
MEMBER = bytes(range(0x10, 0x20))
CHARTER = hashlib.sha256(b"shora charter v1").digest()
PROFILE = {
    "name": "Tabriz city council",
    "name_fa": "شورای شهر تبریز",
    "city": "Tabriz",
    "country": "IR",
    "continent": "asia",
}


# --- typed JSON for codec values -----------------------------------------------------------------------


def to_json(value: Any) -> Any:
    """JSON cannot tell bytes from text or keep a map's type: bytes are {"bin": hex}, maps {"map": {...}}."""
    if isinstance(value, bytes):
        return {"bin": value.hex()}
    if isinstance(value, dict):
        return {"map": {k: to_json(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"bin"}:
            return bytes.fromhex(value["bin"])
        return {k: from_json(v) for k, v in value["map"].items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def _hexes(values: list[bytes]) -> list[str]:
    return [v.hex() for v in values]


# --- codec ---------------------------------------------------------------------------------------------

CODEC_VALUES: list[tuple[str, Any]] = [
    ("nil", None),
    ("false", False),
    ("true", True),
    ("zero", 0),
    ("positive_fixint_max", 127),
    ("uint8_min", 128),
    ("uint8_max", 255),
    ("uint16_min", 256),
    ("uint16_max", 65535),
    ("uint32_min", 65536),
    ("uint32_max", 2**32 - 1),
    ("uint64_min", 2**32),
    ("int64_max", INT64_MAX),
    ("negative_fixint_min", -32),
    ("int8_min", -33),
    ("int8_max_neg", -128),
    ("int16", -129),
    ("int32", -32769),
    ("int64_min", -(2**63)),
    ("empty_text", ""),
    ("text_ascii", "kind"),
    ("text_persian_nfc", "شورا"),
    ("text_composed_e_acute", "\u00e9"),  # NFC of e + U+0301 (which is refused: attack text_not_nfc)
    ("text_assigned_in_unicode_14", "\U0001f6dd"),  # the pinned version's newest: U+1F6DD PLAYGROUND SLIDE
    ("text_31", "x" * 31),
    ("text_32", "x" * 32),
    ("empty_bin", b""),
    ("bin", bytes(range(4))),
    ("empty_array", []),
    ("array_nested", [1, [2, "a"], b"\xff"]),
    ("empty_map", {}),
    # Keys sorted by UTF-8 bytes: "B" < "a" < "aa" < "b" < "é" (0xc3 0xa9 sorts after every ASCII byte).
    ("map_key_order", {"b": 1, "é": 2, "aa": 3, "a": 4, "B": 5}),
    ("map_nested", {"kind": "decision", "tally": {"yes": 5, "no": 2}, "id": b"\x01\x02"}),
]


def codec_vectors() -> list[dict[str, Any]]:
    return [
        {"name": name, "value": to_json(value), "hex": codec.encode(value).hex()}
        for name, value in CODEC_VALUES
    ]


# --- the log -------------------------------------------------------------------------------------------


def log_bodies() -> list[tuple[str, dict[str, Any], SigningKey]]:
    """(visibility, body, signer) of the four entries of the council's log."""
    return [
        ("public", {"kind": "council/found", "profile": PROFILE, "charter": CHARTER}, COUNCIL),
        ("public", {"kind": "log/key", "action": "add", "key": DELEGATE.public.raw}, COUNCIL),
        ("council", {"kind": "member/join", "member": MEMBER, "charter": CHARTER, "salt": SALT}, COUNCIL),
        (
            "public",
            {
                "key_entries": 1,  # signed by a delegated key: the log/key entries before it (entry 1)
                "kind": "decision",
                "motion": hashlib.sha256(b"motion 1").digest(),
                "outcome": "adopted",
                "rule": 1,
                "tally": {"yes": 5, "no": 2, "abstain": 1},
                "text": "بودجه‌ی کتابخانه‌ی محله تصویب شد. The neighbourhood library budget is adopted.",
            },
            DELEGATE,
        ),
    ]


def build_log(bodies: list[tuple[str, dict[str, Any], SigningKey]] | None = None) -> list[Entry]:
    entries: list[Entry] = []
    for seq, (vis, body, signer) in enumerate(bodies if bodies is not None else log_bodies()):
        prev = entries[-1].id if entries else None
        entries.append(
            sign_entry(
                signer,
                log_id=COUNCIL.public.raw,
                seq=seq,
                prev=prev,
                ts_ms=T0_MS + 60_000 * seq,
                vis=vis,
                body=body,  # type: ignore[arg-type]  # the bodies above are well-formed
            )
        )
    return entries


def log_vectors(entries: list[Entry]) -> dict[str, Any]:
    out = []
    for entry, (_, _, signer) in zip(entries, log_bodies(), strict=True):
        h = entry.header
        out.append(
            {
                "seq": h.seq,
                "signer": signer.public.raw.hex(),
                "fields": {
                    "version": 1,
                    "log_id": h.log_id.hex(),
                    "seq": h.seq,
                    "prev": h.prev.hex() if h.prev else None,
                    "ts_ms": h.ts_ms,
                    "vis": h.vis,
                    "body_hash": h.body_hash.hex(),
                    "key_id": h.key_id.hex(),
                },
                "header": entry.header_bytes.hex(),
                "signing_input": (ENTRY_TAG + entry.header_bytes).hex(),
                "signature": entry.signature.hex(),
                "body": entry.body_bytes.hex() if entry.body_bytes else None,
                "body_value": to_json(entry.body()),
                "id": entry.id.hex(),
            }
        )
    return {"log_id": COUNCIL.public.raw.hex(), "entry_tag": ENTRY_TAG.hex(), "entries": out}


# --- Merkle --------------------------------------------------------------------------------------------


def tree_vectors(leaves: list[bytes], sizes_for_inclusion: list[int]) -> dict[str, Any]:
    tree = merkle.MemoryTree(leaves)
    n = len(leaves)
    return {
        "leaves": _hexes(leaves),
        "roots": [tree.root(size).hex() for size in range(n + 1)],
        "inclusion": [
            {"index": i, "size": size, "path": _hexes(merkle.inclusion_proof(tree, i, size))}
            for size in sizes_for_inclusion
            for i in range(size)
        ],
        "consistency": [
            {"first": m, "second": size, "path": _hexes(merkle.consistency_proof(tree, m, size))}
            for size in range(1, n + 1)
            for m in range(1, size)
        ],
    }


def leaves_20() -> list[bytes]:
    """The 20-leaf tree: leaf i is the leaf hash of the single byte i."""
    return [merkle.leaf_hash(bytes([i])) for i in range(20)]


# --- checkpoint ----------------------------------------------------------------------------------------

WITNESSES = ((witness_name(WITNESS_A.public), WITNESS_A), (witness_name(WITNESS_B.public), WITNESS_B))


def build_checkpoint(entries: list[Entry]) -> tuple[Checkpoint, str]:
    """The log's checkpoint at its full size, signed by the log and cosigned by both witnesses."""
    ids = [e.id for e in entries]
    checkpoint = Checkpoint(log_origin(COUNCIL.public.raw), len(ids), merkle.root_from_leaves(ids))
    note = sign_checkpoint(COUNCIL, checkpoint)
    cosignatures = [
        cosign(witness, name, checkpoint, ts)
        for (name, witness), ts in zip(WITNESSES, COSIGN_TIMES, strict=True)
    ]
    return checkpoint, add_signatures(note, cosignatures)


def checkpoint_vectors(checkpoint: Checkpoint, note: str) -> dict[str, Any]:
    sigs = parse_note(note).signatures
    return {
        "log_key": COUNCIL.public.raw.hex(),
        "origin": checkpoint.origin,
        "size": checkpoint.size,
        "root": checkpoint.root.hex(),
        "body": checkpoint.body().decode(),
        "log_vkey": vkey(checkpoint.origin, COUNCIL.public),
        "witnesses": [
            {
                "name": name,
                "public_key": witness.public.raw.hex(),
                "vkey": vkey(name, witness.public, KeyKind.COSIGNATURE_V1),
                "key_id": note_key_id(name, witness.public, KeyKind.COSIGNATURE_V1).hex(),
                "timestamp": ts,
                "signed_message": (b"cosignature/v1\ntime %d\n" % ts + checkpoint.body()).decode(),
            }
            for (name, witness), ts in zip(WITNESSES, COSIGN_TIMES, strict=True)
        ],
        "signature_lines": [
            {"name": s.name, "key_id": s.key_id.hex(), "signature": s.signature.hex()} for s in sigs
        ],
        "note": note,
    }


# --- request -------------------------------------------------------------------------------------------

REQUEST = {
    "method": "POST",
    "authority": "tabriz.shora.example:8443",
    "path": "/v1/federation/digest",
    "query": "after_seq=3&limit=100",
}
REQUEST_BODY = codec.encode({"logs": [], "since": 3})
REQUEST_NONCE = httpsig.encode_nonce(bytes(range(0x40, 0x50)))


def build_request() -> tuple[dict[str, str], str]:
    """The headers of a request from the council's node to PEER, and its signature base."""
    headers = httpsig.sign_request(
        COUNCIL,
        **REQUEST,
        body=REQUEST_BODY,
        recipient=PEER.public.raw,
        created=REQUEST_CREATED,
        nonce=REQUEST_NONCE,
    )
    # The signature base, written out here from RFC 9421 §2.5 rather than taken from httpsig, so the
    # test that verifies the signature over it checks the module against an independent reading.
    lines = [
        f'"@method": {REQUEST["method"]}',
        f'"@authority": {REQUEST["authority"]}',
        f'"@path": {REQUEST["path"]}',
        f'"@query": ?{REQUEST["query"]}',
        f'"content-digest": {headers["Content-Digest"]}',
        f'"shora-recipient": {headers["Shora-Recipient"]}',
        f'"@signature-params": {headers["Signature-Input"].removeprefix("shora=")}',
    ]
    return headers, "\n".join(lines)


def request_vectors(headers: dict[str, str], base: str) -> dict[str, Any]:
    return {
        **REQUEST,
        "body": REQUEST_BODY.hex(),
        "signer": COUNCIL.public.raw.hex(),
        "recipient": PEER.public.raw.hex(),
        "created": REQUEST_CREATED,
        "now": REQUEST_CREATED + 30,
        "nonce": REQUEST_NONCE,
        "headers": headers,
        "signature_base": base,
    }


# --- bundle --------------------------------------------------------------------------------------------


def proven(tree: merkle.MemoryTree, entry: Entry) -> ProvenEntry:
    return ProvenEntry(entry, tuple(merkle.inclusion_proof(tree, entry.seq, tree.size)))


def build_bundle(entries: list[Entry], note: str) -> Bundle:
    tree = merkle.MemoryTree([e.id for e in entries])
    return Bundle(
        decision=proven(tree, entries[3]),
        checkpoint=note,
        founding=proven(tree, entries[0]),
        keys=(proven(tree, entries[1]),),
    )


def bundle_vectors(bundle: Bundle, entries: list[Entry]) -> dict[str, Any]:
    decision = entries[3]
    return {
        "council_key": COUNCIL.public.raw.hex(),
        "witnesses": [{"name": name, "public_key": w.public.raw.hex()} for name, w in WITNESSES],
        "min_cosignatures": 2,
        "bundle": bundle.encode().hex(),
        "expect": {
            "log_id": decision.header.log_id.hex(),
            "seq": decision.seq,
            "id": decision.id.hex(),
            "ts_ms": decision.header.ts_ms,
            "vis": decision.header.vis,
            "body": to_json(decision.body()),
            "signing_key": DELEGATE.public.raw.hex(),
            "council": to_json(PROFILE),
            "cosigners": [
                {"name": name, "timestamp": ts} for (name, _), ts in zip(WITNESSES, COSIGN_TIMES, strict=True)
            ],
        },
    }


# --- attacks -------------------------------------------------------------------------------------------


def _expect(error: str, step: str | None) -> dict[str, Any]:
    return {"error": error, "step": step}


def _entry_attack(
    name: str,
    what: str,
    header: bytes,
    signature: bytes,
    body: bytes | None,
    signer: bytes,
    expect: dict[str, Any],
) -> dict[str, Any]:
    return {
        "name": name,
        "description": what,
        "target": "entry",
        "header": header.hex(),
        "signature": signature.hex(),
        "body": body.hex() if body is not None else None,
        "public_key": signer.hex(),
        "expect": expect,
    }


def _codec_attack(name: str, what: str, data: bytes, limits: str = "default") -> dict[str, Any]:
    return {
        "name": name,
        "description": what,
        "target": "codec",
        "limits": limits,
        "data": data.hex(),
        "expect": _expect("DecodeError", None),
    }


def attack_vectors(
    entries: list[Entry], checkpoint: Checkpoint, note: str, bundle: Bundle, request: dict[str, str]
) -> list[dict[str, Any]]:
    root = COUNCIL.public.raw
    first = entries[0]
    attacks: list[dict[str, Any]] = []

    # Entries.
    forged = ATTACKER.sign(Domain.ENTRY, first.header_bytes)
    attacks.append(
        _entry_attack(
            "forged_signature",
            "entry 0 with a signature by another key over its exact header bytes",
            first.header_bytes,
            forged,
            first.body_bytes,
            root,
            _expect("VerificationError", "signature"),
        )
    )
    untagged = Ed25519PrivateKey.from_private_bytes(COUNCIL.seed()).sign(first.header_bytes)
    attacks.append(
        _entry_attack(
            "signature_other_domain",
            "entry 0 signed by the right key over the header bytes without the shora/v1/entry tag",
            first.header_bytes,
            untagged,
            first.body_bytes,
            root,
            _expect("VerificationError", "signature"),
        )
    )
    attacks.append(
        _entry_attack(
            "body_swapped",
            "entry 0's header and signature with entry 1's body",
            first.header_bytes,
            first.signature,
            entries[1].body_bytes,
            root,
            _expect("VerificationError", "body-hash"),
        )
    )
    # A body whose map keys are out of order, hashed and signed as it is: the signature and the hash hold,
    # the encoding does not.
    reordered = (
        b"\x82" + codec.encode("kind") + codec.encode("motion") + codec.encode("action") + codec.encode("x")
    )
    header = Header(
        root, 0, None, T0_MS, "public", hashlib.sha256(reordered).digest(), COUNCIL.public.id
    ).encode()
    attacks.append(
        _entry_attack(
            "reordered_map_keys",
            "a signed entry whose body has its map keys out of UTF-8 order",
            header,
            COUNCIL.sign(Domain.ENTRY, header),
            reordered,
            root,
            _expect("DecodeError", None),
        )
    )

    # The codec.
    attacks.append(
        _codec_attack(
            "text_not_nfc", "e + U+0301 COMBINING ACUTE ACCENT: decomposed, not NFC", b"\xa3e\xcc\x81"
        )
    )
    attacks.append(
        _codec_attack(
            "text_unassigned_in_unicode_14",
            "U+1F6DC WIRELESS, assigned in Unicode 15.0, not in the pinned 14.0.0",
            b"\xa4" + "\U0001f6dc".encode(),
        )
    )
    attacks.append(_codec_attack("non_minimal_int", "1 written as a uint16 (cd 00 01)", b"\xcd\x00\x01"))
    attacks.append(_codec_attack("duplicate_key", "a map with the key 'a' twice", b"\x82\xa1a\x01\xa1a\x02"))
    attacks.append(
        _codec_attack("float", "1.5 as a float64", b"\xcb" + (0x3FF8000000000000).to_bytes(8, "big"))
    )
    attacks.append(
        _codec_attack(
            "trailing_byte",
            "a valid entry header with one byte after it",
            first.header_bytes + b"\xc0",
            "header",
        )
    )
    oversize = codec.encode(["x" * 60] * 5)
    attacks.append(
        _codec_attack(
            "oversize", f"{len(oversize)} bytes against the header limit of 256", oversize, "header"
        )
    )
    attacks.append(
        _codec_attack("deep_nesting", "17 nested arrays against a depth limit of 16", b"\x91" * 17 + b"\x00")
    )

    # Merkle proofs.
    tree20 = merkle.MemoryTree(leaves_20())
    attacks.append(
        {
            "name": "proof_for_other_size",
            "description": "the inclusion path of leaf 5 in a tree of 16 leaves, checked against 20 leaves",
            "target": "inclusion",
            "leaf": tree20.node(0, 5).hex(),
            "index": 5,
            "size": 20,
            "path": _hexes(merkle.inclusion_proof(tree20, 5, 16)),
            "root": tree20.root(20).hex(),
            "expect": _expect("ProofError", "inclusion"),
        }
    )

    # Checkpoints and cosignatures.
    other = Checkpoint(log_origin(OTHER_COUNCIL.public.raw), checkpoint.size, checkpoint.root)
    attacks.append(
        {
            "name": "checkpoint_other_log",
            "description": "another council's checkpoint (same size, root), opened with this council's key",
            "target": "checkpoint",
            "note": sign_checkpoint(OTHER_COUNCIL, other),
            "log_key": root.hex(),
            "expect": _expect("VerificationError", "origin"),
        }
    )
    forged_line = sign_note(ATTACKER, checkpoint.origin, checkpoint.body().decode())
    attacks.append(
        {
            "name": "note_forged_key_id",
            "description": "the log's origin as key name, with the attacker's key id and signature",
            "target": "checkpoint",
            "note": format_note(checkpoint.body().decode(), [forged_line]),
            "log_key": root.hex(),
            "expect": _expect("VerificationError", "checkpoint-signature"),
        }
    )
    stranger = cosign(ATTACKER, witness_name(ATTACKER.public), checkpoint, COSIGN_TIMES[0])
    attacks.append(
        {
            "name": "cosignature_unknown_key",
            "description": "a checkpoint cosigned only by a witness the verifier does not trust",
            "target": "cosignatures",
            "note": add_signatures(sign_checkpoint(COUNCIL, checkpoint), [stranger]),
            "log_key": root.hex(),
            "witnesses": [{"name": name, "public_key": w.public.raw.hex()} for name, w in WITNESSES],
            "min_cosignatures": 1,
            "expect": _expect("VerificationError", "cosignatures"),
        }
    )

    # Bundles.
    def bundle_attack(name: str, what: str, data: bytes, council: bytes, step: str) -> dict[str, Any]:
        return {
            "name": name,
            "description": what,
            "target": "bundle",
            "bundle": data.hex(),
            "council_key": council.hex(),
            "witnesses": [{"name": n, "public_key": w.public.raw.hex()} for n, w in WITNESSES],
            "min_cosignatures": 2,
            "expect": _expect("VerificationError", step),
        }

    decision = entries[3]
    _, body, signer = log_bodies()[3]
    forked = sign_entry(
        signer,
        log_id=root,
        seq=3,
        prev=decision.header.prev,
        ts_ms=decision.header.ts_ms,
        vis="public",
        body={**body, "outcome": "rejected"},
    )
    not_in_tree = Bundle(
        ProvenEntry(forked, bundle.decision.proof), bundle.checkpoint, bundle.founding, bundle.keys
    )
    attacks.append(
        bundle_attack(
            "bundle_entry_not_in_tree",
            "a validly signed decision at seq 3 that is not the one in the checkpoint",
            not_in_tree.encode(),
            root,
            "inclusion",
        )
    )
    tampered = bundle.encode().replace(b"adopted", b"refused")
    assert tampered != bundle.encode()
    attacks.append(
        bundle_attack(
            "bundle_tampered_body",
            "the decision body's outcome changed from adopted to refused (same length)",
            tampered,
            root,
            "body-hash",
        )
    )
    attacks.append(
        bundle_attack(
            "bundle_wrong_council",
            "a valid bundle, verified against another council's key",
            bundle.encode(),
            OTHER_COUNCIL.public.raw,
            "log",
        )
    )

    attacks.append(
        bundle_attack(
            "bundle_key_history_left_out",
            "the valid bundle without its key history: the decision states 1 log/key entry before it",
            Bundle(bundle.decision, bundle.checkpoint, bundle.founding).encode(),
            root,
            "unknown-key",
        )
    )
    tree = merkle.MemoryTree([e.id for e in entries])
    attacks.append(
        bundle_attack(
            "bundle_key_entry_as_decision",
            "entry 1 (log/key, signed by the root key, in the checkpoint) bundled as if it were a decision",
            Bundle(proven(tree, entries[1]), bundle.checkpoint, bundle.founding).encode(),
            root,
            "kind",
        )
    )

    # Requests.
    def request_attack(name: str, what: str, recipient: bytes, seen: bool, step: str) -> dict[str, Any]:
        return {
            "name": name,
            "description": what,
            "target": "request",
            **REQUEST,
            "body": REQUEST_BODY.hex(),
            "headers": request,
            "signer": root.hex(),
            "recipient": recipient.hex(),
            "now": REQUEST_CREATED + 30,
            "seen_nonces": [[root.hex(), REQUEST_NONCE]] if seen else [],
            "expect": _expect("VerificationError", step),
        }

    attacks.append(
        request_attack(
            "replayed_request",
            "the valid request again, its nonce already seen",
            PEER.public.raw,
            True,
            "replay",
        )
    )
    attacks.append(
        request_attack(
            "request_for_other_node",
            "the valid request, received by a node it was not meant for",
            OTHER_PEER.public.raw,
            False,
            "recipient",
        )
    )
    return attacks


# --- files ---------------------------------------------------------------------------------------------


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=1, ensure_ascii=False) + "\n").encode()


def key_vectors() -> list[dict[str, Any]]:
    cast = [
        ("council", COUNCIL),
        ("delegate", DELEGATE),
        ("witness_a", WITNESS_A),
        ("witness_b", WITNESS_B),
        ("other_council", OTHER_COUNCIL),
        ("attacker", ATTACKER),
        ("peer", PEER),
        ("other_peer", OTHER_PEER),
    ]
    return [
        {
            "role": role,
            "seed": k.seed().hex(),
            "public_key": k.public.raw.hex(),
            "public_key_b64u": codec.b64u(k.public.raw),
            "key_id": k.public.id.hex(),
            "key_id_input": (b"shora/v1/key-id\x00" + k.public.raw).hex(),
        }
        for role, k in cast
    ]


def build_files() -> dict[str, bytes]:
    """Every vector file, by path relative to ``tests/vectors``."""
    entries = build_log()
    checkpoint, note = build_checkpoint(entries)
    headers, base = build_request()
    bundle = build_bundle(entries, note)
    files: dict[str, bytes] = {
        "codec.json": _json(codec_vectors()),
        "keys.json": _json(key_vectors()),
        "log.json": _json(log_vectors(entries)),
        "merkle.json": _json(
            {
                "log": tree_vectors([e.id for e in entries], [1, 2, 3, 4]),
                "tree20": tree_vectors(leaves_20(), [7, 16, 20]),
            }
        ),
        "checkpoint.json": _json(checkpoint_vectors(checkpoint, note)),
        "checkpoint.txt": note.encode(),
        "request.json": _json(request_vectors(headers, base)),
        "request-base.txt": base.encode(),
        "bundle.json": _json(bundle_vectors(bundle, entries)),
        "bundle.bin": bundle.encode(),
        "attacks.json": _json(attack_vectors(entries, checkpoint, note, bundle, headers)),
    }
    for entry in entries:
        files[f"log/{entry.seq}.header.bin"] = entry.header_bytes
        files[f"log/{entry.seq}.signature.bin"] = entry.signature
        if entry.body_bytes is not None:
            files[f"log/{entry.seq}.body.bin"] = entry.body_bytes
    return files


def generate(out: Path = HERE) -> list[Path]:
    written = []
    for name, data in build_files().items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    for path in generate(out):
        print(path)


if __name__ == "__main__":
    main()
