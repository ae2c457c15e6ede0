"""The assembly console's live view (issue 15): what the board sees of the sitting assembly, and the streams
that carry it to the console as the record is written.

``view`` is the console's whole picture, built from the committed state and the private directory: the
active members (names, on the roll or not), the open assembly (else the latest), each of its motions with
its running tally. ``Live`` wakes every open stream when the writer records a batch (``Writer.on_record``);
a stream then sends the picture again, whole — a console that missed one picture misses nothing. Streams
are few (``console_streams_max``) and each is woken, never queued to: a burst of ballots costs one picture.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

from node.rules.council import Appended, Council, Motion
from node.storage.directory import Person


class Live:
    """The open streams of the console, each an event the writer sets."""

    def __init__(self, most: int) -> None:
        self.most = most
        self.streams: set[asyncio.Event] = set()
        self.closing = False

    @contextlib.contextmanager
    def stream(self) -> Iterator[asyncio.Event | None]:
        """An event set whenever the record grows (and at shutdown), or ``None`` when ``most`` are open."""
        if len(self.streams) >= self.most:
            yield None
            return
        changed = asyncio.Event()
        self.streams.add(changed)
        try:
            yield changed
        finally:
            self.streams.discard(changed)

    def recorded(self, entries: list[Appended]) -> None:
        if entries:
            for changed in self.streams:
                changed.set()

    def close(self) -> None:
        """The node stops: every stream ends (an open response would hold the shutdown up)."""
        self.closing = True
        for changed in self.streams:
            changed.set()


def _tally(motion: Motion) -> dict[str, Any]:
    # an election's ballots approve candidates; every other kind's (a delegate motion's too) are yes, no or
    # abstain (node.rules.council.motions)
    if motion.kind == "election":
        approvals = dict.fromkeys(motion.candidates, 0)
        for vote in motion.votes.values():
            for candidate in vote if isinstance(vote, tuple) else ():
                approvals[candidate] = approvals.get(candidate, 0) + 1
        return {"approvals": [{"member_id": c, "count": n} for c, n in approvals.items()]}
    counts = dict.fromkeys(("yes", "no", "abstain"), 0)
    for vote in motion.votes.values():
        if isinstance(vote, str) and vote in counts:
            counts[vote] += 1
    return counts


def _motion(state: Council, motion: Motion) -> dict[str, Any]:
    decision = None if motion.decision is None else state.decisions.get(motion.decision)
    return {
        "motion_id": motion.id,
        "kind": motion.kind,
        "text": motion.text,
        "visibility": motion.visibility,
        "status": motion.status,
        "seats": motion.seats,
        "candidates": list(motion.candidates),
        "target": motion.target,
        "runoff_of": motion.runoff_of,
        "voters": len(motion.votes),
        "electorate": None if motion.electorate is None else len(motion.electorate),
        "tally": _tally(motion),
        "decision_id": motion.decision,
        "outcome": None if decision is None else decision.outcome,
        "elected": [] if decision is None else list(decision.body.get("elected", [])),
    }


def view(state: Council, people: dict[bytes, Person]) -> dict[str, Any]:
    """The console's picture: names are the council's own (the board sees who is in the room)."""
    sitting = state.open_assembly()
    latest = sitting or max(state.assemblies.values(), key=lambda a: a.opened_seq, default=None)
    roll = latest.roll if latest is not None and latest.is_open else set()
    board = state.board_members()
    members = [
        {
            "member_id": m.id,
            "name": people[m.id].name if m.id in people else None,
            "present": m.id in roll,
            "board": m.id in board,
            "keyed": m.pubkey is not None,
        }
        for m in state.members.values()
        if m.active
    ]
    assembly = None
    if latest is not None:
        assembly = {
            "assembly_id": latest.id,
            "open": latest.is_open,
            "agenda": latest.agenda,
            "opened_ts_ms": latest.opened_ts_ms,
            "present": len(latest.roll),
            "participants": len(latest.attended),
            "minutes": latest.minutes,
            "motions": [_motion(state, m) for m in state.motions_list(latest.id)],
        }
    return {
        "council": state.id,
        "seq": state.next_seq,  # the record's size this picture was drawn at: an older picture is stale
        "members": members,
        "assembly": assembly,
        "signed_ballots": list(state.rules.signed_ballots),
    }
