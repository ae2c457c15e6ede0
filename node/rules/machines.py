"""The two kinds of node and the state machine each runs over its own log (DESIGN.md §1–§2).

A council's node runs the governance rules (``node.rules.council``); a federation body's node runs the
roster and proposal rules (``node.rules.fedbody``). Everything else — the writer, storage, replication — is
the same software, so it takes a ``Machine`` instead of importing either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from node.rules import council as governance
from node.rules import fedbody
from node.rules.council import Appended, Draft

KINDS = ("council", "federation")


@dataclass(frozen=True)
class Machine:
    kind: str
    execute: Callable[[Any, Any, int], list[Draft]]
    apply: Callable[[Any, Appended, bool], None]  # (state, entry, already judged by execute)
    replay: Callable[[Iterable[Appended]], Any]


def _council_apply(state: Any, entry: Appended, judged: bool) -> None:
    governance.apply(state, entry, judged=judged)


def _federation_apply(state: Any, entry: Appended, judged: bool) -> None:
    fedbody.apply(state, entry)


def machine_for(kind: str, log_id: bytes) -> Machine:
    if kind == "council":
        return Machine("council", governance.execute, _council_apply, governance.replay)
    if kind == "federation":
        return Machine(
            "federation", fedbody.execute, _federation_apply, lambda es: fedbody.replay(es, log_id)
        )
    raise ValueError(f"a node is a council or a federation, not {kind!r}")
