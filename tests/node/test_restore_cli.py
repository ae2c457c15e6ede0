"""``shora restore`` as an operator runs it (issue 10): its long steps report their progress on stderr
while stdout keeps the result, and a restore tried before the council's first backup tick says in words
what happened and what to do, and writes nothing. Real nodes on 127.0.0.1, the real command."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from pathlib import Path

from node.backup.keyfile import RECOVERY_FILE
from tests.node.backup_helpers import Live, Start, befriend
from tests.node.test_backup import council_with_backup
from tests.node.test_cli import shora


def restore_args(target: Path, council: Live, *peers: Live) -> list[str | Path]:
    args: list[str | Path] = ["restore", target, "--recovery", council.config.dir / RECOVERY_FILE]
    args += ["--from-peers", "--listen", "127.0.0.1:0"]
    for peer in peers:
        args += ["--peer", peer.url, peer.b64]
    return args


async def test_restore_reports_each_long_step_on_stderr(start_live: Start, tmp_path: Path) -> None:
    a, b, c = await council_with_backup(start_live, 40)
    await a.stop()
    target = tmp_path / "restored"
    done: subprocess.CompletedProcess[str] = await asyncio.to_thread(
        shora, *restore_args(target, a, b, c), "--json"
    )
    value = json.loads(done.stdout)  # stdout: the result alone, one object
    assert done.stdout.count("\n") == 1 and value["segments"] == 3
    lines = done.stderr.splitlines()
    public = value["public_size"]
    for peer in (b, c):  # each peer's public log, up to the size its checkpoint states
        assert f"public log from {peer.url}: {public}/{public} entries" in done.stderr, done.stderr
    assert any(re.fullmatch(r"sealed copy from the peers: 3/3 segments( \(.*/s\))?", line) for line in lines)
    record = value["kept"]["0"]
    assert any(re.match(rf"checking the record: {record}/{record} entries", line) for line in lines), lines
    assert "Traceback" not in done.stderr and "\r" not in done.stderr  # not a terminal: plain lines

    human = await asyncio.to_thread(shora, *restore_args(tmp_path / "again", a, b, c))
    assert f"public log: {public} entries" in human.stdout and "restored the council into" in human.stdout


async def test_a_restore_before_the_first_backup_tick_says_what_to_do(
    start_live: Start, tmp_path: Path
) -> None:
    a, b = await start_live("a"), await start_live("b")
    await befriend(a, b)  # a backup peer, but no tick yet: nothing sealed, nothing sent
    await b.operator.request("POST", "/v1/admin/sync")  # b holds a's public log
    await a.stop()
    target = tmp_path / "restored"
    done: subprocess.CompletedProcess[str] = await asyncio.to_thread(
        shora, *restore_args(target, a, b), code=1
    )
    message = " ".join(done.stderr.split())
    assert done.stderr.splitlines()[-1].startswith(
        "shora: restore-no-copy: no peer named holds a sealed copy of this council yet "
        "(1 peer named, 1 answered)"
    ), message
    assert "backup tick" in message and "--from-file FILE" in message and "Nothing was written" in message
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not target.exists()

    # the peer that never held the public log: said per peer, in words
    stranger = await start_live("stranger")
    done = await asyncio.to_thread(shora, *restore_args(target, a, stranger), code=1)
    message = " ".join(done.stderr.split())
    assert (
        f"no peer gave the public log back ({stranger.url}: refused: it does not know this council as a peer"
        in message
    ), message
    assert not target.exists()
    refused = await asyncio.to_thread(shora, *restore_args(target, a, b), "--json", code=1)
    assert json.loads(refused.stdout)["error"] == "restore-no-copy"
    assert "shora:" not in refused.stderr  # the refusal on stdout only; stderr has the progress lines


def test_restore_usage_mistakes_exit_2_and_write_nothing(tmp_path: Path) -> None:
    from tests.node.test_cli import init, usage_error

    init(tmp_path / "old")
    recovery = tmp_path / "old" / RECOVERY_FILE
    target = tmp_path / "restored"
    peer = ["--peer", "http://127.0.0.1:9", "A" * 43]
    both = usage_error(
        "restore", target, "--recovery", recovery, "--from-peers", "--from-file", recovery, *peer
    )
    assert "--from-file FILE or --from-peers (one of them)" in both
    assert "--from-file FILE or --from-peers" in usage_error("restore", target, "--recovery", recovery, *peer)
    assert "--peer URL KEY" in usage_error("restore", target, "--recovery", recovery, "--from-peers")
    assert not target.exists()
