"""A node's two logs in its store: the record it keeps and the public log it publishes (DESIGN.md §3, §6;
docs/protocol.md §10).

The storage contract every room relies on:

- the **record** is a private log of the node's ``LogStore`` (``LogStore.create_private``: only a store made
  with ``private=True`` sees it), whose log id is ``record_id(root_key, epoch)`` — epoch 0 for a new node —
  and whose entries are ``RecordEntry``-s (the record's domain tag, every body salted). The governance
  state is the replay of ``record_entries``;
- the **public log** is the log whose id is ``public_id(root_key)``, the root key itself: it holds only the
  public twins of the record's public entries, each committing to the record's root right after its record
  twin, and it is all that peers, witnesses, federations and the public ever see.

Both are written by the writer in one transaction; ``publication`` is the pure function from the record to
the public log (replaying it rebuilds the public log byte for byte: Ed25519 signatures are deterministic).
A federation body's node splits the same way, through the same code: all its entries are public, so its
public log is its record entry for entry (same positions), without the salts.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from federation.store import CheckpointSigner, LogStore
from node.errors import ConfigError
from node.rules.council import Appended, Draft
from node.storage import epochs
from protocol import codec
from protocol.bundle import KEY_COUNT, KEY_KIND
from protocol.entry import SALT_SIZE, TS_TOLERANCE_MS, Entry, Unsigned
from protocol.keys import SIGNATURE_SIZE, SigningKey
from protocol.merkle import node_hash, root_from_leaves
from protocol.note import Checkpoint, log_origin, sign_checkpoint
from protocol.record import (
    COMMITMENT_KEY,
    GAP_KIND,
    Commitment,
    RecordEntry,
    prepare_record_entry,
    prepare_twin,
    record_log_id,
    sign_twin,
)

REPLAY_PAGE = 5000  # record entries read at a time while replaying


def public_id(root_key: bytes) -> bytes:
    """The public log's id: the node's root public key (rosters, replicas and bundles name it)."""
    return root_key


def record_id(root_key: bytes, epoch: int = 0) -> bytes:
    """The record's log id in ``epoch`` (``protocol.record.record_log_id``)."""
    return record_log_id(root_key, epoch)


def record_store(conn: sqlite3.Connection) -> LogStore:
    """A store that sees the record: the writer's, and the operator's reads of it. Never for serving peers
    or the public."""
    return LogStore(conn, private=True)


def record_epochs(store: LogStore, root_key: bytes) -> list[int]:
    """The epochs of the record held, oldest first (epoch 0 for a record not begun): a restore that loses
    the record's tail opens the next epoch with a ``record/gap`` entry (docs/protocol.md §10.5)."""
    return epochs.epochs(store, root_key) or [0]


def read_record(store: LogStore, log_id: bytes, after_seq: int = -1, limit: int = 1000) -> list[RecordEntry]:
    """Record entries of ``log_id`` with seq > ``after_seq``, bodies included, as stored (checked when
    appended). ``store`` must see private logs."""
    rows = store.rows(log_id, after_seq, limit, council_bodies=True)
    return [RecordEntry.stored(*row) for row in rows]  # type: ignore[misc]


def record_entries(store: LogStore, root_key: bytes) -> Iterator[RecordEntry]:
    """The record's entries in replay order (``epochs.replay_order``: each epoch's kept entries, then the
    newest epoch from its gap). This is the one seam through which the governance state is replayed."""
    return epochs.replay_order(store, root_key)


def machine_body(vis: str, body: dict[str, Any]) -> dict[str, Any]:
    """A record body as the state machines read it: a public body without the salt every record body
    carries (the shape a public entry has always had), a council body with it."""
    if vis == "public":
        body = {k: v for k, v in body.items() if k not in ("salt", KEY_COUNT)}
    return body


def replayed(entry: RecordEntry, position: int | None = None) -> Appended:
    """A record entry as the governance machine folds it, at ``position`` in the machine's sequence (its
    record seq when the record has one epoch: see ``governed``)."""
    header = entry.header
    seq = entry.seq if position is None else position
    return Appended(seq, entry.id, header.ts_ms, header.vis, machine_body(header.vis, entry.body()))


