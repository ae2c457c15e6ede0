"""The ``shora`` command line: ``main`` (the entry point and its one error handler), ``base`` (the root
group and shared options), the command modules — ``local`` (init, serve, verify), ``remote`` (the council's
acts on the running node: members, assemblies, motions, votes), ``reading`` (what it holds and publishes:
rules, board, delegates, decisions, bundles), ``peering`` (peers and sync), ``member``, ``federation``,
``backup``, ``keys``, ``rekey`` and ``ops`` — and ``client`` (the signed HTTP client they use)."""
