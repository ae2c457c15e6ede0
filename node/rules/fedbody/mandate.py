"""The councils' mandate for a roster change: the operator executes, the member councils decide (issue 13).

Article 2 forms the federation from "the union and solidarity" of the councils, and article 4 has each
decide by its assembly: so who joins the union, or is suspended from it, is the councils' decision — a
federation-wide proposal with an ``action`` that their assemblies adopted (the same proposal mechanism and
tally as any other).
The operator only executes the signed result: a ``roster/admit``, ``roster/suspend`` or ``roster/readmit``
names in ``by`` the proposal whose result adopted exactly that action, and each result is executed once.

Bootstrap: a union must exist before it can vote. The founding entry states ``founding`` N (``shora init
--founding N``, 3 by default): the first N members may be admitted by the operator alone, as the union's
founders; after that, no admission without a mandate (``roster.no-mandate``). Suspending or readmitting
always needs one. A federation founded before this rule (no ``founding`` in its founding entry) keeps its
operator's roster powers, so its log replays as it was written.

Body fields (all optional, all public):

- ``federation/found``: ``founding`` (0–1000);
- ``proposal/publish``: ``action`` {``kind`` admit|suspend|readmit, ``member`` (32-byte key)};
- ``roster/admit``, ``roster/suspend``, ``roster/readmit``: ``by`` (the proposal's entry id).
"""

from __future__ import annotations

from typing import Any, Literal

from node.rules.council.errors import RuleError
from node.rules.council.fields import check_bytes, exact_keys, get_int, get_map, one_of
from node.rules.council.log import Appended

from .limits import ENTRY_ID_LEN, KEY_LEN
from .model import Federation

Action = Literal["admit", "suspend", "readmit"]
ACTIONS: tuple[Action, ...] = ("admit", "suspend", "readmit")
MAX_FOUNDING = 1000


def read_founding(body: dict[str, Any]) -> int | None:
    """The founding entry's ``founding``: None for a federation founded before mandates."""
    if "founding" not in body:
        return None
    founding = get_int(body, "founding")
    if not 0 <= founding <= MAX_FOUNDING:
        raise RuleError("federation.bad-founding", f"founding members are 0 to {MAX_FOUNDING}")
    return founding


def read_action(body: dict[str, Any]) -> tuple[Action, bytes] | None:
    """A proposal's ``action``: the roster change its adoption mandates, if any."""
    if "action" not in body:
        return None
    action = get_map(body, "action")
    exact_keys(action, {"kind", "member"}, "action")
    if action["kind"] not in ACTIONS:
        raise RuleError("proposal.bad-action", f"a proposal's action is {one_of(ACTIONS)}")
    return action["kind"], check_bytes(action["member"], "member", KEY_LEN)


def judge(
    state: Federation, body: dict[str, Any], action: Action, member: bytes, entry: Appended | None
) -> None:
    """A roster change of ``member``: with the mandate its ``by`` names, or as a founder's admission."""
    by = body.get("by")
    if by is None:
        if state.founding is None:
            return  # founded before mandates: the operator's word, as it was
        if action != "admit" or state.founders >= state.founding:
            raise RuleError(
                "roster.no-mandate",
                f"a roster {action} needs a proposal the member councils adopted (publish one with this "
                f"action, close it, then execute it with its id); only the first {state.founding} "
                "members are admitted as founders",
            )
        if entry is not None:
            state.founders += 1
        return
    proposal = state.proposals.get(check_bytes(by, "by", ENTRY_ID_LEN))
    if proposal is None:
        raise RuleError("roster.mandate-unknown", "by names no proposal of this federation")
    if proposal.action != (action, member):
        raise RuleError("roster.mandate-other", f"that proposal mandates no {action} of this member")
    result = state.result_of(proposal.id)
    if result is None or result.result != "adopted":
        raise RuleError("roster.mandate-not-adopted", "the councils have not adopted that proposal")
    if proposal.id in state.executed:
        raise RuleError("roster.mandate-used", "that proposal's result was executed already")
    if entry is not None:
        state.executed.add(proposal.id)
