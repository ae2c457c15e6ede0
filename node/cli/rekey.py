"""Moving a council to a new root key on its federation's roster (see ``node.http.routes.rekey``).

``shora federation rekey MEMBER NEW_KEY --reason …`` — the federation body's operator decides it.
``shora keys move-root --recovery FILE --reason …`` — run in the council's *new* folder: the request is
signed with the old root key, read from the old folder's recovery file, and sent to the federation named
in node.json (or ``--federation URL KEY``).
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from node import config as cfg
from node.cli.base import data_folder, dir_option, emit, json_option, plural, remote, short
from node.cli.client import NodeClient
from node.cli.federation import federation
from node.cli.keys import keys
from node.errors import ApiRefusal, CliError, TransportError
from protocol import codec
from protocol.httpsig import encode_nonce, sign_request
from protocol.keys import SigningKey
from protocol.recovery import Recovery

REKEY_PATH = "/v1/federation/rekey"


@federation.command("rekey")
@click.argument("member")
@click.argument("new_key")
@click.option("--reason", required=True, help="why (public, on the roster): how the key was lost")
@remote
def federation_rekey(client: NodeClient, as_json: bool, member: str, new_key: str, reason: str) -> None:
    """Move a member to a new root key (its old one lost or stolen): peers trust the new key, not the old."""
    value = client.call(
        "POST", "/v1/admin/roster/rekey", {"member": member, "new_key": new_key, "reason": reason}
    )
    emit(as_json, value, _moved)


@keys.command("move-root")
@click.option(
    "--recovery",
    "recovery_file",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="the old folder's recovery file: its root key signs the request",
)
@click.option("--reason", required=True, help="why (public, on the roster): how the old key was lost")
@click.option(
    "--federation",
    "federation_at",
    nargs=2,
    default=None,
    metavar="URL KEY",
    help="the federation body to ask (default: the one named at init)",
)
@dir_option
@json_option
def move_root(
    data_dir: Path | None,
    as_json: bool,
    recovery_file: Path,
    reason: str,
    federation_at: tuple[str, str] | None,
) -> None:
    """Ask the federation to move this council from its old root key (in the recovery file) to this
    folder's root key. Run it in the new folder, made with `shora init` on a safe machine."""
    config = cfg.load(data_folder(data_dir))  # --dir, shora --dir, SHORA_DIR or the current folder
    old = Recovery.decode(recovery_file.read_bytes()).root_key
    if old.public.raw == config.node_id:
        raise CliError("the recovery file holds this folder's own root key: run this in the new folder")
    if federation_at is not None:
        url, key = federation_at[0], codec.unb64u(federation_at[1], 32)
    elif config.federation is not None:
        url, key = config.federation
    else:
        raise CliError("this folder names no federation: give --federation URL KEY")
    body = codec.encode({"new_key": config.node_id, "reason": reason})
    value = _signed_post(old, url.rstrip("/") + REKEY_PATH, key, body, config.settings.request_timeout_s)
    emit(as_json, value, _moved)


def _moved(v: dict[str, Any]) -> str:
    return (
        f"the roster moved {short(v['member'])} to {v['new_key']} (held its old log up to "
        f"{plural(v['size'], 'entry', 'entries')}); peers now trust the new key and not the old one"
    )


def _signed_post(key: SigningKey, url: str, recipient: bytes, body: bytes, timeout: float) -> Any:
    parts = urlsplit(url)
    headers = sign_request(
        key,
        method="POST",
        authority=parts.netloc,
        path=parts.path,
        query=parts.query,
        body=body,
        recipient=recipient,
        created=int(time.time()),
        nonce=encode_nonce(secrets.token_bytes(16)),
    )
    headers["Content-Type"] = "application/msgpack"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            err = json.loads(exc.read())
            if err["error"] == "request-unknown-key":  # the old key is not one the federation knows
                raise ApiRefusal(
                    err["error"],
                    f"the federation at {parts.scheme}://{parts.netloc} does not know the old root key in "
                    "the recovery file: it is not a member of its roster (check the recovery file, and "
                    "--federation URL KEY)",
                    exc.code,
                ) from None
            raise ApiRefusal(err["error"], err["message"], exc.code) from None
        except (ValueError, KeyError, TypeError):
            raise ApiRefusal("http", f"the federation answered {exc.code}", exc.code) from None
    except (urllib.error.URLError, OSError) as exc:
        raise TransportError(f"cannot reach the federation at {url} ({exc})") from exc
