"""A council's decisions as the API serves them: summaries, the newest first, and verifiable bundles.

Shared by the public routes (public decisions, read from the public log) and the operator's (every decision,
read from the record). A bundle always proves the public twin of a decision; a decision is named by its
twin's id or by its record entry's id (which the twin's commitment makes public): a council-only decision
is never published, so it has no bundle.
"""

from __future__ import annotations

from typing import Any

from federation.replica.serve import refuse_frozen
from node.http.context import Node
from node.http.wire import not_found
from node.storage import logs, queries
from protocol.entry import Entry
from protocol.record import COMMITMENT_KEY


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


async def list_decisions(node: Node, limit: int, *, council: bool) -> list[Entry]:
    """The newest decisions: every one from the record (``council``), or the public log's."""
    log_id = node.writer.record_id if council else node.config.node_id
    return await node.reads.run(queries.decisions, log_id, limit, record=council)


async def build_bundle(node: Node, decision_id: bytes, *, council: bool) -> bytes:
    """The bundle of a decision at the newest checkpoint, with the key history of its signer.

    Built once per (decision, checkpoint), off the event loop: the bytes depend on nothing else, and
    building means a dozen queries and decoding the founding entry's whole charter. A cached bundle is
    served only while the log's version (``Writer.log_version``: appends, cosignatures) is the one it was
    built at, and still only to a caller who may see it.
    """
    # one answer for every miss: a public caller must not learn that a council decision (or entry) exists
    # (a council-only decision has no public twin, so no bundle: the same answer as no decision at all)
    missing = "no such public decision" + (" (a council-only decision is never published)" if council else "")
    refuse_frozen(node.store, node.config.node_id)  # a bundle of a forked log proves nothing: 409 log-frozen
    version = node.writer.log_version  # read before building: a change meanwhile makes it stale, not wrong
    cached = node.bundles.get(decision_id)
    if cached is not None and cached[0] == version:
        if cached[1] != "public" and not council:
            raise not_found(missing)
        node.bundles.move_to_end(decision_id)
        return cached[2]
    root_id = node.writer.key.public.id
    found = await node.reads.run(
        queries.bundle, node.config.node_id, decision_id, council=council, root_id=root_id
    )
    if found is None:
        raise not_found(missing)
    vis, data = found
    node.bundles[decision_id] = (version, vis, data)
    node.bundles.move_to_end(decision_id)
    while len(node.bundles) > node.config.settings.bundle_cache_max:  # a few KB each
        node.bundles.popitem(last=False)
    return data
