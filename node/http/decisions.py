"""A council's decisions as the API serves them: summaries, the newest first, and verifiable bundles.

Shared by the public routes (public decisions, read from the public log) and the operator's (every decision,
read from the record). A bundle always proves the public twin of a decision; a decision is named by its
twin's id or by its record entry's id (which the twin's commitment makes public): a council-only decision
is never published, so it has no bundle.
"""

from __future__ import annotations

from typing import Any

from node.http.context import Node
from node.http.wire import not_found
from node.storage import logs
from protocol.bundle import Bundle, ProvenEntry, key_history
from protocol.entry import Entry
from protocol.note import parse_note
from protocol.record import COMMITMENT_KEY, RecordEntry


def decision_summary(entry: Entry) -> dict[str, Any]:
    """A decision of either log: a record entry (the operator's list) or a public twin, which names its
    record twin as ``record_id``."""
    body = entry.body()
    body.pop("salt", None)
    record_id = logs.record_twin_id(body)
    body.pop(COMMITMENT_KEY, None)
    summary = {
        "decision_id": entry.id,
        "seq": entry.seq,
        "ts_ms": entry.header.ts_ms,
        "vis": entry.header.vis,
        **{k: v for k, v in body.items() if k != "kind"},
    }
    if record_id is not None:
        summary["record_id"] = record_id
    return summary


def list_decisions(node: Node, limit: int, *, council: bool) -> list[Entry]:
    """The newest decisions: every one from the record (``council``), or the public log's."""
    log_id = node.writer.record_id if council else node.config.node_id
    rows = node.reader.execute(
        "SELECT header, signature, body FROM entries WHERE log_id = ? AND kind = 'decision' "
        "ORDER BY seq DESC LIMIT ?",
        (log_id, limit),
    )
    make = RecordEntry if council else Entry
    return [make(bytes(h), bytes(s), bytes(b)) for h, s, b in rows]


def find_twin(node: Node, decision_id: bytes) -> Entry | None:
    """The public decision named by its own id or by its record twin's, if the public log holds one."""
    store, log_id = node.store, node.config.node_id  # the public view: it cannot see the record
    located = store.locate_decision(decision_id)
    if located is not None and located[0] == log_id:
        return store.entry(log_id, located[1])
    # a record id: the twin carries it in its commitment, so its body bytes hold it
    rows = node.reader.execute(
        "SELECT seq FROM entries WHERE log_id = ? AND kind = 'decision' AND instr(body, ?) > 0",
        (log_id, decision_id),
    )
    for (seq,) in rows:
        entry = store.entry(log_id, seq)
        if entry is not None and logs.record_twin_id(entry.body()) == decision_id:
            return entry
    return None


BUNDLE_CACHE_MAX = 512  # bundles kept, newest use last; a few KB each


def build_bundle(node: Node, decision_id: bytes, *, council: bool) -> bytes:
    """The bundle of a decision at the newest checkpoint, with the key history of its signer.

    Built once per (decision, checkpoint): the bytes depend on nothing else, and building means a dozen
    queries and decoding the founding entry's whole charter. A cached bundle is served only while the
    log's version (``Writer.log_version``: appends, cosignatures) is the one it was built at, and still
    only to a caller who may see it.
    """
    version = node.writer.log_version
    cached = node.bundles.get(decision_id)
    if cached is not None and cached[0] == version:
        if cached[1] != "public" and not council:
            raise not_found("no such public decision")  # the same answer as an uncached miss
        node.bundles.move_to_end(decision_id)
        return cached[2]
    _, vis, data = _build_bundle(node, decision_id, council=council)
    node.bundles[decision_id] = (version, vis, data)
    node.bundles.move_to_end(decision_id)
    while len(node.bundles) > BUNDLE_CACHE_MAX:
        node.bundles.popitem(last=False)
    return data


def _build_bundle(node: Node, decision_id: bytes, *, council: bool) -> tuple[str, str, bytes]:
    """(checkpoint note, visibility, bundle bytes) of a decision's public twin, read afresh from the public
    log. A council-only decision has no twin: the same answer as no decision at all, to anyone."""
    store = node.store
    log_id = node.config.node_id
    missing = "no such public decision" + (" (a council-only decision is never published)" if council else "")
    entry = find_twin(node, decision_id)
    if entry is None or entry.body().get("kind") != "decision":
        raise not_found(missing)
    head = store.head(log_id)
    if head is None or head.checkpoint is None:
        raise not_found(missing)
    root_id = entry.header.key_id

    def proven(e: Entry) -> ProvenEntry:
        return ProvenEntry(e, tuple(store.inclusion_proof(log_id, e.seq, head.size)))

    keys: list[ProvenEntry] = []
    if root_id != node.writer.key.public.id:
        rows = node.reader.execute(
            "SELECT header, signature, body FROM entries WHERE log_id = ? AND kind = 'log/key' ORDER BY seq",
            (log_id,),
        )
        keys = [proven(e) for e in key_history([Entry(bytes(h), bytes(s), bytes(b)) for h, s, b in rows])]
    parse_note(head.checkpoint)  # the stored note is well-formed, or this is a bug worth a 500
    founding = store.entry(log_id, 0)
    if founding is None:
        raise not_found("this log has no founding entry")
    data = Bundle(proven(entry), head.checkpoint, proven(founding), tuple(keys)).encode()
    return head.checkpoint, entry.header.vis, data
