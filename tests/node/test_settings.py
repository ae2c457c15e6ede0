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


def test_overrides_must_be_known_positive_numbers() -> None:
    assert Settings.from_overrides({"write_batch_max": 8}).write_batch_max == 8
    for bad in (
        {"no_such_setting": 1},
        {"write_batch_max": 0},
        {"write_batch_max": "8"},
        {"nonce_capacity": True},
    ):
        with pytest.raises(ValueError):
            Settings.from_overrides(bad)
