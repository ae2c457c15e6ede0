"""Who issued a command: the attribution every record entry carries (DESIGN.md §1; issue 12).

An entry's body carries ``issued_by`` (stripped before the kind's handler, like the salt; never published):

    {"role": "operator", "key": bin32}                       the operator's key: the secretary's pen
    {"role": "board", "member": id, "key": bin32}            a sitting board member, with their member key
    {"role": "member", "member": id, "key": bin32, "sig": bin64 [, "invited_by": {role, key[, member]}]}
                                                             a member acting for themselves

A member's entry carries their signature over the statement it records (``protocol.member``): the rules
rebuild the statement from the entry and the record, and check it, so a record proves what each member
did. Logs written before attribution have no ``issued_by``: their entries are taken as they are.

What each role may issue (anything else is ``issuer.not-allowed``):

- a member: their own join (with their key), a new key of theirs (``member/key``, replacing and revoking the
  old one from that position), their own check-in, their own ballot, their consent to stand as a candidate
  (``member/consent``), a requisition, their leaving (and the ``board/left`` and ``delegate/left`` that
  follow it), the resignation of their board seat (``board/resign``), and convening an assembly the board
  has not (``assembly/open`` with a ``ground``);
- a board member: opening an assembly they convene (never with a ``ground``), their own executive report, a
  census; and chairing an assembly from the console (issue 15): the roll, motions, hands counted in the room
  (where the operator may record them), closing motions and the assembly — the secretary's pen, named, so
  the record shows which board member held it; never on a recall or removal of their own mandate
  (``board.own-motion``: the board cannot block the assembly that may recall it, DESIGN.md §1);
- the operator: everything but a member's own acts — except that the operator cannot bind a key (only the
  key's own signature does), records no consent to stand as a candidate for a member who holds a key
  (``consent.signature-required``), and records no ballot for a member who holds a key on a motion whose
  kind the rules reserve to member-signed ballots (``vote.signature-required``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from protocol.errors import DecodeError, VerificationError
from protocol.member import Statement, verify_statement

from .decide import rules_of
from .errors import RuleError
from .fields import check_bytes, exact_keys, get_entry_id, get_member, malformed
from .limits import MEMBER_ID_LEN, PUBKEY_LEN
from .log import Appended
from .model import Council

ATTRIBUTION = "issued_by"
Role = Literal["operator", "board", "member"]
ROLES: tuple[Role, ...] = ("operator", "board", "member")
SIG_LEN = 64

MEMBER_KINDS = {
    "member/join",
    "member/key",
    "assembly/attend",
    "motion/vote",
    "assembly/requisition",
    "member/leave",
    "board/left",  # follows a board member's own member/leave: the same signed act
    "delegate/left",  # follows a delegate's own member/leave: the same signed act
    "assembly/open",  # on requisition or on the fixed date only (``ground``)
    "board/resign",
    "member/consent",
}
# the chair's entries: what the operator records for a sitting assembly, and what follows them in the same
# command (a decision's tally, a tied election's runoff motion, the board/left of a council-only recall or
# removal and the delegate/left of a council-only removal, the minutes after the close)
CHAIR_KINDS = {"assembly/attend", "assembly/depart", "motion/propose", "motion/vote", "decision"}
CHAIR_KINDS |= {"decision/tally", "board/left", "delegate/left", "assembly/close", "assembly/minutes"}
BOARD_KINDS = {"assembly/open", "board/report", "council/census"} | CHAIR_KINDS
MEMBER_ONLY = {"member/key", "assembly/requisition", "board/resign"}  # acts nobody takes in a member's name


@dataclass(frozen=True)
class Issuer:
    """The key that issued a command, as the entry states it."""

    role: Role
    key: bytes
    member: bytes | None = None
    sig: bytes | None = None  # a member's signature over the statement the entry records
    invited_by: Issuer | None = None  # join / key: who issued the invitation the member redeemed

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"role": self.role, "key": self.key}
        if self.role != "operator":
            body["member"] = self.member
        if self.role == "member":
            body["sig"] = self.sig
            if self.invited_by is not None:
                body["invited_by"] = self.invited_by.to_body()
        return body


def _shape(by: object, nested: bool = False) -> dict[str, Any]:
    if not isinstance(by, dict) or by.get("role") not in ROLES:
        raise malformed(f"{ATTRIBUTION} is a map with role operator, board or member")
    role = by["role"]
    keys = {"role", "key"} | ({"member"} if role != "operator" else set())
    if role == "member":
        if nested:
            raise malformed("an invitation is issued by the operator or a board member")
        keys |= {"sig"} | ({"invited_by"} if "invited_by" in by else set())
        check_bytes(by["sig"], "sig", SIG_LEN)
    exact_keys(by, keys, ATTRIBUTION)
    check_bytes(by["key"], "key", PUBKEY_LEN)
    if role != "operator":
        check_bytes(by["member"], "member", MEMBER_ID_LEN)
    if "invited_by" in by:
        _shape(by["invited_by"], nested=True)
    return by


def _statement(state: Council, kind: str, body: dict[str, Any], by: dict[str, Any]) -> Statement:
    """The statement a member's entry records, rebuilt from the entry and the record."""
    member = by["member"]
    assert state.id is not None  # the council is founded: _precheck
    match kind:
        case "member/join":
            return Statement(
                "join", state.id, {"member": member, "charter_hash": body["charter_hash"], "key": by["key"]}
            )
        case "member/key":
            return Statement("key", state.id, {"member": member, "key": by["key"]})
        case "assembly/attend":
            return Statement("checkin", state.id, {"assembly": body["assembly"], "member": member})
        case "motion/vote":
            motion = state.motions[body["motion"]]
            return Statement(
                "ballot",
                state.id,
                {
                    "assembly": motion.assembly,
                    "motion": motion.id,
                    "member": member,
                    "choice": body["choice"],
                    "approvals": list(body["approvals"]),
                },
            )
        case "assembly/requisition":
            fields = {"member": member, "text": body["text"]}
            # the round it asks in, signed by the member (issue 13); absent in logs written before rounds
            return Statement(
                "requisition", state.id, fields | ({"round": body["round"]} if "round" in body else {})
            )
        case "assembly/open":
            fields = {"member": member, "agenda": body["agenda"], "ground": body["ground"]}
            return Statement("convene", state.id, {**fields, "due_ms": body["due_ms"]})
        case "board/resign":
            return Statement("resign", state.id, {"member": member, "decision": body["decision"]})
        case "member/consent":
            return Statement("consent", state.id, {"assembly": body["assembly"], "member": member})
        case _:
            return Statement("leave", state.id, {"member": member})


