"""The board between assemblies: a board member leaving the council, resigning a seat, filing reports."""

from __future__ import annotations

from typing import Any

from . import lookup
from .errors import RuleError
from .fields import exact_keys, get_entry_id, get_int, get_member, get_text
from .limits import MAX_TEXT
from .log import Appended
from .model import Council, Mandate


def _ended_mandate(state: Council, body: dict[str, Any], kind: str) -> Mandate | None:
    """The mandate a board/left or board/resign body names: (decision, seat), held by ``member``."""
    exact_keys(body, {"kind", "member", "decision", "seat"}, kind)
    member, decision, seat = get_member(body, "member"), get_entry_id(body, "decision"), get_int(body, "seat")
    return next(
        (m for m in state.mandates if (m.member, m.decision, m.seat) == (member, decision, seat)), None
    )


def board_left(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    """The public record of a board member's leaving the council: their mandate ended, cause "left"."""
    mandate = _ended_mandate(state, body, "board/left")
    if state.left_board != body["member"] or mandate is None or mandate.ended_how != "left":
        raise RuleError("board.left-misplaced", "board/left directly follows that board member's leaving")
    if entry is not None:
        mandate.ended_by, mandate.ended_public = entry.id, True


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
