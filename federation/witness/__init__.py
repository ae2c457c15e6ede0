"""Witnessing as C2SP tlog-witness and tlog-cosignature (DESIGN.md §3, docs/gossip.md "Witnessing").

- ``text``: the ``add-checkpoint`` request and answer texts, built and parsed strictly (pure);
- ``cosigner``: ``Witness``, a node cosigning the checkpoints of the logs it trusts;
- ``collector``: ``Collector``, a node asking witnesses to cosign its *own* checkpoints.

Errors (``federation.errors``)::

    WitnessError       a refusal, with the HTTP status tlog-witness.md gives it (400, 403, 404, 409, 422)
    └── SizeMismatch   409: ``old`` is not the size the witness holds; answered as ``text/x.tlog.size``
    ReplyError         (collector side) a witness's answer we cannot use: malformed text, or a
                       cosignature that does not verify — bad data from that peer (``PeerDataError``)
"""

from federation.errors import ReplyError, SizeMismatch, WitnessError
from federation.witness.collector import Collector
from federation.witness.cosigner import Witness
from federation.witness.text import (
    MAX_PROOF_LINES,
    MAX_REPLY_SIZE,
    MAX_REQUEST_SIZE,
    SIZE_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    AddCheckpoint,
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
