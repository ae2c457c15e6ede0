"""Operator endpoints under ``/v1/admin/`` (signed by the operator key; checked by ``node.http.middleware``).

Each handler turns JSON into one governance command, hands it to the writer and answers once the entries
are durable. Members may be named by id, by a unique id prefix, or by their name in the private directory
— resolved here, on the node, so names never need to travel further than the operator's own CLI.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from aiohttp import web

from node.http.context import SIGNER, Node, node_of
from node.http.decisions import build_bundle, decision_summary, list_decisions
from node.http.params import by_prefix, text_field
from node.http.wire import MSGPACK, ApiError, bad_request, read_json, respond
from node.rules.council import (
    Attend,
    CastVote,
    Census,
    CloseAssembly,
    CloseMotion,
    Consent,
    Council,
    Depart,
    FileReport,
    Issued,
    Issuer,
    JoinMember,
    LeaveMember,
    OpenAssembly,
    ProposeMotion,
    Quorum,
    RuleError,
    Rules,
    readmission,
)
from node.rules.council.limits import ENTRY_ID_LEN
from node.rules.council.rules import impossible
from node.storage import directory, queries
from node.storage.clock import now_ms
from protocol import codec
from protocol.errors import DecodeError

routes = web.RouteTableDef()


def setup(app: web.Application) -> None:
    app.add_routes(routes)


def operator(request: web.Request) -> Issuer:
    """The operator, by the key that signed this request: what every entry it causes says issued it."""
    return Issuer("operator", request[SIGNER])


def resolve_member(conn: sqlite3.Connection, state: Council, ref: object) -> bytes:
    if isinstance(ref, str):
        named = directory.by_name(conn, ref)
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise ApiError(
                404, "unknown-member", f"several members are named {ref}; use the id (shora member list)"
            )
    return by_prefix(ref, list(state.members), "member")


async def refuse_removed(node: Node, name: str, contact: str) -> None:
    """A join may not take again the name or contact of a member the assembly removed, unless an adopted
    readmit motion readmitted them (issue 13): a removal is not undone by joining under a new id."""
    barred = readmission.barred(node.council())
    if await node.reads.run(directory.taken_by, barred, name, contact) is not None:
        raise ApiError(
            422,
            "member.removed",
            "this name or contact is a removed member's: the assembly readmits them first (a readmit motion)",
        )


def _assembly(state: Council, ref: object) -> bytes:
    if ref == "current" and state.open_assembly_id is not None:
        return state.open_assembly_id
    return by_prefix(ref, list(state.assemblies), "assembly")


def _motion(state: Council, ref: object) -> bytes:
    return by_prefix(ref, list(state.motions), "motion")


@routes.post("/v1/admin/members")
async def join(request: web.Request) -> web.Response:
    node = node_of(request)
    body = await read_json(request)
    name, contact = text_field(body, "name").strip(), text_field(body, "contact", "").strip()
    if not name or len(name) > directory.MAX_NAME or len(contact) > directory.MAX_CONTACT:
        raise bad_request(
            "bad-field",
            f"a name is 1-{directory.MAX_NAME} and a contact 0-{directory.MAX_CONTACT} characters",
        )
    key = None
    if body.get("key") is not None:
        try:
            key = codec.unb64u(text_field(body, "key"), 32)
        except DecodeError as exc:
            raise bad_request("bad-field", "key is a 32-byte Ed25519 key in base64url") from exc
    member = os.urandom(16)
    charter = node.council().charter_hash or b""
    if key is not None:
        raise bad_request(
            "member.key-unsigned",
            "a member's key is bound by the member's own signature: shora member invite, then the member "
            "runs shora member redeem",
        )
    await refuse_removed(node, name, contact)
    same_name = await node.reads.run(directory.by_name, name)
    await node.writer.submit(
        Issued(JoinMember(member, charter), operator(request)),
        directory.add(member, name, contact, now_ms()),
    )
    # a warning, not a refusal: two people may share a name, and the operator knows whether they are one
    return respond(request, {"member_id": member, "same_name": same_name})


@routes.get("/v1/admin/members")
async def members(request: web.Request) -> web.Response:
    node = node_of(request)
    people = await node.reads.run(directory.everyone)
    state = node.council()
    board = state.board_members()
    out = []
    for member in state.members.values():
        person = people.get(member.id)
        out.append(
            {
                "member_id": member.id,
                "name": person.name if person else None,
                "contact": person.contact if person else None,
                "active": member.active,
                "board": member.id in board,
                "ended_how": member.ended_how,
            }
        )
    return respond(request, {"members": out})


@routes.post("/v1/admin/members/leave")
async def leave(request: web.Request) -> web.Response:
    # the member is named in the body, never in the path: paths reach access logs, names must not
    node = node_of(request)
    body = await read_json(request)
    member = resolve_member(node.reader, node.council(), body.get("member"))
    appended = await node.writer.submit(Issued(LeaveMember(member), operator(request)))
    return respond(request, {"member_id": member, "entry_id": appended[0].id})


@routes.post("/v1/admin/assemblies")
async def open_assembly(request: web.Request) -> web.Response:
    node = node_of(request)
    body = await read_json(request)
    state = node.council()
    by = body.get("convened_by")
    convener = None if by is None else resolve_member(node.reader, state, by)
    appended = await node.writer.submit(
        Issued(OpenAssembly(convener, text_field(body, "agenda", "")), operator(request))
    )
    return respond(request, {"assembly_id": appended[0].id})


@routes.get("/v1/admin/assemblies")
async def assemblies(request: web.Request) -> web.Response:
    state = node_of(request).council()
    return respond(
        request,
        {
            "assemblies": [
                {
                    "assembly_id": a.id,
                    "open": a.is_open,
                    "agenda": a.agenda,
                    "present": len(a.roll),
                    "participants": len(a.attended),
                    "opened_ts_ms": a.opened_ts_ms,
                    # who convened it, on what ground (a member, when the board had not), and the date
                    # it fixed for the next assembly
                    "convened_by": a.convened_by,
                    "ground": a.ground,
                    "due_ms": a.due_ms,
                    "next_ms": a.next_ms,
                    "motions": [
                        {
                            "motion_id": m.id,
                            "kind": m.kind,
                            "text": m.text,
                            "status": m.status,
                            "votes": len(m.votes),
                            "decision_id": m.decision,
                        }
                        for m in state.motions_list(a.id)
                    ],
                }
                for a in state.assemblies.values()
            ]
        },
    )


@routes.post("/v1/admin/assemblies/{assembly}/attend")
async def attend(request: web.Request) -> web.Response:
    return await attend_by(request, operator(request))


async def attend_by(request: web.Request, issuer: Issuer) -> web.Response:
    """The roll call: members marked present in the room, by ``issuer`` (the operator, or a board member
    chairing from the console, ``node.http.routes.board``)."""
    node = node_of(request)
    body = await read_json(request)
    state = node.council()
    refs = body.get("members")
    if not isinstance(refs, list) or not refs:
        raise bad_request("bad-field", "members is a non-empty list")
    people = tuple(resolve_member(node.reader, state, r) for r in refs)
    assembly = _assembly(state, request.match_info["assembly"])
    await node.writer.submit(Issued(Attend(assembly, people), issuer))
    return respond(request, {"assembly_id": assembly, "present": len(node.council().roll())})


@routes.post("/v1/admin/assemblies/{assembly}/consent")
async def consent(request: web.Request) -> web.Response:
    """The secretary records, for a member who holds no key, their consent (said in the room) to stand as a
    candidate in this assembly's elections; a member with a key consents with their own signature."""
    node = node_of(request)
    body = await read_json(request)
    state = node.council()
    member = resolve_member(node.reader, state, body.get("member"))
    assembly = _assembly(state, request.match_info["assembly"])
    entry = (await node.writer.submit(Issued(Consent(assembly, member), operator(request))))[0].id
    return respond(request, {"assembly_id": assembly, "member_id": member, "entry_id": entry})


