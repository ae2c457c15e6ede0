"""``shora init`` speaks to the kind of node it makes (issue 10): a federation body's messages never call it
a council, options a federation body has no use for are usage errors, and a council needs its place.
The real command, in a process of its own."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from node.backup.keyfile import RECOVERY_FILE
from tests.node.test_cli import INIT, shora, usage_error

COUNCIL = re.compile(r"\bcouncil\b|council's", re.IGNORECASE)  # the node itself called a council
FEDERATION = ["--kind", "federation", "--name", "Federation — Europe", "--continent", "Europe"]


def test_a_federation_bodys_init_never_calls_it_a_council(tmp_path: Path) -> None:
    europe = tmp_path / "europe"
    said = shora("init", europe, *FEDERATION, "--listen", "127.0.0.1:0")
    assert not COUNCIL.search(said.stdout + said.stderr), said.stdout  # "the councils that apply" is right
    assert (
        "federation key (give it to the councils and federations that apply, and to peers): " in said.stdout
    )
    assert f"recovery file: {europe / RECOVERY_FILE}" in said.stdout
    assert "MOVE IT OFF THIS MACHINE NOW. This file holds the federation body's root key" in said.stdout
    assert f"start it with: shora serve {europe}" in said.stdout
    # elsewhere from the start: nothing to move, nothing said about moving it
    usb = tmp_path / "usb"
    usb.mkdir()
    germany = shora(
        "init", tmp_path / "germany", *FEDERATION, "--country", "de", "--recovery-file", usb / "de.txt"
    ).stdout
    assert not COUNCIL.search(germany) and "MOVE IT" not in germany and str(usb / "de.txt") in germany
    value = json.loads(shora("init", tmp_path / "asia", *FEDERATION, "--json").stdout)
    assert value["kind"] == "federation" and value["recovery_file_inside"] is True


def test_a_councils_init_says_council(tmp_path: Path) -> None:
    said = shora("init", tmp_path / "toronto", *INIT, "--listen", "127.0.0.1:0").stdout
    assert "council key (give it to members and peers): " in said
    assert "MOVE IT OFF THIS MACHINE NOW. This file holds the council's root key" in said
    assert f"then, once it runs: shora keys rotate --dir {tmp_path / 'toronto'}" in said  # README ceremony


@pytest.mark.parametrize(
    "extra, named",
    [
        (["--quorum", "2"], "--quorum"),
        (["--city", "Berlin", "--board-seats", "5"], "--city, --board-seats"),
        (["--no-publish-tallies"], "--publish-tallies/--no-publish-tallies"),
        (["--majority", "absolute", "--census-bucket", "10"], "--majority, --census-bucket"),
    ],
)
def test_a_federation_body_refuses_a_councils_options(tmp_path: Path, extra: list[str], named: str) -> None:
    said = " ".join(usage_error("init", tmp_path / "europe", *FEDERATION, *extra).split())
    assert f"{named}: council setting" in said or f"{named}: a council setting" in said, said
    assert "a federation body has no city, board or rules of its own" in said
    assert not (tmp_path / "europe").exists()


def test_a_council_needs_its_city_and_country(tmp_path: Path) -> None:
    for missing in (["--name", "T", "--continent", "X"], ["--name", "T", "--city", "T", "--continent", "X"]):
        said = " ".join(usage_error("init", tmp_path / "t", *missing).split())
        assert "a council needs its --city and its --country" in said
        assert not (tmp_path / "t").exists()
