"""execute / apply / replay: the council's governance as a pure state machine.

``execute`` judges a command against the state and returns the entries to append (never changing the state);
the storage layer signs and appends them, then calls ``apply`` with each stored entry. ``apply`` judges every
entry again with the same code, so a log written by a buggy or hostile node cannot corrupt the state, and the
state is always ``replay`` of the log. No I/O, clock or randomness here: ids and times come in as arguments.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import board, delegates, issuer
from .assemblies import check_new_requisition
from .commands import (
    Attend,
    BindKey,
    CastVote,
    Census,
    CloseAssembly,
    CloseMotion,
    Command,
    Consent,
    Depart,
    FileReport,
    FoundCouncil,
    Issued,
    JoinMember,
    LeaveMember,
    OpenAssembly,
    ProposeMotion,
    RequestAssembly,
    ResignSeat,
)
from .decide import decision_bodies, electorate_count, runoff_proposal
from .entries import KINDS
from .errors import RuleError
from .fields import malformed, nfc_text, plain
from .limits import MAX_TEXT
from .log import Appended, Draft
from .model import Council, Mandate
from .motions import CONSENTED_KINDS
from .rules import APPROVAL_MAJORITY, impossible

SALT = "salt"  # added by the signer to council bodies (DESIGN §3); never one of our fields


def _body(state: Council, command: Command) -> tuple[dict[str, Any], list[Draft]]:
    """The first entry's body for ``command``, and any follow-up drafts it implies."""
    match command:
        case FoundCouncil():
            # refused when founded only (judged before any member joins): older logs replay as written
            why = impossible(command.rules.quorum, None, command.rules.quorum_cap)
            if why is not None:
                raise RuleError("rules.impossible", f"these rules could never decide anything: {why}")
            profile = {
                "name": nfc_text(command.name),
                "name_fa": nfc_text(command.name_fa),
                "city": nfc_text(command.city),
                "country": nfc_text(command.country),
                "continent": nfc_text(command.continent),
            }
            rules = {"version": 1, **command.rules.to_body()}
            return {
                "kind": "council/found",
                "profile": profile,
                "charter": command.charter.to_body(),
                "charter_hash": command.charter.hash(),
                "rules": rules,
            }, []
        case JoinMember():
            return {
                "kind": "member/join",
                "member": command.member,
                "charter_hash": command.charter_hash,
                "pubkey": command.pubkey,
            }, []
        case LeaveMember():
            # a board member's leaving ends their mandate: the public log says so, cause "left" — for a
            # mandate given in public only: one a council-only election gave was never shown, nor is its end
            seat = next((m for m in state.sitting_mandates() if m.member == command.member), None)
            shown = seat is not None and board.given_in_public(state, seat.decision)
            left = [Draft("public", _mandate("board/left", seat.member, seat))] if seat and shown else []
            # and a delegate's ends their mandates to the federation: published as delegate/left (issue 13)
            left += [
                Draft("public", _mandate("delegate/left", d.member, d))
                for d in state.sitting_delegates()
                if d.member == command.member
            ]
            return {"kind": "member/leave", "member": command.member}, left
        case ResignSeat():
            seat = next((m for m in state.sitting_mandates() if m.member == command.member), None)
            return _mandate("board/resign", command.member, seat, command.decision), []
        case BindKey():
            return {"kind": "member/key", "member": command.member, "key": command.key}, []
        case RequestAssembly():
            check_new_requisition(state, command.member, command.round)
            text = nfc_text(command.text)
            return {
                "kind": "assembly/requisition",
                "member": command.member,
                "text": text,
                "round": command.round,
            }, []
        case OpenAssembly():
            agenda = nfc_text(command.agenda)
            opened: dict[str, Any] = {"kind": "assembly/open", "convened_by": command.convened_by}
            opened["agenda"] = agenda
            if command.ground is not None:
                opened |= {"ground": command.ground, "due_ms": command.due_ms}
            return opened, []
        case Attend():
            members = list(command.members)
            return {"kind": "assembly/attend", "assembly": command.assembly, "members": members}, []
        case Depart():
            return {"kind": "assembly/depart", "assembly": command.assembly, "member": command.member}, []
        case CloseAssembly():
            a = state.assemblies.get(command.assembly)
            body = {
                "kind": "assembly/close",
                "assembly": command.assembly,
                "participants": 0 if a is None else len(a.attended),
            }
            if command.next_ms is not None:
                body["next_ms"] = command.next_ms
            extra: list[Draft] = []
            if command.minutes is not None:
                text = nfc_text(command.minutes)
                if len(text) > MAX_TEXT:
                    raise RuleError("limit.text", f"minutes are limited to {MAX_TEXT} characters")
                minutes = {"kind": "assembly/minutes", "assembly": command.assembly, "text": text}
                extra.append(Draft("council", minutes))
            return body, extra
        case ProposeMotion():
            text = nfc_text(command.text)
            # refused when proposed only: an older log may hold empty texts, and replays unchanged
            if not text.strip():
                raise RuleError("motion.empty-text", "a motion needs a text saying what is decided")
            if command.rules is not None:
                # refused when proposed only: judged against the members of now, as a replay cannot be
                asked = command.rules
                why = impossible(asked.quorum, len(state.active_members()), asked.quorum_cap)
                if why is not None:
                    raise RuleError("rules.impossible", f"these rules could never decide anything: {why}")
            a = state.assemblies.get(command.assembly)
            return {
                "kind": "motion/propose",
                "assembly": command.assembly,
                "motion_kind": command.kind,
                "text": text,
                "visibility": command.visibility,
                "proposer": command.proposer,
                "seats": command.seats,
                "candidates": list(command.candidates),
                "target": command.target,
                "rules": None if command.rules is None else command.rules.to_body(),
                "proposal": None if command.proposal is None else list(command.proposal),
                # only on request motions: every other motion keeps the bytes it had before requests
                **({} if command.federation is None else {"federation": command.federation}),
                # elections declare how they are decided (issue 13); other motions follow the majority rule
                **({"method": APPROVAL_MAJORITY} if command.kind == "election" else {}),
                # and every candidate consented to stand (issue 13): board and delegate candidates alike
                **({"consented": True} if command.kind in CONSENTED_KINDS else {}),
                "rules_version": state.rules_version,
                "electorate": electorate_count(state, 0 if a is None else len(a.roll), command.visibility),
            }, []
        case Consent():
            return {"kind": "member/consent", "assembly": command.assembly, "member": command.member}, []
        case CastVote():
            return {
                "kind": "motion/vote",
                "motion": command.motion,
                "member": command.member,
                "choice": command.choice,
                "approvals": list(command.approvals),
                "ballot": command.ballot,
            }, []
        case CloseMotion():
            motion = state.motions.get(command.motion)
            if motion is None:
                raise RuleError("motion.unknown", "no such motion")
            if not motion.is_open:
                raise RuleError("motion.closed", "that motion has been decided")
            decided, tally = decision_bodies(state, motion)
            follow = [] if tally is None else [Draft("council", tally)]
            # a council-only recall or removal publishes the end of a public board mandate, and a council-only
            # removal of a delegate the mandate's end (issue 13)
            follow += [Draft("public", ended) for ended in board.published_ends(state, motion, decided)]
            follow += [Draft("public", ended) for ended in delegates.published_ends(motion, decided)]
            if decided.get("runoff") is not None:
                # a tie for the last seat opens its runoff in the same batch (issue 13)
                follow.append(Draft(motion.visibility, runoff_proposal(state, motion, decided["runoff"])))
            return decided, follow
        case FileReport():
            return {"kind": "board/report", "member": command.member, "text": nfc_text(command.text)}, []
        case Census():
            count = state.rules.census(len(state.active_members()))
            return {"kind": "council/census", "active_members": count}, []
    raise RuleError("command.unknown", f"not a governance command: {type(command).__name__}")


