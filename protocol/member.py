"""A member's own statements, and the proof that a member's ballot was counted (DESIGN.md §1, §3; issue 12).

A member acts with their own Ed25519 key. What they sign is a **statement**: a canonical msgpack map

    {"act": ACT, "council": council id (the record's founding entry id), …the act's fields}

signed in ``Domain.MEMBER`` (tag ``shora/v1/member\\0``), so it can pass for no entry, request or note.
The acts and their fields (each exactly these):

    join         member, charter_hash, key     the member endorses the charter with this key (article 3)
    key          member, key                   a new key for a member, countersigned by that key
    checkin      assembly, member              present at that assembly
    ballot       assembly, motion, member, choice (text | nil), approvals [member]
    requisition  member, text [, round]        asks for a general assembly: the next one, of round ``round``
                                               (the assemblies opened before it); without ``round`` in
                                               logs written before rounds only
    leave        member                        leaves the council
    convene      member, agenda, ground, due_ms
                                               convenes the assembly the board has not: ground
                                               "requisition" or "schedule", due_ms when the right began
    resign       member, decision              gives up the board seat that decision gave
    consent      assembly, member              consents to stand as a candidate in that assembly's elections

The council stores the signature in the entry recording the act (``issued_by.sig``); the statement is
rebuilt from the entry and the record, so anyone holding the record checks it offline. Naming the
council, assembly and motion is what keeps a ballot from being replayed into another council, assembly
or motion.

A **ballot proof** (``verify_ballot_proof``) is what ``shora member check`` verifies offline: the record's
founding entry, the member's ballot and the decision on its motion, each with an inclusion path in one
record checkpoint signed by the council's root key:

    proof = canonical msgpack map {
        "v": 1, "epoch": uint,
        "checkpoint": str,                        the record's C2SP checkpoint note
        "founding", "ballot", "decision": {"header", "signature", "body", "proof": [bin32, …]},
    }

Steps, in order: ``encoding`` (``body-hash``), ``checkpoint-signature`` / ``origin``, ``inclusion``,
``founding``, ``ballot`` (the entry is a member-signed vote by this key), ``member-signature``,
``decision`` (the decision on that motion, after the ballot: the rules that accepted the ballot counted it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protocol import codec, merkle
from protocol.errors import DecodeError, VerificationError
from protocol.keys import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, Domain, PublicKey, SigningKey
from protocol.note import log_origin, open_checkpoint
from protocol.record import RecordEntry, record_log_id

ACTS: dict[str, tuple[str, ...]] = {
    "join": ("member", "charter_hash", "key"),
    "key": ("member", "key"),
    "checkin": ("assembly", "member"),
    "ballot": ("assembly", "motion", "member", "choice", "approvals"),
    "requisition": ("member", "text"),
    "leave": ("member",),
    "convene": ("member", "agenda", "ground", "due_ms"),
    "resign": ("member", "decision"),
    "consent": ("assembly", "member"),
}
# fields an act may carry beyond ``ACTS``: a requisition names its round since requisitions count toward one
# assembly only (issue 13); statements of older logs lack it and still verify
OPTIONAL: dict[str, tuple[str, ...]] = {"requisition": ("round",)}
MEMBER_ID_SIZE = 16
ID_SIZE = 32
STATEMENT_LIMITS = codec.Limits(max_size=64 * 1024, max_depth=3, max_length=1000)
PROOF_LIMITS = codec.Limits(max_size=256 * 1024, max_depth=4, max_length=128 * 1024)
PROOF_VERSION = 1
_SIZES = {"member": MEMBER_ID_SIZE, "council": ID_SIZE, "assembly": ID_SIZE, "motion": ID_SIZE}
_SIZES |= {"charter_hash": ID_SIZE, "key": PUBLIC_KEY_SIZE, "decision": ID_SIZE}


@dataclass(frozen=True, slots=True)
class Statement:
    """One act of a member, as they sign it; an ill-formed statement cannot be constructed."""

    act: str
    council: bytes
    fields: dict[str, Any]

    def __post_init__(self) -> None:
        if self.act not in ACTS:
            raise DecodeError(f"a member statement's act is one of {', '.join(sorted(ACTS))}")
        optional = set(OPTIONAL.get(self.act, ())) & set(self.fields)
        if set(self.fields) != set(ACTS[self.act]) | optional:
            raise DecodeError(f"a {self.act} statement has exactly {', '.join(ACTS[self.act])}")
        for name, value in (("council", self.council), *self.fields.items()):
            size = _SIZES.get(name)
            if size is not None and (type(value) is not bytes or len(value) != size):
                raise DecodeError(f"a statement's {name} is {size} bytes")
        if self.act == "ballot":
            choice, approvals = self.fields["choice"], self.fields["approvals"]
            if choice is not None and type(choice) is not str:
                raise DecodeError("a ballot's choice is text or nil")
            if type(approvals) not in (list, tuple) or not all(
                type(a) is bytes and len(a) == MEMBER_ID_SIZE for a in approvals
            ):
                raise DecodeError("a ballot's approvals are member ids")
        if self.act == "requisition" and type(self.fields["text"]) is not str:
            raise DecodeError("a requisition's text is text")
        if self.act == "requisition" and "round" in self.fields:
            r = self.fields["round"]
            if type(r) is not int or not 0 <= r < 2**63:
                raise DecodeError("a requisition's round is a count of assemblies")
        if self.act == "convene":
            if type(self.fields["agenda"]) is not str or type(self.fields["ground"]) is not str:
                raise DecodeError("a convening's agenda and ground are text")
            if type(self.fields["due_ms"]) is not int:
                raise DecodeError("a convening's due_ms is an integer")

    def encode(self) -> bytes:
        value = {"act": self.act, "council": self.council, **self.fields}
        if self.act == "ballot":
            value["approvals"] = list(self.fields["approvals"])
        return codec.encode(value)

    @classmethod
    def decode(cls, data: bytes) -> Statement:
        value = codec.decode(data, STATEMENT_LIMITS)
        if type(value) is not dict or "act" not in value or "council" not in value:
            raise DecodeError("a member statement is a map with act and council")
        fields = {k: v for k, v in value.items() if k not in ("act", "council")}
        return cls(value["act"], value["council"], fields)


def sign_statement(key: SigningKey, statement: Statement) -> bytes:
    return key.sign(Domain.MEMBER, statement.encode())


def verify_statement(key: bytes, statement: Statement, signature: object) -> None:
    """``None`` if ``signature`` is ``key``'s over ``statement``; else step ``member-signature``."""
    if type(signature) is not bytes or len(signature) != SIGNATURE_SIZE:
        raise VerificationError("member-signature", f"a member's signature is {SIGNATURE_SIZE} bytes")
    try:
        PublicKey(key).verify(Domain.MEMBER, statement.encode(), signature)
    except (DecodeError, VerificationError) as exc:
        raise VerificationError("member-signature", f"not this member's signed {statement.act}") from exc


