"""The two kinds of node and the state machine each runs over its own log (DESIGN.md §1–§2).

A council's node runs the governance rules (``node.rules.council``); a federation body's node runs the
roster and proposal rules (``node.rules.fedbody``). Everything else — the writer, storage, replication — is
the same software, so it takes a ``Machine`` instead of importing either.

``Machine[S, C]`` is the seam: a state type ``S``, a command type ``C``. Both machines are checked against
it by mypy (the annotated assignments at the bottom); the writer holds either, as a machine over the union
of both states and both commands (``NodeState``, ``NodeCommand``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar, cast

from node.rules import council, fedbody
from node.rules.council import Appended, Council, Draft
from node.rules.fedbody import Federation

KINDS = ("council", "federation")

S = TypeVar("S")
C = TypeVar("C", contravariant=True)

NodeState = Council | Federation
NodeCommand = council.Command | council.Issued | fedbody.Command


class Machine(Protocol[S, C]):
    """A pure state machine over one log: judge a command into entries, fold an entry into the state."""

    @property
    def kind(self) -> str: ...

    def execute(self, state: S, command: C, now_ms: int) -> list[Draft]:
        """The entries recording ``command``, or ``RuleError``; never changes ``state``."""
        ...

    def apply(self, state: S, entry: Appended, judged: bool) -> None:
        """Fold a stored entry into ``state`` (``judged``: ``execute`` has just judged this very entry)."""
        ...

    def replay(self, entries: Iterable[Appended]) -> S:
        """The state a log's entries yield, from the beginning."""
        ...


class CouncilMachine:
    kind = "council"

    def execute(self, state: Council, command: council.Command | council.Issued, now_ms: int) -> list[Draft]:
        return council.execute(state, command, now_ms)

    def apply(self, state: Council, entry: Appended, judged: bool) -> None:
        council.apply(state, entry, judged=judged)

    def replay(self, entries: Iterable[Appended]) -> Council:
        return council.replay(entries)


class FederationMachine:
    kind = "federation"

    def __init__(self, log_id: bytes) -> None:
        self.log_id = log_id  # a federation's state names its own log (answers name it)

    def execute(self, state: Federation, command: fedbody.Command, now_ms: int) -> list[Draft]:
        return fedbody.execute(state, command, now_ms)

    def apply(self, state: Federation, entry: Appended, judged: bool) -> None:
        fedbody.apply(state, entry)  # its rules judge every entry afresh: cheap, and no shortcut to trust

    def replay(self, entries: Iterable[Appended]) -> Federation:
        return fedbody.replay(entries, self.log_id)


def machine_for(kind: str, log_id: bytes) -> Machine[NodeState, NodeCommand]:
    """The machine of a node of ``kind``, seen by the writer through the union of both machines' types.

    The cast is the one place the two meet: which machine a node runs is data (its ``node.json``), so
    the writer cannot know statically; each machine refuses the other's commands with a ``RuleError``.
    """
    if kind == "council":
        return cast(Machine[NodeState, NodeCommand], CouncilMachine())
    if kind == "federation":
        return cast(Machine[NodeState, NodeCommand], FederationMachine(log_id))
    raise ValueError(f"a node is a council or a federation, not {kind!r}")


# what mypy checks: each machine is a Machine over its own state and commands
_COUNCIL: Machine[Council, council.Command] = CouncilMachine()
_FEDERATION: Machine[Federation, fedbody.Command] = FederationMachine(bytes(32))
