"""A ``proposal/result`` body: written from a tally, read back strictly, and redone by anyone (DESIGN §5).

A result stores the terms, the councils admitted at the deadline and every answer (counted and refused, with
all the fields the tally reads), so re-running ``tally`` over it must give the entry back: ``apply`` does that
against the federation's own roster, ``retally`` against decision bundles a member verified, and
``verify_through`` against the logs of the federation's member federations.

Fields written for proposals that state a grace (issue 13; absent from older results, which replay as they
were tallied):

- ``not_heard`` [keys]: admitted councils (or member federations whose log was not held) the federation had
  not heard from since the deadline when it wrote the result — allowed only once the grace has ended;
- ``through`` [{federation, councils}]: a continent federation counts the councils of the country federations
  it admitted (resolution article 2: the federation of a continent is the union of its councils), each
  member federation active at the deadline listed with the councils its own roster held at the deadline;
  ``admitted`` is the union of the federation's own councils and all of these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from typing import Any

from node.rules.council.errors import RuleError
from node.rules.council.fields import (
    check_bytes,
    exact_keys,
    get_int,
    get_list,
    get_map,
    malformed,
    one_of,
    plain,
)

from .limits import ENTRY_ID_LEN, KEY_LEN, MAX_ANSWERS
from .tally import TALLY_RULES, Answer, DecisionRecord, Terms, answer_from_decision, tally

Through = Mapping[bytes, Set[bytes]]  # member federation -> the councils on its roster at the deadline


def result_body(
    proposal: Terms,
    admitted_at_deadline: Set[bytes],
    answers: Iterable[Answer],
    not_heard: Iterable[bytes] | None = (),
    through: Through | None = None,
) -> dict[str, Any]:
    """The ``proposal/result`` body recording ``tally`` — deterministic whatever the order of ``answers``.
    ``not_heard`` None: a result of a proposal without a grace (no ``not_heard``, no ``through``)."""
    counted, refused, totals, result = tally(
        proposal, admitted_at_deadline, answers, answer_again=not_heard is not None
    )
    if len(counted) + len(refused) > MAX_ANSWERS:
        raise RuleError("limit.answers", f"a result lists at most {MAX_ANSWERS} answers")
    extra: dict[str, Any] = {}
    if not_heard is not None:
        through = through or {}
        if not all(councils <= admitted_at_deadline for councils in through.values()):
            raise RuleError("result.through", "a member federation's councils are among those admitted")
        unheard = sorted(set(not_heard))
        if not set(unheard) <= admitted_at_deadline | through.keys():
            raise RuleError("result.not-heard-unknown", "only councils admitted at the deadline go unheard")
        extra["not_heard"] = unheard
        extra["through"] = [{"federation": f, "councils": sorted(through[f])} for f in sorted(through)]
    return extra | {
        "kind": "proposal/result",
        "proposal": proposal.proposal,
        "federation": proposal.federation,
        "rule": proposal.rule,
        "deadline_ms": proposal.deadline_ms,
        "admitted": sorted(admitted_at_deadline),
        "counted": [a.to_body() for a in counted],
        "refused": [r.to_body() for r in refused],
        "totals": totals.to_body(),
        "result": result,
    }


RESULT_KEYS = {
    "kind", "proposal", "federation", "rule", "deadline_ms",
    "admitted", "counted", "refused", "totals", "result",
}  # fmt: skip
_GRACE_KEYS = {"not_heard", "through"}  # both or neither
_COUNTED_KEYS = {"council", "decision", "seq", "ts_ms", "outcome", "participants"}
_RECEIVED = {"received_ms"}  # absent from results written before receipts were kept


@dataclass(frozen=True)
class Listed:
    """What a ``proposal/result`` body lists, read strictly."""

    terms: Terms
    admitted: frozenset[bytes]
    answers: list[Answer]
    not_heard: list[bytes] | None  # None: a result of a proposal without a grace
    through: dict[bytes, frozenset[bytes]] | None

    def body(self) -> dict[str, Any]:
        return result_body(self.terms, self.admitted, self.answers, self.not_heard, self.through)


def _answer(item: object, proposal: tuple[bytes, bytes] | None) -> Answer:
    if not isinstance(item, dict):
        raise malformed("a listed answer is a map")
    if proposal is None:  # refused: the answer carries the proposal it named and why it was refused
        exact_keys(item, _COUNTED_KEYS | {"proposal", "reason"} | _RECEIVED & item.keys(), "refused answer")
        named = get_list(item, "proposal")
        if len(named) != 2:
            raise malformed("proposal is [federation log id, proposal entry id]")
        proposal = (
            check_bytes(named[0], "proposal", KEY_LEN),
            check_bytes(named[1], "proposal", ENTRY_ID_LEN),
        )
    else:
        exact_keys(item, _COUNTED_KEYS | _RECEIVED & item.keys(), "counted answer")
    return Answer(
        council=check_bytes(item["council"], "council", KEY_LEN),
        decision=check_bytes(item["decision"], "decision", ENTRY_ID_LEN),
        proposal=proposal,
        outcome=item["outcome"] if isinstance(item["outcome"], str) else "",
        participants=get_int(item, "participants"),
        ts_ms=get_int(item, "ts_ms"),
        seq=get_int(item, "seq"),
        received_ms=get_int(item, "received_ms") if "received_ms" in item else None,
    )


def _through(body: dict[str, Any]) -> dict[bytes, frozenset[bytes]]:
    out: dict[bytes, frozenset[bytes]] = {}
    for item in get_list(body, "through"):
        if not isinstance(item, dict):
            raise malformed("a member federation listed is a map")
        exact_keys(item, {"federation", "councils"}, "through")
        federation = check_bytes(item["federation"], "federation", KEY_LEN)
        out[federation] = frozenset(check_bytes(c, "councils", KEY_LEN) for c in get_list(item, "councils"))
    return out


def read_result(body: dict[str, Any]) -> Listed:
    """What a ``proposal/result`` body lists; strict."""
    grace = _GRACE_KEYS & body.keys()
    if grace and grace != _GRACE_KEYS:
        raise malformed("a result lists both not_heard and through, or neither")
    exact_keys(body, RESULT_KEYS | grace, "proposal/result")
    rule = body["rule"]
    if rule not in TALLY_RULES:
        raise RuleError("proposal.bad-rule", f"a tally rule is {one_of(TALLY_RULES)}")
    terms = Terms(
        federation=check_bytes(body["federation"], "federation", KEY_LEN),
        proposal=check_bytes(body["proposal"], "proposal", ENTRY_ID_LEN),
        deadline_ms=get_int(body, "deadline_ms"),
        rule=rule,
    )
    admitted = frozenset(check_bytes(c, "admitted", KEY_LEN) for c in get_list(body, "admitted"))
    counted, refused = get_list(body, "counted"), get_list(body, "refused")
    if len(counted) + len(refused) > MAX_ANSWERS:
        raise RuleError("limit.answers", f"a result lists at most {MAX_ANSWERS} answers")
    get_map(body, "totals")
    answers = [_answer(a, (terms.federation, terms.proposal)) for a in counted]
    answers += [_answer(r, None) for r in refused]
    if not grace:
        return Listed(terms, admitted, answers, None, None)
    not_heard = [check_bytes(c, "not_heard", KEY_LEN) for c in get_list(body, "not_heard")]
    return Listed(terms, admitted, answers, not_heard, _through(body))


def _stripped(result: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = plain(result)
    body.pop("record", None)  # a public twin's commitment to the federation's record: not the result's
    body.pop("key_entries", None)  # the length of the key history before it, for bundles
    return body


def verify_through(result: dict[str, Any], rosters: Through) -> None:
    """Check a continent's result against the rosters of its member federations at the deadline, which the
    caller replayed from their logs (``rosters``: federation -> councils admitted at the deadline); ``None``
    or ``RuleError("retally.through")``. The federation's own roster is ``apply``'s to check."""
    listed = read_result(_stripped(result))
    for federation, councils in (listed.through or {}).items():
        if federation not in rosters:
            continue  # a log the caller does not hold: nothing to say about it
        if set(rosters[federation]) != councils:
            raise RuleError(
                "retally.through", "a member federation's councils differ from its roster at the deadline"
            )


def retally(result: dict[str, Any], verified_answers: Iterable[DecisionRecord | Answer]) -> None:
    """Redo a federation's result from decision entries the caller verified; ``None`` or ``RuleError``.
    ``result`` is the result's body as the federation's public log (or its record) holds it.

    The answers the result lists must be exactly the verified ones (answers to this proposal the result
    leaves out are ``retally.omitted``; listed answers with no verified decision are ``retally.unverified``),
    and the tally over them must give the result entry back (``retally.mismatch``). Whether the admitted
    councils were those on the roster at the deadline is for whoever holds the federation's log to check
    (``apply`` does).
    """
    body = _stripped(result)
    read = read_result(body)
    terms, listed = read.terms, read.answers
    verified = {
        (a if isinstance(a, Answer) else answer_from_decision(a)).unreceived() for a in verified_answers
    }
    asked = (terms.federation, terms.proposal)
    # the receipt times are the federation's own signed word; the decisions themselves must be verified
    decided = {a.unreceived() for a in listed}
    unverified = decided - verified
    if unverified:
        raise RuleError("retally.unverified", f"{len(unverified)} listed answer(s) lack a verified decision")
    omitted = {a for a in verified - decided if a.proposal == asked}
    if omitted:
        raise RuleError("retally.omitted", f"{len(omitted)} answer(s) to this proposal were left out")
    if body != read.body():
        raise RuleError("retally.mismatch", "the result does not follow from the answers and the rule")
