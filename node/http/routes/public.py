"""Public read endpoints (DESIGN.md §8): what anyone may fetch, with nothing a member would not publish.

Council-visibility bodies never appear here: entries are served with bodies of public entries only, and
only public decisions are listed or bundled.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from federation.replica.serve import refuse_frozen
from federation.store import LogStore, verified
from node import VERSION
from node.http.context import node_of
from node.http.decisions import build_bundle, decision_summary, list_decisions
from node.http.params import id_param, int_param
from node.http.wire import MSGPACK, bad_request, not_found, respond
from node.rules.council import Council
from protocol.entry import Entry
from protocol.errors import ProofError
from protocol.keys import PublicKey
from protocol.note import KeyKind, vkey, witness_name

routes = web.RouteTableDef()


def setup(app: web.Application) -> None:
    app.add_routes(routes)


def _head(store: LogStore, log_id: bytes) -> Any:
    """The log's head, to serve it: 404 if the node holds no such log, 409 ``log-frozen`` if it holds
    proof of a fork of it (a route serving the log would show one of its two histories as the only one)."""
    head = store.head(log_id)
    if head is None:
        raise not_found("this node holds no such log")
    refuse_frozen(store, log_id)
    return head


def checkpoint_value(head: Any) -> dict[str, Any]:
    return {"log_id": head.log_id, "size": head.size, "root": head.root, "note": head.checkpoint}


def entry_value(entry: Entry) -> dict[str, Any]:
    value: dict[str, Any] = {
        "seq": entry.seq,
        "id": entry.id,
        "header": entry.header_bytes,
        "signature": entry.signature,
    }
    if entry.body_bytes is not None:
        value["body"] = entry.body_bytes
    return value


@routes.get("/v1/node")
async def node_info(request: web.Request) -> web.Response:
    node = node_of(request)
    state = node.writer.state
    key = PublicKey(node.config.node_id)
    return respond(
        request,
        {
            "id": node.config.node_id,
            "kind": node.config.kind,
            "url": node.config.url,
            "profile": node.config.profile,
            "charter_hash": getattr(state, "charter_hash", None),  # councils only
            # the verifier key members pass to `shora verify --witness` to count this node's cosignatures
            "witness_key": vkey(witness_name(key), key, KeyKind.COSIGNATURE_V1),
            "software": f"shora {VERSION}",
        },
    )


@routes.get("/v1/logs")
async def logs(request: web.Request) -> web.Response:
    heads = node_of(request).store.heads()
    return respond(request, {"logs": [{**checkpoint_value(h), "frozen": h.frozen} for h in heads]})


@routes.get("/v1/logs/{log_id}/checkpoint")
async def checkpoint(request: web.Request) -> web.Response:
    head = _head(node_of(request).store, id_param(request, "log_id", "log"))
    if "text/plain" in request.headers.get("Accept", ""):
        return web.Response(text=head.checkpoint, content_type="text/plain")
    return respond(request, checkpoint_value(head))


@routes.get("/v1/logs/{log_id}/entries")
async def entries(request: web.Request) -> web.Response:
    node = node_of(request)
    log_id = id_param(request, "log_id", "log")
    head = _head(node.store, log_id)
    after = int_param(request, "after_seq", -1, low=-1)
    limit = min(
        int_param(request, "limit", node.config.settings.entries_page_max, low=1),
        node.config.settings.entries_page_max,
    )
    # only entries whose own signatures were checked (a peer's page is committed before: docs/gossip.md)
    checked = verified.verified_up_to(node.store.conn, log_id)
    if checked is not None:
        limit = min(limit, checked - after - 1)
    page = node.store.entries(log_id, after, limit) if limit > 0 else []
    return respond(
        request,
        {"log_id": log_id, "entries": [entry_value(e) for e in page], "checkpoint": checkpoint_value(head)},
    )


@routes.get("/v1/logs/{log_id}/proof/inclusion")
async def inclusion(request: web.Request) -> web.Response:
    store = node_of(request).store
    log_id = id_param(request, "log_id", "log")
    head = _head(store, log_id)
    index, size = int_param(request, "index"), int_param(request, "size", head.size, low=1)
    if size > head.size or index >= size:
        raise bad_request("bad-range", f"need index < size <= {head.size}")
    try:
        path = store.inclusion_proof(log_id, index, size)
    except ProofError as exc:
        raise bad_request("bad-range", exc.message) from exc
    return respond(request, {"leaf_index": index, "tree_size": size, "path": path})


@routes.get("/v1/logs/{log_id}/proof/consistency")
async def consistency(request: web.Request) -> web.Response:
    store = node_of(request).store
    log_id = id_param(request, "log_id", "log")
    head = _head(store, log_id)
    first, second = int_param(request, "first"), int_param(request, "second", head.size)
    if not first <= second <= head.size:
        raise bad_request("bad-range", f"need first <= second <= {head.size}")
    try:
        path = store.consistency_proof(log_id, first, second)
    except ProofError as exc:
        raise bad_request("bad-range", exc.message) from exc
    return respond(request, {"first": first, "second": second, "path": path})


@routes.get("/v1/decisions")
async def decisions(request: web.Request) -> web.Response:
    node = node_of(request)
    limit = min(int_param(request, "limit", 100, low=1), node.config.settings.decisions_page_max)
    found = await list_decisions(node, limit, council=False)
    return respond(request, {"decisions": [decision_summary(e) for e in found]})


@routes.get("/v1/decisions/{decision_id}/bundle")
async def bundle(request: web.Request) -> web.Response:
    data = await build_bundle(node_of(request), id_param(request, "decision_id", "decision"), council=False)
    return web.Response(body=data, content_type=MSGPACK)


def public_decision(state: Council, decision: bytes | None) -> bytes | None:
    """``decision`` if it is a public decision; a council-only one is never named here (DESIGN §6)."""
    found = state.decisions.get(decision) if decision is not None else None
    return decision if found is not None and found.visibility == "public" else None


def council_of(request: web.Request, what: str) -> Council:
    """The council's state, or 404 on a federation body, which has no ``what``."""
    node = node_of(request)
    if node.config.kind != "council":
        raise not_found(f"a federation body has no {what}")
    return node.council()


