"""Assemblies: requisitioned, opened (by the board, the operator, or a member on the board's default), the
roll of attendance, closing and minutes."""

from __future__ import annotations

from typing import Any

from . import lookup
from .errors import RuleError
from .fields import check_bytes, exact_keys, get_entry_id, get_int, get_list, get_member, get_text, one_of
from .limits import MAX_AGENDA, MAX_TEXT, MEMBER_ID_LEN
from .log import Appended
from .model import GROUNDS, Assembly, Council, Ground, Requisition


def check_new_requisition(state: Council, member: bytes, round_: int | None) -> None:
    """Refusals judged when a requisition is made, not on replay: logs written before them (issue 12) may
    hold repeated ones, which count once (``Council.requisitioners``), and none names its round. A
    requisition made while an assembly sits asks for the next one: an assembly left open cannot block it."""
    lookup.active(state, member)
    if round_ is None:
        raise RuleError(
            "requisition.stale",
            f"a requisition names the round it asks in: round {state.requisition_round()} now",
        )
    if member in state.requisitioners():
        raise RuleError("requisition.duplicate", "you have requisitioned the next assembly already")


def requisition(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    # round: the assemblies opened before it (issue 13; absent in logs written before rounds)
    exact_keys(
        body, {"kind", "member", "text"} | ({"round"} if "round" in body else set()), "assembly/requisition"
    )
    text = get_text(body, "text", MAX_AGENDA, "limit.agenda")
    m = lookup.active(state, get_member(body, "member"))
    # a requisition counts toward one assembly only: one signed before an assembly opened cannot count
    # toward the next (its round is past)
    if "round" in body and get_int(body, "round") != state.requisition_round():
        raise RuleError(
            "requisition.stale",
            f"this requisition asks in round {body['round']}, requisitions now ask in round "
            f"{state.requisition_round()}: each assembly answers those made before it opened",
        )
    if entry is not None:
        made = Requisition(entry.seq, entry.ts_ms, m.id, text)
        state.requisitions.append(made)
        # article 5: once the share is reached the board must convene within the rules' delay
        if state.requisition_met is None and len(state.requisitioners()) >= state.requisitions_needed():
            state.requisition_met = made


def open_assembly(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    # a member convening on requisition or on the fixed date says so: ground and due_ms (absent otherwise)
    by_member = "ground" in body
    keys = {"kind", "convened_by", "agenda"} | ({"ground", "due_ms"} if by_member else set())
    exact_keys(body, keys, "assembly/open")
    agenda = get_text(body, "agenda", MAX_AGENDA, "limit.agenda")
    if state.open_assembly_id is not None:
        raise RuleError("assembly.already-open", "close the open assembly first")
    convener = body["convened_by"]
    board = state.board_members()
    ground: Ground | None = None
    due: int | None = None
    if by_member:
        ground, due = _member_convenes(state, body, entry)
    elif convener is None:
        # the operator convenes only while no board member sits (article 5: convening is the board's task)
        if board:
            raise RuleError("assembly.board-sits", "a sitting board member must convene the assembly")
    elif check_bytes(convener, "convened_by", MEMBER_ID_LEN) not in board:
        raise RuleError("assembly.convener-not-board", "only a sitting board member convenes an assembly")
    if entry is not None:
        a = Assembly(entry.id, entry.seq, entry.ts_ms, convener, agenda, ground, due)
        state.assemblies[entry.id] = a
        state.open_assembly_id = entry.id
        # this assembly answers every requisition made before it, and meets the date the last one fixed
        state.round_from_seq, state.requisition_met, state.next_assembly_ms = entry.seq + 1, None, None


def _member_convenes(state: Council, body: dict[str, Any], entry: Appended | None) -> tuple[Ground, int]:
    """A member convenes the assembly the board has not (article 5): requisitioned by the rules' share and
    not convened within the rules' delay, or not held by the date the last assembly fixed."""
    member = check_bytes(body["convened_by"], "convened_by", MEMBER_ID_LEN)
    lookup.active(state, member)
    ground: Ground = body["ground"]
    if ground not in GROUNDS:
        raise RuleError("convene.bad-ground", f"a member convenes on {one_of(GROUNDS)}")
    due = state.convening_due(ground)
    if due is None:
        raise RuleError(
            f"convene.no-{ground}",
            "no requisition has reached the rules' share"
            if ground == "requisition"
            else "no assembly fixed the date of the next",
        )
    if not state.may_convene(member, ground):
        raise RuleError("convene.not-requisitioner", "only a member who requisitioned it convenes")
    if get_int(body, "due_ms") != due:
        raise RuleError("convene.due-mismatch", "due_ms is not when the right to convene began")
    if not body["agenda"].strip():
        raise RuleError("convene.no-agenda", "a member convening an assembly states its agenda")
    # the entry's time is the node's one clock (clock.now_ms): the board has until then to convene
    if entry is not None and entry.ts_ms < due:
        raise RuleError("convene.too-early", "the board's delay to convene has not passed yet")
    return ground, due


def attend(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    exact_keys(body, {"kind", "assembly", "members"}, "assembly/attend")
    a = lookup.open_assembly(state, get_entry_id(body, "assembly"), "assembly.closed")
    members = [check_bytes(m, "members", MEMBER_ID_LEN) for m in get_list(body, "members")]
    if not members:
        raise RuleError("roll.empty", "name at least one member")
    if len(set(members)) != len(members):
        raise RuleError("roll.duplicate", "a member is listed twice")
    for m in members:
        lookup.active(state, m)  # article 3: participants of the council's assembly are its members
        if m in a.roll:
            raise RuleError("roll.already-present", "this member is already on the roll")
    if entry is not None:
        a.roll.update(members)
        a.attended.update(members)


def depart(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    exact_keys(body, {"kind", "assembly", "member"}, "assembly/depart")
    a = lookup.open_assembly(state, get_entry_id(body, "assembly"), "assembly.closed")
    member = get_member(body, "member")
    lookup.member(state, member)
    if member not in a.roll:
        raise RuleError("roll.not-present", "this member is not on the roll")
    if entry is not None:
        a.roll.discard(member)


def close_assembly(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    # next_ms: the date this assembly fixed for the next (absent when it fixed none, as in older logs)
    keys = {"kind", "assembly", "participants"} | ({"next_ms"} if "next_ms" in body else set())
    exact_keys(body, keys, "assembly/close")
    a = lookup.open_assembly(state, get_entry_id(body, "assembly"), "assembly.closed")
    if any(m.is_open for m in state.motions.values() if m.assembly == a.id):
        raise RuleError("assembly.motions-open", "close every motion of this assembly first")
    # the public record carries how many took part, never who (DESIGN §6)
    if get_int(body, "participants") != len(a.attended):
        raise RuleError("assembly.participants-mismatch", "not the count of distinct attendees")
    next_ms = get_int(body, "next_ms") if "next_ms" in body else None
    if next_ms is not None and ((entry is not None and next_ms <= entry.ts_ms) or next_ms >= 2**63):
        raise RuleError("assembly.next-past", "the date of the next assembly is after this one's close")
    if entry is not None:
        a.is_open, a.closed_seq, a.participants, a.roll = False, entry.seq, len(a.attended), set()
        a.next_ms = next_ms
        state.open_assembly_id = None
        if next_ms is not None:
            state.next_assembly_ms = next_ms


def minutes(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    exact_keys(body, {"kind", "assembly", "text"}, "assembly/minutes")
    text = get_text(body, "text", MAX_TEXT)
    assembly = get_entry_id(body, "assembly")
    if state.minutes_for != assembly:
        raise RuleError("assembly.minutes-misplaced", "minutes directly follow the close of their assembly")
    if entry is not None:
        state.assemblies[assembly].minutes = text
