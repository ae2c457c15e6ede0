"""The error a restore refuses with, raised by what it takes from the peers (``fetch``), what it checks of
the record (``recordcheck``) and the restore itself (``restore``)."""

from __future__ import annotations

from node.errors import NodeError


class RestoreError(NodeError):
    """A restore refused: ``step`` names the check that failed; nothing was kept of the new folder."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step

    @property
    def code(self) -> str:
        return self.step