def _acts_for_self(kind: str, body: dict[str, Any], member: bytes) -> bool:
    if kind == "assembly/attend":
        return list(body["members"]) == [member]
    if kind == "assembly/open":
        return bool(body.get("convened_by") == member)
    return bool(body.get("member") == member)


def judge(state: Council, kind: str, body: dict[str, Any], by: object, *, verify: bool = True) -> None:
    """Check an entry's attribution against the state before the entry (``verify``: check a member's
    signature too; the writer has just checked the very entry it is applying)."""
    by = _shape(by)
    role = by["role"]
    if role == "operator":
        if kind in MEMBER_ONLY:
            raise RuleError("issuer.not-allowed", f"a {kind} entry is the member's own act")
        if kind == "member/join" and body.get("pubkey") is not None:
            raise RuleError("member.key-unsigned", "a member's key is bound by the member's own signature")
        if kind == "motion/vote":
            _recorded_vote(state, body)
        if kind == "member/consent":
            _recorded_consent(state, body)
        if kind == "assembly/open" and "ground" in body:
            raise RuleError("issuer.not-allowed", "a member convenes an assembly with their own key")
        return
    member = by["member"]
    if role == "board":
        if kind not in BOARD_KINDS:
            raise RuleError("issuer.not-allowed", f"a board member does not issue {kind}")
        if kind == "assembly/open" and "ground" in body:
            raise RuleError("issuer.not-allowed", "a board member convenes as the board")
        _current_key(state, member, by["key"])
        if member not in state.board_members():
            raise RuleError("board.not-member", "only a sitting board member acts for the board")
        if kind == "assembly/open" and body.get("convened_by") != member:
            raise RuleError("issuer.not-allowed", "a board member convenes in their own name")
        if kind == "board/report" and body.get("member") != member:
            raise RuleError("issuer.not-allowed", "a board member files their own reports")
        if kind in ("motion/vote", "decision"):
            _not_own_motion(state, body, member)
        if kind == "motion/vote":
            _recorded_vote(state, body)
        return
    if kind not in MEMBER_KINDS:
        raise RuleError("issuer.not-allowed", f"a member does not issue {kind}")
    if kind == "assembly/open" and "ground" not in body:
        raise RuleError("issuer.not-allowed", "a member convenes on requisition or on the fixed date only")
    if not _acts_for_self(kind, body, member):
        raise RuleError("issuer.not-self", "a member acts for themselves only")
    if kind == "member/join":
        if body.get("pubkey") != by["key"]:
            raise RuleError("member.key-mismatch", "the join binds the key that signs it")
    elif kind == "member/key":
        if body.get("key") != by["key"]:
            raise RuleError("member.key-mismatch", "the new key countersigns its own binding")
    else:
        _current_key(state, member, by["key"])
    if kind == "motion/vote" and body.get("ballot") != by["sig"]:
        raise RuleError("vote.bad-ballot", "a member's ballot is their signature over it")
    if verify:
        try:
            verify_statement(by["key"], _statement(state, kind, body, by), by["sig"])
        except (DecodeError, VerificationError) as exc:
            raise RuleError("member.bad-signature", f"the member's signature does not hold: {exc}") from exc


