"""A board member gives up their seat, through the real CLI (issue 13): recorded by the operator
(``shora resign MEMBER``) or signed by the member (``shora member step-down``); the public board drops the
seat at once, the member stays a member."""

from __future__ import annotations

import json
from pathlib import Path

from tests.node.test_cli import as_json, init, refused, shora, start_serving, stop_serving


def test_a_board_member_steps_down_by_the_operator_or_with_their_own_key(tmp_path: Path) -> None:
    home = tmp_path / "toronto"
    init(home)
    server = start_serving(home, tmp_path / "serve.log")
    try:
        url = "http://" + (home / "serve.addr").read_text().strip()
        ava = as_json("member", "join", "--name", "Ava", home=home)["member_id"]
        invitation = as_json("member", "invite", "--name", "Shirin", home=home)["invitation"]
        phone = tmp_path / "phone" / "member.key"
        shora("member", "keygen", "--key", phone)
        shirin = as_json("member", "redeem", invitation, "--url", url, "--key", phone)["member_id"]
        as_json("assembly", "open", "--agenda", "Board", home=home)
        shora("assembly", "attend", "current", "Ava", home=home)
        shora("member", "checkin", "--key", phone)
        propose = ("motion", "propose", "current", "--kind", "election", "--seats", "2", "--text", "Board")
        election = as_json(*propose, "--candidate", "Ava", "--candidate", shirin, home=home)["motion_id"]
        shora("vote", election, "Ava", "Ava", shirin, home=home)
        shora("member", "vote", election[:12], ava[:8], shirin[:8], "--key", phone)
        assert as_json("motion", "close", election, home=home)["outcome"] == "adopted"
        assert len(as_json("board", home=home)["mandates"]) == 2

        # refused: not on the board, or not a member — exit 1, the rule named, nothing recorded
        before = as_json("record", home=home)
        done = shora("resign", "Nobody", "--json", home=home, code=1)
        assert json.loads(done.stdout)["error"] == "unknown-member"
        assert as_json("record", home=home) == before

        assert shora("resign", "Ava", home=home).stdout.strip() == f"seat given up: {ava}"
        assert "board member" in refused("resign", "Ava", home=home)  # once
        done = shora("resign", "Ava", "--json", home=home, code=1)
        assert json.loads(done.stdout)["error"] == "board.not-member"
        assert [m["member"] for m in as_json("board", home=home)["mandates"]] == [shirin]

        assert shirin in shora("member", "step-down", "--key", phone).stdout
        board = as_json("board", home=home)
        assert board["mandates"] == [] and board["vacancies"] == 3
        # both stay members; the record says who gave up each seat
        assert all(m["active"] for m in as_json("member", "list", home=home)["members"])
        record = shora("record", home=home).stdout
        assert record.count("board/resign") == 2 and "by member" in record and "by operator" in record
    finally:
        stop_serving(server, home)
