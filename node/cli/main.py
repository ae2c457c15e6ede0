"""``shora``: the command line (DESIGN.md §8). Thin: parse, call, print.

``init``, ``serve`` and ``verify`` work locally; every other command signs a request to the running node
with the operator key. Errors reach one place (``main``): a message on stderr and exit status 1; click's
usage errors exit 2. ``--json`` prints one JSON object on stdout.
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
    ops,
    rekey,
    remote,
)
from node.cli.base import cli
from node.errors import NodeError
from protocol.errors import ProtocolError

__all__ = ["backup", "cli", "federation", "keys", "local", "main", "ops", "rekey", "remote"]


def main(argv: list[str] | None = None) -> None:
    """Run ``shora``. Click answers its own usage errors (exit 2); every refusal and failure — node/'s
    error tree, protocol/'s, the OS's — is one message on stderr (and, with ``--json``, one object on
    stdout) and exit status 1."""
    try:
        cli.main(args=argv, prog_name="shora")
    except (NodeError, ProtocolError, OSError) as exc:
        if isinstance(exc, NodeError):
            code = exc.code
        else:
            code = "os-error" if isinstance(exc, OSError) else type(exc).__name__
        message = str(exc)
        if "--json" in (sys.argv if argv is None else argv):
            click.echo(json.dumps({"error": code, "message": message}, ensure_ascii=False))
        click.echo(f"shora: {message}", err=True)
        sys.exit(1)
