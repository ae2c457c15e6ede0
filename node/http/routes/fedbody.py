"""A federation body's operator endpoints under ``/v1/admin/`` (signed; installed on federation nodes only).

The roster (applications, admit, suspend, readmit) and federation-wide proposals (publish, list, close).
Each handler turns JSON into one ``node.rules.fedbody`` command and answers once its entry is durable;
refusals by the roster and proposal rules come back as 422 with the rule's name (``node.http.middleware``).

Closing a proposal counts what the councils' own assemblies decided (resolution article 4): every public
``decision`` on a federation motion naming this proposal, in any council log this node holds. The logs were
verified when they were replicated; the tally itself is ``fedbody.tally``, judged again on apply.
"""

from __future__ import annotations

import datetime
from typing import Any

from aiohttp import web

from node.errors import ApplicationError
from node.http.context import Node, node_of
from node.http.params import by_prefix, text_field
from node.http.wire import ApiError, bad_request, read_json, respond
from node.rules import fedbody
from node.rules.fedbody import Admit, Federation, PublishProposal, PublishResult, Readmit, Suspend
from node.rules.fedbody.limits import MAX_GRACE_MS, MAX_REASON
from node.rules.fedbody.mandate import ACTIONS
from node.rules.fedbody.model import RosterMember
from node.rules.fedbody.tally import TALLY_RULES
from node.storage import applications, queries
from node.storage.clock import now_ms
from protocol import codec
from protocol.errors import DecodeError

routes = web.RouteTableDef()


def setup(app: web.Application) -> None:
    app.add_routes(routes)


def _state(node: Node) -> Federation:
    return node.federation()


def _reason(body: dict[str, Any]) -> str:
    reason = text_field(body, "reason", "")
    if len(reason) > MAX_REASON:
        raise bad_request("bad-field", f"a reason is at most {MAX_REASON} characters")
    return reason


def _held(node: Node, log_id: bytes) -> int:
    head = node.replication.replica.head(log_id)
    return head.size if head else 0


# --- applications and the roster -----------------------------------------------------------------


def application_json(a: applications.Application) -> dict[str, Any]:
    return {"key": a.key, "kind": a.kind, **a.profile(), "received_ms": a.received_ms, "status": a.status}


@routes.get("/v1/admin/applications")
async def list_applications(request: web.Request) -> web.Response:
    node = node_of(request)
    every = request.query.get("all") == "1"
    found = applications.everyone(node.reader) if every else applications.pending(node.reader)
    return respond(request, {"applications": [application_json(a) for a in found]})


def _direct(body: dict[str, Any]) -> tuple[bytes, applications.Kind, dict[str, str]]:
    """An admission without an application: the member's full key and profile given in the request."""
    try:
        member = codec.unb64u(text_field(body, "member"), 32)
    except DecodeError as exc:
        raise bad_request("bad-field", "a direct admission gives the member's full 32-byte key") from exc
    try:
        kind, profile = applications.check_profile(body)
    except ApplicationError as exc:
        raise bad_request("bad-field", str(exc)) from exc
    return member, kind, profile


@routes.post("/v1/admin/roster/admit")
async def admit(request: web.Request) -> web.Response:
    """Admit an applicant (by key or unique key prefix) with the profile it applied with, or anyone named in
    full with an explicit profile (``name`` given); then replicate and witness its log as a peer."""
    node = node_of(request)
    body = await read_json(request)
    if "name" in body:
        member, kind, profile = _direct(body)
    else:
        known = [a.key for a in applications.everyone(node.reader)]
        member = by_prefix(body.get("member"), known, "application")
        found = applications.get(node.reader, member)
        assert found is not None  # listed just above, and applications are never deleted
        kind, profile = found.kind, found.profile()
    command = Admit(
        member,
        kind,
        profile["name"],
        profile["continent"],
        name_fa=profile["name_fa"],
        city=profile["city"],
        country=profile["country"],
        url=profile["url"],
        reason=_reason(body),
        by=_mandate(node, body),
    )
    appended = await node.writer.submit(command, applications.mark(member, "admitted"))
    peer = None
    if profile["url"]:
        try:
            peer = (await node.replication.add_peer(member, profile["url"])).url
        except ValueError as exc:  # admitted; the operator can still add the peer by hand
            peer = f"not added: {exc}"
    return respond(request, {"member": member, "entry_id": appended[0].id, "peer": peer})


