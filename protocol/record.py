"""A council's two logs: the record it keeps, and the public log it publishes (DESIGN.md §3; docs §10).

    record log id  = SHA-256("shora/v1/record-log" 0x00 || root public key || epoch as u32 big-endian)
    record entry   = an entry (§4.1 header) naming the record log id, signed over
                     b"shora/v1/record\\0" + header bytes; every body carries a 16-byte salt, public ones too
    public twin    = the public-log entry that publishes a public record entry: the record body without
                     its salt and its attribution (``issued_by``: which key issued the command, for the
                     record's readers only), plus "record": {"entry": the record entry's id, "root": the
                     record's root after it}, in a header with the twin's own ts_ms — no record seq, size
                     or other time
    gap            = "record/gap", entry 0 of the next record epoch: what a restore kept and lost

Publishing is a pure function of the record: the same record entry and root give the same public body bytes,
so replaying the record rebuilds the public log byte for byte. A member who holds the record checks a public
entry with ``verify_twin`` (one entry) or ``verify_publication`` (the whole public log). Recounting a decision
is governance's arithmetic and stays in ``node``: it checks the decision's record twin, then recounts the
ballots before it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from protocol import codec
from protocol.entry import SALT_SIZE, Entry, Unsigned, Visibility, prepare_entry
from protocol.errors import DecodeError, VerificationError
from protocol.keys import PUBLIC_KEY_SIZE, Domain, SigningKey
from protocol.merkle import HASH_SIZE, MemoryTree

RECORD_LOG_TAG = b"shora/v1/record-log\x00"
EPOCH_MAX = 2**32 - 1
# The key a public twin's body adds to its record twin's: a public record body may not use it.
COMMITMENT_KEY = "record"
# The key of a record body's attribution (who issued the command): never published, since it can name a
# member and their key (DESIGN.md §6).
ATTRIBUTION_KEY = "issued_by"
GAP_KIND = "record/gap"


def record_log_id(root_key: bytes, epoch: int = 0) -> bytes:
    """The record's log id: a hash, so it is never a public log id (an Ed25519 key) nor another epoch's."""
    if not isinstance(root_key, bytes) or len(root_key) != PUBLIC_KEY_SIZE:
        raise DecodeError("a council root key is 32 bytes")
    if type(epoch) is not int or not 0 <= epoch <= EPOCH_MAX:
        raise DecodeError("a record epoch is a u32")
    return hashlib.sha256(RECORD_LOG_TAG + root_key + epoch.to_bytes(4, "big")).digest()


class RecordEntry(Entry):
    """An entry of a council's record: signed in the record's domain, every body salted (so the id of a
    public record entry cannot be recomputed from its public twin, which would date and count the record)."""

    __slots__ = ()
    DOMAIN = Domain.RECORD
    SALTED = True


def prepare_record_entry(
    key_id: bytes,
    *,
    root_key: bytes,
    epoch: int = 0,
    seq: int,
    prev: bytes | None,
    ts_ms: int,
    vis: Visibility,
    body: dict[str, Any],
) -> Unsigned:
    """A record entry for ``key_id`` to sign in ``Domain.RECORD``; ``body`` already carries its salt."""
    return prepare_entry(
        key_id,
        log_id=record_log_id(root_key, epoch),
        seq=seq,
        prev=prev,
        ts_ms=ts_ms,
        vis=vis,
        body=body,
        entry_type=RecordEntry,
    )


def sign_record_entry(key: SigningKey, **fields: Any) -> RecordEntry:
    """Build (from the ``prepare_record_entry`` fields) and sign a record entry."""
    unsigned = prepare_record_entry(key.public.id, **fields)
    return cast(RecordEntry, unsigned.signed(key.sign(Domain.RECORD, unsigned.header_bytes)))


def check_record_log(entry: Entry, root_key: bytes, epoch: int = 0) -> RecordEntry:
    """``entry`` is a record entry of this council's record (that epoch), else step ``record-log``."""
    if not isinstance(entry, RecordEntry):
        raise VerificationError("record-log", "not a record entry")
    if entry.header.log_id != record_log_id(root_key, epoch):
        raise VerificationError("record-log", "the entry belongs to another record")
    return entry


# --- the public twin ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Commitment:
    """What a public entry says of the record: its twin's id, and the record's root right after it."""

    entry: bytes
    root: bytes

    def __post_init__(self) -> None:
        for name in ("entry", "root"):
            value = getattr(self, name)
            if type(value) is not bytes or len(value) != HASH_SIZE:
                raise DecodeError(f"a commitment's {name} is 32 bytes")

    def to_body(self) -> dict[str, bytes]:
        return {"entry": self.entry, "root": self.root}

    @classmethod
    def from_body(cls, value: object) -> Commitment:
        if type(value) is not dict or set(value) != {"entry", "root"}:
            raise DecodeError("a commitment is a map of exactly 'entry' and 'root'")
        return cls(value["entry"], value["root"])


