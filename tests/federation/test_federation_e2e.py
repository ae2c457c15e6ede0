"""A federation of real nodes, end to end: applications, admission, councils finding each other through the
signed roster, suspension, a continent over a country, proposals and their tally, the aggregate.

Every node is an aiohttp server on 127.0.0.1 port 0 with its own folder and SQLite file. Councils are started
with ``federation=(url, key)``: they apply by themselves (``POST /v1/federation/apply``) and learn their
peers from the roster; no test adds a peer by hand unless it says why. Every wait polls its condition
under a bounded deadline (``until``), never a fixed sleep. Attackers are ``Hostile`` peers
(``tests/federation/test_nodes.py``): correct request signatures, pages as the test writes them.

Cases already covered over real nodes elsewhere are not repeated here: the operator's routes, late answers
and answers from councils admitted after the deadline (``tests/node/test_federation_admin.py``); hostile
pages in general (``test_nodes.py``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from federation.aggregate import Aggregate
from federation.client import RemoteError, SignedClient
from federation.gossip import DIGEST, entries_path
from node.rules import fedbody
from node.storage.clock import now_ms
from node.storage.queries import answers_held
from protocol import codec
from protocol.bundle import verify_bundle
from protocol.entry import sign_entry
from protocol.errors import DecodeError
from protocol.keys import PublicKey, SigningKey
from tests.conftest import NodeFactory, RunningNode
from tests.federation.test_nodes import (
    Hostile,
    _flip_signature,
    b64,
    decide,
    heads,
    hostile,
    peers_of,
    sync,
    until,
)
from tests.node.test_cli import SHORA, shora

FAST = {"gossip_interval_s": 0.3, "request_timeout_s": 2.0}
MSGPACK = "application/msgpack"
APPLY = "/v1/federation/apply"
__all__ = ["hostile"]  # the fixture, imported for the tests below


# --- helpers ------------------------------------------------------------------------------------------------


async def federation_node(start_node: NodeFactory, name: str, **profile: Any) -> RunningNode:
    return await start_node(name, kind="federation", settings=FAST, **profile)


async def council_of(start_node: NodeFactory, fed: RunningNode, city: str, **profile: Any) -> RunningNode:
    """A council started with ``federation=(fed.url, fed's key)``: it applies to ``fed`` by itself."""
    return await start_node(
        f"{city} Council", city=city, settings=FAST, federation=(fed.url, fed.config.node_id), **profile
    )


async def own_size(node: RunningNode) -> int:
    return (await heads(node))[b64(node)][0]


async def held(node: RunningNode, origin: RunningNode) -> int:
    """How many entries of ``origin``'s log ``node`` holds."""
    return (await heads(node)).get(b64(origin), (0, "", None, None))[0]


async def admit_when_applied(
    fed: RunningNode, members: list[RunningNode], others: tuple[RunningNode, ...] = ()
) -> None:
    """Wait for the applications of the members (and ``others``) to reach ``fed`` by themselves, then admit
    each member as its operator would."""
    wanted = {b64(m) for m in (*members, *others)}

    async def applied() -> bool:
        waiting = (await fed.operator.call("GET", "/v1/admin/applications"))["applications"]
        return wanted <= {a["key"] for a in waiting}

    await until(applied, "the applications arrive by themselves")
    for member in members:
        admitted = await fed.operator.call(
            "POST", "/v1/admin/roster/admit", {"member": b64(member), "reason": "endorses the six principles"}
        )
        assert admitted["member"] == b64(member) and admitted["peer"] == member.url


async def rounds(*nodes: RunningNode) -> list[dict[str, Any]]:
    """One gossip round of each node with each of its peers, now; the per-peer lines."""
    return [line for node in nodes for line in await sync(node) if "peer" in line]


async def summary(fed: RunningNode) -> dict[str, Any]:
    async with fed.session.get(fed.url + "/v1/federation/summary") as response:
        assert response.status == 200
        value: dict[str, Any] = await response.json()
    return value


def councils_in(value: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        c["log_id"]: c
        for countries in value["continents"].values()
        for councils in countries.values()
        for c in councils
    }


async def signed(
    node: RunningNode, key: SigningKey, method: str, path: str, body: bytes = b""
) -> tuple[int, str]:
    """A request signed by ``key`` for ``node``: (status, error code or "")."""
    client = SignedClient(node.session, node.url, key, node.config.node_id)
    reply = await client.request(method, path, body, content_type=MSGPACK, accept=MSGPACK, check=False)
    if reply.status < 400:
        return reply.status, ""
    try:
        error = codec.decode(reply.body)["error"]
    except DecodeError:  # a JSON error body, from the node's own routes
        error = json.loads(reply.body)["error"]
    return reply.status, str(error)


def aggregate_equals_rebuild(fed: RunningNode, tmp_path: Path) -> None:
    """On a consistent copy of ``fed``'s database: the figures folded as entries arrived equal a full
    rebuild from the entries table."""
    copy_path = tmp_path / f"aggregate-{b64(fed)[:8]}.sqlite"
    source = sqlite3.connect(fed.config.database)
    copy = sqlite3.connect(copy_path, isolation_level=None)
    try:
        source.backup(copy)
        aggregate = Aggregate(copy, fed.config.node_id)
        # the copy may fall between an ingest's commit and its fold's (two transactions on the writer
        # thread): fold what it left unfolded, as the node does at every start
        aggregate.update_all()
        folded = codec.encode(aggregate.summary())  # encoded: the dict returned is shared with the cache
        councils = [aggregate.council(log_id) for log_id in _council_ids(aggregate.summary())]
        decisions = aggregate.decisions(limit=1000)
        assert aggregate.rebuild() > 0
        assert codec.decode(codec.encode(aggregate.summary())) == codec.decode(folded)
        assert [aggregate.council(log_id) for log_id in _council_ids(aggregate.summary())] == councils
        assert aggregate.decisions(limit=1000) == decisions
    finally:
        copy.close()
        source.close()


def _council_ids(value: dict[str, Any]) -> list[bytes]:
    return [c["log_id"] for cs in value["continents"].values() for cc in cs.values() for c in cc]


# --- admission, peering through the roster, refusal of the unadmitted, suspension ---------------------------


async def test_councils_apply_are_admitted_find_each_other_and_a_suspended_one_stops_counting(
    start_node: NodeFactory, tmp_path: Path
) -> None:
    fed = await federation_node(start_node, "Federation of Councils of Canada", level="country")
    toronto, montreal, vancouver = [
        await council_of(start_node, fed, city) for city in ("Toronto", "Montreal", "Vancouver")
    ]
    halifax = await council_of(start_node, fed, "Halifax")  # applies, never admitted

    # the applications arrive by themselves, signed with each council's root key, with the URL it answers at
    await admit_when_applied(fed, [toronto, montreal, vancouver], others=(halifax,))
    waiting = (await fed.operator.call("GET", "/v1/admin/applications"))["applications"]
    assert [(a["key"], a["url"], a["status"]) for a in waiting] == [(b64(halifax), halifax.url, "pending")]

    # the councils learn each other from the signed roster: no operator adds a peer
    admitted = [toronto, montreal, vancouver]

    async def meshed() -> bool:
        for council in admitted:
            known = await peers_of(council)
            if not {b64(other) for other in admitted if other is not council} | {b64(fed)} <= set(known):
                return False
            if b64(halifax) in known:
                return False
        return True

    await until(meshed, "every admitted council peers with the others through the roster")

    # and replicate each other's public record: Toronto's decision reaches Montreal and Vancouver
    decision = await decide(toronto, "Open a community kitchen")
    await toronto.operator.call("POST", "/v1/admin/census")
    await toronto.operator.call("POST", "/v1/admin/assemblies/current/close", {"minutes": "Kept."})
    size = await own_size(toronto)

    async def reached() -> bool:
        return all([await held(n, toronto) == size for n in (montreal, vancouver, fed)])

    await until(reached, "Toronto's log reaches the other councils and the federation")
    async with montreal.session.get(f"{montreal.url}/v1/logs/{b64(toronto)}/entries?limit=1000") as answer:
        served = published((await answer.json())["entries"])
    assert decision in served and "body" in served[decision]

    # the federation's summary: three admitted councils with their counts (counts only, DESIGN.md §6)
    async def summarised() -> bool:
        c = councils_in(await summary(fed)).get(b64(toronto))
        return bool(c and c["members"] and c["assemblies"]["held"] == 1)

    await until(summarised, "the summary shows Toronto's census and assembly")
    value = await summary(fed)
    councils = councils_in(value)
    assert set(councils) == {b64(c) for c in admitted}  # Halifax's log is held nowhere
    assert {c["status"] for c in councils.values()} == {"admitted"}
    t = councils[b64(toronto)]
    assert (t["name"], t["city"], t["country"], t["continent"]) == (
        "Toronto Council", "Toronto", "CA", "North America"
    )  # fmt: skip
    assert t["members"]["count"] == 3 and t["decisions"] == 1
    assert t["assemblies"]["held"] == 1 and t["assemblies"]["participants"] == 3
    assert (t["board"]["seats"], t["board"]["filled"], t["board"]["vacant"]) == (3, 0, 3)
    assert t["log"]["size"] == size
    assert value["totals"] | {"forks": 0} == {
        "councils": 3, "admitted": 3, "suspended": 0, "unlisted": 0, "members": 3, "board_seats": 9,
        "board_filled": 0, "board_vacant": 9, "assemblies_held": 1, "participants": 3, "decisions": 1,
        "forks": 0,
    }  # fmt: skip
    assert "Ava" not in str(value) and "Babak" not in str(value)

    # --- an unadmitted node is refused: its requests, and its entries --------------------------------------
    await decide(halifax, "Halifax decides alone")
    outsider = halifax.config.root_key()
    for node in (fed, toronto, montreal):
        digest = codec.encode({"hash": bytes(32)})
        assert (await signed(node, outsider, "POST", DIGEST, digest))[0] == 403
        pushed = codec.encode({"heads": [[halifax.config.node_id, await own_size(halifax), bytes(32)]]})
        assert (await signed(node, outsider, "POST", "/v1/federation/heads", pushed))[0] == 403
        page = entries_path(toronto.config.node_id, -1, 10, 0)
        assert (await signed(node, outsider, "GET", page))[0] == 403

    # Halifax keeps the federation as its peer and keeps offering its log; rounds from the others' side too
    async def halifax_refused() -> bool:
        await rounds(halifax, fed, toronto, montreal)
        seen = (await peers_of(halifax))[b64(fed)]  # written just after the round, on the writer thread
        return seen["failures"] >= 1 and "403" in (seen["last_error"] or "")

    await until(halifax_refused, "Halifax's own rounds with the federation are refused")
    for node in (fed, toronto, montreal, vancouver):
        assert b64(halifax) not in await heads(node), "an unadmitted council's log is stored nowhere"

    # --- suspension: Vancouver's later entries are refused everywhere, its earlier record stays ------------
    earlier = await decide(vancouver, "Paint the meeting hall")
    before = await own_size(vancouver)

    async def everyone_holds_vancouver() -> bool:
        return all([await held(n, vancouver) == before for n in (fed, toronto, montreal)])

    await until(everyone_holds_vancouver, "Vancouver's log reaches everyone before the suspension")
    suspended = await fed.operator.call(
        "POST", "/v1/admin/roster/suspend", {"member": b64(vancouver), "reason": "no minutes sent"}
    )
    assert suspended["size"] == before
    fed_size = await own_size(fed)

    async def suspension_known() -> bool:
        return all([await held(n, fed) == fed_size for n in (toronto, montreal)])

    await until(suspension_known, "the councils hold the roster entry that suspends Vancouver")

    later = await decide(vancouver, "Decided while suspended")
    await decide(vancouver, "And again")
    assert await own_size(vancouver) > before
    await toronto.operator.call("POST", "/v1/admin/census")  # Toronto goes on: a new public entry
    talked: set[str] = set()  # nodes that completed a round with Vancouver after its new entries

    async def rounds_with_vancouver() -> bool:
        for node in (fed, toronto, montreal):  # a round already running in the background is "busy"
            if any(line.get("peer") == b64(vancouver) and line["ok"] for line in await sync(node)):
                talked.add(node.url)
        return len(talked) == 3

    await until(rounds_with_vancouver, "everyone completes a round with Vancouver after its new entries")
    toronto_size = await own_size(toronto)

    async def toronto_spreads() -> bool:
        await rounds(montreal, fed)
        return all([await held(n, toronto) == toronto_size for n in (montreal, fed)])

    await until(toronto_spreads, "gossip among the others goes on")
    for node in (fed, toronto, montreal):
        assert await held(node, vancouver) == before, "a suspended member's new entries are refused"

    # its earlier record stays verifiable: a bundle from the council itself, the entries from the others
    async with vancouver.session.get(f"{vancouver.url}/v1/decisions/{earlier}/bundle") as answer:
        bundle = await answer.read()
    verified = verify_bundle(bundle, PublicKey(vancouver.config.node_id))
    assert verified.body["text"] == "Paint the meeting hall"
    async with vancouver.session.get(
        f"{vancouver.url}/v1/logs/{b64(vancouver)}/entries?limit=1000"
    ) as answer:
        served = (await answer.json())["entries"]
    own = [(e["seq"], e["id"]) for e in served]
    assert later in published(served)
    for node in (fed, montreal):
        async with node.session.get(f"{node.url}/v1/logs/{b64(vancouver)}/entries?limit=1000") as answer:
            served = (await answer.json())["entries"]
        kept = [(e["seq"], e["id"]) for e in served]
        assert kept == own[:before] and earlier in published(served)

    value = await summary(fed)
    assert councils_in(value)[b64(vancouver)]["status"] == "suspended"
    assert value["totals"]["suspended"] == 1 and value["totals"]["admitted"] == 2
    assert [s["log_id"] for s in value["suspended"]] == [b64(vancouver)]
    assert value["suspended"][0]["reason"] == "no minutes sent" and value["suspended"][0]["size"] == before

    aggregate_equals_rebuild(fed, tmp_path)


def published(served: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Served public entries by the id of the record entry each publishes (the id a command answers)."""
    return {
        codec.b64u(codec.decode(codec.unb64u(e["body"]))["record"]["entry"]): e for e in served if "body" in e
    }


# --- a continent over a country -----------------------------------------------------------------------------


async def test_continent_federation_trusts_the_councils_its_country_federations_admitted(
    start_node: NodeFactory, tmp_path: Path
) -> None:
    europe = await federation_node(
        start_node, "Federation of Councils — Europe", level="continent", continent="Europe"
    )
    germany = await start_node(
        "Federation of Councils — Germany",
        kind="federation",
        level="country",
        country="DE",
        continent="Europe",
        settings=FAST,
        federation=(europe.url, europe.config.node_id),
    )
    berlin, hamburg = [
        await council_of(start_node, germany, city, country="DE", continent="Europe")
        for city in ("Berlin", "Hamburg")
    ]
    await admit_when_applied(europe, [germany])
    await admit_when_applied(germany, [berlin, hamburg])
    decision = await decide(berlin, "Open a Persian-language reading room")
    size = await own_size(berlin)

    async def europe_holds_them() -> bool:
        c = councils_in(await summary(europe))
        return await held(europe, berlin) == size and c.get(b64(berlin), {}).get("decisions") == 1

    await until(europe_holds_them, "Europe replicates the councils Germany admitted and summarises them")
    # through Germany: the councils know nothing of Europe, so Europe does not take them as peers
    assert set(await peers_of(europe)) - {""} == {b64(germany)}
    value = await summary(europe)
    councils = councils_in(value)
    assert set(councils) == {b64(berlin), b64(hamburg)}
    assert {c["status"] for c in councils.values()} == {"admitted"}
    assert set(value["continents"]) == {"Europe"} and set(value["continents"]["Europe"]) == {"DE"}
    assert [(f["log_id"], f["status"]) for f in value["federations"]] == [(b64(germany), "admitted")]
    async with europe.session.get(f"{europe.url}/v1/federation/decisions?q=reading") as answer:
        found = (await answer.json())["decisions"]
    assert [(d["council"], d["entry"]) for d in found] == [(b64(berlin), decision)]
    async with europe.session.get(f"{europe.url}/v1/federation/councils/{b64(berlin)}") as answer:
        detail = await answer.json()
    assert detail["status"] == "admitted" and detail["decision_entries"] == [decision]
    aggregate_equals_rebuild(europe, tmp_path)

    # the same summary on the command line, as a table and as JSON
    if SHORA is not None:
        table = (await asyncio.to_thread(shora, "federation", "summary", home=europe.dir)).stdout
        assert "Europe / DE" in table and "Berlin Council" in table and "totals: 2 councils" in table
        printed = await asyncio.to_thread(shora, "federation", "summary", "--json", home=europe.dir)
        assert json.loads(printed.stdout)["totals"] == (await summary(europe))["totals"]


# --- proposals: a forged answer, a duplicate, a peer never admitted -----------------------------------------


def answer_entries(bad: Hostile, federation: bytes, proposal: bytes, answers: list[tuple[str, int]]) -> None:
    """``bad``'s log: a note, then one public decision answering ``proposal`` per (outcome, participants)."""
    bad.sign(1)
    for outcome, participants in answers:
        seq = len(bad.entries)
        body = {
            "kind": "decision", "motion": bytes(32), "motion_kind": "federation", "text": "Answer",
            "outcome": outcome, "participants": participants, "proposal": [federation, proposal],
        }  # fmt: skip
        entry = sign_entry(
            bad.key, log_id=bad.id, seq=seq, prev=bad.entries[-1].id, ts_ms=now_ms(), vis="public", body=body
        )
        bad.entries.append(entry)
        bad.tree.append(entry.id)


async def test_forged_answer_is_refused_at_ingest_and_a_duplicate_and_a_mere_peer_are_not_counted(
    start_node: NodeFactory, hostile: Any
) -> None:
    fed = await federation_node(start_node, "Federation of Councils of Canada", level="country")
    honest, forger, duplicate, stranger = [await hostile(seed) for seed in (11, 12, 13, 14)]
    for n, bad in enumerate((honest, forger, duplicate)):  # admitted directly, with a full key and profile
        await fed.operator.call(
            "POST", "/v1/admin/roster/admit",
            {"member": codec.b64u(bad.id), "name": f"Council {n}", "city": f"City {n}", "country": "CA",
             "continent": "North America", "url": bad.url, "reason": "test"},
        )  # fmt: skip
    # on the peer table only, never on the roster: its log is replicated, its word is not counted
    await fed.operator.call("POST", "/v1/admin/peers", {"url": stranger.url, "key": codec.b64u(stranger.id)})

    published = await fed.operator.call(
        "POST", "/v1/admin/proposals",
        {"text_fa": "پیشنهاد", "text_en": "A four-day week", "deadline": now_ms() + 8000,
         "rule": "answering", "grace_s": 1},
    )  # fmt: skip
    pid = codec.unb64u(published["proposal_id"], 32)
    me = fed.config.node_id
    # answers count if the federation receives them before the deadline (issue 13: its own receipt), so the
    # window leaves the pulls below ample time
    answer_entries(honest, me, pid, [("adopted", 4)])
    answer_entries(forger, me, pid, [("adopted", 900)])
    forger.tamper = _flip_signature  # entry 1, the answer: its signature does not verify
    answer_entries(duplicate, me, pid, [("rejected", 3), ("adopted", 9)])  # the second answer is a duplicate
    answer_entries(stranger, me, pid, [("adopted", 50)])

    async def ingested() -> bool:
        await rounds(fed)
        logs = await heads(fed)
        sizes = [logs.get(codec.b64u(b.id), (0,))[0] for b in (honest, duplicate, stranger)]
        seen = (await peers_of(fed))[codec.b64u(forger.id)]
        return sizes == [2, 3, 2] and (seen["last_penalty"] or "").startswith("entry-signature")

    await until(ingested, "the honest pages are stored and the forger penalised")
    assert codec.b64u(forger.id) not in await heads(fed), "nothing of the forged page was stored"

    async def closed() -> dict[str, Any] | None:
        try:
            value: dict[str, Any] = await fed.operator.call(
                "POST", f"/v1/admin/proposals/{published['proposal_id']}/close"
            )
        except RemoteError as exc:
            # the forger is never heard from as far as it claims (its page was refused): issue 13's close
            # waits for it until the proposal's grace (1 s) has ended, then names it as not heard
            assert exc.code in ("result.too-early", "result.not-heard"), exc
            return None
        return value

    result_holder: list[dict[str, Any]] = []

    async def close_after_deadline() -> bool:
        value = await closed()
        if value is not None:
            result_holder.append(value)
        return value is not None

    await until(close_after_deadline, "the proposal closes once its deadline has passed")
    result = result_holder[0]["result"]
    assert sorted((a["council"], a["outcome"], a["participants"]) for a in result["counted"]) == sorted(
        [(codec.b64u(honest.id), "adopted", 4), (codec.b64u(duplicate.id), "rejected", 3)]
    )
    assert sorted((r["council"], r["outcome"], r["reason"]) for r in result["refused"]) == sorted(
        [
            (codec.b64u(duplicate.id), "adopted", "duplicate"),
            (codec.b64u(stranger.id), "adopted", "not-admitted"),
        ]
    )
    assert codec.b64u(forger.id) not in str(result["counted"]) + str(result["refused"])
    # the others are heard if a gossip round reached them between the deadline and the grace's end
    unheard = {u["council"] for u in result["not_heard"]}
    assert codec.b64u(forger.id) in unheard <= {codec.b64u(b.id) for b in (honest, forger, duplicate)}
    assert result["result"] == "tied" and result["totals"]["admitted"] == 3
    assert (result["totals"]["answered"], result["totals"]["refused"]) == (2, 2)

    # anyone holding the federation's log and the councils' redoes the count from the verified decisions
    conn = sqlite3.connect(f"file:{fed.config.database}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT body FROM entries WHERE log_id = ? AND kind = 'proposal/result'", (me,)
        ).fetchone()
        answers = answers_held(conn, me, pid)
    finally:
        conn.close()
    assert len(answers) == 4
    fedbody.retally(codec.decode(bytes(row[0])), answers)


# --- every refusal of POST /v1/federation/apply -------------------------------------------------------------


async def test_apply_refuses_what_is_not_a_signed_well_formed_application(start_node: NodeFactory) -> None:
    fed = await federation_node(start_node, "Federation of Councils of Canada", level="country")
    council = await start_node("Toronto Council", settings=FAST)
    applicant = SigningKey.from_seed(os.urandom(32))
    profile = {"kind": "council", "name": "Lyon Council", "name_fa": "", "city": "Lyon", "country": "CA",
               "continent": "North America", "url": "http://lyon.example"}  # fmt: skip
    good = codec.encode(profile)

    async with fed.session.post(fed.url + APPLY, data=good, headers={"Content-Type": MSGPACK}) as answer:
        assert answer.status == 401, "unsigned"
    assert (await signed(fed, applicant, "POST", APPLY, b"\xc1\x00garbage"))[0] == 400, "bad msgpack"
    for bad in (
        {k: v for k, v in profile.items() if k != "url"},  # missing
        {**profile, "members": "Ava, Babak"},  # extra
        {**profile, "name": 7},  # not text
        {**profile, "url": "ftp://lyon.example"},  # not a URL peers can reach
        {**profile, "kind": "club"},
        [profile],  # not a map
    ):
        assert await signed(fed, applicant, "POST", APPLY, codec.encode(bad)) == (400, "bad-application"), bad
    # a council admits nobody: its apply route answers 404, saying it is a council
    assert (await signed(council, applicant, "POST", APPLY, good))[0] == 404
    own = await signed(fed, fed.config.root_key(), "POST", APPLY, good)
    assert own == (400, "bad-application"), "a federation does not apply to itself"
    big = codec.encode({**profile, "name": "x" * (9 << 10)})
    assert (await signed(fed, applicant, "POST", APPLY, big))[0] in (400, 413), "over the application limit"
    huge = codec.encode({**profile, "name": "x" * (2 << 20)})
    assert (await signed(fed, applicant, "POST", APPLY, huge))[0] == 413, "over the request limit"
    assert (await fed.operator.call("GET", "/v1/admin/applications?all=1"))["applications"] == []

    # the well-formed one is recorded; once admitted, applying again is refused
    assert await signed(fed, applicant, "POST", APPLY, good) == (200, "")
    waiting = (await fed.operator.call("GET", "/v1/admin/applications"))["applications"]
    assert [(a["key"], a["name"]) for a in waiting] == [(codec.b64u(applicant.public.raw), "Lyon Council")]
    await fed.operator.call("POST", "/v1/admin/roster/admit", {"member": waiting[0]["key"], "reason": "ok"})
    assert await signed(fed, applicant, "POST", APPLY, good) == (409, "already-admitted")
