"""A proposal published on member councils' requests says so; its refusals (issue 13)."""

from __future__ import annotations

import pytest

from node.rules.fedbody import Appended, PublishProposal, RuleError, Suspend, replay
from tests.node.test_fedbody import DAY, K1, K2, K3, K4, FakeLog, country_federation

D1, D2 = bytes([0xD1]) * 32, bytes([0xD2]) * 32


def publish(log: FakeLog, *requested_by: tuple[bytes, bytes]) -> PublishProposal:
    return PublishProposal("پیشنهاد", "A proposal", log.now + DAY, requested_by=requested_by)


def test_a_proposal_names_the_requests_it_answers() -> None:
    log = country_federation()
    entry = log.run(publish(log, (K1, D1), (K2, D2)))
    assert entry.body["requested_by"] == [[K1, D1], [K2, D2]]
    assert log.state.proposals[entry.id].requested_by == ((K1, D1), (K2, D2))
    plain = log.run(publish(log))  # the operator may publish without a request: it decides nothing
    assert "requested_by" not in plain.body and log.state.proposals[plain.id].requested_by == ()
    assert replay(log.entries, log.log_id) == log.state


@pytest.mark.parametrize(
    ("requested_by", "rule"),
    [
        (((K4, D1),), "proposal.request-not-admitted"),  # never admitted
        (((K1, D1), (K1, D1)), "proposal.request-duplicate"),
        (((K2, D2),), "proposal.request-used"),  # backs the first proposal already
        (((K3, D1),), "proposal.request-not-admitted"),  # suspended
    ],
)
def test_refusals_requested_by(requested_by: tuple[tuple[bytes, bytes], ...], rule: str) -> None:
    log = country_federation()
    log.run(publish(log, (K2, D2)))
    log.run(Suspend(K3, "left the union", 0))
    log.refuse(publish(log, *requested_by), rule)


def test_a_hostile_requested_by_is_refused_on_replay() -> None:
    log = country_federation()
    entry = log.run(publish(log, (K1, D1)))
    for bad in ([], [[K1]], [[K1, b"short"]], "x"):
        forged = Appended(entry.seq, entry.id, entry.ts_ms, "public", {**entry.body, "requested_by": bad})
        with pytest.raises(RuleError) as info:
            replay([*log.entries[:-1], forged], log.log_id)
        assert info.value.rule == "entry.malformed"
