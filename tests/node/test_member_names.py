"""Member names are matched as a reader reads them (issue 13 item 7): one person is one member."""

from __future__ import annotations

import sqlite3
import unicodedata

import pytest
import sqlite_utils

from node.storage import directory

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
