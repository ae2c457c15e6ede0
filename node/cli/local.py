"""The commands that work without a running node: ``init``, ``serve`` and ``verify``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from node import config as cfg
from node.backup.keyfile import MOVE_IT, MOVE_IT_FEDERATION, RECOVERY_FILE
from node.cli.base import (
    QUORUM_HELP,
    SIGNED_BALLOTS_HELP,
    cli,
    emit,
    json_option,
    parse_quorum,
    parse_share,
    parse_signed_ballots,
    tally_words,
)
from node.cli.countries import country_code
from node.errors import CliError
from node.rules.council import FoundCouncil, RuleError, Rules
from node.rules.council.rules import impossible
from node.rules.council.ruleset import MAJORITIES, SIGNED_BALLOTS_DEFAULT
from protocol import codec
from protocol.bundle import verify_bundle
from protocol.codec import jsonable
from protocol.errors import DecodeError, VerificationError
from protocol.keys import PublicKey
from protocol.note import KeyKind, parse_vkey
from protocol.recount import recount


def _country(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not value:
        return value
    try:
        return country_code(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--kind",
    type=click.Choice(["council", "federation"]),
    default="council",
    show_default=True,
    help="a city council, or a federation body (a country one with --country, else a continent one)",
)
@click.option("--name", required=True, help="the council's (or federation's) name, English or Latin script")
@click.option("--name-fa", default="", help="the council's (or federation's) name in Persian")
@click.option("--city", default="", help="the council's city (a council needs it)")
@click.option("--country", default="", callback=_country, help="ISO 3166 alpha-2 country code, e.g. CA or DE")
@click.option("--continent", required=True, help="e.g. 'North America', 'Europe'")
@click.option("--listen", default=cfg.DEFAULT_LISTEN, show_default=True, help="HOST:PORT to serve on")
@click.option("--url", default=None, help="the public URL peers and members reach (default: http://LISTEN)")
@click.option(
    "--majority",
    type=click.Choice(MAJORITIES),
    default="simple",
    show_default=True,
    help="the majority rule (docs/governance.md)",
)
@click.option(
    "--rules-majority",
    type=click.Choice(MAJORITIES),
    default=None,
    help="the majority that decides rules motions (default: the majority rule)",
)
@click.option("--quorum", default=None, help=f"participants needed: {QUORUM_HELP}")
@click.option(
    "--board-seats",
    type=click.IntRange(0, 1000),
    default=3,
    show_default=True,
    help="seats on the executive board, filled by election",
)
@click.option(
    "--publish-tallies/--no-publish-tallies",
    default=True,
    show_default=True,
    help="whether public decisions carry exact vote counts",
)
@click.option(
    "--quorum-cap/--no-quorum-cap",
    default=True,
    show_default=True,
    help="a quorum never asks for more than the active members when a vote opens (members leaving cannot "
    "lock the council out)",
)
@click.option(
    "--federation",
    "federation",
    nargs=2,
    default=None,
    metavar="URL KEY",
    help="the federation body this node applies to (a council to its country's or continent's, a country "
    "federation to its continent's): its URL and key",
)
@click.option(
    "--census-bucket",
    type=click.IntRange(1, 1_000_000),
    default=1,
    show_default=True,
    help="publish member counts rounded down to a multiple of this (privacy of small councils)",
)
@click.option("--signed-ballots", default=None, help=SIGNED_BALLOTS_HELP)
@click.option(
    "--requisition",
    default="1/5",
    show_default=True,
    metavar="NUM/DEN",
    help="the share of active members whose requisitions oblige the board to convene an assembly",
)
@click.option(
    "--requisition-delay",
    type=click.IntRange(1, 365),
    default=30,
    show_default=True,
    metavar="DAYS",
    help="the days the board has to convene a requisitioned assembly before a requisitioner may",
)
@click.option(
    "--recovery-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="where to write the recovery file (root key and backup key): best on a removable disk, off "
    "this machine (default: DIRECTORY/recovery.txt, to be moved off the machine at once)",
)
@click.option(
    "--founding",
    type=click.IntRange(0, 1000),
    default=3,
    show_default=True,
    help="a federation: how many members its operator admits alone, as founders; every later admission, "
    "and every suspension, executes a proposal the member councils adopted",
)
@json_option
def init(
    directory: Path,
    kind: str,
    name: str,
    name_fa: str,
    city: str,
    country: str,
    continent: str,
    listen: str,
    url: str | None,
    majority: str,
    rules_majority: str | None,
    quorum: str | None,
    board_seats: int,
    publish_tallies: bool,
    quorum_cap: bool,
    federation: tuple[str, str] | None,
    census_bucket: int,
    signed_ballots: str | None,
    requisition: str,
    requisition_delay: int,
    recovery_file: Path | None,
    founding: int,
    as_json: bool,
) -> None:
    """Create a node's data folder: root key, operator key, database, and the founding entry."""
    from node.bootstrap import init_node  # the database layer: only init needs it
    from node.rules.fedbody import FoundFederation

    found: FoundCouncil | FoundFederation
    if kind == "council":
        signed = parse_signed_ballots(signed_ballots)  # judged by Rules
        parsed = parse_quorum(quorum)
        why = impossible(parsed, None, quorum_cap)
        if why is not None:
            raise CliError(
                f"--quorum {quorum}: these rules could never decide anything: {why}", "impossible-rules"
            )
        rules = Rules(
            majority=majority,  # type: ignore[arg-type]  # click.Choice keeps it to the rules MAJORITIES names
            rules_majority=rules_majority,  # type: ignore[arg-type]  # likewise
            quorum=parsed,
            board_seats=board_seats,
            publish_tallies=publish_tallies,
            quorum_cap=quorum_cap,
            census_bucket=census_bucket,
            signed_ballots=SIGNED_BALLOTS_DEFAULT if signed is None else signed,  # type: ignore[arg-type]
            requisition=tuple(parse_share(requisition) or ()),  # type: ignore[arg-type]  # judged by Rules
            requisition_delay_days=requisition_delay,
        )
        found = FoundCouncil(
            name=name, name_fa=name_fa, city=city, country=country, continent=continent, rules=rules
        )
    else:
        found = FoundFederation(
            name=name,
            level="country" if country else "continent",
            continent=continent,
            name_fa=name_fa,
            country=country,
            founding=founding,
        )
    _options_fit_the_kind(click.get_current_context(), kind, city, country)  # after the values' own checks
    link = None
    if federation is not None:
        try:
            link = (federation[0], codec.unb64u(federation[1], 32))
        except DecodeError as exc:
            raise CliError(f"--federation KEY is a 32-byte key in base64url: {exc}") from exc
    config = init_node(directory, found, listen=listen, url=url, federation=link, recovery_file=recovery_file)
    key = codec.b64u(config.node_id)
    what = "council key (give it to members and peers)"
    if kind == "federation":
        what = "federation key (give it to the councils and federations that apply, and to peers)"
    recovery = recovery_file or directory / RECOVERY_FILE
    warning = MOVE_IT if kind == "council" else MOVE_IT_FEDERATION
    move = "" if recovery_file else f"\nMOVE IT OFF THIS MACHINE NOW. {warning}"
    emit(
        as_json,
        {
            "dir": str(directory),
            "node_id": config.node_id,
            "url": config.url,
            "kind": kind,
            "recovery_file": str(recovery),
            "recovery_file_inside": recovery_file is None,
        },
        lambda v: (
            f"initialised {name} in {directory}\n{what}: {key}\n"
            f"recovery file: {recovery}{move}\n"
            f"start it with: shora serve {directory}\n"
            f"then, once it runs: shora keys rotate --dir {directory} (the root key delegates a signing "
            'key to the node: README, "Where the keys live")'
        ),
    )