def governed(store: LogStore, root_key: bytes) -> Iterator[Appended]:
    """What the governance machine replays: the record's entries in replay order without the restores'
    ``record/gap`` entries (storage bookkeeping, not acts of the council), numbered 0, 1, 2, … across
    epochs. In epoch 0 that number is the record seq; in a later epoch it is seq + ``epoch_delta``."""
    position = 0
    for entry in record_entries(store, root_key):
        if entry.body().get("kind") == GAP_KIND:
            continue
        yield replayed(entry, position)
        position += 1


def epoch_delta(store: LogStore, root_key: bytes, epoch: int) -> int:
    """What to add to a record seq of ``epoch`` to get its position in the machine's sequence: the entries
    governance replays before that epoch, less the epoch's own gap at seq 0 (none for epoch 0)."""
    if epoch == 0:
        return 0
    before = 0
    for held in range(1, epoch + 1):
        gap = next(epochs.entries_of(store, root_key, held, 1), None)
        kept = gap.body().get("kept") if gap is not None else None
        if type(kept) is not int:
            raise ConfigError(f"the record's epoch {held} does not begin with its gap")
        before += kept - (1 if held > 1 else 0)  # a later epoch's kept entries include its own gap
    return before - 1


def governance_view(entry: Entry) -> Appended:
    """A public entry of another node's public log as its state machine folds it: named by the id of its
    record twin (what that node's own bodies name, e.g. a proposal or a motion) and without the
    commitment. A public entry without a commitment (a log written before the split) is taken as it is."""
    body = entry.body()
    body.pop(KEY_COUNT, None)  # how long the key history before it is: for bundles, not for the rules
    commitment = body.pop(COMMITMENT_KEY, None)
    entry_id = entry.id if commitment is None else Commitment.from_body(commitment).entry
    return Appended(entry.seq, entry_id, entry.header.ts_ms, entry.header.vis, body)


def twin_seq(conn: sqlite3.Connection, public_log: bytes, record_entry: bytes) -> int | None:
    """The position in ``public_log`` of the twin publishing the record entry ``record_entry``, if held: the
    twin carries that id in its commitment, so its body bytes hold it."""
    rows = conn.execute(
        "SELECT seq, body FROM entries WHERE log_id = ? AND body IS NOT NULL AND instr(body, ?) > 0",
        (public_log, record_entry),
    )
    for seq, body in rows:
        value = codec.decode(bytes(body))  # stored canonical: checked when it was appended
        if isinstance(value, dict) and record_twin_id(value) == record_entry:
            return int(seq)
    return None


def record_twin_id(body: dict[str, Any]) -> bytes | None:
    """The id of the record entry a public body publishes, if it names one."""
    commitment = body.get(COMMITMENT_KEY)
    if not isinstance(commitment, dict) or not isinstance(commitment.get("entry"), bytes):
        return None
    entry: bytes = commitment["entry"]
    return entry


class Frontier:
    """The record's Merkle tree as its right edge (the roots of its complete subtrees, largest first): enough
    to append an id and give the root after it, in O(log n) hashes and memory."""

    __slots__ = ("peaks", "size")

    def __init__(self, size: int = 0, peaks: Iterable[tuple[int, bytes]] = ()) -> None:
        self.size = size
        self.peaks = list(peaks)

    @classmethod
    def of(cls, store: LogStore, log_id: bytes, size: int) -> Frontier:
        """The frontier of the first ``size`` entries of a stored log."""
        nodes = store.nodes(log_id) if size else None
        peaks, start = [], 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                assert nodes is not None
                peaks.append((level, nodes.node(level, start >> level)))
                start += 1 << level
        return cls(size, peaks)

    def copy(self) -> Frontier:
        return Frontier(self.size, self.peaks)

    def append(self, leaf: bytes) -> None:
        """Add an entry id (already a leaf hash, docs/protocol.md §4.3)."""
        level, digest = 0, leaf
        while self.peaks and self.peaks[-1][0] == level:
            digest = node_hash(self.peaks.pop()[1], digest)
            level += 1
        self.peaks.append((level, digest))
        self.size += 1

    def root(self) -> bytes:
        if not self.peaks:
            return root_from_leaves([])
        digest = self.peaks[-1][1]
        for _, left in reversed(self.peaks[:-1]):
            digest = node_hash(left, digest)
        return digest


