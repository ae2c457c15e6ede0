"""Counting councils' answers to a federation-wide proposal — pure, so anyone can redo it (DESIGN §5).

Article 2 of the resolution forms the federation from "the union and solidarity" of city councils; article 4
has each council decide by its own general assembly. So the federation never counts members' votes: it counts
**councils' decisions** — each council's public ``decision`` of motion kind ``federation`` — and only those.

An ``Answer`` is one such decision. ``tally`` sorts every answer it is given into counted or refused, first
matching reason wins:

- ``other-proposal``: it answers another proposal (or another federation's);
- ``not-admitted``: the council was not on the roster, or was suspended, at the deadline;
- ``late``: received by the federation after the deadline (``received_ms > deadline_ms``; received at the
  deadline is on time). The receipt is the federation's own clock — when it first stored the decision or
  cosigned, as a witness, a checkpoint of the council's log that holds it — never the council's ``ts_ms``,
  so a council whose clock is slow cannot have a late answer counted (issue 13). An answer listed without
  ``received_ms`` (a result written before receipts were kept) is judged by its ``ts_ms``, as it was then;
- ``superseded``: a ``no_quorum`` answer — the assembly took no valid decision — followed by another
  answer on time: a council whose assembly missed quorum may answer again until the deadline (issue 13);
- ``duplicate``: the council answered before (by its log order, ``seq``); its first valid decision counts
  (adopted, rejected or tied), else its last ``no_quorum`` answer.

Results written before councils could answer again (their body has no ``not_heard``) were tallied with the
first answer counting whatever its outcome, and replay so (``answer_again=False``).

An answer listed twice (same council, decision and fields) is one answer. Of the counted answers, ``adopted``
is a council's yes and ``rejected`` its no; ``tied`` and ``no_quorum`` are answers that are neither:

- ``answering``: adopted iff 2·yes > answered, tied iff 2·yes == answered, else rejected. A tied or
  no_quorum answer counts among those answering but not for adoption — like an abstention present under
  the councils' absolute majority. No answer at all is tied (0 == 0).
- ``admitted``: adopted iff 2·yes > councils admitted at the deadline, tied iff equal, else rejected.
  Neither-answers count exactly as councils that did not answer.
- ``weighted``: adopted iff Σ participants of adopting councils > Σ participants of rejecting councils,
  tied iff equal (so also when nobody answered yes or no), else rejected. Neither-answers weigh nothing.

A ``proposal/result`` entry records a tally so that anyone can redo it (``result.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from node.rules.council.errors import RuleError
from node.rules.council.fields import (
    plain,
)
from protocol.errors import VerificationError
from protocol.recount import recount

from .limits import ENTRY_ID_LEN, KEY_LEN

TallyRule = Literal["answering", "admitted", "weighted"]
TALLY_RULES: tuple[TallyRule, ...] = ("answering", "admitted", "weighted")
ANSWER_OUTCOMES = ("adopted", "rejected", "tied", "no_quorum")
Reason = Literal["other-proposal", "not-admitted", "late", "superseded", "duplicate"]
Result = Literal["adopted", "rejected", "tied"]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Terms:
    """What a tally needs of a proposal: which one, until when, by which rule."""

    federation: bytes  # the federation's log id
    proposal: bytes  # the proposal/publish entry id
    deadline_ms: int
    rule: TallyRule


@dataclass(frozen=True)
class Answer:
    """One council's public decision on a federation motion; an invalid answer cannot be constructed."""

    council: bytes  # the council's log id
    decision: bytes  # the decision's entry id
    proposal: tuple[bytes, bytes]  # (federation log id, proposal entry id) the decision names
    outcome: str  # adopted | rejected | tied | no_quorum
    participants: int
    ts_ms: int
    seq: int  # the decision's position in the council's log: its order among the council's answers
    received_ms: int | None = None  # when the federation first received it (its clock); None: not known

    @property
    def arrived_ms(self) -> int:
        """The time lateness is judged by: the federation's receipt, else (old results) the decision's."""
        return self.ts_ms if self.received_ms is None else self.received_ms

    def unreceived(self) -> Answer:
        """This answer as a council's decision gives it, without the federation's receipt."""
        return replace(self, received_ms=None)

    def __post_init__(self) -> None:
        ok = (
            isinstance(self.council, bytes)
            and len(self.council) == KEY_LEN
            and isinstance(self.decision, bytes)
            and len(self.decision) == ENTRY_ID_LEN
            and isinstance(self.proposal, tuple)
            and len(self.proposal) == 2
            and isinstance(self.proposal[0], bytes)
            and len(self.proposal[0]) == KEY_LEN
            and isinstance(self.proposal[1], bytes)
            and len(self.proposal[1]) == ENTRY_ID_LEN
            and self.outcome in ANSWER_OUTCOMES
            and _is_int(self.participants)
            and self.participants >= 0
            and _is_int(self.ts_ms)
            and _is_int(self.seq)
            and self.seq >= 0
            and (self.received_ms is None or _is_int(self.received_ms))
        )
        if not ok:
            raise RuleError("answer.malformed", "not a council's answer: ids, outcome or counts are off")

    def to_body(self) -> dict[str, Any]:
        body = {
            "council": self.council,
            "decision": self.decision,
            "seq": self.seq,
            "ts_ms": self.ts_ms,
            "outcome": self.outcome,
            "participants": self.participants,
        }
        if self.received_ms is not None:
            body["received_ms"] = self.received_ms
        return body


