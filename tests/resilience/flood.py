"""A peer sending gossip as fast as it can, in its own process:
``python -m tests.resilience.flood URL SEED RECIPIENT [peer|keyless] [CPU]``.

Prints ``ready`` once its requests are made, then ``throttled`` at its first refusal (429 for a peer over
its quota, 401 for the keyless flood); runs until SIGTERM, then prints ``{status: count}`` as JSON on stdout.

It models an attacker on another machine (issue 11, suite: floods; docs/resilience.md):

- it signs nothing while it floods: ``PRESIGNED`` requests, each with its own nonce and ``created``, are
  signed before ``ready`` and sent in turn (over and over: once its quota is spent every one of them is
  refused before its nonce is looked at, and the few the quota's refill lets through are refused as
  replays);
- it runs ``WORKERS`` connections at once, each sending its next request as soon as the last is answered;
- it is pinned to one core (``CPU``, the last one by default), and the node to another by the caller, so
  its sending takes no CPU from the node, as another machine's would not.

``keyless`` sends the same requests unsigned: what anyone can send without a key."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets
import signal
import sys
import time
from collections import Counter
from urllib.parse import urlsplit

import aiohttp

from protocol import codec
from protocol.httpsig import encode_nonce, sign_request
from protocol.keys import SigningKey

MSGPACK = "application/msgpack"
PATH = "/v1/federation/digest"
WORKERS = 64
PRESIGNED = 2000


def presigned(
    url: str, key: SigningKey, recipient: bytes, body: bytes, keyless: bool
) -> list[dict[str, str]]:
    """The flood's request headers, made before it starts."""
    base = {"Content-Type": MSGPACK, "Accept": MSGPACK}
    if keyless:
        return [base]
    authority = urlsplit(url).netloc
    created = int(time.time())
    return [
        base
        | sign_request(
            key,
            method="POST",
            authority=authority,
            path=PATH,
            query="",
            body=body,
            recipient=recipient,
            created=created,
            nonce=encode_nonce(secrets.token_bytes(16)),
        )
        for _ in range(PRESIGNED)
    ]


async def main(url: str, seed: bytes, recipient: bytes, mode: str) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    counts: Counter[str] = Counter()
    body = codec.encode({"hash": bytes(32)})
    headers = presigned(url, SigningKey.from_seed(seed), recipient, body, mode == "keyless")
    turn = itertools.cycle(headers)
    refused = 429 if mode == "peer" else 401
    connector = aiohttp.TCPConnector(limit=WORKERS)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while not stop.is_set():
                try:
                    async with session.post(url + PATH, data=body, headers=next(turn)) as answer:
                        await answer.read()
                        counts[str(answer.status)] += 1
                        if answer.status == refused and counts[str(refused)] == 1:
                            print("throttled", flush=True)  # refused: the flood is on
                except (aiohttp.ClientError, OSError):
                    counts["transport"] += 1

        print("ready", flush=True)
        tasks = [asyncio.create_task(worker()) for _ in range(WORKERS)]
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {int(sys.argv[5]) if len(sys.argv) > 5 else cpus[-1]})
    mode = sys.argv[4] if len(sys.argv) > 4 else "peer"
    asyncio.run(main(sys.argv[1], bytes.fromhex(sys.argv[2]), codec.unb64u(sys.argv[3], 32), mode))
