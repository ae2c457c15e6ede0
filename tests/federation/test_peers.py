"""The peer table: trust, URLs, exponential backoff reset by success, penalties with their reason."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from federation.db import connect, migrate
from federation.peers import MIGRATIONS, Peer, PeerError, PeerTable
from federation.settings import FederationSettings
from protocol.keys import SigningKey

A = SigningKey.from_seed(bytes(range(32))).public.raw
B = SigningKey.from_seed(bytes(range(1, 33))).public.raw
T0 = 1_700_000_000_000
BACKOFF_MAX_MS = round(FederationSettings().peer_backoff_max_s * 1000)


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    conn = connect(tmp_path / "node.db")
    assert migrate(conn, MIGRATIONS) == ["0201-peers", "0202-peer-suspension"]
    return conn


@pytest.fixture
def peers(conn: sqlite3.Connection) -> PeerTable:
    return PeerTable(conn)


def test_add_get_trust(peers: PeerTable) -> None:
    peer = peers.add(A, "https://toronto.example:8443/", T0)
    assert peer == Peer(A, "https://toronto.example:8443", T0, None, None, 0, 0, 0, None, None)
    assert peers.get(A) == peer and peers.get(B) is None
    assert peers.trusted(A) and not peers.trusted(B)
    assert peers.keys()[A].raw == A
    peers.add(B, "http://127.0.0.1:8080", T0 + 1)
    assert [p.node_id for p in peers.all()] == sorted([A, B])


def test_readding_updates_the_url_only(peers: PeerTable) -> None:
    peers.add(A, "https://old.example", T0)
    peers.record_failure(A, T0, "refused")
    peer = peers.add(A, "https://new.example", T0 + 5)
    assert peer.url == "https://new.example" and peer.added_ms == T0 and peer.failures == 1


def test_remove(peers: PeerTable) -> None:
    peers.add(A, "https://a.example", T0)
    assert peers.remove(A) and not peers.remove(A)
    assert not peers.trusted(A) and peers.keys() == {}


@pytest.mark.parametrize(
    ("url", "check"),
    [
        ("ftp://a.example", "a peer URL is http or https, not 'ftp'"),
        ("a.example", "a peer URL is http or https, not ''"),
        ("https://", "a peer URL names a host"),
        ("https://user:pw@a.example", "a peer URL carries no credentials"),
        ("https://a.example/?x=1", "a peer URL carries no query, fragment or spaces"),
        ("https://a.example/#f", "a peer URL carries no query, fragment or spaces"),
        ("https://a.example:99999", "not a URL: 'https://a.example:99999'"),
        ("https://a example", "a peer URL carries no query, fragment or spaces"),
        ("", "a peer URL is non-empty text"),
        ("javascript:alert(1)", "a peer URL is http or https, not 'javascript'"),
    ],
)
def test_bad_urls_refused(peers: PeerTable, url: str, check: str) -> None:
    with pytest.raises(PeerError) as refused:
        peers.add(A, url, T0)
    assert str(refused.value) == check
    assert peers.all() == []


@pytest.mark.parametrize("node_id", [b"", bytes(31), bytes(32)], ids=["empty", "short", "small-order"])
def test_bad_keys_refused(peers: PeerTable, node_id: bytes) -> None:
    with pytest.raises(PeerError, match=r"^not a node key: "):
        peers.add(node_id, "https://a.example", T0)
    assert peers.all() == []


def test_backoff_doubles_to_ten_minutes_and_success_resets(peers: PeerTable) -> None:
    peers.add(A, "https://a.example", T0)
    peers.add(B, "https://b.example", T0)
    waits = []
    for n in range(15):
        now = T0 + n
        peers.record_failure(A, now, f"timeout {n}")
        peer = peers.get(A)
        assert peer is not None
        waits.append(peer.backoff_until_ms - now)
    assert waits[:4] == [1_000, 2_000, 4_000, 8_000]
    assert max(waits) == BACKOFF_MAX_MS and waits[-1] == BACKOFF_MAX_MS
    peer = peers.get(A)
    assert peer is not None and peer.failures == 15 and peer.last_error == "timeout 14"
    assert [p.node_id for p in peers.available(T0 + 20)] == [B]
    assert {p.node_id for p in peers.available(T0 + 14 + BACKOFF_MAX_MS)} == {A, B}
    peers.record_success(A, T0 + 30)
    peer = peers.get(A)
    assert peer is not None
    assert (peer.failures, peer.backoff_until_ms, peer.last_error) == (0, 0, None)
    assert peer.last_contact_ms == T0 + 30
    assert peer.available(T0 + 30)
    peers.record_failure(A, T0 + 40, "again")
    peer = peers.get(A)
    assert peer is not None and peer.backoff_until_ms == T0 + 40 + 1_000


def test_penalties_keep_their_reason(peers: PeerTable) -> None:
    peers.add(A, "https://a.example", T0)
    peers.penalise(A, "entry-signature: seq 4", T0 + 1)
    peers.penalise(A, "rollback: checkpoint of size 3, we hold 9", T0 + 2)
    peer = peers.get(A)
    assert peer is not None
    assert peer.penalties == 2 and peer.last_penalty == "rollback: checkpoint of size 3, we hold 9"
    assert peer.failures == 0 and peer.available(T0 + 2)


def test_long_texts_are_cut(peers: PeerTable) -> None:
    peers.add(A, "https://a.example", T0)
    peers.record_failure(A, T0, "x" * 10_000)
    peers.penalise(A, "y" * 10_000, T0)
    peer = peers.get(A)
    assert peer is not None and len(peer.last_error or "") == 500 and len(peer.last_penalty or "") == 500


def test_unknown_peer_updates_are_noops(peers: PeerTable) -> None:
    peers.record_failure(A, T0, "x")
    peers.record_success(A, T0)
    peers.penalise(A, "x", T0)
    assert peers.all() == []


@pytest.mark.parametrize("attack", ["peer_sends_bad_data_forever"], ids=lambda a: a)
def test_penalties_past_the_threshold_suspend_a_peer(conn: sqlite3.Connection, attack: str) -> None:
    peers = PeerTable(conn, FederationSettings(peer_suspend_penalties=3, peer_suspend_s=60.0))
    peers.add(A, "https://a.example", T0)
    peers.add(B, "https://b.example", T0)
    for n in range(2):
        peers.penalise(A, f"bad page {n}", T0)
    assert [p.node_id for p in peers.available(T0)] == sorted([A, B]), "two penalties: still polled"
    peers.penalise(A, "bad page 2", T0 + 5)
    peer = peers.get(A)
    assert peer is not None and peer.suspended(T0 + 5) and peer.suspended_until_ms == T0 + 5 + 60_000
    assert peer.penalties == 0 and peer.last_penalty == "bad page 2", "counted anew, the reason kept"
    assert [p.node_id for p in peers.available(T0 + 60_000)] == [B], "a suspended peer is not polled"
    assert sorted(p.node_id for p in peers.available(T0 + 5 + 60_000)) == sorted([A, B]), "until it ends"
    assert peers.trusted(A), "suspended, not removed"
