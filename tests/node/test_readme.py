"""The README's "Run your council's node" block works as written, on a fresh folder.

Only what cannot run unattended is adapted: the node listens on port 0 (the CLI finds it through
``serve.addr``), `shora serve` runs in the background, and the council key is the one `init` printed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_script() -> str:
    text = README.read_text(encoding="utf-8")
    block = text.split("## Run your council's node", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    block = block.replace("--listen 127.0.0.1:8470", "--listen 127.0.0.1:0")
    block = re.sub(r"^shora init (.*)$", r"KEY=$(shora init \1", block, flags=re.M)
    block = block.replace(
        "--board-seats 3\n",
        "--board-seats 3 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"node_id\"])')\n",
        1,
    )
    block = block.replace("TORONTO=~/shora/toronto\n", "TORONTO=$PWD/toronto\n")  # not the tester's home
    block = block.replace("export SHORA_DIR=~/shora/toronto\n", "export SHORA_DIR=$TORONTO\n")
    block = block.replace(
        'shora serve "$TORONTO"\n',
        'shora serve "$TORONTO" 2>serve.log & SERVER=$!\n'
        "trap 'kill -TERM $SERVER 2>/dev/null || true' EXIT\n"
        'for i in $(seq 200); do [ -f "$TORONTO/serve.addr" ] && break; sleep 0.05; done\n',
    )
    block = block.replace("<the council key printed by init>", "$KEY")
    return "set -euo pipefail\n" + block + "\nkill -TERM $SERVER; wait $SERVER\n"


def test_readme_assembly_runs_as_written(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-c", readme_script()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "VALID decision" in out
    assert "ADOPTED" in out
    assert out.count("3 seats, 1 vacant") == 2  # after the election, and again after the replacement
    # the board's seats numbered once each, in the order the mandates were given (a replacement's winner is
    # rank 0 of its own election, not a second "seat 1")
    first, second = (board.split("\n")[:2] for board in out.split("3 seats, 1 vacant\n")[1:])
    assert [line.split(":")[0] for line in first + second] == ["  seat 1", "  seat 2"] * 2
    assert {line.split(": ")[1].split(" (")[0] for line in first} == {"Shirin Ahmadi", "Leila Karimi"}
    assert second[0].startswith("  seat 1: Shirin Ahmadi") and second[1].startswith("  seat 2: Kaveh Rostami")
    assert not re.search(r"\b1 (entries|members|ballots|participants|seats)\b", out + result.stderr)
    assert (tmp_path / "decision.bundle").exists()
    assert out.count("assembly open: ") == 1  # the second, convened by a board member (--convened-by)


def test_readme_keeps_node_folders_outside_the_repository() -> None:
    # a folder under the clone would hold the council's root key inside the repository
    text = README.read_text(encoding="utf-8")
    assert "TORONTO=~/shora/toronto" in text
    assert not re.search(r"(init|serve|--dir|SHORA_DIR=) ?\./", text)
