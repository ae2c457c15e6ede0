"""A federation body's commands: its roster (``shora federation …``), its proposals (``shora proposal …``).

Thin like the rest of the CLI: each command makes one signed request to the running node and prints the
answer. ``shora proposal list`` also runs on a council, where it lists the open proposals of the federations
whose logs the council holds and whether its assembly has taken them up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from node.cli.base import cli, emit, plural, remote, short, when
from node.cli.client import NodeClient
from node.cli.local import shown


@cli.group()
def federation() -> None:
    """A federation body's roster: applications, admission, suspension (run on a federation node)."""


@federation.command("applications")
@click.option("--all", "every", is_flag=True, help="admitted and refused ones too")
@remote
def applications(client: NodeClient, as_json: bool, every: bool) -> None:
    """Applications waiting for the operator (councils or lower federations asking to be admitted)."""
    out = client.call("GET", "/v1/admin/applications" + ("?all=1" if every else ""))

    def table(v: dict[str, Any]) -> str:
        rows = [f"{'key':<12} {'kind':<10} {'status':<9} {'received':<23} name, place, url"]
        for a in v["applications"]:
            place = ", ".join(x for x in (a["city"], a["country"], a["continent"]) if x)
            received = when(a["received_ms"], seconds=True)
            rows.append(
                f"{short(a['key']):<12} {a['kind']:<10} {a['status']:<9} {received:<23} "
                f"{a['name']} ({place}) {a['url']}"
            )
        return "\n".join(rows) if v["applications"] else "no applications waiting"

    emit(as_json, out, table)


def roster_change(command: Callable[..., None]) -> Callable[..., None]:
    """MEMBER, --reason and --by (the adopted proposal it executes) of a remote roster change."""
    options = (
        click.argument("member"),
        click.option("--reason", required=True, help="why (public, on the roster)"),
        click.option(
            "--by",
            "by",
            default=None,
            metavar="PROPOSAL",
            help="the proposal with this action the member councils adopted (needed after the founders)",
        ),
    )
    wrapped = remote(command)
    for option in reversed(options):
        wrapped = option(wrapped)
    return wrapped


@federation.command("admit")
@roster_change
def admit(client: NodeClient, as_json: bool, member: str, reason: str, by: str | None) -> None:
    """Admit the applicant MEMBER (its key or a unique prefix) to the roster, with the profile it sent."""
    out = client.call("POST", "/v1/admin/roster/admit", {"member": member, "reason": reason, "by": by})
    emit(as_json, out, lambda v: f"admitted: {v['member']} (peer: {v['peer'] or 'none'})")


@federation.command("suspend")
@roster_change
def suspend(client: NodeClient, as_json: bool, member: str, reason: str, by: str | None) -> None:
    """Suspend MEMBER: its answers stop counting and its log is held at the size this node has."""
    out = client.call("POST", "/v1/admin/roster/suspend", {"member": member, "reason": reason, "by": by})
    emit(
        as_json,
        out,
        lambda v: f"suspended: {v['member']} (log held at {plural(v['size'], 'entry', 'entries')})",
    )


@federation.command("readmit")
@roster_change
def readmit(client: NodeClient, as_json: bool, member: str, reason: str, by: str | None) -> None:
    """Lift MEMBER's suspension: its answers count again and its log is taken on from where it was held."""
    out = client.call("POST", "/v1/admin/roster/readmit", {"member": member, "reason": reason, "by": by})
    emit(as_json, out, lambda v: f"readmitted: {v['member']}")


@federation.command("roster")
@remote
def roster(client: NodeClient, as_json: bool) -> None:
    """The signed roster: every member, active or suspended, with the reasons given."""
    out = client.call("GET", "/v1/admin/roster")

    def table(v: dict[str, Any]) -> str:
        rows = [f"{'member':<12} {'kind':<10} {'status':<9} {'held':>6}  name, place"]
        for m in v["members"]:
            place = ", ".join(x for x in (m["city"], m["country"], m["continent"]) if x)
            status = "active" if m["active"] else "SUSPENDED"
            rows.append(
                f"{short(m['member']):<12} {m['kind']:<10} {status:<9} {m['held']:>6}  {m['name']} ({place})"
            )
            for e in m["events"]:
                why = f" — {e['reason']}" if e["reason"] else ""
                rows.append(f"{'':<12} {when(e['ts_ms'], seconds=True)} {e['action']}{why}")
        return "\n".join(rows) if v["members"] else "nobody on the roster yet"

    emit(as_json, out, table)


