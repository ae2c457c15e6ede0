"""Every limit and interval of a node, in one typed table with its default and why (STYLE.md 9).

``Settings`` extends ``federation.settings.FederationSettings`` (the limits of gossip, replication and the
signed requests both layers share) with the node's own. A node's ``node.json`` may override any of them
under ``"settings"``; unknown names are refused. The README's settings table is checked against
``documented()`` by a test, so the two cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from federation.settings import FederationSettings, setting


@dataclass(frozen=True)
class Settings(FederationSettings):
    handler_timeout_s: float = setting(60.0, "an inbound request still unanswered after this long gets 408")
    entries_page_max: int = setting(1000, "most entries returned by one GET …/entries")
    decisions_page_max: int = setting(500, "most decisions returned by one GET /v1/decisions")
    federation_page_max: int = setting(
        100, "most proposals returned by one GET /v1/federation/proposals of a federation body"
    )
    write_batch_max: int = setting(256, "most commands committed in one transaction (group commit)")
    signer_chunk: int = setting(
        32,
        "a large batch's entries are signed in a child process, on another core, this many at a time; "
        "above 256, never",
    )
    signer_reply_timeout_s: float = setting(
        10.0,
        "the signing child's signatures still missing after this long: the writer signs them itself and "
        "starts no child for a minute",
    )
    keepalive_timeout_s: float = setting(15.0, "idle keep-alive connections are closed after this long")
    gc_young_objects: int = setting(
        50_000,
        "objects allocated (less those freed) between two runs of Python's garbage collector over its "
        "youngest objects, in `shora serve` (Python's default, 700, collects every 150 entries pulled from a "
        "peer)",
    )
    max_connections: int = setting(1024, "open connections at once; beyond, new ones are closed unanswered")
    max_connections_per_ip: int = setting(
        256, "open connections at once from one address (counted in memory, never logged or stored)"
    )
    applications_rate: float = setting(1.0, "applications per second accepted from everyone together")
    applications_burst: float = setting(100.0, "applications accepted at once from everyone together")
    applications_per_ip_burst: float = setting(
        30.0, "applications accepted at once from one address (refilled at applications_rate)"
    )
    application_nonces: int = setting(
        1000, "nonces of applications remembered per window; kept apart from the operator's and peers'"
    )
    applications_pending_max: int = setting(
        1000, "pending applications stored at once; beyond, new applicants are refused until some are decided"
    )

    cosign_retry_s: float = setting(
        60.0, "peers that missed our newest checkpoint are asked to cosign it again after this long"
    )
    apply_retry_s: float = setting(
        60.0, "an application to our federation not yet answered by admission is sent again after this long"
    )
    roster_poll_s: float = setting(
        1.0, "how often the rosters of the federations we trust are looked at for new members"
    )
    proposal_grace_s: int = setting(
        86_400,
        "a federation's proposal published without --grace waits this long after its deadline for councils "
        "not heard from since; until then it closes only once every admitted council was heard",
    )
    bundle_cache_max: int = setting(512, "decision bundles kept in memory, the most recently served")
    invitation_ttl_s: float = setting(
        7 * 24 * 3600.0, "a member invitation (shora member invite) expires this long after it is issued"
    )
    invitations_pending_max: int = setting(
        1000, "unredeemed, unexpired member invitations held at once; beyond, new ones are refused"
    )
    application_max_bytes: int = setting(8192, "largest application to a federation body accepted")
    backup_interval_s: float = setting(
        3600.0,
        "seconds between two ticks of the sealed-backup schedule; every tick seals the same number of "
        "segments, padding included, whatever the council did",
    )
    backup_segments_per_tick: int = setting(
        1, "sealed segments (64 KiB each) made on every tick; what does not fit waits for the next ticks"
    )
    sealed_max_segments: int = setting(
        16_384, "most sealed segments this node holds for one council (64 KiB each: 1 GiB)"
    )
    sealed_page_max: int = setting(16, "most sealed segments in one answer to a council taking its copy back")
    console_streams_max: int = setting(
        16, "live streams of the assembly console (GET /v1/member/board/live) open at once; beyond, 429"
    )
    console_heartbeat_s: float = setting(
        15.0, "a console's live stream sends a comment line after this long without news, so proxies keep it"
    )
    doctor_timeout_s: float = setting(5.0, "`shora doctor` waits this long for the node and each peer")
    doctor_max_skew_s: int = setting(
        30, "`shora doctor` warns when a peer's clock is further off than this (requests allow 120 s)"
    )
    doctor_min_free_mib: int = setting(512, "`shora doctor` warns when the disk has less free space (MiB)")

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any]) -> Settings:
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        zero = {f.name for f in fields(cls) if f.metadata["zero"]}
        for name, value in overrides.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"setting {name} must be a positive number")
            if value == 0 and name not in zero:
                raise ValueError(f"setting {name} must be a positive number (0 is not allowed for it)")
        return replace(cls(), **overrides)


def documented() -> dict[str, tuple[Any, str]]:
    """Each setting's default and what it is for."""
    return {f.name: (f.default, f.metadata["doc"]) for f in fields(Settings)}
