"""Looking after a node: ``shora doctor`` (checks a data folder and the node serving it) and ``shora
status`` (the running node's health at a glance)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from node import config as cfg
from node.cli.base import cli, data_folder, dir_option, emit, json_option, plural, remote, short, when
from node.cli.client import NodeClient
from node.ops.doctor import examine
from node.ops.progress import Progress


@cli.command()
@dir_option
@json_option
def doctor(data_dir: Path | None, as_json: bool) -> None:
    """Check a data folder and its node: file modes, the database, the whole log from entry 0, its
    checkpoint, peers and their clocks, the HTTP parser, free disk. Exit 0 when all is well, else 1."""
    data_dir = data_folder(data_dir)  # --dir, shora --dir, SHORA_DIR or the current folder
    cfg.load(data_dir)  # a clear message for a folder that is not a node's
    bar = Progress("verifying the log", None)
    findings = examine(data_dir, lambda done, total: bar.update(done, total))
    if bar.done:
        bar.finish()
    problems = [f for f in findings if not f.ok]
    value = {"ok": not problems, "findings": [f.to_json() for f in findings]}

    def human(v: dict[str, Any]) -> str:
        rows = []
        for f in findings:
            rows.append(f"{'ok' if f.ok else 'PROBLEM':<8} {f.check:<11} {f.message}")
            if f.fix:
                rows.append(f"{'':<20} what to do: {f.fix}")
        verdict = "all is well" if not problems else f"{plural(len(problems), 'problem')} found"
        return "\n".join([*rows, "", verdict])

    emit(as_json, value, human)
    if problems:
        sys.exit(1)


@cli.command()
@remote
def status(client: NodeClient, as_json: bool) -> None:
    """The running node's health at a glance: uptime, its log and checkpoint, peers, disk, warnings."""
    value = client.call("GET", "/v1/admin/status")

    def human(v: dict[str, Any]) -> str:
        log = v["log"]
        age = log["checkpoint_age_s"]
        rows = [
            f"node        {short(v['node_id'])} ({v['kind']}), "
            f"up since {when(v['started_ms'], seconds=True)}",
            f"own log     {plural(log['size'], 'entry', 'entries')}; "
            f"newest checkpoint covers {log['checkpoint_size']}"
            + (f", signed {_age(age)} ago" if age is not None else ""),
            f"cosigned    by {plural(log['cosignatures'], 'witness', 'witnesses')}",
            f"peers       {_peer_counts(v['peers'])}",
        ]
        for p in v["peers"]:
            lag = "?" if p["lag"] is None else p["lag"]
            rows.append(f"  {short(p['node_id']):<12} {p['status']:<9} lag {lag}  {p['url']}")
        rows.append(f"disk        {v['disk']['free_mib']:,} MiB free")
        rows += _backup_rows(v["kind"], v["backup"], v["now_ms"])
        for warning in v["warnings"]:
            rows.append(f"WARNING     {warning}")
        if not v["warnings"]:
            rows.append("no warnings")
        return "\n".join(rows)

    emit(as_json, value, human)


def _backup_rows(kind: str, backup: dict[str, Any] | None, now: int) -> list[str]:
    """The sealed backup in words: what is sealed, when the next tick is, each backup peer's last push."""
    if backup is None:
        if kind == "federation":
            return [
                "backup      none: `shora restore` brings back councils only; a federation body's log and "
                "roster are held by its peers"
            ]
        return ["backup      none: this node has no backup key (made before sealed backups existed)"]
    due = max(0, (backup["next_tick_ms"] - now) // 1000)
    rows = [
        f"backup      {plural(backup['sealed'], 'segment')} sealed; next tick in {_age(due)} "
        f"(every {_age(int(backup['interval_s']))})"
    ]
    if not backup["peers"]:
        rows.append(
            "  no backup peer yet: nothing is sealed or sent. Add one: shora backup-peers add KEY URL"
        )
    for p in backup["peers"]:
        rows.append(f"  {short(p['node_id']):<12} holds {p['held']} of {backup['sealed']}  {p['url']}")
        rows.append(f"  {'':<12} last push: {_push_words(p['last_push'])}")
    return rows


def _push_words(push: dict[str, Any] | None) -> str:
    if push is None:
        return "none yet (the first one comes with the next tick)"
    at = when(push["at_ms"], seconds=True)
    if push["sent"]:
        first, last = push["held_before"], push["held"] - 1
        what = f"segment {first}" if first == last else f"segments {first}–{last}"
    else:
        what = "nothing new to send"
    if push["ok"]:
        return f"{at}, {what}, ok: it holds all {plural(push['sealed'], 'segment')}"
    sent = f"{what}, then " if push["sent"] else ""
    return f"{at}, {sent}FAILED: {push['failure']}"


def _peer_counts(peers: list[dict[str, Any]]) -> str:
    if not peers:
        return "none yet (shora peers add URL KEY)"
    counts: dict[str, int] = {}
    for p in peers:
        counts[p["status"]] = counts.get(p["status"], 0) + 1
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


def _age(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