def _mandate(kind: str, member: bytes, seat: Mandate | None, decision: bytes | None = None) -> dict[str, Any]:
    """A board/left, delegate/left or board/resign body: whose mandate ends, named as the decision and seat
    that gave it."""
    given = decision if decision is not None else seat.decision if seat is not None else b""
    return {"kind": kind, "member": member, "decision": given, "seat": 0 if seat is None else seat.seat}


def _precheck(state: Council, kind: str) -> None:
    if not state.founded and kind != "council/found":
        raise RuleError("council.not-founded", "the first entry founds the council")
    if state.pending_tally is not None and kind != "decision/tally":
        raise RuleError("log.tally-expected", "a public decision's hidden tally must follow it")
    if state.pending_tally is None and state.pending_runoff is not None and kind != "motion/propose":
        raise RuleError("log.runoff-expected", "a tied election's runoff motion must follow its decision")


def execute(state: Council, command: Command | Issued, now_ms: int) -> list[Draft]:
    """The entries recording ``command``, or ``RuleError``. Never changes ``state``.

    An ``Issued`` command's entries all state who issued it (``issuer``); the first is judged for it.
    ``now_ms`` is accepted for rules that depend on time; none does yet (entry times come from the log).
    """
    by = None
    if isinstance(command, Issued):
        by, command = command.by.to_body(), command.command
    body, extra = _body(state, command)
    kind = body["kind"]
    _precheck(state, kind)
    vis_of, handler = KINDS[kind]
    handler(state, body, None)
    drafts = [Draft(vis_of(state, body), body), *extra]
    if by is None:
        return drafts
    issuer.judge(state, kind, body, by)
    return [Draft(d.vis, {**d.body, issuer.ATTRIBUTION: by}) for d in drafts]


