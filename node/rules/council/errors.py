"""The one error of the governance package.

Every refusal — of a command in ``execute`` or of a stored entry in ``apply`` — is a ``RuleError`` naming the
rule that refused (``"vote.not-present"``, ``"motion.assembly-closed"`` …), so the CLI and HTTP layers can map
it to exit status 1 / a 4xx ``{"error": rule, "message": …}`` in one place. It is the ``Refusal`` branch of
node/'s error tree (``node.errors``).
"""

from __future__ import annotations

from node.errors import RuleError

__all__ = ["RuleError"]
