"""Operator endpoints under ``/v1/admin/`` for the membership, reports, the census and the decisions (signed
by the operator key; checked by ``node.http.middleware``), and what every operator route shares: who issued
an entry (``operator``) and which member a request names (``resolve_member``). The operator's routes for
assemblies are ``node.http.routes.assemblies``', for motions and votes ``node.http.routes.motions``'.

Each handler turns JSON into one governance command, hands it to the writer and answers once the entries
are durable. Members may be named by id, by a unique id prefix, or by their name in the private directory
— resolved here, on the node, so names never need to travel further than the operator's own CLI.
"""

from __future__ import annotations

import os
import sqlite3

from aiohttp import web

from node.http.context import SIGNER, Node, node_of
from node.http.decisions import build_bundle, decision_summary, list_decisions
from node.http.params import by_prefix, text_field
from node.http.wire import MSGPACK, ApiError, bad_request, read_json, respond
from node.rules.council import (
    Census,
    Council,
    FileReport,
    Issued,
    Issuer,
    JoinMember,
    LeaveMember,
    readmission,
)
from node.storage import directory
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


__all__ = ["operator", "refuse_removed", "resolve_member", "routes", "setup"]
