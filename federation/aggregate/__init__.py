"""What a federation node tells about the councils whose logs it holds (DESIGN.md §5, §6).

- ``schema``: the tables (migrations ``0301``, ``0302``), a council's row by column name, time keys;
- ``fold``: ``Folder`` folds each public entry of a held log into the figures, once, in log order;
- ``council_fold``, ``federation_fold``: what ``Folder`` does with a council's log, a federation's;
- ``bodies``: how a fold reads a public body and its fields (``UnreadableBody`` for a bad one);
- ``search``: how decision texts are indexed and searched (FTS5), newest first;
- ``query``: ``Aggregate`` reads and renders the figures (and folds through its ``Folder``).

The names below are the package's public surface; import them from ``federation.aggregate``.
"""

from federation.aggregate.fold import Folder
from federation.aggregate.query import Aggregate
from federation.aggregate.schema import MIGRATIONS
from federation.aggregate.search import match_expression

__all__ = ["MIGRATIONS", "Aggregate", "Folder", "match_expression"]
