"""The record, for the operator and the council's members (signed requests only: ``/v1/admin/`` by the
operator's key, ``/v1/member/`` by an active member's): the council's whole log, council-only entries and
every body included (DESIGN.md §3). It is never served anywhere else — the public routes and gossip see the
public log only, and cannot tell the record exists.

    GET /v1/admin/record/checkpoint                     the record's newest checkpoint (same shape as a log's)
    GET /v1/admin/record/entries?after_seq=S&limit=N    its entries, bodies included (same shape as a log's)
    GET /v1/admin/record/log?after_seq=S&limit=N        the same entries read: kind, time, who issued each
                                                        (``issued_by``) and the body, salt left out
    GET /v1/member/record/…                             the same three, for a member (issue 12): assemblies,
                                                        rolls, motions, votes, minutes, reports, rules
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from federation.store import LogHead
from node.http.context import Node, node_of
from node.http.params import int_param
from node.http.routes.public import checkpoint_value, entry_value
from node.http.wire import not_found, respond
from node.storage import logs
from protocol.record import RecordEntry

routes = web.RouteTableDef()
WHO = ("admin", "member")


def setup(app: web.Application) -> None:
    app.add_routes(routes)


def _record_head(node: Node) -> LogHead:
    head = logs.record_store(node.reader).head(node.writer.record_id)
    if head is None:  # every node is created with its record: a data folder damaged by hand
        raise not_found("this node holds no record")
    return head


def _page(request: web.Request) -> tuple[LogHead, list[RecordEntry]]:
    node = node_of(request)
    head = _record_head(node)
    after = int_param(request, "after_seq", -1, low=-1)
    limit = min(
        int_param(request, "limit", node.config.settings.entries_page_max, low=1),
        node.config.settings.entries_page_max,
    )
    return head, logs.read_record(logs.record_store(node.reader), head.log_id, after, limit)


def readable(entry: RecordEntry) -> dict[str, Any]:
    """A record entry as a person reads it: what it is, when, who issued it, and what it says."""
    body = entry.body()
    body.pop("salt", None)
    return {
        "seq": entry.seq,
        "id": entry.id,
        "ts_ms": entry.header.ts_ms,
        "vis": entry.header.vis,
        "kind": body.pop("kind", None),
        "issued_by": body.pop("issued_by", None),
        "body": body,
    }


async def record_checkpoint(request: web.Request) -> web.Response:
    return respond(request, checkpoint_value(_record_head(node_of(request))))


async def record_entries(request: web.Request) -> web.Response:
    head, page = _page(request)
    return respond(
        request,
        {
            "log_id": head.log_id,
            "entries": [entry_value(e) for e in page],
            "checkpoint": checkpoint_value(head),
        },
    )


async def record_log(request: web.Request) -> web.Response:
    head, page = _page(request)
    return respond(
        request, {"log_id": head.log_id, "size": head.size, "entries": [readable(e) for e in page]}
    )


for who in WHO:
    routes.get(f"/v1/{who}/record/checkpoint")(record_checkpoint)
    routes.get(f"/v1/{who}/record/entries")(record_entries)
    routes.get(f"/v1/{who}/record/log")(record_log)


__all__ = ["readable", "routes", "setup"]