def _summary_table(v: dict[str, Any]) -> str:
    """Councils by continent and country, then the totals: counts and outcomes only (DESIGN.md §6)."""
    fed = v.get("federation") or {}
    rows = [f"{fed.get('name', 'federation')} — {fed.get('level', '?')} federation"] if fed else []
    rows.append(
        f"{'council':<28} {'status':<10} {'members':>7} {'board':>7} {'vacant':>6} {'assemblies':>10} "
        f"{'decisions':>9}"
    )
    for continent, countries in v["continents"].items():
        for country, councils in countries.items():
            rows.append(f"{continent or '?'} / {country or '?'}")
            for c in councils:
                members = c["members"]["count"] if c["members"] else "?"
                board = f"{c['board']['filled']}/{c['board']['seats']}" if c["board"] else "?"
                vacant = c["board"]["vacant"] if c["board"] else "?"
                status = c["status"].upper() if c["status"] == "suspended" else c["status"]
                fork = "  FORK" if c["log"]["forked"] else ""
                rows.append(
                    f"  {c['name'][:26]:<26} {status:<10} {members:>7} {board:>7} {vacant:>6} "
                    f"{c['assemblies']['held']:>10} {c['decisions']:>9}{fork}"
                )
    t = v["totals"]
    silent = [
        c["name"]
        for countries in v["continents"].values()
        for councils in countries.values()
        for c in councils
        if not c["members"]
    ]
    members = plural(t["members"], "member")
    uncounted = sum(
        1
        for countries in v["continents"].values()
        for councils in countries.values()
        for c in councils
        if not c["members"] and c["status"] != "suspended"
    )
    if uncounted:  # a total that leaves councils out says so, rather than a bare 0
        members += f" counted ({uncounted} without a census yet)"
    rows.append(
        f"totals: {plural(t['councils'], 'council')} ({t['admitted']} admitted, {t['suspended']} suspended, "
        f"{t['unlisted']} unlisted); {members}; board "
        f"{t['board_filled']}/{t['board_seats']} filled, {t['board_vacant']} vacant; "
        f"{plural(t['assemblies_held'], 'assembly', 'assemblies')}, "
        f"{plural(t['participants'], 'participant')}; "
        f"{plural(t['decisions'], 'public decision')}; {plural(t['forks'], 'fork')}"
    )
    if t["suspended"]:
        rows.append("(members, board, assemblies and decisions in the totals leave suspended councils out)")
    for f in v.get("federations", []):
        rows.append(f"member federation: {f['name']} ({f['country'] or f['continent']}) {f['status']}")
    if silent:
        rows.append(
            f"? members: no census published yet by {', '.join(silent[:10])}"
            + (f" and {len(silent) - 10} more" if len(silent) > 10 else "")
            + " — each council's operator publishes its member count with `shora census`"
        )
    return "\n".join(rows)


@federation.command("summary")
@remote
def summary(client: NodeClient, as_json: bool) -> None:
    """What this federation body publishes about its councils (GET /v1/federation/summary)."""
    emit(as_json, client.call("GET", "/v1/federation/summary"), _summary_table)


@cli.group()
def proposal() -> None:
    """Federation-wide proposals, answered by each council's general assembly and tallied across councils."""


@proposal.command("publish")
@click.option("--fa", "text_fa", required=True, help="the proposal in Persian")
@click.option("--en", "text_en", required=True, help="the proposal in English")
@click.option("--deadline", required=True, help="ISO 8601 time with its zone, e.g. 2030-05-01T12:00Z")
@click.option(
    "--rule",
    type=click.Choice(["answering", "admitted", "weighted"]),
    default="answering",
    show_default=True,
    help="majority of the councils answering, of the councils admitted, or weighted by participants",
)
@click.option(
    "--grace",
    "grace_s",
    type=click.IntRange(0),
    default=None,
    help="seconds after the deadline the result waits for councils not heard from since "
    "(default: the node's proposal_grace_s)",
)
@click.option(
    "--action",
    type=click.Choice(["admit", "suspend", "readmit"]),
    default=None,
    help="a roster change the councils decide by this proposal (with --member)",
)
@click.option("--member", default=None, help="the applicant or member the action is about (key or prefix)")
@click.option(
    "--requested-by",
    "requested_by",
    multiple=True,
    metavar="DECISION",
    help="a member council's adopted request this proposal answers (see `shora proposal requests`); "
    "repeatable",
)
@remote
def publish(
    client: NodeClient,
    as_json: bool,
    text_fa: str,
    text_en: str,
    deadline: str,
    rule: str,
    grace_s: int | None,
    action: str | None,
    member: str | None,
    requested_by: tuple[str, ...],
) -> None:
    """Publish a proposal to every council on the roster (run on a federation node). With --action, its
    adoption by the councils mandates that roster change (`shora federation ACTION MEMBER --by` executes).
    With --requested-by, the proposal says which councils' assemblies asked for it."""
    body: dict[str, Any] = {"text_fa": text_fa, "text_en": text_en, "deadline": deadline, "rule": rule}
    if grace_s is not None:
        body["grace_s"] = grace_s
    if (action is None) != (member is None):
        raise click.UsageError("--action and --member go together")
    if action is not None:
        body["action"] = {"kind": action, "member": member}
    if requested_by:
        body["requested_by"] = list(requested_by)
    out = client.call("POST", "/v1/admin/proposals", body)
    emit(
        as_json,
        out,
        lambda v: (
            f"proposal: {v['proposal_id']} (deadline {when(v['deadline_ms'], seconds=True)})\n"
            f"councils answer with: shora motion propose ASSEMBLY --kind federation "
            f"--proposal {v['federation']}:{v['proposal_id']} --text …"
        ),
    )


