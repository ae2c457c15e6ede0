"""Crash safety (DESIGN.md §4): SIGKILL the node at random moments under a stream of commands.

A moment is a count, never a clock: each life is killed once the node has acknowledged a random number of
joins and of log entries since it started (and, every fifth life, once its signing child runs), so every
life tests something however fast or loaded the machine is. Requests are still in flight at the kill.

After every kill, with the process dead, the SQLite file alone must show: every acknowledged command is
present, the log verifies from genesis (signatures by the root key, ``prev`` links, body hashes), nothing
committed before was lost or changed, the stored checkpoint is signed over the root recomputed from the
stored leaves (and the stored tree nodes agree), ``PRAGMA integrity_check`` is ok, the member directory
and the log were committed together, and the governance state replays from the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp

from federation import db as dbmod
from federation.client import RemoteError, SignedClient, TransportError
from node import config as cfg
from node.bootstrap import init_node
from node.rules.council import Council, FoundCouncil, apply
from node.storage import directory, logs
from protocol import codec, merkle
from protocol.entry import Entry, verify_follows
from protocol.keys import PublicKey
from protocol.note import log_origin, open_checkpoint
from protocol.record import Publication, RecordEntry
from tests.children import children_of, wait_gone
from tests.node.served import start_served

SEED = 20_090_611
KILLS = 55
JOINERS = 4
ACKS_PER_LIFE = (1, 6)  # joins, and log entries, acknowledged in one life before its kill
CHILD_EVERY = 5  # every fifth life is killed only once the signing child runs ...
CHILD_GIVE_UP = 300  # ... unless that many more commands were acknowledged without one (the test then fails)
# Only bounds a hang (a request never answered, a helper that never exits): a passing run never waits for
# it, and a loaded machine answers well within it. The node's own handler timeout is 60 s.
HANG_S = 120.0


@dataclass
class Acked:
    """What the node answered 200 to: each of these must survive every later crash."""

    joins: dict[bytes, str] = field(default_factory=dict)  # member id -> name in the directory
    entries: dict[bytes, str] = field(default_factory=dict)  # entry id -> its kind
    attended: dict[bytes, set[bytes]] = field(default_factory=dict)  # assembly -> members on its roll
    closed: set[bytes] = field(default_factory=set)  # assemblies
    offered: set[bytes] = field(default_factory=set)  # members ever sent to an assembly's roll
    unexpected: list[str] = field(default_factory=list)  # answers that are never right (5xx, 4xx but 422)
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # set at every acknowledgement

    @property
    def count(self) -> int:
        return len(self.joins) + len(self.entries) + sum(map(len, self.attended.values())) + len(self.closed)

    def join(self, member: bytes, name: str) -> None:
        self.joins[member] = name
        self.changed.set()

    def entry(self, entry_id: str, kind: str) -> None:
        self.entries[codec.unb64u(entry_id, 32)] = kind
        self.changed.set()

    def attend(self, assembly: str, members: list[bytes]) -> None:
        self.attended.setdefault(codec.unb64u(assembly, 32), set()).update(members)
        self.changed.set()

    def close(self, assembly: str) -> None:
        self.closed.add(codec.unb64u(assembly, 32))
        self.changed.set()

    async def until(self, done: Any, work: list[asyncio.Task[None]]) -> None:
        """Wait, acknowledgement by acknowledgement, until ``done()``; fail if the work stops first."""
        while not done():
            self.changed.clear()
            waiter = asyncio.ensure_future(self.changed.wait())
            finished, _ = await asyncio.wait([waiter, *work], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            assert waiter in finished or done(), "the node stopped answering before its kill"


async def _call(op: SignedClient, acked: Acked, method: str, path: str, value: Any = None) -> Any:
    """The answer, or ``None`` if a rule refused the command; a dead node ends the caller's loop."""
    try:
        return await op.call(method, path, value)
    except RemoteError as exc:
        if exc.status != 422:
            acked.unexpected.append(f"{method} {path}: {exc}")
        return None


