"""Witnessing (federation/witness.py): the add-checkpoint text, the witness's checks and its atomic
check-and-store, and the log side collecting cosignatures into its stored notes and bundles."""

from __future__ import annotations

import base64
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from federation import db
from federation.store import MIGRATIONS, LogStore
from federation.witness import (
    MAX_PROOF_LINES,
    MAX_REQUEST_SIZE,
    SIZE_CONTENT_TYPE,
    Collector,
    ReplyError,
    Witness,
    WitnessError,
    WitnessReply,
    encode_add_checkpoint,
    parse_add_checkpoint,
)
from protocol import merkle
from protocol.bundle import Bundle, ProvenEntry, verify_bundle
from protocol.entry import Entry, sign_entry
from protocol.errors import VerificationError
from protocol.keys import PublicKey, SigningKey
from protocol.note import (
    Checkpoint,
    NoteSignature,
    add_signatures,
    log_origin,
    open_checkpoint,
    parse_note,
    sign_checkpoint,
    verify_cosignatures,
    witness_name,
)

LOG_KEY = SigningKey.from_seed(bytes([1]) * 32)
W1 = SigningKey.from_seed(bytes([2]) * 32)
W2 = SigningKey.from_seed(bytes([3]) * 32)
STRANGER = SigningKey.from_seed(bytes([4]) * 32)
ORIGIN = log_origin(LOG_KEY.public.raw)
NOW = 1_700_000_000
TRUSTED = [(witness_name(W1.public), W1.public), (witness_name(W2.public), W2.public)]

# tlog-witness.md, "add-checkpoint": the example request body, byte for byte.
SPEC_REQUEST = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa "
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "— example.com/behind-the-sofa "
    "opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n"
).encode()


def open_db(path: Path) -> sqlite3.Connection:
    conn = db.connect(path)
    db.migrate(conn, MIGRATIONS)
    return conn


def trusted_log(log_id: bytes) -> PublicKey | None:
    return LOG_KEY.public if log_id == LOG_KEY.public.raw else None


# --- a log in memory, for the witness's side ---------------------------------------------------------

TREE = merkle.MemoryTree([merkle.leaf_hash(b"leaf %d" % i) for i in range(40)])


def note_of(size: int, key: SigningKey = LOG_KEY, origin: str = ORIGIN) -> str:
    return sign_checkpoint(key, Checkpoint(origin, size, TREE.root(size)))


def request(old: int, size: int, **kwargs: Any) -> bytes:
    return encode_add_checkpoint(old, merkle.consistency_proof(TREE, old, size), note_of(size, **kwargs))


@pytest.fixture
def witness(tmp_path: Path) -> Iterator[Witness]:
    conn = open_db(tmp_path / "witness.db")
    yield Witness(conn, W1, trusted_log)
    conn.close()


def cosigned(note: str, reply: WitnessReply, key: SigningKey = W1) -> int:
    """Verify the reply's cosignature over ``note``; return its timestamp."""
    assert reply.status == 200, reply.body
    signed = open_checkpoint(note + reply.body.decode(), LOG_KEY.public)
    [cosignature] = verify_cosignatures(signed, [(witness_name(key.public), key.public)], 1)
    return cosignature.timestamp


def accepted(witness: Witness, body: bytes, size: int, now: int = NOW) -> None:
    """The witness cosigns the request's checkpoint (the cosignature verifies, timestamped ``now``) and
    stores the size and root it now holds for the log."""
    note = parse_add_checkpoint(body).note
    assert cosigned(note, witness.add_checkpoint(body, now)) == now
    assert witness.state(LOG_KEY.public.raw) == (size, TREE.root(size))


# --- the wire text -----------------------------------------------------------------------------------


def test_spec_example_request_parses_and_re_encodes() -> None:
    parsed = parse_add_checkpoint(SPEC_REQUEST)
    assert parsed.old_size == 20852014
    assert len(parsed.proof) == 4 and all(len(h) == 32 for h in parsed.proof)
    assert parsed.checkpoint.origin == "example.com/behind-the-sofa"
    assert parsed.checkpoint.size == 20852163
    assert len(parse_note(parsed.note).signatures) == 2
    assert parsed.encode() == SPEC_REQUEST
    assert encode_add_checkpoint(parsed.old_size, parsed.proof, parsed.note) == SPEC_REQUEST


