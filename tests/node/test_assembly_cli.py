"""Assemblies the board cannot block, as members and the operator run the CLI against a real ``shora serve``
(issue 13): the requisition rules set by a rules motion, a requisition that says where the next assembly
stands, a member's convening refused within the board's delay (nothing stored), the date of the next
assembly, and a board member's resignation shown with its cause. (The delay passing is tested through HTTP
with the node's clock moved: tests/node/test_assembly_http.py.)"""

from __future__ import annotations

import json
from pathlib import Path

from tests.node.cli_helpers import served_council
from tests.node.test_cli import INIT, as_json, refused, shora, start_serving, stop_serving, usage_error


def test_requisition_convening_and_resignation_through_the_cli(tmp_path: Path) -> None:
    with served_council(tmp_path, "Shirin", "Kaveh") as council:
        home, ids = council.home, council.ids
        shirin, kaveh = council.phones["Shirin"], council.phones["Kaveh"]

        as_json("assembly", "open", "--agenda", "founding", home=home)
        for phone in (shirin, kaveh):
            shora("member", "checkin", "--key", phone)
        rules = as_json(
            "motion", "propose", "current", "--kind", "rules", "--requisition", "1/2",
            "--requisition-delay", "7", "--text", "Half of us may call an assembly", home=home,
        )["motion_id"]  # fmt: skip
        assert "requisition" in refused(
            "motion",
            "propose",
            "current",
            "--kind",
            "rules",
            "--requisition",
            "half",
            "--text",
            "x",
            home=home,
        )
        shora("member", "consent", "--key", shirin)  # she consents to stand, with her own key (issue 13)
        election = as_json(
            "motion", "propose", "current", "--kind", "election", "--seats", "1",
            "--candidate", ids["Shirin"], "--text", "Elect the board", home=home,
        )["motion_id"]  # fmt: skip
        for phone in (shirin, kaveh):
            shora("member", "vote", rules[:12], "yes", "--key", phone)
            shora("member", "vote", election[:12], ids["Shirin"][:8], "--key", phone)
        assert as_json("motion", "close", rules, home=home)["outcome"] == "adopted"
        assert as_json("motion", "close", election, home=home)["outcome"] == "adopted"
        in_force = as_json("rules", home=home)["rules"]
        assert (in_force["requisition"], in_force["requisition_delay_days"]) == ([1, 2], 7)
        # the date of the next assembly is after this one
        assert "after this one" in refused("assembly", "close", "current", "--next", "2001-01-01", home=home)
        shora("assembly", "close", "current", home=home)

        # the board convenes nothing; Kaveh requisitions: one of two members is the share
        assert "only the board convenes" in refused("member", "convene", "--agenda", "x", "--key", kaveh)
        said = shora("member", "requisition", "--text", "Recall the board", "--key", kaveh).stdout
        assert "1 of the 1 requisitions needed" in said and "you may convene it" in said
        again = shora("member", "requisition", "--text", "again", "--key", kaveh, "--json", code=1)
        assert json.loads(again.stdout)["error"] == "requisition.duplicate"
        status = shora("member", "status", "--key", kaveh).stdout
        assert "board seat: none" in status and "you may convene it (on requisition)" in status
        assert "board seat: elected by decision" in shora("member", "status", "--key", shirin).stdout
        assert "you may convene" not in shora("member", "status", "--key", shirin).stdout
        assert "agenda" in usage_error("member", "convene", "--key", kaveh)
        held = len(as_json("assembly", "list", home=home)["assemblies"])
        early = shora("member", "convene", "--agenda", "Recall", "--key", kaveh, "--json", code=1)
        assert json.loads(early.stdout)["error"] == "convene.too-early"
        assert len(as_json("assembly", "list", home=home)["assemblies"]) == held

        # a mandate ends by resignation, and the board says so
        assert "no board seat" in refused("member", "resign", "--seat", "--key", kaveh)
        assert "resigned from the board" in shora("member", "resign", "--seat", "--key", shirin).stdout
        board = shora("board", home=home).stdout
        assert "Shirin" in board and "(resignation," in board
        assert as_json("board", home=home)["ended"][0]["cause"] == "resignation"


def test_init_sets_the_requisition_rules_and_refuses_impossible_ones(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    assert "rules.bad-requisition" in refused("init", bad, *INIT, "--requisition", "0/5")
    assert "num/den" in refused("init", bad, *INIT, "--requisition", "half")
    assert not bad.exists()  # nothing made
    fed = tmp_path / "fed"
    federation = ("--kind", "federation", "--name", "F", "--continent", "Asia", "--requisition", "1/3")
    assert "--requisition" in usage_error("init", fed, *federation)
    assert not fed.exists()
    home = tmp_path / "toronto"
    as_json(
        "init", home, *INIT, "--listen", "127.0.0.1:0", "--requisition", "1/3", "--requisition-delay", "10"
    )
    server = start_serving(home, tmp_path / "serve.log")
    try:
        in_force = as_json("rules", home=home)["rules"]
        assert (in_force["requisition"], in_force["requisition_delay_days"]) == ([1, 3], 10)
    finally:
        stop_serving(server, home)
