"""Reads that take more than one index lookup, as plain functions of a connection, ``fn(conn, …)``.

The HTTP routes run them on the reader thread (``node.storage.reader``), never on the event loop.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from federation.store import LogStore, receipts
from node.errors import RuleError
from node.rules import fedbody
from node.rules.fedbody import Answer, Federation
from node.rules.machines import FederationMachine
from node.storage import logs
from node.storage.replay import load_state
from protocol import codec
from protocol.bundle import Bundle, ProvenEntry, key_history
from protocol.entry import Entry
from protocol.errors import DecodeError
from protocol.keys import key_id
from protocol.note import parse_note
from protocol.record import RecordEntry


def decisions(conn: sqlite3.Connection, log_id: bytes, limit: int, *, record: bool) -> list[Entry]:
    """The newest ``limit`` decisions of ``log_id``: the record's (``record``: entries in the record's
    domain) or a public log's."""
    rows = conn.execute(
        "SELECT header, signature, body FROM entries WHERE log_id = ? AND kind = 'decision' "
        "ORDER BY seq DESC LIMIT ?",
        (log_id, limit),
    )
    make = RecordEntry if record else Entry
    return [make(bytes(h), bytes(s), bytes(b)) for h, s, b in rows]


def find_twin(conn: sqlite3.Connection, log_id: bytes, decision_id: bytes) -> Entry | None:
    """The public decision of ``log_id`` named by its own id or by its record twin's, if held."""
    store = LogStore(conn)  # the public view: it cannot see the record
    located = store.locate_decision(decision_id)
    if located is not None and located[0] == log_id:
        return store.entry(log_id, located[1])
    seq = logs.twin_seq(conn, log_id, decision_id)  # a record id, which the twin's commitment carries
    return None if seq is None else store.entry(log_id, seq)


def bundle(
    conn: sqlite3.Connection, log_id: bytes, decision_id: bytes, *, council: bool, root_id: bytes
) -> tuple[str, bytes] | None:
    """(visibility, bundle bytes) of the public twin of a decision of ``log_id`` (named by the twin's id or
    its record twin's) at the public log's newest checkpoint, with the key history before it
    (protocol.bundle) when its signer is not the log's current root key (``root_id``); None for every miss
    alike. A council-only decision has no twin, so no bundle: to anyone, the same answer as no decision."""
    store = LogStore(conn)
    entry = find_twin(conn, log_id, decision_id)
    if entry is None or entry.body().get("kind") != "decision":
        return None
    if entry.header.vis != "public" and not council:
        return None
    head = store.head(log_id)
    founding = store.entry(log_id, 0)
    if head is None or head.checkpoint is None or founding is None:
        return None

    def proven(e: Entry) -> ProvenEntry:
        return ProvenEntry(e, tuple(store.inclusion_proof(log_id, e.seq, head.size)))

    keys: list[ProvenEntry] = []
    if entry.header.key_id != root_id:
        rows = conn.execute(
            "SELECT header, signature, body FROM entries WHERE log_id = ? AND kind = 'log/key' AND seq < ? "
            "ORDER BY seq",
            (log_id, head.size),
        )
        history = key_history([Entry(bytes(h), bytes(s), bytes(b)) for h, s, b in rows])
        signer = entry.header.key_id
        # the whole history before the decision (its body states how long), and every later revocation of
        # its key: one back-dated with ``from`` ends the key for it already (protocol.bundle)
        keys = [
            proven(e)
            for e in history
            if e.seq < entry.seq
            or (e.body().get("action") == "revoke" and key_id(e.body().get("key", b"")) == signer)
        ]
    parse_note(head.checkpoint)  # the stored note is well-formed, or this is a bug worth a 500
    return entry.header.vis, Bundle(proven(entry), head.checkpoint, proven(founding), tuple(keys)).encode()


def federation_logs(conn: sqlite3.Connection, me: bytes) -> list[bytes]:
    """The federation bodies' logs this node holds: those founded by a ``federation/found`` entry."""
    rows = conn.execute(
        "SELECT log_id FROM entries WHERE seq = 0 AND kind = 'federation/found' AND log_id != ? "
        "ORDER BY log_id",
        (me,),
    )
    return [bytes(r[0]) for r in rows]


def federations(conn: sqlite3.Connection, me: bytes) -> list[tuple[bytes, Federation | RuleError]]:
    """Each federation log this node holds, replayed: its state, or the rule its log breaks."""
    store = LogStore(conn)
    out: list[tuple[bytes, Federation | RuleError]] = []
    for fed in federation_logs(conn, me):
        try:
            out.append((fed, load_state(store, fed, FederationMachine(fed))))
        except RuleError as exc:
            out.append((fed, exc))
    return out