async def joiner(op: SignedClient, acked: Acked, tag: str) -> None:
    for i in range(1_000_000):
        name = f"crash {tag}.{i}"
        answer = await _call(op, acked, "POST", "/v1/admin/members", {"name": name, "contact": "-"})
        if answer is not None:
            acked.join(codec.unb64u(answer["member_id"], 16), name)


async def governor(op: SignedClient, acked: Acked, rng: random.Random) -> None:
    """Assemblies, attendance, motions, votes and decisions, in flight together with the joins."""
    while True:
        listing = await _call(op, acked, "GET", "/v1/admin/assemblies")
        current = next((a for a in listing["assemblies"] if a["open"]), None)
        if current is None:
            opened = await _call(op, acked, "POST", "/v1/admin/assemblies", {"agenda": "crash drill"})
            if opened is None:
                continue
            assembly = opened["assembly_id"]
            acked.entry(assembly, "assembly/open")
        else:
            assembly = current["assembly_id"]
            for motion in current["motions"]:  # left open by the kill before last
                if motion["status"] == "open":
                    await _call(op, acked, "POST", f"/v1/admin/motions/{motion['motion_id']}/close")
        # members who never attended: a command in flight at the last kill may have seated earlier ones
        fresh = [m for m in acked.joins if m not in acked.offered]
        present = rng.sample(fresh, min(len(fresh), rng.randint(2, 6)))
        acked.offered.update(present)
        if present:
            ids = [codec.b64u(m) for m in present]
            if await _call(op, acked, "POST", f"/v1/admin/assemblies/{assembly}/attend", {"members": ids}):
                acked.attend(assembly, present)
        text = f"crash motion {rng.getrandbits(32)}"
        proposed = await _call(op, acked, "POST", "/v1/admin/motions", {"assembly": assembly, "text": text})
        if proposed is not None:
            motion = proposed["motion_id"]
            acked.entry(motion, "motion/propose")
            votes = [
                _call(
                    op,
                    acked,
                    "POST",
                    f"/v1/admin/motions/{motion}/votes",
                    {"member": codec.b64u(m), "choice": rng.choice(("yes", "no", "abstain"))},
                )
                for m in present
            ]
            for cast in await asyncio.gather(*votes):
                if cast is not None:
                    acked.entry(cast["entry_id"], "motion/vote")
            closed = await _call(op, acked, "POST", f"/v1/admin/motions/{motion}/close")
            if closed is not None:
                acked.entry(closed["decision_id"], "decision")
        if rng.random() < 0.4:
            done = await _call(op, acked, "POST", f"/v1/admin/assemblies/{assembly}/close", {})
            if done is not None:
                acked.close(assembly)


async def until_killed(work: Any) -> None:
    with contextlib.suppress(TransportError):
        await work


@dataclass
class Verified:
    """What earlier checks established, so that each check also proves nothing committed was lost or
    changed, and verifies only what is new: the stored bytes of both logs as far as they were verified,
    and what was computed from them (the record's tree, the publication, the replayed state)."""

    record: list[tuple[bytes, bytes, bytes | None]] = field(default_factory=list)  # stored rows, by seq
    public: list[tuple[bytes, bytes, bytes | None]] = field(default_factory=list)
    last: Entry | None = None  # the newest record entry verified, which the next must follow
    tree: merkle.MemoryTree = field(default_factory=merkle.MemoryTree)  # over the record's ids
    publication: Publication = field(default_factory=Publication)
    pending: list[RecordEntry] = field(default_factory=list)  # record entries not yet twinned
    kinds: dict[bytes, str] = field(default_factory=dict)  # record entry id -> its kind
    joined: set[bytes] = field(default_factory=set)
    published: int = 0  # public record entries: each must have its twin in the public log
    state: Council = field(default_factory=Council)  # the record replayed, as the node does on start

    @staticmethod
    def prefix(
        held: list[tuple[bytes, bytes, bytes | None]], old: list[tuple[bytes, bytes, bytes | None]]
    ) -> None:
        """The stored log still begins with exactly the rows verified before (byte for byte)."""
        assert len(held) >= len(old), "committed entries were lost"
        if held[: len(old)] != old:
            changed = next(i for i, (a, b) in enumerate(zip(held, old, strict=False)) if a != b)
            raise AssertionError(f"entry {changed} changed after a crash")


