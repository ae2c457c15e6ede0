"""The committed test vectors (tests/vectors/): reproducible byte for byte, valid ones verify, attacks fail
with exactly their expected error class and step — through every Ed25519 backend."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from protocol import codec, httpsig, merkle
from protocol.bundle import verify_bundle
from protocol.entry import BODY_LIMITS, HEADER_LIMITS, Entry, verify_follows
from protocol.errors import ProtocolError
from protocol.keys import BACKENDS, Domain, PublicKey, key_id
from protocol.note import open_checkpoint, verify_cosignatures
from tests.vectors import generate

VECTORS = Path(generate.__file__).resolve().parent
DOC = VECTORS.parents[1] / "docs" / "protocol.md"
NOT_VECTORS = {"__init__.py", "generate.py"}
LIMITS = {"default": codec.DEFAULT_LIMITS, "header": HEADER_LIMITS, "body": BODY_LIMITS}

backends = pytest.mark.parametrize("backend", sorted(BACKENDS))


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and path.name not in NOT_VECTORS and "__pycache__" not in path.parts
    }


# --- reproducible ---------------------------------------------------------------------------------------


def test_regenerated_vectors_equal_the_committed_ones(tmp_path: Path) -> None:
    generate.generate(tmp_path)
    fresh, committed = _files(tmp_path), _files(VECTORS)
    assert sorted(fresh) == sorted(committed)
    for name, data in fresh.items():
        assert data == committed[name], f"{name} differs from a fresh generation"


# --- valid vectors -------------------------------------------------------------------------------------


def test_codec_vectors() -> None:
    for case in load("codec.json"):
        value = generate.from_json(case["value"])
        data = bytes.fromhex(case["hex"])
        assert codec.encode(value) == data, case["name"]
        assert codec.decode(data) == value, case["name"]


def test_key_ids() -> None:
    for case in load("keys.json"):
        public = bytes.fromhex(case["public_key"])
        assert generate.SigningKey.from_seed(bytes.fromhex(case["seed"])).public.raw == public
        assert key_id(public).hex() == case["key_id"]
        assert PublicKey(public).id.hex() == case["key_id"]


@backends
def test_log_vectors(backend: str) -> None:
    log = load("log.json")
    previous: Entry | None = None
    for case in log["entries"]:
        seq = case["seq"]
        raw = {
            part: (VECTORS / "log" / f"{seq}.{part}.bin").read_bytes()
            for part in ("header", "signature", "body")
        }
        assert raw["header"].hex() == case["header"] and raw["signature"].hex() == case["signature"]
        assert raw["body"].hex() == case["body"]
        entry = Entry(raw["header"], raw["signature"], raw["body"])
        entry.verify_signature(PublicKey(bytes.fromhex(case["signer"])), backend=backend)
        verify_follows(previous, entry)
        assert entry.id.hex() == case["id"]
        assert bytes.fromhex(case["signing_input"]) == Domain.ENTRY.frame(raw["header"])
        h = entry.header
        fields = case["fields"]
        assert [h.log_id.hex(), h.seq, h.prev.hex() if h.prev else None, h.ts_ms, h.vis] == [
            fields["log_id"],
            fields["seq"],
            fields["prev"],
            fields["ts_ms"],
            fields["vis"],
        ]
        assert [h.body_hash.hex(), h.key_id.hex()] == [fields["body_hash"], fields["key_id"]]
        assert entry.body() == generate.from_json(case["body_value"])
        previous = entry


@pytest.mark.parametrize("name", ["log", "tree20"])
def test_merkle_vectors(name: str) -> None:
    case = load("merkle.json")[name]
    leaves = [bytes.fromhex(h) for h in case["leaves"]]
    roots = [bytes.fromhex(h) for h in case["roots"]]
    for size, root in enumerate(roots):
        assert merkle.root_from_leaves(leaves[:size]) == root
    for proof in case["inclusion"]:
        i, n = proof["index"], proof["size"]
        merkle.verify_inclusion(leaves[i], i, n, [bytes.fromhex(h) for h in proof["path"]], roots[n])
    for proof in case["consistency"]:
        m, n = proof["first"], proof["second"]
        merkle.verify_consistency(m, n, roots[m], roots[n], [bytes.fromhex(h) for h in proof["path"]])
    if name == "log":
        ids = [e["id"] for e in load("log.json")["entries"]]
        assert case["leaves"] == ids


@backends
def test_checkpoint_vector(backend: str) -> None:
    case = load("checkpoint.json")
    note = (VECTORS / "checkpoint.txt").read_text(encoding="utf-8")
    assert note == case["note"]
    signed = open_checkpoint(note, PublicKey(bytes.fromhex(case["log_key"])), backend=backend)
    assert signed.checkpoint.body().decode() == case["body"]
    assert signed.checkpoint.root.hex() == case["root"] and signed.checkpoint.size == case["size"]
    witnesses = [(w["name"], PublicKey(bytes.fromhex(w["public_key"]))) for w in case["witnesses"]]
    cosigners = verify_cosignatures(signed, witnesses, 2, backend=backend)
    assert [(c.name, c.timestamp) for c in cosigners] == [
        (w["name"], w["timestamp"]) for w in case["witnesses"]
    ]
    for w, line in zip(case["witnesses"], case["signature_lines"][1:], strict=True):
        signature = bytes.fromhex(line["signature"])
        assert int.from_bytes(signature[:8], "big") == w["timestamp"]
        PublicKey(bytes.fromhex(w["public_key"])).verify(
            Domain.NOTE, w["signed_message"].encode(), signature[8:], backend=backend
        )


def _verify_request(
    case: dict[str, Any], backend: str, seen: set[tuple[bytes, str]]
) -> httpsig.VerifiedRequest:
    signer = PublicKey(bytes.fromhex(case["signer"]))

    def check_nonce(keyid: bytes, nonce: str, created: int) -> bool:
        if (keyid, nonce) in seen:
            return False
        seen.add((keyid, nonce))
        return True

    return httpsig.verify_request(
        method=case["method"],
        authority=case["authority"],
        path=case["path"],
        query=case["query"],
        headers=case["headers"],
        body=bytes.fromhex(case["body"]),
        recipient=bytes.fromhex(case["recipient"]),
        now=case["now"],
        lookup_key=lambda raw: signer if raw == signer.raw else None,
        check_nonce=check_nonce,
        backend=backend,
    )


@backends
def test_request_vector(backend: str) -> None:
    case = load("request.json")
    base = (VECTORS / "request-base.txt").read_bytes()
    assert base.decode() == case["signature_base"]
    verified = _verify_request(case, backend, set())
    assert verified.created == case["created"] and verified.nonce == case["nonce"]
    signature = case["headers"]["Signature"].removeprefix("shora=:").removesuffix(":")
    PublicKey(bytes.fromhex(case["signer"])).verify(
        Domain.REQUEST, base, base64.b64decode(signature), backend=backend
    )


@backends
def test_bundle_vector(backend: str) -> None:
    case = load("bundle.json")
    data = (VECTORS / "bundle.bin").read_bytes()
    assert data.hex() == case["bundle"]
    witnesses = [(w["name"], PublicKey(bytes.fromhex(w["public_key"]))) for w in case["witnesses"]]
    result = verify_bundle(
        data,
        PublicKey(bytes.fromhex(case["council_key"])),
        witnesses,
        case["min_cosignatures"],
        backend=backend,
    )
    expect = case["expect"]
    assert (
        result.log_id.hex() == expect["log_id"]
        and result.seq == expect["seq"]
        and result.id.hex() == expect["id"]
    )
    assert result.ts_ms == expect["ts_ms"] and result.vis == expect["vis"]
    assert result.body == generate.from_json(expect["body"])
    assert result.signing_key.hex() == expect["signing_key"]
    assert result.council == generate.from_json(expect["council"])
    assert [{"name": c.name, "timestamp": c.timestamp} for c in result.cosigners] == expect["cosigners"]


# --- attacks -------------------------------------------------------------------------------------------

ATTACKS = load("attacks.json")
EXPECTED_ATTACKS = {
    "forged_signature",
    "signature_other_domain",
    "body_swapped",
    "reordered_map_keys",
    "non_minimal_int",
    "duplicate_key",
    "float",
    "trailing_byte",
    "oversize",
    "deep_nesting",
    "proof_for_other_size",
    "checkpoint_other_log",
    "note_forged_key_id",
    "cosignature_unknown_key",
    "bundle_entry_not_in_tree",
    "bundle_tampered_body",
    "bundle_wrong_council",
    "replayed_request",
    "request_for_other_node",
}


def test_every_named_attack_has_a_vector() -> None:
    names = [a["name"] for a in ATTACKS]
    assert len(names) == len(set(names))
    assert set(names) == EXPECTED_ATTACKS


def _run_attack(case: dict[str, Any], backend: str) -> None:
    target = case["target"]
    if target == "codec":
        codec.decode(bytes.fromhex(case["data"]), LIMITS[case["limits"]])
    elif target == "entry":
        body = bytes.fromhex(case["body"]) if case["body"] is not None else None
        entry = Entry(bytes.fromhex(case["header"]), bytes.fromhex(case["signature"]), body)
        entry.verify_signature(PublicKey(bytes.fromhex(case["public_key"])), backend=backend)
    elif target == "inclusion":
        merkle.verify_inclusion(
            bytes.fromhex(case["leaf"]),
            case["index"],
            case["size"],
            [bytes.fromhex(h) for h in case["path"]],
            bytes.fromhex(case["root"]),
        )
    elif target == "checkpoint":
        open_checkpoint(case["note"], PublicKey(bytes.fromhex(case["log_key"])), backend=backend)
    elif target == "cosignatures":
        signed = open_checkpoint(case["note"], PublicKey(bytes.fromhex(case["log_key"])), backend=backend)
        witnesses = [(w["name"], PublicKey(bytes.fromhex(w["public_key"]))) for w in case["witnesses"]]
        verify_cosignatures(signed, witnesses, case["min_cosignatures"], backend=backend)
    elif target == "bundle":
        witnesses = [(w["name"], PublicKey(bytes.fromhex(w["public_key"]))) for w in case["witnesses"]]
        verify_bundle(
            bytes.fromhex(case["bundle"]),
            PublicKey(bytes.fromhex(case["council_key"])),
            witnesses,
            case["min_cosignatures"],
            backend=backend,
        )
    elif target == "request":
        seen = {(bytes.fromhex(k), n) for k, n in case["seen_nonces"]}
        _verify_request(case, backend, seen)
    else:
        raise AssertionError(f"unknown attack target {target}")


@backends
@pytest.mark.parametrize("case", ATTACKS, ids=[a["name"] for a in ATTACKS])
def test_attack_fails_with_its_expected_error(case: dict[str, Any], backend: str) -> None:
    with pytest.raises(ProtocolError) as info:
        _run_attack(case, backend)
    expect = case["expect"]
    assert type(info.value).__name__ == expect["error"], info.value
    assert getattr(info.value, "step", None) == expect["step"], info.value


# --- the specification quotes the vectors ----------------------------------------------------------------

_HEX = re.compile(r"\b[0-9a-f]{16,}\b")


def test_every_hex_example_in_the_protocol_doc_is_a_vector() -> None:
    doc = DOC.read_text(encoding="utf-8")
    corpus = "\n".join(data.decode("utf-8", "replace") for data in _files(VECTORS).values())
    corpus += "\n".join(data.hex() for data in _files(VECTORS).values())
    examples = _HEX.findall(doc)
    assert len(examples) >= 10, "the specification should quote the vectors"
    missing = [h for h in examples if h not in corpus]
    assert not missing, f"hex in docs/protocol.md not found in tests/vectors: {missing[:5]}"
    # Whole quoted blocks of vector text: the checkpoint note and the request's signature base.
    for name in ("checkpoint.txt", "request-base.txt"):
        assert (VECTORS / name).read_text(encoding="utf-8").rstrip("\n") in doc, name