# --- the ballot proof -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CountedBallot:
    """What a verified ballot proof establishes."""

    council: bytes
    member: bytes
    motion: bytes
    assembly: bytes
    choice: str | None
    approvals: tuple[bytes, ...]
    decision: bytes
    outcome: str
    tally: dict[str, Any]


def _entry(value: object, what: str) -> tuple[RecordEntry, tuple[bytes, ...]]:
    if type(value) is not dict or set(value) != {"header", "signature", "body", "proof"}:
        raise VerificationError("encoding", f"{what} is a map of header, signature, body and proof")
    proof = value["proof"]
    if type(proof) is not list or len(proof) > 64 or not all(type(h) is bytes for h in proof):
        raise VerificationError("encoding", f"{what}'s proof is at most 64 hashes")
    try:
        entry = RecordEntry(value["header"], value["signature"], value["body"])
    except (DecodeError, TypeError) as exc:
        raise VerificationError("encoding", f"{what}: {exc}") from exc
    return entry, tuple(proof)


def ballot_proof(epoch: int, checkpoint: str, entries: dict[str, tuple[RecordEntry, list[bytes]]]) -> bytes:
    """The proof bytes; ``entries`` maps founding, ballot and decision to (entry, inclusion path)."""
    value: dict[str, Any] = {"v": PROOF_VERSION, "epoch": epoch, "checkpoint": checkpoint}
    for name, (entry, path) in entries.items():
        value[name] = {
            "header": entry.header_bytes,
            "signature": entry.signature,
            "body": entry.body_bytes,
            "proof": list(path),
        }
    return codec.encode(value)