@dataclass(frozen=True)
class Refused:
    answer: Answer
    reason: Reason

    def to_body(self) -> dict[str, Any]:
        return {**self.answer.to_body(), "proposal": list(self.answer.proposal), "reason": self.reason}


@dataclass(frozen=True)
class Totals:
    admitted: int  # councils admitted at the deadline
    answered: int  # counted answers
    adopted: int
    rejected: int
    neither: int  # counted tied and no_quorum answers
    refused: int
    participants_adopted: int  # the weighted rule's two sides
    participants_rejected: int

    def to_body(self) -> dict[str, Any]:
        return dict(self.__dict__)


def result_of(rule: TallyRule, totals: Totals) -> Result:
    if rule == "answering":
        yes, out_of = 2 * totals.adopted, totals.answered
    elif rule == "admitted":
        yes, out_of = 2 * totals.adopted, totals.admitted
    else:
        yes, out_of = totals.participants_adopted, totals.participants_rejected
    return "adopted" if yes > out_of else "tied" if yes == out_of else "rejected"


def _order(a: Answer) -> tuple[bytes, int, int, bytes]:
    return a.council, a.seq, a.ts_ms, a.decision


def tally(
    proposal: Terms, admitted_at_deadline: Set[bytes], answers: Iterable[Answer], answer_again: bool = True
) -> tuple[list[Answer], list[Refused], Totals, Result]:
    """(counted, refused, totals, result): counted sorted by council, refused by council and log order."""
    asked = (proposal.federation, proposal.proposal)
    on_time: dict[bytes, list[Answer]] = {}
    refused: list[Refused] = []
    for a in sorted(set(answers), key=_order):
        if a.proposal != asked:
            refused.append(Refused(a, "other-proposal"))
        elif a.council not in admitted_at_deadline:
            refused.append(Refused(a, "not-admitted"))
        elif a.arrived_ms > proposal.deadline_ms:
            refused.append(Refused(a, "late"))
        else:
            on_time.setdefault(a.council, []).append(a)
    counted: list[Answer] = []
    for given in on_time.values():
        valid = [a for a in given if a.outcome != "no_quorum"] if answer_again else given[:1]
        chosen = valid[0] if valid else given[-1]
        counted.append(chosen)
        at = given.index(chosen)
        refused += [Refused(a, "superseded") for a in given[:at]]
        refused += [Refused(a, "duplicate") for a in given[at + 1 :]]
    refused.sort(key=lambda r: _order(r.answer))
    ordered = sorted(counted, key=lambda a: a.council)
    yes = [a for a in ordered if a.outcome == "adopted"]
    no = [a for a in ordered if a.outcome == "rejected"]
    totals = Totals(
        admitted=len(admitted_at_deadline),
        answered=len(ordered),
        adopted=len(yes),
        rejected=len(no),
        neither=len(ordered) - len(yes) - len(no),
        refused=len(refused),
        participants_adopted=sum(a.participants for a in yes),
        participants_rejected=sum(a.participants for a in no),
    )
    return ordered, refused, totals, result_of(proposal.rule, totals)


# -- from councils' decisions ------------------------------------------------------------------------


class DecisionRecord(Protocol):
    """A council's decision entry, verified elsewhere (``protocol.bundle.VerifiedEntry`` is one)."""

    @property
    def log_id(self) -> bytes: ...
    @property
    def seq(self) -> int: ...
    @property
    def id(self) -> bytes: ...
    @property
    def ts_ms(self) -> int: ...
    @property
    def vis(self) -> str: ...
    @property
    def body(self) -> dict[str, Any]: ...


def answer_from_decision(record: DecisionRecord) -> Answer:
    """The ``Answer`` a council's public decision on a federation motion gives, or ``RuleError``."""
    body = plain(record.body)
    if (
        record.vis != "public"
        or not isinstance(body, dict)
        or body.get("kind") != "decision"
        or body.get("motion_kind") != "federation"
    ):
        raise RuleError("answer.not-federation", "only a public decision on a federation motion answers")
    named, participants = body.get("proposal"), body.get("participants")
    if not isinstance(named, list) or len(named) != 2 or not _is_int(participants):
        raise RuleError("answer.malformed", "a federation decision names its proposal and participants")
    try:  # issue 13: an outcome that does not follow from its published tally answers nothing
        if body.get("outcome") in ANSWER_OUTCOMES:  # else malformed, by Answer
            recount(body)
    except VerificationError as exc:
        raise RuleError("answer.recount", exc.message) from exc
    return Answer(
        council=record.log_id,
        decision=record.id,
        proposal=(named[0], named[1]),
        outcome=body.get("outcome"),  # type: ignore[arg-type]  # checked by Answer.__post_init__
        participants=participants,  # type: ignore[arg-type]  # _is_int above
        ts_ms=record.ts_ms,
        seq=record.seq,
    )
