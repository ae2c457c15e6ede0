"""The browser tests find chromium as documented, and the chromium found can do what the pages need."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from tests.web.chromium import NoChromium, find, in_ci


def _executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_shora_chromium_wins_over_path(tmp_path: Path) -> None:
    named = _executable(tmp_path / "mine")
    on_path = tmp_path / "bin"
    on_path.mkdir()
    _executable(on_path / "chromium")
    assert find({"SHORA_CHROMIUM": str(named), "PATH": str(on_path)}) == str(named)
    assert find({"PATH": str(on_path)}) == str(on_path / "chromium")


def test_a_named_chromium_that_is_not_there_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NoChromium, match="not an executable"):
        find({"SHORA_CHROMIUM": str(tmp_path / "absent"), "PATH": ""})
    (tmp_path / "plain").write_text("")
    with pytest.raises(NoChromium, match="not an executable"):
        find({"SHORA_CHROMIUM": str(tmp_path / "plain"), "PATH": ""})


def test_no_chromium_anywhere(tmp_path: Path) -> None:
    with pytest.raises(NoChromium, match="SHORA_CHROMIUM"):
        find({"PATH": str(tmp_path)})


def test_ci_is_told_by_the_environment() -> None:
    assert in_ci({"CI": "true"}) and in_ci({"CI": "1"})
    assert not in_ci({}) and not in_ci({"CI": ""}) and not in_ci({"CI": "false"})


def test_the_browser_has_ed25519_and_sha256_in_webcrypto(static_page: Any) -> None:
    """The decision page verifies with WebCrypto alone: this chromium must sign and verify Ed25519."""
    ok = static_page.evaluate(
        """async () => {
            const k = await crypto.subtle.generateKey({name: 'Ed25519'}, false, ['sign', 'verify']);
            const m = new TextEncoder().encode('shora');
            const s = await crypto.subtle.sign({name: 'Ed25519'}, k.privateKey, m);
            const h = new Uint8Array(await crypto.subtle.digest('SHA-256', m));
            return (await crypto.subtle.verify({name: 'Ed25519'}, k.publicKey, s, m)) && h.length === 32
                && k.privateKey.extractable === false;
        }"""
    )
    assert ok is True
