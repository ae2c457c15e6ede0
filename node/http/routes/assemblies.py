"""The operator's routes for assemblies under ``/v1/admin/assemblies``: convening and listing them, the roll
call (attend, depart), a keyless member's consent to stand, and closing one with its minutes.

The acts on a sitting assembly are ``*_by`` handlers, taking who issues them, so the assembly console
(``node.http.routes.board``) serves the same acts chaired by a board member.
"""

from __future__ import annotations

from aiohttp import web

from node.http.context import node_of
from node.http.params import by_prefix, text_field
from node.http.routes.admin import operator, resolve_member
from node.http.wire import bad_request, read_json, respond
from node.rules.council import (
    Attend,
    CloseAssembly,
    Consent,
    Council,
    Depart,
    Issued,
    Issuer,
    OpenAssembly,
)

routes = web.RouteTableDef()


def setup(app: web.Application) -> None:
    app.add_routes(routes)


def resolve_assembly(state: Council, ref: object) -> bytes:
    if ref == "current" and state.open_assembly_id is not None:
        return state.open_assembly_id
    return by_prefix(ref, list(state.assemblies), "assembly")


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
    assembly = resolve_assembly(state, request.match_info["assembly"])
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
    assembly = resolve_assembly(state, request.match_info["assembly"])
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
    assembly = resolve_assembly(state, request.match_info["assembly"])
    await node.writer.submit(Issued(Depart(assembly, member), issuer))
    return respond(request, {"assembly_id": assembly, "present": len(node.council().roll())})


@routes.post("/v1/admin/assemblies/{assembly}/close")
async def close_assembly(request: web.Request) -> web.Response:
    return await close_assembly_by(request, operator(request))


async def close_assembly_by(request: web.Request, issuer: Issuer) -> web.Response:
    """The assembly closes, with its minutes and the date it fixed for the next, by ``issuer``."""
    node = node_of(request)
    body = await read_json(request)
    assembly = resolve_assembly(node.council(), request.match_info["assembly"])
    minutes = body.get("minutes")
    if minutes is not None and not isinstance(minutes, str):
        raise bad_request("bad-field", "minutes must be text")
    next_ms = body.get("next_ms")  # the date the assembly fixed for the next one
    if next_ms is not None and (isinstance(next_ms, bool) or not isinstance(next_ms, int)):
        raise bad_request("bad-field", "next_ms is a time in milliseconds since the epoch")
    close = CloseAssembly(assembly, minutes or None, next_ms)
    appended = await node.writer.submit(Issued(close, issuer))
    return respond(request, {"assembly_id": assembly, "participants": appended[0].body.get("participants")})


__all__ = ["attend_by", "close_assembly_by", "depart_by", "resolve_assembly", "routes", "setup"]
