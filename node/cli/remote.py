"""The commands that talk to the running node, signed with the operator key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from node.cli.base import QUORUM_HELP, cli, emit, parse_quorum, remote, short, when
from node.cli.client import NodeClient
from node.errors import CliError
from node.ops.progress import Progress
from protocol import codec


@cli.group()
def member() -> None:
    """Members join by endorsing the charter; names stay in this node's private directory."""


@member.command("join")
@click.option("--name", required=True)
@click.option("--contact", default="", help="phone, e-mail or other (kept on this node only)")
@click.option("--key", default=None, help="the member's Ed25519 public key (base64url), for online ballots")
@remote
def member_join(client: NodeClient, as_json: bool, name: str, contact: str, key: str | None) -> None:
    """Record that a person endorsed the charter (article 3: no vote needed)."""
    out = client.call("POST", "/v1/admin/members", {"name": name, "contact": contact, "key": key})
    emit(as_json, out, lambda v: f"joined: {v['member_id']}")


@member.command("leave")
@click.argument("member_ref", metavar="MEMBER")
@remote
def member_leave(client: NodeClient, as_json: bool, member_ref: str) -> None:
    out = client.call("POST", "/v1/admin/members/leave", {"member": member_ref})
    emit(as_json, out, lambda v: f"left: {v['member_id']}")


@member.command("list")
@remote
def member_list(client: NodeClient, as_json: bool) -> None:
    out = client.call("GET", "/v1/admin/members")

    def table(v: dict[str, Any]) -> str:
        rows = [f"{'id':<12} {'name':<28} {'status':<9} board"]
        for m in v["members"]:
            status = "active" if m["active"] else (m["ended_how"] or "ended")
            board = "yes" if m["board"] else ""
            rows.append(f"{short(m['member_id']):<12} {m['name'] or '?':<28} {status:<9} {board}")
        return "\n".join(rows)

    emit(as_json, out, table)


@cli.group()
def assembly() -> None:
    """General assemblies: open, attendance roll, close with minutes."""


@assembly.command("open")
@click.option("--agenda", default="")
@click.option("--convened-by", default=None, help="the board member convening it (none: the operator)")
@remote
def assembly_open(client: NodeClient, as_json: bool, agenda: str, convened_by: str | None) -> None:
    out = client.call("POST", "/v1/admin/assemblies", {"agenda": agenda, "convened_by": convened_by})
    emit(as_json, out, lambda v: f"assembly open: {v['assembly_id']}")


@assembly.command("attend")
@click.argument("assembly_ref", metavar="ASSEMBLY")
@click.argument("members", nargs=-1, required=True)
@remote
def assembly_attend(client: NodeClient, as_json: bool, assembly_ref: str, members: tuple[str, ...]) -> None:
    out = client.call("POST", f"/v1/admin/assemblies/{assembly_ref}/attend", {"members": list(members)})
    emit(as_json, out, lambda v: f"present now: {v['present']}")


@assembly.command("depart")
@click.argument("assembly_ref", metavar="ASSEMBLY")
@click.argument("member_ref", metavar="MEMBER")
@remote
def assembly_depart(client: NodeClient, as_json: bool, assembly_ref: str, member_ref: str) -> None:
    out = client.call("POST", f"/v1/admin/assemblies/{assembly_ref}/depart", {"member": member_ref})
    emit(as_json, out, lambda v: f"present now: {v['present']}")


