"""Fixtures of tests/node/ beside the shared ones (tests/conftest.py)."""

from tests.node.backup_helpers import start_live  # noqa: F401  # the fixture, found by pytest here
