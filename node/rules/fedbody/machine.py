"""execute / apply / replay: the federation body's log as a pure state machine.

``execute`` judges a command against the state and returns the entries to append (never changing the state);
the storage layer signs and appends them, then calls ``apply`` with each stored entry, which judges it again
with the same code. Every entry is public: a federation body's log is what its members verify it by.

Time matters here (deadlines, the roster at a deadline), so entry times must not run backwards (rule
``log.time``). ``execute`` judges a command at ``max(now_ms, time of the last entry)`` — the time the node's
writer stamps on the entry it appends.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from node.rules.council.errors import RuleError
from node.rules.council.fields import malformed, nfc_text, plain
from node.rules.council.log import Appended, Draft

from . import requests
from .commands import Admit, Command, FoundFederation, PublishProposal, PublishResult, Readmit, Rekey, Suspend
from .entries import KINDS
from .model import Federation
from .result import result_body


def _body(state: Federation, command: Command) -> dict[str, Any]:
    match command:
        case FoundFederation():
            profile = {
                "name": nfc_text(command.name),
                "name_fa": nfc_text(command.name_fa),
                "level": command.level,
                "country": nfc_text(command.country),
                "continent": nfc_text(command.continent),
            }
            founding = {} if command.founding is None else {"founding": command.founding}
            return {"kind": "federation/found", "profile": profile} | founding
        case Admit():
            return {
                "kind": "roster/admit",
                "member": command.member,
                "member_kind": command.member_kind,
                "name": nfc_text(command.name),
                "name_fa": nfc_text(command.name_fa),
                "city": nfc_text(command.city),
                "country": nfc_text(command.country),
                "continent": nfc_text(command.continent),
                "url": nfc_text(command.url),
                "reason": nfc_text(command.reason),
            } | _by(command.by)
        case Suspend():
            return {
                "kind": "roster/suspend",
                "member": command.member,
                "reason": nfc_text(command.reason),
                "size": command.size,
            } | _by(command.by)
        case Readmit():
            body = {"kind": "roster/readmit", "member": command.member, "reason": nfc_text(command.reason)}
            return body | _by(command.by)
        case Rekey():
            return {
                "kind": "roster/rekey",
                "member": command.member,
                "new_key": command.new_key,
                "reason": nfc_text(command.reason),
                "size": command.size,
                "requested_by": command.requested_by,
            }
        case PublishProposal():
            return (
                {
                    "kind": "proposal/publish",
                    "text_fa": nfc_text(command.text_fa),
                    "text_en": nfc_text(command.text_en),
                    "deadline_ms": command.deadline_ms,
                    "rule": command.rule,
                    "grace_ms": command.grace_ms,
                }
                | (
                    {}
                    if command.action is None
                    else {"action": {"kind": command.action[0], "member": command.action[1]}}
                )
                | requests.to_body(command.requested_by)
            )
        case PublishResult():
            proposal = state.proposals.get(command.proposal)
            if proposal is None:
                raise RuleError("proposal.unknown", "no such proposal")
            admitted = state.admitted_at(proposal.deadline_ms)
            if proposal.grace_ms is None:  # published before issue 13: closed under the old rules
                return result_body(proposal.terms, admitted, command.answers, None)
            through = dict(command.through)
            admitted = admitted.union(*through.values())
            return result_body(proposal.terms, admitted, command.answers, command.not_heard, through)
    raise RuleError("command.unknown", f"not a federation command: {type(command).__name__}")


def _action(action: tuple[str, bytes] | None) -> dict[str, Any]:
    return {} if action is None else {"action": {"kind": action[0], "member": action[1]}}


def _by(by: bytes | None) -> dict[str, Any]:
    return {} if by is None else {"by": by}


def _precheck(state: Federation, kind: str) -> None:
    if not state.founded and kind != "federation/found":
        raise RuleError("federation.not-founded", "the first entry founds the federation")


def execute(state: Federation, command: Command, now_ms: int) -> list[Draft]:
    """The entry recording ``command``, or ``RuleError``. Never changes ``state``."""
    ts_ms = now_ms if state.last_ts_ms is None else max(now_ms, state.last_ts_ms)
    if not state.founded and not isinstance(command, FoundFederation):
        raise RuleError("federation.not-founded", "the first entry founds the federation")
    body = _body(state, command)
    KINDS[body["kind"]](state, body, ts_ms, None)
    return [Draft("public", body)]


def apply(state: Federation, entry: Appended) -> None:
    """Judge a stored entry and fold it into ``state``; ``RuleError`` leaves ``state`` unchanged."""
    if entry.seq != state.next_seq:
        raise RuleError("log.seq", f"expected entry {state.next_seq}, got {entry.seq}")
    if not isinstance(entry.body, dict) or not isinstance(entry.body.get("kind"), str):
        raise malformed("a body is a map with a kind")
    body = plain(entry.body)
    kind = body["kind"]
    if kind not in KINDS:
        raise RuleError("log.unknown-kind", f"unknown entry kind {kind!r}")
    if entry.vis != "public":
        raise RuleError("log.visibility", "a federation body's entries are public")
    if state.last_ts_ms is not None and entry.ts_ms < state.last_ts_ms:
        raise RuleError("log.time", "entry times do not run backwards")
    _precheck(state, kind)
    handler = KINDS[kind]
    handler(state, body, entry.ts_ms, None)  # judge fully before changing anything
    handler(state, body, entry.ts_ms, entry)
    state.next_seq += 1
    state.last_ts_ms = entry.ts_ms


def replay(entries: Iterable[Appended], log_id: bytes) -> Federation:
    state = Federation(log_id)
    for entry in entries:
        apply(state, entry)
    return state
