"""The record, for the operator (signed requests only, like every ``/v1/admin/`` route): the council's whole
log, council-only entries and every body included (DESIGN.md §3). It is never served anywhere else — the
public routes and gossip see the public log only, and cannot tell the record exists.

    GET /v1/admin/record/checkpoint                     the record's newest checkpoint (same shape as a log's)
    GET /v1/admin/record/entries?after_seq=S&limit=N    its entries, bodies included (same shape as a log's)
"""

from __future__ import annotations

from aiohttp import web

from federation.store import LogHead
from node.http.context import Node, node_of
from node.http.params import int_param
from node.http.routes.public import checkpoint_value, entry_value
from node.http.wire import not_found, respond
from node.storage import logs

routes = web.RouteTableDef()


def setup(app: web.Application) -> None:
    app.add_routes(routes)


def _record_head(node: Node) -> LogHead:
    head = logs.record_store(node.reader).head(node.writer.record_id)
    if head is None:  # every node is created with its record: a data folder damaged by hand
        raise not_found("this node holds no record")
    return head


@routes.get("/v1/admin/record/checkpoint")
async def record_checkpoint(request: web.Request) -> web.Response:
    return respond(request, checkpoint_value(_record_head(node_of(request))))


@routes.get("/v1/admin/record/entries")
async def record_entries(request: web.Request) -> web.Response:
    node = node_of(request)
    head = _record_head(node)
    after = int_param(request, "after_seq", -1, low=-1)
    limit = min(
        int_param(request, "limit", node.config.settings.entries_page_max, low=1),
        node.config.settings.entries_page_max,
    )
    page = logs.read_record(logs.record_store(node.reader), head.log_id, after, limit)
    return respond(
        request,
        {
            "log_id": head.log_id,
            "entries": [entry_value(e) for e in page],
            "checkpoint": checkpoint_value(head),
        },
    )


__all__ = ["routes", "setup"]
