"""Helpers of ``make mutation`` (docs/mutation.md): the test command mutmut runs, and the counts it reports.

    python -m tests.mutation pytest tests/protocol/test_merkle.py   the tests, as mutmut's runner
    python -m tests.mutation serve SOCKET                           the fork server the runner may use
    python -m tests.mutation summary protocol/merkle.py             counts read from mutmut's cache

mutmut 2 counts a mutant as killed only when its runner exits with status 1; pytest exits with 2 when a
mutant breaks collection (an import-time error), which mutmut would count as a survivor. The runner maps
every failure to 1. It runs the example tests before the hypothesis properties (see ``run_tests``).

A mutant's tests take a second or two; starting Python, pytest and its plugins, and compiling what they
import (mutmut turns bytecode caching off) took as long again. So ``make mutation`` starts a fork server
first (``serve``) that imports pytest, hypothesis and the other third-party packages once, and never any
module of this project: for each mutant the runner hands it the command and its own stdin, stdout and
stderr, and a child forked from it runs pytest, importing every project module fresh from the mutated
tree — the same tests on the same files as a runner of its own. The child is killed if the runner goes
away (mutmut's timeout). Without ``MUTATION_SERVER`` in the environment the runner runs pytest itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sqlite3
import sys
from collections import Counter
from typing import Any

# mutmut 2's statuses, as docs/mutation.md names them
NAMES = {
    "ok_killed": "killed",
    "bad_timeout": "timeout",
    "ok_suspicious": "suspicious",
    "bad_survived": "survived",
    "untested": "not run",
    "skipped": "skipped",
}


SERVER_ENV = "MUTATION_SERVER"  # the fork server's socket path, if one runs
# Imported once by the fork server: third-party only, so no project module is ever inherited by a child.
WARM = ("pytest", "hypothesis", "pytest_asyncio", "aiohttp", "msgpack", "nacl.signing",
        "cryptography.hazmat.primitives.asymmetric.ed25519", "unicodedata")  # fmt: skip
PROJECT = ("protocol", "federation", "node", "deploy")


def run(args: list[str]) -> int:
    """The runner: through the fork server when one runs, else in this process."""
    path = os.environ.get(SERVER_ENV)
    if path and os.path.exists(path):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(path)
            request = json.dumps({"cwd": os.getcwd(), "args": args}).encode()
            socket.send_fds(conn, [request], [0, 1, 2])
            answer = conn.recv(16)
        return 1 if answer != b"0" else 0
    return run_tests(args)


def serve(path: str) -> int:
    """The fork server: one request at a time, each run by a child with the caller's stdio."""
    import importlib

    for name in WARM:
        with contextlib.suppress(ImportError):  # only ever a head start
            importlib.import_module(name)
    assert not [m for m in sys.modules if m.split(".")[0] in PROJECT], "the server imported project code"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen(1)
        try:
            while True:
                conn, _ = listener.accept()
                with conn:
                    _serve_one(conn)
        finally:
            os.unlink(path)


def _serve_one(conn: socket.socket) -> None:
    data, fds, _, _ = socket.recv_fds(conn, 65536, 3)
    request = json.loads(data)
    pid = os.fork()
    if pid == 0:  # the child: the caller's directory and stdio, then pytest
        status = 1
        try:
            os.chdir(request["cwd"])
            sys.path[0] = request["cwd"]  # as ``python -m`` from there
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
            status = run_tests(request["args"])
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    for fd in fds:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([pidfd, conn], [], [])
        if pidfd not in ready:  # the runner went away (mutmut's timeout): so does its child
            os.kill(pid, signal.SIGKILL)
        _, wait_status = os.waitpid(pid, 0)
    finally:
        os.close(pidfd)
    code = os.waitstatus_to_exitcode(wait_status)
    with contextlib.suppress(OSError):
        conn.sendall(b"0" if code == 0 else b"1")


def run_tests(args: list[str]) -> int:
    """The tests against the current mutant: 0 if all pass, 1 if any fails. The example tests run before
    the hypothesis properties (most of the time), so a mutant the examples kill costs little; the verdict is
    the same as that of any order."""
    import pytest

    quiet = ["-W", "ignore::pytest.PytestAssertRewriteWarning"]  # the fork server imported the plugins
    status = pytest.main(["-x", "-q", "-p", "no:cacheprovider", *quiet, *args], plugins=[_ExamplesFirst()])
    return 0 if status == pytest.ExitCode.OK else 1


class _ExamplesFirst:
    """A pytest plugin: tests marked ``hypothesis`` (every ``@given``) run after all the others."""

    @staticmethod
    def pytest_collection_modifyitems(items: list[Any]) -> None:
        items.sort(key=lambda item: item.get_closest_marker("hypothesis") is not None)


def summary(module: str, cache: str = ".mutmut-cache") -> Counter[str]:
    with sqlite3.connect(cache) as db:
        rows = db.execute(
            "SELECT mutant.status FROM mutant JOIN line ON mutant.line = line.id"
            " JOIN sourcefile ON line.sourcefile = sourcefile.id WHERE sourcefile.filename = ?",
            (module,),
        ).fetchall()
    return Counter(NAMES.get(status, status) for (status,) in rows)


def print_summary(modules: list[str]) -> int:
    for module in modules:
        counts = summary(module)
        total = sum(counts.values())
        # a timeout is a mutant the tests stopped (an endless loop): killed
        killed = counts["killed"] + counts["timeout"] + counts["suspicious"]
        parts = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
        print(f"{module}: {total} mutants ({parts}); killed {killed}, survived {counts['survived']}")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["pytest"]:
        return run(argv[1:])
    if argv[:1] == ["serve"] and len(argv) == 2:
        return serve(argv[1])
    if argv[:1] == ["summary"]:
        return print_summary(argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
