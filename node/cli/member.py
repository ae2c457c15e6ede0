"""``shora member invite|keygen|redeem|status|checkin|consent|vote|requisition|convene|resign|record|check``:
members acting for themselves, with their own key, over the same HTTP routes a web page calls
(``/v1/member/``; issue 12).

A member's key file (Ed25519, PKCS#8 PEM, mode 0600) is ``--key FILE``, else ``SHORA_MEMBER_KEY``, else
``~/.config/shora/member.key``; beside it ``FILE.json`` remembers which node and council the key belongs to
and the member's id (written by ``redeem``). Every command that acts signs the statement it records with
the key (``protocol.member``) and the request with the same key (RFC 9421).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from node import config as cfg
from node.cli.base import (
    cli,
    data_folder,
    dir_option,
    emit,
    json_option,
    remote,
    short,
    tally_words,
    wants_json,
    when,
)
from node.cli.client import NodeClient, SignedHttp
from node.cli.remote import member, warn_same_name
from node.errors import ApiRefusal, CliError
from node.storage.invitations import Token
from protocol import codec
from protocol.errors import DecodeError
from protocol.keys import SigningKey, load_signing_key, save_signing_key
from protocol.member import Statement, sign_statement, verify_ballot_proof

DEFAULT_KEY = Path("~/.config/shora/member.key")
TIMEOUT_S = 30.0


def key_path(given: Path | None) -> Path:
    env = os.environ.get("SHORA_MEMBER_KEY")
    return (given or (Path(env) if env else DEFAULT_KEY)).expanduser()


def key_option(f: Any) -> Any:
    return click.option(
        "--key",
        "key_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="the member's key file (default: SHORA_MEMBER_KEY or ~/.config/shora/member.key)",
    )(f)


class Profile:
    """A member's key and what ``redeem`` learnt: the node's URL and id, the council id, the member id."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.key = load_signing_key(path)
        info = path.with_name(path.name + ".json")
        if not info.exists():
            raise CliError(f"{path} has not been redeemed yet: shora member redeem INVITATION --url URL")
        try:
            raw = json.loads(info.read_text(encoding="utf-8"))
            self.url = str(raw["url"])
            self.node_id = codec.unb64u(raw["node_id"], 32)
            self.council = codec.unb64u(raw["council"], 32)
            self.member = codec.unb64u(raw["member_id"], 16)
        except (ValueError, KeyError, TypeError, DecodeError) as exc:
            raise CliError(f"{info} is damaged: redeem a new invitation") from exc
        self.client = SignedHttp(self.url, self.key, self.node_id, TIMEOUT_S, "is the council's node up?")

    def signed(self, act: str, **fields: Any) -> dict[str, str]:
        """The body of a request carrying this member's signed statement."""
        statement = Statement(act, self.council, {"member": self.member, **fields})
        return {
            "statement": codec.b64u(statement.encode()),
            "sig": codec.b64u(sign_statement(self.key, statement)),
        }


def _council_of(client: SignedHttp, node_id: bytes) -> tuple[bytes, bytes]:
    """(council id, charter hash) from the node's public log entry 0: the founding entry names its record
    twin, whose id is the council's id."""
    page = client.call("GET", f"/v1/logs/{codec.b64u(node_id)}/entries?after_seq=-1&limit=1")
    try:
        body = codec.decode(codec.unb64u(page["entries"][0]["body"]))
        return body["record"]["entry"], body["charter_hash"]
    except (KeyError, IndexError, TypeError, DecodeError) as exc:
        raise CliError("the node did not show its founding entry") from exc