@routes.post("/v1/admin/assemblies/{assembly}/depart")
async def depart(request: web.Request) -> web.Response:
    return await depart_by(request, operator(request))


async def depart_by(request: web.Request, issuer: Issuer) -> web.Response:
    """A member leaves the sitting assembly, recorded by ``issuer`` (the operator or the chairing member)."""
    node = node_of(request)
    body = await read_json(request)
    state = node.council()
    member = resolve_member(node.reader, state, body.get("member"))
    assembly = _assembly(state, request.match_info["assembly"])
    await node.writer.submit(Issued(Depart(assembly, member), issuer))
    return respond(request, {"assembly_id": assembly, "present": len(node.council().roll())})


@routes.post("/v1/admin/assemblies/{assembly}/close")
async def close_assembly(request: web.Request) -> web.Response:
    return await close_assembly_by(request, operator(request))


async def close_assembly_by(request: web.Request, issuer: Issuer) -> web.Response:
    """The assembly closes, with its minutes and the date it fixed for the next, by ``issuer``."""
    node = node_of(request)
    body = await read_json(request)
    assembly = _assembly(node.council(), request.match_info["assembly"])
    minutes = body.get("minutes")
    if minutes is not None and not isinstance(minutes, str):
        raise bad_request("bad-field", "minutes must be text")
    next_ms = body.get("next_ms")  # the date the assembly fixed for the next one
    if next_ms is not None and (isinstance(next_ms, bool) or not isinstance(next_ms, int)):
        raise bad_request("bad-field", "next_ms is a time in milliseconds since the epoch")
    close = CloseAssembly(assembly, minutes or None, next_ms)
    appended = await node.writer.submit(Issued(close, issuer))
    return respond(request, {"assembly_id": assembly, "participants": appended[0].body.get("participants")})


