"""How a node is run outside the package: systemd and Caddy files, and ``make demo`` (``deploy.demo``).

Not installed with shora (``pyproject.toml`` ships ``protocol``, ``federation`` and ``node`` only).
"""
