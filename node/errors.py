"""Every error node/ raises on purpose, as one tree: catch a branch, not a list of classes.

    NodeError                 anything node/ refuses or fails at on purpose; the CLI prints it, exits 1
    ├── BadData               input that is not what it must be: fix the input, retrying will not help
    │   ├── ConfigError       a data folder, node.json or key file that cannot be used  (node.config)
    │   └── ApplicationError  an application to a federation body this node's table refuses
    │                                                                       (node.storage.applications)
    ├── TransportError        the node could not be reached, or broke off: retry later  (node.cli.client)
    └── Refusal               a well-formed request, turned down; ``code`` says which refusal
        ├── RuleError         the rules refuse a command or an entry; ``code`` is the rule
        │                     (``vote.not-present``)                                    (node.rules)
        ├── ApiRefusal        the node's API answered ``{"error", "message"}``; ``code`` is its error
        │                                                                        (node.cli.client)
        ├── InitError         ``shora init`` will not touch the folder it was given     (node.bootstrap)
        └── CliError          the command line will not do what it was asked (a bad ``--quorum``,
                              options that do not go together)                          (node.cli.base)

Not in the tree, by design: ``protocol``'s ``ProtocolError`` (bad bytes, a failed proof — that layer's own
tree, caught beside this one where node/ meets it), the OS's ``OSError``, ``federation``'s errors (mapped
where the replication engine meets them), and ``node.http.wire.ApiError``, which is not raised to a caller
but is aiohttp's answer: the HTTP middleware makes one from a ``RuleError`` (422) or bad data (400).
"""

from __future__ import annotations


class NodeError(Exception):
    """The root: ``str(error)`` is the message for a person; ``code`` a stable kebab-case name for a
    program (``shora --json`` prints it as ``error``). Each class names its own ``default_code``."""

    default_code = "error"

    @property
    def code(self) -> str:
        return self.default_code


class BadData(NodeError):
    """Input that is not what it must be."""

    default_code = "bad-data"


class ConfigError(BadData):
    """A data folder, ``node.json`` or key file that cannot be used."""

    default_code = "data-folder"


class ApplicationError(BadData):
    """An application to a federation body that this node's table refuses."""

    default_code = "bad-application"


class TransportError(NodeError):
    """The node could not be reached, or the exchange broke off."""

    default_code = "unreachable"


class Refusal(NodeError):
    """A well-formed request that was turned down."""

    default_code = "refused"


class RuleError(Refusal):
    """A command or log entry violates a rule; nothing was changed. ``rule`` names it."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule, self.message = rule, message

    @property
    def code(self) -> str:
        return self.rule


class ApiRefusal(Refusal):
    """The node's API refused a request: ``error`` is its code, ``status`` the HTTP status."""

    def __init__(self, error: str, message: str, status: int) -> None:
        super().__init__(message)
        self.error, self.message, self.status = error, message, status

    @property
    def code(self) -> str:
        return self.error


class InitError(Refusal):
    """``shora init`` refuses to create a node where it was asked to."""

    default_code = "folder-not-empty"


class CliError(Refusal):
    """The command line will not do what it was asked; ``code`` names the refusal (default ``refused``)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.default_code = code