RULE_FIELDS = {"majority", "quorum", "board_seats", "publish_tallies", "census_bucket", "signed_ballots"}
RULE_FIELDS |= {"requisition", "requisition_delay_days", "rules_majority", "quorum_cap"}


def _possible(quorum: Quorum, active: int, capped: bool) -> None:
    """A quorum the council could never meet locks it out of every decision, this one's repeal included."""
    why = impossible(quorum, active, capped)
    if why is not None:
        raise bad_request("impossible-rules", f"rules: {why}")


def _rules(value: object, current: Rules, active: int) -> Rules:
    """The proposed rules: the rules in force with only the fields named changed (issue 13: a rules motion
    never resets a rule it does not name)."""
    # strict types: int() and bool() would turn 2.5 into 2, "no" into True, and Infinity into a 500
    if not isinstance(value, dict):
        raise bad_request("bad-field", "rules is an object")
    unknown = set(value) - RULE_FIELDS
    if unknown:
        raise bad_request("bad-field", f"rules: unknown fields {', '.join(sorted(unknown))}")
    if not value:
        raise bad_request("bad-field", "rules: name at least one rule to change")
    for name in ("board_seats", "census_bucket", "requisition_delay_days"):
        number = value.get(name, 1)
        if isinstance(number, bool) or not isinstance(number, int):
            raise bad_request("bad-field", f"rules: {name} must be an integer")
    tallies = value.get("publish_tallies", current.publish_tallies)
    cap = value.get("quorum_cap", current.quorum_cap)
    for name, flag in (("publish_tallies", tallies), ("quorum_cap", cap)):
        if not isinstance(flag, bool):
            raise bad_request("bad-field", f"rules: {name} must be true or false")
    signed = value.get("signed_ballots", list(current.signed_ballots))
    if not isinstance(signed, list) or not all(isinstance(k, str) for k in signed):
        raise bad_request("bad-field", "rules: signed_ballots is a list of motion kinds")
    try:
        quorum = Quorum.from_body(value["quorum"]) if "quorum" in value else current.quorum
    except (TypeError, ValueError) as exc:
        raise bad_request("bad-field", f"rules: {exc}") from exc
    if quorum is not None:
        _possible(quorum, active, cap)
    share = value.get("requisition", list(current.requisition))
    if not isinstance(share, list) or len(share) != 2 or not all(type(x) is int for x in share):
        raise bad_request("bad-field", "rules: requisition is [num, den], a share of the active members")
    try:
        return Rules(
            majority=value.get("majority", current.majority),
            quorum=quorum,
            board_seats=value.get("board_seats", current.board_seats),
            publish_tallies=tallies,
            census_bucket=value.get("census_bucket", current.census_bucket),
            signed_ballots=tuple(sorted(set(signed))),  # each kind judged by Rules
            requisition=(share[0], share[1]),
            requisition_delay_days=value.get("requisition_delay_days", current.requisition_delay_days),
            rules_majority=value.get("rules_majority", current.rules_majority),
            quorum_cap=cap,
        )
    except (TypeError, ValueError) as exc:
        raise bad_request("bad-field", f"rules: {exc}") from exc