def _current_key(state: Council, member: bytes, key: bytes) -> None:
    m = state.members.get(member)
    if m is None:
        raise RuleError("member.unknown", "no such member")
    if key in state.retired_keys:  # keys are never bound twice, so a retired key stays retired
        raise RuleError("member.key-revoked", "this key was replaced and revoked")
    if m.pubkey != key:
        raise RuleError("member.key-unknown", "not this member's key")


def _recorded_consent(state: Council, body: dict[str, Any]) -> None:
    """A consent the secretary records (said in the room): only for a member who holds no key — one who
    does consents with their own signature, so no one stands as a candidate in their name."""
    member = state.members.get(get_member(body, "member"))
    if member is not None and member.pubkey is not None:
        raise RuleError(
            "consent.signature-required", "a member who holds a key consents with their own signature"
        )


def _not_own_motion(state: Council, body: dict[str, Any], member: bytes) -> None:
    """A board member neither counts hands on nor closes the recall or removal of their own mandate (article
    5: those elected are recalled by the collective, not by whoever holds the pen)."""
    motion = state.motions.get(get_entry_id(body, "motion"))
    if motion is not None and motion.kind in ("recall", "removal") and motion.target == member:
        raise RuleError("board.own-motion", "a board member does not chair the motion on their own mandate")


def _recorded_vote(state: Council, body: dict[str, Any]) -> None:
    """A vote the secretary records (hands counted in the room): not where the rules want the member's own
    signed ballot, from a member who holds a key."""
    if body.get("ballot") is not None:
        raise RuleError("vote.bad-ballot", "a ballot signature comes with the member's own vote only")
    motion = state.motions.get(get_entry_id(body, "motion"))
    member = state.members.get(get_member(body, "member"))
    if motion is None or member is None:
        return  # the vote handler names what is wrong
    # under the rules of the motion's proposal, like its decision (issue 13)
    if motion.kind in rules_of(state, motion)[1].signed_ballots and member.pubkey is not None:
        raise RuleError(
            "vote.signature-required",
            f"the rules require member-signed ballots on {motion.kind} motions from members who hold a key",
        )


def note(state: Council, kind: str, body: dict[str, Any], by: dict[str, Any], entry: Appended) -> None:
    """Fold what the attribution tells the state: a member-signed ballot is counted as such."""
    if kind == "motion/vote" and by["role"] == "member":
        state.motions[body["motion"]].signed.add(body["member"])
    if kind == "motion/propose":
        state.motions[entry.id].attributed = True
