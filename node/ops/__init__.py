"""What an operator runs to look after a node: ``doctor`` (is this folder and node sound?), ``progress``
(how far a long operation has got) and ``keys`` (the keys a node holds, over time)."""
