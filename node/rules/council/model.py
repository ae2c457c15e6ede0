"""The council's state: what replaying its log yields, and the queries the HTTP layer needs.

``machine.apply`` is the only writer of the state, so the state is always the replay of the log. Entity ids
are bytes: members are 16-byte pseudonyms chosen by the caller; assemblies, motions and decisions
are the 32-byte id of the entry that created them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .charter import Charter
from .ruleset import MotionKind, Rules, RulesVersion

DAY_MS = 86_400_000
Outcome = Literal["adopted", "rejected", "tied", "no_quorum"]
Ground = Literal["requisition", "schedule"]
GROUNDS: tuple[Ground, ...] = ("requisition", "schedule")


@dataclass(frozen=True)
class Profile:
    name: str
    name_fa: str
    city: str
    country: str
    continent: str


@dataclass
class Member:
    id: bytes
    joined_seq: int
    pubkey: bytes | None
    active: bool = True
    ended_seq: int | None = None
    ended_how: Literal["left", "removed"] | None = None


@dataclass
class Assembly:
    id: bytes
    opened_seq: int
    opened_ts_ms: int  # also the date of its notice: convening an assembly opens it
    convened_by: bytes | None  # None: convened by the operator while no board member sat
    agenda: str
    ground: Ground | None = None  # a member convened it: on requisition, or on the date the last one fixed
    due_ms: int | None = None  # when that member's right to convene began
    roll: set[bytes] = field(default_factory=set)  # present now
    attended: set[bytes] = field(default_factory=set)  # ever present: distinct participants
    is_open: bool = True
    closed_seq: int | None = None
    participants: int | None = None
    minutes: str | None = None
    next_ms: int | None = None  # the date this assembly fixed for the next one
    consents: dict[bytes, bytes] = field(default_factory=dict)  # member -> their member/consent entry id


@dataclass
class Motion:
    id: bytes
    assembly: bytes
    kind: MotionKind
    text: str
    visibility: Literal["public", "council"]
    proposer: bytes | None
    seats: int | None = None
    candidates: tuple[bytes, ...] = ()
    target: bytes | None = None
    rules: Rules | None = None
    proposal: tuple[bytes, bytes] | None = None  # federation: (federation log id, proposal entry id)
    method: str | None = None  # election: the declared method; None = proposed before methods (old rule)
    runoff_of: bytes | None = None  # election: the motion whose tie this runoff breaks
    consented: bool = False  # election: proposed under the consent rule (every candidate consented)
    # fixed when the vote opens (at the proposal; None in logs written before issue 13): the rules version
    # the motion is decided under, the members who may vote on it, and the active members the quorum counts
    rules_version: int | None = None
    electorate: frozenset[bytes] | None = None
    active_at_open: int = 0
    # member -> "yes" | "no" | "abstain" for ordinary motions, or the approved candidates for elections
    votes: dict[bytes, str | tuple[bytes, ...]] = field(default_factory=dict)
    signed: set[bytes] = field(default_factory=set)  # voters whose ballot is their own signature
    attributed: bool = False  # proposed by an attributed entry: its decision counts signed ballots
    is_open: bool = True
    decision: bytes | None = None
    federation: bytes | None = None  # request: the federation asked to publish a proposal

    @property
    def status(self) -> str:
        return "open" if self.is_open else "decided"


@dataclass
class Decision:
    id: bytes
    seq: int
    ts_ms: int
    motion: bytes
    outcome: Outcome
    visibility: Literal["public", "council"]
    body: dict[str, Any]  # the full record (outcome and tally fields merged), salt stripped


@dataclass(frozen=True)
class CensusRecord:
    """The latest ``council/census``: a (bucketed) count of active members, never who they are."""

    seq: int
    ts_ms: int
    active_members: int


@dataclass
class Mandate:
    """A board seat, or a delegate's mandate to the federation, held by a member; identified by (creating
    decision id, seat index in that decision)."""

    decision: bytes
    seat: int
    member: bytes
    # the recall or removal decision, the board/resign or board/left entry; None while sitting, or if the
    # member's leaving was recorded by member/leave alone (logs written before board/left)
    ended_by: bytes | None = None
    ended_how: Literal["recalled", "removed", "left", "resigned"] | None = None
    ended_seq: int | None = None
    ended_public: bool = False  # its end is in the public log (a public decision or board entry)
    # the board/left that published an end decided council-only (a recall or removal), when not ended_by
    published_by: bytes | None = None

    @property
    def sitting(self) -> bool:
        return self.ended_how is None

    @property
    def cause(self) -> str | None:
        """Why the mandate ended, as the record says it: recall, removal, resignation or left."""
        return None if self.ended_how is None else CAUSES[self.ended_how]


CAUSES = {"recalled": "recall", "removed": "removal", "resigned": "resignation", "left": "left"}


@dataclass(frozen=True)
class BoardView:
    seats: int
    sitting: tuple[Mandate, ...]
    vacancies: int


@dataclass(frozen=True)
class Requisition:
    """A member's signed request for a general assembly (article 5)."""

    seq: int
    ts_ms: int
    member: bytes
    text: str


@dataclass
class PendingTally:
    motion: bytes
    decision: bytes
    body: dict[str, Any]


