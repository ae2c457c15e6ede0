"""node/web/static/msgpack.js against protocol/codec.py: the same bytes accepted, the same refused.

The committed codec vectors, hand-made non-canonical forms, text that is not NFC or not assigned in the
pinned Unicode version, and random one-byte mutations of canonical values: for each, the JS decoder accepts
exactly when ``codec.decode`` does, and what it accepts it encodes again to the same bytes.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import msgpack
import pytest

from protocol import codec
from protocol.errors import DecodeError

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "codec.json").read_text())
STATIC = Path(__file__).resolve().parents[2] / "node" / "web" / "static"
HANDMADE = [
    b"\xcc\x01", b"\xcd\x00\xff", b"\xcf" + b"\x00" * 7 + b"\x01", b"\xd0\x05", b"\xd3" + b"\x00" * 8,
    b"\xd9\x03abc", b"\xc5\x00\x03abc", b"\xdc\x00\x01\x01", b"\xde\x00\x01\xa1a\x01",
    b"\xca\x3f\x80\x00\x00", b"\xcb\x3f\xf0" + b"\x00" * 6, b"\xd4\x01\x00", b"\xc7\x00\x05", b"\xc1",
    b"\xcf" + b"\xff" * 8, b"\xcf\x80" + b"\x00" * 7, b"\x81\xc4\x01a\x02", b"\x82\xa1b\x01\xa1a\x02",
    b"\x82\xa1a\x01\xa1a\x02", b"\x00\x00", b"", b"\x92\x01", b"\xa3ab", b"\xa2\xc3\x28",
    msgpack.packb("e\u0301"), msgpack.packb("\U0001faf7"), msgpack.packb("\u0628\u0627"),
    msgpack.packb({"\U00010000": 1, "\uffff": 2}), msgpack.packb({"\uffff": 2, "\U00010000": 1}),
    msgpack.packb([[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]), msgpack.packb([[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]),
    msgpack.packb(list(range(10_001))), msgpack.packb(-(2**63)), msgpack.packb(2**53 + 1),
]  # fmt: skip


def python_accepts(data: bytes) -> bool:
    try:
        codec.decode(data)
    except DecodeError:
        return False
    return True


@pytest.fixture
def codec_page(static_page: Any) -> Any:
    for name in ("assigned.js", "msgpack.js"):
        static_page.add_script_tag(content=(STATIC / name).read_text(encoding="utf-8"))
    return static_page


def js_verdicts(page: Any, samples: list[bytes]) -> list[Any]:
    return page.evaluate(  # type: ignore[no-any-return]
        """(samples) => samples.map((s) => {
            const m = globalThis.shora.msgpack;
            const data = Uint8Array.from(s);
            try {
                const again = m.encode(m.decode(data, m.Limits(1 << 20, 16, 10000)));
                return m.compareBytes(again, data) === 0 ? "same" : "different";
            } catch (e) {
                if (e instanceof m.DecodeError) return "refused";
                return `crash: ${e}`;
            }
        })""",
        [list(s) for s in samples],
    )


def check(page: Any, samples: list[bytes]) -> None:
    got = js_verdicts(page, samples)
    want = ["same" if python_accepts(s) else "refused" for s in samples]
    assert [(s.hex(), g) for s, g, w in zip(samples, got, want, strict=True) if g != w] == []


def test_vectors_and_handmade_forms(codec_page: Any) -> None:
    check(codec_page, [bytes.fromhex(v["hex"]) for v in VECTORS] + HANDMADE)


def test_random_mutations(codec_page: Any) -> None:
    rng = random.Random(15)
    bases = [bytes.fromhex(v["hex"]) for v in VECTORS if len(v["hex"]) > 4]
    samples = []
    for base in bases:
        for _ in range(12):
            at = rng.randrange(len(base))
            samples.append(base[:at] + bytes([rng.randrange(256)]) + base[at + 1 :])
    check(codec_page, samples)
