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
from node.rules.council import RuleError
from protocol.errors import KeyFileError, ProtocolError

__all__ = ["cli", "federation", "local", "main", "remote"]


def main(argv: list[str] | None = None) -> None:
    as_json = "--json" in (sys.argv[1:] if argv is None else argv)
    try:
        cli.main(args=argv, prog_name="shora", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ClientError as exc:
        _fail(exc.code, exc.message, as_json)
    except CliError as exc:
        _fail(exc.code, str(exc), as_json)
    except RuleError as exc:
        _fail(exc.rule, exc.message, as_json)
    except cfg.ConfigError as exc:
        _fail("data-folder", str(exc), as_json)
    except KeyFileError as exc:
        _fail("key-file", str(exc), as_json)
    except ProtocolError as exc:
        _fail("bad-data", str(exc), as_json)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        _fail("os-error", f"{where}{(exc.strerror or 'the system refused').lower()}", as_json)


def _fail(code: str, message: str, as_json: bool) -> None:
    """``--json``: the error object on stdout and nothing else; otherwise ``shora: message`` on stderr."""
    if as_json:
        click.echo(json.dumps({"error": code, "message": message}, ensure_ascii=False))
    else:
        click.echo(f"shora: {message}", err=True)
    sys.exit(1)
