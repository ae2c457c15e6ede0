"""Recount a decision from the tally and the rules its own signed body states (issue 13, item 5).

A verifier holding only a bundle redoes the arithmetic of ``node.rules.council.rules``: the quorum asked of
the active members (capped at them when the decision says ``quorum_capped``), whether the participants met
it, and the council's majority rule over yes and no. A decision whose stated outcome does not follow is
refused (``VerificationError`` at step ``outcome``). A decision whose tally is not published (kept in the
council-only ``decision/tally``), or an election proposed before methods (any approval elected), cannot be
recounted from the bundle: ``recount`` says so.

An election under the declared method "approval-majority" is recounted seat by seat: every elected or tied
candidate must have the approvals the majority rule asks of the ballots cast and the participants, seats go by
most approvals (the tied ones equal, and fewer than every elected one), and the outcome and vacant seats
follow. Who could take a seat (a candidate who left, or sits on the board already) is not in the bundle, so a
candidate passed over for that reason is not questioned.
"""

from __future__ import annotations

from typing import Any

from protocol.errors import VerificationError

STEP = "outcome"


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def quorum_required(quorum: object, active_members: int) -> int:
    """Participants a quorum body (nil, {count} or {fraction: [num, den]}) asks for; fractions round up."""
    if quorum is None:
        return 0
    if isinstance(quorum, dict) and set(quorum) == {"count"} and _int(quorum["count"]):
        return int(quorum["count"])
    if isinstance(quorum, dict) and set(quorum) == {"fraction"}:
        frac = quorum["fraction"]
        if (
            isinstance(frac, list)
            and len(frac) == 2
            and all(_int(x) for x in frac)
            and 0 < frac[0] <= frac[1]
        ):
            num, den = int(frac[0]), int(frac[1])
            return -(-active_members * num // den)
    raise VerificationError(STEP, "the decision's quorum is not a quorum rule")


def majority_outcome(majority: str, yes: int, no: int, participants: int) -> str:
    if majority == "simple":
        return "adopted" if yes > no else "tied" if yes == no else "rejected"
    if majority == "absolute":
        return "adopted" if 2 * yes > participants else "tied" if 2 * yes == participants else "rejected"
    if majority in ("two_thirds", "two_thirds_participants"):
        base = participants if majority == "two_thirds_participants" else yes + no
        if yes > 0 and 3 * yes >= 2 * base:
            return "adopted"
        return "tied" if 3 * yes == 2 * base else "rejected"
    raise VerificationError(STEP, f"unknown majority rule {majority!r}")


FIELDS = ("active_members", "quorum_required", "participants", "votes_cast")


def recount(body: dict[str, Any]) -> bool:
    """True if the outcome was recounted and follows; False if the bundle cannot say (no published tally,
    an election without a method, or no counts); ``VerificationError`` at step ``outcome`` if it does not
    follow."""
    tally = body.get("tally")
    if not isinstance(tally, dict) or not all(f in body for f in FIELDS):
        return False  # a hidden tally, or a body without the counts (a hand-made one): said so
    if body.get("motion_kind") == "election":
        if body.get("method") != APPROVAL_MAJORITY:
            return False
        return _recount_election(body, tally)
    if "yes" not in tally:
        return False
    if not all(_int(body.get(f)) for f in FIELDS) or not all(
        _int(tally.get(k)) for k in ("yes", "no", "abstain")
    ):
        raise VerificationError(STEP, "the decision's tally is not counts")
    yes, no, abstain = tally["yes"], tally["no"], tally["abstain"]
    if yes + no + abstain != body["votes_cast"] or body["votes_cast"] > body["participants"]:
        raise VerificationError(STEP, "the votes do not add up to the votes cast, or exceed the participants")
    majority = _majority(body)
    expected = "no_quorum" if _short(body) else majority_outcome(majority, yes, no, body["participants"])
    _follows(body, expected)
    return True


APPROVAL_MAJORITY = "approval-majority"


def _short(body: dict[str, Any]) -> bool:
    """Whether the participants fell short of the quorum, the decision's stated quorum checked first.

    ``quorum_capped`` (true, present only then): the council's rules cap the quorum at the active members of
    the vote's opening, and the quorum asked for more, so the active members are required."""
    required = quorum_required(body.get("quorum"), body["active_members"])
    if "quorum_capped" in body:
        if body["quorum_capped"] is not True or required <= body["active_members"]:
            raise VerificationError(
                STEP, "quorum_capped is true, and only when the quorum asks for more than the active members"
            )
        required = body["active_members"]
    if required != body["quorum_required"]:
        raise VerificationError(
            STEP, f"the quorum asks for {required} participants, the decision says {body['quorum_required']}"
        )
    return bool(body["participants"] < required)


def _majority(body: dict[str, Any]) -> str:
    majority = body.get("majority")
    if not isinstance(majority, str):
        raise VerificationError(STEP, "the decision does not state its majority rule")
    return majority


def _follows(body: dict[str, Any], expected: str) -> None:
    if body.get("outcome") != expected:
        raise VerificationError(
            STEP, f"the tally and the rules give {expected}, the decision says {body.get('outcome')!r}"
        )


def _recount_election(body: dict[str, Any], tally: dict[str, Any]) -> bool:
    approvals, ballots = tally.get("approvals"), tally.get("ballots")
    seats, elected, tied = body.get("seats"), body.get("elected"), body.get("tied")
    if (
        not all(_int(body.get(f)) for f in FIELDS)
        or not _int(ballots)
        or not _int(seats)
        or not isinstance(approvals, list)
        or not all(
            isinstance(a, list) and len(a) == 2 and isinstance(a[0], bytes) and _int(a[1]) for a in approvals
        )
        or not isinstance(elected, list)
        or not all(isinstance(e, dict) and isinstance(e.get("member"), bytes) for e in elected)
        or not isinstance(tied, list)
        or not all(isinstance(t, bytes) for t in tied)
    ):
        raise VerificationError(STEP, "the election's tally is not counts")
    counts: dict[bytes, int] = {a[0]: a[1] for a in approvals}
    ballots, seats = int(tally["ballots"]), int(body["seats"])
    if (
        ballots != body["votes_cast"]
        or ballots > body["participants"]
        or any(n > ballots for n in counts.values())
    ):
        raise VerificationError(STEP, "the approvals exceed the ballots, or the ballots the participants")
    seated = [e["member"] for e in elected]
    if [e.get("seat") for e in elected] != list(range(len(seated))) or len(seated) > seats:
        raise VerificationError(STEP, "the seats are not numbered in order, or more than the election's")
    if body.get("vacant") != seats - len(seated):
        raise VerificationError(
            STEP, f"{len(seated)} of {seats} seats filled, the decision says vacant {body.get('vacant')!r}"
        )
    majority = _majority(body)
    if _short(body):
        if seated or tied:
            raise VerificationError(STEP, "a decision without quorum elects nobody")
        _follows(body, "no_quorum")
        return True
    for member in [*seated, *tied]:
        n = counts.get(member)
        if n is None or majority_outcome(majority, n, ballots - n, body["participants"]) != "adopted":
            raise VerificationError(
                STEP, "a candidate took or tied for a seat without the majority the rules ask"
            )
    order = [counts[m] for m in seated]
    level = {counts[m] for m in tied}
    if (
        len(set(seated) | set(tied)) != len(seated) + len(tied)
        or len(tied) == 1
        or order != sorted(order, reverse=True)
        or len(level) > 1
        or (order and level and min(order) <= min(level))
    ):
        raise VerificationError(STEP, "seats do not go by most approvals, or the tie is not a tie")
    _follows(body, "adopted" if seated else "tied" if tied else "rejected")
    return True