# a council's rules and place: a federation body has none of them
COUNCIL_ONLY = {
    "city": "--city",
    "majority": "--majority",
    "quorum": "--quorum",
    "board_seats": "--board-seats",
    "publish_tallies": "--publish-tallies/--no-publish-tallies",
    "quorum_cap": "--quorum-cap/--no-quorum-cap",
    "census_bucket": "--census-bucket",
    "requisition": "--requisition",
    "requisition_delay": "--requisition-delay",
}


def _options_fit_the_kind(ctx: click.Context, kind: str, city: str, country: str) -> None:
    """A usage error for an option the kind of node has no use for, or a council without its place."""
    if kind == "federation":
        given = [
            flag
            for name, flag in COUNCIL_ONLY.items()
            if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
        ]
        if given:
            raise click.UsageError(
                f"{', '.join(given)}: {'a council setting' if len(given) == 1 else 'council settings'}; "
                "a federation body has no city, board or rules "
                "of its own (leave them out, or init a council without --kind federation)"
            )
    elif not city or not country:
        raise click.UsageError(
            "a council needs its --city and its --country (an ISO code such as CA or DE): the federations "
            "and their summaries place it by them"
        )


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--peers-unreachable-ok",
    is_flag=True,
    help="append even if no peer answers at start (only when every peer is gone for good and this "
    "node's log is surely its newest: otherwise it could sign a second entry where a lost one stands)",
)
def serve(directory: Path, peers_unreachable_ok: bool) -> None:
    """Run the node until interrupted (Ctrl-C or SIGTERM)."""
    from node.http.server import AlreadyServing, run

    config = cfg.load(directory)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        run(config, peers_unreachable_ok=peers_unreachable_ok)
    except AlreadyServing as exc:
        raise CliError(str(exc), "already-serving") from exc


