"""C2SP signed notes, tlog-checkpoints and ``cosignature/v1`` cosignatures (DESIGN.md §3).

The text is byte-compatible with c2sp.org/signed-note, c2sp.org/tlog-checkpoint and c2sp.org/tlog-cosignature
(and so with Go's ``golang.org/x/mod/sumdb/note``): any verifier of those formats checks a shora checkpoint
given the log's key, and shora checks theirs.

    note text  = body ("origin\\nsize\\nroot\\n") + "\\n" + signature lines ("— name base64(keyid || sig)\\n")

Parsing is strict and exact: a note that parses formats back to the same text, and a checkpoint body that
parses re-encodes to the same bytes, so what is verified is always what was received. Signatures go through
``protocol.keys`` (``Domain.NOTE``); the note format itself separates them from every other signed message.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from protocol.codec import INT64_MAX, b64u
from protocol.errors import DecodeError, VerificationError
from protocol.keys import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, Domain, PublicKey, SigningKey

MAX_NOTE_SIZE = 1 << 20  # bytes of a whole signed note
MAX_SIGNATURES = 100  # as Go's sumdb/note: bounds the work a hostile note can cause
NOTE_KEY_ID_SIZE = 4
HASH_SIZE = 32
TIMESTAMP_SIZE = 8
LOG_ORIGIN_PREFIX = "shora/"
WITNESS_NAME_PREFIX = "shora-witness/"
COSIGNATURE_HEADER = b"cosignature/v1\n"

_SIG_PREFIX = "— "  # U+2014 em dash, space
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # ASCII controls other than newline
_SIZE = re.compile(r"0|[1-9][0-9]*")  # ASCII only, unlike int() and str.isdigit()
_KEY_HASH = re.compile(r"[0-9a-f]{8}")


class KeyKind(enum.IntEnum):
    """Signature type identifier bytes (signed-note.md, "Signature types")."""

    ED25519 = 0x01
    COSIGNATURE_V1 = 0x04


# --- names, key ids, verifier keys ------------------------------------------------------------------


def check_key_name(name: str) -> None:
    """Raise ``DecodeError`` unless ``name`` is a valid note key name (non-empty, no spaces, no '+')."""
    if not isinstance(name, str) or not name:
        raise DecodeError("a note key name is non-empty text")
    if "+" in name or any(ch.isspace() or ch < "\x20" for ch in name):
        raise DecodeError(f"note key name {name!r} contains a space, a control character or '+'")
    _utf8(name)


def note_key_id(name: str, public_key: PublicKey, kind: KeyKind) -> bytes:
    """SHA-256(name || 0x0A || type || public key)[:4] (signed-note.md, tlog-cosignature.md)."""
    check_key_name(name)
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public_key.raw).digest()
    return digest[:NOTE_KEY_ID_SIZE]


def log_origin(log_id: bytes) -> str:
    """The checkpoint origin, and the log's note key name: ``shora/`` + base64url(log id)."""
    if not isinstance(log_id, bytes) or len(log_id) != PUBLIC_KEY_SIZE:
        raise DecodeError(f"a log id is {PUBLIC_KEY_SIZE} bytes")
    return LOG_ORIGIN_PREFIX + b64u(log_id)


def witness_name(public_key: PublicKey) -> str:
    """A witness's cosigner key name: ``shora-witness/`` + base64url(its node public key)."""
    return WITNESS_NAME_PREFIX + b64u(public_key.raw)


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A trusted (name, key, signature type): what a note signature line is checked against."""

    name: str
    public_key: PublicKey
    kind: KeyKind = KeyKind.ED25519

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if not isinstance(self.public_key, PublicKey):
            raise DecodeError("a verifier key holds a PublicKey")
        object.__setattr__(self, "kind", KeyKind(self.kind))

    @property
    def key_id(self) -> bytes:
        return note_key_id(self.name, self.public_key, self.kind)

    def text(self) -> str:
        return vkey(self.name, self.public_key, self.kind)


def vkey(name: str, public_key: PublicKey, kind: KeyKind = KeyKind.ED25519) -> str:
    """The verifier-key string ``name+hex(keyid)+base64(type || public key)``, as Go's sumdb/note."""
    key_id = note_key_id(name, public_key, kind)
    return f"{name}+{key_id.hex()}+{_b64(bytes([kind]) + public_key.raw)}"


