"""Member names are matched as a reader reads them (issue 13 item 7): one person is one member."""

from __future__ import annotations

import sqlite3
import unicodedata
from pathlib import Path

import pytest
import sqlite_utils

from node.storage import directory
from tests.conftest import NodeFactory
from tests.node.members_helpers import invite
from tests.node.test_cli import init, shora, start_serving, stop_serving

ARABIC_YEH = "\u0639\u0644\u064a"  # علي, typed on an Arabic keyboard
PERSIAN_YEH = "\u0639\u0644\u06cc"  # علی
ARABIC_KAF = "\u0643\u0627\u0645\u0631\u0627\u0646"  # كامران
PERSIAN_KAF = "\u06a9\u0627\u0645\u0631\u0627\u0646"  # کامران
COMPOSED = "\u0623\u062d\u0645\u062f"  # أحمد
DECOMPOSED = unicodedata.normalize("NFD", COMPOSED)  # alef + hamza above
ZWNJ = "\u0645\u06cc\u200c\u0631\u0648\u062f"  # می‌رود
NO_ZWNJ = "\u0645\u06cc\u0631\u0648\u062f"
SPACE = "\u0645\u06cc \u0631\u0648\u062f"


@pytest.fixture
def conn() -> sqlite3.Connection:
    c = sqlite3.connect(":memory:")
    for migration in directory.MIGRATIONS:
        migration.apply(sqlite_utils.Database(c))
    return c


def test_decomposed_form_is_really_decomposed() -> None:
    assert DECOMPOSED != COMPOSED and len(DECOMPOSED) == len(COMPOSED) + 1


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        (PERSIAN_YEH, ARABIC_YEH),
        (ARABIC_YEH, PERSIAN_YEH),
        (PERSIAN_KAF, ARABIC_KAF),
        (COMPOSED, DECOMPOSED),
        (DECOMPOSED, COMPOSED),
        (ZWNJ, NO_ZWNJ),
        (NO_ZWNJ, ZWNJ),
        (ZWNJ, SPACE),
        ("Rosa Luxemburg", "rosa  LUXEMBURG"),
    ],
)
def test_same_name_typed_differently_finds_the_one_member(
    conn: sqlite3.Connection, stored: str, typed: str
) -> None:
    conn.execute(*directory.add(b"a" * 16, stored, "", 1))
    conn.execute(*directory.add(b"b" * 16, "Clara Zetkin", "", 1))
    assert directory.by_name(conn, typed) == [b"a" * 16]
    assert directory.name_key(stored) == directory.name_key(typed)


def test_different_names_stay_different(conn: sqlite3.Connection) -> None:
    conn.execute(*directory.add(b"a" * 16, PERSIAN_YEH, "", 1))
    assert directory.by_name(conn, PERSIAN_KAF) == []
    assert directory.by_name(conn, "\u0639\u0644") == []  # a prefix is not the name


def test_two_members_with_one_folded_name_are_both_found(conn: sqlite3.Connection) -> None:
    conn.execute(*directory.add(b"a" * 16, ARABIC_YEH, "", 1))
    conn.execute(*directory.add(b"b" * 16, PERSIAN_YEH, "", 1))
    assert sorted(directory.by_name(conn, PERSIAN_YEH)) == [b"a" * 16, b"b" * 16]


async def test_a_node_matches_and_warns_by_the_folded_name(start_node: NodeFactory) -> None:
    node = await start_node()
    first = (await node.operator.call("POST", "/v1/admin/members", {"name": COMPOSED}))["member_id"]
    again = await node.operator.call("POST", "/v1/admin/members", {"name": DECOMPOSED})
    assert again["same_name"] == [first]  # joined (two people may share a name), with a warning
    invited = await invite(node, name=unicodedata.normalize("NFD", COMPOSED))
    assert sorted(invited["same_name"]) == sorted([first, again["member_id"]])
    other = await node.operator.call("POST", "/v1/admin/members", {"name": ZWNJ})
    assert other["same_name"] == []
    # the member typed without the ZWNJ is that member, not an unknown one
    left = await node.operator.call("POST", "/v1/admin/members/leave", {"member": NO_ZWNJ})
    assert left["member_id"] == other["member_id"]


def test_cli_join_warns_of_a_member_with_the_same_name(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init(home)
    server = start_serving(home, tmp_path / "serve.log")
    try:
        first = shora("member", "join", "--name", ARABIC_YEH, "--json", home=home)
        assert first.stderr == ""
        first_id = first.stdout.split('"member_id": "')[1].split('"')[0]
        second = shora("member", "join", "--name", PERSIAN_YEH, home=home)
        assert second.stdout.startswith("joined: ")
        assert "warning: already a member with this name" in second.stderr
        assert first_id in second.stderr
    finally:
        stop_serving(server, home)
