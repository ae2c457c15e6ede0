"""Who a node trusts because a federation it trusts says so (resolution article 2; DESIGN.md §5).

A node trusts the federation bodies it was given (its own log, if it is one; the federation named at
``init``) and, through their signed rosters, every council or lower federation they admitted — a continent
federation trusts what the country federations it admitted admit. A suspended member stays trusted for the
entries it had when it was suspended (``limit``): its later entries are not accepted anywhere. A member the
roster moved to a new root key (``roster/rekey``: its old key was lost or stolen) is retired: its old log is
kept up to the same kind of limit, but the old key is trusted for nothing else — not even as a peer an
operator added by hand — and the new key is a member like any other.

The view is computed by replaying the federation logs this node holds (``node.rules.fedbody``), and cached
until one of them grows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from federation.store import LogStore
from node.rules import fedbody
from node.rules.council import Appended, RuleError
from node.storage.logs import governance_view
from protocol import codec
from protocol.errors import ProtocolError

log = logging.getLogger("shora.roster")
MAX_DEPTH = 2  # continent → country → council


@dataclass(frozen=True)
class Member:
    key: bytes
    kind: str  # council | federation
    url: str
    limit: int | None  # entries accepted from this member's log; None while it is active
    admitted_by: bytes
    moved_to: bytes | None = None  # the roster moved this member to a new root key: this one is retired


class RosterView:
    def __init__(self, store: LogStore, roots: list[bytes]) -> None:
        self.store, self.roots = store, roots
        self._cache_key: tuple[tuple[bytes, int], ...] | None = None
        self._members: dict[bytes, Member] = {}
        self._federations: set[bytes] = set(roots)
        self.version = 0  # bumped each time the view is recomputed: callers redo their work only then

    def members(self) -> dict[bytes, Member]:
        """Every member of every roster reachable from the roots, by key (recomputed when logs grow)."""
        key = tuple(
            (log_id, head.size) for log_id in sorted(self._federations) if (head := self.store.head(log_id))
        )
        if key != self._cache_key:
            self._members, self._federations = self._compute()
            self.version += 1
            self._cache_key = tuple(
                (log_id, head.size)
                for log_id in sorted(self._federations)
                if (head := self.store.head(log_id))
            )
        return self._members

    def federations(self) -> set[bytes]:
        self.members()
        return set(self._federations)

    def trusted(self, log_id: bytes) -> bool:
        return log_id in self._federations or log_id in self.members()

    def limit(self, log_id: bytes) -> int | None:
        member = self.members().get(log_id)
        return member.limit if member else None

    def retired(self, key: bytes) -> bool:
        """A root key the roster moved a member away from (lost or stolen): trusted by no one any more."""
        member = self.members().get(key)
        return member is not None and member.moved_to is not None

    def admitted(self, key: bytes) -> bool:
        member = self.members().get(key)
        return member is not None and member.limit is None

    def state_of(self, federation: bytes) -> fedbody.Federation | None:
        """The replayed state of a federation log held here, or None if it is not held or not valid."""
        entries: list[Appended] = []
        after = -1
        while page := self.store.entries(federation, after, 5000):
            for entry in page:
                if entry.body_bytes is None:
                    return None  # a federation's entries are all public: a missing body is not its log
                try:
                    entries.append(governance_view(entry))  # named as the federation's record names them
                except ProtocolError:
                    return None  # a commitment that is not one: not a federation's log
            after = page[-1].seq
        if not entries or entries[0].body.get("kind") != "federation/found":
            return None
        try:
            return fedbody.replay(entries, federation)
        except (RuleError, ProtocolError) as exc:
            log.warning("federation log %s does not replay: %s", codec.short_id(federation), exc)
            return None

    def _compute(self) -> tuple[dict[bytes, Member], set[bytes]]:
        members: dict[bytes, Member] = {}
        federations = set(self.roots)
        frontier = list(self.roots)
        for _ in range(MAX_DEPTH):
            following: list[bytes] = []
            for federation in frontier:
                state = self.state_of(federation)
                if state is None:
                    continue
                for m in state.roster.values():
                    members.setdefault(
                        m.member,
                        Member(m.member, m.kind, m.url, m.suspended_size, federation, m.rekeyed_to),
                    )
                    if m.kind == "federation" and m.active and m.member not in federations:
                        federations.add(m.member)
                        following.append(m.member)
            frontier = following
        return members, federations
