"""``make demo``: a small federation on loopback, from founding to a federation-wide decision.

A continent federation (Europe) admits a country federation (Germany), which admits three city councils
(Berlin, Hamburg, Munich). Each council's members join by endorsing the charter; each general assembly elects
its board and adopts a policy, and Berlin recalls and replaces a board member. The country federation puts a
proposal to its councils; each answers it by its own assembly's majority; at the deadline the federation
publishes the signed result. Then a member verifies a decision offline, with the federation's cosignature,
and a tampered copy is refused. The nodes keep serving until Ctrl-C (``--once`` stops at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from federation.client import RemoteError, SignedClient
from node import config as cfg
from node.bootstrap import init_node
from node.http.server import serve
from node.rules.council import FoundCouncil, Quorum, Rules
from node.rules.fedbody import FoundFederation
from protocol import codec
from protocol.bundle import verify_bundle
from protocol.errors import VerificationError
from protocol.keys import PublicKey
from protocol.note import parse_vkey

PEOPLE = {
    "berlin": [
        ("Shirin Ahmadi", "شیرین احمدی"),
        ("Kaveh Rostami", "کاوه رستمی"),
        ("Leila Karimi", "لیلا کریمی"),
        ("Dariush Nazari", "داریوش نظری"),
        ("Maryam Sadeghi", "مریم صادقی"),
        ("Omid Farahani", "امید فراهانی"),
    ],
    "hamburg": [
        ("Nasrin Jafari", "نسرین جعفری"),
        ("Babak Moradi", "بابک مرادی"),
        ("Azadeh Rahimi", "آزاده رحیمی"),
        ("Siavash Kamali", "سیاوش کمالی"),
    ],
    "munich": [
        ("Parvin Ghasemi", "پروین قاسمی"),
        ("Reza Soltani", "رضا سلطانی"),
        ("Mina Hosseini", "مینا حسینی"),
        ("Arash Tehrani", "آرش تهرانی"),
        ("Golnar Yazdi", "گلنار یزدی"),
    ],
}
COUNCILS = {
    "berlin": ("Berlin Council of the Reds", "شورای سرخ‌های برلین", "Berlin"),
    "hamburg": ("Hamburg Council of the Reds", "شورای سرخ‌های هامبورگ", "Hamburg"),
    "munich": ("Munich Council of the Reds", "شورای سرخ‌های مونیخ", "Munich"),
}
# how each council's assembly answers the federation's proposal: yes/no/abstain per member, in order
ANSWERS = {
    "berlin": ["yes", "yes", "yes", "no", "yes", "abstain"],
    "hamburg": ["yes", "no", "no", "no"],
    "munich": ["yes", "yes", "no", "yes", "yes"],
}
PROPOSAL_FA = "روز همبستگی سراسری با اعتصاب کارگران نفت در سراسر آلمان برگزار شود"
PROPOSAL_EN = "Hold a Germany-wide day of solidarity with the striking oil workers"
DEADLINE_S = 20.0


def contact_of(name: str) -> str:
    """A made-up phone and e-mail, kept in the council's private directory (the demo checks they stay)."""
    handle = name.lower().replace(" ", ".")
    return f"+49 151 {sum(map(ord, name)) % 10_000:04d} {len(name):03d}, {handle}@example.org"


def say(text: str = "") -> None:
    print(text, flush=True)


@dataclass
class Running:
    name: str
    config: cfg.NodeConfig
    url: str
    op: SignedClient

    @property
    def key(self) -> str:
        return codec.b64u(self.config.node_id)


class Demo:
    def __init__(self, folder: Path, session: aiohttp.ClientSession) -> None:
        self.folder, self.session = folder, session
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.nodes: dict[str, Running] = {}

    async def start(self, name: str, found: FoundCouncil | FoundFederation, parent: str | None) -> Running:
        federation = None
        if parent is not None:
            federation = (self.nodes[parent].url, self.nodes[parent].config.node_id)
        config = init_node(self.folder / name, found, listen="127.0.0.1:0", federation=federation)
        raw = json.loads((config.dir / cfg.CONFIG).read_text())
        raw["settings"] = {"gossip_interval_s": 1.0}  # a lively demo; the default is 10 s
        (config.dir / cfg.CONFIG).write_text(json.dumps(raw, ensure_ascii=False, indent=2))
        config = cfg.load(config.dir)
        self.tasks.append(asyncio.create_task(serve(config, self.stop), name=f"serve-{name}"))
        address = config.dir / "serve.addr"
        while not address.exists():
            for task in self.tasks:
                if task.done():
                    task.result()
            await asyncio.sleep(0.02)
        url = f"http://{address.read_text().strip()}"
        running = Running(
            name, config, url, SignedClient(self.session, url, config.operator_signing_key(), config.node_id)
        )
        self.nodes[name] = running
        return running

    async def until(self, what: str, check: Any, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            found = await check()
            if found:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"the demo waited too long for {what}")
            await asyncio.sleep(0.2)

    async def sync(self, *names: str) -> None:
        for name in names:
            await self.nodes[name].op.request("POST", "/v1/admin/sync")

    async def admit_all(self, federation: str, members: list[str]) -> None:
        fed = self.nodes[federation]
        keys = {self.nodes[m].key for m in members}

        async def applied() -> bool:
            waiting = await fed.op.call("GET", "/v1/admin/applications")
            return keys <= {codec.b64u(codec.unb64u(a["key"])) for a in waiting["applications"]}

        await self.until(f"applications to {federation}", applied)
        for member in members:
            await fed.op.call(
                "POST",
                "/v1/admin/roster/admit",
                {"member": self.nodes[member].key, "reason": "endorses the six principles"},
            )