def publish(record_entry: RecordEntry, record_root: bytes) -> dict[str, Any]:
    """The public body of ``record_entry``'s twin, the record's root being ``record_root`` right after it:
    the record body without its salt and attribution, plus the commitment. A pure function of its
    arguments."""
    if not isinstance(record_entry, RecordEntry) or record_entry.body_bytes is None:
        raise VerificationError("twin-content", "only a record entry with its body is published")
    if record_entry.header.vis != "public":
        raise VerificationError("twin-council", "a council-only record entry is never published")
    body = record_entry.body()
    if COMMITMENT_KEY in body or "salt" not in body:
        raise VerificationError("twin-content", f"a record body has a salt and no key {COMMITMENT_KEY!r}")
    del body["salt"]
    body.pop(ATTRIBUTION_KEY, None)
    body[COMMITMENT_KEY] = Commitment(record_entry.id, record_root).to_body()
    return body


def prepare_twin(
    record_entry: RecordEntry,
    record_root: bytes,
    *,
    root_key: bytes,
    epoch: int = 0,
    key_id: bytes,
    seq: int,
    prev: bytes | None,
) -> Unsigned:
    """The public-log entry publishing ``record_entry`` at public position ``seq`` (after ``prev``), for
    ``key_id`` to sign in ``Domain.ENTRY``. Its ts_ms is the record twin's; nothing else of the record's."""
    check_record_log(record_entry, root_key, epoch)
    return prepare_entry(
        key_id,
        log_id=root_key,
        seq=seq,
        prev=prev,
        ts_ms=record_entry.header.ts_ms,
        vis="public",
        body=publish(record_entry, record_root),
    )


def sign_twin(key: SigningKey, record_entry: RecordEntry, record_root: bytes, **fields: Any) -> Entry:
    """Build (from the ``prepare_twin`` arguments) and sign the public twin of ``record_entry``."""
    unsigned = prepare_twin(record_entry, record_root, key_id=key.public.id, **fields)
    return unsigned.signed(key.sign(Domain.ENTRY, unsigned.header_bytes))


def commitment_of(public_entry: Entry) -> Commitment:
    """The commitment a public entry carries (step ``twin-commitment`` if it has none)."""
    if type(public_entry) is not Entry or public_entry.header.vis != "public":
        raise VerificationError("twin-commitment", "only a public-log entry commits to the record")
    if public_entry.body_bytes is None:
        raise VerificationError("twin-commitment", "the public entry has no body")
    try:
        return Commitment.from_body(public_entry.body().get(COMMITMENT_KEY))
    except DecodeError as exc:
        raise VerificationError("twin-commitment", str(exc)) from exc


@dataclass(frozen=True, slots=True)
class Twin:
    """A public entry checked against the record: which record entry it publishes, and the record's root."""

    record_entry: RecordEntry
    root: bytes

    @property
    def seq(self) -> int:
        return self.record_entry.seq


def verify_twin(public_entry: Entry, record: Sequence[RecordEntry], *, epoch: int = 0) -> Twin:
    """Check that ``public_entry`` is exactly the publication of the record entry it names, and that the root
    it commits to is the record's root at that entry. ``record`` is the member's record of that epoch, from
    its first entry, signatures already verified. O(n): checking a whole public log is
    ``verify_publication``'s job."""
    commitment = commitment_of(public_entry)
    position = next((i for i, entry in enumerate(record) if entry.id == commitment.entry), None)
    if position is None:
        raise VerificationError(
            "twin-missing", "the record holds no entry with the id the public entry names"
        )
    record_entry = record[position]
    _check_twin(public_entry, record_entry, commitment, epoch)
    if record_entry.seq != position:
        raise VerificationError("record-root", "the record given does not start at its first entry")
    if MemoryTree([entry.id for entry in record[: position + 1]]).root() != commitment.root:
        raise VerificationError("record-root", "the committed root is not the record's root at its twin")
    return Twin(record_entry, commitment.root)


def _check_twin(public_entry: Entry, record_entry: RecordEntry, commitment: Commitment, epoch: int) -> None:
    if record_entry.header.log_id != record_log_id(public_entry.header.log_id, epoch):
        raise VerificationError("record-log", "the record entry belongs to another council's record")
    if record_entry.header.vis != "public":
        raise VerificationError("twin-council", "the public entry publishes a council-only record entry")
    expected = codec.encode(publish(record_entry, commitment.root))
    if public_entry.body_bytes != expected:
        raise VerificationError("twin-content", "the public body is not the publication of its record twin")
    if public_entry.header.ts_ms != record_entry.header.ts_ms:
        raise VerificationError("twin-time", "the public entry's time is not its record twin's")


def verify_publication(
    public: Sequence[Entry], record: Sequence[RecordEntry], *, epoch: int = 0
) -> list[Twin]:
    """Check a public log against the record it publishes, in one pass: the n-th public entry is the twin of
    the n-th public record entry, with the record's root at it. The public log may lag the record (its
    newest twins not published yet) but never skips, reorders or adds an entry. Signatures, chain links and
    key validity of either log are checked where they are stored, not here."""
    return Publication(epoch).check(public, record)