def _mandate(node: Node, body: dict[str, Any]) -> bytes | None:
    """The adopted proposal a roster change executes (``by``, an id or unique prefix), if one is named; the
    rules refuse a change without one once the founders are in (``node.rules.fedbody.mandate``)."""
    if body.get("by") is None:
        return None
    return by_prefix(body["by"], list(_state(node).proposals), "proposal")


def _action(node: Node, body: dict[str, Any]) -> tuple[Any, bytes] | None:
    """A proposal's roster ``action`` {kind, member}: the member by key or unique prefix, among applicants
    and the roster."""
    action = body.get("action")
    if action is None:
        return None
    if not isinstance(action, dict) or action.get("kind") not in ACTIONS:
        raise bad_request("bad-field", f"action is {{kind: {' | '.join(ACTIONS)}, member: KEY}}")
    known = {a.key for a in applications.everyone(node.reader)} | set(_state(node).roster)
    return action["kind"], by_prefix(action.get("member"), sorted(known), "member")


def _member(node: Node, ref: object) -> bytes:
    return by_prefix(ref, list(_state(node).roster), "member")


@routes.post("/v1/admin/roster/suspend")
async def suspend(request: web.Request) -> web.Response:
    node = node_of(request)
    body = await read_json(request)
    member = _member(node, body.get("member"))
    size = _held(node, member)  # its entries from here on are not taken in while suspended
    appended = await node.writer.submit(Suspend(member, _reason(body), size, _mandate(node, body)))
    return respond(request, {"member": member, "entry_id": appended[0].id, "size": size})


@routes.post("/v1/admin/roster/readmit")
async def readmit(request: web.Request) -> web.Response:
    node = node_of(request)
    body = await read_json(request)
    member = _member(node, body.get("member"))
    appended = await node.writer.submit(Readmit(member, _reason(body), _mandate(node, body)))
    return respond(request, {"member": member, "entry_id": appended[0].id})


def member_json(node: Node, m: RosterMember) -> dict[str, Any]:
    return {
        "member": m.member,
        "kind": m.kind,
        "name": m.name,
        "name_fa": m.name_fa,
        "city": m.city,
        "country": m.country,
        "continent": m.continent,
        "url": m.url,
        "active": m.active,
        "held": _held(node, m.member),
        "events": [
            {"seq": e.seq, "entry_id": e.id, "ts_ms": e.ts_ms, "action": e.action, "reason": e.reason}
            | ({"size": e.size} if e.size is not None else {})
            for e in m.events
        ],
    }


@routes.get("/v1/admin/roster")
async def roster(request: web.Request) -> web.Response:
    node = node_of(request)
    state = _state(node)
    members = sorted(state.roster.values(), key=lambda m: (m.events[0].seq, m.member))
    return respond(request, {"federation": state.log_id, "members": [member_json(node, m) for m in members]})


# --- proposals -----------------------------------------------------------------------------------