def apply(state: Council, entry: Appended, *, judged: bool = False) -> None:
    """Judge a stored entry and fold it into ``state``; ``RuleError`` leaves ``state`` unchanged.

    ``judged``: ``execute`` has just judged this very entry (the first of its command) against this very
    state, so the handler's judgement is not run twice; the log-level checks still are.
    """
    if entry.seq != state.next_seq:
        raise RuleError("log.seq", f"expected entry {state.next_seq}, got {entry.seq}")
    if not isinstance(entry.body, dict) or not isinstance(entry.body.get("kind"), str):
        raise malformed("a body is a map with a kind")
    body = plain(entry.body)
    if entry.vis == "council" and not isinstance(body.pop(SALT, None), bytes):
        raise malformed("a council body carries a salt")
    by = body.pop(issuer.ATTRIBUTION, None)  # absent in logs written before attribution
    kind = body["kind"]
    if kind not in KINDS:
        raise RuleError("log.unknown-kind", f"unknown entry kind {kind!r}")
    _precheck(state, kind)
    vis_of, handler = KINDS[kind]
    if entry.vis != vis_of(state, body):
        raise RuleError("log.visibility", f"{kind} must be stored with visibility {vis_of(state, body)}")
    if not judged:
        handler(state, body, None)  # judge fully before changing anything
        if by is not None:
            issuer.judge(state, kind, body, by)
    # board/left, then delegate/left, directly follow the member/leave or the council-only recall or removal
    # that ended the mandates: the entry that ends them sets the lists anew, any other empties them
    if kind != "board/left":
        state.left_board = []
    if kind not in ("board/left", "delegate/left"):
        state.left_delegates = []
    handler(state, body, entry)
    if by is not None:
        issuer.note(state, kind, body, by, entry)
    state.minutes_for = body["assembly"] if kind == "assembly/close" else None
    state.next_seq += 1


def replay(entries: Iterable[Appended]) -> Council:
    state = Council()
    for entry in entries:
        apply(state, entry)
    return state