def _witness(text: str) -> tuple[str, PublicKey]:
    try:
        key = parse_vkey(text)
    except DecodeError as exc:
        raise click.BadParameter(f"a witness is a note verifier key (name+hash+base64): {exc}") from exc
    if key.kind is not KeyKind.COSIGNATURE_V1:
        raise click.BadParameter("a witness key must be a cosignature/v1 key")
    return key.name, key.public_key


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--council", "council_key", required=True, help="the council's key (base64url)")
@click.option("--witness", "witnesses", multiple=True, help="a trusted witness's verifier key; repeatable")
@click.option(
    "--min-cosignatures",
    type=click.IntRange(0, 100),
    default=None,
    help="how many of the --witness keys must have cosigned  [default: every one]",
)
@json_option
def verify(
    file: Path, council_key: str, witnesses: tuple[str, ...], min_cosignatures: int | None, as_json: bool
) -> None:
    """Verify a decision bundle offline; exit 0 only if every check passes."""
    try:
        key = PublicKey(codec.unb64u(council_key, 32))
    except DecodeError as exc:
        raise CliError(f"--council is not a council key: {exc}") from exc
    trusted = [_witness(w) for w in witnesses]
    try:
        verified = verify_bundle(file.read_bytes(), key, trusted, min_cosignatures)
    except VerificationError as exc:
        if exc.step == "encoding":
            raise CliError(
                f"NOT VALID — {file} is incomplete or damaged: it is not a decision bundle as shora writes "
                "one (fetch it again: shora bundle DECISION -o FILE)",
                "not-valid",
            ) from exc
        raise CliError(f"NOT VALID — {exc.step}: {exc.message}", "not-valid") from exc
    body = verified.body
    try:
        recounted = recount(body)
    except VerificationError as exc:
        raise CliError(f"NOT VALID — {exc.step}: {exc.message}", "not-valid") from exc
    result: dict[str, Any] = {
        "recounted": recounted,
        "valid": True,
        "council": verified.council,
        "log_id": verified.log_id,
        "seq": verified.seq,
        "decision_id": verified.id,
        "record_id": (body.get("record") or {}).get("entry"),  # the record entry it publishes
        "ts_ms": verified.ts_ms,
        "visibility": verified.vis,
        "text": body.get("text"),
        "motion_kind": body.get("motion_kind"),
        "outcome": body.get("outcome"),
        "tally": jsonable(body.get("tally")),
        "participants": body.get("participants"),
        "elected": jsonable(body.get("elected")),
        "checkpoint_size": verified.checkpoint.size,
        "cosigners": [{"name": c.name, "timestamp": c.timestamp} for c in verified.cosigners],
    }
    emit(as_json, result, _describe)


# bidi embeddings, overrides and isolates, and the marks: they reorder what a terminal shows
ESCAPED = ("Cc", "Zl", "Zp")  # control characters, line and paragraph separators
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def shown(value: object) -> str:
    """Signed text as printed: control characters, line and paragraph separators and bidi controls are
    written as \\uXXXX escapes, so no motion text or name can print a line of the verifier's own (issue 13).
    ZWNJ and other joiners Persian needs are kept."""
    import unicodedata

    text = "" if value is None else str(value)
    return "".join(
        f"\\u{ord(c):04x}" if c == "\\" or c in BIDI_CONTROLS or unicodedata.category(c) in ESCAPED else c
        for c in text
    )


def _describe(v: dict[str, Any]) -> str:
    import datetime

    when = datetime.datetime.fromtimestamp(v["ts_ms"] / 1000, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    council = v["council"] or {}
    lines = [
        "VALID decision",
        f"  council:     {shown(council.get('name', '?'))} {shown(council.get('name_fa', ''))}".rstrip()
        + f" ({shown(council.get('city', ''))}, {shown(council.get('country', ''))})",
        f"  decision:    #{v['seq']} {codec.b64u(v['decision_id'])}",
        f"  decided:     {when}",
        f"  motion:      [{shown(v['motion_kind'])}] {shown(v['text'])}",
        f"  outcome:     {shown(v['outcome'])}"
        + ("   (recounted from the tally and the rules)" if v["recounted"] else "   (not recounted)"),
    ]
    if v["tally"] is not None:
        tally = shown(tally_words(v["tally"]))
        lines.append(f"  tally:       {tally}   participants present: {shown(v['participants'])}")
    else:
        lines.append("  tally:       not published by this council")
    lines.append(f"  checkpoint:  tree size {v['checkpoint_size']}, signed by the council")
    if v["cosigners"]:
        lines += [f"  cosigned by: {shown(c['name'])} at {c['timestamp']}" for c in v["cosigners"]]
    else:
        lines.append("  cosigned by: nobody (no witnesses were required)")
    return "\n".join(lines)


__all__ = ["RuleError", "init", "serve", "verify"]
