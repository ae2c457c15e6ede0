"""The ``shora`` command line: ``main`` (the entry point and its one error handler), ``base`` (the root
group and shared options), the command modules ``local`` (init, serve, verify), ``remote`` (commands to the
running node) and ``federation``, and ``client`` (the signed HTTP client they use)."""
