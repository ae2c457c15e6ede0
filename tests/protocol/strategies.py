"""Hypothesis strategies shared by the protocol tests."""

from __future__ import annotations

import unicodedata

from hypothesis import strategies as st

from protocol import codec
from protocol.errors import DecodeError


def _canonical_char(char: str) -> bool:
    try:
        codec.check_text(char)
    except DecodeError:
        return False
    return True


# Characters assigned in the pinned Unicode version (and NFC on their own): what canonical text is made of.
canonical_chars = st.characters(codec="utf-8").filter(_canonical_char)


def canonical_text(min_size: int = 0, max_size: int = 20) -> st.SearchStrategy[str]:
    """NFC text of code points assigned in the pinned Unicode version: what the codec accepts."""
    return st.text(canonical_chars, min_size=min_size, max_size=max_size).map(
        lambda text: unicodedata.normalize("NFC", text)
    )
