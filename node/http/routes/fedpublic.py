"""A federation body's public record of its proposals and of its councils' delegates (issue 15).

``GET /v1/federation/proposals`` lists the federation-wide proposals, newest first, a page at a time (older
pages by the cursor ``before``);
``GET /v1/federation/proposals/{proposal_id}`` gives one with every council's answer — the decision in the
council's public log and when this federation received it — who was not heard, and the signed result with
where to fetch its entry and proofs; ``GET /v1/federation/delegates`` lists each council's delegates as the
councils' public decisions made them. Public data only (docs/privacy.md): councils are named by their roster
profile, delegates by the decision and seat that mandated them, never a member; the operator's reasons and
tables stay on ``/v1/admin/…``. A council's node answers 404 ``wrong-kind-of-node``.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from aiohttp import web

from federation.aggregate import Aggregate
from federation.store import LogStore
from node.http.context import Node
from node.http.params import id_param, int_param
from node.http.routes.federation import federation_body
from node.http.wire import not_found, respond
from node.rules import fedbody
from node.rules.fedbody.tally import Answer
from node.storage import logs, queries
from protocol import codec

routes = web.RouteTableDef()
PAGE_DEFAULT = 20  # proposals in a page when ``limit`` is not given


def setup(app: web.Application) -> None:
    app.add_routes(routes)


def _councils(summary: dict[str, Any]) -> dict[bytes, dict[str, Any]]:
    """Every council and member federation the aggregate knows, by log id, as its summary gives them (the
    roster's word on name and place where it has one); a continent's include its country federations'
    councils."""
    out = {
        c["log_id"]: c
        for countries in summary["continents"].values()
        for councils in countries.values()
        for c in councils
    }
    out.update({c["log_id"]: c for c in summary["suspended"]})
    out.update({f["log_id"]: f for f in summary["federations"]})
    return out


async def _known(node: Node) -> dict[bytes, dict[str, Any]]:
    """Who is who, for naming councils in answers: the aggregate's councils and this roster's members
    (with the address of their node, which their public admission states)."""
    aggregate = node.aggregate
    assert aggregate is not None  # a federation body's node (federation_body)
    summary = await node.reads.run(lambda _: aggregate.summary())
    known = {
        k: {"name": v["name"], "name_fa": v["name_fa"], "url": ""} for k, v in _councils(summary).items()
    }
    for m in node.federation().roster.values():
        known[m.member] = {"name": m.name, "name_fa": m.name_fa, "url": m.url}
    return known


def _named(council: bytes, known: dict[bytes, dict[str, Any]]) -> dict[str, Any]:
    who = known.get(council, {})
    return {"council": council, "name": who.get("name"), "name_fa": who.get("name_fa")}


def _answer(answer: Answer, known: dict[bytes, dict[str, Any]]) -> dict[str, Any]:
    """A council's answer, with the address of its decision page where the council's node is known: its
    bundle is served there (``GET /v1/decisions/{id}/bundle``) and verified in the browser."""
    url = known.get(answer.council, {}).get("url") or ""
    verify = f"{url.rstrip('/')}/decision?id={codec.b64u(answer.decision)}" if url else None
    return {
        **_named(answer.council, known),
        "decision": answer.decision,
        "seq": answer.seq,
        "ts_ms": answer.ts_ms,
        "received_ms": answer.received_ms,
        "outcome": answer.outcome,
        "participants": answer.participants,
        "verify_url": verify,
    }


def _summary(state: fedbody.Federation, proposal: fedbody.Proposal) -> dict[str, Any]:
    result = state.result_of(proposal.id)
    return {
        "proposal_id": proposal.id,
        "seq": proposal.seq,
        "ts_ms": proposal.ts_ms,
        "text_fa": proposal.text_fa,
        "text_en": proposal.text_en,
        "deadline_ms": proposal.deadline_ms,
        "grace_ms": proposal.grace_ms,
        "rule": proposal.rule,
        "action": None
        if proposal.action is None
        else {"kind": proposal.action[0], "member": proposal.action[1]},
        "executed": proposal.id in state.executed,
        "requested_by": [{"council": c, "decision": d} for c, d in proposal.requested_by],
        "status": "closed" if result else "open",
        "result": None
        if result is None
        else {
            "result_id": result.id,  # its entry in the federation's record; published by a public twin
            "result": result.result,
            "totals": result.totals.to_body(),
            "ts_ms": result.ts_ms,
        },
    }


@routes.get("/v1/federation/proposals")
async def proposals(request: web.Request) -> web.Response:
    node = federation_body(request)
    limit = min(int_param(request, "limit", PAGE_DEFAULT, low=1), node.config.settings.federation_page_max)
    offset = int_param(request, "offset", 0)
    before = _before(request)
    state = node.federation()
    newest = sorted(state.proposals.values(), key=lambda p: p.seq, reverse=True)
    older = newest if before is None else [p for p in newest if p.seq < before]
    page = older[offset : offset + limit]
    more = len(older) > offset + limit
    return respond(
        request,
        {
            "federation": state.log_id,
            "total": len(newest),
            "proposals": [_summary(state, p) for p in page],
            # the cursor of the next older page: the `before` that continues where this page ends
            "next_before": page[-1].seq if more else None,
        },
    )


def _before(request: web.Request) -> int | None:
    """The cursor ``before``: a proposal's ``seq`` (as listed); only older proposals are served. A cursor
    stays put while proposals are published, where an offset would slide."""
    if "before" not in request.query:
        return None
    return int_param(request, "before")


@routes.get("/v1/federation/proposals/{proposal_id}")
async def proposal(request: web.Request) -> web.Response:
    """One proposal: closed, with its signed result and the answers it counted and refused; open, with the
    answers received so far (what a result would count is decided only when it closes)."""
    node = federation_body(request)
    pid = id_param(request, "proposal_id", "proposal")
    state = node.federation()
    chosen = state.proposals.get(pid)
    if chosen is None:
        raise not_found("this federation published no such proposal")
    known = await _known(node)
    out = _summary(state, chosen)
    result = state.result_of(pid)
    if result is None:
        held = await node.reads.run(queries.answers_held, node.config.node_id, pid)
        out["answers"] = [_answer(a, known) for a in sorted(held, key=lambda a: (a.arrived_ms, a.council))]
        return respond(request, out)
    fed = codec.b64u(state.log_id)
    seq, entry_id = await node.reads.run(_twin, state.log_id, result.id)
    out["answers"] = [_answer(a, known) for a in result.counted]
    out["refused"] = [_answer(r.answer, known) | {"reason": r.reason} for r in result.refused]
    out["result"] |= {
        "entry": {"log_id": state.log_id, "seq": seq, "entry_id": entry_id},
        # the signed entry, its inclusion in the federation's log and the checkpoint that log is signed at
        "verify": {
            "entry": f"/v1/logs/{fed}/entries?after_seq={seq - 1}&limit=1",
            "inclusion": f"/v1/logs/{fed}/proof/inclusion?index={seq}",
            "checkpoint": f"/v1/logs/{fed}/checkpoint",
        },
        "admitted": [_named(c, known) for c in result.body["admitted"]],
        "not_heard": [_named(c, known) for c in result.body.get("not_heard", [])],
        "through": [
            {**_named(t["federation"], known), "councils": t["councils"]}
            for t in result.body.get("through", [])
        ],
    }
    return respond(request, out)


def _twin(conn: sqlite3.Connection, log_id: bytes, record_entry: bytes) -> tuple[int, bytes]:
    """(seq, entry id) of the public entry publishing the record entry ``record_entry`` of our own log: a
    result is written to the record and published by its twin, the entry anyone can fetch and prove."""
    seq = logs.twin_seq(conn, log_id, record_entry)
    entry = None if seq is None else LogStore(conn).entry(log_id, seq)
    if seq is None or entry is None:  # every public record entry has its twin, in the same transaction
        raise not_found("the result's public entry is not held")
    return seq, entry.id


@routes.get("/v1/federation/delegates")
async def delegates(request: web.Request) -> web.Response:
    """Each council's delegates, by continent, country and name: the decision and seat of every running
    mandate (the decision names the delegate by the council's pseudonymous member id; this list does not)."""
    node = federation_body(request)
    aggregate = node.aggregate
    assert aggregate is not None
    summary, mandates = await node.reads.run(lambda _: (aggregate.summary(), Aggregate.delegates(aggregate)))
    out = []
    for continent, countries in summary["continents"].items():
        for country, councils in countries.items():
            for c in councils:
                out.append(
                    {
                        "council": c["log_id"],
                        "name": c["name"],
                        "name_fa": c["name_fa"],
                        "country": country,
                        "continent": continent,
                        "delegates": mandates.get(c["log_id"], []),
                    }
                )
    return respond(request, {"councils": out})


__all__ = ["routes", "setup"]
