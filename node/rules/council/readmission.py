"""A removed member comes back only by a decision of the assembly (issue 13; article 4: the assembly decides).

An adopted ``removal`` ends a membership; nothing stopped the removed person from joining again the next
minute under a new member id. The node now refuses a join whose name (compared by ``directory.name_key``:
NFC, Persian/Arabic letters folded, ZWNJ and spaces ignored) or contact is a removed member's
(``member.removed``, judged on the node, where names and contacts live: never in the log, DESIGN §6) —
unless the assembly readmitted that member:

- a ``readmit`` motion names its ``target``, a member whose membership ended by removal (not one who left:
  leaving bars nobody) and who is not readmitted already; it is decided yes/no by the council's majority
  rule, and its decision carries ``readmitted`` (the target when adopted, else nil);
- an adopted one marks the member readmitted for good (``Council.readmitted``): the person may join again,
  under a new member id, as anyone does. The old id stays ended: ids are never reused.
"""

from __future__ import annotations

from typing import Any

from .errors import RuleError
from .fields import check_bytes
from .limits import MEMBER_ID_LEN
from .model import Council, Motion, Outcome

KIND = "readmit"
FIELDS = {KIND: {"target"}}  # the motion fields it takes (``motions.propose`` refuses any other)


def check_motion(state: Council, target: object) -> None:
    """Judge a readmit motion as proposed (its fields' shape is checked already)."""
    if target is None:
        raise RuleError("motion.target-missing", "a readmit motion names its target")
    member = state.members.get(check_bytes(target, "target", MEMBER_ID_LEN))
    if member is None:
        raise RuleError("member.unknown", "no such member")
    if member.ended_how != "removed":
        raise RuleError("readmit.not-removed", "only a member the assembly removed needs readmitting")
    if member.id in state.readmitted:
        raise RuleError("readmit.already", "this member was readmitted already")


def outcome_fields(motion: Motion, outcome: Outcome) -> dict[str, Any]:
    """The decision field a readmit motion adds; ``{}`` for any other (their bodies keep their shape)."""
    if motion.kind != KIND:
        return {}
    return {"readmitted": motion.target if outcome == "adopted" else None}


def fold(state: Council, decided: dict[str, Any]) -> None:
    """Fold a stored decision (judged already): an adopted readmission lifts the bar on rejoining."""
    if decided.get("readmitted") is not None:
        state.readmitted.add(decided["readmitted"])


def barred(state: Council) -> set[bytes]:
    """Removed members not readmitted: the members whose name or contact no join may take again."""
    return {m.id for m in state.members.values() if m.ended_how == "removed"} - state.readmitted
