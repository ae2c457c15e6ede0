"""The federation body's state: what replaying its log yields, and the queries the node needs.

``machine.apply`` is the only writer of the state, so the state is always the replay of the log. Members are
the 32-byte root keys (log ids) of councils or lower federations; proposals are the 32-byte id of their
``proposal/publish`` entry. Roster history is kept with the entries' times, so the roster *at a deadline*
can be asked for after the fact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .tally import Answer, Refused, Result, TallyRule, Terms, Totals

Level = Literal["country", "continent"]
LEVELS: tuple[Level, ...] = ("country", "continent")
MemberKind = Literal["council", "federation"]
MEMBER_KINDS: tuple[MemberKind, ...] = ("council", "federation")
RosterAction = Literal["admit", "suspend", "readmit", "rekey"]
CLOSING = ("suspend", "rekey")  # after these a member is not active; rekey for good


@dataclass(frozen=True)
class Profile:
    name: str
    name_fa: str
    level: Level
    country: str  # a country federation's country; "" for a continent federation
    continent: str


@dataclass(frozen=True)
class RosterEvent:
    """One roster entry about a member, with the operator's reason."""

    seq: int
    id: bytes
    ts_ms: int
    action: RosterAction
    reason: str
    size: int | None = None  # suspend: the member's log size held; entries from there on are not accepted


@dataclass
class RosterMember:
    member: bytes
    kind: MemberKind
    name: str
    name_fa: str
    city: str
    country: str
    continent: str
    url: str
    events: list[RosterEvent] = field(default_factory=list)
    rekeyed_to: bytes | None = None  # the root key this member moved to (roster/rekey): this one is retired
    rekeyed_from: bytes | None = None  # the root key this member held before

    @property
    def suspended_size(self) -> int | None:
        """While suspended (or once moved to a new key), the log size the federation accepts; None while
        active."""
        last = self.events[-1]
        return last.size if last.action in CLOSING else None

    @property
    def active(self) -> bool:
        return self.events[-1].action not in CLOSING

    def active_at(self, ts_ms: int) -> bool:
        """On the roster and not suspended after every roster entry stamped at or before ``ts_ms``."""
        status = False
        for e in self.events:
            if e.ts_ms > ts_ms:
                break
            status = e.action not in CLOSING
        return status


@dataclass(frozen=True)
class Proposal:
    id: bytes
    seq: int
    ts_ms: int
    federation: bytes
    text_fa: str
    text_en: str
    deadline_ms: int
    rule: TallyRule
    grace_ms: int | None = None  # None: published before a grace was stated (closed under the old rules)
    action: tuple[str, bytes] | None = None  # the roster change its adoption mandates (``mandate.py``)
    requested_by: tuple[tuple[bytes, bytes], ...] = ()  # councils' requests it answers (``requests.py``)

    @property
    def grace_ends_ms(self) -> int:
        return self.deadline_ms + (self.grace_ms or 0)

    @property
    def terms(self) -> Terms:
        return Terms(self.federation, self.id, self.deadline_ms, self.rule)


@dataclass(frozen=True)
class ProposalResult:
    id: bytes  # the proposal/result entry id
    seq: int
    ts_ms: int
    proposal: bytes
    counted: tuple[Answer, ...]
    refused: tuple[Refused, ...]
    totals: Totals
    result: Result
    body: dict[str, Any]


@dataclass
class Federation:
    """Everything the federation body's log says. ``Federation(log_id)`` is the state before founding.

    ``log_id`` (the federation's root key) is not in any body: it names the log, and answers name it.
    """

    log_id: bytes
    next_seq: int = 0
    last_ts_ms: int | None = None
    id: bytes | None = None  # entry id of the founding entry
    profile: Profile | None = None
    roster: dict[bytes, RosterMember] = field(default_factory=dict)
    proposals: dict[bytes, Proposal] = field(default_factory=dict)
    results: dict[bytes, ProposalResult] = field(default_factory=dict)  # by proposal id
    founding: int | None = None  # members the operator may admit alone; None: founded before mandates
    founders: int = 0  # members admitted as founders so far
    executed: set[bytes] = field(default_factory=set)  # proposals whose roster action was executed

    # -- queries ---------------------------------------------------------------------------------------

    @property
    def founded(self) -> bool:
        return self.id is not None

    def active_members(self) -> list[RosterMember]:
        return sorted((m for m in self.roster.values() if m.active), key=lambda m: m.member)

    def suspended_members(self) -> list[RosterMember]:
        return sorted((m for m in self.roster.values() if not m.active), key=lambda m: m.member)

    def by_country(self, include_suspended: bool = False) -> dict[str, list[RosterMember]]:
        return self._group("country", include_suspended)

    def by_continent(self, include_suspended: bool = False) -> dict[str, list[RosterMember]]:
        return self._group("continent", include_suspended)

    def _group(self, attr: str, include_suspended: bool) -> dict[str, list[RosterMember]]:
        out: dict[str, list[RosterMember]] = {}
        for m in sorted(self.roster.values(), key=lambda m: m.member):
            if m.active or include_suspended:
                out.setdefault(getattr(m, attr), []).append(m)
        return out

    def is_admitted(self, member: bytes) -> bool:
        """On the roster and not suspended now."""
        m = self.roster.get(member)
        return m is not None and m.active

    def accepts(self, member: bytes, seq: int) -> bool:
        """Whether entry ``seq`` of ``member``'s log is taken in (DESIGN §5: the roster says who belongs).

        A suspended member's entries are accepted up to the size held when it was suspended, so what was
        already replicated stays verifiable and nothing new slips in.
        """
        m = self.roster.get(member)
        if m is None:
            return False
        size = m.suspended_size
        return size is None or seq < size

    def admitted_at(self, ts_ms: int, kind: MemberKind | None = "council") -> frozenset[bytes]:
        """Members (by default councils only) on the roster and not suspended at ``ts_ms``."""
        return frozenset(
            m.member for m in self.roster.values() if (kind is None or m.kind == kind) and m.active_at(ts_ms)
        )

    def open_proposals(self) -> list[Proposal]:
        """Proposals without a result yet (their deadline may have passed), in log order."""
        return sorted((p for p in self.proposals.values() if p.id not in self.results), key=lambda p: p.seq)

    def closed_proposals(self) -> list[Proposal]:
        return sorted((p for p in self.proposals.values() if p.id in self.results), key=lambda p: p.seq)

    def result_of(self, proposal: bytes) -> ProposalResult | None:
        return self.results.get(proposal)
