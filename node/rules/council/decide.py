"""Closing a motion decides it: quorum first, then the council's majority rule (article 4).

``decide`` is a pure function of the state at the moment of closing, so ``apply`` can recompute a stored
decision and refuse one whose arithmetic or effects a hostile node bent.
"""

from __future__ import annotations

from typing import Any

from . import delegates, proposal_requests
from .model import Council, Motion, Outcome
from .rules import APPROVAL_MAJORITY, electable, election_result, majority_outcome, quorum_required


def participants_of(state: Council, motion: Motion) -> set[bytes]:
    """Members on the roll at close, plus voters who departed since: a member who voted took part."""
    return set(state.assemblies[motion.assembly].roll) | set(motion.votes)


def decide(state: Council, motion: Motion) -> tuple[dict[str, Any], dict[str, Any]]:
    """(outcome fields, tally fields) of the decision closing ``motion`` now."""
    rules = state.rules
    active = len(state.active_members())
    participants = len(participants_of(state, motion))
    required = quorum_required(rules.quorum, active)
    quorate = participants >= required

    elected: list[dict[str, Any]] = []
    tied: list[bytes] = []
    ended: list[dict[str, Any]] = []
    # unannotated: mypy widens each None by its later assignment (an annotation is a mutant no test can see)
    removed = None
    rules_adopted = None
    runoff = None
    vacant = 0
    outcome: Outcome

    if motion.kind == "election":
        assert motion.seats is not None  # ensured when the motion was proposed
        counts: dict[bytes, int] = dict.fromkeys(motion.candidates, 0)
        for approvals in motion.votes.values():
            for c in approvals:
                counts[c] += 1  # type: ignore[index]  # election votes are tuples of candidate ids
        tally: dict[str, Any] = {
            "approvals": [[c, counts[c]] for c in sorted(counts)],
            "ballots": len(motion.votes),
        }
        if not quorate:
            outcome, vacant = "no_quorum", motion.seats
        else:
            # article 5 / DESIGN §1: never fill more seats than are vacant now; sitting members and those who
            # left since the motion was proposed cannot take a seat
            board = state.board_members()
            eligible = [c for c in motion.candidates if state.is_active(c) and c not in board]
            if motion.method == APPROVAL_MAJORITY:
                # issue 13: a seat needs the approvals the council's majority rule requires
                chosen = set(electable(rules.majority, counts, len(motion.votes), participants))
                eligible = [c for c in eligible if c in chosen]
            open_seats = min(motion.seats, state.vacancies())
            result = election_result(counts, open_seats, eligible)
            elected = [{"seat": i, "member": m} for i, m in enumerate(result.elected)]
            tied = list(result.tied)
            vacant = motion.seats - len(result.elected)
            outcome = "adopted" if elected else "tied" if tied else "rejected"
            if motion.method is not None and tied:
                runoff = _runoff(state, motion, open_seats - len(elected), len(elected), tied)
    else:
        yes = sum(1 for v in motion.votes.values() if v == "yes")
        no = sum(1 for v in motion.votes.values() if v == "no")
        abstain = sum(1 for v in motion.votes.values() if v == "abstain")
        tally = {"yes": yes, "no": no, "abstain": abstain}
        outcome = majority_outcome(rules.majority, yes, no, participants) if quorate else "no_quorum"
        if outcome == "adopted":
            if motion.kind == "rules":
                rules_adopted = state.rules_version + 1
            elif motion.kind in ("recall", "removal"):
                assert motion.target is not None
                ended = [
                    {"decision": m.decision, "seat": m.seat, "member": m.member}
                    for m in state.sitting_mandates()
                    if m.member == motion.target
                ]
                if motion.kind == "removal" and state.is_active(motion.target):
                    removed = motion.target

    outcome_fields: dict[str, Any] = {
        "motion": motion.id,
        "assembly": motion.assembly,
        "motion_kind": motion.kind,
        # the motion's words travel with the decision, so a bundle alone says what was decided
        "text": motion.text,
        "rules_version": state.rules_version,
        "majority": rules.majority,
        "outcome": outcome,
        "seats": motion.seats,
        "elected": elected,
        "vacant": vacant,
        "tied": tied,
        "ended": ended,
        "removed": removed,
        "rules_adopted": rules_adopted,
    }
    if motion.method is not None:
        # only decisions on motions that declared a method carry it, so older decisions replay unchanged
        outcome_fields["method"] = motion.method
        outcome_fields["runoff"] = runoff
    if motion.kind == "federation":
        # the answer the federation counts: which proposal, and (for the weighted rule) how many took part;
        # only federation decisions carry it, so the decisions of 0.1.0 logs replay unchanged
        assert motion.proposal is not None  # ensured when the motion was proposed
        outcome_fields["proposal"] = list(motion.proposal)
    outcome_fields.update(delegates.outcome_fields(state, motion, outcome))
    outcome_fields.update(proposal_requests.outcome_fields(motion))
    tally_fields: dict[str, Any] = {
        "quorum": None if rules.quorum is None else rules.quorum.to_body(),
        "active_members": active,
        "quorum_required": required,
        "participants": participants,
        "votes_cast": len(motion.votes),
        "tally": tally,
    }
    if motion.attributed:
        # who cast the ballots: each member with their own signature, or the secretary recording hands
        signed = len(motion.signed)
        tally_fields["ballots_signed"] = signed
        tally_fields["ballots_recorded"] = len(motion.votes) - signed
    return outcome_fields, tally_fields


def _runoff(
    state: Council, motion: Motion, seats_left: int, elected: int, tied: list[bytes]
) -> dict[str, Any] | None:
    """The runoff a tie for the last seat(s) opens: the tied candidates, for the seats still open once this
    decision's winners sit and other open elections keep theirs; None when no seat is left to contest."""
    # only elections have seats
    others = sum(
        m.seats for m in state.motions.values() if m.is_open and m.seats is not None and m.id != motion.id
    )
    seats = min(seats_left, state.vacancies() - elected - others)
    if seats < 1:
        return None
    return {"seats": seats, "candidates": [c for c in motion.candidates if c in tied]}


def runoff_proposal(motion: Motion, runoff: dict[str, Any]) -> dict[str, Any]:
    """The motion/propose a decision naming ``runoff`` opens at once, in the same assembly (issue 13)."""
    return {
        "kind": "motion/propose",
        "assembly": motion.assembly,
        "motion_kind": "election",
        "text": motion.text,
        "visibility": motion.visibility,
        "proposer": None,
        "seats": runoff["seats"],
        "candidates": list(runoff["candidates"]),
        "target": None,
        "rules": None,
        "proposal": None,
        "method": APPROVAL_MAJORITY,
        "runoff_of": motion.id,
    }


def decision_bodies(state: Council, motion: Motion) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The decision body and, when a public decision must hide its tally, the council-only tally body."""
    outcome_fields, tally_fields = decide(state, motion)
    if motion.visibility == "public" and not state.rules.publish_tallies:
        if motion.kind == "federation":
            # a count, already public in assembly/close; the weighted federation rule needs it
            outcome_fields["participants"] = tally_fields.pop("participants")
        return {"kind": "decision", **outcome_fields}, {
            "kind": "decision/tally",
            "motion": motion.id,
            **tally_fields,
        }
    return {"kind": "decision", **outcome_fields, **tally_fields}, None
