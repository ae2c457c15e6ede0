"""The council's acts on the running node, signed with the operator key: the member directory, assemblies,
motions, votes, reports and the census (reading what it holds: ``reading``; its peers: ``peering``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from node.cli.base import (
    QUORUM_HELP,
    SIGNED_BALLOTS_HELP,
    cli,
    emit,
    namer,
    parse_quorum,
    parse_share,
    parse_signed_ballots,
    plural,
    remote,
    short,
    tally_words,
    when,
)
from node.cli.client import NodeClient
from node.errors import ApiRefusal
from node.rules.council.ruleset import MAJORITIES


@cli.group()
def member() -> None:
    """Members join by endorsing the charter; names stay in this node's private directory."""


@member.command("join")
@click.option("--name", required=True, help="the person's name (kept on this node only)")
@click.option("--contact", default="", help="phone, e-mail or other (kept on this node only)")
@remote
def member_join(client: NodeClient, as_json: bool, name: str, contact: str) -> None:
    """Record that a person endorsed the charter (article 3: no vote needed). A member who will act with a
    key of their own is invited instead: shora member invite."""
    out = client.call("POST", "/v1/admin/members", {"name": name, "contact": contact})
    warn_same_name(out)
    emit(as_json, out, lambda v: f"joined: {v['member_id']}")


def warn_same_name(out: dict[str, Any]) -> None:
    """On stderr: members whose name reads as this one (the node matches names as docs/http.md says)."""
    if out.get("same_name"):
        click.echo(
            f"warning: already a member with this name: {', '.join(out['same_name'])} "
            "(if this is the same person, they need no second membership)",
            err=True,
        )


@member.command("leave")
@click.argument("member_ref", metavar="MEMBER")
@remote
def member_leave(client: NodeClient, as_json: bool, member_ref: str) -> None:
    """Record that MEMBER (a name, an id or a unique id prefix) left the council."""
    out = client.call("POST", "/v1/admin/members/leave", {"member": member_ref})
    emit(as_json, out, lambda v: f"left: {v['member_id']}")


@member.command("list")
@remote
def member_list(client: NodeClient, as_json: bool) -> None:
    """Every member, past and present, with their status and board seat."""
    out = client.call("GET", "/v1/admin/members")

    def table(v: dict[str, Any]) -> str:
        rows = [f"{'id':<12} {'name':<28} {'status':<9} board"]
        for m in v["members"]:
            status = "active" if m["active"] else (m["ended_how"] or "ended")
            board = "yes" if m["board"] else ""
            rows.append(f"{short(m['member_id']):<12} {m['name'] or '?':<28} {status:<9} {board}")
        return "\n".join(rows) if v["members"] else "no members yet: shora member join --name NAME"

    emit(as_json, out, table)


@cli.group()
def assembly() -> None:
    """General assemblies: open, attendance roll, close with minutes."""


@assembly.command("open")
@click.option("--agenda", default="", help="what the assembly is about (public)")
@click.option(
    "--convened-by",
    default=None,
    metavar="MEMBER",
    help="the sitting board member convening it; needed once a board sits (before: the operator convenes)",
)
@remote
def assembly_open(client: NodeClient, as_json: bool, agenda: str, convened_by: str | None) -> None:
    """Open a general assembly (one at a time); the agenda is public."""
    try:
        out = client.call("POST", "/v1/admin/assemblies", {"agenda": agenda, "convened_by": convened_by})
    except ApiRefusal as exc:
        if exc.code not in ("assembly.board-sits", "assembly.convener-not-board"):
            raise
        hint = "; name them with --convened-by MEMBER (who sits: shora board)"
        raise ApiRefusal(exc.error, exc.message + hint, exc.status) from exc
    emit(as_json, out, lambda v: f"assembly open: {v['assembly_id']}")


@assembly.command("attend")
@click.argument("assembly_ref", metavar="ASSEMBLY")
@click.argument("members", nargs=-1, required=True)
@remote
def assembly_attend(client: NodeClient, as_json: bool, assembly_ref: str, members: tuple[str, ...]) -> None:
    """Put MEMBERS on ASSEMBLY's roll (ASSEMBLY may be `current`)."""
    out = client.call("POST", f"/v1/admin/assemblies/{assembly_ref}/attend", {"members": list(members)})
    emit(as_json, out, lambda v: f"present now: {v['present']}")