def parse_deadline(value: object) -> int:
    """Milliseconds since the epoch, given as such or as an ISO 8601 time with its zone (``Z`` for UTC)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            when = datetime.datetime.fromisoformat(value.strip())
        except ValueError:
            when = None
        if when is not None and when.tzinfo is not None:
            return int(when.timestamp() * 1000)
    raise bad_request(
        "bad-deadline", "deadline is milliseconds since 1970 or an ISO 8601 time with its zone (…Z for UTC)"
    )


@routes.post("/v1/admin/proposals")
async def publish(request: web.Request) -> web.Response:
    node = node_of(request)
    body = await read_json(request)
    rule = text_field(body, "rule", "answering")
    if rule not in TALLY_RULES:
        raise bad_request("bad-field", f"rule is one of {', '.join(TALLY_RULES)}")
    grace_s = body.get("grace_s", node.config.settings.proposal_grace_s)
    if not isinstance(grace_s, int) or isinstance(grace_s, bool) or not 0 <= grace_s * 1000 <= MAX_GRACE_MS:
        raise bad_request("bad-field", f"grace_s is whole seconds, 0 to {MAX_GRACE_MS // 1000}")
    command = PublishProposal(
        text_fa=text_field(body, "text_fa"),
        text_en=text_field(body, "text_en"),
        deadline_ms=parse_deadline(body.get("deadline")),
        rule=rule,
        action=_action(node, body),
        grace_ms=grace_s * 1000,
        requested_by=await _requested_by(node, body.get("requested_by")),
    )
    appended = await node.writer.submit(command)
    out = {
        "proposal_id": appended[0].id,
        "federation": node.config.node_id,
        "deadline_ms": command.deadline_ms,
        "grace_ms": command.grace_ms,
    }
    return respond(request, out)


async def _requested_by(node: Node, value: object) -> tuple[tuple[bytes, bytes], ...]:
    """The councils' requests a proposal answers: decision ids (or unique prefixes) of adopted public request
    decisions naming this federation, in the councils' logs held here (``GET /v1/admin/proposals/requests``);
    the federation's rules then judge admission and single use (``node.rules.fedbody.requests``)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise bad_request("bad-field", "requested_by is a list of request decision ids")
    held = {r.decision: r for r in await node.reads.run(queries.requests_held, node.config.node_id)}
    out = []
    for ref in value:
        try:
            request = held[by_prefix(ref, list(held), "request")]
        except ApiError as exc:  # not found, or ambiguous: a rule of this route, nothing written
            raise ApiError(
                422, "proposal.request-unknown", f"no council's request {ref!r} held here"
            ) from exc
        if request.outcome != "adopted":
            raise ApiError(
                422, "proposal.request-not-adopted", f"the council's assembly did not adopt {ref!r}"
            )
        out.append((request.council, request.decision))
    return tuple(out)


def _used(node: Node) -> dict[tuple[bytes, bytes], bytes]:
    return {r: p.id for p in _state(node).proposals.values() for r in p.requested_by}


@routes.get("/v1/admin/proposals/requests")
async def requests(request: web.Request) -> web.Response:
    """Member councils' requests for a proposal (their assemblies' public request decisions), newest last."""
    node = node_of(request)
    state, names, used = _state(node), _names(node), _used(node)
    held = await node.reads.run(queries.requests_held, node.config.node_id)
    out = [
        {
            "council": r.council,
            "name": names.get(r.council),
            "admitted": r.council in state.roster and state.roster[r.council].active,
            "decision": r.decision,
            "seq": r.seq,
            "ts_ms": r.ts_ms,
            "outcome": r.outcome,
            "text": r.text,
            "published_as": used.get((r.council, r.decision)),
        }
        for r in sorted(held, key=lambda r: (r.ts_ms, r.council, r.seq))
    ]
    return respond(request, {"requests": out})


def _names(node: Node) -> dict[bytes, str]:
    """Council names for the operator's tables: the roster's, else an application's."""
    names = {a.key: a.name for a in applications.everyone(node.reader)}
    return names | {m.member: m.name for m in _state(node).roster.values()}