@assembly.command("close")
@click.argument("assembly_ref", metavar="ASSEMBLY")
@click.option("--minutes", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@remote
def assembly_close(client: NodeClient, as_json: bool, assembly_ref: str, minutes: Path | None) -> None:
    text = minutes.read_text(encoding="utf-8") if minutes else None
    out = client.call("POST", f"/v1/admin/assemblies/{assembly_ref}/close", {"minutes": text})
    emit(as_json, out, lambda v: f"assembly closed; {v['participants']} participants")


@assembly.command("list")
@remote
def assembly_list(client: NodeClient, as_json: bool) -> None:
    out = client.call("GET", "/v1/admin/assemblies")

    def table(v: dict[str, Any]) -> str:
        rows = []
        for a in v["assemblies"]:
            state = "OPEN" if a["open"] else "closed"
            rows.append(
                f"{a['assembly_id']} {state} {when(a['opened_ts_ms'])} present {a['present']} — {a['agenda']}"
            )
            rows += [
                f"    motion {m['motion_id']} [{m['kind']}] {m['status']}, {m['votes']} votes — {m['text']}"
                for m in a["motions"]
            ]
        return "\n".join(rows) or "no assemblies yet"

    emit(as_json, out, table)


@cli.group()
def motion() -> None:
    """Motions inside an open assembly, decided by the council's rules."""


@motion.command("propose")
@click.argument("assembly_ref", metavar="ASSEMBLY")
@click.option("--text", required=True)
@click.option(
    "--kind",
    type=click.Choice(["policy", "rules", "election", "recall", "removal", "federation"]),
    default="policy",
    show_default=True,
)
@click.option("--seats", type=int, default=None, help="election: seats to fill")
@click.option("--candidate", "candidates", multiple=True, help="election: a candidate member; repeatable")
@click.option("--target", default=None, help="recall/removal: the member concerned")
@click.option("--visibility", type=click.Choice(["public", "council"]), default="public", show_default=True)
@click.option(
    "--proposal",
    default=None,
    metavar="FEDKEY:PROPOSALID",
    help="federation: the federation-wide proposal this motion answers (see `shora proposal list`)",
)
@click.option(
    "--majority",
    type=click.Choice(["simple", "absolute", "two_thirds"]),
    default=None,
    help="rules: the proposed majority rule",
)
@click.option("--quorum", default=None, help=f"rules: the proposed quorum, {QUORUM_HELP}")
@click.option("--board-seats", type=int, default=None, help="rules: the proposed number of board seats")
@click.option("--publish-tallies/--no-publish-tallies", default=None, help="rules: publish exact tallies")
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
    majority: str | None,
    quorum: str | None,
    board_seats: int | None,
    publish_tallies: bool | None,
) -> None:
    body: dict[str, Any] = {
        "assembly": assembly_ref,
        "text": text,
        "kind": kind,
        "seats": seats,
        "candidates": list(candidates),
        "target": target,
        "visibility": visibility,
        "proposal": proposal,
    }
    if (kind == "federation") != (proposal is not None):
        raise CliError("--kind federation names the proposal it answers with --proposal, and only it does")
    if kind == "rules":
        rules: dict[str, Any] = {
            "majority": majority or "simple",
            "board_seats": 3 if board_seats is None else board_seats,
            "publish_tallies": True if publish_tallies is None else publish_tallies,
        }
        if parsed := parse_quorum(quorum):
            rules["quorum"] = parsed.to_body()
        body["rules"] = rules
    elif any(x is not None for x in (majority, quorum, board_seats, publish_tallies)):
        raise CliError("--majority, --quorum, --board-seats and --publish-tallies belong to --kind rules")
    out = client.call("POST", "/v1/admin/motions", body)
    emit(as_json, out, lambda v: f"motion: {v['motion_id']}")


@motion.command("close")
@click.argument("motion_ref", metavar="MOTION")
@remote
def motion_close(client: NodeClient, as_json: bool, motion_ref: str) -> None:
    """Decide the motion by the rules in force and record the decision."""
    out = client.call("POST", f"/v1/admin/motions/{motion_ref}/close")

    def human(v: dict[str, Any]) -> str:
        lines = [f"decision {v['decision_id']}: {v['outcome'].upper()}"]
        if v.get("tally") is not None:
            lines.append(
                f"tally: {v['tally']}  (participants {v.get('participants')}, "
                f"quorum needed {v.get('quorum_required')})"
            )
        for seat in v.get("elected") or []:
            lines.append(f"elected to seat {seat['seat']}: {seat['member']}")
        if v.get("vacant"):
            lines.append(f"vacant seats: {v['vacant']}")
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
@click.option("--text", required=True)
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
    emit(as_json, out, lambda v: f"published: {v['active_members']} members")


@cli.command()
@remote
def board(client: NodeClient, as_json: bool) -> None:
    """The executive board: seats, who sits, and the decision behind each mandate."""
    out = client.call("GET", "/v1/board")

    def human(v: dict[str, Any]) -> str:
        lines = [f"{v['seats']} seats, {v['vacancies']} vacant"]
        lines += [
            f"  seat {m['seat']}: member {short(m['member'])} (elected by decision {short(m['decision'])})"
            for m in v["mandates"]
        ]
        return "\n".join(lines)

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
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
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
@click.option(
    "--dir",
    "data_dir",
    envvar="SHORA_DIR",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="the node's data folder (or SHORA_DIR)",
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.pass_context
def peers(ctx: click.Context, data_dir: Path, as_json: bool) -> None:
    """The nodes this one replicates and witnesses; without a subcommand, their status."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(peers_list, data_dir=data_dir, as_json=as_json)


@peers.command("list")
@remote
def peers_list(client: NodeClient, as_json: bool) -> None:
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
    emit(as_json, out, lambda v: f"peer added: {v['node_id']} at {v['url']}")


@cli.command()
@click.option("--own", is_flag=True, help="take this node's own log back from its peers (after a restore)")
@remote
def sync(client: NodeClient, as_json: bool, own: bool) -> None:
    """One gossip round with every peer now, with progress; --own restores our log from the peers."""
    lines = client.stream("POST", "/v1/admin/sync" + ("?own=1" if own else ""))
    if as_json:
        events = list(lines)
        click.echo(json.dumps({"events": events}, ensure_ascii=False))
        return
    if own:
        restored = 0
        progress = Progress("taking our log back", None)
        for event in lines:
            if "total" in event:
                progress.update(0, event["total"] or None)
            restored += event.get("restored", 0)
            if "size" in event:
                progress.update(event["size"])
            if event.get("done"):
                progress.finish()
                state = f"still refusing: {event['blocked']}" if event.get("blocked") else "appending again"
                click.echo(f"restored {restored} entries of our own log; {state}")
        return
    first = next(lines, {})
    progress = Progress("syncing with peers", first.get("peers", 0), "peers")
    pulled = 0
    for n, event in enumerate((e for e in lines if "peer" in e), start=1):
        pulled += event.get("entries", 0)
        progress.update(n)
    progress.finish(f"{pulled} entries pulled")
    click.echo(f"{pulled} entries pulled")