def test_spec_example_request_is_an_unknown_origin(witness: Witness) -> None:
    reply = witness.add_checkpoint(SPEC_REQUEST, NOW)
    assert reply.status == 404


def test_round_trip_with_proof() -> None:
    body = request(5, 13)
    parsed = parse_add_checkpoint(body)
    assert parsed.old_size == 5
    assert list(parsed.proof) == merkle.consistency_proof(TREE, 5, 13)
    assert parsed.note == note_of(13)
    assert body.startswith(b"old 5\n") and b"\n\n" + note_of(13).encode() in body


def _malformed() -> dict[str, bytes]:
    good = request(5, 13)
    head, _, note = good.partition(b"\n\n")
    lines = head.split(b"\n")
    hash_line = lines[1]
    many = b"old 5\n" + (hash_line + b"\n") * (MAX_PROOF_LINES + 1) + b"\n" + note
    return {
        "missing-blank-line": head + b"\n" + note,
        "no-old-line": b"\n".join(lines[1:]) + b"\n\n" + note,
        "old-leading-zero": good.replace(b"old 5\n", b"old 05\n"),
        "old-negative": good.replace(b"old 5\n", b"old -5\n"),
        "old-two-spaces": good.replace(b"old 5\n", b"old  5\n"),
        "old-uppercase": good.replace(b"old 5\n", b"OLD 5\n"),
        "old-non-ascii-digit": good.replace(b"old 5\n", "old ٥\n".encode()),
        "old-too-large": good.replace(b"old 5\n", b"old 9223372036854775808\n"),
        "old-larger-than-size": request(5, 13).replace(b"old 5\n", b"old 14\n"),
        "bad-base64": good.replace(hash_line, b"!" + hash_line[1:]),
        "urlsafe-base64": good.replace(hash_line, hash_line[:-2].replace(hash_line[:1], b"-") + b"A="),
        "non-canonical-base64": good.replace(hash_line, hash_line[:42] + b"B="),
        "short-hash": good.replace(hash_line, b"AAAA"),
        "too-many-proof-lines": many,
        "crlf": good.replace(b"\n", b"\r\n"),
        "no-final-newline": good[:-1],
        "not-utf8": good.replace(b"old 5", b"old 5\xff"),
        "not-a-checkpoint": b"old 0\n\nhello\n\n- nobody AAAA\n",
        "empty": b"",
        "too-large": b"old 0\n\n" + b"x" * MAX_REQUEST_SIZE,
    }


MALFORMED = _malformed()


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_body_is_400(name: str, witness: Witness) -> None:
    with pytest.raises(WitnessError) as info:
        parse_add_checkpoint(MALFORMED[name])
    assert info.value.status == 400
    reply = witness.add_checkpoint(MALFORMED[name], NOW)
    assert reply.status == 400
    assert witness.state(LOG_KEY.public.raw) == (0, merkle.EMPTY_ROOT)


def test_encode_refuses_what_a_witness_would_refuse() -> None:
    with pytest.raises(WitnessError, match="63"):
        encode_add_checkpoint(0, [bytes(32)] * 64, note_of(3))
    with pytest.raises(WitnessError, match="larger"):
        encode_add_checkpoint(4, [], note_of(3))
    with pytest.raises(WitnessError, match=r"^400: a consistency proof line is one 32-byte hash$") as info:
        encode_add_checkpoint(0, [bytes(31)], note_of(3))
    assert info.value.status == 400


# --- the witness -------------------------------------------------------------------------------------


