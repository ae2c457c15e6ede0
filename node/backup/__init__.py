"""Sealed backups of the council's record and member directory (DESIGN.md §3; docs/protocol.md §11-§12):
the backup key and recovery file (``keyfile``), the stream of items (``stream``), the tables (``tables``),
sealing and pushing on a fixed schedule (``ticker``), and bringing a node back (``restore``; what it takes
from the peers or a file, ``fetch``; what it checks of the record, ``recordcheck``; its refusal,
``errors``)."""
