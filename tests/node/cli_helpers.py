"""A council served by a real ``shora serve``, its members joined through the CLI: the setup of the CLI
tests of assemblies and the board (tests/node/test_assembly_cli.py, tests/node/test_board_ends_cli.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.node.test_cli import as_json, init, shora, start_serving, stop_serving


@dataclass(frozen=True)
class ServedCouncil:
    home: Path  # the council node's directory
    url: str  # where its ``shora serve`` listens
    phones: dict[str, Path]  # each member's key file, by name
    ids: dict[str, str]  # each member's id, by name


@contextmanager
def served_council(tmp_path: Path, *names: str) -> Iterator[ServedCouncil]:
    """A council node in ``tmp_path/toronto``, served; each of ``names`` invited by the operator, with a
    key made on their phone (``tmp_path/<name>/member.key``) and the invitation redeemed over HTTP. The
    server is stopped (cleanly, or the test fails) when the block ends."""
    home = tmp_path / "toronto"
    init(home)
    server = start_serving(home, tmp_path / "serve.log")
    try:
        url = "http://" + (home / "serve.addr").read_text().strip()
        phones, ids = {}, {}
        for name in names:
            invitation = as_json("member", "invite", "--name", name, home=home)["invitation"]
            phones[name] = tmp_path / name / "member.key"
            shora("member", "keygen", "--key", phones[name])
            ids[name] = as_json("member", "redeem", invitation, "--url", url, "--key", phones[name])[
                "member_id"
            ]
        yield ServedCouncil(home, url, phones, ids)
    finally:
        stop_serving(server, home)
