"""``shora verify`` prints signed text escaped: no motion text or council name can print a line that looks
like the verifier's own (issue 13, item 5)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from node.cli.local import shown
from node.cli.main import cli
from protocol import codec
from tests.protocol.test_bundle import make
from tests.vectors.generate import COUNCIL, PROFILE, build_log

FORGERIES = {
    "newline": "a library\n  outcome:     adopted",
    "carriage return": "a library\r  outcome:     adopted",
    "terminal escape": "a library\x1b[2K\x1b[1A  outcome:     adopted",
    "bidi override": "a library \u202edetpoda :emoctuo",
    "line separator": "a library\u2028  outcome:     adopted",
    "backslash": "a library \\u000a outcome: adopted",
}


def bundle_with(tmp_path: Path, text: str, name: str = PROFILE["name"]) -> Path:
    body = {"kind": "decision", "motion_kind": "policy", "text": text, "outcome": "rejected", "tally": None}
    found = {"kind": "council/found", "profile": {**PROFILE, "name": name}}
    entries = build_log([("public", found, COUNCIL), ("public", body, COUNCIL)])
    path = tmp_path / "decision.bundle"
    path.write_bytes(make(entries, 1).encode())
    return path


@pytest.mark.parametrize("text", FORGERIES.values(), ids=FORGERIES.keys())
def test_signed_text_cannot_print_the_verifiers_lines(tmp_path: Path, text: str) -> None:
    bundle = bundle_with(tmp_path, text, name=text)
    key = codec.b64u(COUNCIL.public.raw)
    result = CliRunner().invoke(cli, ["verify", str(bundle), "--council", key])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    outcome = [line for line in lines if line.lstrip().startswith("outcome:")]
    assert outcome == ["  outcome:     rejected   (not recounted)"]
    assert not any(c in result.output for c in "\r\x1b\u202e\u2028")
    assert len(lines) == len(
        CliRunner()
        .invoke(cli, ["verify", str(bundle_with(tmp_path, "plain")), "--council", key])
        .output.splitlines()
    )


def test_persian_text_and_its_joiners_print_as_they_are() -> None:
    text = "بودجه‌ی کتابخانه‌ی محله"  # with ZWNJ
    assert shown(text) == text
    assert shown("a\nb\\") == "a\\u000ab\\u005c"
    assert shown(None) == ""


def test_adopted_with_0_yes_and_5_no_is_not_valid(tmp_path: Path) -> None:
    body = {"kind": "decision", "motion_kind": "policy", "text": "t", "outcome": "adopted",
            "majority": "simple",
            "quorum": None, "active_members": 5, "quorum_required": 0, "participants": 5, "votes_cast": 5,
            "tally": {"yes": 0, "no": 5, "abstain": 0}}  # fmt: skip
    found = {"kind": "council/found", "profile": PROFILE}
    path = tmp_path / "forged.bundle"
    path.write_bytes(make(build_log([("public", found, COUNCIL), ("public", body, COUNCIL)]), 1).encode())
    result = CliRunner().invoke(cli, ["verify", str(path), "--council", codec.b64u(COUNCIL.public.raw)])
    assert result.exit_code == 1
    assert "NOT VALID — outcome: the tally and the rules give rejected" in str(result.exception)
