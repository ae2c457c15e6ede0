"""A council's delegates to its federation: elected and recalled by its general assembly (issue 13).

Article 2 forms the federation from the union of the councils and article 4 has each council decide by its
assembly's majority, so a delegate holds a mandate only by an assembly decision, and the assembly ends it:

- a ``delegate`` motion names ``candidates`` (the members it mandates, one seat each, in the motion's order)
  and is decided yes/no under the council's majority rule; adopted, its decision lists ``delegates``
  [{seat, member}] — each still active, not already sitting as a delegate — and a mandate's id is (decision
  id, seat), as a board seat's;
- a ``delegate-recall`` motion names its ``target``, a sitting delegate; adopted, its decision lists
  ``delegates_ended`` [{decision, seat, member}];
- an adopted ``removal`` of a sitting delegate lists the mandates it ends in ``delegates_ended`` too; a
  member leaving ends them with no decision (a council entry, as for a board seat). Either is published:
  a ``delegate/left`` entry follows the leaving, and a council-only removal's decision, one per mandate.

Both motions are public: the federation learns how many delegates a council has and the decision behind
each from the council's public log, as it learns the board's. They name the member by the council's
pseudonymous member id, exactly as a public board election does; no name or contact leaves the node
(DESIGN §6). The federation's aggregate keeps only (decision, seat), as for board mandates.
"""

from __future__ import annotations

from typing import Any, Literal

from .errors import RuleError
from .fields import check_bytes, exact_keys, get_entry_id, get_int, get_member
from .limits import MAX_CANDIDATES, MEMBER_ID_LEN
from .log import Appended
from .model import Council, Mandate, Motion, Outcome

KINDS = ("delegate", "delegate-recall")
# the motion fields each kind takes (``motions.propose`` refuses any other)
FIELDS = {"delegate": {"candidates"}, "delegate-recall": {"target"}}


def _mandates(mandates: list[Mandate], member: bytes) -> list[Mandate]:
    return [m for m in mandates if m.sitting and m.member == member]


def check_motion(
    state: Council, kind: str, candidates: list[bytes], target: object, visibility: object
) -> None:
    """Judge a delegate or delegate-recall motion as proposed (its fields' shape is checked already)."""
    if visibility != "public":
        raise RuleError("delegate.public", "a council elects and recalls its delegates in public")
    if kind == "delegate-recall":
        if target is None:
            raise RuleError("motion.target-missing", "a delegate-recall motion names its target")
        if not _mandates(state.delegates, check_bytes(target, "target", MEMBER_ID_LEN)):
            raise RuleError("delegate.not-sitting", "only a sitting delegate can be recalled")
        return
    if not candidates:
        raise RuleError("delegate.no-candidates", "a delegate motion names the members it mandates")
    if len(candidates) > MAX_CANDIDATES:
        raise RuleError("limit.candidates", f"at most {MAX_CANDIDATES} candidates")
    if len(set(candidates)) != len(candidates):
        raise RuleError("delegate.duplicate-candidate", "a candidate is listed twice")
    for c in candidates:
        if c not in state.members:
            raise RuleError("member.unknown", "no such member")
        if not state.is_active(c):
            raise RuleError("member.not-active", "this member has left or was removed")
        if _mandates(state.delegates, c):
            raise RuleError("delegate.already-sitting", "this member is a sitting delegate already")


def outcome_fields(state: Council, motion: Motion, outcome: Outcome) -> dict[str, Any]:
    """The decision fields a delegate motion (or a removal of a delegate) adds; ``{}`` for any other."""
    if motion.kind == "removal":
        assert motion.target is not None
        ended = _ended(state, motion.target) if outcome == "adopted" else []
        # only when it ends one: removal decisions written before delegates keep their shape
        return {"delegates_ended": ended} if ended else {}
    if motion.kind == "delegate-recall":
        assert motion.target is not None
        ended = _ended(state, motion.target) if outcome == "adopted" else []
        return {"delegates": [], "delegates_ended": ended}
    if motion.kind != "delegate":
        return {}
    mandated: list[dict[str, Any]] = []
    if outcome == "adopted":
        # who left, or took a delegate's seat by another motion, since this one was proposed takes none
        eligible = [c for c in motion.candidates if state.is_active(c) and not _mandates(state.delegates, c)]
        mandated = [{"seat": i, "member": m} for i, m in enumerate(eligible)]
    return {"delegates": mandated, "delegates_ended": []}


def _ended(state: Council, member: bytes) -> list[dict[str, Any]]:
    mandates = _mandates(state.delegates, member)
    return [{"decision": m.decision, "seat": m.seat, "member": m.member} for m in mandates]


def published_ends(motion: Motion, decided: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``delegate/left`` bodies that follow a decision: one per delegate mandate a council-only removal
    ended. A delegate is mandated in public, so the end of the mandate is public too, or the federation
    would count a delegate who is no longer a member; a public removal's decision says so itself."""
    if motion.kind != "removal" or motion.visibility == "public":
        return []
    return [{"kind": "delegate/left", **e} for e in decided.get("delegates_ended", ())]


def fold(state: Council, decided: dict[str, Any], entry: Appended) -> None:
    """Fold a stored decision's delegate fields (judged already) into the state."""
    for d in decided.get("delegates", ()):
        state.delegates.append(Mandate(entry.id, d["seat"], d["member"]))
    how: Literal["removed", "recalled"] = "removed" if decided["motion_kind"] == "removal" else "recalled"
    for e in decided.get("delegates_ended", ()):
        for m in state.delegates:
            if m.decision == e["decision"] and m.seat == e["seat"] and m.sitting:
                m.ended_how, m.ended_by, m.ended_seq = how, entry.id, entry.seq
    if how == "removed" and entry.vis != "public":
        # each to be published by a delegate/left directly after the decision, in this order
        state.left_delegates = [(e["decision"], e["seat"]) for e in decided.get("delegates_ended", ())]


def end_for(
    state: Council, member: bytes, how: Literal["left", "removed"], seq: int, by: bytes | None
) -> None:
    """A member who left (``by`` None) or was removed (``by``: the decision) is no longer a delegate."""
    for m in _mandates(state.delegates, member):
        m.ended_how, m.ended_by, m.ended_seq = how, by, seq


def left(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    """The public record of a delegate's leaving the council (``delegate/left``), as ``board/left`` is a board
    member's: the federation learns the mandate ended, cause "left", without a decision. It follows a
    council-only removal of a delegate too (``published_ends``): the federation learns the mandate ended, and
    the removal itself stays council-only."""
    exact_keys(body, {"kind", "member", "decision", "seat"}, "delegate/left")
    member, decision, seat = get_member(body, "member"), get_entry_id(body, "decision"), get_int(body, "seat")
    mandate = next(
        (m for m in state.delegates if (m.member, m.decision, m.seat) == (member, decision, seat)), None
    )
    pending = state.left_delegates
    ended = mandate is not None and mandate.ended_how in ("left", "removed")
    if not pending or pending[0] != (decision, seat) or mandate is None or not ended:
        raise RuleError(
            "delegate.left-misplaced",
            "delegate/left directly follows that delegate's leaving or removal, one per mandate",
        )
    if entry is not None:
        state.left_delegates = pending[1:]
        if mandate.ended_how == "left":
            mandate.ended_by = entry.id  # a removal's mandate stays ended by its decision
        mandate.ended_public = True
