"""The operator's routes for motions under ``/v1/admin/``: proposing one (its rules, when it changes them,
checked here), the federation proposals a council may answer with one, the hands counted in the room, and
closing the vote into a decision.

The acts are ``*_by`` handlers, taking who issues them, so the assembly console (``node.http.routes.board``)
serves the same acts chaired by a board member.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from node.http.context import node_of
from node.http.params import by_prefix, text_field
from node.http.routes.admin import operator, resolve_member
from node.http.routes.assemblies import resolve_assembly
from node.http.wire import ApiError, bad_request, read_json, respond
from node.rules.council import (
    CastVote,
    CloseMotion,
    Council,
    Issued,
    Issuer,
    ProposeMotion,
    Quorum,
    RuleError,
    Rules,
)
from node.rules.council.limits import ENTRY_ID_LEN
from node.rules.council.rules import impossible
from node.storage import queries
from protocol import codec
from protocol.errors import DecodeError

routes = web.RouteTableDef()


def setup(app: web.Application) -> None:
    app.add_routes(routes)


def _motion(state: Council, ref: object) -> bytes:
    return by_prefix(ref, list(state.motions), "motion")


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
        assembly=resolve_assembly(state, body.get("assembly", "current")),
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


__all__ = ["close_motion_by", "propose_by", "routes", "setup", "vote_by"]
