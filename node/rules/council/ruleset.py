"""The council's rules: the charter's configurable decision rules and their wire form in the log.

``Rules`` (majority, quorum, board seats, tallies, census bucket, signed ballots, requisition share and delay)
are data, signed in the log and versioned (DESIGN §1); ``to_body``/``from_body`` are their bytes in a
``council/found`` entry or a rules motion, and ``RulesVersion`` is one version of them in force. The
arithmetic that applies them is ``rules``; the council's state that holds them is ``model``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .errors import RuleError
from .fields import exact_keys, get_bool, get_int, get_list, malformed, one_of

Majority = Literal["simple", "absolute", "two_thirds", "two_thirds_participants"]
MAJORITIES: tuple[Majority, ...] = ("simple", "absolute", "two_thirds", "two_thirds_participants")
MotionKind = Literal[
    "policy",
    "rules",
    "removal",
    "election",
    "recall",
    "federation",
    "delegate",
    "delegate-recall",
    "request",
    "readmit",
]
MOTION_KINDS: tuple[MotionKind, ...] = (
    "policy", "rules", "removal", "election", "recall", "federation", "delegate", "delegate-recall",
    "request", "readmit",
)  # fmt: skip
MAX_CENSUS_BUCKET = 1_000_000
# motion kinds on which, by default, a member who holds a key votes only with their own signed ballot
SIGNED_BALLOTS_DEFAULT: tuple[MotionKind, ...] = ("election", "recall")
# article 5 / DESIGN §1: a share of the active members can requisition an assembly, and convene it themselves
# once the board has let this many days pass; rules written before the option mean these defaults
REQUISITION_DEFAULT = (1, 5)
REQUISITION_DELAY_DEFAULT = 30
MAX_REQUISITION_DELAY = 365


@dataclass(frozen=True)
class Quorum:
    """Either an absolute ``count`` of participants or a ``fraction`` (num, den) of active members."""

    count: int | None = None
    fraction: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if (self.count is None) == (self.fraction is None):
            raise RuleError("rules.bad-quorum", "a quorum is either a count or a fraction")
        if self.count is not None and self.count < 1:
            raise RuleError("rules.bad-quorum", "a quorum count is at least 1 (use no quorum instead)")
        if self.fraction is not None:
            num, den = self.fraction
            if not 0 < num <= den:
                raise RuleError("rules.bad-quorum", "a quorum fraction is num/den with 0 < num <= den")

    def to_body(self) -> dict[str, Any]:
        if self.fraction is not None:
            return {"fraction": [self.fraction[0], self.fraction[1]]}
        return {"count": self.count}

    @classmethod
    def from_body(cls, body: object) -> Quorum | None:
        if body is None:
            return None
        if not isinstance(body, dict) or set(body) not in ({"count"}, {"fraction"}):
            raise malformed("quorum must be nil, {count} or {fraction}")
        if "count" in body:
            return cls(count=get_int(body, "count"))
        frac = get_list(body, "fraction")
        if len(frac) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) for x in frac):
            raise malformed("a quorum fraction is [num, den]")
        return cls(fraction=(frac[0], frac[1]))


@dataclass(frozen=True)
class Rules:
    """The council's decision rules (DESIGN §1: rules are data, signed in the log and versioned)."""

    majority: Majority = "simple"
    quorum: Quorum | None = None
    board_seats: int = 3
    publish_tallies: bool = True
    # the census reports active members rounded down to a multiple of this (1 = exact): a council may not
    # want the federation to see every single join and leave (DESIGN §6)
    census_bucket: int = 1
    # motion kinds on which the secretary may not record the vote of a member who holds a key: that
    # member votes with their own signed ballot (issue 12)
    signed_ballots: tuple[MotionKind, ...] = SIGNED_BALLOTS_DEFAULT
    # the share (num, den) of active members whose requisitions oblige the board to convene an assembly,
    # and the days it has before any requisitioning member may convene it themselves
    requisition: tuple[int, int] = REQUISITION_DEFAULT
    requisition_delay_days: int = REQUISITION_DELAY_DEFAULT
    # the majority that decides rules motions; None: the ordinary ``majority`` does (issue 13)
    rules_majority: Majority | None = None
    # a quorum never asks for more participants than the active members at the vote's opening, so members
    # leaving cannot lock the council out of every decision (issue 13). On for new rules; rules written
    # before the cap (no ``quorum_cap`` in their body) mean off, so their logs replay as written
    quorum_cap: bool = True

    def __post_init__(self) -> None:
        share = self.requisition
        if (
            not isinstance(share, tuple)
            or len(share) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in share)
            or not 0 < share[0] <= share[1] <= 1000
        ):
            raise RuleError("rules.bad-requisition", "a requisition share is num/den, 0 < num <= den <= 1000")
        delay = self.requisition_delay_days
        if not isinstance(delay, int) or isinstance(delay, bool) or not 1 <= delay <= MAX_REQUISITION_DELAY:
            raise RuleError(
                "rules.bad-requisition-delay", f"a requisition delay is 1 to {MAX_REQUISITION_DELAY} days"
            )
        kinds = self.signed_ballots
        if not isinstance(kinds, tuple) or not all(k in MOTION_KINDS for k in kinds):
            raise RuleError(
                "rules.bad-signed-ballots", f"signed ballots name motion kinds: {one_of(MOTION_KINDS)}"
            )
        if len(set(kinds)) != len(kinds) or list(kinds) != sorted(kinds):
            raise RuleError("rules.bad-signed-ballots", "signed ballots name each motion kind once, sorted")
        if not isinstance(self.quorum_cap, bool):
            raise RuleError("rules.bad-quorum-cap", "quorum_cap is true or false")
        if self.majority not in MAJORITIES:
            raise RuleError("rules.bad-majority", f"majority must be {one_of(MAJORITIES)}")
        if self.rules_majority is not None and self.rules_majority not in MAJORITIES:
            raise RuleError("rules.bad-majority", f"the rules majority must be {one_of(MAJORITIES)}")
        if isinstance(self.board_seats, bool) or not 0 <= self.board_seats <= 1000:
            raise RuleError("rules.bad-seats", "board seats must be between 0 and 1000")
        bucket = self.census_bucket
        if not isinstance(bucket, int) or isinstance(bucket, bool) or not 1 <= bucket <= MAX_CENSUS_BUCKET:
            raise RuleError("rules.bad-census-bucket", f"census bucket: 1 to {MAX_CENSUS_BUCKET}")

    def census(self, active_members: int) -> int:
        """The active-member count as the census reports it: rounded down to a multiple of the bucket."""
        return active_members // self.census_bucket * self.census_bucket

    def requisitions_needed(self, active_members: int) -> int:
        """How many members' requisitions oblige the board to convene: the share, rounded up, at least 1."""
        num, den = self.requisition
        return max(1, -(-active_members * num // den))

    def majority_for(self, kind: MotionKind) -> Majority:
        """The majority rule deciding a motion of ``kind``: rules motions may ask for more."""
        if kind == "rules" and self.rules_majority is not None:
            return self.rules_majority
        return self.majority

    def fields(self) -> dict[str, Any]:
        """Every rule by its body name, optional ones included: what a rules motion compares and changes."""
        return {
            "signed_ballots": list(self.signed_ballots),
            "requisition": list(self.requisition),
            "requisition_delay_days": self.requisition_delay_days,
            "rules_majority": None,
            "quorum_cap": False,
            **self.to_body(),
        }

    def changes(self, other: Rules) -> dict[str, list[Any]]:
        """field -> [value here, value in ``other``] for every rule that differs."""
        mine, theirs = self.fields(), other.fields()
        return {k: [mine[k], theirs[k]] for k in sorted(mine) if mine[k] != theirs[k]}

    def to_body(self) -> dict[str, Any]:
        return {
            "majority": self.majority,
            "quorum": None if self.quorum is None else self.quorum.to_body(),
            "board_seats": self.board_seats,
            "publish_tallies": self.publish_tallies,
            "census_bucket": self.census_bucket,
            # written only when not the default, so rules written before the option keep their bytes
            **(
                {}
                if self.signed_ballots == SIGNED_BALLOTS_DEFAULT
                else {"signed_ballots": list(self.signed_ballots)}
            ),
            **({} if self.requisition == REQUISITION_DEFAULT else {"requisition": list(self.requisition)}),
            **(
                {}
                if self.requisition_delay_days == REQUISITION_DELAY_DEFAULT
                else {"requisition_delay_days": self.requisition_delay_days}
            ),
            **({} if self.rules_majority is None else {"rules_majority": self.rules_majority}),
            # written only when on: absent means off (rules written before the cap)
            **({"quorum_cap": True} if self.quorum_cap else {}),
        }

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Rules:
        keys = {"majority", "quorum", "board_seats", "publish_tallies"}
        # logs written by 0.1.0 have no census_bucket: their rules report exact counts
        optional = {k for k in OPTIONAL_RULES if k in body}
        exact_keys(body, keys | optional, "rules")
        majority = body["majority"]
        if not isinstance(majority, str):
            raise malformed("majority must be text")
        return cls(
            majority=majority,  # type: ignore[arg-type]  # checked against MAJORITIES in __post_init__
            quorum=Quorum.from_body(body["quorum"]),
            board_seats=get_int(body, "board_seats"),
            publish_tallies=get_bool(body, "publish_tallies"),
            census_bucket=get_int(body, "census_bucket") if "census_bucket" in body else 1,
            signed_ballots=tuple(get_list(body, "signed_ballots"))
            if "signed_ballots" in body
            else SIGNED_BALLOTS_DEFAULT,
            requisition=_fraction(body, "requisition") if "requisition" in body else REQUISITION_DEFAULT,
            requisition_delay_days=get_int(body, "requisition_delay_days")
            if "requisition_delay_days" in body
            else REQUISITION_DELAY_DEFAULT,
            rules_majority=body.get("rules_majority"),
            quorum_cap=get_bool(body, "quorum_cap") if "quorum_cap" in body else False,
        )

    @classmethod
    def from_versioned_body(cls, body: dict[str, Any]) -> tuple[int, Rules]:
        rest = dict(body)
        if "version" not in rest:
            raise malformed("rules in force carry a version")
        version = get_int(rest, "version")
        del rest["version"]
        return version, cls.from_body(rest)


DEFAULT_RULES = Rules()
# rules a body may leave out, meaning their default (written only when not the default)
OPTIONAL_RULES = (
    "census_bucket",
    "signed_ballots",
    "requisition",
    "requisition_delay_days",
    "rules_majority",
    "quorum_cap",
)


def _fraction(body: dict[str, Any], key: str) -> tuple[int, int]:
    frac = get_list(body, key)
    if len(frac) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) for x in frac):
        raise malformed(f"{key} is [num, den]")
    return frac[0], frac[1]


@dataclass(frozen=True)
class RulesVersion:
    """One version of the rules: what they were, and the decision that made them (None: the founding)."""

    version: int
    rules: Rules
    seq: int
    ts_ms: int
    decision: bytes | None
    changed: dict[str, list[Any]]  # field -> [old, new]; empty for the founding rules
