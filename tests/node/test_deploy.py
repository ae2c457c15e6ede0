"""deploy/: the systemd unit runs the command the README documents, may write only the node's folder, and
stops the node's helper processes with it."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

from click.testing import CliRunner

from node.cli.main import cli

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string((DEPLOY / "shora.service").read_text())
    return parser


def test_the_unit_serves_a_node_folder_it_alone_may_write() -> None:
    service = unit()["Service"]
    program, command, folder = shlex.split(service["ExecStart"])
    assert program.endswith("/bin/shora") and command == "serve"
    assert service["ReadWritePaths"].split() == [folder]
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes"
    assert service["User"] != "root" and service["UMask"] == "0077"
    # the signing child and the verify workers are in the unit's control group: stopped with the node
    assert service["KillMode"] == "control-group" and service["KillSignal"] == "SIGTERM"
    assert "AF_UNIX" in service["RestrictAddressFamilies"]  # the helpers talk over pipes and sockets


def test_the_unit_command_is_the_cli_s() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0 and "DIRECTORY" in result.output.upper()


def test_the_proxy_forwards_to_a_loopback_listener() -> None:
    caddy = (DEPLOY / "Caddyfile").read_text()
    assert "reverse_proxy 127.0.0.1:" in caddy