@member.command("invite")
@click.option("--name", default=None, help="a new member's name (kept on the council's node only)")
@click.option("--contact", default="", help="a new member's contact (kept on the node only)")
@click.option(
    "--member", "member_ref", default=None, help="an existing member who needs a new key (lost phone)"
)
@click.option(
    "--key",
    "board_key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="invite as a sitting board member, with this member key (default: as the operator, --dir)",
)
@dir_option
@json_option
def member_invite(
    name: str | None,
    contact: str,
    member_ref: str | None,
    board_key: Path | None,
    data_dir: Path | None,
    as_json: bool,
) -> None:
    """Issue a one-time invitation: for a new member (--name), or a new key for a member (--member), which
    revokes their old key once redeemed. Give the printed text to the person only."""
    if (name is None) == (member_ref is None):
        raise click.UsageError("give either --name (a new member) or --member (a new key for a member)")
    body: dict[str, Any] = {"member": member_ref} if member_ref else {"name": name, "contact": contact}
    if board_key is not None:
        out = Profile(key_path(board_key)).client.call("POST", "/v1/member/invitations", body)
    else:
        out = NodeClient(cfg.load(data_folder(data_dir))).call("POST", "/v1/admin/invitations", body)
    warn_same_name(out)
    emit(
        as_json,
        out,
        lambda v: (
            f"invitation (single use, until {when(v['expires_ms'])}):\n{v['invitation']}\n"
            "the member runs: shora member keygen, then shora member redeem INVITATION --url URL"
        ),
    )


@member.command("keygen")
@key_option
@json_option
def member_keygen(key_file: Path | None, as_json: bool) -> None:
    """Make this device's member key (Ed25519), readable by you only (mode 0600)."""
    path = key_path(key_file)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = SigningKey.generate()
    save_signing_key(key, path)
    emit(
        as_json,
        {"key_file": str(path), "public_key": key.public.raw},
        lambda v: (
            f"member key written to {v['key_file']} (mode 0600; keep it on this device)\n"
            f"public key: {codec.b64u(key.public.raw)}"
        ),
    )


@member.command("redeem")
@click.argument("invitation")
@click.option("--url", required=True, help="the council node's address, e.g. https://council.example")
@key_option
@json_option
def member_redeem(invitation: str, url: str, key_file: Path | None, as_json: bool) -> None:
    """Bind this device's key to your membership: a signed join (endorsing the charter), or a new key
    replacing a lost one."""
    path = key_path(key_file)
    key = load_signing_key(path)
    try:
        token = Token.parse(invitation)
    except DecodeError as exc:
        raise CliError("that is not a shora invitation (copy it whole)") from exc
    client = SignedHttp(url, key, token.node_id, TIMEOUT_S, "is the URL right?")
    council, charter = _council_of(client, token.node_id)
    me = client.call("GET", "/v1/node")
    new = True
    fields: dict[str, Any] = {"member": token.member, "key": key.public.raw}
    if me.get("charter_hash") not in (None, codec.b64u(charter)):
        raise CliError("the node's charter is not the one its founding entry names")
    statement = Statement("join", council, {**fields, "charter_hash": charter})
    body = {"invitation": invitation.strip(), "statement": codec.b64u(statement.encode())}
    body["sig"] = codec.b64u(sign_statement(key, statement))
    try:
        out = client.call("POST", "/v1/member/redeem", body)
    except ApiRefusal as exc:  # an existing member's invitation: a new key, not a join
        if exc.error != "statement.act":
            raise
        new = False
        statement = Statement("key", council, fields)
        body["statement"] = codec.b64u(statement.encode())
        body["sig"] = codec.b64u(sign_statement(key, statement))
        out = client.call("POST", "/v1/member/redeem", body)
    info = path.with_name(path.name + ".json")
    profile = {"url": url, "node_id": codec.b64u(token.node_id), "council": codec.b64u(council)}
    profile["member_id"] = out["member_id"]
    info.write_text(json.dumps(profile, indent=2) + "\n", encoding="utf-8")
    os.chmod(info, 0o600)
    emit(
        as_json,
        {**out, "key_file": str(path), "joined": new},
        lambda v: (
            ("joined" if new else "new key bound") + f": member {v['member_id']}\nkey file: {v['key_file']}"
        ),
    )


