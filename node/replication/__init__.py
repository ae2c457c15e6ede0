"""The node among its peers: gossip and restore of logs (``engine``), witnessing, and the rosters of trusted
federations that say which peers and logs to hold (``roster``)."""
