"""An election whose last seat is tied, as the operator runs it: the close opens a runoff motion and says
which (issue 13), over HTTP and through ``shora motion close``."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import NodeFactory
from tests.node.test_api import council, log_size, motion, ok, refused
from tests.node.test_cli import as_json, init, shora, start_serving, stop_serving


async def test_a_tied_election_opens_a_runoff_over_http(start_node: NodeFactory) -> None:
    c = await council(start_node)
    node = c.node
    election = await motion(
        c, "Elect the board", kind="election", seats=2, candidates=["Ava", "Babak", "Chris"]
    )
    votes = f"/v1/admin/motions/{election}/votes"
    for name, approvals in (
        ("Ava", ["Ava", "Babak"]),
        ("Babak", ["Babak", "Chris"]),
        ("Chris", ["Ava", "Chris"]),
    ):
        await ok(node, "POST", votes, {"member": name, "approvals": approvals})
    before = await log_size(node)
    decided = await ok(node, "POST", f"/v1/admin/motions/{election}/close")
    # the reply is the decision (not the runoff's proposal), naming the runoff motion it opened
    assert decided["outcome"] == "tied" and decided["method"] == "approval-majority"
    assert decided["motion"] == election and decided["seats"] == 2 and decided["vacant"] == 2
    ids = [c.members[n] for n in ("Ava", "Babak", "Chris")]
    assert decided["runoff"] == {"seats": 2, "candidates": ids} and set(decided["tied"]) == set(ids)
    runoff = decided["runoff_motion_id"]
    assert await log_size(node) == before + 2  # the decision and the runoff's proposal, in one batch

    # only the tied candidates run; a refused ballot stores nothing
    await refused(
        node,
        "POST",
        f"/v1/admin/motions/{runoff}/votes",
        {"member": "Ava", "approvals": ["Dara"]},
        422,
        "vote.not-a-candidate",
    )
    await refused(node, "POST", f"/v1/admin/motions/{election}/close", None, 422, "motion.closed")
    for name, approvals in (("Ava", ["Ava", "Babak"]), ("Babak", ["Babak", "Ava"]), ("Chris", ["Chris"])):
        await ok(node, "POST", f"/v1/admin/motions/{runoff}/votes", {"member": name, "approvals": approvals})
    second = await ok(node, "POST", f"/v1/admin/motions/{runoff}/close")
    assert second["outcome"] == "adopted" and "runoff_motion_id" not in second and second["runoff"] is None
    assert {e["member"] for e in second["elected"]} == {c.members["Ava"], c.members["Babak"]}
    board = await ok(node, "GET", "/v1/board")
    assert {m["member"] for m in board["mandates"]} == {c.members["Ava"], c.members["Babak"]}


def test_motion_close_names_the_runoff(tmp_path: Path) -> None:
    home = tmp_path / "toronto"
    init(home)
    server = start_serving(home, tmp_path / "serve.log")
    try:
        for name in ("Ava", "Babak", "Chris", "Dara"):
            as_json("member", "join", "--name", name, home=home)
        as_json("assembly", "open", "--agenda", "Board", home=home)
        shora("assembly", "attend", "current", "Ava", "Babak", "Chris", home=home)
        for name in ("Ava", "Babak", "Chris", "Dara"):  # each consents to stand (issue 13)
            shora("assembly", "consent", "current", name, home=home)
        propose = ("motion", "propose", "current", "--kind", "election", "--seats", "2", "--text", "Board")
        candidates = ("--candidate", "Ava", "--candidate", "Babak", "--candidate", "Chris")
        election = as_json(*propose, *candidates, home=home)["motion_id"]
        shora("vote", election, "Ava", "Ava", "Babak", home=home)
        shora("vote", election, "Babak", "Babak", "Chris", home=home)
        shora("vote", election, "Chris", "Ava", "Chris", home=home)
        out = shora("motion", "close", election, home=home).stdout
        runoff = next(line for line in out.splitlines() if line.startswith("runoff: motion "))
        motion_id = runoff.split()[2]
        assert runoff == f"runoff: motion {motion_id} for 2 seats among Ava, Babak, Chris", out
        assert "TIED" in out and "2 seats left vacant" in out
        shora("vote", motion_id, "Ava", "Ava", home=home)
        closed = shora("motion", "close", motion_id, home=home).stdout
        assert "elected: Ava" in closed and "runoff" not in closed

        # a tie with no seat left to contest (a rules change shrank the board meanwhile): no runoff, said so
        def adopt(*rules: str) -> None:
            change = as_json(
                "motion", "propose", "current", "--kind", "rules", *rules, "--text", "Seats", home=home
            )
            shora("vote", change["motion_id"], "Ava", "yes", home=home)
            shora("motion", "close", change["motion_id"], home=home)

        adopt("--board-seats", "4")
        as_json("motion", "propose", "current", "--kind", "election", "--seats", "1", "--text", "One",
                "--candidate", "Dara", home=home)  # fmt: skip
        two = ("--candidate", "Babak", "--candidate", "Chris")
        tied = as_json(*propose, *two, home=home)["motion_id"]
        adopt("--board-seats", "2")
        shora("vote", tied, "Ava", "Babak", "Chris", home=home)  # 2 of 3 ballots each, for the one seat left
        shora("vote", tied, "Babak", "Babak", home=home)
        shora("vote", tied, "Chris", "Chris", home=home)
        out = shora("motion", "close", tied, home=home).stdout
        # the tied are listed in the decision's order, by member id: random ids, so compared as a set
        line = next(line for line in out.splitlines() if line.startswith("tied for the last seat: "))
        assert set(line.removeprefix("tied for the last seat: ").split(", ")) == {"Babak", "Chris"}, out
        assert "runoff" not in out, out
    finally:
        stop_serving(server, home)
