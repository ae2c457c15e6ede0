"""The council's backup key in its data folder, and the recovery file ``init`` writes (docs §12).

DIR/backup.key   the X25519 backup secret, base64url on one line, mode 0600. The node seals with its public
                 half; the secret is kept beside the root key so ``shora backup`` and a restore on this
                 machine need nothing else — and, with the root key, in the recovery file, which is the
                 only copy that survives the machine.
"""

from __future__ import annotations

import os
from pathlib import Path

from node.errors import ConfigError
from protocol import codec
from protocol.errors import DecodeError, VerificationError
from protocol.recovery import Recovery
from protocol.sealed import BACKUP_KEY_SIZE, BackupKey

BACKUP_KEY = "backup.key"
RECOVERY_FILE = "recovery.txt"  # where init puts the recovery file when the operator names no other place

MOVE_IT = (
    "This file holds the council's root key and its backup key: with it, and only with it, the council's "
    "record can be brought back from its peers' sealed copies if this machine is lost or seized. Move it "
    "off this machine now — onto a USB stick or paper kept by a trusted member, somewhere this machine is "
    "not — and delete it here: whoever holds it can sign as the council and read its backups."
)
MOVE_IT_FEDERATION = (
    "This file holds the federation body's root key (and a backup key): whoever holds it can sign as the "
    "federation — admit and suspend its members, publish proposals and their results. Move it off this "
    "machine now — onto a USB stick or paper kept by people the federation trusts, somewhere this machine "
    "is not — and delete it here, so that whoever takes the machine does not find it beside the node."
)


def write_private(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 and ``data``, durably; an existing file is never overwritten."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def save_backup_key(key: BackupKey, directory: Path) -> None:
    write_private(directory / BACKUP_KEY, (codec.b64u(key.secret()) + "\n").encode())


def load_backup_key(directory: Path) -> BackupKey:
    path = directory / BACKUP_KEY
    try:
        return BackupKey.from_secret(codec.unb64u(path.read_text(encoding="ascii").strip(), BACKUP_KEY_SIZE))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path} is missing: this node cannot seal backups") from exc
    except (OSError, UnicodeDecodeError, DecodeError) as exc:
        raise ConfigError(f"{path} is not a backup key: {exc}") from exc


def read_recovery(path: Path) -> Recovery:
    """A recovery file, strictly (``protocol.recovery``); a bad one is a ``ConfigError`` naming the step."""
    try:
        return Recovery.decode(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read the recovery file {path}: {exc.strerror}") from exc
    except VerificationError as exc:
        raise ConfigError(f"{path} is not a usable recovery file ({exc.step}): {exc.message}") from exc
