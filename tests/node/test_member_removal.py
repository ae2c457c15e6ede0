"""Removal sticks (issue 13): a removed member does not rejoin at once under a new id — a join taking their
name (after name folding) or contact is refused ``member.removed`` until an adopted ``readmit`` motion of the
assembly readmits them."""

from __future__ import annotations

import pytest

from node.rules.council import CloseAssembly, LeaveMember, ProposeMotion, replay
from node.rules.council.readmission import barred
from tests.conftest import NodeFactory
from tests.node.members_helpers import invite, redeem
from tests.node.test_api import council, decide, ok, refused
from tests.node.test_governance import A, B, C, D, E, F, assembly, motion, vote_and_close
from tests.node.test_governance import council as machine_council

YES = {A: "yes", B: "yes", C: "yes"}

# -- the rules: a readmit motion -------------------------------------------------------------------------


def test_an_adopted_readmit_motion_lifts_the_bar_of_a_removal() -> None:
    log = machine_council()
    aid = assembly(log, (A, B, C, D))
    removal = vote_and_close(log, motion(log, aid, "removal", target=E), YES)
    assert removal["removed"] == E and "readmitted" not in removal  # other decisions keep their shape
    assert barred(log.state) == {E}
    rejected = vote_and_close(log, motion(log, aid, "readmit", target=E), {A: "no", B: "no", C: "yes"})
    assert (rejected["outcome"], rejected["readmitted"]) == ("rejected", None)
    assert barred(log.state) == {E}
    adopted = vote_and_close(log, motion(log, aid, "readmit", target=E), YES)
    assert (adopted["outcome"], adopted["readmitted"]) == ("adopted", E)
    assert barred(log.state) == set() and log.state.readmitted == {E}
    assert not log.state.is_active(E)  # readmitted to join again under a new id: the old id stays ended
    assert replay(log.entries) == log.state


@pytest.mark.parametrize(
    ("target", "rule"),
    [
        pytest.param(None, "motion.target-missing", id="no-target"),
        pytest.param(F, "member.unknown", id="unknown"),
        pytest.param(A, "readmit.not-removed", id="active"),
        pytest.param(D, "readmit.not-removed", id="left"),
        pytest.param(E, "readmit.already", id="already"),
    ],
)
def test_refusals_readmit(target: bytes | None, rule: str) -> None:
    log = machine_council()
    aid = assembly(log, (A, B, C))
    vote_and_close(log, motion(log, aid, "removal", target=E), YES)
    vote_and_close(log, motion(log, aid, "readmit", target=E), YES)
    log.run(CloseAssembly(aid))
    log.run(LeaveMember(D))  # who left may join again: no readmission is needed, nor taken
    aid = assembly(log, (A, B, C))
    log.refuse(ProposeMotion(aid, "readmit", "Readmit", target=target), rule)


def test_a_readmit_motion_takes_a_target_only() -> None:
    log = machine_council()
    aid = assembly(log, (A, B, C))
    vote_and_close(log, motion(log, aid, "removal", target=E), YES)
    log.refuse(ProposeMotion(aid, "readmit", "Readmit", target=E, candidates=(A,)), "motion.bad-shape")


# -- the node: joins matched against removed members ------------------------------------------------------


async def test_a_removed_members_name_or_contact_cannot_join_until_readmitted(
    start_node: NodeFactory,
) -> None:
    c = await council(start_node)
    node = c.node
    # typed with Arabic yeh and a ZWNJ: the same name, to a reader, as the Persian spelling below
    removed = (await ok(node, "POST", "/v1/admin/members", {"name": "علي‌رضا", "contact": "ali@example.org"}))[
        "member_id"
    ]
    d = await decide(
        c, "Remove for violence at the assembly", ("yes", "yes", "yes"), kind="removal", target=removed
    )
    assert (d["outcome"], d["removed"]) == ("adopted", removed)
    for joiner in ({"name": "علی رضا"}, {"name": "Someone else", "contact": " ALI@example.org"}):
        await refused(node, "POST", "/v1/admin/members", joiner, 422, "member.removed")
        await refused(node, "POST", "/v1/admin/invitations", joiner, 422, "member.removed")
    # others join as before; a member who left is no bar
    await ok(node, "POST", "/v1/admin/members", {"name": "Kaveh", "contact": "kaveh@example.org"})
    await ok(node, "POST", "/v1/admin/members/leave", {"member": "Kaveh"})
    await ok(node, "POST", "/v1/admin/members", {"name": "Kaveh", "contact": "kaveh@example.org"})
    # the assembly readmits: the person joins again, under a new id
    r = await decide(c, "Readmit Alireza", ("yes", "yes", "no"), kind="readmit", target=removed)
    assert (r["outcome"], r["readmitted"]) == ("adopted", removed)
    again = await ok(node, "POST", "/v1/admin/members", {"name": "علی‌رضا", "contact": "ali@example.org"})
    assert again["member_id"] != removed


async def test_an_invitation_issued_before_the_removal_is_refused_at_redemption(
    start_node: NodeFactory,
) -> None:
    c = await council(start_node)
    node = c.node
    sara = (await ok(node, "POST", "/v1/admin/members", {"name": "Sara"}))["member_id"]
    invitation = (await invite(node, name="Sara"))["invitation"]  # a warning only: she was still a member
    await decide(c, "Remove Sara", ("yes", "yes", "yes"), kind="removal", target=sara)
    response, _ = await redeem(node, invitation)
    assert response.status == 422 and response.json()["error"] == "member.removed", response.body
    members = (await ok(node, "GET", "/v1/admin/members"))["members"]
    assert [m["member_id"] for m in members if m["name"] == "Sara"] == [sara]