async def council_assembly(node: Running, people: list[tuple[str, str]], recall: bool) -> str:
    op = node.op
    ids = [
        (await op.call("POST", "/v1/admin/members", {"name": f"{en} ({fa})", "contact": contact_of(en)}))[
            "member_id"
        ]
        for en, fa in people
    ]
    a: str = (await op.call("POST", "/v1/admin/assemblies", {"agenda": "General assembly — مجمع عمومی"}))[
        "assembly_id"
    ]
    await op.call("POST", f"/v1/admin/assemblies/{a}/attend", {"members": ids})
    for candidate in ids[:4]:  # a candidate stands only with their consent, recorded as said in the room
        await op.call("POST", f"/v1/admin/assemblies/{a}/consent", {"member": candidate})
    election = await op.call(
        "POST",
        "/v1/admin/motions",
        {
            "assembly": a,
            "kind": "election",
            "seats": 2,
            "candidates": ids[:3],
            "text": "Elect the executive board — انتخاب هیئت اجرایی",
        },
    )
    for n, voter in enumerate(ids):
        await op.call(
            "POST",
            f"/v1/admin/motions/{election['motion_id']}/votes",
            {"member": voter, "approvals": [ids[0], ids[2] if n == 0 else ids[1]]},
        )
    elected = await op.call("POST", f"/v1/admin/motions/{election['motion_id']}/close")
    policy = await op.call(
        "POST",
        "/v1/admin/motions",
        {
            "assembly": a,
            "text": "Open a Persian-language reading room — راه‌اندازی قرائت‌خانهٔ فارسی",
        },
    )
    for n, voter in enumerate(ids):
        await op.call(
            "POST",
            f"/v1/admin/motions/{policy['motion_id']}/votes",
            {"member": voter, "choice": "no" if n == 1 else "yes"},
        )
    adopted = await op.call("POST", f"/v1/admin/motions/{policy['motion_id']}/close")
    line = f"  {node.name}: {len(ids)} members, board elected, policy {adopted['outcome']}"
    if recall:
        target = elected["elected"][-1]["member"]
        motion = await op.call(
            "POST",
            "/v1/admin/motions",
            {
                "assembly": a,
                "kind": "recall",
                "target": target,
                "text": "Recall — عزل عضو هیئت اجرایی",
            },
        )
        for voter in ids:
            await op.call(
                "POST",
                f"/v1/admin/motions/{motion['motion_id']}/votes",
                {"member": voter, "choice": "no" if voter == target else "yes"},
            )
        await op.call("POST", f"/v1/admin/motions/{motion['motion_id']}/close")
        replacement = await op.call(
            "POST",
            "/v1/admin/motions",
            {
                "assembly": a,
                "kind": "election",
                "seats": 1,
                "candidates": [ids[3]],
                "text": "Replacement election — انتخاب جایگزین",
            },
        )
        for voter in ids:
            await op.call(
                "POST",
                f"/v1/admin/motions/{replacement['motion_id']}/votes",
                {"member": voter, "approvals": [ids[3]]},
            )
        await op.call("POST", f"/v1/admin/motions/{replacement['motion_id']}/close")
        line += ", a board member recalled and replaced"
    say(line)
    return a


async def answer(node: Running, assembly: str, proposal_ref: str, votes: list[str]) -> str:
    op = node.op
    members = (await op.call("GET", "/v1/admin/members"))["members"]
    motion = await op.call(
        "POST",
        "/v1/admin/motions",
        {
            "assembly": assembly,
            "kind": "federation",
            "proposal": proposal_ref,
            "text": f"{PROPOSAL_EN} — {PROPOSAL_FA}",
        },
    )
    for member, choice in zip(members, votes, strict=True):
        await op.call(
            "POST",
            f"/v1/admin/motions/{motion['motion_id']}/votes",
            {"member": member["member_id"], "choice": choice},
        )
    decided = await op.call("POST", f"/v1/admin/motions/{motion['motion_id']}/close")
    await op.call("POST", "/v1/admin/census")
    await op.call("POST", f"/v1/admin/assemblies/{assembly}/close", {"minutes": "Kept by the secretary."})
    say(f"  {node.name} answers: {decided['outcome']} ({decided['tally']})")
    decision: str = decided["decision_id"]
    return decision


