"""witness (moved into a package; split by job in the next commit)."""

from federation.witness.text import (
    MAX_PROOF_LINES,
    MAX_REPLY_SIZE,
    MAX_REQUEST_SIZE,
    SIZE_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    AddCheckpoint,
    Collector,
    ReplyError,
    SizeMismatch,
    Witness,
    WitnessError,
    WitnessReply,
    encode_add_checkpoint,
    log_id_of,
    parse_add_checkpoint,
)

__all__ = [
    "MAX_PROOF_LINES",
    "MAX_REPLY_SIZE",
    "MAX_REQUEST_SIZE",
    "SIZE_CONTENT_TYPE",
    "TEXT_CONTENT_TYPE",
    "AddCheckpoint",
    "Collector",
    "ReplyError",
    "SizeMismatch",
    "Witness",
    "WitnessError",
    "WitnessReply",
    "encode_add_checkpoint",
    "log_id_of",
    "parse_add_checkpoint",
]
