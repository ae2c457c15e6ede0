"""Members acting for themselves, with their own keys (issue 12; DESIGN.md §1).

Every route here answers only requests signed (RFC 9421) by an active member's current key
(``node.http.middleware.members_only``), except the redemption of an invitation, which the new key signs
and the invitation vouches for. A member's act arrives as the statement they signed (``protocol.member``)
and its signature; the route checks the statement names this council, this member and what the path says
(``statement.*``), then the rules check the signature again and record it in the entry, so anyone holding
the record can check it offline.

    POST /v1/admin/invitations              the operator invites: {name[, contact]} or {member} (a new key)
    POST /v1/member/invitations             the same, by a sitting board member
    POST /v1/member/board/assemblies        a sitting board member convenes: {agenda}
    POST /v1/member/board/reports           a sitting board member files an executive report: {text}
    POST /v1/member/redeem                  {invitation, statement, sig}: a join, or a new key
    GET  /v1/member/me                      who the key speaks for, the council's ids, the open assembly
    POST /v1/member/checkin                 {statement, sig}
    POST /v1/member/motions/{motion}/ballot {statement, sig}
    POST /v1/member/consent                 {statement, sig}: consent to stand in an assembly's elections
    POST /v1/member/requisitions            {statement, sig}
    POST /v1/member/assemblies              {statement, sig}: a member convenes what the board has not
    POST /v1/member/board/resign            {statement, sig}: a board member gives up their seat
    POST /v1/member/leave                   {statement, sig}
    GET  /v1/member/motions/{motion}/proof  the ballot proof ``shora member check`` verifies (msgpack)

The record itself is served to members by ``node.http.routes.record`` under ``/v1/member/record/``.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from aiohttp import web

from node.http.context import MEMBER, SIGNER, node_of
from node.http.params import by_prefix, text_field
from node.http.routes.admin import operator, refuse_removed, resolve_member
from node.http.routes.board import board_member
from node.http.wire import MSGPACK, ApiError, bad_request, read_json, respond
from node.rules.council import (
    Attend,
    BindKey,
    CastVote,
    Command,
    Consent,
    Council,
    FileReport,
    Issued,
    Issuer,
    JoinMember,
    LeaveMember,
    OpenAssembly,
    RequestAssembly,
    ResignSeat,
)
from node.rules.council.model import GROUNDS
from node.storage import directory, invitations, logs
from node.storage.clock import now_ms
from protocol import codec
from protocol.errors import DecodeError, VerificationError
from protocol.member import Statement, ballot_proof, verify_statement
from protocol.record import RecordEntry

routes = web.RouteTableDef()


def setup(app: web.Application) -> None:
    app.add_routes(routes)


def _refuse(check: str, message: str) -> ApiError:
    return ApiError(422, f"statement.{check}", message)


async def _signed(request: web.Request, key: bytes) -> tuple[Statement, bytes, dict[str, Any]]:
    """The statement a member signed, checked against the key that signed the request."""
    body = await read_json(request)
    try:
        raw = codec.unb64u(text_field(body, "statement"))
        sig = codec.unb64u(text_field(body, "sig"), 64)
        statement = Statement.decode(raw)
    except DecodeError as exc:
        raise bad_request("statement.malformed", f"statement and sig: {exc}") from exc
    if statement.encode() != raw:
        raise bad_request("statement.malformed", "the statement is not canonical")
    try:
        verify_statement(key, statement, sig)
    except VerificationError as exc:
        raise ApiError(422, "statement.signature", exc.message) from exc
    return statement, sig, body


def _expect(statement: Statement, state: Council, act: str, **fields: Any) -> None:
    """The statement is ``act`` for this council, with ``fields`` as the request means them."""
    if statement.act != act:
        raise _refuse("act", f"this route records a {act}, the statement is a {statement.act}")
    if statement.council != state.id:
        raise _refuse("council", "the statement is for another council")
    for name, value in fields.items():
        if statement.fields.get(name) != value:
            raise _refuse(name, f"the statement names another {name}")


def _member_issuer(request: web.Request, sig: bytes, invited_by: Issuer | None = None) -> Issuer:
    member = request.get(MEMBER)
    return Issuer("member", request[SIGNER], member, sig, invited_by)


# --- invitations ----------------------------------------------------------------------------------------


async def _invite(request: web.Request, issuer: Issuer) -> web.Response:
    node = node_of(request)
    body = await read_json(request)
    state = node.council()
    settings = node.config.settings
    if body.get("member") is not None:
        member = resolve_member(node.reader, state, body["member"])
        if not state.is_active(member):
            raise ApiError(422, "member.not-active", "this member has left or was removed")
        person = (await node.reads.run(directory.everyone)).get(member)
        name, contact = (person.name, person.contact) if person else ("", "")
        new = False
    else:
        name = text_field(body, "name", "").strip()
        contact = text_field(body, "contact", "").strip()
        if not name or len(name) > directory.MAX_NAME or len(contact) > directory.MAX_CONTACT:
            raise bad_request(
                "bad-field",
                f"a name is 1-{directory.MAX_NAME} and a contact 0-{directory.MAX_CONTACT} characters",
            )
        await refuse_removed(node, name, contact)
        member, new = os.urandom(16), True
    same_name = await node.reads.run(directory.by_name, name) if new else []
    now = now_ms()
    token = invitations.Token(node.config.node_id, member, os.urandom(invitations.SECRET_LEN))
    expires = now + int(settings.invitation_ttl_s * 1000)
    invitation = invitations.Invitation(
        member, name, contact, new, issuer.role, issuer.key, issuer.member, expires, None
    )
    conn = node.writer.conn
    stored = await node.writer.run(
        invitations.issue, conn, token, invitation, now, settings.invitations_pending_max
    )
    if not stored:
        raise ApiError(429, "invitations-pending", "too many invitations wait to be redeemed; try later")
    return respond(
        request,
        {
            "invitation": token.text(),
            "member_id": member,
            "new_member": new,
            "expires_ms": expires,
            "same_name": same_name,
        },
    )


@routes.post("/v1/admin/invitations")
async def invite_by_operator(request: web.Request) -> web.Response:
    return await _invite(request, operator(request))


@routes.post("/v1/member/invitations")
async def invite_by_board(request: web.Request) -> web.Response:
    return await _invite(request, board_member(request))


@routes.post("/v1/member/board/assemblies")
async def convene(request: web.Request) -> web.Response:
    """A sitting board member convenes the assembly themselves, with their own key."""
    issuer = board_member(request)
    body = await read_json(request)
    entry = await _record(request, OpenAssembly(issuer.member, text_field(body, "agenda", "")), issuer)
    return respond(request, {"assembly_id": entry})


@routes.post("/v1/member/board/reports")
async def report(request: web.Request) -> web.Response:
    """A sitting board member files an executive report, with their own key."""
    issuer = board_member(request)
    body = await read_json(request)
    assert issuer.member is not None
    entry = await _record(request, FileReport(issuer.member, text_field(body, "text")), issuer)
    return respond(request, {"report_id": entry})


@routes.post("/v1/member/redeem")
async def redeem(request: web.Request) -> web.Response:
    node = node_of(request)
    key = request[SIGNER]
    statement, sig, body = await _signed(request, key)
    token = invitations.parse_token(body.get("invitation"))
    if token is None or token.node_id != node.config.node_id:
        raise ApiError(403, "invitation.unknown", "not an invitation of this node")
    found = await node.reads.run(invitations.find, token.secret)
    if found is None or found.member != token.member:
        raise ApiError(403, "invitation.unknown", "no such invitation")
    now = now_ms()
    if found.used_ms is not None or token.secret in node.redeeming:
        raise ApiError(403, "invitation.used", "this invitation was used or replaced already")
    if found.expires_ms <= now:
        raise ApiError(403, "invitation.expired", "this invitation has expired: ask for a new one")
    state = node.council()
    invited_by = Issuer(found.issued_role, found.issued_key, found.issued_member)  # type: ignore[arg-type]
    issuer = Issuer("member", key, found.member, sig, invited_by)
    command: Command
    if found.new_member:
        _expect(statement, state, "join", member=found.member, charter_hash=state.charter_hash, key=key)
        await refuse_removed(node, found.name, found.contact)  # removed since the invitation was issued
        command = JoinMember(found.member, state.charter_hash or b"", key)
        effects = [directory.add(found.member, found.name, found.contact, now)]
    else:
        _expect(statement, state, "key", member=found.member, key=key)
        command, effects = BindKey(found.member, key), []
    effects.append((invitations.USE, (now, invitations.secret_hash(token.secret))))
    node.redeeming.add(token.secret)
    try:
        appended = await node.writer.submit(Issued(command, issuer), effects)
    finally:
        node.redeeming.discard(token.secret)
    return respond(
        request,
        {
            "member_id": found.member,
            "entry_id": appended[0].id,
            "council": state.id,
            "node_id": node.config.node_id,
            "key": key,
        },
    )


# --- a member's own acts --------------------------------------------------------------------------------


@routes.get("/v1/member/me")
async def me(request: web.Request) -> web.Response:
    node = node_of(request)
    state = node.council()
    member = request[MEMBER]
    a = state.open_assembly()
    motions = [m for m in state.motions.values() if m.is_open]
    # fellow members' names, for the candidates a member approves: the council's own directory, served to its
    # members only, never on a public or federation route (DESIGN.md §6)
    people = await node.reads.run(directory.everyone) if any(m.candidates for m in motions) else {}
    return respond(
        request,
        {
            "member_id": member,
            "key": request[SIGNER],
            "council": state.id,
            "node_id": node.config.node_id,
            "charter_hash": state.charter_hash,
            "board": member in state.board_members(),
            "mandate": next(
                (
                    {"decision": m.decision, "seat": m.seat}
                    for m in state.sitting_mandates()
                    if m.member == member
                ),
                None,
            ),
            "open_assembly": None if a is None else a.id,
            "present": a is not None and member in a.roll,
            "requisition": _requisition_status(state, member),
            "open_motions": [
                {
                    "motion_id": m.id,
                    "assembly": m.assembly,
                    "kind": m.kind,
                    "text": m.text,
                    "candidates": list(m.candidates),
                    "candidate_names": [people[c].name if c in people else None for c in m.candidates],
                    "voted": member in m.votes,
                }
                for m in motions
            ],
        },
    )


def _requisition_status(state: Council, member: bytes) -> dict[str, Any]:
    """Where the next assembly stands: who asked (how many), the share needed, and on which ground this
    member may convene it themselves and from when (article 5)."""
    grounds = {g: state.convening_due(g) for g in GROUNDS if state.may_convene(member, g)}
    return {
        "round": state.requisition_round(),  # a requisition names it, signed (issue 13)
        "requisitioned": member in state.requisitioners(),
        "count": len(state.requisitioners()),
        "needed": state.requisitions_needed(),
        "met_ms": None if state.requisition_met is None else state.requisition_met.ts_ms,
        "next_ms": state.next_assembly_ms,
        "may_convene": [{"ground": g, "due_ms": due} for g, due in grounds.items()],
    }


async def _act(request: web.Request, act: str, **expected: Any) -> tuple[bytes, Statement, Issuer]:
    """The requesting member, the statement they signed (checked to be ``act`` by them, with ``expected``
    fields) and the issuer its entry will name."""
    statement, sig, _ = await _signed(request, request[SIGNER])
    member = request[MEMBER]
    _expect(statement, node_of(request).council(), act, member=member, **expected)
    return member, statement, _member_issuer(request, sig)


async def _record(request: web.Request, command: Command, issuer: Issuer) -> bytes:
    """The id of the first entry recording ``command``, once durable."""
    return (await node_of(request).writer.submit(Issued(command, issuer)))[0].id


@routes.post("/v1/member/checkin")
async def checkin(request: web.Request) -> web.Response:
    member, statement, issuer = await _act(request, "checkin")
    assembly = statement.fields["assembly"]
    entry = await _record(request, Attend(assembly, (member,)), issuer)
    return respond(request, {"assembly_id": assembly, "entry_id": entry})


@routes.post("/v1/member/motions/{motion}/ballot")
async def ballot(request: web.Request) -> web.Response:
    state = node_of(request).council()
    motion = by_prefix(request.match_info["motion"], list(state.motions), "motion")
    assembly = state.motions[motion].assembly
    member, statement, issuer = await _act(request, "ballot", motion=motion, assembly=assembly)
    choice, approvals = statement.fields["choice"], tuple(statement.fields["approvals"])
    entry = await _record(request, CastVote(motion, member, choice, approvals, issuer.sig), issuer)
    return respond(request, {"motion_id": motion, "entry_id": entry})


@routes.post("/v1/member/consent")
async def consent(request: web.Request) -> web.Response:
    """A member consents, signed, to stand as a candidate in an assembly's elections (issue 13)."""
    member, statement, issuer = await _act(request, "consent")
    assembly = statement.fields["assembly"]
    entry = await _record(request, Consent(assembly, member), issuer)
    return respond(request, {"assembly_id": assembly, "member_id": member, "entry_id": entry})


