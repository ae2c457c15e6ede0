"""Every setting is documented in the README with its real default, and overrides are checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.settings import Settings, documented

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_readme_table() -> None:
    text = README.read_text(encoding="utf-8")
    for name, (default, doc) in documented().items():
        assert f"| `{name}` | {default} | {doc} |" in text, name


NOT_ZERO = "setting write_batch_max must be a positive number (0 is not allowed for it)"


def test_overrides_must_be_known_positive_numbers() -> None:
    assert Settings.from_overrides({"write_batch_max": 8}).write_batch_max == 8
    for bad, message in (
        ({"no_such_setting": 1}, "unknown settings: no_such_setting"),
        ({"write_batch_max": 0}, NOT_ZERO),
        ({"write_batch_max": "8"}, "setting write_batch_max must be a positive number"),
        ({"nonce_capacity": True}, "setting nonce_capacity must be a positive number"),
        ({"refused_hold_s": -1}, "setting refused_hold_s must be a positive number"),
    ):
        with pytest.raises(ValueError) as info:
            Settings.from_overrides(bad)
        assert str(info.value) == message


def test_a_setting_whose_doc_says_what_0_means_may_be_0() -> None:
    assert Settings.from_overrides({"refused_hold_s": 0}).refused_hold_s == 0
    assert Settings.from_overrides({"decode_workers": 0}).decode_workers == 0
    allowed = sorted(name for name, (_, doc) in documented().items() if "(0:" in doc)
    assert allowed == ["decode_workers", "refused_hold_s"]