@assembly.command("consent")
@click.argument("assembly_ref", metavar="ASSEMBLY")
@click.argument("member_ref", metavar="MEMBER")
@remote
def assembly_consent(client: NodeClient, as_json: bool, assembly_ref: str, member_ref: str) -> None:
    """Record MEMBER's consent, given in the room, to stand as a candidate in ASSEMBLY's elections (a member
    without a key only: one with a key runs `shora member consent`)."""
    out = client.call("POST", f"/v1/admin/assemblies/{assembly_ref}/consent", {"member": member_ref})
    emit(as_json, out, lambda v: f"consent to stand recorded: {v['entry_id']}")


@assembly.command("depart")
@click.argument("assembly_ref", metavar="ASSEMBLY")
@click.argument("member_ref", metavar="MEMBER")
@remote
def assembly_depart(client: NodeClient, as_json: bool, assembly_ref: str, member_ref: str) -> None:
    """Take MEMBER off the roll: they leave the assembly and may no longer vote in it."""
    out = client.call("POST", f"/v1/admin/assemblies/{assembly_ref}/depart", {"member": member_ref})
    emit(as_json, out, lambda v: f"present now: {v['present']}")


@assembly.command("close")
@click.argument("assembly_ref", metavar="ASSEMBLY")
@click.option(
    "--minutes",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="a UTF-8 text file with the minutes, signed into the log",
)
@click.option(
    "--next",
    "next_date",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"]),
    default=None,
    help="the date (UTC) the assembly fixed for the next one: once it passes without an assembly, any "
    "member may convene it",
)
@remote
def assembly_close(
    client: NodeClient, as_json: bool, assembly_ref: str, minutes: Path | None, next_date: datetime | None
) -> None:
    """Close ASSEMBLY once its motions are decided, with its minutes."""
    text = minutes.read_text(encoding="utf-8") if minutes else None
    next_ms = None if next_date is None else int(next_date.replace(tzinfo=UTC).timestamp() * 1000)
    body = {"minutes": text, **({} if next_ms is None else {"next_ms": next_ms})}
    out = client.call("POST", f"/v1/admin/assemblies/{assembly_ref}/close", body)
    emit(as_json, out, lambda v: f"assembly closed; {plural(v['participants'], 'participant')}")


@assembly.command("list")
@remote
def assembly_list(client: NodeClient, as_json: bool) -> None:
    """Every assembly with its motions: open ones with who is present, closed ones with who took part."""
    out = client.call("GET", "/v1/admin/assemblies")

    def table(v: dict[str, Any]) -> str:
        rows = []
        for a in v["assemblies"]:
            state = (
                f"OPEN, {a['present']} present"
                if a["open"]
                else f"closed, {plural(a['participants'], 'participant')}"
            )
            rows.append(f"{a['assembly_id']} {when(a['opened_ts_ms'])} {state} — {a['agenda']}")
            for m in a["motions"]:
                votes = plural(m["votes"], "vote")
                rows.append(f"    motion {m['motion_id']} [{m['kind']}] {m['status']}, {votes} — {m['text']}")
        return "\n".join(rows) or "no assemblies yet"

    emit(as_json, out, table)


@cli.group()
def motion() -> None:
    """Motions inside an open assembly, decided by the council's rules."""


