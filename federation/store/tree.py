"""The Merkle tree of one log as stored: which nodes are kept, and how the others are hashed again."""

from __future__ import annotations

import sqlite3

from protocol import merkle
from protocol.errors import VerificationError

STORED_LEVEL = 4  # tree nodes below this level are recomputed from at most 2**3 entry ids, not stored


class TreeNodes:
    """Tree nodes of one log as a ``merkle.NodeSource``, seeing writes pending in this transaction.

    Leaves are the entry ids, stored once with the entries. Nodes of levels 1-3 are hashed again from at
    most eight leaves when asked for (a few microseconds); from level 4 up they are stored. So an append
    writes one tree row per sixteen entries instead of one per entry, and a proof reads at most a few
    dozen ids more.
    """

    def __init__(self, conn: sqlite3.Connection, log_id: bytes) -> None:
        self.conn, self.log_id = conn, log_id
        self.pending: dict[tuple[int, int], bytes] = {}

    def node(self, level: int, index: int) -> bytes:
        hit = self.pending.get((level, index))
        if hit is not None:
            return hit
        if level == 0:  # leaves are the entry ids, already stored with the entries: not kept twice
            row = self.conn.execute(
                "SELECT id FROM entries WHERE log_id = ? AND seq = ?", (self.log_id, index)
            ).fetchone()
        elif level < STORED_LEVEL:
            width = 1 << level
            leaves = [
                self.pending.get((0, i)) or bytes(r[0])
                for i, r in zip(
                    range(index * width, (index + 1) * width),
                    self.conn.execute(
                        "SELECT id FROM entries WHERE log_id = ? AND seq >= ? AND seq < ? ORDER BY seq",
                        (self.log_id, index * width, (index + 1) * width),
                    ),
                    strict=False,
                )
            ]
            if len(leaves) != width:
                raise VerificationError("tree", f"missing tree node {level}/{index}")
            return merkle.root_from_leaves(leaves)
        else:
            row = self.conn.execute(
                "SELECT hash FROM tree_nodes WHERE log_id = ? AND level = ? AND idx = ?",
                (self.log_id, level, index),
            ).fetchone()
        if row is None:
            raise VerificationError("tree", f"missing tree node {level}/{index}")
        return bytes(row[0])
