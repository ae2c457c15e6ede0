"""``make demo``: a council on loopback running a whole general assembly, then a bundle verified offline.

Members join by endorsing the charter, an assembly elects the executive board, adopts a policy, recalls a
board member and elects a replacement; the decisions are fetched as bundles and verified the way a member
would — and a tampered copy is refused. The node keeps serving until Ctrl-C (``--once`` stops at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp

from federation.client import SignedClient
from node.bootstrap import init_node
from node.governance import FoundCouncil, Quorum, Rules
from node.server import serve
from protocol import codec
from protocol.bundle import verify_bundle
from protocol.errors import VerificationError
from protocol.keys import PublicKey

MEMBERS = [
    ("Shirin Ahmadi", "شیرین احمدی"),
    ("Kaveh Rostami", "کاوه رستمی"),
    ("Leila Karimi", "لیلا کریمی"),
    ("Dariush Nazari", "داریوش نظری"),
    ("Maryam Sadeghi", "مریم صادقی"),
    ("Omid Farahani", "امید فراهانی"),
    ("Nasrin Jafari", "نسرین جعفری"),
]


def say(text: str = "") -> None:
    print(text, flush=True)


async def assembly(op: SignedClient) -> dict[str, Any]:
    ids = {}
    for latin, persian in MEMBERS:
        ids[latin] = (await op.call("POST", "/v1/admin/members", {"name": f"{latin} ({persian})"}))[
            "member_id"
        ]
    say(f"  {len(ids)} members joined by endorsing the charter (article 3)")
    agenda = "Founding general assembly — مجمع عمومی مؤسس: election of the board, policy, recall"
    a = (await op.call("POST", "/v1/admin/assemblies", {"agenda": agenda}))["assembly_id"]
    await op.call("POST", f"/v1/admin/assemblies/{a}/attend", {"members": list(ids.values())[:6]})
    await op.call("POST", f"/v1/admin/assemblies/{a}/attend", {"members": [ids["Nasrin Jafari"]]})
    say("  assembly opened; 6 on the roll, 1 late arrival")

    names = list(ids)
    election = await op.call(
        "POST",
        "/v1/admin/motions",
        {
            "assembly": a,
            "kind": "election",
            "seats": 3,
            "text": "Elect the executive board — انتخاب هیئت اجرایی",
            "candidates": [ids[n] for n in names[:4]],
        },
    )
    ballots = [[0, 1, 2], [0, 1, 3], [0, 2], [1, 2, 3], [0, 1, 2], [0, 3], [1, 2]]
    for voter, picks in zip(names, ballots, strict=True):
        await op.call(
            "POST",
            f"/v1/admin/motions/{election['motion_id']}/votes",
            {"member": ids[voter], "approvals": [ids[names[i]] for i in picks]},
        )
    elected = await op.call("POST", f"/v1/admin/motions/{election['motion_id']}/close")
    say(f"  election: {elected['outcome']}, {len(elected['elected'])} seats filled")

    policy = await op.call(
        "POST",
        "/v1/admin/motions",
        {
            "assembly": a,
            "kind": "policy",
            "text": "Hold a solidarity rally on Saturday for political prisoners — "
            "برگزاری تجمع همبستگی با زندانیان سیاسی در روز شنبه",
        },
    )
    for voter, choice in zip(names, ["yes", "yes", "yes", "no", "yes", "abstain", "yes"], strict=True):
        await op.call(
            "POST", f"/v1/admin/motions/{policy['motion_id']}/votes", {"member": ids[voter], "choice": choice}
        )
    adopted = await op.call("POST", f"/v1/admin/motions/{policy['motion_id']}/close")
    say(f"  policy motion: {adopted['outcome']} ({adopted['tally']})")

    recalled = elected["elected"][-1]["member"]
    recall = await op.call(
        "POST",
        "/v1/admin/motions",
        {
            "assembly": a,
            "kind": "recall",
            "target": recalled,
            "text": "Recall a board member — عزل عضو هیئت اجرایی",
        },
    )
    for voter, choice in zip(names, ["yes", "yes", "no", "yes", "yes", "yes", "abstain"], strict=True):
        await op.call(
            "POST", f"/v1/admin/motions/{recall['motion_id']}/votes", {"member": ids[voter], "choice": choice}
        )
    ended = await op.call("POST", f"/v1/admin/motions/{recall['motion_id']}/close")
    say(f"  recall: {ended['outcome']}, mandate ended at once (article 5)")

    sitting = {m["member"] for m in elected["elected"]} - {recalled}
    candidates = [i for i in ids.values() if i not in sitting and i != recalled][:2]
    replacement = await op.call(
        "POST",
        "/v1/admin/motions",
        {
            "assembly": a,
            "kind": "election",
            "seats": 1,
            "candidates": candidates,
            "text": "Replacement election — انتخاب جایگزین",
        },
    )
    for n, voter in enumerate(names):
        await op.call(
            "POST",
            f"/v1/admin/motions/{replacement['motion_id']}/votes",
            {"member": ids[voter], "approvals": [candidates[0 if n % 3 else 1]]},
        )
    filled = await op.call("POST", f"/v1/admin/motions/{replacement['motion_id']}/close")
    say(f"  replacement election: {filled['outcome']}, seat filled")
    await op.call("POST", f"/v1/admin/assemblies/{a}/close", {"minutes": "Minutes kept by the secretary."})
    say("  assembly closed")
    return dict(adopted)


async def main(once: bool, folder: Path) -> int:
    if folder.exists():
        shutil.rmtree(folder)
    found = FoundCouncil(
        name="Toronto Council of the Reds",
        name_fa="شورای سرخ‌های تورنتو",
        city="Toronto",
        country="CA",
        continent="North America",
        rules=Rules(majority="simple", quorum=Quorum(fraction=(1, 3)), board_seats=3),
    )
    config = init_node(folder / "toronto", found, listen="127.0.0.1:0")
    stop = asyncio.Event()
    server = asyncio.create_task(serve(config, stop))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    address = config.dir / "serve.addr"
    while not address.exists():
        if server.done():
            server.result()  # raises what stopped it
            return 1
        await asyncio.sleep(0.02)
    url = f"http://{address.read_text().strip()}"
    key = codec.b64u(config.node_id)
    say(f"shora demo — a council node at {url}\n")
    async with aiohttp.ClientSession() as session:
        op = SignedClient(session, url, config.operator_signing_key(), config.node_id)
        adopted = await assembly(op)
        async with session.get(f"{url}/v1/decisions/{adopted['decision_id']}/bundle") as response:
            bundle = await response.read()
    (folder / "decision.bundle").write_bytes(bundle)
    verified = verify_bundle(bundle, PublicKey(config.node_id))
    say("\nA member verifies the policy decision offline, trusting only the council's key:")
    say(f"  VALID — {verified.council['name']} / {verified.council['name_fa']}")
    say(f"  decision #{verified.seq}: {verified.body['text']}")
    say(
        f"  outcome {verified.body['outcome']}, tally {verified.body['tally']}, "
        f"{verified.body['participants']} participants; checkpoint size {verified.checkpoint.size}"
    )
    tampered = bundle.replace(b"adopted", b"rejectd", 1)
    try:
        verify_bundle(tampered, PublicKey(config.node_id))
        say("  !! the tampered copy verified — this is a bug")
        return 1
    except VerificationError as exc:
        say(f"  a copy with the outcome changed is refused: NOT VALID — {exc.step}: {exc.message}")
    say("\nWhere to look:")
    for path in (
        "/v1/node",
        "/v1/logs",
        f"/v1/logs/{key}/checkpoint",
        f"/v1/logs/{key}/entries",
        "/v1/decisions",
        "/v1/board",
    ):
        say(f"  {url}{path}")
    say(f"  the bundle: {folder / 'decision.bundle'}")
    say(f"  verify it:  .venv/bin/shora verify {folder / 'decision.bundle'} --council {key}")
    say(f"  operate it: SHORA_DIR={config.dir} .venv/bin/shora decisions")
    if not once:
        say("\nThe node keeps running; press Ctrl-C to stop.")
        await stop.wait()
    stop.set()
    await server
    say("stopped.")
    return 0


def run() -> None:
    parser = argparse.ArgumentParser(prog="shora-demo", description=__doc__)
    parser.add_argument("--once", action="store_true", help="stop after the demo instead of serving")
    parser.add_argument("--dir", type=Path, default=Path("demo-data"), help="where the demo's nodes live")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(main(args.once, args.dir)))


if __name__ == "__main__":
    run()
