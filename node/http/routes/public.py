"""Public read endpoints (DESIGN.md §8): what anyone may fetch, with nothing a member would not publish.

Council-visibility bodies never appear here: entries are served with bodies of public entries only, and
only public decisions are listed or bundled.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from federation.store import LogStore
from node.http.context import VERSION, Node, node_of
from node.http.wire import ApiError, bad_request, not_found, respond
from protocol import codec
from protocol.bundle import Bundle, ProvenEntry, key_history
from protocol.entry import Entry
from protocol.errors import DecodeError, ProofError
from protocol.keys import PublicKey
from protocol.note import KeyKind, parse_note, vkey, witness_name

routes = web.RouteTableDef()


def setup(app: web.Application) -> None:
    app.add_routes(routes)


def _int_param(request: web.Request, name: str, default: int | None = None, low: int = 0) -> int:
    raw = request.query.get(name)
    if raw is None:
        if default is None:
            raise bad_request("missing-parameter", f"query parameter {name} is required")
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise bad_request("bad-parameter", f"{name} must be an integer") from exc
    if value < low or value > 2**63 - 1:
        raise bad_request("bad-parameter", f"{name} must be at least {low}")
    return value


def _log_id(request: web.Request) -> bytes:
    try:
        return codec.unb64u(request.match_info["log_id"], 32)
    except DecodeError as exc:
        raise bad_request("bad-log-id", "a log id is 32 bytes in base64url") from exc


def _head(store: LogStore, log_id: bytes) -> Any:
    head = store.head(log_id)
    if head is None:
        raise not_found("this node holds no such log")
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
    head = _head(node_of(request).store, _log_id(request))
    if "text/plain" in request.headers.get("Accept", ""):
        return web.Response(text=head.checkpoint, content_type="text/plain")
    return respond(request, checkpoint_value(head))


@routes.get("/v1/logs/{log_id}/entries")
async def entries(request: web.Request) -> web.Response:
    node = node_of(request)
    log_id = _log_id(request)
    head = _head(node.store, log_id)
    after = _int_param(request, "after_seq", -1, low=-1)
    limit = min(
        _int_param(request, "limit", node.config.settings.entries_page_max, low=1),
        node.config.settings.entries_page_max,
    )
    page = node.store.entries(log_id, after, limit)
    return respond(
        request,
        {"log_id": log_id, "entries": [entry_value(e) for e in page], "checkpoint": checkpoint_value(head)},
    )


@routes.get("/v1/logs/{log_id}/proof/inclusion")
async def inclusion(request: web.Request) -> web.Response:
    store = node_of(request).store
    log_id = _log_id(request)
    head = _head(store, log_id)
    index, size = _int_param(request, "index"), _int_param(request, "size", head.size, low=1)
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
    log_id = _log_id(request)
    head = _head(store, log_id)
    first, second = _int_param(request, "first"), _int_param(request, "second", head.size)
    if not first <= second <= head.size:
        raise bad_request("bad-range", f"need first <= second <= {head.size}")
    try:
        path = store.consistency_proof(log_id, first, second)
    except ProofError as exc:
        raise bad_request("bad-range", exc.message) from exc
    return respond(request, {"first": first, "second": second, "path": path})


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


@routes.get("/v1/decisions")
async def decisions(request: web.Request) -> web.Response:
    node = node_of(request)
    limit = min(_int_param(request, "limit", 100, low=1), node.config.settings.decisions_page_max)
    found = list_decisions(node, limit, council=False)
    return respond(request, {"decisions": [decision_summary(e) for e in found]})


def list_decisions(node: Node, limit: int, *, council: bool) -> list[Entry]:
    visibility = "" if council else "AND vis = 'public'"
    rows = node.reader.execute(
        f"SELECT header, signature, body FROM entries WHERE log_id = ? AND kind = 'decision' {visibility} "
        "ORDER BY seq DESC LIMIT ?",
        (node.config.node_id, limit),
    )
    return [Entry(bytes(h), bytes(s), bytes(b)) for h, s, b in rows]


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
    """(checkpoint note, visibility, bundle bytes) of a decision, read afresh from the log."""
    store = node.store
    log_id = node.config.node_id
    # one answer for every miss: a public caller must not learn that a council decision (or entry) exists
    missing = "no such decision" if council else "no such public decision"
    located = store.locate_decision(decision_id)
    if located is None or located[0] != log_id:
        raise not_found(missing)
    entry = store.entry(log_id, located[1])
    if entry is None or entry.body().get("kind") != "decision":
        raise not_found(missing)
    if entry.header.vis != "public" and not council:
        raise not_found(missing)
    head = _head(store, log_id)
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


def _decision_id(request: web.Request) -> bytes:
    try:
        return codec.unb64u(request.match_info["decision_id"], 32)
    except DecodeError as exc:
        raise bad_request("bad-decision-id", "a decision id is 32 bytes in base64url") from exc


@routes.get("/v1/decisions/{decision_id}/bundle")
async def bundle(request: web.Request) -> web.Response:
    data = build_bundle(node_of(request), _decision_id(request), council=False)
    return web.Response(body=data, content_type="application/msgpack")


@routes.get("/v1/board")
async def board(request: web.Request) -> web.Response:
    node = node_of(request)
    if node.config.kind != "council":
        raise not_found("a federation body has no executive board")
    state = node.writer.state
    view = state.board()
    return respond(
        request,
        {
            "seats": view.seats,
            "vacancies": view.vacancies,
            "mandates": [{"member": m.member, "decision": m.decision, "seat": m.seat} for m in view.sitting],
        },
    )


__all__ = ["ApiError", "build_bundle", "routes", "setup"]
