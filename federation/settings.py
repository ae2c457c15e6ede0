"""Every limit and interval of ``federation``, in one typed table with its default and why (STYLE.md 9).

``node.settings.Settings`` extends this table with the node's own, so a node's ``node.json`` overrides
these too and the README's settings table documents them. Federation objects take the table whole
(``settings=``); the defaults below are what they use without one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protocol.entry import BODY_LIMITS, HEADER_LIMITS
from protocol.note import MAX_NOTE_SIZE

# The smallest page budget that holds any one entry with the largest checkpoint note beside it: a peer
# serving less could never send that entry, and replication of its log would stop there.
MIN_PAGE_BYTES = BODY_LIMITS.max_size + HEADER_LIMITS.max_size + MAX_NOTE_SIZE + (64 << 10)


def setting(default: float, doc: str, *, zero: bool = False) -> Any:
    """A field of a settings table: its default and what it is for (shown in the README's table). Every
    setting is a positive number; ``zero`` lets an operator also set 0 (the doc says what 0 means)."""
    return field(default=default, metadata={"doc": doc, "zero": zero})


@dataclass(frozen=True)
class FederationSettings:
    max_request_bytes: int = setting(1 << 20, "largest request body accepted, checked before it is read")
    max_response_bytes: int = setting(
        8 << 20,
        "largest answer taken from a peer, refused unread beyond; pages served to peers are built to at "
        "most half of it",
    )
    request_timeout_s: float = setting(30.0, "outbound calls give up after this long")
    signature_window_s: int = setting(120, "signed requests must be created within this many seconds of now")
    nonce_capacity: int = setting(
        100_000, "nonces remembered per window, all keys together; when full, new requests are refused"
    )
    nonce_per_key: int = setting(
        20_000,
        "nonces remembered per window for one key; when full, that key alone gets 429 until they expire",
    )
    gossip_interval_s: float = setting(10.0, "mean seconds between gossip rounds with a random peer (± 50 %)")
    gossip_jitter: float = setting(
        0.5, "gossip rounds are spread by this fraction of the interval, either way"
    )
    gossip_fanout: int = setting(3, "peers told at once of each new entry of our own log")
    gossip_deadline_s: float = setting(
        120.0, "an exchange with one peer (a round, or a pull of one log) is abandoned after this long"
    )
    gossip_pending_max: int = setting(1000, "pulls queued from peers' pushed heads; beyond, rounds find them")
    gossip_workers: int = setting(4, "pulls run at once (each from one peer, of one log)")
    gossip_quota_rate: float = setting(50.0, "gossip requests per second a peer may send, on average")
    gossip_quota_burst: float = setting(200.0, "gossip requests a peer may send at once")
    refused_hold_s: float = setting(
        1.0,
        "a gossip request over its quota or not validly signed is answered after this long, its connection "
        "unread meanwhile and closed after: a flood gets one answer per connection per hold (0: at once)",
        zero=True,
    )
    page_entries_max: int = setting(4000, "most entries in one page served to, or asked of, a peer")
    verify_workers: int = setting(2, "processes checking the signatures of pulled entries")
    decode_workers: int = setting(
        1,
        "processes decoding and checking the large pages pulled from peers, beside the node's own (0: in the "
        "node's process)",
        zero=True,
    )
    peer_backoff_first_s: float = setting(1.0, "a failing peer is skipped this long after its first failure")
    peer_backoff_max_s: float = setting(600.0, "the skip doubles with each failure in a row, up to this long")
    entry_skew_s: float = setting(
        900.0,
        "entries stamped further ahead of this node's clock are refused on ingest, the peer penalised",
    )
    peer_suspend_penalties: int = setting(
        20, "penalties for bad data, counted since the last suspension, that suspend a peer: it is not polled"
    )
    peer_suspend_s: float = setting(3600.0, "how long a suspension lasts (shown by shora peers)")

    def __post_init__(self) -> None:
        if self.page_bytes_max < MIN_PAGE_BYTES:
            raise ValueError(f"max_response_bytes is at least {2 * MIN_PAGE_BYTES}: a page holds any entry")

    @property
    def page_bytes_max(self) -> int:
        """The encoded size a page served to a peer stays within: half of what we take ourselves, so a peer
        whose ``max_response_bytes`` is up to half ours still takes every page we serve."""
        return self.max_response_bytes // 2


DEFAULTS = FederationSettings()  # what a federation object uses when it is given no settings