def test_first_cosignature(witness: Witness) -> None:
    reply = witness.add_checkpoint(request(0, 3), NOW)
    assert reply.status == 200 and reply.content_type.startswith("text/plain")
    assert reply.body.decode().startswith(f"— {witness_name(W1.public)} ")
    assert reply.body.count(b"\n") == 1 and reply.body.endswith(b"\n")
    assert cosigned(note_of(3), reply) == NOW
    assert witness.state(LOG_KEY.public.raw) == (3, TREE.root(3))


def test_successive_checkpoints_with_consistency_proofs(witness: Witness) -> None:
    sizes = [1, 2, 3, 4, 7, 8, 16, 17, 31, 40]
    old = 0
    for n, size in enumerate(sizes):
        reply = witness.add_checkpoint(request(old, size), NOW + n)
        assert cosigned(note_of(size), reply) == NOW + n
        old = size
    assert witness.state(LOG_KEY.public.raw) == (40, TREE.root(40))


@pytest.mark.parametrize("stale", [0, 3, 8])
def test_stale_old_size_is_409_with_the_stored_size(witness: Witness, stale: int) -> None:
    witness.add_checkpoint(request(0, 3), NOW)
    witness.add_checkpoint(request(3, 7), NOW)
    reply = witness.add_checkpoint(request(stale, 9), NOW)
    assert (reply.status, reply.content_type, reply.body) == (409, SIZE_CONTENT_TYPE, b"7\n")
    assert witness.state(LOG_KEY.public.raw) == (7, TREE.root(7))


def _tampered(body: bytes, index: int) -> bytes:
    parsed = parse_add_checkpoint(body)
    proof = list(parsed.proof)
    proof[index] = bytes([proof[index][0] ^ 1]) + proof[index][1:]
    return encode_add_checkpoint(parsed.old_size, proof, parsed.note)


def test_bad_consistency_proof_is_422(witness: Witness) -> None:
    witness.add_checkpoint(request(0, 5), NOW)
    good = request(5, 13)
    parsed = parse_add_checkpoint(good)
    bad = [
        _tampered(good, 0),
        _tampered(good, len(parsed.proof) - 1),
        encode_add_checkpoint(5, parsed.proof[:-1], parsed.note),  # too short
        encode_add_checkpoint(5, [*parsed.proof, bytes(32)], parsed.note),  # too long
        encode_add_checkpoint(5, merkle.consistency_proof(TREE, 6, 13), parsed.note),  # from another size
    ]
    for body in bad:
        assert witness.add_checkpoint(body, NOW).status == 422
    assert witness.state(LOG_KEY.public.raw) == (5, TREE.root(5))
    accepted(witness, good, 13)


def test_a_proof_from_size_zero_must_be_empty(witness: Witness) -> None:
    body = encode_add_checkpoint(0, [TREE.root(3)], note_of(5))
    assert witness.add_checkpoint(body, NOW).status == 422


def test_forked_log_same_size_other_root_is_409(witness: Witness) -> None:
    witness.add_checkpoint(request(0, 5), NOW)
    fork = sign_checkpoint(LOG_KEY, Checkpoint(ORIGIN, 5, TREE.root(6)))
    reply = witness.add_checkpoint(encode_add_checkpoint(5, [], fork), NOW)
    assert reply.status == 409 and reply.content_type != SIZE_CONTENT_TYPE
    assert witness.state(LOG_KEY.public.raw) == (5, TREE.root(5))


def test_forked_log_longer_tree_without_our_prefix_is_422(witness: Witness) -> None:
    witness.add_checkpoint(request(0, 5), NOW)
    other = merkle.MemoryTree([merkle.leaf_hash(b"other %d" % i) for i in range(9)])
    fork = sign_checkpoint(LOG_KEY, Checkpoint(ORIGIN, 9, other.root()))
    body = encode_add_checkpoint(5, merkle.consistency_proof(other, 5, 9), fork)
    assert witness.add_checkpoint(body, NOW).status == 422


def test_unknown_log_is_404(witness: Witness) -> None:
    untrusted = log_origin(STRANGER.public.raw)
    for body in [
        request(0, 3, key=STRANGER, origin=untrusted),
        request(0, 3, origin="example.com/log"),
        request(0, 3, origin="shora/not-a-key"),
        request(0, 3, origin=ORIGIN + "A"),
    ]:
        assert witness.add_checkpoint(body, NOW).status == 404