@routes.post("/v1/admin/motions")
async def propose(request: web.Request) -> web.Response:
    return await propose_by(request, operator(request))


async def propose_by(request: web.Request, issuer: Issuer) -> web.Response:
    """A motion put to the assembly by ``issuer`` (the operator or the chairing board member)."""
    node = node_of(request)
    body = await read_json(request)
    state = node.council()
    kind = text_field(body, "kind", "policy")
    seats = body.get("seats")
    if seats is not None and (isinstance(seats, bool) or not isinstance(seats, int)):
        raise bad_request("bad-field", "seats must be an integer")
    candidates = body.get("candidates") or []
    if not isinstance(candidates, list):
        raise bad_request("bad-field", "candidates is a list")
    target = body.get("target")
    proposal = None if body.get("proposal") is None else _federation_proposal(body["proposal"])
    text = text_field(body, "text")
    if not text.strip():
        raise bad_request("bad-field", "a motion says what is proposed: give it a text (--text)")
    command = ProposeMotion(
        assembly=_assembly(state, body.get("assembly", "current")),
        kind=kind,  # type: ignore[arg-type]  # judged by the governance rules
        text=text,
        visibility=text_field(body, "visibility", "public"),  # type: ignore[arg-type]
        proposer=None
        if body.get("proposer") is None
        else resolve_member(node.reader, state, body["proposer"]),
        seats=seats,
        candidates=tuple(resolve_member(node.reader, state, c) for c in candidates),
        target=None if target is None else resolve_member(node.reader, state, target),
        rules=None
        if body.get("rules") is None
        else _rules(body["rules"], state.rules, len(state.active_members())),
        proposal=proposal,
        federation=None if body.get("federation") is None else _federation_key(body["federation"]),
    )
    appended = await node.writer.submit(Issued(command, issuer))
    return respond(request, {"motion_id": appended[0].id})


def _federation_key(value: object) -> bytes:
    """A request motion's federation: its key (log id) in full, base64url."""
    try:
        return codec.unb64u(value if isinstance(value, str) else "", 32)
    except DecodeError as exc:
        raise bad_request("bad-field", "federation is the federation's key in full, base64url") from exc


def _federation_proposal(value: object) -> tuple[bytes, bytes]:
    """``FEDKEY:PROPOSALID`` (both in full, base64url): the federation-wide proposal a motion answers."""
    fed, _, pid = value.partition(":") if isinstance(value, str) else ("", "", "")
    try:
        return codec.unb64u(fed, 32), codec.unb64u(pid, ENTRY_ID_LEN)
    except DecodeError as exc:
        raise bad_request(
            "bad-field", "proposal is FEDERATION_KEY:PROPOSAL_ID, both in full base64url"
        ) from exc


@routes.get("/v1/admin/proposals")
async def proposals(request: web.Request) -> web.Response:
    """Open proposals of the federations whose logs this council holds, and whether it has taken them up."""
    node = node_of(request)
    state = node.council()
    taken = {m.proposal: m for m in state.motions.values() if m.proposal is not None}
    out: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    for fed, federation in await node.reads.run(queries.federations, node.config.node_id):
        if isinstance(federation, RuleError):  # a log its own rules refuse: say so, rather than hide it
            problems.append({"federation": fed, "error": federation.rule, "message": federation.message})
            continue
        name = federation.profile.name if federation.profile else ""
        for p in federation.open_proposals():
            motion = taken.get((fed, p.id))
            out.append(
                {
                    "proposal_id": p.id,
                    "federation": fed,
                    "federation_name": name,
                    "ref": f"{codec.b64u(fed)}:{codec.b64u(p.id)}",
                    "ts_ms": p.ts_ms,
                    "text_fa": p.text_fa,
                    "text_en": p.text_en,
                    "deadline_ms": p.deadline_ms,
                    "rule": p.rule,
                    "status": "open",
                    "answered": motion is not None,
                    "motion_id": motion.id if motion else None,
                    "decision_id": motion.decision if motion else None,
                }
            )
    return respond(request, {"proposals": out, "unreadable": problems})


