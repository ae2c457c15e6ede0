"""The node's one SQLite file and who writes it: the writer (``Writer``, group commit on one thread, stamping
entries with the node's one ``clock``), the node's two logs (``logs``: the private record and the public log
that publishes it; ``replay``: the governance state they hold; ``membercheck``: what a member checks of a
public decision; ``drafts``: one log's entries signed for tests and tools), the signing child, the private
member directory, federation applications, and the migrations of them all."""
