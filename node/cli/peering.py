"""The commands about this node's peers: the nodes it replicates and witnesses, and a gossip round now."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from node.cli.base import cli, dir_option, emit, json_option, plural, remote, short, when
from node.cli.client import NodeClient
from node.errors import CliError


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
