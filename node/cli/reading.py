"""The commands that read what the council holds and publishes, from the running node: the rules in force
and their history, the board and delegates, the decisions and a decision's bundle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from node.cli.base import cli, emit, namer, plural, remote, short, when
from node.cli.client import NodeClient
from protocol import codec


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
    name = namer(client) if not as_json and (out["mandates"] or out.get("ended")) else short

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
    name = namer(client) if not as_json and out["delegates"] else short

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
