"""``shora keys``: the keys a node holds over time — list them, and replace the operator key."""

from __future__ import annotations

import os
from typing import Any

import click

from node import config as cfg
from node.cli.base import cli, emit, remote
from node.cli.client import NodeClient
from node.errors import CliError
from protocol.codec import b64u as b64
from protocol.keys import SigningKey, load_signing_key, save_signing_key

PENDING = cfg.OPERATOR_KEY + ".new"  # the next operator key, until the node has accepted it


@cli.group()
def keys() -> None:
    """The node's keys: root, signing and operator, and when each was added or revoked."""


@keys.command("list")
@remote
def keys_list(client: NodeClient, as_json: bool) -> None:
    """Every key with its role, and the log position it was added and revoked at."""
    value = client.call("GET", "/v1/admin/keys")

    def table(v: dict[str, Any]) -> str:
        rows = [f"{'role':<9} {'added at':>8} {'revoked':>16}  key"]
        for k in v["keys"]:
            added = "-" if k["added_seq"] is None else f"#{k['added_seq']}"
            revoked = "-"
            if k["revoked_seq"] is not None:
                revoked = f"#{k['revoked_seq']}" + (
                    f" from #{k['revoked_from']}" if k["revoked_from"] != k["revoked_seq"] else ""
                )
            now = "  (signs now)" if k["signs_now"] else ""
            rows.append(f"{k['role']:<9} {added:>8} {revoked:>16}  {k['key']}{now}")
        return "\n".join(rows)

    emit(as_json, value, table)


@keys.command("rotate")
@remote
def rotate(client: NodeClient, as_json: bool) -> None:
    """Replace the signing key: the root key adds a fresh one and revokes the one signing until now."""
    value = client.call("POST", "/v1/admin/keys/rotate", {})

    def human(v: dict[str, Any]) -> str:
        line = f"the node now signs with {v['added']} (added at #{v['added_seq']})"
        if v["revoked"]:
            line += f"; {v['revoked']} is revoked at #{v['revoked_seq']}"
        return line

    emit(as_json, value, human)


@keys.command("revoke")
@click.argument("key")
@click.option(
    "--from",
    "start",
    default="now",
    show_default=True,
    metavar="SEQ|now",
    help="the first log position the key is invalid at: where it may have been stolen, or now",
)
@remote
def revoke(client: NodeClient, as_json: bool, key: str, start: str) -> None:
    """Revoke a signing key (a compromised one) from a log position on. Entries it signed from there no
    longer verify; if the node signs with it, it gets a fresh key first."""
    if start != "now" and not start.isdigit():
        raise CliError(f"--from {start!r}: give a log position (a whole number) or 'now'")
    value = client.call(
        "POST", "/v1/admin/keys/revoke", {"key": key, "from": start if start == "now" else int(start)}
    )

    def human(v: dict[str, Any]) -> str:
        line = f"{v['revoked']} is revoked from #{v['from']} (entry #{v['revoked_seq']})"
        if v["added"]:
            line += f"; the node now signs with {v['added']}"
        return line

    emit(as_json, value, human)


@keys.command("operator-rotate")
@remote
def operator_rotate(client: NodeClient, as_json: bool) -> None:
    """Replace the operator key (the one admin requests are signed with): a new key is made, the node is
    told with a request signed by the old one, and the old one is then worthless."""
    folder = client.config.dir
    pending = folder / PENDING
    if pending.exists():
        # a rotation that stopped half-way: the node may already trust the pending key
        if load_signing_key(pending).public.raw == cfg.load(folder).operator_key:
            os.replace(pending, folder / cfg.OPERATOR_KEY)
            emit(
                as_json,
                {"operator_key": client.config.operator_key},
                lambda _: "finished an earlier rotation",
            )
            return
        pending.unlink()
    new = SigningKey.generate()
    save_signing_key(new, pending)
    try:
        client.call("POST", "/v1/admin/keys/operator", {"key": b64(new.public.raw)})
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    os.replace(pending, folder / cfg.OPERATOR_KEY)
    emit(
        as_json,
        {"operator_key": new.public.raw},
        lambda v: f"the operator key is now {b64(v['operator_key'])}; the old one is refused from now on",
    )
