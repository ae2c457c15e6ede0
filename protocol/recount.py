"""Recount a decision from the tally and the rules its own signed body states (issue 13, item 5).

A verifier holding only a bundle redoes the arithmetic of ``node.rules.council.rules``: the quorum asked of
the active members, whether the participants met it, and the council's majority rule over yes and no. A
decision whose stated outcome does not follow is refused (``VerificationError`` at step ``outcome``). A
decision whose tally is not published (kept in the council-only ``decision/tally``) or an election (whose
result also depends on who was eligible) cannot be recounted from the bundle: ``recount`` says so.
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


def recount(body: dict[str, Any]) -> bool:
    """True if the outcome was recounted and follows; False if the bundle cannot say (no published tally,
    or an election, or no counts); ``VerificationError`` at step ``outcome`` if it does not follow."""
    tally = body.get("tally")
    if body.get("motion_kind") == "election" or not isinstance(tally, dict) or "yes" not in tally:
        return False
    fields = ("active_members", "quorum_required", "participants", "votes_cast")
    if not all(f in body for f in fields):
        return False  # a body without the counts (a hand-made one): nothing to recount, and said so
    if not all(_int(body.get(f)) for f in fields) or not all(
        _int(tally.get(k)) for k in ("yes", "no", "abstain")
    ):
        raise VerificationError(STEP, "the decision's tally is not counts")
    yes, no, abstain = tally["yes"], tally["no"], tally["abstain"]
    if yes + no + abstain != body["votes_cast"] or body["votes_cast"] > body["participants"]:
        raise VerificationError(STEP, "the votes do not add up to the votes cast, or exceed the participants")
    required = quorum_required(body.get("quorum"), body["active_members"])
    if required != body["quorum_required"]:
        raise VerificationError(
            STEP, f"the quorum asks for {required} participants, the decision says {body['quorum_required']}"
        )
    majority = body.get("majority")
    if not isinstance(majority, str):
        raise VerificationError(STEP, "the decision does not state its majority rule")
    expected = majority_outcome(majority, yes, no, body["participants"])
    if body["participants"] < required:
        expected = "no_quorum"
    if body.get("outcome") != expected:
        raise VerificationError(
            STEP, f"the tally and the rules give {expected}, the decision says {body.get('outcome')!r}"
        )
    return True
