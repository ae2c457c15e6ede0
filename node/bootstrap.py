"""Creating a node's data folder: keys, database and the founding entry, or nothing at all."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from node import config as cfg
from node.backup.keyfile import RECOVERY_FILE, save_backup_key, write_private
from node.errors import InitError
from node.rules.council import FoundCouncil
from node.rules.fedbody import FoundFederation
from node.rules.machines import machine_for
from node.storage import logs
from node.storage.clock import now_ms
from node.storage.migrations import open_database
from protocol.keys import SigningKey, save_signing_key
from protocol.recovery import Recovery
from protocol.sealed import BackupKey


def init_node(
    directory: Path,
    found: FoundCouncil | FoundFederation,
    *,
    listen: str = cfg.DEFAULT_LISTEN,
    url: str | None = None,
    federation: tuple[str, bytes] | None = None,
    recovery_file: Path | None = None,
) -> cfg.NodeConfig:
    """Create ``directory`` with a root key, an operator key and a backup key (all 0600), the database
    and entry 0, and write the recovery file (root key and backup secret, docs/protocol.md §12) to
    ``recovery_file`` — by default ``directory/recovery.txt``, which the operator must move off the machine.

    ``found`` says which kind of node: a council (``FoundCouncil``) or a federation body
    (``FoundFederation``). ``federation`` is the (URL, key) of the federation body the node applies to.
    """
    cfg.parse_listen(listen)
    if directory.exists() and any(directory.iterdir()):
        raise InitError(f"{directory} exists and is not empty; refusing to touch it")
    if recovery_file is not None and (recovery_file.exists() or not recovery_file.parent.is_dir()):
        raise InitError(
            f"{recovery_file} exists, or its folder does not; the recovery file is never overwritten"
        )
    kind = "council" if isinstance(found, FoundCouncil) else "federation"
    root, operator, backup = SigningKey.generate(), SigningKey.generate(), BackupKey.generate()
    machine = machine_for(kind, root.public.raw)
    drafts = machine.execute(machine.replay([]), found, now_ms())  # judged before anything is written
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(directory, 0o700)
        save_signing_key(root, directory / cfg.ROOT_KEY)
        save_signing_key(operator, directory / cfg.OPERATOR_KEY)
        save_backup_key(backup, directory)
        conn = open_database(directory / cfg.DATABASE)
        try:
            store = logs.record_store(conn)
            cursor = logs.Cursor(root.public.raw, None, None, logs.Frontier())
            laid, _ = cursor.lay_out(root, drafts, now_ms())
            with store.transaction():
                logs.append_both(store, root, logs.sign_entries(root, laid.unsigned))
        finally:
            conn.close()
        config = cfg.NodeConfig(
            directory,
            kind,
            root.public.raw,
            operator.public.raw,
            listen,
            url or f"http://{listen}",
            profile_of(found),
            federation=federation,
        )
        cfg.save(config)
        # last: nothing can fail after it, so a failed init never leaves a recovery file behind
        write_private(recovery_file or directory / RECOVERY_FILE, Recovery(root, backup).encode())
    except BaseException:
        if created:
            shutil.rmtree(directory, ignore_errors=True)
        else:
            for child in directory.iterdir():
                child.unlink()
        raise
    return config


def profile_of(found: FoundCouncil | FoundFederation) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "name": found.name,
        "name_fa": found.name_fa,
        "country": found.country,
        "continent": found.continent,
    }
    if isinstance(found, FoundCouncil):
        profile["city"] = found.city
    else:
        profile["level"] = found.level
    return profile