def test_bad_log_signature_is_403(witness: Witness) -> None:
    forged = request(0, 3, key=STRANGER)  # our log's origin, another key's signature
    assert witness.add_checkpoint(forged, NOW).status == 403
    note = parse_note(note_of(3))
    sig = note.signatures[0]
    flipped = sig.line().replace(sig.line()[-6], "A" if sig.line()[-6] != "A" else "B")
    tampered = note.text + "\n" + flipped
    assert witness.add_checkpoint(encode_add_checkpoint(0, [], tampered), NOW).status == 403
    assert witness.state(LOG_KEY.public.raw) == (0, merkle.EMPTY_ROOT)


def test_replayed_checkpoint_is_cosigned_again(witness: Witness) -> None:
    accepted(witness, request(0, 7), 7)
    again = witness.add_checkpoint(request(7, 7), NOW + 60)
    assert cosigned(note_of(7), again) == NOW + 60
    # The same bytes as the first request are now stale: the witness holds 7.
    assert witness.add_checkpoint(request(0, 7), NOW).body == b"7\n"


def test_extra_signatures_by_unknown_keys_are_ignored(witness: Witness) -> None:
    other = parse_note(sign_checkpoint(STRANGER, Checkpoint(ORIGIN, 3, TREE.root(3)))).signatures[0]
    stray = NoteSignature("someone.example/w", other.key_id, other.signature)
    note = add_signatures(note_of(3), [stray])
    accepted(witness, encode_add_checkpoint(0, [], note), 3)


def _race(path: Path, bodies: list[bytes]) -> tuple[list[WitnessReply], tuple[int, bytes]]:
    """Send ``bodies`` at once, each on its own thread and connection to one witness database."""
    open_db(path).close()
    conns = [db.connect(path) for _ in bodies]
    witnesses = [Witness(conn, W1, trusted_log) for conn in conns]
    barrier = threading.Barrier(len(bodies))
    replies: dict[int, WitnessReply] = {}

    def run(i: int) -> None:
        barrier.wait()
        replies[i] = witnesses[i].add_checkpoint(bodies[i], NOW)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    state = witnesses[0].state(LOG_KEY.public.raw)
    for conn in conns:
        conn.close()
    return [replies[i] for i in range(len(bodies))], state


def test_racing_requests_for_one_old_size_only_one_wins(tmp_path: Path) -> None:
    for attempt in range(10):
        replies, state = _race(tmp_path / f"race{attempt}.db", [request(0, 5), request(0, 9)])
        assert sorted(r.status for r in replies) == [200, 409]
        winner = 5 if replies[0].status == 200 else 9
        loser = replies[1] if winner == 5 else replies[0]
        assert (loser.content_type, loser.body) == (SIZE_CONTENT_TYPE, f"{winner}\n".encode())
        assert state == (winner, TREE.root(winner))


# --- the log side ------------------------------------------------------------------------------------

PROFILE = {"name": "Tabriz city council", "city": "Tabriz", "country": "IR", "continent": "Asia"}


def checkpoint_signer(key: SigningKey) -> Any:
    return lambda size, root: sign_checkpoint(key, Checkpoint(ORIGIN, size, root))


class OwnLog:
    """Our node's own log in a real SQLite store."""

    def __init__(self, path: Path) -> None:
        self.conn = open_db(path)
        self.store = LogStore(self.conn)
        self.entries: list[Entry] = []

    def append(self, count: int) -> None:
        new = []
        for _ in range(count):
            seq = len(self.entries)
            body = (
                {"kind": "council/found", "profile": PROFILE} if seq == 0 else {"kind": "decision", "n": seq}
            )
            prev = self.entries[-1].id if self.entries else None
            entry = sign_entry(
                LOG_KEY,
                log_id=LOG_KEY.public.raw,
                seq=seq,
                prev=prev,
                ts_ms=1000 + seq,
                vis="public",
                body=body,
            )
            self.entries.append(entry)
            new.append(entry)
        self.store.append(LOG_KEY.public.raw, new, checkpoint_signer(LOG_KEY))

    @property
    def note(self) -> str:
        head = self.store.head(LOG_KEY.public.raw)
        assert head is not None and head.checkpoint is not None
        return head.checkpoint

    def history(self) -> list[tuple[int, str]]:
        rows = self.conn.execute("SELECT size, note FROM checkpoint_history ORDER BY size")
        return [(size, note) for size, note in rows]