def parse_vkey(text: str) -> VerifierKey:
    """Parse a verifier-key string strictly; its key id must match its name and key."""
    if not isinstance(text, str):
        raise DecodeError("a verifier key is text")
    name, _, rest = text.partition("+")
    hash16, _, key64 = rest.partition("+")  # standard base64 may itself contain '+'
    if not _KEY_HASH.fullmatch(hash16):
        raise DecodeError("a verifier key's id is 8 lowercase hex digits")
    raw = _unb64(key64)
    if len(raw) != 1 + PUBLIC_KEY_SIZE:
        raise DecodeError("a verifier key holds a type byte and a 32-byte Ed25519 key")
    try:
        kind = KeyKind(raw[0])
    except ValueError as exc:
        raise DecodeError(f"unsupported note signature type {raw[0]:#04x}") from exc
    key = VerifierKey(name, PublicKey(raw[1:]), kind)
    if key.key_id.hex() != hash16:
        raise DecodeError("a verifier key's id does not match its name and key")
    return key


# --- signed notes ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, 4-byte key id, and the signature bytes that follow the id."""

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if not isinstance(self.key_id, bytes) or len(self.key_id) != NOTE_KEY_ID_SIZE:
            raise DecodeError(f"a note key id is {NOTE_KEY_ID_SIZE} bytes")
        if not isinstance(self.signature, bytes) or not self.signature:
            raise DecodeError("a note signature is non-empty bytes")

    def line(self) -> str:
        return f"{_SIG_PREFIX}{self.name} {_b64(self.key_id + self.signature)}\n"

    def matches(self, key: VerifierKey) -> bool:
        """Whether this line claims to be by ``key``: both name and key id agree (signed-note.md)."""
        return self.name == key.name and self.key_id == key.key_id


@dataclass(frozen=True, slots=True)
class Note:
    """A note's text (ending in a newline) and its signature lines, in order. Not yet verified."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.endswith("\n"):
            raise DecodeError("note text ends with a newline")
        _check_note_chars(self.text)
        if not self.signatures:
            raise DecodeError("a signed note has at least one signature")
        if len(self.signatures) > MAX_SIGNATURES:
            raise DecodeError(f"more than {MAX_SIGNATURES} signatures")
        if not all(isinstance(sig, NoteSignature) for sig in self.signatures):
            raise DecodeError("note signatures are NoteSignature values")
        if len(self.format().encode()) > MAX_NOTE_SIZE:
            raise DecodeError(f"a signed note is at most {MAX_NOTE_SIZE} bytes")

    def format(self) -> str:
        return self.text + "\n" + "".join(sig.line() for sig in self.signatures)


def format_note(text: str, signatures: Iterable[NoteSignature]) -> str:
    """The signed-note text of ``text`` with ``signatures``, in the order given."""
    return Note(text, tuple(signatures)).format()


def parse_note(data: str | bytes) -> Note:
    """Parse a signed note strictly (signed-note.md, "Format"); raise ``DecodeError`` if malformed."""
    if isinstance(data, bytes):
        if len(data) > MAX_NOTE_SIZE:
            raise DecodeError(f"a signed note is at most {MAX_NOTE_SIZE} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError("a signed note is UTF-8") from exc
    elif isinstance(data, str):
        if len(data) > MAX_NOTE_SIZE or len(_utf8(data)) > MAX_NOTE_SIZE:
            raise DecodeError(f"a signed note is at most {MAX_NOTE_SIZE} bytes")
        text = data
    else:
        raise DecodeError("a signed note is text")
    _check_note_chars(text)
    # The body ends at the last blank line; everything after it is signature lines.
    split = text.rfind("\n\n")
    if split < 0:
        raise DecodeError("no blank line separates the note text from its signatures")
    body, block = text[: split + 1], text[split + 2 :]
    if not block:
        raise DecodeError("a signed note has at least one signature line")
    if not block.endswith("\n"):
        raise DecodeError("the signature block does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise DecodeError(f"more than {MAX_SIGNATURES} signatures")
    return Note(body, tuple(_parse_signature_line(line) for line in lines))


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_SIG_PREFIX):
        raise DecodeError("a signature line starts with an em dash and a space")
    name, sep, encoded = line[len(_SIG_PREFIX) :].partition(" ")
    if not sep:
        raise DecodeError("a signature line is '— name signature'")
    raw = _unb64(encoded)
    if len(raw) <= NOTE_KEY_ID_SIZE:
        raise DecodeError("a note signature holds a key id and at least one byte")
    return NoteSignature(name, raw[:NOTE_KEY_ID_SIZE], raw[NOTE_KEY_ID_SIZE:])


def sign_note(key: SigningKey, name: str, text: str) -> NoteSignature:
    """An Ed25519 note signature (type 0x01) by ``key`` under ``name`` over ``text``."""
    if not isinstance(text, str) or not text.endswith("\n"):
        raise DecodeError("note text ends with a newline")
    _check_note_chars(text)
    signature = key.sign(Domain.NOTE, text.encode())
    return NoteSignature(name, note_key_id(name, key.public, KeyKind.ED25519), signature)


@dataclass(frozen=True, slots=True)
class VerifiedNote:
    """A note's text with the signatures that verified and those by keys not known (kept, unchecked)."""

    text: str
    verified: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...]


