"""A shora node: a council's or a federation body's software around its own two signed logs — the record
it keeps and the public log it publishes.

Rooms, from the bottom up (each imports only the rooms above it in this list, ``federation`` and
``protocol``):

- ``node.errors`` — node/'s one error tree.
- ``node.settings``, ``node.config`` — the limits table and a node's folder (keys, ``node.json``).
- ``node.rules`` — the pure state machines: a council's governance, a federation body's roster and proposals.
- ``node.storage`` — the one SQLite file: the writer (group commit), the two logs, the signing child, the
  member directory, applications, migrations, and the reads run off the event loop.
- ``node.bootstrap`` — ``shora init``: a new node's folder, keys and founding entry.
- ``node.replication`` — gossip with peers, witnessing, and the rosters that say whom to trust.
- ``node.http`` — the aiohttp application: context, middleware, wire format and the route modules.
- ``node.cli`` — the ``shora`` command line.
"""

VERSION = "0.4.0"  # the one home of the version string; pyproject.toml says the same (a test checks)