@motion.command("propose")
@click.argument("assembly_ref", metavar="ASSEMBLY")
@click.option("--text", required=True, help="what is proposed, as the assembly will read it")
@click.option(
    "--kind",
    type=click.Choice(
        [
            "policy",
            "rules",
            "election",
            "recall",
            "removal",
            "federation",
            "delegate",
            "delegate-recall",
            "request",
            "readmit",
        ]
    ),
    default="policy",
    show_default=True,
    help="what the motion decides: a policy, new rules, a board election, a recall or removal, "
    "an answer to a federation-wide proposal, the council's delegates to its federation (mandated "
    "or recalled), a request that its federation publish a proposal (the text says what), or the "
    "readmission of a removed member",
)
@click.option("--seats", type=int, default=None, help="election: seats to fill")
@click.option(
    "--candidate",
    "candidates",
    multiple=True,
    help="election: a candidate member; delegate: a member the motion mandates; repeatable; each must have "
    "consented to stand in this assembly first (shora assembly consent, or shora member consent)",
)
@click.option("--target", default=None, help="recall/removal/delegate-recall/readmit: the member concerned")
@click.option(
    "--visibility",
    type=click.Choice(["public", "council"]),
    default="public",
    show_default=True,
    help="who may read the motion and its decision: everyone, or the council's own members",
)
@click.option(
    "--proposal",
    default=None,
    metavar="FEDKEY:PROPOSALID",
    help="federation: the federation-wide proposal this motion answers (see `shora proposal list`)",
)
@click.option(
    "--federation",
    "federation_key",
    default=None,
    metavar="FEDKEY",
    help="request: the key of the federation asked to publish a proposal",
)
@click.option(
    "--majority",
    type=click.Choice(MAJORITIES),
    default=None,
    help="rules: the proposed majority rule",
)
@click.option(
    "--rules-majority",
    type=click.Choice([*MAJORITIES, "none"]),
    default=None,
    help="rules: the majority that decides rules motions (none: the ordinary majority does)",
)
@click.option("--quorum", default=None, help=f"rules: the proposed quorum, {QUORUM_HELP}")
@click.option("--board-seats", type=int, default=None, help="rules: the proposed number of board seats")
@click.option("--publish-tallies/--no-publish-tallies", default=None, help="rules: publish exact tallies")
@click.option(
    "--quorum-cap/--no-quorum-cap",
    default=None,
    help="rules: a quorum never asks for more than the active members when the vote opens",
)
@click.option(
    "--census-bucket",
    type=int,
    default=None,
    help="rules: the census rounds member counts down to multiples of it",
)
@click.option("--signed-ballots", default=None, help=f"rules: {SIGNED_BALLOTS_HELP}")
@click.option(
    "--requisition",
    default=None,
    metavar="NUM/DEN",
    help="rules: the share of active members whose requisitions oblige the board to convene an assembly",
)
@click.option(
    "--requisition-delay",
    type=int,
    default=None,
    metavar="DAYS",
    help="rules: the days the board has to convene a requisitioned assembly before a requisitioner may",
)
@remote
def motion_propose(
    client: NodeClient,
    as_json: bool,
    assembly_ref: str,
    text: str,
    kind: str,
    seats: int | None,
    candidates: tuple[str, ...],
    target: str | None,
    visibility: str,
    proposal: str | None,
    federation_key: str | None,
    majority: str | None,
    rules_majority: str | None,
    quorum: str | None,
    board_seats: int | None,
    publish_tallies: bool | None,
    quorum_cap: bool | None,
    census_bucket: int | None,
    signed_ballots: str | None,
    requisition: str | None,
    requisition_delay: int | None,
) -> None:
    """Put a motion to the open ASSEMBLY (or `current`); members then vote with `shora vote`."""
    if not text.strip():
        raise click.BadParameter("say what is proposed", param_hint="--text")
    body: dict[str, Any] = {
        "assembly": assembly_ref,
        "text": text,
        "kind": kind,
        "seats": seats,
        "candidates": list(candidates),
        "target": target,
        "visibility": visibility,
        "proposal": proposal,
        "federation": federation_key,
    }
    if (kind == "federation") != (proposal is not None):
        raise click.UsageError(
            "--kind federation names the proposal it answers with --proposal, and only it does"
        )
    if (kind == "request") != (federation_key is not None):
        raise click.UsageError(
            "--kind request names the federation it asks with --federation, and only it does"
        )
    named: dict[str, Any] = {
        "majority": majority,
        "board_seats": board_seats,
        "publish_tallies": publish_tallies,
        "quorum_cap": quorum_cap,
        "census_bucket": census_bucket,
        "requisition": parse_share(requisition),
        "requisition_delay_days": requisition_delay,
    }
    if kind == "rules":
        # only the rules named change; the node keeps every other rule in force (issue 13)
        rules: dict[str, Any] = {k: v for k, v in named.items() if v is not None}
        if parsed := parse_quorum(quorum):
            rules["quorum"] = parsed.to_body()
        if (kinds := parse_signed_ballots(signed_ballots)) is not None:
            rules["signed_ballots"] = list(kinds)
        if rules_majority is not None:
            rules["rules_majority"] = None if rules_majority == "none" else rules_majority
        if not rules:
            raise click.UsageError(
                "--kind rules names the rules it changes: --majority, --rules-majority, --quorum, "
                "--quorum-cap, --board-seats, --publish-tallies, --census-bucket, --signed-ballots, "
                "--requisition or --requisition-delay"
            )
        body["rules"] = rules
    elif any(x is not None for x in (*named.values(), quorum, signed_ballots, rules_majority)):
        raise click.UsageError(
            "--majority, --rules-majority, --quorum, --quorum-cap, --board-seats, --publish-tallies, "
            "--census-bucket, --signed-ballots, --requisition and --requisition-delay belong to --kind rules"
        )
    out = client.call("POST", "/v1/admin/motions", body)
    emit(as_json, out, lambda v: f"motion: {v['motion_id']}")


