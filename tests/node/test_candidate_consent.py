"""A candidate stands in an election only with their own consent, given before the vote opens (issue 13)."""

from __future__ import annotations

from node.rules.council import CloseAssembly, Consent, FoundCouncil, Issued, ProposeMotion, replay
from tests.node.test_assembly_machine import as_member
from tests.node.test_governance import A, B, C, assembly, consent
from tests.node.test_governance import council as machine_council
from tests.node.test_members_machine import OPERATOR, Log, meeting, refused


def test_an_election_names_only_candidates_who_consented() -> None:
    log = machine_council()
    aid = assembly(log, (A, B, C))
    consent(log, aid, A)
    log.refuse(ProposeMotion(aid, "election", "Board", seats=1, candidates=(A, B)), "candidate.no-consent")
    consent(log, aid, B)
    proposed = log.run(ProposeMotion(aid, "election", "Board", seats=1, candidates=(A, B)))[0]
    assert proposed.body["consented"] is True
    assert set(log.state.assemblies[aid].consents) == {A, B}
    assert replay(log.entries) == log.state


def test_consent_refusals() -> None:
    log = machine_council()
    aid = assembly(log, (A, B, C))
    consent(log, aid, A)
    log.refuse(Consent(aid, A), "consent.duplicate")
    log.run(CloseAssembly(aid))
    log.refuse(Consent(aid, B), "consent.assembly-closed")


def test_the_secretary_records_no_consent_for_a_member_who_holds_a_key() -> None:
    log = Log()
    log.run(FoundCouncil("Toronto Council", "North America"))
    member, key, assembly_id, _ = meeting(log)
    refused(log, Issued(Consent(assembly_id, member), OPERATOR), "consent.signature-required")
    signed = as_member(log, member, key, "consent", assembly=assembly_id)  # type: ignore[arg-type]
    log.run(Issued(Consent(assembly_id, member), signed))
    assert log.state.assemblies[assembly_id].consents[member] == log.entries[-1].id