@dataclass
class Council:
    """Everything the log says. An empty ``Council()`` is the state before the founding entry."""

    next_seq: int = 0
    id: bytes | None = None  # entry id of the founding entry
    profile: Profile | None = None
    charter: Charter | None = None
    charter_hash: bytes | None = None
    rules: Rules = field(default_factory=Rules)
    rules_version: int = 0
    rules_history: dict[int, RulesVersion] = field(default_factory=dict)
    members: dict[bytes, Member] = field(default_factory=dict)
    assemblies: dict[bytes, Assembly] = field(default_factory=dict)
    open_assembly_id: bytes | None = None
    motions: dict[bytes, Motion] = field(default_factory=dict)
    decisions: dict[bytes, Decision] = field(default_factory=dict)
    mandates: list[Mandate] = field(default_factory=list)
    # the council's delegates to its federation (``delegates``): a mandate from an adopted delegate motion
    delegates: list[Mandate] = field(default_factory=list)
    census: CensusRecord | None = None
    member_keys: dict[bytes, bytes] = field(default_factory=dict)  # a member's current key -> member
    retired_keys: dict[bytes, int] = field(default_factory=dict)  # a replaced key -> position revoked at
    requisitions: list[Requisition] = field(default_factory=list)
    # requisitions from this position on ask for the next assembly (each assembly answers those before it)
    round_from_seq: int = 0
    requisition_met: Requisition | None = None  # the requisition that reached the share, this round
    next_assembly_ms: int | None = None  # the date the last assembly fixed for the next, until one opens
    readmitted: set[bytes] = field(default_factory=set)  # removed members an adopted readmit motion named
    # the board mandates (decision, seat) that the entry just applied ended, each to be published by a
    # board/left directly after it: a board member's member/leave, or a council-only recall or removal of a
    # mandate given by a public decision
    left_board: list[tuple[bytes, int]] = field(default_factory=list)
    # the delegate mandates (decision, seat) that member/leave or a council-only removal ended, each to be
    # published by a delegate/left directly after it (and after any board/left), in this order
    left_delegates: list[tuple[bytes, int]] = field(default_factory=list)
    # follow-up entries one command writes after its first: a hidden tally must come next; minutes may
    pending_tally: PendingTally | None = None
    pending_runoff: dict[str, Any] | None = None  # the runoff motion/propose a tied decision opens next
    minutes_for: bytes | None = None

    # -- queries the HTTP layer needs -----------------------------------------------------------------------

    @property
    def founded(self) -> bool:
        return self.id is not None

    def active_members(self) -> list[bytes]:
        return sorted(m.id for m in self.members.values() if m.active)

    def is_active(self, member: bytes) -> bool:
        m = self.members.get(member)
        return m is not None and m.active

    def open_assembly(self) -> Assembly | None:
        return None if self.open_assembly_id is None else self.assemblies[self.open_assembly_id]

    def roll(self) -> frozenset[bytes]:
        a = self.open_assembly()
        return frozenset() if a is None else frozenset(a.roll)

    def motions_list(self, assembly: bytes | None = None) -> list[Motion]:
        return [m for m in self.motions.values() if assembly is None or m.assembly == assembly]

    def decisions_list(self) -> list[Decision]:
        """Decisions in log order (the HTTP layer reverses for newest first)."""
        return sorted(self.decisions.values(), key=lambda d: d.seq)

    def sitting_mandates(self) -> list[Mandate]:
        return [m for m in self.mandates if m.sitting]

    def sitting_delegates(self) -> list[Mandate]:
        return [m for m in self.delegates if m.sitting]

    def board_members(self) -> set[bytes]:
        return {m.member for m in self.mandates if m.sitting}

    def vacancies(self) -> int:
        # a rules change may lower the seats below those filled: mandates run on, no seat is vacant
        return max(0, self.rules.board_seats - len(self.sitting_mandates()))

    def board(self) -> BoardView:
        return BoardView(self.rules.board_seats, tuple(self.sitting_mandates()), self.vacancies())

    def rules_in_force(self) -> tuple[int, Rules]:
        return self.rules_version, self.rules

    # -- requisitions and who may convene (article 5: the board cannot block the assembly) ------------------

    def requisition_round(self) -> int:
        """The round requisitions now ask in: the number of assemblies opened so far. Each assembly answers
        every requisition made before it opened, so a requisition counts toward one assembly only."""
        return len(self.assemblies)

    def requisitioners(self) -> list[bytes]:
        """Active members who have requisitioned the next assembly, in the order they did."""
        seen: list[bytes] = []
        for r in self.requisitions:
            if r.seq >= self.round_from_seq and r.member not in seen and self.is_active(r.member):
                seen.append(r.member)
        return seen

    def requisitions_needed(self) -> int:
        return self.rules.requisitions_needed(len(self.active_members()))

    def convening_due(self, ground: Ground) -> int | None:
        """From when a member may convene on ``ground``: the delay after the requisitions reached the share,
        or the date the last assembly fixed; ``None`` when that ground does not hold."""
        if ground == "requisition":
            met = self.requisition_met
            return None if met is None else met.ts_ms + self.rules.requisition_delay_days * DAY_MS
        return self.next_assembly_ms

    def may_convene(self, member: bytes, ground: Ground) -> bool:
        """``member`` has the right to convene on ``ground`` (once its date has come)."""
        if not self.is_active(member) or self.convening_due(ground) is None:
            return False
        return ground == "schedule" or member in self.requisitioners()

    def rules_at(self, version: int) -> Rules:
        return self.rules_history[version].rules

    def rules_versions(self) -> list[RulesVersion]:
        return [self.rules_history[v] for v in sorted(self.rules_history)]
