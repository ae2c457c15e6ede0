"""One function per entry kind: check a body against the state and, given the stored entry, apply it.

The same function serves ``execute`` (``entry=None``: judge only, at ``ts_ms`` = the time the entry will
carry) and ``apply`` (judge at the entry's time, then change the state), so a command is accepted exactly when
the entry it produces would be accepted on replay.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from node.rules import logkey
from node.rules.council.errors import RuleError
from node.rules.council.fields import (
    check_bytes,
    exact_keys,
    get_int,
    get_map,
    get_text,
    malformed,
    one_of,
    plain,
)
from node.rules.council.log import Appended

from . import mandate, requests
from .limits import ENTRY_ID_LEN, KEY_LEN, MAX_GRACE_MS, MAX_NAME, MAX_REASON, MAX_TEXT, MAX_URL
from .model import (
    LEVELS,
    MEMBER_KINDS,
    Federation,
    Profile,
    Proposal,
    ProposalResult,
    RosterEvent,
    RosterMember,
)
from .result import read_result, result_body
from .tally import TALLY_RULES, tally

Handler = Callable[[Federation, dict[str, Any], int, Appended | None], None]

ADMIT_FIELDS = ("name", "name_fa", "city", "country", "continent", "url")
_BY = {"by"}  # the councils' mandate (``mandate.py``): absent before it, and for founders


def _member(state: Federation, body: dict[str, Any]) -> RosterMember:
    m = state.roster.get(check_bytes(body["member"], "member", KEY_LEN))
    if m is None:
        raise RuleError("roster.not-admitted", "this member is not on the roster")
    return m


def _reason(body: dict[str, Any], required: bool) -> str:
    reason = get_text(body, "reason", MAX_REASON, "limit.reason")
    if required and not reason.strip():
        raise RuleError("roster.reason-missing", "say why: the roster is public and answerable")
    return reason


def _event(entry: Appended, action: Any, reason: str, size: int | None = None) -> RosterEvent:
    return RosterEvent(entry.seq, entry.id, entry.ts_ms, action, reason, size)


# -- founding --------------------------------------------------------------------------------------


def found(state: Federation, body: dict[str, Any], ts_ms: int, entry: Appended | None) -> None:
    exact_keys(body, {"kind", "profile"} | ({"founding"} & body.keys()), "federation/found")
    founding = mandate.read_founding(body)
    if state.founded:
        raise RuleError("federation.already-founded", "the federation is founded by the first entry only")
    p = get_map(body, "profile")
    exact_keys(p, {"name", "name_fa", "level", "country", "continent"}, "profile")
    level = p["level"]
    if level not in LEVELS:
        raise RuleError("federation.bad-level", f"a federation's level is {one_of(LEVELS)}")
    texts = {k: get_text(p, k, MAX_NAME, "limit.name") for k in ("name", "name_fa", "country", "continent")}
    profile = Profile(level=level, **texts)
    if not profile.name or not profile.continent:
        raise RuleError("federation.bad-profile", "a federation has a name and a continent")
    # article 2: a federation "in each country and continent" — a country one names its country
    if (level == "country") != bool(profile.country):
        raise RuleError(
            "federation.bad-profile", "a country federation names its country, a continent one none"
        )
    if entry is not None:
        if entry.seq != 0:
            raise RuleError("federation.already-founded", "the founding entry is seq 0")
        state.id, state.profile, state.founding = entry.id, profile, founding


# -- the roster ------------------------------------------------------------------------------------


def admit(state: Federation, body: dict[str, Any], ts_ms: int, entry: Appended | None) -> None:
    exact_keys(
        body, {"kind", "member", "member_kind", *ADMIT_FIELDS, "reason", *_BY & body.keys()}, "roster/admit"
    )
    member = check_bytes(body["member"], "member", KEY_LEN)
    kind = body["member_kind"]
    if kind not in MEMBER_KINDS:
        raise RuleError("roster.bad-kind", f"a member is {one_of(MEMBER_KINDS)}")
    p = {k: get_text(body, k, MAX_URL if k == "url" else MAX_NAME, "limit.name") for k in ADMIT_FIELDS}
    reason = _reason(body, required=False)
    if not p["name"] or not p["continent"] or not p["country"]:
        raise RuleError("roster.bad-profile", "a member has a name, a country and a continent")
    if (kind == "council") != bool(p["city"]):
        raise RuleError("roster.bad-profile", "a council names its city; a federation none")
    if p["url"] and not p["url"].startswith(("https://", "http://")):
        raise RuleError("roster.bad-url", "a member's url is http(s)")
    assert state.profile is not None  # _precheck: founded
    if member == state.log_id:
        raise RuleError("roster.self", "a federation is not its own member")
    # article 2: the federation of a country unites that country's city councils; a continent's federation
    # unites its country federations (and councils where no country federation exists)
    if state.profile.level == "country":
        if kind != "council":
            raise RuleError("roster.kind-not-allowed", "a country federation admits councils only")
        if p["country"] != state.profile.country:
            raise RuleError("roster.other-country", "a country federation admits councils of its country")
    if p["continent"] != state.profile.continent:
        raise RuleError("roster.other-continent", "a member lies on the federation's continent")
    if member in state.roster:
        raise RuleError("roster.already-admitted", "this member is on the roster (readmit a suspended one)")
    mandate.judge(state, body, "admit", member, entry)
    if entry is not None:
        state.roster[member] = _admitted(member, kind, p, _event(entry, "admit", reason))


def _admitted(member: bytes, kind: Any, p: dict[str, str], event: RosterEvent) -> RosterMember:
    return RosterMember(
        member, kind, p["name"], p["name_fa"], p["city"], p["country"], p["continent"], p["url"], [event]
    )


def _not_rekeyed(m: RosterMember) -> None:
    if m.rekeyed_to is not None:
        raise RuleError("roster.rekeyed", "this member moved to a new root key; act on that key")


def suspend(state: Federation, body: dict[str, Any], ts_ms: int, entry: Appended | None) -> None:
    exact_keys(body, {"kind", "member", "reason", "size", *_BY & body.keys()}, "roster/suspend")
    m = _member(state, body)
    _not_rekeyed(m)
    reason = _reason(body, required=True)
    size = get_int(body, "size")
    if not m.active:
        raise RuleError("roster.already-suspended", "this member is suspended already")
    if size < 0:
        raise RuleError("roster.bad-size", "a log size is not negative")
    # a log only grows: an earlier suspension already accepted entries up to its size
    if any(e.size is not None and size < e.size for e in m.events):
        raise RuleError("roster.size-regressed", "smaller than a size held at an earlier suspension")
    mandate.judge(state, body, "suspend", m.member, entry)
    if entry is not None:
        m.events.append(_event(entry, "suspend", reason, size))


def readmit(state: Federation, body: dict[str, Any], ts_ms: int, entry: Appended | None) -> None:
    exact_keys(body, {"kind", "member", "reason", *_BY & body.keys()}, "roster/readmit")
    m = _member(state, body)
    _not_rekeyed(m)
    reason = _reason(body, required=True)
    if m.active:
        raise RuleError("roster.not-suspended", "only a suspended member is readmitted")
    mandate.judge(state, body, "readmit", m.member, entry)
    if entry is not None:
        m.events.append(_event(entry, "readmit", reason))


def rekey(state: Federation, body: dict[str, Any], ts_ms: int, entry: Appended | None) -> None:
    """A member's root key was lost or stolen: the roster moves it to a new key (its new log). The old key
    is retired for good — peers stop trusting it — and its log is accepted up to ``size`` only."""
    exact_keys(body, {"kind", "member", "new_key", "reason", "size", "requested_by"}, "roster/rekey")
    m = _member(state, body)
    _not_rekeyed(m)
    new = check_bytes(body["new_key"], "new_key", KEY_LEN)
    reason = _reason(body, required=True)
    size = get_int(body, "size")
    if body["requested_by"] not in ("member", "federation"):
        raise RuleError(
            "roster.bad-request", "a move is requested by the member or decided by the federation"
        )
    if new in state.roster or new == state.log_id:
        raise RuleError("roster.key-taken", "the new key is on the roster already (or is the federation's)")
    if size < 0 or any(e.size is not None and size < e.size for e in m.events):
        raise RuleError("roster.size-regressed", "smaller than a size held at an earlier suspension")
    if entry is not None:
        m.events.append(_event(entry, "rekey", reason, size))
        m.rekeyed_to = new
        profile = {k: getattr(m, k) for k in ADMIT_FIELDS}
        state.roster[new] = _admitted(new, m.kind, profile, _event(entry, "admit", reason))
        state.roster[new].rekeyed_from = m.member


# -- proposals -------------------------------------------------------------------------------------


def publish(state: Federation, body: dict[str, Any], ts_ms: int, entry: Appended | None) -> None:
    keys = {"kind", "text_fa", "text_en", "deadline_ms", "rule"}
    # no grace before issue 13; an action only on a proposal that mandates a roster change
    exact_keys(body, keys | ({"grace_ms", "action", "requested_by"} & body.keys()), "proposal/publish")
    action = mandate.read_action(body)
    requested_by = requests.read_requested_by(state, body)
    text_fa, text_en = get_text(body, "text_fa", MAX_TEXT), get_text(body, "text_en", MAX_TEXT)
    # Persian is the movement's language, English its working translation: both, always
    if not text_fa.strip() or not text_en.strip():
        raise RuleError("proposal.text-missing", "a proposal has its Persian and English text")
    if body["rule"] not in TALLY_RULES:
        raise RuleError("proposal.bad-rule", f"a tally rule is {one_of(TALLY_RULES)}")
    deadline = get_int(body, "deadline_ms")
    if deadline <= ts_ms:
        raise RuleError("proposal.deadline-past", "the deadline must lie after the proposal is published")
    grace = get_int(body, "grace_ms") if "grace_ms" in body else None
    if grace is not None and not 0 <= grace <= MAX_GRACE_MS:
        raise RuleError("proposal.bad-grace", f"a grace is 0 to {MAX_GRACE_MS // 86_400_000} days")
    if entry is not None:
        state.proposals[entry.id] = Proposal(
            entry.id,
            entry.seq,
            entry.ts_ms,
            state.log_id,
            text_fa,
            text_en,
            deadline,
            body["rule"],
            grace,
            action,
            requested_by,
        )


def result(state: Federation, body: dict[str, Any], ts_ms: int, entry: Appended | None) -> None:
    if "proposal" not in body:
        raise malformed("a result names its proposal")
    proposal = state.proposals.get(check_bytes(body["proposal"], "proposal", ENTRY_ID_LEN))
    if proposal is None:
        raise RuleError("proposal.unknown", "no such proposal")
    if proposal.id in state.results:
        raise RuleError("result.already", "a proposal's result is written once")
    if ts_ms < proposal.deadline_ms:
        deadline = datetime.datetime.fromtimestamp(proposal.deadline_ms / 1000, datetime.UTC)
        raise RuleError(
            "result.too-early",
            f"a result is written at or after the proposal's deadline, {deadline:%Y-%m-%d %H:%M} UTC: "
            "close it then",
        )
    listed = read_result(body)
    # a proposal that stated a grace is closed under issue 13's rules, and its result says who was not heard
    if (listed.not_heard is None) != (proposal.grace_ms is None):
        raise RuleError("result.mismatch", "a result lists who was not heard iff its proposal has a grace")
    # the roster at the deadline is this log's own: entries are time-ordered, so it cannot change after
    admitted = state.admitted_at(proposal.deadline_ms)
    if listed.through is not None:
        # article 2: a continent counts the councils of the country federations it admitted, each listed
        # with its own roster at the deadline (``verify_through`` checks those against their logs)
        if set(listed.through) != state.admitted_at(proposal.deadline_ms, kind="federation"):
            raise RuleError("result.through", "a result lists every member federation active at the deadline")
        admitted = admitted.union(*listed.through.values())
    if plain(body) != result_body(proposal.terms, admitted, listed.answers, listed.not_heard, listed.through):
        raise RuleError("result.mismatch", "the result does not follow from its answers and the roster")
    # issue 13: a result written before every admitted council was heard from past the deadline would be
    # final without their answers; it may be written only once the grace the proposal stated has ended
    if listed.not_heard and ts_ms < proposal.grace_ends_ms:
        raise RuleError(
            "result.not-heard", "councils not heard from since the deadline: wait for them or for the grace"
        )
    if entry is not None:
        counted, refused, totals, outcome = tally(
            proposal.terms, admitted, listed.answers, answer_again=listed.not_heard is not None
        )
        state.results[proposal.id] = ProposalResult(
            entry.id,
            entry.seq,
            entry.ts_ms,
            proposal.id,
            tuple(counted),
            tuple(refused),
            totals,
            outcome,
            body,
        )


KINDS: dict[str, Handler] = {
    "federation/found": found,
    "roster/admit": admit,
    "roster/suspend": suspend,
    "roster/readmit": readmit,
    "roster/rekey": rekey,
    "proposal/publish": publish,
    "proposal/result": result,
    logkey.KIND: lambda _state, body, _ts, entry: logkey.judge(body, entry),
}