def proposal_json(node: Node, proposal: fedbody.Proposal, names: dict[bytes, str]) -> dict[str, Any]:
    result = _state(node).result_of(proposal.id)
    out: dict[str, Any] = {
        "proposal_id": proposal.id,
        "federation": proposal.federation,
        "ts_ms": proposal.ts_ms,
        "text_fa": proposal.text_fa,
        "text_en": proposal.text_en,
        "deadline_ms": proposal.deadline_ms,
        "rule": proposal.rule,
        "grace_ms": proposal.grace_ms,
        "action": None
        if proposal.action is None
        else {"kind": proposal.action[0], "member": proposal.action[1]},
        "executed": proposal.id in _state(node).executed,
        "requested_by": [
            {"council": c, "name": names.get(c), "decision": d} for c, d in proposal.requested_by
        ],
        "status": "closed" if result else "open",
        "result": None,
    }
    if result is not None:
        out["result"] = {
            "result_id": result.id,
            "ts_ms": result.ts_ms,
            "result": result.result,
            "totals": result.totals.to_body(),
            "admitted": result.body["admitted"],
            "counted": [a.to_body() | {"name": names.get(a.council)} for a in result.counted],
            "refused": [r.to_body() | {"name": names.get(r.answer.council)} for r in result.refused],
            "not_heard": [{"council": c, "name": names.get(c)} for c in result.body.get("not_heard", [])],
            "through": [
                {"federation": t["federation"], "name": names.get(t["federation"]), "councils": t["councils"]}
                for t in result.body.get("through", [])
            ],
        }
    return out


def _proposal(node: Node, ref: str) -> fedbody.Proposal:
    state = _state(node)
    return state.proposals[by_prefix(ref, list(state.proposals), "proposal")]


@routes.get("/v1/admin/proposals")
async def proposals(request: web.Request) -> web.Response:
    node = node_of(request)
    state, names = _state(node), _names(node)
    every = sorted(state.proposals.values(), key=lambda p: p.seq)
    return respond(request, {"proposals": [proposal_json(node, p, names) for p in every]})


@routes.get("/v1/admin/proposals/{proposal}")
async def proposal(request: web.Request) -> web.Response:
    node = node_of(request)
    chosen = _proposal(node, request.match_info["proposal"])
    return respond(request, proposal_json(node, chosen, _names(node)))


async def _closing(node: Node, chosen: fedbody.Proposal) -> tuple[dict[bytes, frozenset[bytes]], list[bytes]]:
    """(member federations with their councils at the deadline, councils and federations not heard from
    since the deadline) of a proposal with a grace past its deadline and open; else nothing to say."""
    state = _state(node)
    if chosen.grace_ms is None or state.result_of(chosen.id) is not None or now_ms() < chosen.deadline_ms:
        return {}, []  # no grace (published before issue 13), closed already, or too early: the rules answer
    deadline = chosen.deadline_ms
    # article 2: a continent counts the councils of the country federations it admitted
    members = state.admitted_at(deadline, kind="federation")
    through, unknown = await node.reads.run(queries.councils_through, members, deadline)
    admitted = state.admitted_at(deadline).union(*through.values())
    # on the writer's thread, after every report of a head already queued there (``Replication._heard``)
    unheard = await node.writer.run(queries.not_heard, node.writer.conn, admitted | members, deadline)
    return through, sorted(set(unheard) | set(unknown))


@routes.post("/v1/admin/proposals/{proposal}/close")
async def close(request: web.Request) -> web.Response:
    node = node_of(request)
    chosen = _proposal(node, request.match_info["proposal"])
    through, unheard = await _closing(node, chosen)
    if unheard and now_ms() < chosen.grace_ends_ms:
        names = _names(node)
        who = ", ".join(names.get(c) or codec.b64u(c)[:8] for c in unheard)
        ends = datetime.datetime.fromtimestamp(chosen.grace_ends_ms / 1000, datetime.UTC)
        raise ApiError(
            422,
            "result.not-heard",
            f"not heard from since the deadline: {who}; sync, or close after the grace ends at {ends}",
        )
    answers = await node.reads.run(queries.answers_held, node.config.node_id, chosen.id)
    await node.writer.submit(PublishResult(chosen.id, tuple(answers), tuple(unheard), tuple(through.items())))
    return respond(request, proposal_json(node, chosen, _names(node)))


__all__ = ["parse_deadline", "routes", "setup"]
