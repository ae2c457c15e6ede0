"""A federation of three nodes as a new operator builds it from the README (issue 10): a continent
federation, a country federation applying to it, a council applying to the country — each `shora init`,
`shora serve` in a process of its own, every other step the real `shora` command. Nothing prints a
traceback or a plural error; `shora status` works on each kind of node from its first minute; the
continent sees the council's figures without anyone running `shora sync`; the summary says which councils
have no census, and the council's own status says to run `shora census`."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.node.backup_helpers import write_settings
from tests.node.test_cli import shora, start_serving, stop_serving

FAST = {"gossip_interval_s": 0.3, "roster_poll_s": 0.1, "apply_retry_s": 0.5}
PLURAL = re.compile(
    r"\b1 (entries|members|peers|segments|witnesses|councils|assemblies|participants|decisions|"
    r"public decisions|forks|problems|ballots|seats)\b|\(s\)|\(es\)"
)
PYTHON = re.compile(r"Traceback|KeyError|TypeError|\{'|Errno|object at 0x")


class Operator:
    """Runs `shora` and keeps everything it printed, to look for Python and plural errors at the end."""

    def __init__(self) -> None:
        self.said: list[tuple[tuple[str, ...], str]] = []

    def run(self, *args: str | Path, home: Path | None = None, code: int = 0) -> str:
        done = shora(*args, home=home, code=code)
        self.said.append((tuple(map(str, args)), done.stdout + done.stderr))
        return done.stdout

    def json(self, *args: str | Path, home: Path | None = None) -> Any:
        return json.loads(self.run(*args, "--json", home=home))


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[list[tuple[subprocess.Popen[bytes], Path]]]:
    servers: list[tuple[subprocess.Popen[bytes], Path]] = []
    yield servers
    for server, home in servers:
        if server.poll() is None:
            stop_serving(server, home)


def url_of(home: Path) -> str:
    return "http://" + (home / "serve.addr").read_text().strip()


def until(what: str, check: Any, timeout: float = 60.0) -> None:
    """Wait for the nodes to do ``what`` by themselves (gossip, roster polls): asked again and again."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"the nodes never did this by themselves: {what}"
        time.sleep(0.2)


def test_a_federation_of_three_nodes_from_the_readme(
    tmp_path: Path, serving: list[tuple[subprocess.Popen[bytes], Path]]
) -> None:
    op = Operator()
    europe, germany, berlin = tmp_path / "europe", tmp_path / "germany", tmp_path / "berlin"
    listen = ["--listen", "127.0.0.1:0"]

    def serve(home: Path) -> None:
        write_settings(home, FAST)
        serving.append((start_serving(home, tmp_path / f"{home.name}.log"), home))

    eu = op.json("init", europe, "--kind", "federation", "--name", "Federation — Europe", "--continent",
                 "Europe", *listen)["node_id"]  # fmt: skip
    serve(europe)
    de = op.json("init", germany, "--kind", "federation", "--name", "Federation — Germany", "--country", "DE",
                 "--continent", "Europe", *listen, "--federation", url_of(europe), eu)["node_id"]  # fmt: skip
    serve(germany)
    place = ["--city", "Berlin", "--country", "DE", "--continent", "Europe"]
    be = op.json("init", berlin, "--name", "Berlin Council", *place, *listen, "--federation", url_of(germany),
                 de)["node_id"]  # fmt: skip
    serve(berlin)

    # status on each node in its first minute: no KeyError, the backup line in words for each kind
    for home in (europe, germany):
        said = op.run("status", home=home)
        assert (
            "(federation)" in said and "backup      none: `shora restore` brings back councils only" in said
        )
        assert op.json("status", home=home)["backup"] is None
    said = op.run("status", home=berlin)
    assert "no backup peer yet" in said and "run `shora census`" in said  # nothing else prompts it

    # the applications arrive by themselves; each federation admits by key prefix
    until("Berlin applies to Germany", lambda: be[:8] in op.run("federation", "applications", home=germany))
    op.run("federation", "admit", be[:8], "--reason", "endorses the six principles", home=germany)
    until("Germany applies to Europe", lambda: de[:8] in op.run("federation", "applications", home=europe))
    op.run("federation", "admit", de[:8], "--reason", "a country federation", home=europe)

    # the continent sees Berlin's figures through Germany, with no `shora sync` by hand
    def berlin_at(home: Path) -> dict[str, Any] | None:
        summary = op.json("federation", "summary", home=home)
        for countries in summary["continents"].values():
            for c in countries.get("DE", []):
                if c["log_id"] == be:
                    return dict(c)
        return None

    until(
        "Europe holds Berlin's log", lambda: (c := berlin_at(europe)) is not None and c["board"] is not None
    )
    table = op.run("federation", "summary", home=germany)
    assert "0 members counted (1 without a census yet)" in table
    assert "no census published yet by Berlin Council" in table and "shora census" in table
    assert "member federation: Federation — Germany" not in table  # not its own member
    assert [f["name"] for f in op.json("federation", "summary", home=europe)["federations"]] == [
        "Federation — Germany"
    ]
    for home in (europe, germany):
        assert not [w for w in op.json("status", home=home)["warnings"] if be[:10] in w]  # never "failing"

    # a census: the council's warning goes; a member joins: it says the count is out of date
    op.run("member", "join", "--name", "Ava", home=berlin)
    op.run("census", home=berlin)
    assert not [w for w in op.json("status", home=berlin)["warnings"] if "census" in w]
    until("Germany counts Berlin's members", lambda: (c := berlin_at(germany)) is not None and c["members"])
    assert "1 member;" in op.run("federation", "summary", home=germany)
    op.run("member", "join", "--name", "Babak", home=berlin)
    warnings = op.json("status", home=berlin)["warnings"]
    assert any("the member count published (1) is out of date (2 now)" in w for w in warnings), warnings

    for args, said in op.said:
        assert not PYTHON.search(said), (args, said)
        assert not PLURAL.search(said), (args, PLURAL.search(said), said)


