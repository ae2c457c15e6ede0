"""The commands that talk to the running node, signed with the operator key."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from node.cli.base import (
    QUORUM_HELP,
    SIGNED_BALLOTS_HELP,
    cli,
    dir_option,
    emit,
    json_option,
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
from node.errors import ApiRefusal, CliError
from node.rules.council.model import MAJORITIES
from protocol import codec


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
    name = _namer(client) if not as_json and named else short

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


def _namer(client: NodeClient) -> Callable[[str], str]:
    """Member ids to names from this node's private directory (the operator's own view); else a short id."""
    known = {m["member_id"]: m["name"] for m in client.call("GET", "/v1/admin/members")["members"]}
    return lambda member: known.get(member) or short(member)


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


@cli.command("rules")
@click.option(
    "--history", is_flag=True, help="every version, with what changed and the decision that made it"
)
@remote
def rules_command(client: NodeClient, as_json: bool, history: bool) -> None:
    """The council's rules in force and their version (changed only by an adopted rules motion)."""
    if history:
        emit(as_json, client.call("GET", "/v1/rules/history"), _rules_history)
        return
    out = client.call("GET", "/v1/rules")

    def human(v: dict[str, Any]) -> str:
        lines = [f"rules version {v['version']}"]
        lines += [f"  {k}: {json.dumps(value)}" for k, value in v["rules"].items()]
        return "\n".join(lines)

    emit(as_json, out, human)


def _rules_history(v: dict[str, Any]) -> str:
    lines = []
    for ver in v["versions"]:
        made = (
            "founding rules"
            if ver["version"] == 1
            else f"decision {ver['decision_id']}"
            if ver["decision_id"] is not None
            else "a council-only decision"
        )
        lines.append(f"version {ver['version']} ({made})")
        lines += [
            f"  {k}: {json.dumps(old)} -> {json.dumps(new)}" for k, (old, new) in ver["changed"].items()
        ]
    return "\n".join(lines)


@cli.command()
@remote
def board(client: NodeClient, as_json: bool) -> None:
    """The executive board: seats, who sits, and the decision behind each mandate."""
    out = client.call("GET", "/v1/board")  # mandates in the order they were given: election, then rank
    name = _namer(client) if not as_json and (out["mandates"] or out.get("ended")) else short

    def human(v: dict[str, Any]) -> str:
        # a mandate's "seat" is its rank in the election that gave it (a replacement's winner is rank 0
        # too): the board's seats are numbered here in the order their mandates were given
        lines = [f"{plural(v['seats'], 'seat')}, {v['vacancies']} vacant"]
        lines += [
            f"  seat {number}: {name(m['member'])} (elected by decision {short(m['decision'])})"
            for number, m in enumerate(v["mandates"], 1)
        ]
        if not v["mandates"]:
            lines.append(
                "  nobody sits yet: elect a board with shora motion propose ASSEMBLY --kind election"
            )
        # each ended mandate with its cause, as the record says it (issue 13)
        lines += [
            f"  ended: {name(m['member'])} ({m['cause']}, by entry {short(m['ended_by'])}; "
            f"elected by decision {short(m['decision'])})"
            for m in v.get("ended", [])
        ]
        return "\n".join(lines)

    emit(as_json, out, human)


@cli.command()
@remote
def delegates(client: NodeClient, as_json: bool) -> None:
    """The council's delegates to its federation, and the assembly decision behind each."""
    out = client.call("GET", "/v1/delegates")
    name = _namer(client) if not as_json and out["delegates"] else short

    def human(v: dict[str, Any]) -> str:
        lines = [
            f"  {name(m['member'])} (mandated by decision {short(m['decision'])})" for m in v["delegates"]
        ]
        if not lines:
            return "no delegates: mandate one with shora motion propose A --kind delegate --candidate NAME"
        return "\n".join([plural(len(lines), "delegate"), *lines])

    emit(as_json, out, human)


@cli.command()
@remote
def decisions(client: NodeClient, as_json: bool) -> None:
    """Every decision of this council, newest first (council-visibility ones included)."""
    out = client.call("GET", "/v1/admin/decisions")

    def human(v: dict[str, Any]) -> str:
        rows = [
            f"{d['decision_id']} {when(d['ts_ms'])} {d['outcome']:<9} [{d.get('motion_kind')}] "
            f"{d.get('text', '')}"
            for d in v["decisions"]
        ]
        return "\n".join(rows) or "no decisions yet"

    emit(as_json, out, human)


@cli.command()
@click.argument("decision_ref", metavar="DECISION")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="the file to write the bundle to",
)
@remote
def bundle(client: NodeClient, as_json: bool, decision_ref: str, output: Path) -> None:
    """Write a decision's offline-verifiable bundle to a file."""
    data = client.call("GET", f"/v1/admin/decisions/{decision_ref}/bundle", raw=True)
    output.write_bytes(data)
    node_id = codec.b64u(client.config.node_id)
    emit(
        as_json,
        {"file": str(output), "bytes": len(data), "council": node_id},
        lambda v: (
            f"wrote {v['bytes']} bytes to {v['file']}\nverify with: shora verify {v['file']} "
            f"--council {node_id}"
        ),
    )


