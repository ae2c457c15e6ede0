"""Sealed backups on the command line: ``backup-peers``, ``backup`` and ``restore`` (README, "Backups").

``backup-peers`` and ``backup`` talk to the running node; ``restore`` works locally and makes a new data
folder from the recovery file, the council's peers and (optionally) a backup file.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from node import config as cfg
from node.backup.fetch import PeerRef
from node.backup.keyfile import read_recovery, write_private
from node.backup.restore import restore
from node.cli.base import cli, emit, json_option, plural, remote, short
from node.cli.client import NodeClient
from node.errors import CliError
from protocol import codec
from protocol.errors import DecodeError


@cli.group("backup-peers")
def backup_peers() -> None:
    """The peers that hold this council's sealed backup (they cannot read it)."""


@backup_peers.command("add")
@click.argument("key")
@click.argument("url")
@remote
def backup_peers_add(client: NodeClient, as_json: bool, key: str, url: str) -> None:
    """Ask the peer KEY at URL to hold our sealed segments (it must trust us as a peer)."""
    out = client.call("POST", "/v1/admin/backup-peers", {"key": key, "url": url})
    emit(as_json, out, lambda v: f"backup peer added: {v['node_id']} at {v['url']}")


@backup_peers.command("list")
@remote
def backup_peers_list(client: NodeClient, as_json: bool) -> None:
    """The backup peers, how many sealed segments each holds and how far behind it is."""
    out = client.call("GET", "/v1/admin/backup-peers")

    def table(v: dict[str, Any]) -> str:
        rows = [f"segments sealed: {v['sealed']}", f"{'peer':<12} {'held':>6} {'behind':>6} url"]
        rows += [f"{short(p['node_id']):<12} {p['held']:>6} {p['behind']:>6} {p['url']}" for p in v["peers"]]
        if not v["peers"]:
            rows.append("(none: add one with `shora backup-peers add KEY URL`)")
        return "\n".join(rows)

    emit(as_json, out, table)


@backup_peers.command("remove")
@click.argument("key")
@remote
def backup_peers_remove(client: NodeClient, as_json: bool, key: str) -> None:
    """Stop pushing sealed segments to the peer KEY (what it holds stays there, unreadable)."""
    out = client.call("POST", "/v1/admin/backup-peers/remove", {"key": key})
    emit(as_json, out, lambda v: f"backup peer removed: {v['node_id']}")


@cli.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@remote
def backup(client: NodeClient, as_json: bool, file: Path) -> None:
    """Write a sealed backup of the record and directory to FILE (mode 0600) while the node runs."""
    if file.exists():
        raise CliError(f"{file} exists; a backup never overwrites a file")
    data: bytes = client.call("POST", "/v1/admin/backup", raw=True)
    write_private(file, data)
    emit(
        as_json,
        {"file": str(file), "bytes": len(data)},
        lambda v: (
            f"sealed backup written to {v['file']} ({v['bytes']} bytes); it opens only with the recovery file"
        ),
    )


def _peer(url: str, key: str) -> PeerRef:
    try:
        return PeerRef(url.rstrip("/"), codec.unb64u(key, 32))
    except DecodeError as exc:
        raise CliError(f"--peer URL KEY: the key is a 32-byte key in base64url ({exc})") from exc


@cli.command("restore")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--recovery",
    "recovery_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the council's recovery file (written by `shora init`)",
)
@click.option(
    "--from-file",
    "from_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a sealed backup written by `shora backup`",
)
@click.option("--from-peers", is_flag=True, help="take the sealed copy back from the peers")
@click.option(
    "--peer",
    "peers",
    nargs=2,
    multiple=True,
    metavar="URL KEY",
    help="a peer of the council (they give the public log back, and hold the sealed copy); repeatable",
)
@click.option("--listen", default=cfg.DEFAULT_LISTEN, show_default=True, help="HOST:PORT to serve on")
@click.option("--url", default=None, help="the public URL peers and members reach (default: http://LISTEN)")
@json_option
def restore_command(
    directory: Path,
    recovery_file: Path,
    from_file: Path | None,
    from_peers: bool,
    peers: tuple[tuple[str, str], ...],
    listen: str,
    url: str | None,
    as_json: bool,
) -> None:
    """Bring a council's node back into the new folder DIRECTORY."""
    if (from_file is None) == (not from_peers):
        raise click.UsageError(
            "say where the record comes from: --from-file FILE or --from-peers (one of them)"
        )
    if not peers:
        raise click.UsageError(
            "name the council's peers with --peer URL KEY (repeatable): they give its public log back"
        )
    recovery = read_recovery(recovery_file)
    refs = [_peer(u, k) for u, k in peers]
    outcome = asyncio.run(
        restore(
            directory,
            recovery,
            refs,
            backup_file=from_file.read_bytes() if from_file else None,
            listen=listen,
            url=url,
            progress=sys.stderr,  # stdout stays the result (one object with --json)
        )
    )
    value = {
        "dir": str(directory),
        "node_id": outcome.council,
        "public_size": outcome.public_size,
        "kept": {str(e): n for e, n in outcome.kept.items()},
        "epoch": outcome.gap_epoch,
        "lost_public": outcome.lost_public,
        "members": outcome.members,
        "segments": outcome.segments,
        "refused": [{"peer": p, "index": i, "step": s} for p, i, s in outcome.refused],
    }

    def human(v: dict[str, Any]) -> str:
        kept = ", ".join(f"epoch {e}: {plural(n, 'entry', 'entries')}" for e, n in v["kept"].items())
        lines = [
            f"restored the council into {v['dir']}",
            f"  public log: {plural(v['public_size'], 'entry', 'entries')}, taken back from peers",
            f"  record kept: {kept}; it goes on in epoch {v['epoch']}, opened by a signed gap entry",
            f"  members in the directory: {v['members']}",
        ]
        if v["lost_public"]:
            lines.append("  the public log names a record entry written after the last sealed copy: lost")
        for r in v["refused"]:
            peer = short(codec.b64u(r["peer"]))
            lines.append(f"  refused a copy of segment {r['index']} from {peer}: {r['step']}")
        lines.append(
            "  a new operator key (operator.key in the folder): the lost machine's one is not accepted"
        )
        lines.append(f"start it with: shora serve {v['dir']}")
        return "\n".join(lines)

    emit(as_json, value, human)
