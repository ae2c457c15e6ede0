"""The board between assemblies: a board member leaving the council, resigning a seat, filing reports; and
the public end of a publicly given mandate that a council-only recall or removal ended."""

from __future__ import annotations

from typing import Any

from . import lookup
from .errors import RuleError
from .fields import exact_keys, get_entry_id, get_int, get_member, get_text, malformed
from .limits import MAX_TEXT
from .log import Appended
from .model import Council, Mandate, Motion

# the causes a board/left states besides leaving (issue 13): the kinds of the council-only motions whose
# end of a public mandate it publishes; a board/left without ``cause`` is a member's leaving
DECIDED_CAUSES = ("recall", "removal")


def _ended_mandate(
    state: Council, body: dict[str, Any], kind: str, optional: frozenset[str] = frozenset()
) -> Mandate | None:
    """The mandate a board/left or board/resign body names: (decision, seat), held by ``member``."""
    exact_keys(body, {"kind", "member", "decision", "seat"} | (optional & set(body)), kind)
    member, decision, seat = get_member(body, "member"), get_entry_id(body, "decision"), get_int(body, "seat")
    return next(
        (m for m in state.mandates if (m.member, m.decision, m.seat) == (member, decision, seat)), None
    )


def published_ends(state: Council, motion: Motion, decided: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``board/left`` bodies that follow a decision: one per board mandate given by a public decision
    that a council-only recall or removal ended, with its cause. The public board showed the mandate, so it
    shows its end; it learns nothing more of the decision (a public recall or removal says so itself, and a
    mandate given council-only was never shown)."""
    if motion.kind not in DECIDED_CAUSES or motion.visibility == "public":
        return []
    return [
        {
            "kind": "board/left",
            "member": e["member"],
            "decision": e["decision"],
            "seat": e["seat"],
            "cause": motion.kind,
        }
        for e in decided["ended"]
        if given_in_public(state, e["decision"])
    ]


def given_in_public(state: Council, decision: bytes) -> bool:
    """Whether the decision that gave a board mandate is public: only such a mandate's end is published."""
    found = state.decisions.get(decision)
    return found is not None and found.visibility == "public"


def board_left(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    """The public record of a board mandate's end: a board member's leaving the council (no ``cause``), or a
    council-only recall or removal (``cause``) — directly after the entry that ended it, once."""
    mandate = _ended_mandate(state, body, "board/left", frozenset({"cause"}))
    cause = body.get("cause", "left")
    if "cause" in body and cause not in DECIDED_CAUSES:
        raise malformed("a board/left's cause is recall or removal (none: the member left)")
    pending = state.left_board
    named = (body["decision"], body["seat"])
    if not pending or pending[0] != named or mandate is None or mandate.cause != cause:
        why = "board/left directly follows the leaving, or council-only recall or removal, that ended it"
        raise RuleError("board.left-misplaced", why)
    if entry is not None:
        state.left_board = pending[1:]
        if mandate.ended_how == "left":
            mandate.ended_by = entry.id  # a recall's or removal's mandate stays ended by its decision
        mandate.ended_public, mandate.published_by = True, entry.id


def resign(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    """A board member gives up their seat and stays a member (article 5: a mandate ends by resignation)."""
    mandate = _ended_mandate(state, body, "board/resign")
    lookup.active(state, body["member"])
    if mandate is None or not mandate.sitting:
        raise RuleError("board.not-member", "only a sitting board member resigns their seat")
    if entry is not None:
        mandate.ended_how, mandate.ended_by, mandate.ended_seq = "resigned", entry.id, entry.seq
        mandate.ended_public = True


def report(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    exact_keys(body, {"kind", "member", "text"}, "board/report")
    text = get_text(body, "text", MAX_TEXT)
    if not text:
        raise RuleError("report.empty", "a report has text")
    member = get_member(body, "member")
    lookup.member(state, member)
    # article 5: between assemblies the board carries out policy and reports on it — nothing else
    if member not in state.board_members():
        raise RuleError("board.not-member", "only a sitting board member files executive reports")