@routes.get("/v1/board")
async def board(request: web.Request) -> web.Response:
    state = council_of(request, "executive board")

    def published(decision: bytes | None) -> bool:
        return public_decision(state, decision) is not None

    # as the public log shows it (DESIGN.md §6): mandates created by public decisions and not ended by one
    # or by a board/resign or board/left entry; a council-only election is not published, so it does not
    # show here, and a council-only recall or removal shows only as the board/left that follows it (issue 13)
    shown = [m for m in state.mandates if published(m.decision)]
    ended = [m for m in shown if m.ended_public or published(m.ended_by)]
    sitting = [m for m in shown if m not in ended]
    seats = state.rules.board_seats
    return respond(
        request,
        {
            "seats": seats,
            "vacancies": max(0, seats - len(sitting)),
            "mandates": [{"member": m.member, "decision": m.decision, "seat": m.seat} for m in sitting],
            # each ended mandate with its cause: recall, removal, resignation or left (issue 13)
            "ended": [
                {
                    "member": m.member,
                    "decision": m.decision,
                    "seat": m.seat,
                    "cause": m.cause,
                    # the public entry that says so, never a council-only decision
                    "ended_by": m.ended_by if m.published_by is None else m.published_by,
                }
                for m in ended
            ],
        },
    )


@routes.get("/v1/charter")
async def charter(request: web.Request) -> web.Response:
    """The charter members endorse, as founded: Persian (authoritative) and English, and its hash."""
    state = council_of(request, "charter")
    if state.charter is None:
        raise not_found("this council is not founded yet")
    return respond(request, {**state.charter.to_body(), "hash": state.charter_hash})


@routes.get("/v1/rules")
async def rules(request: web.Request) -> web.Response:
    """The rules in force and their version (public: every public decision is taken under them)."""
    version, in_force = council_of(request, "council rules").rules_in_force()
    return respond(request, {"version": version, "rules": in_force.to_body()})


@routes.get("/v1/delegates")
async def delegates(request: web.Request) -> web.Response:
    """The council's delegates to its federation, each with the decision that mandated it (issue 13)."""
    node = node_of(request)
    if node.config.kind != "council":
        raise not_found("a federation body has no delegates of its own")
    state = node.council()
    # as the public log shows it, as the board: ended by a public decision or by a delegate/left entry
    public = {d.id for d in state.decisions.values() if d.visibility == "public"}
    sitting = [
        m for m in state.delegates if m.decision in public and m.ended_by not in public and not m.ended_public
    ]
    mandates = [{"member": m.member, "decision": m.decision, "seat": m.seat} for m in sitting]
    return respond(request, {"delegates": mandates})


@routes.get("/v1/rules/history")
async def rules_history(request: web.Request) -> web.Response:
    """Every version of the rules, oldest first, with what changed and the decision that made it."""
    state = council_of(request, "council rules")
    versions = [
        {
            "version": v.version,
            "rules": v.rules.to_body(),
            "changed": v.changed,
            "decision_id": public_decision(state, v.decision),
            "ts_ms": v.ts_ms,
        }
        for v in state.rules_versions()
    ]
    return respond(request, {"version": state.rules_version, "versions": versions})


__all__ = ["routes", "setup"]
