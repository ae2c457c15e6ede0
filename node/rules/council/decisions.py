"""Decisions: a motion decided as its votes and the rules say, and the tally that repeats its arithmetic."""

from __future__ import annotations

from typing import Any

from . import board, delegates, lookup, readmission
from .decide import adopted_rules, decision_bodies, runoff_proposal
from .errors import RuleError
from .fields import get_entry_id, malformed, plain
from .log import Appended
from .membership import end_membership
from .model import Council, Decision, Mandate, PendingTally
from .ruleset import RulesVersion


def decision(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    if "motion" not in body:
        raise malformed("a decision names its motion")
    motion = lookup.open_motion(state, get_entry_id(body, "motion"))
    expected, tally = decision_bodies(state, motion)
    if plain(body) != expected:
        raise RuleError("decision.mismatch", "the decision does not follow from the votes and the rules")
    if entry is None:
        return
    motion.is_open, motion.decision = False, entry.id
    full = {**expected, **(tally or {})}
    full.pop("kind")
    full.pop("motion", None)
    state.decisions[entry.id] = Decision(
        entry.id, entry.seq, entry.ts_ms, motion.id, expected["outcome"], motion.visibility, full
    )
    if tally is not None:
        state.pending_tally = PendingTally(motion.id, entry.id, tally)
    if expected.get("runoff") is not None:
        state.pending_runoff = runoff_proposal(state, motion, expected["runoff"])
    if expected["rules_adopted"] is not None:
        new_rules = adopted_rules(state, motion)
        changed = state.rules.changes(new_rules)
        state.rules, state.rules_version = new_rules, expected["rules_adopted"]
        state.rules_history[state.rules_version] = RulesVersion(
            state.rules_version, new_rules, entry.seq, entry.ts_ms, entry.id, changed
        )
    delegates.fold(state, expected, entry)
    readmission.fold(state, expected)
    for e in expected["elected"]:
        state.mandates.append(Mandate(entry.id, e["seat"], e["member"]))
    if expected["removed"] is not None:
        end_membership(state, state.members[expected["removed"]], "removed", entry.seq, entry.id)
    for e in expected["ended"]:  # article 5: an adopted recall ends the mandate at once
        for m in state.mandates:
            if m.decision == e["decision"] and m.seat == e["seat"] and m.sitting:
                m.ended_how, m.ended_by, m.ended_seq = "recalled", entry.id, entry.seq
    # each publicly given mandate a council-only recall or removal ended: published by a board/left next
    state.left_board = [(e["decision"], e["seat"]) for e in board.published_ends(state, motion, expected)]


def tally(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    pending = state.pending_tally
    if pending is None or plain(body) != pending.body:
        raise RuleError("decision.tally-mismatch", "a tally follows its decision and repeats its arithmetic")
    if entry is not None:
        state.pending_tally = None
