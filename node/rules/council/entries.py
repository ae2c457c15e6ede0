"""One function per entry kind: check a body against the state and, given the stored entry, apply it.

The same function serves ``execute`` (``entry=None``: judge only) and ``apply`` (judge, then change the
state), so a command is accepted exactly when the entry it produces would be accepted on replay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from node.rules import logkey

from . import delegates
from .assemblies import attend, close_assembly, depart, minutes, open_assembly, requisition
from .board import board_left, report, resign
from .decisions import decision, tally
from .log import Appended, Vis
from .membership import bind_key, census, found, join, leave
from .model import Council
from .motions import consent, propose, vote

Handler = Callable[[Council, dict[str, Any], Appended | None], None]


def _visibility_of_motion(state: Council, body: dict[str, Any]) -> Vis:
    vis = body.get("visibility")
    return "council" if vis == "council" else "public"


def _visibility_of_decision(state: Council, body: dict[str, Any]) -> Vis:
    m = state.motions.get(body.get("motion", b""))
    return "council" if m is not None and m.visibility == "council" else "public"


def _fixed(vis: Vis) -> Callable[[Council, dict[str, Any]], Vis]:
    return lambda _state, _body: vis


# kind -> (visibility it must be stored with, handler). Council visibility for everything naming who
# joined, attended or voted: membership lists, rolls and votes never leave the node (DESIGN §6).
KINDS: dict[str, tuple[Callable[[Council, dict[str, Any]], Vis], Handler]] = {
    "council/found": (_fixed("public"), found),
    "member/join": (_fixed("council"), join),
    "member/leave": (_fixed("council"), leave),
    "member/key": (_fixed("council"), bind_key),
    "assembly/requisition": (_fixed("council"), requisition),
    "assembly/open": (_fixed("public"), open_assembly),
    "assembly/attend": (_fixed("council"), attend),
    "assembly/depart": (_fixed("council"), depart),
    "assembly/close": (_fixed("public"), close_assembly),
    "assembly/minutes": (_fixed("council"), minutes),
    "motion/propose": (_visibility_of_motion, propose),
    "member/consent": (_fixed("council"), consent),
    "motion/vote": (_fixed("council"), vote),
    "decision": (_visibility_of_decision, decision),
    "decision/tally": (_fixed("council"), tally),
    "board/report": (_fixed("public"), report),
    "board/resign": (_fixed("public"), resign),
    "board/left": (_fixed("public"), board_left),
    "delegate/left": (_fixed("public"), delegates.left),
    "council/census": (_fixed("public"), census),
    logkey.KIND: (_fixed("public"), lambda _state, body, entry: logkey.judge(body, entry)),
}
