"""Helper processes of a node (signing, verifying) must leave when the node is killed: checked for real."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def running(pid: int) -> bool:
    """``pid`` exists and has not exited (a zombie waiting for its new parent to reap it has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def kill_and_expect_children_gone(code: str, what: str, within_s: float = 15.0) -> None:
    """Run ``code`` (which prints the pids of its helper processes on one line, then waits), SIGKILL it,
    and fail unless every helper has exited within ``within_s``."""
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    children = [int(pid) for pid in parent.stdout.readline().split()]
    assert children, "the process started no helpers"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + within_s
    while alive := [pid for pid in children if running(pid)]:
        if time.monotonic() > deadline:
            pytest.fail(f"{what} {alive} outlived the node")
        time.sleep(0.05)
