"""The council charter: the six principles of article 3 of the 2009 resolution.

Membership is wanting these principles (article 3), so a member joins by endorsing the charter's hash
(DESIGN §1). The Persian text is authoritative; the English is a working translation shipped beside it. Each
principle is kept verbatim with its letter, exactly as printed in ``seed/resolution-2009.fa.txt``.

Charter hash (what a member endorses) — SHA-256 over the UTF-8 bytes of this fixed text layout::

    shora/charter/v1\n
    fa <n>\n
    <Persian principle 1>\n … <Persian principle n>\n
    en <n>\n
    <English principle 1>\n … <English principle n>\n

Principles are NFC, non-empty, contain no line break (so the layout is unambiguous) and the two languages have
the same number of principles.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from protocol import codec
from protocol.errors import DecodeError

from .errors import RuleError
from .limits import MAX_TEXT

PRINCIPLES_FA: tuple[str, ...] = (
    "الف) سرنگونی انقلابی رژیم اسلامی؛",
    "ب) تحقق آزادی های بی قید و شرط سیاسی؛",
    "ج) آزادی و برابری بی قید و شرط زن و مرد؛",
    "د) رفع هرگونه تبعیض حقوقی و اجتماعی؛",
    "ه) جدایی دین از دولت و آزادی مذهب و بی مذهبی.",
    "و) از مبارزه برای استقرار جامعه ای آزاد، برابر، سکولار و سوسیالیستی حمایت میکنند.",
)

PRINCIPLES_EN: tuple[str, ...] = (
    "a) the revolutionary overthrow of the Islamic regime;",
    "b) the realisation of unconditional political freedoms;",
    "c) unconditional freedom and equality of women and men;",
    "d) the abolition of every form of legal and social discrimination;",
    "e) the separation of religion from the state, and freedom of religion and of irreligion;",
    "f) support for the struggle to establish a free, equal, secular and socialist society.",
)


@dataclass(frozen=True)
class Charter:
    """A charter in Persian (authoritative) and English; an invalid charter cannot be constructed."""

    fa: tuple[str, ...] = PRINCIPLES_FA
    en: tuple[str, ...] = PRINCIPLES_EN

    def __post_init__(self) -> None:
        if not self.fa or len(self.fa) != len(self.en):
            raise RuleError("charter.malformed", "fa and en need the same non-zero count of principles")
        for text in (*self.fa, *self.en):
            if not isinstance(text, str) or not text or "\n" in text or "\r" in text:
                raise RuleError("charter.malformed", "a principle is a non-empty single line of text")
            if len(text) > MAX_TEXT:
                raise RuleError("limit.text", f"a principle is limited to {MAX_TEXT} characters")
            try:
                codec.check_text(text, "a principle")
            except DecodeError as exc:  # not NFC, or unassigned in the pinned Unicode version
                raise RuleError("charter.malformed", str(exc)) from exc

    def canonical_bytes(self) -> bytes:
        lines = ["shora/charter/v1", f"fa {len(self.fa)}", *self.fa, f"en {len(self.en)}", *self.en]
        return "".join(line + "\n" for line in lines).encode("utf-8")

    def hash(self) -> bytes:
        return hashlib.sha256(self.canonical_bytes()).digest()

    def to_body(self) -> dict[str, Any]:
        return {"fa": list(self.fa), "en": list(self.en)}


DEFAULT_CHARTER = Charter()
