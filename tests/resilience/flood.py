"""A peer sending gossip as fast as it can, in its own process: ``python -m tests.resilience.flood URL SEED
RECIPIENT``. Prints ``ready``, then ``throttled`` at its first 429; runs until SIGTERM, then prints
``{status: count}`` as JSON on stdout.

It runs at the lowest CPU priority (``os.nice(19)``) and signs each request as it sends it, so on a
loaded machine it sends far less than "as fast as it can" (about 59 a second was measured): it does not
model issue 11's flood, see the Floods section of docs/resilience.md."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections import Counter

import aiohttp

from federation.client import SignedClient, TransportError
from protocol import codec
from protocol.keys import SigningKey

MSGPACK = "application/msgpack"
WORKERS = 16


async def main(url: str, seed: bytes, recipient: bytes) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    counts: Counter[str] = Counter()
    body = codec.encode({"hash": bytes(32)})
    async with aiohttp.ClientSession() as session:
        client = SignedClient(session, url, SigningKey.from_seed(seed), recipient, timeout=10)

        async def worker() -> None:
            while not stop.is_set():
                try:
                    answer = await client.request(
                        "POST",
                        "/v1/federation/digest",
                        body,
                        content_type=MSGPACK,
                        accept=MSGPACK,
                        check=False,
                    )
                    counts[str(answer.status)] += 1
                    if answer.status == 429 and counts["429"] == 1:
                        print("throttled", flush=True)  # past its quota: the flood is on
                except TransportError:
                    counts["transport"] += 1

        print("ready", flush=True)
        await asyncio.gather(*(worker() for _ in range(WORKERS)))
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    os.nice(19)
    asyncio.run(main(sys.argv[1], bytes.fromhex(sys.argv[2]), codec.unb64u(sys.argv[3], 32)))
