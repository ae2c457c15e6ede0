"""The one error of the governance package.

Every refusal — of a command in ``execute`` or of a stored entry in ``apply`` — is a ``RuleError`` naming the
rule that refused (``"vote.not-present"``, ``"motion.assembly-closed"`` …), so the CLI and HTTP layers can map
it to exit status 1 / a 4xx ``{"error": rule, "message": …}`` in one place.
"""

from __future__ import annotations


class RuleError(Exception):
    """A command or log entry violates a governance rule; nothing was changed."""

    rule: str
    message: str

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message
