"""A council's assembly asks its federation to publish a proposal: a public request motion; its refusals."""

from __future__ import annotations

import copy

import pytest

from node.rules.council import ProposeMotion, replay
from tests.node.test_governance import A, B, C, assembly, council, motion, vote_and_close

FED = bytes([7]) * 32


def test_an_adopted_request_names_the_federation_in_public() -> None:
    log = council()
    aid = assembly(log)
    d = vote_and_close(log, motion(log, aid, "request", federation=FED), {A: "yes", B: "yes", C: "no"})
    assert d["outcome"] == "adopted" and d["motion_kind"] == "request" and d["federation"] == FED
    assert log.entries[-1].vis == "public"
    proposed = next(e for e in log.entries if e.body["kind"] == "motion/propose")
    assert proposed.vis == "public" and proposed.body["federation"] == FED
    assert replay(log.entries) == log.state


def test_other_motions_keep_their_shape() -> None:
    log = council()
    aid = assembly(log)
    d = vote_and_close(log, motion(log, aid, "policy"), {A: "yes"})
    assert "federation" not in d
    assert all("federation" not in e.body for e in log.entries)


@pytest.mark.parametrize(
    ("kind", "kw", "rule"),
    [
        ("request", {}, "motion.federation-missing"),
        ("request", {"federation": FED, "visibility": "council"}, "request.public"),
        ("request", {"federation": b"short"}, "entry.malformed"),
        ("request", {"federation": FED, "target": A}, "motion.bad-shape"),
        ("policy", {"federation": FED}, "motion.bad-shape"),
    ],
)
def test_refusals_request(kind: str, kw: dict[str, object], rule: str) -> None:
    log = council()
    aid = assembly(log)
    before = copy.deepcopy(log.state)
    log.refuse(ProposeMotion(aid, kind, "Ask for a four-day week", **kw), rule)  # type: ignore[arg-type]
    assert log.state == before
