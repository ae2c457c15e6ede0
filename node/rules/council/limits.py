"""Size limits on what a command may write into the log (one place, documented defaults).

They bound what one entry can cost every replica and every verifier, whatever a client sends.
"""

from __future__ import annotations

from typing import Final

MAX_TEXT: Final = 20_000  # motion texts, minutes, executive reports, one charter principle
MAX_NAME: Final = 200  # council profile fields (name, name_fa, city, country, continent)
MAX_AGENDA: Final = 5_000
MAX_CANDIDATES: Final = 100
MEMBER_ID_LEN: Final = 16  # random pseudonymous member ids (DESIGN §6)
ENTRY_ID_LEN: Final = 32  # assemblies, motions and decisions are named by the id of the entry creating them
PUBKEY_LEN: Final = 32  # Ed25519 public key a member may register for future online ballots