@dataclass(frozen=True)
class StoredDecision:
    """A council's decision entry as stored here (a ``fedbody.DecisionRecord``)."""

    log_id: bytes
    seq: int
    id: bytes
    ts_ms: int
    vis: str
    body: dict[str, Any]


def answers_held(conn: sqlite3.Connection, federation: bytes, proposal: bytes) -> list[Answer]:
    """Every council's public decision answering ``proposal``, in the logs this node holds (any of them), with
    the time this node first received it (``federation.store.receipts``): lateness is judged by that."""
    asked = [federation, proposal]
    out = []
    for decision in _councils_decisions(conn, federation, "federation"):
        if decision.body.get("proposal") != asked:
            continue
        try:
            answered = fedbody.answer_from_decision(decision)
            received = receipts.received_ms(conn, answered.council, decision.seq)
            out.append(replace(answered, received_ms=received))
        except RuleError:
            continue  # a malformed answer is no answer; the council's own rules would not have written it
    return out


@dataclass(frozen=True)
class HeldRequest:
    """A council's public decision on a ``request`` motion asking ``federation`` for a proposal."""

    council: bytes
    decision: bytes  # its entry id in the council's public log
    seq: int
    ts_ms: int
    outcome: str
    text: str


def requests_held(conn: sqlite3.Connection, federation: bytes) -> list[HeldRequest]:
    """Every council's public decision on a request motion naming ``federation``, in the logs held here (not
    forked), in order of the councils' logs (issue 13; ``node.rules.fedbody.requests``)."""
    out = []
    for d in _councils_decisions(conn, federation, "request"):
        outcome, text = d.body.get("outcome"), d.body.get("text")
        if (
            d.body.get("federation") != federation
            or not isinstance(outcome, str)
            or not isinstance(text, str)
        ):
            continue
        out.append(HeldRequest(d.log_id, d.id, d.seq, d.ts_ms, outcome, text))
    return out


def _councils_decisions(
    conn: sqlite3.Connection, federation: bytes, motion_kind: str
) -> list[StoredDecision]:
    """The public decisions of ``motion_kind`` in the councils' logs held here, by log and position: not our
    own log or record, nor a forked council's (whose word counts for nothing)."""
    rows = conn.execute(
        "SELECT log_id, seq, id, ts_ms, vis, body FROM entries "
        "WHERE kind = 'decision' AND vis = 'public' AND body IS NOT NULL AND log_id != ? "
        "AND log_id NOT IN (SELECT log_id FROM forks)"
        " AND log_id NOT IN (SELECT log_id FROM logs WHERE private = 1) ORDER BY log_id, seq",
        (federation,),
    )
    out = []
    for log_id, seq, entry_id, ts_ms, vis, raw in rows:
        try:
            body = codec.decode(bytes(raw))
        except DecodeError:
            continue  # verified and stored canonical: cannot happen, and would decide nothing
        if isinstance(body, dict) and body.get("motion_kind") == motion_kind:
            out.append(StoredDecision(bytes(log_id), seq, bytes(entry_id), ts_ms, vis, body))
    return out


def not_heard(conn: sqlite3.Connection, councils: Iterable[bytes], deadline_ms: int) -> list[bytes]:
    """The ``councils`` this node has not heard from since ``deadline_ms``, sorted (issue 13).

    Heard means: a signed report of the council's log head reached this node after the deadline (an ingest,
    a witness request, a gossip digest), this node holds the log as far as that report, and as far as every
    checkpoint it cosigned up to the deadline — so no answer received on time can still be missing."""
    store = LogStore(conn)
    out = []
    for council in sorted(councils):
        head = store.head(council)
        held = head.size if head is not None else 0
        last = receipts.last_heard(conn, council)
        heard = (
            last is not None
            and last[1] > deadline_ms
            and held >= last[0]
            and held >= receipts.committed_by(conn, council, deadline_ms)
        )
        if not heard:
            out.append(council)
    return out


def councils_through(
    conn: sqlite3.Connection, federations: Iterable[bytes], deadline_ms: int
) -> tuple[dict[bytes, frozenset[bytes]], list[bytes]]:
    """A continent's member ``federations``: the councils each one's roster held at ``deadline_ms``, from its
    log held here; and the federations whose log is not held or does not replay (listed with none)."""
    store = LogStore(conn)
    through: dict[bytes, frozenset[bytes]] = {}
    unknown: list[bytes] = []
    for federation in sorted(federations):
        state: Federation | None = None
        if store.head(federation) is not None:
            try:
                state = load_state(store, federation, FederationMachine(federation))
            except RuleError:
                state = None
        if state is None or not state.founded:
            unknown.append(federation)
            through[federation] = frozenset()
        else:
            through[federation] = state.admitted_at(deadline_ms)
    return through, unknown
