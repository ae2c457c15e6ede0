"""store (moved into a package; split by job in the next commit)."""

from federation.store.logs import (
    MIGRATIONS,
    STORED_LEVEL,
    Appender,
    CheckpointSigner,
    ForkError,
    LogHead,
    LogStore,
    StoreError,
)

__all__ = [
    "MIGRATIONS",
    "STORED_LEVEL",
    "Appender",
    "CheckpointSigner",
    "ForkError",
    "LogHead",
    "LogStore",
    "StoreError",
]