@member.command("checkin")
@click.argument("assembly", required=False)
@key_option
@json_option
def member_checkin(assembly: str | None, key_file: Path | None, as_json: bool) -> None:
    """Check in to the open assembly (or ASSEMBLY), signed with your key."""
    profile = Profile(key_path(key_file))
    me = profile.client.call("GET", "/v1/member/me")
    target = (
        codec.unb64u(assembly or me["open_assembly"] or "", 32) if (assembly or me["open_assembly"]) else None
    )
    if target is None:
        raise CliError("no assembly is open")
    out = profile.client.call("POST", "/v1/member/checkin", profile.signed("checkin", assembly=target))
    emit(as_json, out, lambda v: f"checked in to assembly {short(v['assembly_id'])}")


@member.command("consent")
@click.argument("assembly", required=False)
@key_option
@json_option
def member_consent(assembly: str | None, key_file: Path | None, as_json: bool) -> None:
    """Consent, signed, to stand as a candidate in the elections of the open assembly (or ASSEMBLY): no
    election names you as a candidate without it."""
    profile = Profile(key_path(key_file))
    me = profile.client.call("GET", "/v1/member/me")
    ref = assembly or me["open_assembly"]
    if not ref:
        raise CliError("no assembly is open")
    out = profile.client.call(
        "POST", "/v1/member/consent", profile.signed("consent", assembly=codec.unb64u(ref, 32))
    )
    emit(as_json, out, lambda v: f"consent to stand recorded in assembly {short(v['assembly_id'])}")


@member.command("vote")
@click.argument("motion_ref", metavar="MOTION")
@click.argument("choice", nargs=-1, required=True)
@key_option
@json_option
def member_vote(motion_ref: str, choice: tuple[str, ...], key_file: Path | None, as_json: bool) -> None:
    """Cast your own signed ballot: yes, no or abstain; in an election the candidates you approve (ids
    or prefixes), or none."""
    profile = Profile(key_path(key_file))
    me = profile.client.call("GET", "/v1/member/me")
    motions = [m for m in me["open_motions"] if m["motion_id"].startswith(motion_ref)]
    if len(motions) != 1:
        raise CliError(f"no single open motion {motion_ref}", "unknown-motion")
    motion = motions[0]
    if motion["kind"] == "election":
        approvals = [] if choice == ("none",) else [_candidate(motion["candidates"], c) for c in choice]
        value: str | None = None
    else:
        if len(choice) != 1:
            raise click.UsageError("vote yes, no or abstain")
        value, approvals = choice[0], []
    body = profile.signed(
        "ballot",
        assembly=codec.unb64u(motion["assembly"], 32),
        motion=codec.unb64u(motion["motion_id"], 32),
        choice=value,
        approvals=approvals,
    )
    out = profile.client.call("POST", f"/v1/member/motions/{motion['motion_id']}/ballot", body)
    emit(
        as_json,
        out,
        lambda v: (
            f"ballot recorded: {short(v['entry_id'])} (check it after the close: "
            f"shora member check {short(v['motion_id'])})"
        ),
    )


def _candidate(candidates: list[str], ref: str) -> bytes:
    found = [c for c in candidates if c.startswith(ref)]
    if len(found) != 1:
        raise CliError(f"{ref} is not one candidate of this election", "unknown-member")
    return codec.unb64u(found[0], 16)


@member.command("requisition")
@click.option("--text", required=True, help="why an assembly is needed")
@key_option
@json_option
def member_requisition(text: str, key_file: Path | None, as_json: bool) -> None:
    """Ask, signed, for the next general assembly (your signature names its round: once an assembly has
    opened, a requisition made before it no longer counts)."""
    profile = Profile(key_path(key_file))
    asked_in = profile.client.call("GET", "/v1/member/me")["requisition"]["round"]
    signed = profile.signed("requisition", text=text, round=asked_in)
    out = profile.client.call("POST", "/v1/member/requisitions", signed)
    emit(as_json, out, lambda v: f"requisition recorded: {short(v['requisition_id'])}\n{_standing(v)}")


