"""The councils' requests behind a proposal: which member councils' assemblies asked for it (issue 13).

A council's assembly asks its federation to put a proposal to every council by adopting a public ``request``
motion (``node.rules.council.proposal_requests``). The operator publishes a proposal in answer, naming the
requests in ``requested_by``: [[council key, decision entry id], …] (the decision's id in the council's
public log). The operator may also publish without a request (``docs/federation-governance.md``: publishing
decides nothing, the councils' assemblies do); a proposal published on the councils' request says so.

Judged here, from the federation's own log (and so again on every replay): the list is non-empty, each
council is on the roster and not suspended when the proposal is published, no request is listed twice, and
no request backs a second proposal (``proposal.request-used``). That each named decision is a council's
adopted public request naming this federation is checked by the federation's node when it publishes, from
the councils' logs it holds (``GET /v1/admin/proposals/requests``); anyone holding those logs can check it
again: each is a signed public decision.
"""

from __future__ import annotations

from typing import Any

from node.rules.council.errors import RuleError
from node.rules.council.fields import check_bytes, get_list, malformed

from .limits import ENTRY_ID_LEN, KEY_LEN, MAX_REQUESTS
from .model import Federation

Request = tuple[bytes, bytes]  # (council key, decision entry id)


def read_requested_by(state: Federation, body: dict[str, Any]) -> tuple[Request, ...]:
    """A proposal's ``requested_by`` (absent: published without a request), judged against ``state``."""
    if "requested_by" not in body:
        return ()
    listed = get_list(body, "requested_by")
    if not listed:
        raise malformed("requested_by, when present, names at least one request")
    if len(listed) > MAX_REQUESTS:
        raise RuleError("limit.requests", f"at most {MAX_REQUESTS} requests behind one proposal")
    out: list[Request] = []
    for pair in listed:
        if not isinstance(pair, list) or len(pair) != 2:
            raise malformed("a request is [council key, decision entry id]")
        out.append(
            (
                check_bytes(pair[0], "requested_by", KEY_LEN),
                check_bytes(pair[1], "requested_by", ENTRY_ID_LEN),
            )
        )
    if len(set(out)) != len(out):
        raise RuleError("proposal.request-duplicate", "a request is listed twice")
    used = {r for p in state.proposals.values() for r in p.requested_by}
    for council, decision in out:
        member = state.roster.get(council)
        if member is None or not member.active:
            raise RuleError("proposal.request-not-admitted", "a request counts from an admitted council only")
        if (council, decision) in used:
            raise RuleError("proposal.request-used", "this request was answered by another proposal already")
    return tuple(out)


def to_body(requested_by: tuple[Request, ...]) -> dict[str, Any]:
    """The body field: written only when the proposal answers requests, so others keep their bytes."""
    return {"requested_by": [[c, d] for c, d in requested_by]} if requested_by else {}
