"""The federation body's figures (moved into a package; split by job in the next commit)."""

from federation.aggregate.fold import MIGRATIONS, Aggregate, match_expression

__all__ = ["MIGRATIONS", "Aggregate", "match_expression"]