def _standing(v: dict[str, Any]) -> str:
    """Where the next assembly stands: the requisitions and the share, the date the last assembly fixed,
    and from when this member may convene it."""
    r = v["requisition"]
    lines = [f"{r['count']} of the {r['needed']} requisitions needed"]
    if r["met_ms"] is not None:
        lines[0] += f": the board must convene an assembly (share reached {when(r['met_ms'])} UTC)"
    if r["next_ms"] is not None:
        lines.append(f"the last assembly fixed the next for {when(r['next_ms'])} UTC")
    lines += [
        f"from {when(g['due_ms'])} UTC you may convene it (on {g['ground']}): shora member convene"
        for g in r["may_convene"]
    ]
    return "\n".join(lines)


@member.command("status")
@key_option
@json_option
def member_status(key_file: Path | None, as_json: bool) -> None:
    """Who your key speaks for, your board seat, the open assembly, and where the next assembly stands:
    requisitions, the date the last assembly fixed, and whether you may convene it yourself."""
    profile = Profile(key_path(key_file))
    out = profile.client.call("GET", "/v1/member/me")

    def human(v: dict[str, Any]) -> str:
        seat = v["mandate"]
        lines = [
            f"member {v['member_id']}",
            f"board seat: elected by decision {short(seat['decision'])}" if seat else "board seat: none",
            f"open assembly: {short(v['open_assembly'])}" + (" (present)" if v["present"] else "")
            if v["open_assembly"]
            else "open assembly: none",
        ]
        return "\n".join([*lines, _standing(v)])

    emit(as_json, out, human)


@member.command("resign")
@click.option("--seat", is_flag=True, help="give up your board seat only, and stay a member")
@key_option
@json_option
def member_resign(seat: bool, key_file: Path | None, as_json: bool) -> None:
    """Leave the council, signed with your key; with --seat, resign from the board and stay a member."""
    profile = Profile(key_path(key_file))
    if not seat:
        out = profile.client.call("POST", "/v1/member/leave", profile.signed("leave"))
        emit(as_json, out, lambda v: f"left: {v['member_id']}")
        return
    mandate = profile.client.call("GET", "/v1/member/me")["mandate"]
    if mandate is None:
        raise CliError("you hold no board seat", "board.not-member")
    body = profile.signed("resign", decision=codec.unb64u(mandate["decision"], 32))
    out = profile.client.call("POST", "/v1/member/board/resign", body)
    emit(as_json, out, lambda v: f"resigned from the board: {short(v['entry_id'])}")


@member.command("convene")
@click.option("--agenda", default="", help="what the assembly is for")
@key_option
@json_option
def member_convene(agenda: str, key_file: Path | None, as_json: bool) -> None:
    """Convene the general assembly with your own key (article 5): as a sitting board member; or, when the
    board has not within the rules' delay, as a member who requisitioned it; or once the date the last
    assembly fixed has passed, as any member."""
    profile = Profile(key_path(key_file))
    me = profile.client.call("GET", "/v1/member/me")
    if me["board"]:
        out = profile.client.call("POST", "/v1/member/board/assemblies", {"agenda": agenda})
        emit(as_json, out, lambda v: f"assembly opened: {v['assembly_id']}")
        return
    grounds = me["requisition"]["may_convene"]
    if not grounds:
        raise CliError(
            "only the board convenes now: members convene an assembly the board has not once their "
            "requisitions reached the rules' share and its delay passed, or the date the last assembly "
            "fixed has passed (shora member requisition)",
            "convene.no-right",
        )
    if not agenda.strip():
        raise click.UsageError("a member convening an assembly states its agenda (--agenda)")
    ground = grounds[0]  # on requisition before on the date fixed: the rules judge the time
    body = profile.signed("convene", agenda=agenda, ground=ground["ground"], due_ms=ground["due_ms"])
    out = profile.client.call("POST", "/v1/member/assemblies", body)
    emit(as_json, out, lambda v: f"assembly opened: {v['assembly_id']} (convened on {ground['ground']})")


