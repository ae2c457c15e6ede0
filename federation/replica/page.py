"""A page of one log as it travels between peers: its entries, the newest checkpoint, a consistency proof.

``Page.decode`` checks the size before decoding and turns every decoding failure into ``BadData``; the
checks that need what we hold are ``Replica.ingest``'s. ``encode_page`` writes the canonical bytes straight
from stored rows, and ``page_size`` says exactly how many bytes that will be, so a server fills a page up to
its byte budget and never past it (``federation.replica.serve``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

from federation.errors import BadData
from federation.replica.signatures import Preverified
from federation.settings import DEFAULTS
from protocol import codec, merkle
from protocol.entry import Entry
from protocol.errors import DecodeError, VerificationError

MAX_CONSISTENCY = 64  # a consistency proof of a tree of at most 2^63 leaves

Row = tuple[bytes, bytes, bytes | None]  # an entry as stored: header, signature, body (or None)
_ENTRY_KEYS = {"header", "signature", "body"}


@dataclass(frozen=True)
class Head:
    log_id: bytes
    size: int
    root: bytes


@dataclass(frozen=True)
class IngestResult:
    appended: int
    size: int
    checkpoint_size: int | None


@dataclass(frozen=True)
class Page:
    """A run of entries of one log, the newest checkpoint the server holds, and a consistency proof from
    tree size ``first`` (the caller's) to that checkpoint."""

    entries: tuple[Entry, ...]
    checkpoint: str | None
    consistency: tuple[bytes, ...]
    first: int
    # Signature checks already on their way (``Replica.preverify``): not part of the page's value.
    preverified: Preverified | None = field(default=None, compare=False, repr=False)
    # The peer that served it, charged if an entry's signature, checked after commit, fails.
    source: bytes | None = field(default=None, compare=False, repr=False)

    def encode(self) -> bytes:
        rows = [(e.header_bytes, e.signature, e.body_bytes) for e in self.entries]
        return encode_page(rows, self.checkpoint, self.consistency, self.first)

    @classmethod
    def decode(cls, data: bytes, max_bytes: int = DEFAULTS.max_response_bytes) -> Page:
        """The page ``data`` holds, if it is at most ``max_bytes`` long and well formed; else ``BadData``."""
        if len(data) > max_bytes:
            raise BadData("page-size", f"a page of {len(data)} bytes exceeds {max_bytes}")
        try:
            value = codec.decode(data, _limits(max_bytes))
            if not isinstance(value, dict) or set(value) != {"entries", "checkpoint", "consistency", "first"}:
                raise DecodeError("a page is a map of entries, checkpoint, consistency and first")
            items, note = value["entries"], value["checkpoint"]
            proof, first = value["consistency"], value["first"]
            if not isinstance(items, list) or not isinstance(proof, list) or len(proof) > MAX_CONSISTENCY:
                raise DecodeError("entries and consistency are lists (at most 64 hashes)")
            if note is not None and not isinstance(note, str):
                raise DecodeError("checkpoint is note text or nil")
            if type(first) is not int or first < 0:
                raise DecodeError("first is a tree size")
            if not all(isinstance(h, bytes) and len(h) == merkle.HASH_SIZE for h in proof):
                raise DecodeError("a consistency proof holds 32-byte hashes")
            entries = tuple(_entry(item) for item in items)
        except DecodeError as exc:
            raise BadData("encoding", str(exc)) from exc
        except VerificationError as exc:  # a body that does not match its header's hash
            raise BadData(exc.step, exc.message) from exc
        return cls(entries, note, tuple(proof), first)


def _limits(max_bytes: int) -> codec.Limits:
    return codec.Limits(max_size=max_bytes, max_depth=3, max_length=1 << 20)


def _entry(item: Any) -> Entry:
    if not isinstance(item, dict) or not {"header", "signature"} <= set(item) <= _ENTRY_KEYS:
        raise DecodeError("a page entry is a map of header, signature and an optional body")
    return Entry(item["header"], item["signature"], item.get("body"))


def encode_page(
    rows: Sequence[Row], checkpoint: str | None, consistency: Sequence[bytes], first: int
) -> bytes:
    """A page's canonical bytes. The entries are maps of bytes written with their keys in canonical order
    (body < header < signature), canonical as built: packed directly, not walked by the codec a thousand
    at a time. The rest goes through the codec's checks; the top-level keys are in canonical order too."""
    entries = [
        {"header": header, "signature": signature}
        if body is None
        else {"body": body, "header": header, "signature": signature}
        for header, signature, body in rows
    ]
    codec.encode([checkpoint, list(consistency), first])
    packed: bytes = msgpack.packb(
        {"checkpoint": checkpoint, "consistency": list(consistency), "entries": entries, "first": first},
        use_bin_type=True,
    )
    return packed


# --- sizes, as msgpack writes them ---------------------------------------------------------------------


def _bin(n: int) -> int:
    return n + (2 if n < 1 << 8 else 3 if n < 1 << 16 else 5)


def _str(n: int) -> int:
    return n + (1 if n < 32 else 2 if n < 1 << 8 else 3 if n < 1 << 16 else 5)


def _array(n: int) -> int:
    return 1 if n < 16 else 3 if n < 1 << 16 else 5


_ENTRY_FRAME = 1 + _str(6) + _str(9)  # the map of an entry, and its keys "header" and "signature"
_BODY_KEY = _str(4)


def row_size(row: Row) -> int:
    """The exact encoded size of one entry of a page (``encode_page``)."""
    header, signature, body = row
    size = _ENTRY_FRAME + _bin(len(header)) + _bin(len(signature))
    return size if body is None else size + _BODY_KEY + _bin(len(body))


def frame_size(checkpoint: str | None, consistency: Sequence[bytes]) -> int:
    """The encoded size of a page, its entries' own bytes (``row_size``) aside: at most this (the entries'
    count and ``first`` counted at their widest)."""
    note = 1 if checkpoint is None else _str(len(checkpoint.encode()))
    proof = _array(len(consistency)) + sum(_bin(len(h)) for h in consistency)
    keys = _str(10) + _str(11) + _str(7) + _str(5)
    return 1 + keys + note + proof + 5 + 9