def test_sync_own_exits_1_while_the_node_still_refuses_to_append(
    tmp_path: Path, serving: list[tuple[subprocess.Popen[bytes], Path]]
) -> None:
    """A node whose only peer never answers refuses to append (it could sign a second history); `shora sync
    --own` cannot change that, and says so with exit 1, as `shora status` does — not 0."""
    import contextlib
    import socket
    import sqlite3

    from federation.peers import PeerTable
    from protocol.keys import SigningKey
    from tests.node.test_cli import init

    home = tmp_path / "toronto"
    init(home)
    with socket.socket() as s:  # a port nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with contextlib.closing(sqlite3.connect(home / "shora.db")) as conn, conn:
        PeerTable(conn).add(SigningKey.generate().public.raw, f"http://127.0.0.1:{port}", 0)
    write_settings(home, FAST)  # the guard asks again within seconds
    serving.append((start_serving(home, tmp_path / "toronto.log"), home))
    op = Operator()
    refusing = "appends are refused: none of this node's peers (1) answered"
    until(
        "the node finds no peer answers",
        lambda: refusing in " ".join(op.json("status", home=home)["warnings"]),
    )
    said = op.run("sync", "--own", home=home, code=1)
    assert said == ""
    [(_, message)] = op.said[-1:]
    assert (
        "shora: restored 0 entries of our own log, but this node still refuses to append: none of this "
        "node's peers (1) answered" in " ".join(message.split())
    )
    refusal = json.loads(shora("sync", "--own", "--json", home=home, code=1).stdout)
    assert refusal["error"] == "still-refusing"
    assert refusing in " ".join(op.json("status", home=home)["warnings"])  # sync --own did not lift it

    # the peer is gone for good: the operator removes it, the guard lifts, and the log says so
    dead = op.json("peers", home=home)["peers"][0]["node_id"]
    op.run("peers", "remove", dead, home=home)
    until("the guard lifts", lambda: op.json("status", home=home)["warnings"] == [])
    op.run("member", "join", "--name", "Ava", home=home)
    server, _ = serving.pop()
    stop_serving(server, home)
    log = (tmp_path / "toronto.log").read_text()
    assert "refusing to append: none of this node's peers (1) answered" in log
    assert "appending again: no peer is left to ask" in log
