"""The rules of attribution and members' signatures (node.rules.council.issuer), without a database: what a
record proves offline, and what a hostile log cannot slip past a replay."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest

from node.rules.council import (
    Attend,
    BindKey,
    CastVote,
    Census,
    CloseMotion,
    Command,
    Consent,
    Council,
    FoundCouncil,
    Issued,
    Issuer,
    JoinMember,
    LeaveMember,
    OpenAssembly,
    ProposeMotion,
    RuleError,
    Rules,
    apply,
    execute,
    replay,
)
from node.rules.council.log import Appended
from node.rules.council.ruleset import SIGNED_BALLOTS_DEFAULT
from protocol.keys import SigningKey
from protocol.member import Statement, sign_statement

OPERATOR = Issuer("operator", SigningKey.from_seed(bytes(32)).public.raw)


class Log:
    def __init__(self) -> None:
        self.state = Council()
        self.entries: list[Appended] = []
        self.now = 0  # the time the next entries are stamped with (the node's one clock)

    def run(self, command: Command | Issued) -> list[Appended]:
        out = []
        for n, draft in enumerate(execute(self.state, command, 0)):
            body = dict(draft.body)
            if draft.vis == "council":
                body["salt"] = os.urandom(16)
            entry_id = hashlib.sha256(os.urandom(16)).digest()
            entry = Appended(len(self.entries), entry_id, self.now, draft.vis, body)
            apply(self.state, entry, judged=n == 0)
            self.entries.append(entry)
            out.append(entry)
        return out

    def member(self) -> tuple[bytes, SigningKey]:
        key, member = SigningKey.generate(), os.urandom(16)
        assert self.state.id is not None and self.state.charter_hash is not None
        fields = {"member": member, "charter_hash": self.state.charter_hash, "key": key.public.raw}
        sig = sign_statement(key, Statement("join", self.state.id, fields))
        self.run(
            Issued(JoinMember(member, self.state.charter_hash, key.public.raw), self.signer(member, key, sig))
        )
        return member, key

    def signer(self, member: bytes, key: SigningKey, sig: bytes) -> Issuer:
        return Issuer("member", key.public.raw, member, sig, OPERATOR)

    def ballot(self, member: bytes, key: SigningKey, on: bytes, vote: str, **over: Any) -> Issued:
        """``member``'s signed ballot ``vote``; ``over`` changes what the signature covers (not the vote)."""
        assert self.state.id is not None
        m = self.state.motions[on]
        fields = {
            "assembly": m.assembly,
            "motion": on,
            "member": member,
            "choice": vote,
            "approvals": [],
        }
        sig = sign_statement(key, Statement("ballot", over.pop("council", self.state.id), {**fields, **over}))
        return Issued(CastVote(on, member, vote, (), sig), Issuer("member", key.public.raw, member, sig))


@pytest.fixture
def log() -> Log:
    log = Log()
    log.run(FoundCouncil("Toronto Council", "North America"))
    return log


def meeting(log: Log) -> tuple[bytes, SigningKey, bytes, bytes]:
    member, key = log.member()
    assembly = log.run(Issued(OpenAssembly(None), OPERATOR))[0].id
    assert log.state.id is not None
    sig = sign_statement(key, Statement("checkin", log.state.id, {"assembly": assembly, "member": member}))
    log.run(Issued(Attend(assembly, (member,)), Issuer("member", key.public.raw, member, sig)))
    motion = log.run(Issued(ProposeMotion(assembly, "policy", "a motion"), OPERATOR))[0].id
    return member, key, assembly, motion


def refused(log: Log, command: Command | Issued, rule: str) -> None:
    size = len(log.entries)
    with pytest.raises(RuleError) as caught:
        log.run(command)
    assert caught.value.rule == rule
    assert len(log.entries) == size


def test_a_signed_ballot_is_counted_as_signed_and_replays(log: Log) -> None:
    member, key, _, motion = meeting(log)
    log.run(log.ballot(member, key, motion, "yes"))
    decision = log.run(Issued(CloseMotion(motion), OPERATOR))[0].body
    assert (decision["outcome"], decision["ballots_signed"], decision["ballots_recorded"]) == (
        "adopted",
        1,
        0,
    )
    assert replay(log.entries).decisions[decision_id(log)].body["ballots_signed"] == 1


def decision_id(log: Log) -> bytes:
    return next(e.id for e in reversed(log.entries) if e.body["kind"] == "decision")


@pytest.mark.parametrize(
    ("over", "rule"),
    [
        pytest.param({"choice": "no"}, "member.bad-signature", id="forged_ballot"),
        pytest.param({"motion": os.urandom(32)}, "member.bad-signature", id="ballot_for_another_motion"),
        pytest.param({"assembly": os.urandom(32)}, "member.bad-signature", id="ballot_for_another_assembly"),
        pytest.param({"council": os.urandom(32)}, "member.bad-signature", id="ballot_for_another_council"),
    ],
)
def test_a_ballot_signed_for_something_else_is_refused(log: Log, over: dict[str, Any], rule: str) -> None:
    member, key, _, motion = meeting(log)
    refused(log, log.ballot(member, key, motion, "yes", **over), rule)


def test_a_hostile_log_cannot_slip_a_forged_ballot_past_replay(log: Log) -> None:
    member, key, _, motion = meeting(log)
    log.run(log.ballot(member, key, motion, "yes"))
    entries = list(log.entries)
    vote = entries[-1]
    body = dict(vote.body)
    body["choice"] = "no"  # the node changed the member's choice, keeping their signature
    entries[-1] = Appended(vote.seq, vote.id, vote.ts_ms, vote.vis, body)
    with pytest.raises(RuleError) as caught:
        replay(entries)
    assert caught.value.rule == "member.bad-signature"