def check_database(path: Path, node_id: bytes, acked: Acked, verified: Verified, *, readonly: bool) -> int:
    conn = dbmod.connect(path, readonly=readonly)
    try:
        return _check(conn, node_id, acked, verified)
    finally:
        conn.close()


def _check(conn: sqlite3.Connection, node_id: bytes, acked: Acked, verified: Verified) -> int:
    """The whole database's invariants, verifying only the entries added since the last check: the ones
    before are compared byte for byte with what was verified then."""
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    store = logs.record_store(conn)
    record_id = logs.record_id(node_id)
    key = PublicKey(node_id)

    # the record verifies from genesis: what was verified before is byte-identical, the rest is checked now
    rows = store.rows(record_id, -1, 10_000_000, council_bodies=True)
    Verified.prefix(rows, verified.record)
    new = [RecordEntry(*row) for row in rows[len(verified.record) :]]
    for index, entry in enumerate(new, start=len(verified.record)):
        assert entry.seq == index
        entry.verify_signature(key)
        verify_follows(verified.last, entry)
        entry.check_body()
        verified.last = entry
        verified.tree.append(entry.id)
        body = entry.body()
        verified.kinds[entry.id] = body["kind"]
        if body["kind"] == "member/join":
            verified.joined.add(body["member"])
        verified.published += entry.header.vis == "public"
        apply(verified.state, logs.replayed(entry))
    verified.record = rows
    verified.pending.extend(new)

    # the checkpoint is signed over the root of exactly the stored leaves
    head = store.head(record_id)
    assert head is not None and head.checkpoint is not None and head.frozen is None
    root = verified.tree.root()
    signed = open_checkpoint(head.checkpoint, key, log_origin(record_id))
    assert (head.size, head.root) == (len(rows), root)
    assert (signed.checkpoint.size, signed.checkpoint.root) == (len(rows), root)
    assert store.root(record_id, head.size) == root, "stored tree nodes disagree with the leaves"

    # the public log was committed with the record: exactly its publication, never behind nor ahead
    public_rows = store.rows(node_id, -1, 10_000_000)
    Verified.prefix(public_rows, verified.public)
    public = [Entry(*row) for row in public_rows[len(verified.public) :]]
    for index, twin in enumerate(public, start=len(verified.public)):
        assert twin.seq == index
        twin.verify_signature(key)
    twinned = verified.publication.size
    verified.publication.check(public, verified.pending)
    del verified.pending[: verified.publication.size - twinned]
    verified.public = public_rows
    assert len(public_rows) == verified.published, "the public log is behind the record"

    # every acknowledged command is in the log
    state = verified.state
    for entry_id, kind in acked.entries.items():
        assert verified.kinds.get(entry_id) == kind, f"acknowledged {kind} {codec.b64u(entry_id)} is missing"
    missing = set(acked.joins) - verified.joined
    assert not missing, f"{len(missing)} acknowledged joins are missing from the log"
    for assembly, members in acked.attended.items():
        assert members <= state.assemblies[assembly].attended, "acknowledged attendance is missing"
    for assembly in acked.closed:
        assert not state.assemblies[assembly].is_open, "an acknowledged close is missing"

    # the directory and the log are committed together: a row for every join, and no row without one
    people = directory.everyone(conn)
    assert set(people) == verified.joined == set(state.members)
    for member, name in acked.joins.items():
        assert people[member].name == name
    return len(rows)