@routes.post("/v1/member/requisitions")
async def requisition(request: web.Request) -> web.Response:
    member, statement, issuer = await _act(request, "requisition")
    asked = RequestAssembly(member, statement.fields["text"], statement.fields.get("round"))
    entry = await _record(request, asked, issuer)
    state = node_of(request).council()
    return respond(request, {"requisition_id": entry, "requisition": _requisition_status(state, member)})


@routes.post("/v1/member/assemblies")
async def convene_as_member(request: web.Request) -> web.Response:
    """A member convenes the assembly the board has not: on requisition once the rules' delay has passed,
    or once the date the last assembly fixed has passed (article 5; judged by the rules, on the node's
    clock)."""
    member, statement, issuer = await _act(request, "convene")
    f = statement.fields
    command = OpenAssembly(member, f["agenda"], f["ground"], f["due_ms"])
    return respond(request, {"assembly_id": await _record(request, command, issuer)})


@routes.post("/v1/member/board/resign")
async def resign_seat(request: web.Request) -> web.Response:
    """A board member gives up their seat, and stays a member."""
    member, statement, issuer = await _act(request, "resign")
    entry = await _record(request, ResignSeat(member, statement.fields["decision"]), issuer)
    return respond(request, {"member_id": member, "entry_id": entry})


