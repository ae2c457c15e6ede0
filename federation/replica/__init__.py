"""Replicas of trusted logs (moved into a package; split by job in the next commit)."""

from federation.replica.ingest import BadData, ForkFound, Frozen, Head, IngestResult, Page, Replica

__all__ = ["BadData", "ForkFound", "Frozen", "Head", "IngestResult", "Page", "Replica"]