def open_note(data: str | bytes, known: Iterable[VerifierKey], *, backend: str | None = None) -> VerifiedNote:
    """Parse ``data`` and verify every signature by a ``known`` key (same name and key id).

    Lines by unknown keys — including a known name with another key id — are kept unverified, as the
    spec requires. Any signature by a known key that fails, or no verified signature at all, raises
    ``VerificationError`` (step ``note-signature``).
    """
    note = parse_note(data)
    keys = _index_keys(known)
    body = note.text.encode()
    verified: list[NoteSignature] = []
    unverified: list[NoteSignature] = []
    for sig in note.signatures:
        key = keys.get((sig.name, sig.key_id))
        if key is None:
            if sig not in unverified:
                unverified.append(sig)
            continue
        try:
            _verify_line(key, body, sig, backend)
        except VerificationError as exc:
            raise VerificationError(
                "note-signature", f"{sig.name}+{sig.key_id.hex()}: {exc.message}"
            ) from exc
        if not any(seen.matches(key) for seen in verified):
            verified.append(sig)
    if not verified:
        raise VerificationError("note-signature", "the note has no signature by a known key")
    return VerifiedNote(note.text, tuple(verified), tuple(unverified))


def add_signatures(note_text: str, signatures: Iterable[NoteSignature]) -> str:
    """Merge ``signatures`` into a signed note: existing lines keep their order (the log's first); a new
    line by the same name and key id replaces the old one in place; the others are appended once.

    Nothing here is verified: callers verify a signature before merging it.
    """
    note = parse_note(note_text)
    merged = list(note.signatures)
    for sig in signatures:
        same_key = [i for i, old in enumerate(merged) if (old.name, old.key_id) == (sig.name, sig.key_id)]
        if same_key:
            merged[same_key[0]] = sig
            for i in reversed(same_key[1:]):
                del merged[i]
        else:
            merged.append(sig)
    return format_note(note.text, merged)


