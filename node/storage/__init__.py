"""The node's one SQLite file and who writes it: the writer (``Writer``, group commit on one thread), the
signing child, the private member directory, federation applications, and the migrations of them all."""