def verify_ballot_proof(data: bytes, root_key: bytes, member_key: bytes) -> CountedBallot:
    """Check, offline, that ``member_key``'s signed ballot is in the council's record and that the decision
    on its motion came after it; raise ``VerificationError`` naming the failed step."""
    try:
        value = codec.decode(data, PROOF_LIMITS)
    except DecodeError as exc:
        raise VerificationError("encoding", f"not a ballot proof: {exc}") from exc
    keys = {"v", "epoch", "checkpoint", "founding", "ballot", "decision"}
    if type(value) is not dict or set(value) != keys or value["v"] != PROOF_VERSION:
        raise VerificationError("encoding", f"a ballot proof is a version-1 map of {', '.join(sorted(keys))}")
    epoch, note = value["epoch"], value["checkpoint"]
    if type(epoch) is not int or type(note) is not str:
        raise VerificationError("encoding", "epoch is an integer and checkpoint a note")
    try:
        log_id = record_log_id(root_key, epoch)
        signed = open_checkpoint(note, PublicKey(root_key), log_origin(log_id))
    except DecodeError as exc:
        raise VerificationError("checkpoint-signature", str(exc)) from exc
    tree = signed.checkpoint
    found, ballot, decision = (_entry(value[n], n) for n in ("founding", "ballot", "decision"))
    for entry, path in (found, ballot, decision):
        if entry.header.log_id != log_id:
            raise VerificationError("inclusion", "an entry of another record")
        try:
            merkle.verify_inclusion(entry.id, entry.seq, tree.size, path, tree.root)
        except VerificationError as exc:
            raise VerificationError("inclusion", f"entry {entry.seq}: {exc.message}") from exc
    if found[0].seq != 0 or found[0].body().get("kind") != "council/found":
        raise VerificationError("founding", "the record's entry 0 founds the council")
    council = found[0].id
    body = ballot[0].body()
    by = body.get("issued_by")
    if body.get("kind") != "motion/vote" or type(by) is not dict or by.get("role") != "member":
        raise VerificationError("ballot", "the entry is not a member-signed vote")
    if by.get("key") != member_key or by.get("member") != body.get("member"):
        raise VerificationError("ballot", "the vote is not signed by this member's key")
    outcome = decision[0].body()
    if outcome.get("kind") != "decision" or outcome.get("motion") != body.get("motion"):
        raise VerificationError("decision", "the decision entry does not decide the ballot's motion")
    try:
        statement = Statement(
            "ballot",
            council,
            {
                "assembly": outcome.get("assembly"),
                "motion": body.get("motion"),
                "member": body.get("member"),
                "choice": body.get("choice"),
                "approvals": body.get("approvals"),
            },
        )
    except DecodeError as exc:
        raise VerificationError("ballot", str(exc)) from exc
    verify_statement(member_key, statement, by.get("sig"))
    if decision[0].seq <= ballot[0].seq:
        raise VerificationError("decision", "the decision came before the ballot")
    tally: dict[str, Any] = {k: outcome[k] for k in ("tally", "votes_cast", "ballots_signed") if k in outcome}
    return CountedBallot(
        council,
        body["member"],
        body["motion"],
        outcome["assembly"],
        body["choice"],
        tuple(body["approvals"]),
        decision[0].id,
        str(outcome.get("outcome")),
        tally,
    )
