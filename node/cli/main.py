"""``shora``: the command line (DESIGN.md §8). Thin: parse, call, print.

``init``, ``serve`` and ``verify`` work locally; every other command signs a request to the running node
with the operator key. Errors reach one place (``main``): a message on stderr and exit status 1; click's
usage errors exit 2. ``--json`` prints one JSON object on stdout.
"""

from __future__ import annotations

import json
import sys

import click

from node import config as cfg
from node.cli import federation, local, remote  # importing a command module registers its commands
from node.cli.base import CliError, cli
from node.cli.client import ClientError
from protocol.errors import KeyFileError, ProtocolError

__all__ = ["cli", "federation", "local", "main", "remote"]


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="shora", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ClientError as exc:
        _fail(exc.code, exc.message)
    except (CliError, cfg.ConfigError, KeyFileError, ProtocolError) as exc:
        _fail(type(exc).__name__, str(exc))
    except OSError as exc:
        _fail("os-error", str(exc))


def _fail(code: str, message: str) -> None:
    if "--json" in sys.argv:
        click.echo(json.dumps({"error": code, "message": message}, ensure_ascii=False))
    click.echo(f"shora: {message}", err=True)
    sys.exit(1)
