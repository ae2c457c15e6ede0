"""A council's decisions as the API serves them: summaries, the newest first, and verifiable bundles.

Shared by the public routes (public decisions) and the operator's (every decision).
"""

from __future__ import annotations

from typing import Any

from node.http.context import Node
from node.http.wire import not_found
from node.storage import queries
from protocol.entry import Entry


def decision_summary(entry: Entry) -> dict[str, Any]:
    body = entry.body()
    body.pop("salt", None)
    return {
        "decision_id": entry.id,
        "seq": entry.seq,
        "ts_ms": entry.header.ts_ms,
        "vis": entry.header.vis,
        **{k: v for k, v in body.items() if k != "kind"},
    }


async def list_decisions(node: Node, limit: int, *, council: bool) -> list[Entry]:
    return await node.reads.run(queries.decisions, node.config.node_id, limit, council=council)


async def build_bundle(node: Node, decision_id: bytes, *, council: bool) -> bytes:
    """The bundle of a decision at the newest checkpoint, with the key history of its signer.

    Built once per (decision, checkpoint), off the event loop: the bytes depend on nothing else, and
    building means a dozen queries and decoding the founding entry's whole charter. A cached bundle is
    served only while the log's version (``Writer.log_version``: appends, cosignatures) is the one it was
    built at, and still only to a caller who may see it.
    """
    # one answer for every miss: a public caller must not learn that a council decision (or entry) exists
    missing = "no such decision" if council else "no such public decision"
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
