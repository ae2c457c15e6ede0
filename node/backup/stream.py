"""The backup stream's items: what the node puts in (the record's entries, the directory's rows) and how a
restore reads them back (docs/protocol.md §11.4).

    item kind 1   canonical msgpack [header, signature, body] of one record entry, as stored
    item kind 2   canonical msgpack {"member_id", "name", "contact", "created_ms"}: one directory row

Items are taken from the store after a cursor (the ticker's, ``tables.Cursor``) or all at once (a full
backup). A restore reads a stream that may end inside an item — the disk died while an item waited for the
next tick — and keeps the items before it; a node restored that way closes the broken item with zero bytes
and a ``CLOSED`` row (``filler``) before it seals anything new, and a reader skips an item followed by that
row: the segments around it are the council's own (signed, authenticated), so no one else can put it there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field

from federation.store import LogStore
from node.storage import epochs
from protocol import codec
from protocol.errors import DecodeError, VerificationError
from protocol.record import EPOCH_MAX, RecordEntry, record_log_id
from protocol.sealed import ITEM_DIRECTORY, ITEM_KINDS, ITEM_MAX, ITEM_RECORD, encode_items

ITEM_HEAD = 5
ITEM_LIMITS = codec.Limits(max_size=ITEM_MAX, max_depth=2, max_length=ITEM_MAX)
# A node-defined row (item kind 2, docs §11.4): "the item just before me was cut by a lost disk; skip it".
CLOSED = (ITEM_DIRECTORY, codec.encode({"stream": "closed"}))
DirectoryRow = tuple[bytes, str, str, int]  # member_id, name, contact, created_ms
DIRECTORY_FIELDS = ("member_id", "name", "contact", "created_ms")


def record_item(header: bytes, signature: bytes, body: bytes | None) -> tuple[int, bytes]:
    if body is None:
        raise DecodeError("a record entry is backed up with its body")
    return ITEM_RECORD, codec.encode([header, signature, body])


def directory_item(row: DirectoryRow) -> tuple[int, bytes]:
    member_id, name, contact, created_ms = row
    return ITEM_DIRECTORY, codec.encode(
        {"member_id": member_id, "name": name, "contact": contact, "created_ms": created_ms}
    )


def directory_rows(conn: sqlite3.Connection, after_rowid: int, limit: int) -> list[tuple[int, DirectoryRow]]:
    rows = conn.execute(
        "SELECT rowid, member_id, name, contact, created_ms FROM member_directory WHERE rowid > ? "
        "ORDER BY rowid LIMIT ?",
        (after_rowid, limit),
    )
    return [(r[0], (bytes(r[1]), r[2], r[3], r[4])) for r in rows]


@dataclass
class Taken:
    """Stream bytes taken after a cursor, and where the cursor goes."""

    stream: bytes
    epoch: int
    record_size: int
    directory_rowid: int


def take(
    conn: sqlite3.Connection,
    root_key: bytes,
    *,
    epoch: int,
    record_size: int,
    directory_rowid: int,
    budget: int,
) -> Taken:
    """The items after the cursor ``(epoch, record_size, directory_rowid)``, about ``budget`` bytes of them
    (at least one item when there is any): record entries epoch by epoch, then directory rows."""
    store, out, used = LogStore(conn, private=True), bytearray(), 0  # the record is a private log
    while used < budget:
        rows = store.rows(record_log_id(root_key, epoch), record_size - 1, 256, council_bodies=True)
        if not rows:
            if epoch < EPOCH_MAX and store.head(record_log_id(root_key, epoch + 1)) is not None:
                epoch, record_size = epoch + 1, 0
                continue
            break
        for row in rows:
            chunk = encode_items([record_item(*row)])
            out += chunk
            used += len(chunk)
            record_size += 1
            if used >= budget:
                break
    while used < budget and (changed := directory_rows(conn, directory_rowid, 256)):
        for rowid, person in changed:
            chunk = encode_items([directory_item(person)])
            out += chunk
            used += len(chunk)
            directory_rowid = rowid
            if used >= budget:
                break
    return Taken(bytes(out), epoch, record_size, directory_rowid)


def everything(conn: sqlite3.Connection, root_key: bytes) -> Iterator[bytes]:
    """The whole stream of a full backup — every epoch of the record, then every directory row — in
    pieces, read through ``conn`` (inside one read transaction for a consistent copy)."""
    store = LogStore(conn, private=True)  # the record is a private log
    for epoch in epochs.epochs(store, root_key):
        after = -1
        while rows := store.rows(record_log_id(root_key, epoch), after, 1000, council_bodies=True):
            yield encode_items(record_item(*row) for row in rows)
            after += len(rows)
    rowid = 0
    while changed := directory_rows(conn, rowid, 1000):
        yield encode_items(directory_item(row) for _, row in changed)
        rowid = changed[-1][0]


def filler(stream: bytes, tail: int) -> bytes:
    """The bytes that close the item ``stream`` ends inside (its last ``tail`` bytes): its head completed
    with zeros, zeros up to the length that head announces, then ``CLOSED`` — the row that tells a reader
    to skip the item before it. After them the stream goes on at an item boundary."""
    if tail == 0:
        return b""
    head = stream[len(stream) - tail :][:ITEM_HEAD].ljust(ITEM_HEAD, b"\0")
    return bytes(ITEM_HEAD + int.from_bytes(head[1:], "big") - tail) + encode_items([CLOSED])


# --- reading a restored stream ------------------------------------------------------------------------


@dataclass
class Restored:
    """What a backup stream holds: each epoch's record entries in stream order, the directory's rows (the
    newest of each member), and how many bytes at the end belong to an item the stream ends inside."""

    records: dict[int, list[RecordEntry]] = field(default_factory=dict)
    directory: dict[bytes, dict[str, object]] = field(default_factory=dict)
    truncated_tail: int = 0


def read_stream(stream: bytes, root_key: bytes) -> Restored:
    """The items of a restored stream; ``stream-item`` (docs §11.4) for an unknown kind, an oversize item,
    or a payload that is not what its kind says. An item the stream ends inside is left out and counted, and
    an item followed by ``CLOSED`` is skipped."""
    restored = Restored()
    raw: list[tuple[int, bytes]] = []
    at, end = 0, len(stream)
    while at < end:
        if end - at < ITEM_HEAD:
            restored.truncated_tail = end - at
            break
        kind, length = stream[at], int.from_bytes(stream[at + 1 : at + ITEM_HEAD], "big")
        if kind not in ITEM_KINDS or length > ITEM_MAX:
            raise VerificationError("stream-item", f"an item of unknown kind {kind} or {length} bytes")
        if end - at - ITEM_HEAD < length:
            restored.truncated_tail = end - at
            break
        item = (kind, stream[at + ITEM_HEAD : at + ITEM_HEAD + length])
        if item == CLOSED:
            if raw:
                raw.pop()  # the item a lost disk cut, closed with zeros by the restored node
        else:
            raw.append(item)
        at += ITEM_HEAD + length
    epoch_of: dict[bytes, int] = {}
    for kind, payload in raw:
        try:
            if kind == ITEM_RECORD:
                header, signature, body = codec.decode(payload, ITEM_LIMITS)
                entry = RecordEntry(header, signature, body)
                epoch = _epoch(entry.header.log_id, root_key, epoch_of)
                restored.records.setdefault(epoch, []).append(entry)
            else:
                row = codec.decode(payload, ITEM_LIMITS)
                if type(row) is not dict or set(row) != set(DIRECTORY_FIELDS):
                    raise DecodeError("a directory row has exactly member_id, name, contact and created_ms")
                restored.directory[row["member_id"]] = row
        except (DecodeError, ValueError, TypeError) as exc:
            raise VerificationError("stream-item", f"an item that is not a {_NAMES[kind]}: {exc}") from exc
    return restored


_NAMES = {ITEM_RECORD: "record entry", ITEM_DIRECTORY: "directory row"}


def _epoch(log_id: bytes, root_key: bytes, known: dict[bytes, int]) -> int:
    """The epoch whose record ``log_id`` is (of this council), else ``record-log``."""
    if log_id not in known:
        first = len(known)
        for epoch in range(first, min(first + 64, EPOCH_MAX + 1)):
            known[record_log_id(root_key, epoch)] = epoch
        if log_id not in known:
            raise VerificationError("record-log", "a backed-up entry belongs to another council's record")
    return known[log_id]