def test_a_replaced_key_is_revoked_from_that_position(log: Log) -> None:
    member, old, _, motion = meeting(log)
    new = SigningKey.generate()
    assert log.state.id is not None
    sig = sign_statement(new, Statement("key", log.state.id, {"member": member, "key": new.public.raw}))
    log.run(Issued(BindKey(member, new.public.raw), Issuer("member", new.public.raw, member, sig, OPERATOR)))
    refused(log, log.ballot(member, old, motion, "yes"), "member.key-revoked")
    log.run(log.ballot(member, new, motion, "yes"))
    # the old key can never be bound again, to anyone
    refused(log, BindKey(member, old.public.raw), "member.key-used")


def test_only_the_key_itself_binds_a_key(log: Log) -> None:
    member, _, _, _ = meeting(log)
    refused(log, Issued(BindKey(member, SigningKey.generate().public.raw), OPERATOR), "issuer.not-allowed")
    assert log.state.charter_hash is not None
    key = SigningKey.generate().public.raw
    refused(
        log, Issued(JoinMember(os.urandom(16), log.state.charter_hash, key), OPERATOR), "member.key-unsigned"
    )


def test_a_member_acts_for_themselves_only(log: Log) -> None:
    member, key, assembly, _ = meeting(log)
    other, _ = log.member()
    assert log.state.id is not None
    sig = sign_statement(key, Statement("checkin", log.state.id, {"assembly": assembly, "member": member}))
    refused(
        log,
        Issued(Attend(assembly, (other,)), Issuer("member", key.public.raw, member, sig)),
        "issuer.not-self",
    )


def test_the_secretary_records_no_vote_for_a_keyed_member_where_rules_require_signed_ballots(
    log: Log,
) -> None:
    member, _, assembly, _ = meeting(log)
    recall_kinds = Rules().signed_ballots
    assert recall_kinds == SIGNED_BALLOTS_DEFAULT == ("election", "recall")
    hands = os.urandom(16)
    assert log.state.charter_hash is not None
    log.run(Issued(JoinMember(hands, log.state.charter_hash), OPERATOR))
    log.run(Issued(Attend(assembly, (hands,)), OPERATOR))
    log.run(Issued(Consent(assembly, hands), OPERATOR))  # no key: the secretary records their consent
    election = log.run(
        Issued(ProposeMotion(assembly, "election", "board", seats=1, candidates=(hands,)), OPERATOR)
    )
    motion = election[0].id
    refused(log, Issued(CastVote(motion, member, None, (hands,)), OPERATOR), "vote.signature-required")
    log.run(Issued(CastVote(motion, hands, None, (hands,)), OPERATOR))  # no key: a hand the secretary records


def test_a_board_member_acts_for_the_board_only_while_sitting(log: Log) -> None:
    member, key, _, motion = meeting(log)
    board = Issuer("board", key.public.raw, member)
    refused(log, Issued(Census(), board), "board.not-member")  # not on the board
    refused(log, Issued(CloseMotion(motion), board), "board.not-member")  # the chair's, but not sitting
    refused(log, Issued(LeaveMember(member), board), "issuer.not-allowed")  # not the board's to do


def test_signed_ballots_rule_keeps_old_rules_bytes() -> None:
    assert "signed_ballots" not in Rules().to_body()
    custom = Rules(signed_ballots=("election", "policy", "recall"))
    assert Rules.from_body(custom.to_body()) == custom
    with pytest.raises(RuleError) as caught:
        Rules(signed_ballots=("nonsense",))  # type: ignore[arg-type]
    assert caught.value.rule == "rules.bad-signed-ballots"


def test_a_log_written_before_attribution_replays_unchanged() -> None:
    log = Log()
    log.run(FoundCouncil("Old Council", "Asia"))
    member = os.urandom(16)
    assert log.state.charter_hash is not None
    log.run(JoinMember(member, log.state.charter_hash))
    assembly = log.run(OpenAssembly(None))[0].id
    log.run(Attend(assembly, (member,)))
    motion = log.run(ProposeMotion(assembly, "policy", "old"))[0].id
    log.run(CastVote(motion, member, "yes"))
    decision = log.run(CloseMotion(motion))[0].body
    assert "ballots_signed" not in decision and "issued_by" not in decision
    assert replay(log.entries).decisions


def test_the_signed_ballots_rule_of_a_motions_proposal_applies_to_it(log: Log) -> None:
    """Issue 13: a motion is decided under the rules of its proposal — who must sign their own ballot too."""
    member, _, assembly, earlier = meeting(log)
    signed = ("election", "policy", "recall")
    change = log.run(
        Issued(ProposeMotion(assembly, "rules", "sign policy", rules=Rules(signed_ballots=signed)), OPERATOR)
    )
    log.run(Issued(CastVote(change[0].id, member, "yes"), OPERATOR))  # rules motions: hands may be recorded
    log.run(Issued(CloseMotion(change[0].id), OPERATOR))
    assert log.state.rules.signed_ballots == signed
    later = log.run(Issued(ProposeMotion(assembly, "policy", "a later motion"), OPERATOR))[0].id
    refused(log, Issued(CastVote(later, member, "yes"), OPERATOR), "vote.signature-required")
    log.run(Issued(CastVote(earlier, member, "yes"), OPERATOR))  # proposed under version 1: a hand is fine
    assert replay(log.entries) == log.state