class Publication:
    """``verify_publication`` in steps, for a reader that follows both logs as they grow: each ``check`` is
    given the public entries after those checked before, and the record entries from ``size`` on (the
    record entries already folded in, up to the twin of the last public entry checked)."""

    def __init__(self, epoch: int = 0) -> None:
        self.epoch = epoch
        self.tree = MemoryTree()  # the record's ids, up to the last twin checked

    @property
    def size(self) -> int:
        return self.tree.size

    def check(self, public: Iterable[Entry], record: Iterable[RecordEntry]) -> list[Twin]:
        tree = self.tree
        twins: list[Twin] = []
        records = iter(record)
        for public_entry in public:
            commitment = commitment_of(public_entry)
            for record_entry in records:
                if record_entry.seq != tree.size:
                    raise VerificationError(
                        "record-root", "the record given is not contiguous from its first entry"
                    )
                tree.append(record_entry.id)
                if record_entry.header.vis == "public":
                    break
            else:
                raise VerificationError(
                    "twin-missing", f"public entry {public_entry.seq} has no record twin left"
                )
            if commitment.entry != record_entry.id:
                raise VerificationError(
                    "twin-missing",
                    f"public entry {public_entry.seq} does not name the next public record entry",
                )
            _check_twin(public_entry, record_entry, commitment, self.epoch)
            if tree.root() != commitment.root:
                raise VerificationError(
                    "record-root", f"public entry {public_entry.seq} commits to another root"
                )
            twins.append(Twin(record_entry, commitment.root))
        return twins


# --- the gap a restore leaves ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Gap:
    """A ``record/gap`` body: epoch ``epoch`` of the record was restored up to ``kept`` entries (whose root is
    ``kept_root``); its positions ``kept`` onwards are lost. ``public`` is the last commitment the public log
    held when the node was restored (``None``: nothing published yet)."""

    epoch: int
    kept: int
    kept_root: bytes
    public: Commitment | None

    def __post_init__(self) -> None:
        if type(self.epoch) is not int or not 0 <= self.epoch < EPOCH_MAX:
            raise DecodeError("a gap names an epoch below the last")
        if type(self.kept) is not int or not 0 <= self.kept <= codec.INT64_MAX:
            raise DecodeError("a gap's kept count is a non-negative int64")
        if type(self.kept_root) is not bytes or len(self.kept_root) != HASH_SIZE:
            raise DecodeError("a gap's kept_root is 32 bytes")
        if self.public is not None and not isinstance(self.public, Commitment):
            raise DecodeError("a gap's public commitment is a Commitment or None")

    def to_body(self, salt: bytes) -> dict[str, Any]:
        """The body of the gap entry; a gap is council-only (it names record positions), so it is salted."""
        if type(salt) is not bytes or len(salt) != SALT_SIZE:
            raise DecodeError("a salt is 16 bytes")
        return {
            "kind": GAP_KIND,
            "epoch": self.epoch,
            "kept": self.kept,
            "kept_root": self.kept_root,
            "public": None if self.public is None else self.public.to_body(),
            "salt": salt,
        }

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Gap:
        if set(body) != {"kind", "epoch", "kept", "kept_root", "public", "salt"} or body["kind"] != GAP_KIND:
            raise DecodeError("a record/gap body has exactly kind, epoch, kept, kept_root, public and salt")
        public = body["public"]
        return cls(
            body["epoch"],
            body["kept"],
            body["kept_root"],
            None if public is None else Commitment.from_body(public),
        )


def check_gap(entry: RecordEntry, *, root_key: bytes, kept: Sequence[RecordEntry]) -> Gap:
    """``entry`` is a well-formed gap opening the epoch after ``kept``'s: entry 0 of epoch e + 1,
    council-only, stating exactly how many entries of epoch e were kept and their root. ``kept`` is what the
    restore kept of epoch e, from its first entry."""
    if not isinstance(entry, RecordEntry) or entry.body_bytes is None:
        raise VerificationError("gap-shape", "a gap is a record entry with its body")
    body = entry.body()
    try:
        gap = Gap.from_body(body)
    except DecodeError as exc:
        raise VerificationError("gap-shape", str(exc)) from exc
    if entry.header.vis != "council":
        raise VerificationError("gap-shape", "a gap names record positions, so it is council-only")
    if entry.seq != 0 or entry.header.log_id != record_log_id(root_key, gap.epoch + 1):
        raise VerificationError("gap-position", "a gap is the first entry of the epoch after the one it ends")
    if len(kept) != gap.kept:
        raise VerificationError("gap-kept", f"the gap says {gap.kept} entries were kept, not {len(kept)}")
    for position, held in enumerate(kept):
        if held.seq != position or held.header.log_id != record_log_id(root_key, gap.epoch):
            raise VerificationError(
                "gap-kept", "the kept entries are not the gap's epoch from its first entry"
            )
    if MemoryTree([held.id for held in kept]).root() != gap.kept_root:
        raise VerificationError("gap-kept", "the gap's kept_root is not the root of the kept entries")
    return gap
