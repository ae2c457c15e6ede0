"""Forks that used to go unproven (issue 11, item 3): each attack reproduced, the proof kept, verifiable
offline by ``protocol.fork`` alone, the log frozen on every honest node.

- a fork behind a delegated key (``log/key``): both entries by it, or one by the root key;
- a root-signed checkpoint contradicted by the checkpoint we hold at a larger size (v2, consistency);
- the witness: a second root for the size it cosigned, a checkpoint its replica's checkpoint contradicts;
  and never a cosignature of a checkpoint inconsistent with the replica it holds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from federation import store
from federation.db import migrate
from federation.replica import BadData, ForkFound, Frozen, Page, Replica
from federation.replica.forks import held_key_evidence
from federation.store import LogStore
from federation.witness import Witness, encode_add_checkpoint
from protocol import codec, merkle
from protocol.bundle import KEY_COUNT, KEY_KIND
from protocol.entry import Entry, sign_entry
from protocol.errors import VerificationError
from protocol.fork import EVIDENCE_VERSION, ForkProof, entries_fork, verify_fork_proof
from protocol.keys import PublicKey, SigningKey
from protocol.note import Checkpoint, log_origin, sign_checkpoint
from tests.federation.test_gossip import SIGNERS, Cluster, SqlReplica, run

ROOT = SigningKey.from_seed(bytes([41]) * 32)
DELEGATE = SigningKey.from_seed(bytes([42]) * 32)
SECOND = SigningKey.from_seed(bytes([43]) * 32)
WITNESS = SigningKey.from_seed(bytes([44]) * 32)
LOG = ROOT.public.raw
SIGNERS[LOG] = ROOT
T0 = 1_700_000_000_000


class Branch:
    """One branch of the rogue log: entries signed by the root key or a delegated one, as a node lays
    them out (a delegated key's public entry states how many ``log/key`` entries precede it)."""

    def __init__(self, entries: list[Entry] | None = None) -> None:
        self.entries = list(entries or [])

    def copy(self) -> Branch:
        return Branch(self.entries)

    def add(self, key: SigningKey, body: dict[str, Any]) -> Entry:
        if key is not ROOT:
            body = {**body, KEY_COUNT: sum(1 for e in self.entries if e.body().get("kind") == KEY_KIND)}
        prev = self.entries[-1].id if self.entries else None
        seq = len(self.entries)
        entry = sign_entry(key, log_id=LOG, seq=seq, prev=prev, ts_ms=T0 + seq, vis="public", body=body)
        self.entries.append(entry)
        return entry

    def note(self, text: str, key: SigningKey = DELEGATE) -> Entry:
        return self.add(key, {"kind": "note", "text": text})

    def key(self, action: str, key: SigningKey, **extra: Any) -> Entry:
        return self.add(ROOT, {"kind": KEY_KIND, "action": action, "key": key.public.raw, **extra})


def founded() -> Branch:
    """Entry 0 by the root key, entry 1 delegating ``DELEGATE``, entry 2 by it."""
    branch = Branch()
    branch.add(ROOT, {"kind": "council/found", "profile": {"name": "Two-faced"}})
    branch.key("add", DELEGATE)
    branch.note("before the fork")
    return branch


def checkpoint(size: int, root: bytes) -> str:
    return sign_checkpoint(ROOT, Checkpoint(log_origin(LOG), size, root))


def tree(entries: list[Entry]) -> merkle.MemoryTree:
    return merkle.MemoryTree([e.id for e in entries])


def open_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    migrate(conn, store.MIGRATIONS)
    return conn


def holding(path: Path, branch: Branch) -> Replica:
    """A replica holding ``branch`` with the checkpoint of its whole tree, as a pull leaves it."""
    replica = Replica(open_db(path), SECOND.public.raw, lambda log: log == LOG)
    LogStore(replica.store.conn).append(LOG, branch.entries, lambda size, root: checkpoint(size, root))
    return replica


def served(entries: list[Entry]) -> tuple[Entry, ...]:
    return tuple(entries)  # public entries travel with their bodies


def proven(caught: pytest.ExceptionInfo[ForkFound], replica: Replica) -> ForkProof:
    """The fork proof ``caught`` raised verifies on its own, is the one stored, and froze the log."""
    proof = verify_fork_proof(caught.value.proof)
    assert replica.forks() == [(LOG, caught.value.proof)]
    assert replica.frozen(LOG)
    with pytest.raises(Frozen) as frozen:
        replica.page(LOG, -1, 10, 0)
    assert frozen.value.proof == caught.value.proof
    return proof


# --- the replica: a fork behind a delegated key ---


def two_faces(path: Path, start: int) -> tuple[Branch, Branch, Replica, pytest.ExceptionInfo[ForkFound]]:
    """Two faces of the log at seq 3, by the delegated key; a replica holding the first is offered the
    second's entries from ``start`` (was: a penalty, no proof)."""
    ours, theirs = founded(), founded()
    ours.note("face one")
    theirs.note("face two")
    replica = holding(path, ours)
    with pytest.raises(ForkFound) as caught:
        replica.ingest(LOG, Page(served(theirs.entries[start:]), None, (), 4))
    return ours, theirs, replica, caught


@pytest.mark.parametrize("start", [2, 3])
def test_two_entries_by_a_delegated_key_are_proven(tmp_path: Path, start: int) -> None:
    ours, theirs, replica, caught = two_faces(tmp_path / "r.db", start)
    proof = proven(caught, replica)
    assert proof.version == EVIDENCE_VERSION and proof.kind == "entries" and proof.position == 3
    assert {proof.a, proof.b} == {ours.entries[3].without_body(), theirs.entries[3].without_body()}
    assert "delegated" in proof.describe()


def test_a_root_entry_against_a_delegated_one_counts_the_keys_further_on(tmp_path: Path) -> None:
    ours, theirs = founded(), founded()
    ours.note("face one, by the root key", ROOT)
    ours.note("face one goes on")  # by the delegated key: it states the key history's length
    theirs.note("face two")
    replica = holding(tmp_path / "r.db", ours)
    with pytest.raises(ForkFound) as caught:
        replica.ingest(LOG, Page(served(theirs.entries[3:4]), None, (), 5))
    proof = proven(caught, replica)
    assert proof.version == EVIDENCE_VERSION and proof.position == 3
    value = codec.decode(caught.value.proof)
    assert value["evidence"]["count"]["header"] == ours.entries[4].header_bytes


def test_a_revoked_key_proves_nothing(tmp_path: Path) -> None:
    ours = founded()
    ours.key("revoke", DELEGATE)
    ours.note("after the revocation", ROOT)
    theirs = Branch(ours.entries[:4])
    theirs.note("a thief's entry")  # the revoked key, stolen: no fork of the council's log
    replica = holding(tmp_path / "r.db", ours)
    with pytest.raises(BadData) as refused:
        replica.ingest(LOG, Page(served(theirs.entries[4:]), None, (), 5))
    assert refused.value.step == "unknown-key"
    assert replica.forks() == [] and not replica.frozen(LOG)


def test_a_key_revoked_from_a_position_before_proves_nothing(tmp_path: Path) -> None:
    ours = founded()
    ours.note("face one")
    ours.key("revoke", DELEGATE, **{"from": 3})  # found compromised at 3, revoked later
    theirs = Branch(ours.entries[:3])
    theirs.note("a thief's entry")
    replica = holding(tmp_path / "r.db", ours)
    with pytest.raises(BadData) as refused:
        replica.ingest(LOG, Page(served(theirs.entries[3:]), None, (), 5))
    assert refused.value.step == "unknown-key" and replica.forks() == []


# --- the replica: a checkpoint our checkpoint contradicts ---


@pytest.mark.parametrize("size", [0, 2, 3])
def test_a_smaller_checkpoint_with_another_root_is_proven(tmp_path: Path, size: int) -> None:
    ours = founded()
    ours.note("face one")
    replica = holding(tmp_path / "r.db", ours)
    other = checkpoint(size, merkle.leaf_hash(b"another tree"))
    # the attack: an older checkpoint of another tree (was: refused as a rollback, not kept)
    with pytest.raises(ForkFound) as caught:
        replica.ingest(LOG, Page((), other, (), 4))
    proof = proven(caught, replica)
    assert proof.kind == "checkpoints" and proof.version == EVIDENCE_VERSION and proof.position == size
    assert f"sizes {size} and 4" in proof.describe()


def test_a_smaller_checkpoint_of_our_tree_is_only_a_rollback(tmp_path: Path) -> None:
    ours = founded()
    replica = holding(tmp_path / "r.db", ours)
    with pytest.raises(BadData) as refused:
        replica.ingest(LOG, Page((), checkpoint(2, tree(ours.entries).root(2)), (), 3))
    assert refused.value.step == "rollback" and replica.forks() == []


# --- the proofs on their own: what a verifier refuses ---


@pytest.fixture
def delegated_proof(tmp_path: Path) -> bytes:
    return two_faces(tmp_path / "p.db", 3)[3].value.proof


def forged(proof: bytes, **evidence: Any) -> bytes:
    value = codec.decode(proof)
    value["evidence"] = {**value["evidence"], **evidence}
    return codec.encode(value)


def test_a_delegated_fork_needs_its_evidence(delegated_proof: bytes) -> None:
    value = codec.decode(delegated_proof)
    del value["evidence"]
    value["v"] = 1
    with pytest.raises(VerificationError, match="needs the v2 evidence"):
        verify_fork_proof(codec.encode(value))


@pytest.mark.parametrize(
    ("change", "check"),
    [
        pytest.param(lambda ev: {"keys": []}, "follows 1 log/key entries, not 0", id="history-left-out"),
        pytest.param(lambda ev: {"anchor": bytes(32)}, "anchors neither entry", id="anchor"),
        pytest.param(lambda ev: {"path": ev["path"][1:]}, "anchored entry is not in", id="path"),
        pytest.param(
            lambda ev: {"checkpoint": sign_checkpoint(DELEGATE, Checkpoint(log_origin(LOG), 4, bytes(32)))},
            "checkpoint",
            id="checkpoint-by-the-delegate",
        ),
        pytest.param(
            lambda ev: {"count": {**ev["count"], "proof": ev["count"]["proof"][1:]}},
            "counting entry is not in",
            id="count-path",
        ),
    ],
)
def test_tampered_evidence_is_refused(delegated_proof: bytes, change: Any, check: str) -> None:
    verify_fork_proof(delegated_proof)
    evidence = codec.decode(delegated_proof)["evidence"]
    with pytest.raises(VerificationError, match=check):
        verify_fork_proof(forged(delegated_proof, **change(evidence)))


def test_an_unrevoked_history_does_not_save_a_revoked_key(tmp_path: Path) -> None:
    """The count makes the history complete: a proof that leaves a revocation out fails; one that carries
    it shows the key was not valid at the contested seq."""
    ours = founded()
    ours.key("revoke", DELEGATE)
    ours.key("add", SECOND)
    ours.note("by the second key", SECOND)  # states 3 log/key entries
    replica = holding(tmp_path / "r.db", ours)
    thief = Branch(ours.entries[:4])
    thief.note("by the revoked key")
    counted = replica.store.entry(LOG, 5)
    assert counted is not None and counted.body()[KEY_COUNT] == 3
    evidence = held_key_evidence(replica.store, ROOT.public, ours.entries[4])
    assert evidence is not None
    proof = entries_fork(ours.entries[4], thief.entries[4], evidence)
    with pytest.raises(VerificationError, match="nor a key valid there"):
        verify_fork_proof(proof.encode())
    value = codec.decode(proof.encode())
    value["evidence"]["keys"] = [
        k for k in value["evidence"]["keys"] if k["header"] != ours.entries[3].header_bytes
    ]
    with pytest.raises(VerificationError, match="follows 3 log/key entries, not 2"):
        verify_fork_proof(codec.encode(value))


# --- every honest node: found by gossip, kept, spread ---


def cluster_frozen(cluster: Cluster) -> bytes:
    """Every node froze the rogue log with one proof that verifies; that proof."""
    assert all(n.replica.frozen(LOG) for n in cluster.nodes)
    proofs = {proof for n in cluster.nodes for log_id, proof in n.replica.forks() if log_id == LOG}
    assert len(proofs) == 1
    proof = proofs.pop()
    verify_fork_proof(proof)
    return proof


def test_a_delegated_fork_is_frozen_on_every_honest_node() -> None:
    async def main() -> None:
        async with Cluster(5, replica=SqlReplica) as cluster:
            ours, theirs = founded(), founded()
            ours.note("face one")
            theirs.note("face two")
            a, b = cluster.nodes[:2]
            a.replica.append(LOG, ours.entries)
            b.replica.append(LOG, theirs.entries)
            assert await a.gossip.run_round(b.id)
            await cluster.idle()
            proof = cluster_frozen(cluster)
            assert codec.decode(proof)["v"] == EVIDENCE_VERSION
            assert not a.penalties and not b.penalties

    run(main())


# --- the witness ---


@pytest.fixture
def witness_db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = open_db(tmp_path / "witness.db")
    yield conn
    conn.close()


def witness_of(conn: sqlite3.Connection) -> Witness:
    return Witness(conn, WITNESS, lambda log: ROOT.public if log == LOG else None)


def ask(witness: Witness, old: int, entries: list[Entry], proof_tree: merkle.MemoryTree | None = None) -> Any:
    size = len(entries)
    t = tree(entries)
    proof = merkle.consistency_proof(proof_tree or t, old, size) if old else []
    return witness.add_checkpoint(
        encode_add_checkpoint(old, proof, checkpoint(size, t.root(size))), 1_700_000_000
    )


def kept(conn: sqlite3.Connection, reply: Any) -> ForkProof:
    """The witness answered 409, kept a proof that verifies and froze the log; the proof."""
    assert reply.status == 409 and reply.fork is not None, reply.body
    proof = verify_fork_proof(reply.fork)
    assert LogStore(conn).forks() == [(LOG, reply.fork, proof.describe())]
    assert LogStore(conn).fork(LOG) is not None
    return proof


def test_witness_keeps_a_second_root_for_the_size_it_cosigned(witness_db: sqlite3.Connection) -> None:
    witness = witness_of(witness_db)
    ours, theirs = founded(), founded()
    ours.note("face one")
    theirs.note("face two")
    assert ask(witness, 0, ours.entries).status == 200
    # the attack: the same size, another root (was: 409 and nothing kept)
    proof = kept(witness_db, ask(witness, 4, theirs.entries, tree(theirs.entries)))
    assert proof.kind == "checkpoints" and proof.version == 1 and proof.position == 4
    # frozen: nothing more is cosigned for that log, either face
    ours.note("face one goes on")
    again = ask(witness, 4, ours.entries)
    assert again.status == 409 and b"frozen" in again.body


@pytest.mark.parametrize("held", [5, 4], ids=["below", "at"])
def test_witness_keeps_what_its_replica_contradicts(witness_db: sqlite3.Connection, held: int) -> None:
    ours, theirs = founded(), founded()
    ours.note("face one")
    ours.note("face one goes on")
    theirs.note("face two")
    LogStore(witness_db).append(LOG, ours.entries[:held], lambda n, root: checkpoint(n, root))
    witness = witness_of(witness_db)
    # the attack: the other face asks the witness, which never cosigned this log, to cosign its tree of
    # size 4, which the replica's checkpoint (of size 5, or 4) contradicts
    proof = kept(witness_db, ask(witness, 0, theirs.entries))
    assert proof.kind == "checkpoints" and proof.position == 4
    assert proof.version == (EVIDENCE_VERSION if held > 4 else 1)
    assert witness.state(LOG) == (0, merkle.EMPTY_ROOT)  # never cosigned


def test_witness_never_cosigns_past_its_replica_without_extending_it(witness_db: sqlite3.Connection) -> None:
    ours, theirs = founded(), founded()
    ours.note("face one")
    theirs.note("face two")
    theirs.note("face two goes on")
    LogStore(witness_db).append(LOG, ours.entries, lambda n, root: checkpoint(n, root))
    witness = witness_of(witness_db)
    # the witness's own size is the replica's verified checkpoint: a request from 0 is told 4
    stale = ask(witness, 0, theirs.entries)
    assert (stale.status, stale.body) == (409, b"4\n")
    # the other face cannot prove its size-5 tree extends ours: never cosigned
    forged = ask(witness, 4, theirs.entries, tree(theirs.entries))
    assert forged.status == 422 and forged.fork is None
    assert witness.state(LOG) == (0, merkle.EMPTY_ROOT)
    # the honest face extends it, and is cosigned
    ours.note("face one goes on")
    assert ask(witness, 4, ours.entries).status == 200
    assert witness.state(LOG) == (5, tree(ours.entries).root(5))


def test_witness_never_cosigns_what_its_replica_entries_contradict(witness_db: sqlite3.Connection) -> None:
    ours, theirs = founded(), founded()
    ours.note("face one")
    theirs.note("face two")
    store_ = LogStore(witness_db)
    store_.append(LOG, ours.entries[:3], lambda n, root: checkpoint(n, root))
    store_.append(LOG, ours.entries[3:], lambda n, root: None)  # entries past our checkpoint
    witness = witness_of(witness_db)
    reply = ask(witness, 3, theirs.entries, tree(theirs.entries))
    assert reply.status == 409 and b"contradicts the entries" in reply.body and reply.fork is None
    assert witness.state(LOG) == (0, merkle.EMPTY_ROOT)


def test_a_witness_proof_is_spread_to_every_honest_node() -> None:
    async def main() -> None:
        async with Cluster(5, replica=SqlReplica) as cluster:
            ours, theirs = founded(), founded()
            ours.note("face one")
            theirs.note("face two")
            watcher = cluster.nodes[0]
            watcher.replica.append(LOG, ours.entries)
            witness = witness_of(watcher.replica.store.conn)
            reply = ask(witness, 0, theirs.entries)
            assert reply.status == 409 and reply.fork is not None
            watcher.gossip.fork_proven(reply.fork)  # what the node's engine does with the reply
            await cluster.idle()
            assert cluster_frozen(cluster) == reply.fork

    run(main())


def test_a_proof_needs_no_state(tmp_path: Path) -> None:
    """A kept proof verifies with nothing but the log id: the key it names, the bytes it holds."""
    ours = founded()
    ours.note("face one")
    replica = holding(tmp_path / "r.db", ours)
    with pytest.raises(ForkFound) as caught:
        replica.ingest(LOG, Page((), checkpoint(2, bytes(32)), (), 4))
    assert verify_fork_proof(caught.value.proof).log_id == PublicKey(LOG).raw


def test_witness_state_from_before_the_notes_still_refuses_a_second_root(
    witness_db: sqlite3.Connection,
) -> None:
    """A row written before migration 0007 has no note: the second root is refused (409), not cosigned, and
    nothing can be kept until the next cosignature stores one."""
    witness = witness_of(witness_db)
    ours, theirs = founded(), founded()
    ours.note("face one")
    theirs.note("face two")
    assert ask(witness, 0, ours.entries).status == 200
    witness_db.execute("UPDATE witness_state SET note = NULL")
    reply = ask(witness, 4, theirs.entries, tree(theirs.entries))
    assert (reply.status, reply.fork) == (409, None) and b"was cosigned before" in reply.body
    assert LogStore(witness_db).forks() == [] and witness.state(LOG) == (4, tree(ours.entries).root(4))