async def main(once: bool, folder: Path) -> int:
    if folder.exists():
        shutil.rmtree(folder)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session:
        demo = Demo(folder, session)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, demo.stop.set)
        try:
            return await run(demo, once)
        finally:
            demo.stop.set()
            await asyncio.gather(*demo.tasks, return_exceptions=True)
            say("stopped.")


async def run(demo: Demo, once: bool) -> int:
    say("shora demo — a federation of councils on loopback\n")
    europe = await demo.start(
        "europe",
        FoundFederation(
            name="Federation of Councils — Europe",
            name_fa="فدراسیون شوراها — اروپا",
            level="continent",
            continent="Europe",
            founding=1,  # Germany, its founder; later members by the councils' adopted proposals
        ),
        None,
    )
    germany = await demo.start(
        "germany",
        FoundFederation(
            name="Federation of Councils — Germany",
            name_fa="فدراسیون شوراها — آلمان",
            level="country",
            continent="Europe",
            country="DE",
            founding=3,  # the three councils found it; later roster changes are the councils' decisions
        ),
        "europe",
    )
    rules = Rules(quorum=Quorum(fraction=(1, 2)), board_seats=2, census_bucket=1)
    for name, (en, fa, city) in COUNCILS.items():
        await demo.start(
            name,
            FoundCouncil(name=en, name_fa=fa, city=city, country="DE", continent="Europe", rules=rules),
            "germany",
        )
    say(f"  started {len(demo.nodes)} nodes: Europe (continent), Germany (country), {', '.join(COUNCILS)}")
    await demo.admit_all("europe", ["germany"])
    await demo.admit_all("germany", list(COUNCILS))
    say("  Germany admitted to Europe; the three councils admitted to Germany (signed roster entries)\n")

    assemblies = {}
    for name in COUNCILS:
        assemblies[name] = await council_assembly(demo.nodes[name], PEOPLE[name], recall=name == "berlin")

    deadline_ms = int((time.time() + DEADLINE_S) * 1000)
    proposal = await germany.op.call(
        "POST",
        "/v1/admin/proposals",
        {
            "text_fa": PROPOSAL_FA,
            "text_en": PROPOSAL_EN,
            "deadline": deadline_ms,
            "rule": "answering",
        },
    )
    ref = f"{germany.key}:{proposal['proposal_id']}"
    say(f"\nGermany's federation asks its councils: {PROPOSAL_EN}\n  {PROPOSAL_FA}")

    async def council_sees(name: str) -> bool:
        await demo.sync(name)
        listed = await demo.nodes[name].op.call("GET", "/v1/admin/proposals")
        return any(p.get("ref") == ref for p in listed["proposals"])

    decisions = {}
    for name in COUNCILS:
        await demo.until(f"{name} to hold the proposal", lambda n=name: council_sees(n))
        decisions[name] = await answer(demo.nodes[name], assemblies[name], ref, ANSWERS[name])

    async def federation_holds_answers() -> bool:
        await demo.sync("germany", "europe")
        logs = (await germany.op.call("GET", "/v1/logs"))["logs"]
        sizes = {log["log_id"]: log["size"] for log in logs}
        return all(sizes.get(demo.nodes[n].key, 0) >= _size(demo, n) for n in COUNCILS)

    await demo.until("the federation to hold every answer", federation_holds_answers)
    wait = deadline_ms / 1000 - time.time()
    if wait > 0:
        say(f"\n  waiting {wait:.0f} s for the deadline…")
        await asyncio.sleep(wait + 0.5)

    async def closes() -> dict[str, Any] | None:
        # the result waits until every admitted council was heard from past the deadline (or a grace ends)
        await demo.sync("germany")
        try:
            value: dict[str, Any] = await germany.op.call(
                "POST", f"/v1/admin/proposals/{proposal['proposal_id']}/close"
            )
        except RemoteError as exc:
            if exc.code != "result.not-heard":
                raise
            return None
        return value

    closed = await demo.until("every council to be heard from past the deadline", closes)
    result = closed["result"]
    totals = result["totals"]
    say(
        f"\nResult, signed by Germany's federation: {str(result.get('result', '?')).upper()} "
        f"— {totals['adopted']} adopted, {totals['rejected']} rejected, "
        f"{totals['answered']} of {totals['admitted']} councils answered"
    )
    for counted in result["counted"]:
        say(f"  counted: {counted['name']}: {counted['outcome']} ({counted['participants']} participants)")
    for unheard in result["not_heard"]:
        say(f"  not heard from since the deadline: {unheard['name']}")

    async def summarised() -> dict[str, Any] | None:
        await demo.sync("europe")
        async with demo.session.get(f"{europe.url}/v1/federation/summary") as response:
            value: dict[str, Any] = await response.json()
        return value if value["totals"]["councils"] >= len(COUNCILS) else None

    summary = await demo.until("Europe's summary to show the councils", summarised)
    say("\nEurope's federation summary (counts only — no names leave a council):")
    for continent, countries in summary["continents"].items():
        for country, councils in countries.items():
            for c in councils:
                say(
                    f"  {continent} / {country} / {c['name']}: {c['members']['count']} members, board "
                    f"{c['board']['filled']}/{c['board']['seats']}, {c['assemblies']['held']} assemblies, "
                    f"{c['decisions']} public decisions"
                )
    say(f"  totals: {json.dumps(summary['totals'])}")

    code = await verify_one(demo, "berlin", decisions["berlin"])
    say("\nWhere to look:")
    for node in demo.nodes.values():
        say(f"  {node.name:<8} {node.url}/v1/node   (data: {node.config.dir})")
    for name in COUNCILS:
        say(f"  web:     {demo.nodes[name].url}/   ({name}'s public page, Persian first; English by switch)")
    say(f"  summary: {europe.url}/v1/federation/summary and {germany.url}/v1/federation/summary")
    say(f"  search:  {germany.url}/v1/federation/decisions?q=solidarity")
    say(f"  operate: SHORA_DIR={germany.config.dir} .venv/bin/shora proposal show {proposal['proposal_id']}")
    if not once and code == 0:
        say("\nThe federation keeps running; press Ctrl-C to stop.")
        await demo.stop.wait()
    return code