async def test_sigkill_at_random_moments_loses_nothing_acknowledged(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    folder = tmp_path / "node"
    init_node(folder, FoundCouncil(name="Crash Council", continent="Asia"), listen="127.0.0.1:0")
    # batches of two or more commands go to the signing child (node/storage/signer.py): kills land while it
    # works. However slowly a loaded machine runs the child, the node waits for its signatures rather than
    # give up on it (and sign alone for a minute): every fifth life finds its child running.
    raw = json.loads((folder / "node.json").read_text())
    settings = {"signer_chunk": 2, "signer_reply_timeout_s": HANG_S}
    (folder / "node.json").write_text(json.dumps({**raw, "settings": settings}))
    config = cfg.load(folder)
    key = config.operator_signing_key()
    acked, verified = Acked(), Verified()
    started = time.monotonic()
    kills = size = 0
    with_helper: list[int] = []  # lives in which the node had its signing child when it was killed
    log_path = tmp_path / "serve.log"
    with open(log_path, "ab") as output:
        for cycle in range(KILLS):
            size = await _one_life(cycle, folder, config, key, acked, verified, rng, output, with_helper)
            kills += 1
    elapsed = time.monotonic() - started
    print(f"crash: {kills} kills, {acked.count} acknowledged commands, {size} entries, {elapsed:.1f} s")
    assert not acked.unexpected, acked.unexpected[:5]
    assert kills == KILLS
    # guaranteed by when the kills land (counts, not clocks): each life acknowledged joins and entries
    assert len(acked.joins) >= KILLS and len(acked.entries) >= KILLS
    assert {"assembly/open", "motion/propose", "motion/vote", "decision"} <= set(acked.entries.values())
    assert with_helper == list(range(0, KILLS, CHILD_EVERY)), "a kill did not find the signing child running"


def _signing_child(pid: int) -> bool:
    """Whether the node ``pid`` runs its signing child (node/storage/signer.py) now."""
    for child in children_of(pid):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            if b"node.storage.signer" in Path(f"/proc/{child}/cmdline").read_bytes():
                return True
    return False


async def _one_life(
    cycle: int,
    folder: Path,
    config: cfg.NodeConfig,
    key: Any,
    acked: Acked,
    verified: Verified,
    rng: random.Random,
    output: IO[bytes],
    with_helper: list[int],
) -> int:
    """Start the node, load it, kill it at a random moment, then check the database it left."""
    process, url = await start_served(folder, output)
    try:
        async with aiohttp.ClientSession() as session:
            op = SignedClient(session, url, key, config.node_id, timeout=HANG_S)
            work = [
                asyncio.create_task(until_killed(joiner(op, acked, f"{cycle}.{j}"))) for j in range(JOINERS)
            ]
            work.append(asyncio.create_task(until_killed(governor(op, acked, random.Random(rng.random())))))
            joins = len(acked.joins) + rng.randint(*ACKS_PER_LIFE)
            entries = len(acked.entries) + rng.randint(*ACKS_PER_LIFE)
            await acked.until(lambda: len(acked.joins) >= joins and len(acked.entries) >= entries, work)
            if cycle % CHILD_EVERY == 0:
                give_up = acked.count + CHILD_GIVE_UP
                while True:
                    await acked.until(lambda: _signing_child(process.pid) or acked.count >= give_up, work)
                    os.kill(process.pid, signal.SIGSTOP)  # frozen: it can neither start nor stop a child now
                    if _signing_child(process.pid):
                        with_helper.append(cycle)
                        break
                    if acked.count >= give_up:
                        break
                    os.kill(process.pid, signal.SIGCONT)  # the child ended between the two looks: wait on
            else:
                os.kill(process.pid, signal.SIGSTOP)
            helpers = children_of(process.pid)  # the frozen node's children are exactly these
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            # deadlines below only bound a hang: a passing run never waits for them
            alive = await asyncio.to_thread(wait_gone, helpers, HANG_S)
            assert not alive, f"helpers {alive} outlived the killed node"
            done, pending = await asyncio.wait(work, timeout=HANG_S)
            assert not pending, "a request to a killed node did not fail"
            for task in done:
                task.result()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    # mostly read-only, so the next start recovers the WAL itself; sometimes read-write, which checkpoints
    readonly = cycle % 5 != 4
    return check_database(config.database, config.node_id, acked, verified, readonly=readonly)