@member.command("report")
@click.option("--text", required=True, help="the executive report")
@key_option
@json_option
def member_report(text: str, key_file: Path | None, as_json: bool) -> None:
    """A sitting board member files an executive report, with their own key (article 5)."""
    profile = Profile(key_path(key_file))
    out = profile.client.call("POST", "/v1/member/board/reports", {"text": text})
    emit(as_json, out, lambda v: f"report filed: {short(v['report_id'])}")


@member.command("record")
@click.option("--after", "after_seq", type=int, default=-1, help="entries after this position only")
@key_option
@json_option
def member_record(after_seq: int, key_file: Path | None, as_json: bool) -> None:
    """Read your council's record: every entry, and which key issued it."""
    profile = Profile(key_path(key_file))
    out = profile.client.call("GET", f"/v1/member/record/log?after_seq={after_seq}")
    emit(as_json, out, lambda v: "\n".join(_line(e, profile.member) for e in v["entries"]) or "no entries")


def _line(entry: dict[str, Any], me: bytes) -> str:
    by = entry["issued_by"]
    if by is None:
        who = "the root key"  # the founding entry and key changes: signed by the council's root key itself
    else:
        mine = by.get("member") == codec.b64u(me)
        who = by["role"] + (f" {short(by['member'])}" if "member" in by else f" {short(by['key'])}")
        who += " (you)" if mine else ""
    body = entry["body"]
    what = body.get("text") or body.get("agenda") or body.get("choice") or body.get("outcome") or ""
    if "tally" in body and isinstance(body["tally"], dict):
        what = f"{what} ({tally_words(body['tally'])})"
    return f"{entry['seq']:>5} {when(entry['ts_ms'])} {entry['kind']:<20} by {who:<24} {str(what)[:60]}"


@member.command("check")
@click.argument("motion_ref", metavar="MOTION", required=False)
@click.option(
    "--proof",
    "proof_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="check a saved proof offline instead of fetching it",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="also save the proof here",
)
@key_option
@json_option
def member_check(
    motion_ref: str | None, proof_file: Path | None, output: Path | None, key_file: Path | None, as_json: bool
) -> None:
    """Prove, offline, that your signed ballot on MOTION is in the record and was counted in its decision."""
    profile = Profile(key_path(key_file))
    if proof_file is not None:
        data = proof_file.read_bytes()
    elif motion_ref is not None:
        data = profile.client.call("GET", f"/v1/member/motions/{motion_ref}/proof", raw=True)
    else:
        raise click.UsageError("give MOTION, or --proof FILE")
    if output is not None:
        output.write_bytes(data)
    counted = verify_ballot_proof(data, profile.node_id, profile.key.public.raw)
    if counted.member != profile.member or counted.council != profile.council:
        raise CliError("the proof is about another member or council", "check-failed")
    value = {
        "valid": True,
        "motion_id": counted.motion,
        "decision_id": counted.decision,
        "choice": counted.choice,
        "approvals": list(counted.approvals),
        "outcome": counted.outcome,
        **counted.tally,
    }
    emit(
        wants_json(as_json),
        value,
        lambda v: (
            f"your ballot ({v['choice'] or 'approvals: ' + str(len(v['approvals']))}) on motion "
            f"{short(codec.b64u(counted.motion))} is in the record and was counted in decision "
            f"{short(codec.b64u(counted.decision))}: {v['outcome']}"
        ),
    )


@cli.command("record")
@click.option("--after", "after_seq", type=int, default=-1, help="entries after this position only")
@remote
def record(client: NodeClient, as_json: bool, after_seq: int) -> None:
    """The operator reads the council's record: every entry, and which key issued it."""
    out = client.call("GET", f"/v1/admin/record/log?after_seq={after_seq}")
    emit(as_json, out, lambda v: "\n".join(_line(e, b"") for e in v["entries"]) or "no entries")
