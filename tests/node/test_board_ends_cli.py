"""``shora board`` after a council-only recall of a publicly elected board member (issue 13), through the CLI
against a real ``shora serve``: the mandate is shown ended, cause recall, by the public board/left — never by
the council-only decision, which the public record does not name."""

from __future__ import annotations

from pathlib import Path

from tests.node.cli_helpers import served_council
from tests.node.test_cli import as_json, shora


def test_shora_board_shows_a_mandate_a_council_only_recall_ended(tmp_path: Path) -> None:
    with served_council(tmp_path, "Shirin", "Kaveh") as council:
        home, ids = council.home, council.ids
        shirin, kaveh = council.phones["Shirin"], council.phones["Kaveh"]
        as_json("assembly", "open", "--agenda", "founding", home=home)
        for phone in (shirin, kaveh):
            shora("member", "checkin", "--key", phone)
        shora("member", "consent", "--key", shirin)
        election = as_json(
            "motion", "propose", "current", "--kind", "election", "--seats", "1",
            "--candidate", ids["Shirin"], "--text", "Elect the board", home=home,
        )["motion_id"]  # fmt: skip
        for phone in (shirin, kaveh):
            shora("member", "vote", election[:12], ids["Shirin"][:8], "--key", phone)
        elected = as_json("motion", "close", election, home=home)["decision_id"]
        shora("assembly", "close", "current", home=home)

        # the board member convenes; the assembly recalls her in camera
        shora("member", "convene", "--agenda", "in camera", "--key", shirin)
        shora("member", "checkin", "--key", kaveh)
        recall = as_json(
            "motion", "propose", "current", "--kind", "recall", "--target", ids["Shirin"],
            "--visibility", "council", "--text", "She kept the minutes from us", home=home,
        )["motion_id"]  # fmt: skip
        shora("member", "vote", recall[:12], "yes", "--key", kaveh)
        closed = shora("motion", "close", recall, home=home).stdout
        assert "ADOPTED" in closed and "board mandate ended: Shirin" in closed
        decision = as_json("decisions", home=home)["decisions"][0]
        assert decision["motion_kind"] == "recall" and decision["vis"] == "council"

        board = as_json("board", home=home)
        assert board["mandates"] == []
        (ended,) = board["ended"]
        assert (ended["member"], ended["decision"], ended["cause"]) == (ids["Shirin"], elected, "recall")
        assert ended["ended_by"] != decision["decision_id"]  # the public board/left, not the decision
        shown = shora("board", home=home).stdout
        assert f"ended: Shirin (recall, by entry {ended['ended_by'][:8]}" in shown