# --- checkpoints (tlog-checkpoint.md) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: origin line, tree size, RFC 6962 root hash, and opaque extension lines (kept; shora
    itself never writes any)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or not 0 <= self.size <= INT64_MAX:
            raise DecodeError("a tree size is an integer in 0..2^63-1")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise DecodeError(f"a root hash is {HASH_SIZE} bytes")
        if not isinstance(self.extensions, tuple):
            raise DecodeError("extension lines are a tuple")
        for line in self.extensions:
            _check_line(line, "extension line")

    def body(self) -> bytes:
        """The note text: the exact bytes the log signs and witnesses cosign."""
        lines = [self.origin, str(self.size), _b64(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines).encode()

    @classmethod
    def from_body(cls, body: str | bytes) -> Checkpoint:
        """Parse a checkpoint note text strictly; it must re-encode to exactly the same bytes."""
        try:
            text = body.decode("utf-8") if isinstance(body, bytes) else body
        except UnicodeDecodeError as exc:
            raise DecodeError("a checkpoint is UTF-8") from exc
        if not isinstance(text, str) or not text.endswith("\n"):
            raise DecodeError("a checkpoint ends with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise DecodeError("a checkpoint has an origin, a size and a root hash line")
        origin, size, root, *extensions = lines
        if not _SIZE.fullmatch(size) or int(size) > INT64_MAX:
            raise DecodeError("a tree size is decimal, without leading zeros, at most 2^63-1")
        checkpoint = cls(origin, int(size), _unb64(root), tuple(extensions))
        if checkpoint.body() != _utf8(text):
            raise DecodeError("the checkpoint does not re-encode to the same bytes")
        return checkpoint


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A checkpoint with the note text it came in and every signature line of that note."""

    checkpoint: Checkpoint
    note_text: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        note = parse_note(self.note_text)
        if _utf8(note.text) != self.checkpoint.body() or note.signatures != self.signatures:
            raise DecodeError("the note text does not hold this checkpoint and these signatures")


def sign_checkpoint(key: SigningKey, checkpoint: Checkpoint) -> str:
    """The checkpoint as a signed note, with the log's Ed25519 signature under its origin as key name."""
    signature = sign_note(key, checkpoint.origin, checkpoint.body().decode())
    return format_note(checkpoint.body().decode(), [signature])


def open_checkpoint(
    note_text: str,
    log_public_key: PublicKey,
    expected_origin: str | None = None,
    *,
    backend: str | None = None,
) -> SignedCheckpoint:
    """Parse a checkpoint note and verify the log's signature over it.

    The origin must be ``expected_origin`` (by default the log key's own origin): step ``origin``. The
    log's signature must be present and valid: step ``checkpoint-signature``.
    """
    note = parse_note(note_text)
    checkpoint = Checkpoint.from_body(note.text)
    expected = log_origin(log_public_key.raw) if expected_origin is None else expected_origin
    if checkpoint.origin != expected:
        raise VerificationError("origin", f"checkpoint of {checkpoint.origin!r}, expected {expected!r}")
    try:
        log_key = VerifierKey(checkpoint.origin, log_public_key, KeyKind.ED25519)
    except DecodeError as exc:
        raise VerificationError("checkpoint-signature", "the origin is not a usable key name") from exc
    try:
        open_note(note_text, [log_key], backend=backend)
    except VerificationError as exc:
        raise VerificationError("checkpoint-signature", exc.message) from exc
    return SignedCheckpoint(checkpoint, note_text, note.signatures)


# --- cosignatures (tlog-cosignature.md, cosignature/v1) ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A verified cosignature: which witness, and the time (POSIX seconds) it says it signed."""

    name: str
    timestamp: int


def cosigned_message(checkpoint_body: bytes, timestamp: int) -> bytes:
    """``cosignature/v1\\ntime <T>\\n`` followed by the checkpoint's note text."""
    _check_timestamp(timestamp)
    return COSIGNATURE_HEADER + b"time %d\n" % timestamp + checkpoint_body


def cosign(
    witness_key: SigningKey, witness_name: str, checkpoint: Checkpoint, timestamp: int
) -> NoteSignature:
    """A witness's cosignature/v1 line: key id || timestamp (u64 big-endian) || Ed25519 signature."""
    key_id = note_key_id(witness_name, witness_key.public, KeyKind.COSIGNATURE_V1)
    signature = witness_key.sign(Domain.NOTE, cosigned_message(checkpoint.body(), timestamp))
    return NoteSignature(witness_name, key_id, timestamp.to_bytes(TIMESTAMP_SIZE, "big") + signature)


def verify_cosignatures(
    signed: SignedCheckpoint,
    witnesses: Mapping[str, PublicKey] | Iterable[tuple[str, PublicKey]],
    min_count: int,
    *,
    backend: str | None = None,
) -> list[Cosignature]:
    """Verify the cosignatures of trusted ``witnesses``; at least ``min_count`` distinct ones must verify.

    Lines by other keys are ignored; an invalid line by a trusted witness raises. A public key listed
    under several names counts once, since a cosignature/v1 message does not commit to the name.
    Returns one ``Cosignature`` per witness (its newest), in the order the witnesses were given.
    """
    pairs = witnesses.items() if isinstance(witnesses, Mapping) else witnesses
    keys = [VerifierKey(name, key, KeyKind.COSIGNATURE_V1) for name, key in pairs]
    index = _index_keys(keys)
    body = signed.checkpoint.body()
    newest: dict[bytes, Cosignature] = {}  # by public key
    for sig in signed.signatures:
        key = index.get((sig.name, sig.key_id))
        if key is None:
            continue
        try:
            timestamp = _verify_line(key, body, sig, backend)
        except VerificationError as exc:
            raise VerificationError("cosignatures", f"{sig.name}: {exc.message}") from exc
        previous = newest.get(key.public_key.raw)
        if previous is None or timestamp > previous.timestamp:
            newest[key.public_key.raw] = Cosignature(key.name, timestamp)
    if len(newest) < min_count:
        raise VerificationError(
            "cosignatures", f"{len(newest)} valid witness cosignatures, at least {min_count} required"
        )
    return [newest.pop(key.public_key.raw) for key in keys if key.public_key.raw in newest]


# --- helpers -----------------------------------------------------------------------------------------


def _verify_line(key: VerifierKey, body: bytes, sig: NoteSignature, backend: str | None) -> int:
    """Verify one signature line by ``key`` over note text ``body``; return its timestamp (0 for 0x01)."""
    if key.kind is KeyKind.ED25519:
        key.public_key.verify(Domain.NOTE, body, sig.signature, backend=backend)
        return 0
    if len(sig.signature) != TIMESTAMP_SIZE + SIGNATURE_SIZE:
        raise VerificationError("signature", "a cosignature/v1 is a timestamp and an Ed25519 signature")
    timestamp = int.from_bytes(sig.signature[:TIMESTAMP_SIZE], "big")
    if timestamp > INT64_MAX:
        raise VerificationError("signature", "a cosignature timestamp is at most 2^63-1")
    message = cosigned_message(body, timestamp)
    key.public_key.verify(Domain.NOTE, message, sig.signature[TIMESTAMP_SIZE:], backend=backend)
    return timestamp


def _index_keys(keys: Iterable[VerifierKey]) -> dict[tuple[str, bytes], VerifierKey]:
    index: dict[tuple[str, bytes], VerifierKey] = {}
    for key in keys:
        slot = (key.name, key.key_id)
        if slot in index and index[slot] != key:
            # Only a tampered trust configuration has two keys with one name and id (see Go's VerifierList).
            raise VerificationError("note-keys", f"ambiguous key {key.name}+{key.key_id.hex()}")
        index[slot] = key
    return index


def _check_timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or not 0 <= timestamp <= INT64_MAX:
        raise DecodeError("a cosignature timestamp is an integer in 0..2^63-1")


def _check_line(line: str, what: str) -> None:
    if not isinstance(line, str) or not line or "\n" in line:
        raise DecodeError(f"a checkpoint {what} is one non-empty line")
    _check_note_chars(line)


def _check_note_chars(text: str) -> None:
    if _CONTROL.search(text):
        raise DecodeError("a signed note has no control characters other than newline")
    _utf8(text)


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates
        raise DecodeError("text is not valid Unicode") from exc


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict standard base64: padded, alphabet only, canonical (no stray bits)."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise DecodeError("not standard base64") from exc
    if not text or _b64(data) != text:
        raise DecodeError("not canonical standard base64")
    return data
