"""``shora``: the command line (DESIGN.md §8). Thin: parse, call, print.

``init``, ``serve`` and ``verify`` work locally; every other command signs a request to the running node
with the operator key. Errors reach one place (``main``): a message on stderr and exit status 1; click's
usage errors exit 2. ``--json`` prints one JSON object on stdout, an error included (and nothing on stderr).
"""

from __future__ import annotations

import json
import sys

import click

from node.cli import (  # importing a command module registers its commands
    backup,
    federation,
    keys,
    local,
    member,
    ops,
    peering,
    reading,
    rekey,
    remote,
)
from node.cli.base import cli
from node.errors import NodeError
from protocol.errors import KeyFileError, ProtocolError

__all__ = [
    "backup",
    "cli",
    "federation",
    "keys",
    "local",
    "main",
    "member",
    "ops",
    "peering",
    "reading",
    "rekey",
    "remote",
]


def main(argv: list[str] | None = None) -> None:
    """Run ``shora``. Click answers its own usage errors (exit 2); every refusal and failure — node/'s
    error tree, protocol/'s, the OS's — is one message and exit status 1: ``shora: message`` on stderr,
    or with ``--json`` the object ``{"error", "message"}`` on stdout and nothing else."""
    try:
        cli.main(args=argv, prog_name="shora")
    except (NodeError, ProtocolError, OSError) as exc:
        code, message = described(exc)
        if "--json" in (sys.argv[1:] if argv is None else argv):
            click.echo(json.dumps({"error": code, "message": message}, ensure_ascii=False))
        else:
            click.echo(f"shora: {message}", err=True)
        sys.exit(1)


def described(exc: NodeError | ProtocolError | OSError) -> tuple[str, str]:
    """(kebab-case code, message for a person) of an error ``main`` reports: node/'s errors name their own
    code; protocol/'s and the OS's, which know nothing of the CLI, are named here."""
    if isinstance(exc, NodeError):
        return exc.code, str(exc)
    if isinstance(exc, ProtocolError):
        return ("key-file" if isinstance(exc, KeyFileError) else "bad-data"), str(exc)
    where = f"{exc.filename}: " if exc.filename else ""
    return "os-error", f"{where}{(exc.strerror or 'the system refused').lower()}"
