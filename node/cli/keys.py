"""``shora keys``: the keys a node holds over time — list them, and replace the operator key."""

from __future__ import annotations

import os
from typing import Any

from node import config as cfg
from node.cli.base import b64, cli, emit, remote
from node.cli.client import NodeClient
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
        rows = [f"{'role':<9} {'added at':>8} {'revoked at':>10}  key"]
        for k in v["keys"]:
            added = "-" if k["added_seq"] is None else f"#{k['added_seq']}"
            revoked = "-" if k["revoked_seq"] is None else f"#{k['revoked_seq']}"
            rows.append(f"{k['role']:<9} {added:>8} {revoked:>10}  {k['key']}")
        return "\n".join(rows)

    emit(as_json, value, table)


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