@motion.command("close")
@click.argument("motion_ref", metavar="MOTION")
@remote
def motion_close(client: NodeClient, as_json: bool, motion_ref: str) -> None:
    """Decide the motion by the rules in force and record the decision."""
    out = client.call("POST", f"/v1/admin/motions/{motion_ref}/close")
    named = (
        out.get("elected")
        or out.get("ended")
        or out.get("delegates")
        or out.get("delegates_ended")
        or out.get("runoff")
        or out.get("tied")
        or out.get("motion_kind") == "election"
    )
    name = namer(client) if not as_json and named else short

    def human(v: dict[str, Any]) -> str:
        lines = [f"decision {v['decision_id']}: {v['outcome'].upper().replace('_', ' ')}"]
        if v.get("tally") is not None:
            needed = v.get("quorum_required")
            quorum = f"quorum {needed}" if needed else "no quorum required"
            if v.get("quorum_capped"):
                quorum += ", capped at the active members"
            lines.append(
                f"tally: {tally_words(v['tally'], name)}  ({v.get('participants')} present, {quorum})"
            )
        for seat in v.get("elected") or []:
            lines.append(f"elected: {name(seat['member'])}")
        if v.get("vacant"):
            lines.append(f"{plural(v['vacant'], 'seat')} left vacant")
        # a recall or removal: the board mandates it ended (shora board says how the public record shows them)
        lines += [f"board mandate ended: {name(m['member'])}" for m in v.get("ended") or []]
        lines += [f"delegate: {name(d['member'])}" for d in v.get("delegates") or []]
        lines += [f"delegate mandate ended: {name(d['member'])}" for d in v.get("delegates_ended") or []]
        if v.get("runoff_motion_id"):
            # issue 13: the tie for the last seat(s) went to a runoff, open now in the same assembly
            seats = plural(v["runoff"]["seats"], "seat")
            among = ", ".join(name(m) for m in v["runoff"]["candidates"])
            lines.append(f"runoff: motion {v['runoff_motion_id']} for {seats} among {among}")
        elif v.get("tied"):
            lines.append(f"tied for the last seat: {', '.join(name(m) for m in v['tied'])}")
        return "\n".join(lines)

    emit(as_json, out, human)


@cli.command()
@click.argument("motion_ref", metavar="MOTION")
@click.argument("member_ref", metavar="MEMBER")
@click.argument("choice", nargs=-1, required=True)
@remote
def vote(
    client: NodeClient, as_json: bool, motion_ref: str, member_ref: str, choice: tuple[str, ...]
) -> None:
    """Record MEMBER's vote: yes, no or abstain — or, in an election, the candidates they approve."""
    if len(choice) == 1 and choice[0] in ("yes", "no", "abstain"):
        body: dict[str, Any] = {"member": member_ref, "choice": choice[0]}
    else:
        body = {"member": member_ref, "approvals": [] if choice == ("none",) else list(choice)}
    out = client.call("POST", f"/v1/admin/motions/{motion_ref}/votes", body)
    emit(as_json, out, lambda v: "vote recorded")


@cli.command()
@click.option("--member", "member_ref", required=True, help="the board member filing it")
@click.option("--text", required=True, help="the report itself (public)")
@remote
def report(client: NodeClient, as_json: bool, member_ref: str, text: str) -> None:
    """File a signed executive report (the board, between assemblies: article 5)."""
    out = client.call("POST", "/v1/admin/reports", {"member": member_ref, "text": text})
    emit(as_json, out, lambda v: f"report filed: {v['report_id']}")


@cli.command()
@remote
def census(client: NodeClient, as_json: bool) -> None:
    """Publish the council's member count (only the count; rounded if the rules say so)."""
    out = client.call("POST", "/v1/admin/census")
    emit(as_json, out, lambda v: f"published: {plural(v['active_members'], 'member')}")
