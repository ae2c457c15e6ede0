"""Commands: what a caller asks the council to record. Plain typed carriers; ``execute`` judges them.

Ids and times come in from the caller (the state machine has no clock and no randomness): members are random
16-byte pseudonyms, assemblies and motions are named by the 32-byte id of the entry that created them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .charter import DEFAULT_CHARTER, Charter
from .issuer import Issuer
from .model import Ground
from .ruleset import DEFAULT_RULES, MotionKind, Rules


@dataclass(frozen=True)
class FoundCouncil:
    name: str
    continent: str
    name_fa: str = ""
    city: str = ""
    country: str = ""
    charter: Charter = DEFAULT_CHARTER
    rules: Rules = DEFAULT_RULES


@dataclass(frozen=True)
class JoinMember:
    member: bytes
    charter_hash: bytes  # the member endorses exactly this charter (article 3)
    pubkey: bytes | None = None  # the member's Ed25519 key: only with the member's own signature (Issued)


@dataclass(frozen=True)
class BindKey:
    """A new key for a member (a lost phone): it replaces the member's key, revoked from this position."""

    member: bytes
    key: bytes


@dataclass(frozen=True)
class RequestAssembly:
    """A member's requisition of a general assembly (article 5), signed by the member; ``round``: the round
    it asks in (``Council.requisition_round``), as the member signed it."""

    member: bytes
    text: str
    round: int | None = None


@dataclass(frozen=True)
class LeaveMember:
    member: bytes


@dataclass(frozen=True)
class Consent:
    """A member consents to stand as a candidate in the elections of ``assembly`` (issue 13): no election
    names a candidate without it. Signed by the member; recorded by the secretary for a member without a
    key."""

    assembly: bytes
    member: bytes


@dataclass(frozen=True)
class ResignSeat:
    """A board member gives up the seat ``decision`` gave them, signed by the member; they stay a member."""

    member: bytes
    decision: bytes


@dataclass(frozen=True)
class OpenAssembly:
    """``convened_by``: a sitting board member; None = the operator, only while no board member sits; or,
    with ``ground``, a member convening the assembly the board has not (on requisition, or on the date the
    last assembly fixed), from ``due_ms`` on (``Council.convening_due``)."""

    convened_by: bytes | None
    agenda: str = ""
    ground: Ground | None = None
    due_ms: int | None = None


@dataclass(frozen=True)
class Attend:
    assembly: bytes
    members: tuple[bytes, ...]


@dataclass(frozen=True)
class Depart:
    assembly: bytes
    member: bytes


@dataclass(frozen=True)
class CloseAssembly:
    assembly: bytes
    minutes: str | None = None
    next_ms: int | None = None  # the date (ms since the epoch) the assembly fixed for the next one


@dataclass(frozen=True)
class ProposeMotion:
    """One class for every motion kind; the fields a kind does not use must stay at their defaults."""

    assembly: bytes
    kind: MotionKind
    text: str
    visibility: Literal["public", "council"] = "public"
    proposer: bytes | None = None  # if given, must be on the roll
    seats: int | None = None  # election
    candidates: tuple[bytes, ...] = ()  # election; delegate: the members it mandates
    target: bytes | None = None  # removal, recall, delegate-recall, readmit
    rules: Rules | None = None  # rules
    proposal: tuple[bytes, bytes] | None = None  # federation: (federation log id, proposal entry id)
    federation: bytes | None = None  # request: the federation's log id


@dataclass(frozen=True)
class CastVote:
    """``choice`` for ordinary motions; ``approvals`` (0..seats distinct candidates) for elections.

    ``ballot``: the member's own signature over the ballot statement (``protocol.member``), when the member
    casts it themselves (issued by the member: ``Issued``); ``None`` when the secretary records a hand.
    """

    motion: bytes
    member: bytes
    choice: Literal["yes", "no", "abstain"] | None = None
    approvals: tuple[bytes, ...] = ()
    ballot: bytes | None = None


@dataclass(frozen=True)
class CloseMotion:
    motion: bytes


@dataclass(frozen=True)
class FileReport:
    member: bytes
    text: str


@dataclass(frozen=True)
class Census:
    """Record how many members are active now (bucketed by the rules); a fact, so allowed at any time."""


Command = (
    FoundCouncil
    | JoinMember
    | BindKey
    | RequestAssembly
    | LeaveMember
    | ResignSeat
    | OpenAssembly
    | Attend
    | Depart
    | CloseAssembly
    | ProposeMotion
    | Consent
    | CastVote
    | CloseMotion
    | FileReport
    | Census
)


@dataclass(frozen=True)
class Issued:
    """``command`` as issued by ``by``: every entry it writes states that key (``issuer``)."""

    command: Command
    by: Issuer
