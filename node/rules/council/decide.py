"""Closing a motion decides it: quorum first, then the council's majority rule (article 4).

``decide`` is a pure function of the state at the moment of closing, so ``apply`` can recompute a stored
decision and refuse one whose arithmetic or effects a hostile node bent.
"""

from __future__ import annotations

from typing import Any

from . import delegates, proposal_requests, readmission
from .model import Council, Motion, Outcome
from .rules import APPROVAL_MAJORITY, electable, election_result, majority_outcome, quorum_required
from .ruleset import Rules


def participants_of(state: Council, motion: Motion) -> set[bytes]:
    """The electorate fixed when the vote opened; for motions of older logs, the members on the roll at
    close plus voters who departed since (a member who voted took part)."""
    if motion.electorate is not None:
        return set(motion.electorate)
    return set(state.assemblies[motion.assembly].roll) | set(motion.votes)


def rules_of(state: Council, motion: Motion) -> tuple[int, Rules]:
    """The rules a motion is decided under: those of its proposal (older logs: those in force at close)."""
    if motion.rules_version is None:
        return state.rules_version, state.rules
    return motion.rules_version, state.rules_at(motion.rules_version)


def adopted_rules(state: Council, motion: Motion) -> Rules:
    """The rules an adopted rules motion puts in force: the rules in force now with the fields the motion
    changed from the rules of its proposal (older logs: the motion's rules, whole)."""
    assert motion.rules is not None  # ensured when the motion was proposed
    if motion.rules_version is None:
        return motion.rules
    proposed = state.rules_at(motion.rules_version).changes(motion.rules)
    return Rules.from_body({**state.rules.fields(), **{k: new for k, (_old, new) in proposed.items()}})


def decide(state: Council, motion: Motion) -> tuple[dict[str, Any], dict[str, Any]]:
    """(outcome fields, tally fields) of the decision closing ``motion`` now."""
    version, rules = rules_of(state, motion)
    new_style = motion.rules_version is not None
    active = motion.active_at_open if new_style else len(state.active_members())
    participants = len(participants_of(state, motion))
    asked = quorum_required(rules.quorum, active)
    # issue 13: under the cap, a quorum never asks for more than the active members at the vote's opening
    capped = rules.quorum_cap and asked > active
    required = active if capped else asked
    quorate = participants >= required

    elected: list[dict[str, Any]] = []
    tied: list[bytes] = []
    ended: list[dict[str, Any]] = []
    # unannotated: mypy widens each None by its later assignment (an annotation is a mutant no test can see)
    removed = None
    rules_adopted = None
    runoff = None
    rules_changed: dict[str, list[Any]] = {}
    majority = rules.majority_for(motion.kind)
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
                chosen = set(electable(majority, counts, len(motion.votes), participants))
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
        outcome = majority_outcome(majority, yes, no, participants) if quorate else "no_quorum"
        if outcome == "adopted":
            if motion.kind == "rules":
                rules_adopted = state.rules_version + 1
                rules_changed = state.rules.changes(adopted_rules(state, motion))
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
        "rules_version": version,
        "majority": majority,
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
    if new_style and motion.kind == "rules":
        # the difference the decision made, field: [old, new] (empty unless adopted); older logs have none
        outcome_fields["rules_changed"] = rules_changed
    if motion.kind == "federation":
        # the answer the federation counts: which proposal, and (for the weighted rule) how many took part;
        # only federation decisions carry it, so the decisions of 0.1.0 logs replay unchanged
        assert motion.proposal is not None  # ensured when the motion was proposed
        outcome_fields["proposal"] = list(motion.proposal)
    outcome_fields.update(delegates.outcome_fields(state, motion, outcome))
    outcome_fields.update(proposal_requests.outcome_fields(motion))
    outcome_fields.update(readmission.outcome_fields(motion, outcome))
    tally_fields: dict[str, Any] = {
        "quorum": None if rules.quorum is None else rules.quorum.to_body(),
        "active_members": active,
        "quorum_required": required,
        "participants": participants,
        "votes_cast": len(motion.votes),
        "tally": tally,
    }
    if capped:
        # only when the cap lowered the quorum, so decisions it did not touch keep their bytes
        tally_fields["quorum_capped"] = True
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


def electorate_count(state: Council, roll: int, visibility: object) -> int | None:
    """What a proposal records of its electorate: the count of members on the roll — or nil on a public
    motion while the rules keep tallies council-only, since the count would publish the participants."""
    return roll if visibility == "council" or state.rules.publish_tallies else None


def runoff_proposal(state: Council, motion: Motion, runoff: dict[str, Any]) -> dict[str, Any]:
    """The motion/propose a decision naming ``runoff`` opens at once, in the same assembly (issue 13). Its
    vote opens then, as any proposal's since issue 13: under the rules in force, by the members on the
    roll."""
    roll = len(state.assemblies[motion.assembly].roll)
    return {
        "rules_version": state.rules_version,
        "electorate": electorate_count(state, roll, motion.visibility),
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
        # the tied candidates consented to the election it breaks the tie of, in the same assembly
        **({"consented": True} if motion.consented else {}),
    }


def decision_bodies(state: Council, motion: Motion) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The decision body and, when a public decision must hide its tally, the council-only tally body."""
    outcome_fields, tally_fields = decide(state, motion)
    if motion.visibility == "public" and not rules_of(state, motion)[1].publish_tallies:
        if motion.kind == "federation":
            # a count, already public in assembly/close; the weighted federation rule needs it
            outcome_fields["participants"] = tally_fields.pop("participants")
        return {"kind": "decision", **outcome_fields}, {
            "kind": "decision/tally",
            "motion": motion.id,
            **tally_fields,
        }
    return {"kind": "decision", **outcome_fields, **tally_fields}, None
