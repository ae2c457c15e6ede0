"""Quorum and majority arithmetic, kept free of state so anyone can redo it from a decision entry.

Every word here is defined once, in docs/governance.md; this is the same, in brief. Article 4: decisions are
taken "by majority vote of the participants in the meetings of the general assembly". A motion's participants
are its electorate, fixed when its vote opens (the members on the roll at its proposal; for motions of older
logs, the roll at close plus voters who departed since). All arithmetic is on integers (no floats in the log).

Majority rules (adopted iff):
- simple:                  yes > no (abstentions are not counted).
- absolute:                2·yes > participants.
- two_thirds:              yes ≥ 1 and 3·yes ≥ 2·(yes + no): two thirds of the votes for or against.
- two_thirds_participants: yes ≥ 1 and 3·yes ≥ 2·participants: two thirds of the participants.
"tied": not adopted, and the rule's comparison is an exact equality (simple: yes = no, 0–0 included;
absolute: 2·yes = participants; two_thirds: 0–0 only; two_thirds_participants: no yes and no participants).
Otherwise "rejected". Quorum: a count, or ⌈active·num/den⌉ of the active members; below it, "no_quorum".
Under the rules' ``quorum_cap`` a quorum never asks for more than the active members of the vote's opening
(``decide``; the decision then says ``quorum_capped``).

Elections (issue 13): a motion proposed with the declared method "approval-majority" elects only the
candidates the council's majority rule adopts, each approval counting as a yes and each ballot cast without it
as a no (``electable``); seats then go to the electable candidates with most approvals (``election_result``).
An election proposed without a method (logs written before methods) is decided as it was then: any approval
is enough.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .model import Outcome
from .ruleset import Majority, Quorum


def quorum_required(quorum: Quorum | None, active_members: int) -> int:
    """How many participants the quorum asks for; a fraction of active members rounds up."""
    if quorum is None:
        return 0
    if quorum.count is not None:
        return quorum.count
    assert quorum.fraction is not None  # Quorum.__post_init__: exactly one is set
    num, den = quorum.fraction
    return -(-active_members * num // den)  # ceiling division, integers only


def majority_outcome(majority: Majority, yes: int, no: int, participants: int) -> Outcome:
    """See the module docstring: each rule compares two integers; "tied" is an exact equality that fails."""
    if majority == "simple":
        return "adopted" if yes > no else "tied" if yes == no else "rejected"
    if majority == "absolute":
        return "adopted" if 2 * yes > participants else "tied" if 2 * yes == participants else "rejected"
    base = participants if majority == "two_thirds_participants" else yes + no
    if yes > 0 and 3 * yes >= 2 * base:
        return "adopted"
    return "tied" if 3 * yes == 2 * base else "rejected"


def impossible(quorum: Quorum | None, active_members: int | None, capped: bool = True) -> str | None:
    """Why rules with this quorum could never decide anything again, or None.

    A quorum count above the active members cannot be met now; a fraction of 1 (num = den) asks for every
    active member, so one member who never comes blocks every decision, the repeal of that quorum included.
    ``active_members`` None: a council being founded, whose members are still to join (a count is judged
    when a rules motion proposes it). ``capped``: the rules' ``quorum_cap``; a count without it could be
    put above the active members by members leaving, and lock the council out for good.
    """
    if quorum is None:
        return None
    if quorum.count is not None and not capped:
        return "a quorum count without quorum_cap: members leaving could put it above the active members"
    if quorum.count is not None and active_members is not None and quorum.count > active_members:
        return f"a quorum of {quorum.count} is more than the {active_members} active members"
    if quorum.fraction is not None and quorum.fraction[0] >= quorum.fraction[1]:
        return "a quorum of every active member: one absent member would block every decision"
    return None


APPROVAL_MAJORITY = "approval-majority"
ELECTION_METHODS = (APPROVAL_MAJORITY,)


def electable(
    majority: Majority, approvals: Mapping[bytes, int], ballots: int, participants: int
) -> list[bytes]:
    """Candidates the majority rule adopts: approvals are their yes, the other ballots cast their no."""
    return [
        c
        for c, n in approvals.items()
        if majority_outcome(majority, n, ballots - n, participants) == "adopted"
    ]


@dataclass(frozen=True)
class ElectionResult:
    elected: tuple[bytes, ...]  # in seat order: most approvals first, then by member id
    vacant: int
    tied: tuple[bytes, ...]  # candidates tied for the last seat(s), none of whom was elected


def election_result(approvals: Mapping[bytes, int], seats: int, eligible: Iterable[bytes]) -> ElectionResult:
    """Top ``seats`` by approvals among eligible candidates with at least one approval.

    Candidates are taken in groups of equal approvals; a group that does not fit in the seats left is a tie at
    the last seat: none of it is elected and the remaining seats stay vacant (the decision says so).
    """
    # dict.fromkeys: each candidate once, in the order given, so only the sort below decides seat order
    counted = ((n, c) for c in dict.fromkeys(eligible) if (n := approvals.get(c, 0)) > 0)
    ranked = sorted(counted, key=lambda t: (-t[0], t[1]))
    elected: list[bytes] = []
    tied: tuple[bytes, ...] = ()
    i = 0
    while i < len(ranked) and len(elected) < seats:
        group = [c for n, c in ranked if n == ranked[i][0]]
        if len(elected) + len(group) <= seats:
            elected.extend(group)
        else:
            tied = tuple(group)
            break
        i += len(group)
    return ElectionResult(tuple(elected), seats - len(elected), tied)
