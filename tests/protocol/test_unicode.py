"""Canonical text is pinned to one Unicode version (docs/protocol.md §1): the table of assigned code points
is the committed one, text outside it is refused by name, and NFC is judged alike on every Python."""

from __future__ import annotations

import re
import unicodedata
from itertools import pairwise

import pytest

from node.rules.council import ProposeMotion
from node.rules.council.errors import RuleError
from protocol import codec
from protocol.errors import DecodeError
from protocol.unicode_assigned import ASSIGNED, UNICODE_VERSION
from tests.node.test_governance import A, B, assembly, council
from tests.vectors import generate_unicode
from tests.vectors.generate_unicode import PINNED, TARGET, assigned_ranges, render

RANGES = [tuple(int(end, 16) for end in pair.split("-")) for pair in ASSIGNED.split()]


@pytest.mark.skipif(unicodedata.unidata_version != PINNED, reason=f"regenerates from unicodedata {PINNED}")
def test_the_table_is_what_the_pinned_unicodedata_generates() -> None:
    assert TARGET.read_text() == render(assigned_ranges())


def test_the_table_is_the_pinned_version() -> None:
    assert UNICODE_VERSION == PINNED == "14.0.0"
    assert RANGES[0] == (0x0000, 0x0377) and RANGES[-1] == (0x100000, 0x10FFFD)
    assert all(a <= b < c for (a, b), (c, _) in pairwise(RANGES))


def test_every_pinned_character_is_assigned_in_the_running_unicode() -> None:
    """Unicode never unassigns: on 3.11 this is the table itself, on 3.12+ the table is a subset."""
    for first, last in RANGES:
        for code in (first, last, (first + last) // 2):
            assert unicodedata.category(chr(code)) not in ("Cn", "Cs"), hex(code)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("\U0001f6dc", "U+1F6DC"),  # WIRELESS: Unicode 15.0
        ("\u0cf3", "U+0CF3"),  # KANNADA SIGN COMBINING ANUSVARA ABOVE RIGHT: Unicode 15.0
        ("سلام \U00011f00", "U+11F00"),  # KAWI SIGN CANDRABINDU: Unicode 15.0, after assigned text
        ("\U0002ebf0", "U+2EBF0"),  # CJK Extension I: Unicode 15.1
        ("\ufdd0", "U+FDD0"),  # a noncharacter: never assigned
        ("\U000e0080", "U+E0080"),  # unassigned in every version so far
    ],
)
def test_text_unassigned_in_the_pinned_version_is_refused(text: str, code: str) -> None:
    message = re.escape(f"text holds {code}, not assigned in Unicode 14.0.0")
    with pytest.raises(DecodeError, match=f"^{message}$"):
        codec.encode(text)
    raw = bytes([0xA0 | len(text.encode())]) + text.encode()  # fixstr: canonical but for the text
    with pytest.raises(DecodeError, match=f"^{message}$"):
        codec.decode(raw)
    with pytest.raises(DecodeError, match=re.escape(f"map key holds {code}")):
        codec.encode({text: 1})


def test_the_pinned_versions_newest_characters_are_text() -> None:
    for text in ("\U0001f6dd", "\u0c5d", "\U0001faf6", "\u20c0"):  # each new in Unicode 14.0
        assert codec.decode(codec.encode(text)) == text


def test_nfc_is_judged_on_assigned_text() -> None:
    assert codec.encode("\u00e9") == b"\xa2\xc3\xa9"
    with pytest.raises(DecodeError, match=r"^text is not NFC-normalised$"):
        codec.decode(b"\xa3e\xcc\x81")  # e + U+0301: the decomposed pair
    with pytest.raises(DecodeError, match=r"^text is not NFC-normalised$"):
        codec.encode("\u212b")  # ANGSTROM SIGN: a singleton whose NFC is U+00C5


def test_the_council_refuses_a_motion_text_outside_the_pinned_version() -> None:
    log = council()
    aid = assembly(log, (A, B))
    with pytest.raises(RuleError) as info:
        log.run(ProposeMotion(aid, "policy", "a motion \U0001f6dc"))
    assert info.value.rule == "entry.malformed"
    assert "U+1F6DC, not assigned in Unicode 14.0.0" in str(info.value)


def test_the_generator_refuses_another_unicode_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generate_unicode.unicodedata, "unidata_version", "15.0.0")
    written: list[str] = []
    monkeypatch.setattr(generate_unicode.Path, "write_text", lambda _self, text: written.append(text))
    with pytest.raises(SystemExit, match=r"needs unicodedata 14\.0\.0"):
        generate_unicode.main()
    assert written == []
