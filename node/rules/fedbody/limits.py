"""Size limits on what a federation body's command may write into its log (one place, documented defaults).

Texts and names share the council's limits (``node.rules.council.limits``), so a proposal may carry what a
motion may.
"""

from __future__ import annotations

from typing import Final

from node.rules.council.limits import ENTRY_ID_LEN, MAX_NAME, MAX_TEXT

KEY_LEN: Final = 32  # a log id is its root Ed25519 public key: councils, federations
MAX_REASON: Final = 5_000  # the operator's reason for a roster change
MAX_URL: Final = 500
MAX_GRACE_MS: Final = 90 * 86_400_000  # the longest a result may wait for councils not heard from
MAX_ANSWERS: Final = 5_000  # answers listed in one proposal/result (counted and refused together)
MAX_REQUESTS: Final = 5_000  # councils' requests named behind one proposal

__all__ = [
    "ENTRY_ID_LEN", "KEY_LEN", "MAX_ANSWERS", "MAX_GRACE_MS", "MAX_NAME", "MAX_REASON", "MAX_REQUESTS",
    "MAX_TEXT", "MAX_URL",
]  # fmt: skip