Last = Entry | Unsigned | None


@dataclass
class Laid:
    """One command's entries laid out: its record entries with the bodies the machine folds, and every
    entry to sign (record entries and their twins, each twin right after its record twin)."""

    record: list[tuple[Unsigned, dict[str, Any]]] = field(default_factory=list)
    unsigned: list[Unsigned] = field(default_factory=list)


@dataclass
class Cursor:
    """Where both logs end: the next record entry and the next public twin follow these."""

    root_key: bytes
    last_record: Last
    last_public: Last
    frontier: Frontier
    epoch: int = 0
    delta: int = 0  # record seq + delta = the entry's position in the governance machine's sequence
    key_entries: int = 0  # log/key entries the public log holds: what a delegated key's public entry states

    def lay_out(self, key: SigningKey, drafts: list[Draft], ts_ms: int) -> tuple[Laid, Cursor]:
        """``drafts`` as the record entries after this cursor, each public one followed by its twin; and
        the cursor after them. Pure but for the salts; this cursor is not changed.

        A record entry is dated no earlier than the one before it, nor than the public log's last entry: so
        every twin (dated as its record twin, docs/protocol.md §10.3) follows the public log's previous entry
        in time, well within the 5 s a follower may lag (§4.5)."""
        laid = Laid()
        last_record, last_public, frontier = self.last_record, self.last_public, self.frontier.copy()
        delegated, key_entries = key.public.raw != self.root_key, self.key_entries
        for draft in drafts:
            body = {**draft.body, "salt": os.urandom(SALT_SIZE)}
            if delegated and draft.vis == "public":
                # a bundle proves a delegated key by the key history before the entry: the entry states how
                # long it is, so none of it can be left out (docs/protocol.md §4.4, §8)
                body[KEY_COUNT] = key_entries
            if draft.vis == "public" and draft.body.get("kind") == KEY_KIND:
                key_entries += 1
            ts = max([ts_ms, *(e.header.ts_ms for e in (last_record, last_public) if e is not None)])
            record = prepare_record_entry(
                key.public.id,
                root_key=self.root_key,
                epoch=self.epoch,
                seq=last_record.seq + 1 if last_record else 0,
                prev=last_record.id if last_record else None,
                ts_ms=ts,
                vis=draft.vis,
                body=body,
            )
            frontier.append(record.id)
            laid.record.append((record, machine_body(draft.vis, body)))
            laid.unsigned.append(record)
            last_record = record
            if draft.vis == "public":
                twin = self.twin(key, record, frontier.root(), last_public)
                laid.unsigned.append(twin)
                last_public = twin
        return laid, Cursor(
            self.root_key, last_record, last_public, frontier, self.epoch, self.delta, key_entries
        )

    def twin(self, key: SigningKey, record: Unsigned, root: bytes, last_public: Last) -> Unsigned:
        """The public twin of ``record`` (unsigned: its body and header need the record entry's header and
        body only, never its signature), after ``last_public``."""
        if last_public is not None and record.header.ts_ms + TS_TOLERANCE_MS < last_public.header.ts_ms:
            raise ValueError("a public twin may not be dated before the public log's last entry")
        unsigned_record = record.signed(bytes(SIGNATURE_SIZE))  # the twin reads no signature
        assert isinstance(unsigned_record, RecordEntry)
        return prepare_twin(
            unsigned_record,
            root,
            root_key=self.root_key,
            epoch=self.epoch,
            key_id=key.public.id,
            seq=last_public.seq + 1 if last_public else 0,
            prev=last_public.id if last_public else None,
        )


def cursor_of(store: LogStore, root_key: bytes) -> Cursor:
    """The cursor after what ``store`` (which sees private logs) holds of both logs."""
    epoch = record_epochs(store, root_key)[-1]
    log_id = record_id(root_key, epoch)
    record_head, public_head = store.head(log_id), store.head(public_id(root_key))
    size = record_head.size if record_head else 0
    return Cursor(
        root_key,
        store.signed_header(log_id, size - 1) if size else None,
        store.signed_header(public_id(root_key), public_head.size - 1)
        if public_head and public_head.size
        else None,
        Frontier.of(store, log_id, size),
        epoch,
        epoch_delta(store, root_key, epoch),
        key_entries_of(store.conn, public_id(root_key)),
    )