@cli.group(invoke_without_command=True)
@dir_option
@json_option
@click.pass_context
def peers(ctx: click.Context, data_dir: Path | None, as_json: bool) -> None:
    """The nodes this one replicates and witnesses; without a subcommand, their status."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(peers_list, data_dir=data_dir, as_json=as_json)


@peers.command("list")
@remote
def peers_list(client: NodeClient, as_json: bool) -> None:
    """Each peer: reachable or not, what it holds of the logs, penalties and forks."""
    out = client.call("GET", "/v1/admin/peers")

    def table(v: dict[str, Any]) -> str:
        rows = [f"{'peer':<12} {'status':<8} {'last contact':<17} {'held':>6} {'lag':>5} {'pen':>4}  url"]
        for p in v["peers"]:
            contact = when(p["last_contact_ms"]) if p["last_contact_ms"] else "never"
            lag = "?" if p["lag"] is None else str(p["lag"])
            rows.append(
                f"{short(p['node_id']):<12} {p['status']:<8} {contact:<17} {p['held']:>6} {lag:>5} "
                f"{p['penalties']:>4}  {p['url']}"
            )
            if p["last_error"]:
                rows.append(f"{'':<12} last error: {p['last_error']}")
            if p["last_penalty"]:
                rows.append(f"{'':<12} last penalty: {p['last_penalty']}")
            if p.get("suspended_until_ms"):
                rows.append(
                    f"{'':<12} SUSPENDED for bad data until {when(p['suspended_until_ms'])}: not polled"
                )
            if p["frozen"]:
                rows.append(f"{'':<12} FORK — this peer's log is frozen: {p['frozen']}")
        if v["blocked"]:
            rows.append(f"\nthis node refuses to append: {v['blocked']}")
        return "\n".join(rows) if v["peers"] else "no peers yet: shora peers add URL KEY"

    emit(as_json, out, table)


@peers.command("add")
@click.argument("url")
@click.argument("key")
@remote
def peers_add(client: NodeClient, as_json: bool, url: str, key: str) -> None:
    """Trust the node at URL whose key is KEY: replicate and witness its log, answer its gossip."""
    out = client.call("POST", "/v1/admin/peers", {"url": url, "key": key})
    emit(as_json, out, lambda v: f"peer added: {short(v['node_id'])} at {v['url']}")


@peers.command("remove")
@click.argument("peer_ref", metavar="PEER")
@remote
def peers_remove(client: NodeClient, as_json: bool, peer_ref: str) -> None:
    """Stop replicating from and gossiping with PEER (its key or a unique prefix, as `shora peers` shows it).

    The entries already held of its log stay. A member of a roster this node trusts is peered with again
    when that roster changes."""
    out = client.call("POST", "/v1/admin/peers/remove", {"peer": peer_ref})
    emit(as_json, out, lambda v: f"peer removed: {short(v['node_id'])} at {v['url']}")


@cli.command()
@click.option("--own", is_flag=True, help="take this node's own log back from its peers (after a restore)")
@remote
def sync(client: NodeClient, as_json: bool, own: bool) -> None:
    """One gossip round with every peer now, with progress; --own restores our log from the peers.

    Exits 1 if a peer could not be reached (or, with --own, if the node still refuses to append)."""
    lines = client.stream("POST", "/v1/admin/sync" + ("?own=1" if own else ""))
    if own:
        events = list(lines)
        restored = sum(e.get("restored", 0) for e in events)
        blocked = next((e["blocked"] for e in events if e.get("done")), None)
        result = {"restored": restored, "blocked": blocked}
        if blocked:
            raise CliError(
                f"restored {plural(restored, 'entry', 'entries')} of our own log, but this node still "
                f"refuses to append: {blocked}",
                "still-refusing",
            )
        emit(
            as_json,
            result,
            lambda v: f"restored {plural(restored, 'entry', 'entries')} of our own log; appending again",
        )
        return
    first = next(lines, {})
    results: list[dict[str, Any]] = []
    with click.progressbar(
        length=first.get("peers", 0),
        label="syncing with peers",
        file=sys.stderr,
        hidden=as_json or not sys.stderr.isatty(),
    ) as bar:
        for event in lines:
            if "peer" in event:
                results.append(event)
                bar.label = f"synced with {short(event['peer'])}"
                bar.update(1)
    failed = [e for e in results if not e["ok"]]
    pulled = sum(e["pulled"] for e in results)
    if failed:
        why = "; ".join(f"{short(e['peer'])} at {e['url']}: {e['error']}" for e in failed)
        raise CliError(
            f"could not sync with {plural(len(failed), 'peer')} of {len(results)} ({why}); "
            f"{plural(pulled, 'entry', 'entries')} pulled from the others",
            "sync-failed",
        )
    emit(
        as_json,
        {"peers": results, "pulled": pulled},
        lambda v: (
            f"{plural(pulled, 'entry', 'entries')} pulled from {plural(len(results), 'peer')}"
            if results
            else "no peers yet: shora peers add URL KEY"
        ),
    )
