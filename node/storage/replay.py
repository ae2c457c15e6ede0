"""Governance state from stored logs: the replay of this node's record, of another node's public log held
here, and an entry as a machine replays it (DESIGN.md §2–§3)."""

from __future__ import annotations

from typing import Any, TypeVar, overload

from federation.store import LogStore
from node.rules.council import Appended, Council
from node.rules.machines import CouncilMachine, Machine
from node.storage import logs
from protocol.entry import Entry

S = TypeVar("S")


def stored(entry: Entry) -> Appended:
    return Appended(entry.seq, entry.id, entry.header.ts_ms, entry.header.vis, entry.body())


@overload
def load_state(store: LogStore, log_id: bytes) -> Council: ...
@overload
def load_state(store: LogStore, log_id: bytes, machine: Machine[S, Any]) -> S: ...
def load_state(store: LogStore, log_id: bytes, machine: Machine[Any, Any] | None = None) -> Any:
    """Replay another node's public log held here, page by page (a council's, unless ``machine`` says
    otherwise), each twin named by its record twin's id (``logs.governance_view``)."""
    entries: list[Appended] = []
    after = -1
    while page := store.entries(log_id, after, 5000):
        entries.extend(logs.governance_view(e) for e in page)
        after = page[-1].seq
    return (machine or CouncilMachine()).replay(entries)


@overload
def replay_record(store: LogStore, root_key: bytes) -> Council: ...
@overload
def replay_record(store: LogStore, root_key: bytes, machine: Machine[S, Any]) -> S: ...
def replay_record(store: LogStore, root_key: bytes, machine: Machine[Any, Any] | None = None) -> Any:
    """The governance state of this node: the replay of its record (``store`` sees private logs)."""
    return (machine or CouncilMachine()).replay(logs.governed(store, root_key))
