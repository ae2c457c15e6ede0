"""Founding and membership: the council's founding entry, members joining, binding keys and leaving, the
census of active members."""

from __future__ import annotations

from typing import Any

from protocol.errors import DecodeError
from protocol.keys import PublicKey

from . import delegates, lookup
from .charter import Charter
from .errors import RuleError
from .fields import check_bytes, exact_keys, get_int, get_list, get_map, get_member, get_text
from .limits import MAX_NAME, PUBKEY_LEN
from .log import Appended
from .model import CensusRecord, Council, Mandate, Member, Profile
from .ruleset import Rules, RulesVersion


def found(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    exact_keys(body, {"kind", "profile", "charter", "charter_hash", "rules"}, "council/found")
    if state.founded:
        raise RuleError("council.already-founded", "the council is founded by the first entry only")
    p = get_map(body, "profile")
    exact_keys(p, {"name", "name_fa", "city", "country", "continent"}, "profile")
    profile = Profile(**{k: get_text(p, k, MAX_NAME, "limit.name") for k in sorted(p)})
    if not profile.name or not profile.continent:
        raise RuleError("council.bad-profile", "a council has a name and a continent")
    c = get_map(body, "charter")
    exact_keys(c, {"fa", "en"}, "charter")
    charter = Charter(fa=tuple(get_list(c, "fa")), en=tuple(get_list(c, "en")))
    if body["charter_hash"] != charter.hash():
        raise RuleError("council.charter-hash", "charter_hash is not the hash of the charter")
    version, rules = Rules.from_versioned_body(get_map(body, "rules"))
    if version != 1:
        raise RuleError("rules.bad-version", "the founding rules are version 1")
    if entry is not None:
        if entry.seq != 0:
            raise RuleError("council.already-founded", "the founding entry is seq 0")
        state.id, state.profile, state.charter = entry.id, profile, charter
        state.charter_hash = charter.hash()
        state.rules, state.rules_version = rules, 1
        state.rules_history[1] = RulesVersion(1, rules, entry.seq, entry.ts_ms, None, {})


def join(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    exact_keys(body, {"kind", "member", "charter_hash", "pubkey"}, "member/join")
    member = get_member(body, "member")
    pubkey = body["pubkey"]
    if pubkey is not None and (not isinstance(pubkey, bytes) or len(pubkey) != PUBKEY_LEN):
        raise RuleError("member.bad-key", f"a member key is {PUBKEY_LEN} bytes")
    # article 3: whoever wants the principles is a member — no vote, only the endorsement of this charter
    if body["charter_hash"] != state.charter_hash:
        raise RuleError("member.charter-mismatch", "the endorsed hash is not this council's charter")
    if member in state.members:
        # ids are never reused, so every log entry about a member id means one person
        raise RuleError("member.exists", "this member id has already been used")
    if pubkey is not None:
        _fresh_key(state, pubkey)
    if entry is not None:
        state.members[member] = Member(member, entry.seq, pubkey)
        if pubkey is not None:
            state.member_keys[pubkey] = member


def _fresh_key(state: Council, key: bytes) -> None:
    # a key names one member once: a key bound twice would make one member's signature pass for another's
    if key in state.member_keys or key in state.retired_keys:
        raise RuleError("member.key-used", "this key is bound already")
    try:
        PublicKey(key)
    except DecodeError as exc:
        raise RuleError("member.bad-key", f"not a usable Ed25519 key: {exc}") from exc


def bind_key(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    """A member's new key replaces their old one, which is revoked from this position (a lost phone)."""
    exact_keys(body, {"kind", "member", "key"}, "member/key")
    m = lookup.active(state, get_member(body, "member"))
    key = check_bytes(body["key"], "key", PUBKEY_LEN)
    _fresh_key(state, key)
    if entry is not None:
        if m.pubkey is not None:
            state.member_keys.pop(m.pubkey, None)
            state.retired_keys[m.pubkey] = entry.seq
        m.pubkey = key
        state.member_keys[key] = m.id


def leave(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    exact_keys(body, {"kind", "member"}, "member/leave")
    m = lookup.active(state, get_member(body, "member"))
    if entry is not None:
        seat = _seat_of(state, m.id)
        state.left_board = [] if seat is None else [(seat.decision, seat.seat)]
        state.left_delegates = [(d.decision, d.seat) for d in state.sitting_delegates() if d.member == m.id]
        end_membership(state, m, "left", entry.seq, None)


def end_membership(state: Council, member: Member, how: str, seq: int, by: bytes | None) -> None:
    member.active = False
    member.ended_seq = seq
    member.ended_how = "left" if how == "left" else "removed"
    a = state.open_assembly()
    if a is not None:
        a.roll.discard(member.id)
    # a member who is no longer a member cannot sit on the board (article 5, DESIGN §1)
    for mandate in state.mandates:
        if mandate.sitting and mandate.member == member.id:
            mandate.ended_how = "left" if how == "left" else "removed"
            mandate.ended_by, mandate.ended_seq = by, seq
    delegates.end_for(state, member.id, member.ended_how, seq, by)


def _seat_of(state: Council, member: bytes) -> Mandate | None:
    """The mandate ``member`` sits in (a member holds one seat at most: election.candidate-on-board)."""
    return next((m for m in state.mandates if m.sitting and m.member == member), None)


def census(state: Council, body: dict[str, Any], entry: Appended | None) -> None:
    exact_keys(body, {"kind", "active_members"}, "council/census")
    count = get_int(body, "active_members")
    # the federation counts members (DESIGN §5) without learning who they are (§6): a bucketed count only
    if count != state.rules.census(len(state.active_members())):
        raise RuleError("census.mismatch", "not the (bucketed) count of active members at this point")
    if entry is not None:
        state.census = CensusRecord(entry.seq, entry.ts_ms, count)
