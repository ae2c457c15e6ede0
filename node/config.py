"""A node's data folder: its configuration, its keys and its database, all in one place.

DIR/node.json      kind, listen address, public URL, profile, settings overrides, operator key
DIR/root.key       the council's root key (its log id); mode 0600
DIR/operator.key   the key the CLI signs operator requests with; mode 0600
DIR/backup.key     the X25519 backup secret sealed backups are encrypted to; mode 0600 (node.backup.keyfile)
DIR/recovery.txt   the recovery file, until the operator moves it off the machine (docs/protocol.md §12)
DIR/shora.db       the SQLite database (logs, tree, member directory)
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.errors import ConfigError
from node.settings import Settings
from protocol import codec
from protocol.keys import PublicKey, SigningKey, load_signing_key

CONFIG = "node.json"
ROOT_KEY = "root.key"
OPERATOR_KEY = "operator.key"
DATABASE = "shora.db"
DEFAULT_LISTEN = "127.0.0.1:8470"


@dataclass(frozen=True)
class NodeConfig:
    dir: Path
    kind: str
    node_id: bytes
    operator_key: bytes
    listen: str
    url: str
    profile: dict[str, Any]
    settings: Settings = field(default_factory=Settings)
    federation: tuple[str, bytes] | None = None  # (URL, key) of the federation body this node applies to

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])

    @property
    def database(self) -> Path:
        return self.dir / DATABASE

    def root_key(self) -> SigningKey:
        return load_signing_key(self.dir / ROOT_KEY)

    def operator_signing_key(self) -> SigningKey:
        return load_signing_key(self.dir / OPERATOR_KEY)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "node_id": codec.b64u(self.node_id),
            "operator_key": codec.b64u(self.operator_key),
            "listen": self.listen,
            "url": self.url,
            "profile": self.profile,
            **(
                {"federation": {"url": self.federation[0], "key": codec.b64u(self.federation[1])}}
                if self.federation
                else {}
            ),
        }


def parse_listen(text: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"--listen must be HOST:PORT, got {text!r}")
    return text


def load(directory: str | os.PathLike[str]) -> NodeConfig:
    path = Path(directory)
    try:
        raw = json.loads((path / CONFIG).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(_not_a_data_folder(path)) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path / CONFIG}: {(exc.strerror or 'unreadable').lower()}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"cannot read {path / CONFIG}: it is not valid JSON ({exc.msg}, line {exc.lineno})"
        ) from exc
    try:
        node_id = codec.unb64u(raw["node_id"], 32)
        operator = codec.unb64u(raw["operator_key"], 32)
        PublicKey(node_id), PublicKey(operator)
        settings = Settings.from_overrides(raw.get("settings", {}))
        federation = None
        if raw.get("federation"):
            federation = (str(raw["federation"]["url"]), codec.unb64u(raw["federation"]["key"], 32))
        if raw["kind"] not in ("council", "federation"):
            raise ValueError(f"kind is council or federation, not {raw['kind']!r}")
        return NodeConfig(
            path,
            raw["kind"],
            node_id,
            operator,
            parse_listen(raw["listen"]),
            raw["url"],
            raw["profile"],
            settings,
            federation,
        )
    except KeyError as exc:
        raise ConfigError(f"{path / CONFIG} is incomplete: it has no {exc.args[0]}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path / CONFIG} is invalid: {exc}") from exc


def _not_a_data_folder(path: Path) -> str:
    """Which folder was looked in, the data folders right under it, and how to name the right one."""
    where = path.resolve()
    message = f"{where} is not a shora data folder (it has no {CONFIG})"
    if where.is_dir():
        with contextlib.suppress(OSError):
            found = sorted(p.name for p in where.iterdir() if (p / CONFIG).is_file())
            if found:
                message += f"; data folders in it: {', '.join(found[:5])}"
    return (
        f"{message}. Name the node's folder with --dir DIR (or export SHORA_DIR=DIR), "
        "or create one with `shora init DIR`"
    )


def save(config: NodeConfig) -> None:
    """Write node.json atomically (temp file, fsync, rename), mode 0600."""
    target = config.dir / CONFIG
    temp = target.with_suffix(".tmp")
    # 0600 whatever the umask: it holds the operator key admin requests are checked against
    with os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
        json.dump(config.to_json(), out, ensure_ascii=False, indent=2)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, target)