@routes.post("/v1/member/leave")
async def leave(request: web.Request) -> web.Response:
    member, _, issuer = await _act(request, "leave")
    entry = await _record(request, LeaveMember(member), issuer)
    return respond(request, {"member_id": member, "entry_id": entry})


# --- the proof that a ballot was counted ----------------------------------------------------------------


def _proof(
    conn: sqlite3.Connection, root_key: bytes, record: bytes, member: bytes, motion: bytes, decision: bytes
) -> bytes | None:
    """The ballot proof of ``member`` on ``motion`` (read in one snapshot of the record: entries, paths and
    checkpoint agree), or ``None`` when the ballot is not in the record's current epoch."""
    store = logs.record_store(conn)
    conn.execute("BEGIN")
    try:
        head = store.head(record)
        if head is None or head.checkpoint is None:
            return None
        found: dict[str, RecordEntry] = {}
        after = -1
        while page := logs.read_record(store, record, after, logs.REPLAY_PAGE):
            for entry in page:
                if entry.seq == 0:
                    found["founding"] = entry
                if entry.id == decision:
                    found["decision"] = entry
                elif "ballot" not in found and entry.header.vis == "council":
                    body = entry.body()
                    if (body.get("kind"), body.get("motion"), body.get("member")) == (
                        "motion/vote",
                        motion,
                        member,
                    ):
                        found["ballot"] = entry
            after = page[-1].seq
        if set(found) != {"founding", "ballot", "decision"}:
            return None
        size = head.checkpoint_size or head.size
        entries = {
            name: (entry, store.inclusion_proof(record, entry.seq, size)) for name, entry in found.items()
        }
        epoch = logs.record_epochs(store, root_key)[-1]
        return ballot_proof(epoch, head.checkpoint, entries)
    finally:
        conn.execute("COMMIT")


@routes.get("/v1/member/motions/{motion}/proof")
async def proof(request: web.Request) -> web.Response:
    node = node_of(request)
    state = node.council()
    member = request[MEMBER]
    motion = state.motions[by_prefix(request.match_info["motion"], list(state.motions), "motion")]
    if motion.decision is None:
        raise ApiError(409, "motion.open", "the motion is not decided yet: check again once it is closed")
    if member not in motion.signed:
        raise ApiError(404, "ballot.unsigned", "you cast no signed ballot on this motion")
    data = await node.reads.run(
        _proof, node.config.node_id, node.writer.record_id, member, motion.id, motion.decision
    )
    if data is None:
        raise ApiError(404, "ballot.elsewhere", "the ballot is in an earlier epoch of the record")
    return web.Response(body=data, content_type=MSGPACK)


__all__ = ["routes", "setup"]
