"""Benchmark: sealing a record, and publishing an entry, each against its bare operation in the same run.

Run as ``python tests/bench/sealed.py``; prints one JSON line (medians over ROUNDS):

- ``seal_mb_per_s``: sealing the backup stream of a 100,000-entry record (synthetic ~380-byte entries, framed
  as stream items) into fixed 64 KiB segments — one X25519 exchange, the HPKE key schedule, ChaCha20-Poly1305
  and an Ed25519 signature per segment; ``bare_aead_mb_per_s``: ChaCha20-Poly1305 alone over the same
  plaintexts, one call per segment, with a fixed key; ``seal_ratio`` = sealed / bare throughput (1.0 would be
  free).
- ``publish_us``: one append on the split design — sign a record entry, add it to the record's tree, build and
  sign its public twin; ``sign_us``: signing one entry on the single-log design; ``publish_ratio`` =
  publish / sign (the cost of publishing, as a multiple of signing one entry).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from protocol.entry import sign_entry
from protocol.keys import SigningKey
from protocol.merkle import MemoryTree
from protocol.record import sign_record_entry, sign_twin
from protocol.sealed import CAPACITY, ITEM_RECORD, LENGTH_SIZE, BackupKey, encode_items, seal_stream, split

RECORD_ENTRIES = 100_000
ENTRY_SIZE = 380
ROUNDS = 5
PUBLISH_N = 1000
ROOT = SigningKey.from_seed(bytes([1]) * 32)
BACKUP = BackupKey.from_secret(bytes([9]) * 32)


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def bench_sealing() -> dict[str, float]:
    rng = random.Random(1)
    stream = encode_items((ITEM_RECORD, rng.randbytes(ENTRY_SIZE)) for _ in range(RECORD_ENTRIES))
    plaintexts = [len(p).to_bytes(LENGTH_SIZE, "big") + p + bytes(CAPACITY - len(p)) for p in split(stream)]
    aead, nonce = ChaCha20Poly1305(os.urandom(32)), os.urandom(12)

    def seal() -> None:
        seal_stream(stream, council=ROOT.public.raw, first_index=0, backup_public=BACKUP.public, signer=ROOT)

    def bare() -> None:
        for plaintext in plaintexts:
            aead.encrypt(nonce, plaintext, None)

    sealed = statistics.median(timed(seal) for _ in range(ROUNDS))
    bare_s = statistics.median(timed(bare) for _ in range(ROUNDS))
    mb = len(stream) / 1e6
    return {
        "record_entries": RECORD_ENTRIES,
        "stream_mb": round(mb, 1),
        "segments": len(plaintexts),
        "seal_mb_per_s": round(mb / sealed, 1),
        "bare_aead_mb_per_s": round(mb / bare_s, 1),
        "seal_ratio": round(bare_s / sealed, 3),
    }


BODY = {
    "kind": "decision",
    "motion": bytes(32),
    "assembly": bytes(32),
    "text": ("The council adopts the neighbourhood library budget for the coming year. " * 3)[:200],
    "outcome": "adopted",
    "tally": {"yes": 12, "no": 3, "abstain": 1},
}


def bench_publishing() -> dict[str, float]:
    def publish() -> None:
        tree, record_prev, public_prev = MemoryTree(), None, None
        for seq in range(PUBLISH_N):
            entry = sign_record_entry(
                ROOT,
                root_key=ROOT.public.raw,
                seq=seq,
                prev=record_prev,
                ts_ms=1_700_000_000_000 + seq,
                vis="public",
                body={**BODY, "salt": seq.to_bytes(16, "big")},
            )
            tree.append(entry.id)
            twin = sign_twin(ROOT, entry, tree.root(), root_key=ROOT.public.raw, seq=seq, prev=public_prev)
            record_prev, public_prev = entry.id, twin.id

    def sign() -> None:
        prev = None
        for seq in range(PUBLISH_N):
            prev = sign_entry(
                ROOT,
                log_id=ROOT.public.raw,
                seq=seq,
                prev=prev,
                ts_ms=1_700_000_000_000 + seq,
                vis="public",
                body=BODY,
            ).id

    published = statistics.median(timed(publish) for _ in range(ROUNDS)) / PUBLISH_N
    signed = statistics.median(timed(sign) for _ in range(ROUNDS)) / PUBLISH_N
    return {
        "publish_us": round(published * 1e6, 1),
        "sign_us": round(signed * 1e6, 1),
        "publish_ratio": round(published / signed, 2),
    }


def main() -> None:
    result = {"bench": "sealed", **bench_sealing(), **bench_publishing()}
    print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