@proposal.command("requests")
@remote
def proposal_requests(client: NodeClient, as_json: bool) -> None:
    """Member councils' requests for a proposal, from their assemblies' public decisions (federation node)."""
    out = client.call("GET", "/v1/admin/proposals/requests")

    def human(v: dict[str, Any]) -> str:
        lines = []
        for r in v["requests"]:
            state = f"published as {r['published_as']}" if r["published_as"] else r["outcome"].upper()
            who = r["name"] or r["council"][:8]
            if not r["admitted"]:
                who += " (not admitted)"
            lines.append(f"{r['decision']} {when(r['ts_ms'])} {who}: {state}")
            lines.append(f"    {shown(r['text'])}")
        return "\n".join(lines) or "no council has requested a proposal"

    emit(as_json, out, human)


def _proposal_lines(p: dict[str, Any]) -> list[str]:
    status = p["status"].upper() if p["status"] == "open" else p["result"]["result"].upper()
    lines = [f"{p['proposal_id']} {status:<8} [{p['rule']}] deadline {when(p['deadline_ms'], seconds=True)}"]
    if "federation_name" in p:  # a council's view
        answered = f"answered by motion {p['motion_id']}" if p["answered"] else "not taken up yet"
        lines.append(f"    from {p['federation_name']}: {answered}; answer with --proposal {p['ref']}")
    lines += [f"    en: {p['text_en']}", f"    fa: {p['text_fa']}"]
    if p.get("requested_by"):
        who = ", ".join(r["name"] or r["council"][:8] for r in p["requested_by"])
        lines.append(f"    requested by: {who}")
    return lines


@proposal.command("list")
@remote
def proposal_list(client: NodeClient, as_json: bool) -> None:
    """A federation's proposals with their results; on a council, the open proposals it may answer."""
    out = client.call("GET", "/v1/admin/proposals")

    def table(v: dict[str, Any]) -> str:
        rows = [line for p in v["proposals"] for line in _proposal_lines(p)]
        for u in v.get("unreadable", []):
            rows.append(f"federation {u['federation']}: unreadable log ({u['message']})")
        return "\n".join(rows) or "no proposals"

    emit(as_json, out, table)


def _result(p: dict[str, Any]) -> str:
    lines = _proposal_lines(p)
    r = p["result"]
    if r is None:
        return "\n".join([*lines, "    no result yet: shora proposal close PROPOSAL after the deadline"])
    t = r["totals"]
    lines.append(
        f"    result {r['result'].upper()}: {t['adopted']} adopted, {t['rejected']} rejected, "
        f"{t['neither']} neither of {t['answered']} answering, {t['admitted']} admitted; "
        f"participants {t['participants_adopted']} for, {t['participants_rejected']} against; "
        f"{t['refused']} refused"
    )
    for a in r["counted"]:
        lines.append(
            f"    counted  {short(a['council'])} {a['name'] or '?':<24} {a['outcome']:<9} "
            f"{a['participants']:>5} participants, decided {when(a['ts_ms'], seconds=True)}"
        )
    for a in r["refused"]:
        lines.append(
            f"    refused  {short(a['council'])} {a['name'] or '?':<24} {a['outcome']:<9} "
            f"reason: {a['reason']}, decided {when(a['ts_ms'], seconds=True)}"
        )
    for u in r.get("not_heard", []):
        lines.append(f"    not heard since the deadline: {short(u['council'])} {u['name'] or '?'}")
    return "\n".join(lines)


@proposal.command("close")
@click.argument("proposal_ref", metavar="PROPOSAL")
@remote
def proposal_close(client: NodeClient, as_json: bool, proposal_ref: str) -> None:
    """After the deadline: count the councils' answers this node holds and publish the signed result."""
    out = client.call("POST", f"/v1/admin/proposals/{proposal_ref}/close")
    emit(as_json, out, _result)


@proposal.command("show")
@click.argument("proposal_ref", metavar="PROPOSAL")
@remote
def proposal_show(client: NodeClient, as_json: bool, proposal_ref: str) -> None:
    """One proposal and its result: which councils were counted, which refused and why."""
    out = client.call("GET", f"/v1/admin/proposals/{proposal_ref}")
    emit(as_json, out, _result)
