"""Anti-entropy gossip (moved into a package; split by job in the next commit)."""

from federation.gossip.engine import DIGEST, FORKS, HEADS, Gossip, GossipServer, entries_path

__all__ = ["DIGEST", "FORKS", "HEADS", "Gossip", "GossipServer", "entries_path"]
