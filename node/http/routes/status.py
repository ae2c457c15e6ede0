"""``GET /v1/admin/status``: a node's health at a glance, for ``shora status`` (operator only).

Read from what the node already keeps — its log head, the newest checkpoint note, the peer table and
replication's view — so asking costs one query and no network call.
"""

from __future__ import annotations

import shutil
from typing import Any

from aiohttp import web

from node.backup import tables
from node.http.context import Node, node_of
from node.http.routes.sealed import BACKUPS
from node.http.wire import respond
from node.rules.council import Council
from node.storage.clock import now_ms
from node.words import plural
from protocol.codec import b64u
from protocol.note import log_origin, parse_note

routes = web.RouteTableDef()
STARTED: web.AppKey[int] = web.AppKey("started_ms", int)


def setup(app: web.Application) -> None:
    app[STARTED] = now_ms()
    app.add_routes(routes)


def peer_status(failures: int, backoff_until_ms: int, now: int) -> str:
    """ok, failing (still tried), or suspended (backing off: not tried until its time comes)."""
    if failures == 0:
        return "ok"
    return "suspended" if backoff_until_ms > now else "failing"


@routes.get("/v1/admin/status")
async def status(request: web.Request) -> web.Response:
    node = node_of(request)
    now = now_ms()
    settings = node.config.settings
    head = node.store.head(node.config.node_id)
    size = head.size if head else 0
    checkpoint_size = (head.checkpoint_size or 0) if head else 0
    warnings: list[str] = []
    cosignatures, age = 0, None
    if head is not None and head.checkpoint is not None:
        origin = log_origin(node.config.node_id)
        cosignatures = sum(1 for s in parse_note(head.checkpoint).signatures if s.name != origin)
        last = node.store.entry(node.config.node_id, checkpoint_size - 1) if checkpoint_size else None
        age = (now - last.header.ts_ms) // 1000 if last else None
    if checkpoint_size < size:
        warnings.append(
            f"the newest checkpoint covers {checkpoint_size} of {plural(size, 'entry', 'entries')}"
        )
    peers: list[dict[str, Any]] = []
    for view in node.replication.view():
        p = view.peer
        state = peer_status(p.failures, p.backoff_until_ms, now)
        peers.append(
            {
                "node_id": p.node_id,
                "url": p.url,
                "status": state,
                "lag": view.lag,
                "last_contact_ms": p.last_contact_ms,
                "last_error": p.last_error,
                "forks": len(view.forks),
            }
        )
        if state != "ok":
            warnings.append(f"peer {_short(p.node_id)} is {state}: {p.last_error or 'no answer'}")
        if view.forks:
            warnings.append(f"peer {_short(p.node_id)} signed two different logs (a fork): it is frozen")
    if peers and not any(p["status"] == "ok" for p in peers):
        warnings.append("no peer is reachable: nothing is replicated or cosigned")
    if node.writer.blocked:
        warnings.append(f"appends are refused: {node.writer.blocked}")
    census_warning(node, warnings)
    backup = backup_status(node, request.app[BACKUPS].next_tick_ms, warnings)
    record = node.store.head(node.writer.record_id)  # council-only: its size is never public
    free_mib = shutil.disk_usage(node.config.dir).free // (1 << 20)
    if free_mib < settings.doctor_min_free_mib:
        warnings.append(f"only {free_mib} MiB of disk free")
    return respond(
        request,
        {
            "node_id": node.config.node_id,
            "kind": node.config.kind,
            "started_ms": request.app[STARTED],
            "now_ms": now,
            "log": {
                "size": size,
                "checkpoint_size": checkpoint_size,
                "checkpoint_age_s": age,
                "cosignatures": cosignatures,
            },
            "record": {"size": record.size if record else 0},
            "peers": peers,
            "backup": backup,
            "disk": {"free_mib": free_mib},
            "warnings": warnings,
        },
    )


def census_warning(node: Node, warnings: list[str]) -> None:
    """A council in a federation whose published member count is missing or out of date: its federation's
    summary shows ``?`` (or an old count) until the operator runs ``shora census``."""
    state = node.writer.state
    if not isinstance(state, Council) or node.config.federation is None:
        return
    count = state.rules.census(len(state.active_members()))
    if state.census is None:
        warnings.append(
            "no member count published yet: the federation's summary shows ? members for this council "
            "until you run `shora census`"
        )
    elif state.census.active_members != count:
        warnings.append(
            f"the member count published ({state.census.active_members}) is out of date ({count} now): "
            "run `shora census` so the federation's summary shows it"
        )


def backup_status(node: Node, next_tick_ms: int | None, warnings: list[str]) -> dict[str, Any] | None:
    """The sealed backup: segments sealed, the next tick, and per backup peer what it holds and what the
    last push did (None for a node that seals nothing — made before backups — and for a federation body
    without backup peers: `shora restore` brings back councils only).
    A last push that failed is a warning."""
    if next_tick_ms is None:
        return None
    listed = tables.backup_peers(node.reader)
    if node.config.kind == "federation" and not listed:  # `shora restore` brings back councils only
        return None
    sealed = tables.cursor(node.reader).next_index
    peers = []
    for p in listed:
        last = p.last_push
        peers.append(
            {
                "node_id": p.node_id,
                "url": p.url,
                "held": p.acked,
                "behind": sealed - p.acked,
                "last_push": last.to_json() if last is not None else None,
            }
        )
        if last is not None and last.failure is not None:
            warnings.append(f"backup peer {_short(p.node_id)}: the last push failed ({last.failure})")
    return {
        "sealed": sealed,
        "interval_s": node.config.settings.backup_interval_s,
        "next_tick_ms": next_tick_ms,
        "peers": peers,
    }


def _short(node_id: bytes) -> str:
    return b64u(node_id)[:10]