def key_entries_of(conn: sqlite3.Connection, public_log: bytes) -> int:
    """How many ``log/key`` entries ``public_log`` holds."""
    sql = "SELECT count(*) FROM entries WHERE log_id = ? AND kind = ?"
    return int(conn.execute(sql, (public_log, KEY_KIND)).fetchone()[0])


def sign_entries(key: SigningKey, unsigned: list[Unsigned]) -> list[Entry]:
    """Sign entries of either log, each in its own log's domain."""
    return [u.signed(key.sign(u.entry_type.DOMAIN, u.header_bytes)) for u in unsigned]


def split(entries: Iterable[Entry]) -> tuple[list[Entry], list[Entry]]:
    """Signed entries of one batch as (record entries, public twins), each in order."""
    record: list[Entry] = []
    public: list[Entry] = []
    for entry in entries:
        (record if isinstance(entry, RecordEntry) else public).append(entry)
    return record, public


def checkpoint_signer(key: SigningKey, log_id: bytes) -> CheckpointSigner:
    """Signs the checkpoint of ``log_id`` (either log of ``key``'s node) after an append."""
    origin = log_origin(log_id)
    return lambda size, root: sign_checkpoint(key, Checkpoint(origin, size, root))


def append_both(store: LogStore, key: SigningKey, entries: list[Entry], epoch: int = 0) -> None:
    """Append a batch's signed entries to both logs, in the caller's transaction: the record (created
    private if new) and its public twins, each with its checkpoint."""
    root_key = key.public.raw
    record, public = split(entries)
    log_id = record_id(root_key, epoch)
    store.create_private(log_id)
    appender = store.appender(log_id)
    appender.add(record)
    appender.finish(checkpoint_signer(key, log_id))
    if public:
        appender = store.appender(public_id(root_key))
        appender.add(public)
        appender.finish(checkpoint_signer(key, public_id(root_key)))


def refuse_single_log(conn: sqlite3.Connection, root_key: bytes) -> None:
    """Refuse a data folder made by shora 0.3, whose one log held the council's whole life: its council
    headers were published, and its peers hold that log under the council's key, so no public log can take
    its place without forking it. Checked before any migration touches the file."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'logs'").fetchone():
        return
    held = {
        bytes(r[0])
        for r in conn.execute(
            "SELECT log_id FROM logs WHERE log_id IN (?, ?)", (public_id(root_key), record_id(root_key))
        )
    }
    if public_id(root_key) in held and record_id(root_key) not in held:
        raise ConfigError(
            "this data folder was made by shora 0.3, which kept one log and published its council-only "
            "headers; shora 0.4 keeps a private record and a public log, and that log cannot become the "
            "public log without forking what peers hold. Keep serving it with shora 0.3, or start the "
            "council afresh with `shora init` (a new key) and apply to its federation again — see the "
            "README's changelog for 0.4.0"
        )


def publication(key: SigningKey, record: Iterable[RecordEntry], epoch: int = 0) -> list[Entry]:
    """The public log a record publishes, rebuilt from the record alone: the pure function the writer
    applies entry by entry. Byte-identical to what the writer wrote (``sign_twin`` is deterministic)."""
    root_key = key.public.raw
    frontier = Frontier()
    public: list[Entry] = []
    for entry in record:
        frontier.append(entry.id)
        if entry.header.vis != "public":
            continue
        last = public[-1] if public else None
        public.append(
            sign_twin(
                key,
                entry,
                frontier.root(),
                root_key=root_key,
                epoch=epoch,
                seq=last.seq + 1 if last else 0,
                prev=last.id if last else None,
            )
        )
    return public


__all__ = [
    "Cursor",
    "Frontier",
    "Laid",
    "append_both",
    "checkpoint_signer",
    "cursor_of",
    "governance_view",
    "public_id",
    "publication",
    "read_record",
    "record_entries",
    "record_id",
    "record_store",
    "record_twin_id",
    "replayed",
    "sign_entries",
]