@routes.post("/v1/admin/motions/{motion}/votes")
async def vote(request: web.Request) -> web.Response:
    return await vote_by(request, operator(request))


async def vote_by(request: web.Request, issuer: Issuer) -> web.Response:
    """A hand counted in the room, recorded by ``issuer`` (the rules refuse it where a member-signed ballot is
    required)."""
    node = node_of(request)
    body = await read_json(request)
    state = node.council()
    motion = _motion(state, request.match_info["motion"])
    member = resolve_member(node.reader, state, body.get("member"))
    approvals = body.get("approvals") or []
    if not isinstance(approvals, list):
        raise bad_request("bad-field", "approvals is a list")
    choice = body.get("choice")
    if choice is not None and not isinstance(choice, str):
        raise bad_request("bad-field", "choice is yes, no or abstain")
    if approvals and state.motions[motion].kind != "election":
        # `shora vote MOTION MEMBER yse`: a word that is not a choice, not a candidate (only elections have)
        said = " ".join(map(str, approvals))
        raise ApiError(422, "vote.bad-choice", f"the choice must be yes, no or abstain, not {said}")
    vote = CastVote(
        motion,
        member,
        choice,  # type: ignore[arg-type]  # judged by the governance rules
        tuple(resolve_member(node.reader, state, a) for a in approvals),
    )
    appended = await node.writer.submit(Issued(vote, issuer))
    return respond(request, {"motion_id": motion, "entry_id": appended[0].id})


@routes.post("/v1/admin/motions/{motion}/close")
async def close_motion(request: web.Request) -> web.Response:
    return await close_motion_by(request, operator(request))


async def close_motion_by(request: web.Request, issuer: Issuer) -> web.Response:
    """The vote closes and the decision is recorded, by ``issuer``."""
    node = node_of(request)
    motion = _motion(node.council(), request.match_info["motion"])
    appended = await node.writer.submit(Issued(CloseMotion(motion), issuer))
    decision = appended[0]
    # the decision and its tally; a tie for the last seat also opened a runoff motion (issue 13), and the end
    # of a public mandate a council-only decision ended was published (board/left, delegate/left: the
    # decision's ended and delegates_ended say which)
    runoff = [e.id for e in appended if e.body["kind"] == "motion/propose"]
    recorded = [e for e in appended if e.body["kind"] in ("decision", "decision/tally")]
    full = {k: v for e in recorded for k, v in e.body.items() if k not in ("kind", "salt")}
    if runoff:
        full["runoff_motion_id"] = runoff[0]
    return respond(request, {"decision_id": decision.id, **full})


@routes.post("/v1/admin/reports")
async def report(request: web.Request) -> web.Response:
    node = node_of(request)
    body = await read_json(request)
    member = resolve_member(node.reader, node.council(), body.get("member"))
    appended = await node.writer.submit(
        Issued(FileReport(member, text_field(body, "text")), operator(request))
    )
    return respond(request, {"report_id": appended[0].id})


@routes.post("/v1/admin/census")
async def census(request: web.Request) -> web.Response:
    """Publish how many members the council has (a count, rounded by the rules' census bucket)."""
    node = node_of(request)
    appended = await node.writer.submit(Issued(Census(), operator(request)))
    return respond(
        request, {"entry_id": appended[0].id, "active_members": appended[0].body["active_members"]}
    )


@routes.get("/v1/admin/decisions")
async def decisions(request: web.Request) -> web.Response:
    node = node_of(request)
    found = await list_decisions(node, node.config.settings.decisions_page_max, council=True)
    return respond(request, {"decisions": [decision_summary(e) for e in found]})


@routes.get("/v1/admin/decisions/{decision}/bundle")
async def bundle(request: web.Request) -> web.Response:
    node = node_of(request)
    decision = by_prefix(request.match_info["decision"], list(node.council().decisions), "decision")
    data = await build_bundle(node, decision, council=True)
    return web.Response(body=data, content_type=MSGPACK)


__all__ = ["RuleError", "routes", "setup"]
