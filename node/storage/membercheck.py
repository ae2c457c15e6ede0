"""The member check (DESIGN.md §3; docs/protocol.md §10.4): what a member who holds a council's record can
check of one of its public decisions.

    check_decision(public_entry, record, root_key)  the Twin, or VerificationError naming the failed step

1. the record is the council's, signed and chained from its first entry (``record-log``, ``unknown-key``,
   ``entry-signature``, ``sequence`` / ``prev``);
2. the public entry is exactly the publication of a record entry, committed at the record's root there
   (``protocol.record.verify_twin``: ``twin-*``, ``record-root``);
3. that record entry is a decision (``recount``), and the council's own rules, replaying the record up to
   it, arrive at exactly that decision from the ballots before it (``recount``): so a node that publishes a
   tally or an outcome that is not the recount is caught, whether it changed only the public twin (step 2)
   or signed a record entry to match (step 3).
"""

from __future__ import annotations

from collections.abc import Sequence

from node.rules.council import RuleError
from node.rules.machines import CouncilMachine
from node.storage.logs import replayed
from protocol.entry import Entry, verify_follows
from protocol.errors import VerificationError
from protocol.keys import PublicKey
from protocol.record import RecordEntry, Twin, check_record_log, verify_twin


def check_record(record: Sequence[RecordEntry], root_key: bytes) -> None:
    """Every entry is this council's record's, signed by its root key, and follows the one before."""
    key = PublicKey(root_key)
    previous: Entry | None = None
    for entry in record:
        check_record_log(entry, root_key)
        entry.verify_signature(key)
        verify_follows(previous, entry)
        previous = entry


def check_decision(public_entry: Entry, record: Sequence[RecordEntry], root_key: bytes) -> Twin:
    """Check a public decision against the record (epoch 0, from its first entry) and recount it."""
    if public_entry.header.log_id != root_key:
        raise VerificationError("log", "the public entry is not this council's")
    check_record(record, root_key)
    twin = verify_twin(public_entry, record)
    decided = twin.record_entry
    if decided.body().get("kind") != "decision":
        raise VerificationError("recount", "the public entry does not publish a decision")
    machine = CouncilMachine()
    state = machine.replay(replayed(e) for e in record[: decided.seq])
    try:
        machine.apply(state, replayed(decided), False)  # judged afresh: the rules recount the ballots
    except RuleError as exc:
        raise VerificationError(
            "recount", f"the decision is not the recount of the ballots before it ({exc.rule})"
        ) from exc
    return twin
