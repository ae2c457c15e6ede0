"""The root ``shora`` group and what every command module shares: options, printing, the remote call."""

from __future__ import annotations

import datetime
import functools
import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from node import VERSION
from node import config as cfg
from node.cli.client import NodeClient
from node.errors import CliError
from node.rules.council import Quorum, RuleError
from node.words import plural as plural  # re-exported: the commands take it from here
from protocol.codec import jsonable

QUORUM_HELP = "a count (12) or a fraction of active members (1/3)"


def parse_quorum(text: str | None) -> Quorum | None:
    """``--quorum``: a count ≥ 1 or a fraction num/den with 0 < num ≤ den (the rules' own check,
    ``Quorum``); anything else is refused with one clear message."""
    if not text:
        return None
    num, slash, den = text.partition("/")
    try:
        return Quorum(fraction=(int(num), int(den))) if slash else Quorum(count=int(num))
    except ValueError as exc:
        raise CliError(f"--quorum {text!r}: a quorum is {QUORUM_HELP}") from exc
    except RuleError as exc:  # 0, -1, 5/3, 1/0: the rules say what is wrong with it
        raise CliError(f"--quorum {text!r}: a quorum is {QUORUM_HELP}; {exc.message}") from exc


SIGNED_BALLOTS_HELP = (
    "motion kinds on which a member who holds a key votes only with their own signed ballot, "
    "comma-separated, or none (default: election,recall)"
)


def parse_share(text: str | None) -> list[int] | None:
    """``--requisition 1/5``: a share num/den of the active members (the rules judge its bounds)."""
    if text is None:
        return None
    num, slash, den = text.partition("/")
    try:
        if not slash:
            raise ValueError(text)
        return [int(num), int(den)]
    except ValueError as exc:
        raise CliError(f"--requisition {text!r}: a share of the active members is num/den (1/5)") from exc


def parse_signed_ballots(text: str | None) -> tuple[str, ...] | None:
    """``--signed-ballots election,recall`` (or ``none``): the motion kinds, sorted; the rules judge them."""
    if text is None:
        return None
    return tuple(sorted({k.strip() for k in text.split(",") if k.strip()} - {"none"}))


def dir_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--dir",
        "data_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="the node's data folder (default: shora --dir, SHORA_DIR, or the current folder)",
    )(f)


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="print one JSON object")(f)


def _outer(name: str) -> Any:
    """The value of option ``name`` given to a group around the running command (``shora --dir X …``)."""
    ctx = click.get_current_context().parent
    while ctx is not None:
        if ctx.params.get(name) not in (None, False):
            return ctx.params[name]
        ctx = ctx.parent
    return None


def data_folder(data_dir: Path | None) -> Path:
    """The folder a command works on: its own ``--dir``, else its group's (``shora --dir``, SHORA_DIR),
    else the current folder."""
    return data_dir or _outer("data_dir") or Path(".")


def wants_json(as_json: bool) -> bool:
    """``--json`` given to the command or to a group around it."""
    return as_json or bool(_outer("as_json"))


def when(ts_ms: int, seconds: bool = False) -> str:
    """A time as the CLI prints it, in UTC."""
    fmt = "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M"
    return datetime.datetime.fromtimestamp(ts_ms / 1000, datetime.UTC).strftime(fmt)


def short(b64: str) -> str:
    """The first characters of an id: enough to tell ids apart in a table, and to paste back (a prefix)."""
    return b64[:10]


def tally_words(tally: dict[str, Any], name: Callable[[str], str] = short) -> str:
    """A decision's tally as a sentence: ``yes 2, no 1, abstain 0``, or an election's approvals by name."""
    if "approvals" in tally:
        ranked = sorted(tally["approvals"], key=lambda pair: (-pair[1], name(pair[0])))
        approvals = ", ".join(f"{name(member)} {count}" for member, count in ranked) or "no candidates"
        return f"{approvals} ({plural(tally['ballots'], 'ballot')})"
    order = {"yes": 0, "no": 1, "abstain": 2}  # as people say it, not as the canonical encoding sorts it
    ranked = sorted(tally.items(), key=lambda item: (order.get(item[0], 3), item[0]))
    return ", ".join(f"{choice} {count}" for choice, count in ranked)


def emit(as_json: bool, value: dict[str, Any], human: Callable[[dict[str, Any]], str]) -> None:
    if wants_json(as_json):
        click.echo(json.dumps(jsonable(value), ensure_ascii=False))
    else:
        click.echo(human(value))


def remote(f: Callable[..., Any]) -> Callable[..., Any]:
    """A command that talks to the running node: gets ``client`` instead of ``data_dir``."""

    @dir_option
    @json_option
    @functools.wraps(f)
    def wrapper(data_dir: Path | None, as_json: bool, **kwargs: Any) -> None:
        client = NodeClient(cfg.load(data_folder(data_dir)))
        f(client, wants_json(as_json), **kwargs)

    return wrapper


# a base64url id is [A-Za-z0-9_-]; one in 64 begins with "-" (one in 4096 with "--")
_DASHED_ID = re.compile(r"-[A-Za-z0-9_][A-Za-z0-9_-]{2,}|--[A-Za-z0-9_-]{18,}")


def ids_as_arguments(command: click.Command, ctx: click.Context, args: list[str]) -> list[str]:
    """``args`` with every dash-led id that is not one of ``command``'s options moved behind ``--``.

    Without this, click takes an id such as ``-IRYZ…`` (printed by shora itself) for an unknown option and
    the command cannot be copy-pasted. Options keep their values and their place; arguments keep their order.
    """
    takes_value: dict[str, int] = {}  # option name -> how many values follow it
    for param in command.get_params(ctx):
        if isinstance(param, click.Option):
            for name in (*param.opts, *param.secondary_opts):
                takes_value[name] = 0 if param.is_flag or param.count else param.nargs
    options: list[str] = []
    arguments: list[str] = []
    tokens = iter(args)
    for token in tokens:
        if token == "--":
            arguments.extend(tokens)
            break
        name = token.split("=", 1)[0] if token.startswith("--") else token
        if name in takes_value:
            options.append(token)
            if takes_value[name] and name == token:
                options.extend(itertools.islice(tokens, takes_value[name]))
        elif token.startswith("-") and not _DASHED_ID.fullmatch(token):
            options.append(token)  # an unknown option: click refuses it as a usage error
        else:
            arguments.append(token)
    return [*options, "--", *arguments] if arguments else options


class _Command(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, ids_as_arguments(self, ctx, args))


class _Group(click.Group):
    command_class = _Command
    group_class = type  # subgroups are _Groups too


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(VERSION, prog_name="shora", help="print shora's version and exit")
@click.option(
    "--dir",
    "data_dir",
    envvar="SHORA_DIR",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="the node's data folder for the command that follows (or SHORA_DIR; default: the current folder)",
)
@click.option("--json", "as_json", is_flag=True, help="the command that follows prints one JSON object")
def cli(data_dir: Path | None, as_json: bool) -> None:
    """shora — the council's signed record, its assemblies and its federation."""


def namer(client: NodeClient) -> Callable[[str], str]:
    """Member ids to names from this node's private directory (the operator's own view); else a short id."""
    known = {m["member_id"]: m["name"] for m in client.call("GET", "/v1/admin/members")["members"]}
    return lambda member: known.get(member) or short(member)
