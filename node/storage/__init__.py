"""The node's one SQLite file and who writes it: the writer (``Writer``, group commit on one thread), the
node's two logs (``logs``: the private record and the public log that publishes it; ``membercheck``: what a
member checks of a public decision), the signing child, the private member directory, federation
applications, and the migrations of them all."""
