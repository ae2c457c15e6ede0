"""Keys over time through the real CLI (issue 10): the signing key rotates, a compromised one is revoked from
a log position, and ``shora verify`` judges each decision by the key valid at its position."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from protocol import codec
from protocol.keys import SigningKey, save_signing_key
from tests.conftest import NodeFactory
from tests.node.test_cli import as_json, init, refused, shora, start_serving, stop_serving
from tests.node.test_federation_admin import refused as http_refused
from tests.node.test_ops import doctor, private


def decide(home: Path, assembly: str, text: str) -> dict[str, Any]:
    """A public motion adopted by the members present; the decision with its seq in the log."""
    motion = as_json("motion", "propose", assembly, "--text", text, home=home)["motion_id"]
    for member in ("Ava", "Babak"):
        shora("vote", motion, member, "yes", home=home)
    decided: dict[str, Any] = as_json("motion", "close", motion, home=home)
    return decided


def size(home: Path) -> int:
    return int(as_json("status", home=home)["log"]["size"])


def bundle(home: Path, decision: dict[str, Any], out: Path) -> Path:
    as_json("bundle", decision["decision_id"], "-o", out, home=home)
    return out


def keys(home: Path) -> list[dict[str, Any]]:
    return list(as_json("keys", "list", home=home)["keys"])


def test_rotate_and_revoke_the_signing_key_and_verify_by_position(tmp_path: Path) -> None:
    home = tmp_path / "toronto"
    council = init(home)["node_id"]
    server = start_serving(home, tmp_path / "serve.log")
    try:
        for name in ("Ava", "Babak"):
            as_json("member", "join", "--name", name, home=home)
        assembly = as_json("assembly", "open", home=home)["assembly_id"]
        as_json("assembly", "attend", assembly, "Ava", "Babak", home=home)
        by_root = decide(home, assembly, "Signed by the root key")

        first = as_json("keys", "rotate", home=home)  # a folder from before rotation: the first signing key
        assert first["revoked"] is None
        assert (home / "signing.key").stat().st_mode & 0o777 == 0o600
        by_first = decide(home, assembly, "Signed by the first signing key")

        second = as_json("keys", "rotate", home=home)
        assert second["revoked"] == first["added"] and second["revoked_seq"] == second["added_seq"] + 1
        listed = {k["key"]: k for k in keys(home)}
        assert listed[first["added"]]["revoked_seq"] == second["revoked_seq"]
        assert listed[second["added"]]["signs_now"] and not listed[council]["signs_now"]
        assert "(signs now)" in shora("keys", "list", home=home).stdout

        stolen_at = size(home)
        by_stolen = decide(home, assembly, "Signed after the laptop was stolen")
        revoked = as_json("keys", "revoke", second["added"][:12], "--from", str(stolen_at), home=home)
        assert revoked["from"] == stolen_at and revoked["added"]  # it signed: the node got a fresh key
        assert {k["key"]: k for k in keys(home)}[revoked["added"]]["signs_now"]

        # refusals: exit 1, the reason, nothing appended
        before = size(home)
        for argv, code in (
            ((council[:12],), "root-key"),
            ((first["added"],), "already-revoked"),
            (("AAAAAAAAAAAAAAAA",), "unknown-key"),
            ((revoked["added"], "--from", "0"), "bad-from"),
            ((revoked["added"], "--from", str(before + 5)), "bad-from"),
        ):
            out = shora("keys", "revoke", *argv, "--json", home=home, code=1)
            assert json.loads(out.stdout)["error"] == code, (argv, out.stdout)
            if code == "bad-from":  # the range in words, no Python quoting
                message = json.loads(out.stdout)["message"]
                assert message.startswith("--from is now, or a log position from ") and "'now'" not in message
        assert "whole number" in refused("keys", "revoke", revoked["added"], "--from", "yesterday", home=home)
        assert size(home) == before

        files = {
            name: bundle(home, d, tmp_path / f"{name}.bundle")
            for name, d in (("root", by_root), ("first", by_first), ("stolen", by_stolen))
        }
    finally:
        stop_serving(server, home)

    # offline: each decision by the key valid at its position, whatever the clock says
    assert as_json("verify", files["root"], "--council", council)["valid"] is True
    assert as_json("verify", files["first"], "--council", council)["valid"] is True  # revoked only later
    message = refused("verify", files["stolen"], "--council", council)
    assert "NOT VALID — unknown-key" in message and "revoked" in message

    # a restarted node signs with the key the log says is valid, and the log verifies from entry 0
    server = start_serving(home, tmp_path / "serve2.log")
    try:
        assert {k["key"]: k for k in keys(home)}[revoked["added"]]["signs_now"]
        private(home)
        assert doctor(home, 0)["ok"]
    finally:
        stop_serving(server, home)


async def test_key_refusals_over_http_change_nothing(start_node: NodeFactory) -> None:
    node = await start_node()
    config_before = (node.dir / "node.json").read_text()
    root = codec.b64u(node.config.node_id)
    for body, code in (
        ({"key": "not-a-key"}, "bad-field"),
        ({"key": 7}, "bad-field"),
        ({}, "bad-field"),
        ({"key": codec.b64u(node.config.operator_key)}, "same-key"),
        ({"key": root}, "root-key"),
    ):
        assert (await http_refused(node, "POST", "/v1/admin/keys/operator", body)).code == code, body
    assert (node.dir / "node.json").read_text() == config_before

    rotated = await node.operator.call("POST", "/v1/admin/keys/rotate", {})
    signing = rotated["added"]
    for body, code in (
        ({"key": signing, "from": "yesterday"}, "bad-from"),
        ({"key": signing, "from": True}, "bad-from"),
        ({"key": signing, "from": rotated["added_seq"]}, "bad-from"),  # not after it was added
        ({"key": "Zz"}, "unknown-key"),
        ({"key": root}, "root-key"),
    ):
        assert (await http_refused(node, "POST", "/v1/admin/keys/revoke", body)).code == code, body
    assert not (node.dir / "signing.key.new").exists()
    listed = (await node.operator.call("GET", "/v1/admin/keys"))["keys"]
    assert [(k["role"], k["signs_now"]) for k in listed] == [
        ("root", False), ("signing", True), ("operator", False)
    ]  # fmt: skip


def test_a_crash_between_the_log_and_the_rename_is_finished_at_start(tmp_path: Path) -> None:
    """signing.key.new already valid in the log (the rename did not happen): the node adopts it; a pending
    key the log never made valid is dropped, and the node signs with the one the log says."""
    home = tmp_path / "toronto"
    init(home)
    server = start_serving(home, tmp_path / "serve.log")
    try:
        first = as_json("keys", "rotate", home=home)["added"]
        as_json("keys", "rotate", home=home)
        # as if the crash came just after the entries were durable: the new key still under its pending name
        (home / "signing.key").rename(home / "signing.key.new")
    finally:
        stop_serving(server, home)
    stale = SigningKey.generate()
    server = start_serving(home, tmp_path / "serve2.log")
    try:
        signing = [k for k in keys(home) if k["signs_now"]]
        assert len(signing) == 1 and signing[0]["key"] != first and signing[0]["role"] == "signing"
        assert (home / "signing.key").exists() and not (home / "signing.key.new").exists()
    finally:
        stop_serving(server, home)
    save_signing_key(stale, home / "signing.key.new")
    server = start_serving(home, tmp_path / "serve3.log")
    try:
        assert [k["key"] for k in keys(home) if k["signs_now"]] == [signing[0]["key"]]
        assert not (home / "signing.key.new").exists()
    finally:
        stop_serving(server, home)