@pytest.fixture
def own(tmp_path: Path) -> Iterator[OwnLog]:
    log = OwnLog(tmp_path / "log.db")
    log.append(3)
    yield log
    log.conn.close()


@pytest.fixture
def witnesses(tmp_path: Path) -> Iterator[list[Witness]]:
    conns = [open_db(tmp_path / f"w{i}.db") for i in range(2)]
    yield [Witness(conn, key, trusted_log) for conn, key in zip(conns, [W1, W2], strict=True)]
    for conn in conns:
        conn.close()


def collect(collector: Collector, witness: Witness, now: int = NOW) -> int:
    key = witness.key.public.raw
    body = collector.request_for(key)
    return collector.accept(key, witness.add_checkpoint(body, now), body)


def test_collector_merges_two_witnesses(own: OwnLog, witnesses: list[Witness]) -> None:
    collector = Collector(own.conn, LOG_KEY)
    assert [collect(collector, w) for w in witnesses] == [3, 3]
    signed = open_checkpoint(own.note, LOG_KEY.public)
    assert [c.name for c in verify_cosignatures(signed, TRUSTED, 2)] == [name for name, _ in TRUSTED]
    [(size, note)] = own.history()
    assert size == 3 and note == own.note
    # Successive checkpoints: each witness gets a consistency proof from the size it cosigned.
    own.append(5)
    first = collector.request_for(W1.public.raw)
    assert parse_add_checkpoint(first).old_size == 3 and parse_add_checkpoint(first).proof
    assert [collect(collector, w, NOW + 10) for w in witnesses] == [8, 8]
    verify_cosignatures(open_checkpoint(own.note, LOG_KEY.public), TRUSTED, 2)
    assert [s for s, _ in own.history()] == [3, 8]
    assert collector.witnessed_size(W2.public.raw) == 8


def test_collector_sends_only_the_log_signature(own: OwnLog, witnesses: list[Witness]) -> None:
    collector = Collector(own.conn, LOG_KEY)
    collect(collector, witnesses[0])
    body = collector.request_for(W2.public.raw)
    assert len(parse_note(parse_add_checkpoint(body).note).signatures) == 1
    assert len(parse_note(own.note).signatures) == 2


def test_bundle_on_the_cosigned_note_verifies(own: OwnLog, witnesses: list[Witness]) -> None:
    own.append(2)
    collector = Collector(own.conn, LOG_KEY)
    for w in witnesses:
        collect(collector, w)
    note = collector.newest_cosigned(LOG_KEY.public.raw, TRUSTED, 2)
    assert note is not None and note == own.note
    size = open_checkpoint(note, LOG_KEY.public).checkpoint.size

    def proven(seq: int) -> ProvenEntry:
        entry = own.store.entry(LOG_KEY.public.raw, seq)
        assert entry is not None
        return ProvenEntry(entry, tuple(own.store.inclusion_proof(LOG_KEY.public.raw, seq, size)))

    data = Bundle(proven(3), note, proven(0)).encode()
    verified = verify_bundle(data, LOG_KEY.public, TRUSTED, 2)
    assert verified.seq == 3 and len(verified.cosigners) == 2
    with pytest.raises(VerificationError, match="cosignatures"):
        verify_bundle(data, LOG_KEY.public, TRUSTED, 3)


