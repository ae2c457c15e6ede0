"""The lookups every entry handler shares: a member, an active member, an open assembly, an open motion.

Each refuses with the rule a caller names in its refusal: an unknown id, a member who has left, a closed
assembly or motion.
"""

from __future__ import annotations

from .errors import RuleError
from .model import Assembly, Council, Member, Motion


def member(state: Council, member_id: bytes) -> Member:
    m = state.members.get(member_id)
    if m is None:
        raise RuleError("member.unknown", "no such member")
    return m


def active(state: Council, member_id: bytes) -> Member:
    m = member(state, member_id)
    if not m.active:
        raise RuleError("member.not-active", "this member has left or was removed")
    return m


def open_assembly(state: Council, assembly: bytes, closed_rule: str) -> Assembly:
    a = state.assemblies.get(assembly)
    if a is None:
        raise RuleError("assembly.unknown", "no such assembly")
    if not a.is_open:
        raise RuleError(closed_rule, "that assembly is closed")
    return a


def open_motion(state: Council, motion: bytes) -> Motion:
    m = state.motions.get(motion)
    if m is None:
        raise RuleError("motion.unknown", "no such motion")
    if not m.is_open:
        raise RuleError("motion.closed", "that motion has been decided")
    return m
