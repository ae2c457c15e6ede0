"""A council's assembly asks its federation to put a proposal to every council (issue 13).

The federation body decides nothing itself (article 2: it is the union of its councils): a federation-wide
proposal is one its councils decide. A ``request`` motion — always public, naming the federation's log id in
``federation`` and, in its text, what the councils should be asked — is decided by the council's own rules
like a policy motion; its decision repeats ``federation``. An adopted one is the council's request: the
federation's operator lists requests from the councils' replicated public logs and publishes a proposal
with ``requested_by`` naming them (``node.rules.fedbody``; ``docs/federation-governance.md``).
"""

from __future__ import annotations

from typing import Any

from .errors import RuleError
from .fields import check_bytes
from .limits import PUBKEY_LEN
from .model import Motion

KIND = "request"


def check_motion(federation: object, visibility: object) -> bytes:
    """The federation a request motion asks, or ``RuleError``."""
    if federation is None:
        raise RuleError("motion.federation-missing", "a request motion names the federation it asks")
    if visibility != "public":
        raise RuleError("request.public", "a council asks its federation in public")
    return check_bytes(federation, "federation", PUBKEY_LEN)  # a federation's log id is its root key


def outcome_fields(motion: Motion) -> dict[str, Any]:
    """The decision field a request motion adds (the federation it asks); ``{}`` for any other motion."""
    return {"federation": motion.federation} if motion.kind == KIND else {}