def test_collector_follows_a_409(own: OwnLog, witnesses: list[Witness]) -> None:
    collector = Collector(own.conn, LOG_KEY)
    collect(collector, witnesses[0])
    own.conn.execute("DELETE FROM witnessed_by")  # our record of the witness is lost (a restore)
    own.append(4)
    assert collect(collector, witnesses[0]) == 3  # the witness says it holds 3
    assert collector.witnessed_size(W1.public.raw) == 3
    assert collect(collector, witnesses[0]) == 7
    verify_cosignatures(open_checkpoint(own.note, LOG_KEY.public), TRUSTED, 1)


def test_collector_refuses_a_forged_cosignature(own: OwnLog, witnesses: list[Witness]) -> None:
    collector = Collector(own.conn, LOG_KEY)
    body = collector.request_for(W1.public.raw)
    by_w2 = witnesses[1].add_checkpoint(body, NOW)
    no_line = "the witness's cosignature: cosignatures: 0 valid witness cosignatures, at least 1 required"
    # W2's line presented as W1's answer: no line by W1 verifies.
    with pytest.raises(ReplyError) as info:
        collector.accept(W1.public.raw, by_w2, body)
    assert info.value.message == no_line
    # W1's name and key id over a signature that is not W1's.
    real = witnesses[0].add_checkpoint(body, NOW).body.decode()
    name, encoded = real[2:-1].split(" ")
    line = base64.b64decode(encoded)  # key id, timestamp, signature: one bit of the signature flipped
    forged_line = base64.b64encode(line[:-1] + bytes([line[-1] ^ 1])).decode()
    forged = WitnessReply(200, f"— {name} {forged_line}\n".encode())
    with pytest.raises(ReplyError) as info:
        collector.accept(W1.public.raw, forged, body)
    assert info.value.message == (
        f"the witness's cosignature: cosignatures: {name}: not a valid note signature by this key"
    )
    not_a_line = "the witness's cosignature: a signature line starts with an em dash and a space"
    junk = {
        b"": no_line,
        b"not a signature\n": not_a_line,
        b"\n\nx\n": not_a_line,
        b"\xff": "the answer is not UTF-8",
    }
    for reply, check in junk.items():
        with pytest.raises(ReplyError) as info:
            collector.accept(W1.public.raw, WitnessReply(200, reply), body)
        assert info.value.message == check, reply
    assert len(parse_note(own.note).signatures) == 1
    assert collector.witnessed_size(W1.public.raw) == 0


def test_collector_raises_on_refusals(own: OwnLog) -> None:
    collector = Collector(own.conn, LOG_KEY)
    body = collector.request_for(W1.public.raw)
    with pytest.raises(WitnessError) as info:
        collector.accept(W1.public.raw, WitnessReply(422, b"consistency proof: no\n"), body)
    assert info.value.status == 422 and not isinstance(info.value, ReplyError)
    with pytest.raises(ReplyError, match=r"^409: a text/x\.tlog\.size answer is one decimal line$"):
        collector.accept(W1.public.raw, WitnessReply(409, b"3 \n", SIZE_CONTENT_TYPE), body)
    with pytest.raises(WitnessError) as conflict:  # a 409 without a size: a conflicting root
        collector.accept(W1.public.raw, WitnessReply(409, b"a different root\n"), body)
    assert conflict.value.status == 409


def test_newest_cosigned_picks_the_newest_with_enough_cosignatures(
    own: OwnLog, witnesses: list[Witness]
) -> None:
    collector = Collector(own.conn, LOG_KEY)
    log_id = LOG_KEY.public.raw
    assert collector.newest_cosigned(log_id, TRUSTED, 1) is None
    for w in witnesses:
        collect(collector, w)
    own.append(2)
    collect(collector, witnesses[0])
    by_size = dict(own.history())
    assert collector.newest_cosigned(log_id, TRUSTED, 2) == by_size[3]
    assert collector.newest_cosigned(log_id, TRUSTED, 1) == by_size[5]
    assert collector.newest_cosigned(log_id, TRUSTED, 0) == by_size[5]
    assert collector.newest_cosigned(log_id, TRUSTED, 3) is None
    assert collector.newest_cosigned(log_id, TRUSTED[1:], 1) == by_size[3]
