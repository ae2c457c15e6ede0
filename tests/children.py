"""Helper processes of a node (signing, verifying) must leave when the node is killed: checked for real."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def wait_gone(pids: list[int], within_s: float) -> list[int]:
    """Wait until every process in ``pids`` has exited (a zombie its new parent has not reaped yet has);
    return those still running after ``within_s``. Waits on each process's pidfd, which becomes readable
    when it exits: no polling."""
    deadline = time.monotonic() + within_s
    alive = []
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue  # exited and reaped already
        try:
            if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                alive.append(pid)
        finally:
            os.close(fd)
    return alive


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


def kill_and_expect_children_gone(code: str, what: str, within_s: float = 60.0) -> None:
    """Run ``code`` (which prints the pids of its helper processes on one line, then waits), SIGKILL it,
    and fail unless every helper has exited within ``within_s``."""
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    children = [int(pid) for pid in parent.stdout.readline().split()]
    assert children, "the process started no helpers"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    if alive := wait_gone(children, within_s):
        pytest.fail(f"{what} {alive} outlived the node")
