"""The node among its peers: gossip and replicas of logs (``engine``), the check after a start that no peer
holds more of our own log and taking it back (``ownlog``), witnessing, and the rosters of trusted
federations that say which peers and logs to hold (``roster``)."""
