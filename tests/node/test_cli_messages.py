"""What a person reads from ``shora``: every refusal in words, saying what to do, never Python.

One scripted session runs the console script the way an operator would — two councils and a federation
served by ``shora serve``, every mistake the issue lists, and the ordinary commands around them — and keeps
everything printed: stdout, stderr and each node's log. The tests below read that record: each mistake
has its message and exit status, and nothing anywhere shows a traceback, a repr or an exception's name.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest

from node.cli.main import cli
from protocol import codec
from protocol.keys import SigningKey
from tests.node.test_cli import INIT, SHORA, start_serving, stop_serving


@dataclass
class Run:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def said(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> dict[str, object]:
        assert self.stdout.count("\n") == 1, self.stdout
        value: dict[str, object] = json.loads(self.stdout)
        return value


@dataclass
class Session:
    """Everything the session printed, by the command that printed it, and every node's log."""

    runs: list[Run] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def shora(
        self, *args: str | Path, home: Path | None = None, code: int = 0, cwd: Path | None = None
    ) -> Run:
        env = {k: v for k, v in os.environ.items() if k != "SHORA_DIR"}
        if home is not None:
            env["SHORA_DIR"] = str(home)
        assert SHORA is not None
        done = subprocess.run(
            [SHORA, *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
            cwd=cwd,
        )
        run = Run(tuple(map(str, args)), done.returncode, done.stdout, done.stderr)
        self.runs.append(run)
        assert run.code == code, (args, run.code, run.stdout, run.stderr)
        return run

    def refused(self, *args: str | Path, home: Path | None = None, cwd: Path | None = None) -> str:
        """Exit 1, ``shora: why`` on stderr, nothing on stdout; and with ``--json`` the reverse."""
        run = self.shora(*args, home=home, code=1, cwd=cwd)
        assert run.stdout == "" and run.stderr.startswith("shora: "), run
        as_json = self.shora("--json", *args, home=home, code=1, cwd=cwd)
        assert as_json.stderr == "", as_json
        error = as_json.json()
        assert set(error) == {"error", "message"}
        assert re.fullmatch(r"[a-z0-9]+([.-][a-z0-9]+)*", str(error["error"])), error
        return run.stderr

    def usage(self, *args: str | Path, home: Path | None = None) -> str:
        run = self.shora(*args, home=home, code=2)
        assert "Error:" in run.stderr and run.stdout == "", run
        return run.stderr


def b64_of(run: Run, key: str) -> str:
    return str(run.json()[key])


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    tmp = tmp_path_factory.mktemp("session")
    s = Session()
    servers: list[tuple[subprocess.Popen[bytes], Path]] = []

    def serve(home: Path, name: str) -> None:
        servers.append((start_serving(home, tmp / f"{name}.log"), home))

    try:
        _script(s, tmp, serve)
    finally:
        for server, home in servers:
            if server.poll() is None:
                stop_serving(server, home)
        for log in tmp.glob("*.log"):
            s.logs[log.stem] = log.read_text(encoding="utf-8", errors="replace")
    yield s


def _script(s: Session, tmp: Path, serve: object) -> None:  # one operator's afternoon
    assert callable(serve)
    # --- init: bad values are refused (a bad --quorum by the shared parser) before anything is written
    for quorum in ("0", "5/3", "1/0", "-1", "abc"):
        said = s.refused("init", tmp / "bad", *INIT, "--quorum", quorum)
        assert "--quorum" in said and "Traceback" not in said
    s.ids["bad-country"] = s.usage("init", tmp / "bad", *INIT[:-4], "--country", "Germany", *INIT[-2:])
    s.ids["long-name"] = s.refused(
        "init", tmp / "bad", "--name", "x" * 201, "--city", "X", "--country", "DE", "--continent", "Europe"
    )
    assert not (tmp / "bad").exists()

    toronto, ottawa, canada = tmp / "toronto", tmp / "ottawa", tmp / "canada"
    for home, profile in (
        (toronto, INIT),
        (ottawa, ["--name", "Ottawa Council", "--city", "Ottawa", "--country", "ca", *INIT[-2:]]),
        (canada, ["--kind", "federation", "--name", "Canada", "--country", "CA", *INIT[-2:]]),
    ):
        created = s.shora("init", home, *profile, "--listen", "127.0.0.1:0", "--json")
        s.ids[home.name] = b64_of(created, "node_id")

    # --- a forgotten SHORA_DIR: say where we looked and how to point at the right folder
    s.ids["no-dir"] = s.refused("member", "list", cwd=tmp)

    serve(toronto, "toronto")
    serve(ottawa, "ottawa")
    serve(canada, "canada")
    # serving a folder twice, and a port another node holds
    s.ids["twice"] = s.refused("serve", toronto)
    busy = tmp / "busy"
    address = (toronto / "serve.addr").read_text().strip()
    s.shora("init", busy, *INIT, "--listen", address)
    s.ids["port"] = s.refused("serve", busy)

    # --- the group-level --dir and --json, and the command-level ones
    for name in ("Ava", "Babak", "Chris"):
        s.shora("--dir", toronto, "member", "join", "--name", name)
    assert len(s.shora("--json", "member", "list", home=toronto).json()["members"]) == 3  # type: ignore[arg-type]
    assert "Babak" in s.shora("member", "list", "--dir", toronto).stdout
    assert "Babak" in s.shora("--dir", toronto, "member", "list").stdout

    s.shora("assembly", "open", "--agenda", "Spring", home=toronto)
    s.shora("assembly", "attend", "current", "Ava", "Babak", "Chris", home=toronto)
    s.ids["empty-text"] = s.usage("motion", "propose", "current", "--text", " ", home=toronto)
    s.ids["quorum-abc"] = s.refused(
        "motion",
        "propose",
        "current",
        "--kind",
        "rules",
        "--quorum",
        "abc",
        "--text",
        "New rules",
        home=toronto,
    )
    rally = str(s.shora("motion", "propose", "current", "--text", "Hold a rally", "--json", home=toronto)
                .json()["motion_id"])  # fmt: skip
    s.ids["yse"] = s.refused("vote", rally, "Ava", "yse", home=toronto)
    for member in ("Ava", "Babak"):
        s.shora("vote", rally, member, "yes", home=toronto)
    s.shora("vote", rally, "Chris", "no", home=toronto)
    s.ids["closed"] = s.shora("motion", "close", rally, home=toronto).stdout
    for member in ("Ava", "Babak"):  # each consents to stand (issue 13)
        s.shora("assembly", "consent", "current", member, home=toronto)
    election = str(
        s.shora(
            "motion", "propose", "current", "--kind", "election", "--seats", "2", "--candidate", "Ava",
            "--candidate", "Babak", "--text", "Elect the board", "--json", home=toronto,
        ).json()["motion_id"]
    )  # fmt: skip
    s.shora("vote", election, "Ava", "Ava", "Babak", home=toronto)
    s.shora("vote", election, "Babak", "Babak", home=toronto)
    s.shora("vote", election, "Chris", "Babak", "Ava", home=toronto)  # Ava: 2 of 3 ballots (issue 13)
    s.ids["elected"] = s.shora("motion", "close", election, home=toronto).stdout
    s.ids["board"] = s.shora("board", home=toronto).stdout
    s.shora("assembly", "close", "current", home=toronto)
    s.ids["assemblies"] = s.shora("assembly", "list", home=toronto).stdout
    s.ids["convene"] = s.refused("assembly", "open", "--agenda", "Autumn", home=toronto)
    s.shora("assembly", "open", "--agenda", "Autumn", "--convened-by", "Babak", home=toronto)

    # --- a bundle, whole and cut short; a folder that does not exist
    bundle = tmp / "rally.bundle"
    decision = str(s.shora("decisions", "--json", home=toronto).json()["decisions"][-1]["decision_id"])  # type: ignore[index]
    s.shora("bundle", decision, "-o", bundle, home=toronto)
    cut = tmp / "cut.bundle"
    cut.write_bytes(bundle.read_bytes()[: bundle.stat().st_size // 2])
    s.ids["truncated"] = s.refused("verify", cut, "--council", s.ids["toronto"])
    s.ids["verified"] = s.shora("verify", bundle, "--council", s.ids["toronto"]).stdout
    s.ids["no-folder"] = s.refused("bundle", decision, "-o", tmp / "nowhere" / "x.bundle", home=toronto)

    # --- commands sent to the wrong kind of node
    s.ids["council-asked"] = s.refused("federation", "roster", home=toronto)
    s.ids["federation-asked"] = s.refused("member", "list", home=canada)
    s.ids["no-reason"] = s.usage("federation", "admit", s.ids["toronto"], home=canada)

    # --- peers and sync: counts of this sync, a peer that does not exist, removing it
    ottawa_url = "http://" + (ottawa / "serve.addr").read_text().strip()
    toronto_url = "http://" + address
    s.shora("peers", "add", ottawa_url, s.ids["ottawa"], home=toronto)
    s.shora("peers", "add", toronto_url, s.ids["toronto"], home=ottawa)
    s.ids["sync-1"] = s.shora("sync", home=toronto).stdout
    s.ids["sync-2"] = s.shora("sync", home=toronto).stdout
    dead = codec.b64u(SigningKey.generate().public.raw)  # a key nobody serves
    s.ids["dead"] = dead
    s.shora("peers", "add", "http://127.0.0.1:9", dead, home=toronto)
    s.ids["sync-dead"] = s.refused("sync", home=toronto)
    s.ids["peers"] = s.shora("peers", home=toronto).stdout
    s.ids["peers-json"] = s.shora("--json", "peers", home=toronto).stdout
    s.shora("peers", "--dir", toronto, "remove", dead[:8])
    s.ids["sync-after"] = s.shora("sync", home=toronto).stdout
    s.ids["sync-own"] = s.shora("sync", "--own", home=toronto).stdout
    s.ids["unknown-peer"] = s.refused("peers", "remove", "zzzzzz", home=toronto)

    # --- a node that is not running
    idle = tmp / "idle"
    s.shora("init", idle, *INIT, "--listen", "127.0.0.1:9")
    s.ids["down"] = s.refused("member", "list", home=idle)


# --- each mistake has its message ---


def test_init_refuses_bad_values_in_words(session: Session) -> None:
    assert "Germany is DE" in session.ids["bad-country"]
    assert "limited to 200 characters" in session.ids["long-name"]
    said = {r.args[-1]: r.stderr for r in session.runs if "--quorum" in r.args and r.args[0] == "init"}
    assert "at least 1" in said["0"] and "at least 1" in said["-1"]
    assert "0 < num <= den" in said["5/3"] and "0 < num <= den" in said["1/0"]
    assert "a count (12) or a fraction" in said["abc"]


def test_messages_say_what_to_do_next(session: Session) -> None:
    ids = session.ids
    assert (
        "--dir DIR" in ids["no-dir"]
        and "SHORA_DIR" in ids["no-dir"]
        and "data folders in it: " in ids["no-dir"]
    )
    assert "another node already runs on this folder" in ids["twice"]
    assert "another node already runs on this port" in ids["port"]
    assert "--convened-by MEMBER" in ids["convene"]
    assert "choice must be yes, no or abstain, not yse" in ids["yse"]
    assert "incomplete or damaged" in ids["truncated"] and "NOT VALID" in ids["truncated"]
    assert "this is a council node; this command is for a federation" in ids["council-asked"]
    assert "this is a federation node; this command is for a council" in ids["federation-asked"]
    assert "cannot reach the node at http://" in ids["down"] and "is `shora serve" in ids["down"]
    assert "nowhere" in ids["no-folder"] and "no such file or directory" in ids["no-folder"]
    assert "--reason" in ids["no-reason"]
    assert "--text" in ids["empty-text"] and "--quorum" in ids["quorum-abc"]


def test_results_are_true_and_in_words(session: Session) -> None:
    ids = session.ids
    assert "tally: yes 2, no 1, abstain 0" in ids["closed"]
    assert "elected: Babak" in ids["elected"] and "elected: Ava" in ids["elected"]
    assert "Babak 3, Ava 2 (3 ballots)" in ids["elected"]
    board = ids["board"].splitlines()
    assert board[0] == "3 seats, 1 vacant"
    assert [line.split(":")[0].strip() for line in board[1:]] == ["seat 1", "seat 2"]
    assert "Babak" in board[1] and "Ava" in board[2]
    assert "closed, 3 participants" in ids["assemblies"] and "3 votes — Hold a rally" in ids["assemblies"]
    assert "yes 2, no 1, abstain 0" in ids["verified"]
    # gossip may have pulled Ottawa's log before the first sync; the second has nothing left to pull, and says
    # so (a running total since start would repeat the first count)
    assert re.fullmatch(r"(1 entry|\d+ entries) pulled from 1 peer\n", ids["sync-1"]), ids["sync-1"]
    assert ids["sync-2"].strip() == "0 entries pulled from 1 peer"
    held = {p["node_id"]: p["held"] for p in json.loads(ids["peers-json"])["peers"]}
    assert held[ids["ottawa"]] > 0
    assert "could not sync with 1 peer of 2" in ids["sync-dead"] and "http://127.0.0.1:9" in ids["sync-dead"]
    assert "cannot connect" in ids["sync-dead"]
    assert ids["sync-after"].strip() == "0 entries pulled from 1 peer"
    assert "appending again" in ids["sync-own"]
    assert "is not a peer of this node" in ids["unknown-peer"]


def test_logs_name_peers_as_the_cli_does_and_say_why_they_stop(session: Session) -> None:
    log = session.logs["toronto"]
    assert f"peer {session.ids['dead'][:10]} failed" in log, log
    assert "stopping: received SIGTERM" in log and "stopped cleanly" in log
    assert not re.search(r"\b[0-9a-f]{16}\b", log), "peers named by 16 hex digits"


# --- nothing shows Python ---

PYTHON = re.compile(
    r"Traceback|\{'|\('|\bb'|\bb\"|Errno|object at 0x|[A-Z][a-z]+(Error|Exception)\b|\\x[0-9a-f]{2}"
    r"|ssl:default|CliError"
)


def test_nothing_printed_or_logged_shows_python(session: Session) -> None:
    assert len(session.runs) > 60
    for run in session.runs:
        found = PYTHON.search(run.said)
        assert found is None, (run.args, found.group(), run.said)
    for name, log in session.logs.items():
        for line in log.splitlines():
            found = PYTHON.search(line)
            assert found is None, (name, found.group(), line)


# --- every command and option says what it does ---


def _commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def test_every_command_and_option_has_help() -> None:
    missing = []
    commands = list(_commands(cli))
    assert len(commands) > 35
    for path, command in [((), cli), *commands]:
        done = subprocess.run(
            [SHORA, *path, "--help"], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0 and "Usage: shora" in done.stdout, (path, done.stderr)
        if not (command.help or "").strip():
            missing.append(" ".join(path) or "shora")
        for param in command.params:
            if isinstance(param, click.Option) and not (param.help or "").strip():
                missing.append(f"{' '.join(path)} {param.opts[0]}")
            if isinstance(param, click.Option):
                assert param.opts[0] in done.stdout, (path, param.opts[0])
    assert missing == [], missing


def test_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    home = tmp_path / "open"
    previous = os.umask(0)
    try:
        assert SHORA is not None
        subprocess.run(
            [SHORA, "init", home, *INIT, "--listen", "127.0.0.1:0"], check=True, capture_output=True
        )
        server = start_serving(home, tmp_path / "serve.log")
        try:
            modes = {p.name: p.stat().st_mode & 0o777 for p in home.iterdir()}
        finally:
            stop_serving(server, home)
    finally:
        os.umask(previous)
    assert home.stat().st_mode & 0o777 == 0o700
    assert {"shora.db", "shora.db-wal", "shora.db-shm", "node.json", "root.key", "operator.key"} <= set(modes)
    assert all(mode == 0o600 for mode in modes.values()), modes