def _size(demo: Demo, name: str) -> int:
    conn = __import__("sqlite3").connect(f"file:{demo.nodes[name].config.database}?mode=ro", uri=True)
    try:
        return int(
            conn.execute(
                "SELECT size FROM logs WHERE log_id = ?", (demo.nodes[name].config.node_id,)
            ).fetchone()[0]
        )
    finally:
        conn.close()


async def verify_one(demo: Demo, name: str, decision: str) -> int:
    """A member of ``name`` verifies its answer offline, with Germany's federation as a trusted witness."""
    node, germany = demo.nodes[name], demo.nodes["germany"]
    async with demo.session.get(f"{germany.url}/v1/node") as response:
        witness = parse_vkey((await response.json())["witness_key"])

    async def cosigned() -> bytes | None:
        async with demo.session.get(f"{node.url}/v1/decisions/{decision}/bundle") as response:
            data = await response.read()
        try:
            verify_bundle(data, PublicKey(node.config.node_id), [(witness.name, witness.public_key)], 1)
        except VerificationError:
            return None
        return data

    bundle = await demo.until("a checkpoint cosigned by the federation", cosigned)
    path = demo.folder / "decision.bundle"
    path.write_bytes(bundle)
    verified = verify_bundle(bundle, PublicKey(node.config.node_id), [(witness.name, witness.public_key)], 1)
    say(
        f"\nA member of {name} verifies the council's answer offline, trusting the council's key and "
        "Germany's witness key:"
    )
    say(f"  VALID — {verified.council['name']} / {verified.council['name_fa']}")
    say(f"  decision #{verified.seq}: {verified.body['text']}")
    say(
        f"  outcome {verified.body['outcome']}, tally {verified.body['tally']}; checkpoint of size "
        f"{verified.checkpoint.size} cosigned by {', '.join(c.name for c in verified.cosigners)}"
    )
    tampered = bundle.replace(b"adopted", b"rejectd", 1)
    try:
        verify_bundle(tampered, PublicKey(node.config.node_id))
    except VerificationError as exc:
        say(f"  a copy with the outcome changed is refused: NOT VALID — {exc.step}: {exc.message}")
    else:
        say("  !! the tampered copy verified — this is a bug")
        return 1
    say(
        f"  verify it yourself: .venv/bin/shora verify {path} --council {node.key} "
        f"--witness {witness.text()} --min-cosignatures 1"
    )
    say(f"  or in the browser: {node.url}/decision?id={decision}   (add the witness key on the page)")
    return 0


def run_cli() -> None:
    parser = argparse.ArgumentParser(prog="shora-demo", description=__doc__)
    parser.add_argument("--once", action="store_true", help="stop after the demo instead of serving")
    parser.add_argument("--dir", type=Path, default=Path("demo-data"), help="where the demo's nodes live")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(main(args.once, args.dir)))


if __name__ == "__main__":
    run_cli()
