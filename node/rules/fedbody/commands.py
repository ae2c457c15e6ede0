"""Commands: what a federation body's operator asks it to record. Plain typed carriers; ``execute`` judges.

Ids and times come in from the caller (the state machine has no clock): members are the 32-byte root keys of
councils or lower federations; proposals are named by the 32-byte id of their ``proposal/publish`` entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .tally import Answer


@dataclass(frozen=True)
class FoundFederation:
    name: str
    level: Literal["country", "continent"]
    continent: str
    name_fa: str = ""
    country: str = ""  # a country federation's own country; empty for a continent federation
    founding: int | None = None  # members the operator may admit alone (``mandate.py``); None: no such rule


@dataclass(frozen=True)
class Admit:
    member: bytes  # the root key (log id) of the council or lower federation
    member_kind: Literal["council", "federation"]
    name: str
    continent: str
    name_fa: str = ""
    city: str = ""  # councils only
    country: str = ""
    url: str = ""
    reason: str = ""
    by: bytes | None = None  # the adopted proposal that mandates it (``mandate.py``)


@dataclass(frozen=True)
class Suspend:
    member: bytes
    reason: str
    size: int  # the member's log size held at suspension: entries at seq >= size are not accepted
    by: bytes | None = None


@dataclass(frozen=True)
class Readmit:
    member: bytes
    reason: str
    by: bytes | None = None


@dataclass(frozen=True)
class Rekey:
    """Move ``member`` to the root key ``new_key``: a lost or stolen root key. ``requested_by`` says whose
    word it is — the member's own (a request signed with its old root key) or the federation's decision."""

    member: bytes
    new_key: bytes
    reason: str
    size: int  # the old log's size held: its entries at seq >= size are not accepted
    requested_by: Literal["member", "federation"]


@dataclass(frozen=True)
class PublishProposal:
    text_fa: str
    text_en: str
    deadline_ms: int
    rule: Literal["answering", "admitted", "weighted"] = "answering"
    # a roster change the councils decide by adopting it: ("admit" | "suspend" | "readmit", member key)
    action: tuple[Literal["admit", "suspend", "readmit"], bytes] | None = None
    grace_ms: int = 0  # after the deadline, how long the result waits for councils not heard from yet
    # the member councils' adopted requests it answers: (council key, decision entry id); () = none
    requested_by: tuple[tuple[bytes, bytes], ...] = ()


@dataclass(frozen=True)
class PublishResult:
    """Tally ``proposal`` (at or after its deadline) over answers taken from councils' public decisions."""

    proposal: bytes
    answers: tuple[Answer, ...]
    # admitted councils not heard from since the deadline: allowed only once the proposal's grace has ended
    not_heard: tuple[bytes, ...] = ()
    # a continent: each member federation active at the deadline, with the councils its roster then held
    through: tuple[tuple[bytes, frozenset[bytes]], ...] = ()


Command = FoundFederation | Admit | Suspend | Readmit | Rekey | PublishProposal | PublishResult
