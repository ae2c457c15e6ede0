"""Helpers of ``make mutation`` (docs/mutation.md): the test command mutmut runs, and the counts it reports.

    python -m tests.mutation pytest tests/protocol/test_merkle.py   the tests, as mutmut's runner
    python -m tests.mutation summary protocol/merkle.py             counts read from mutmut's cache

mutmut 2 counts a mutant as killed only when its runner exits with status 1; pytest exits with 2 when a
mutant breaks collection (an import-time error), which mutmut would count as a survivor. The runner maps
every failure to 1. It runs the example tests before the hypothesis properties (see ``run_tests``).
"""

from __future__ import annotations

import sqlite3
import sys
from collections import Counter
from typing import Any

# mutmut 2's statuses, as docs/mutation.md names them
NAMES = {
    "ok_killed": "killed",
    "bad_timeout": "timeout",
    "ok_suspicious": "suspicious",
    "bad_survived": "survived",
    "untested": "not run",
    "skipped": "skipped",
}


def run_tests(args: list[str]) -> int:
    """The tests against the current mutant: 0 if all pass, 1 if any fails. The example tests run before
    the hypothesis properties (most of the time), so a mutant the examples kill costs little; the verdict is
    the same as that of any order."""
    import pytest

    status = pytest.main(["-x", "-q", "-p", "no:cacheprovider", *args], plugins=[_ExamplesFirst()])
    return 0 if status == pytest.ExitCode.OK else 1


class _ExamplesFirst:
    """A pytest plugin: tests marked ``hypothesis`` (every ``@given``) run after all the others."""

    @staticmethod
    def pytest_collection_modifyitems(items: list[Any]) -> None:
        items.sort(key=lambda item: item.get_closest_marker("hypothesis") is not None)


def summary(module: str, cache: str = ".mutmut-cache") -> Counter[str]:
    with sqlite3.connect(cache) as db:
        rows = db.execute(
            "SELECT mutant.status FROM mutant JOIN line ON mutant.line = line.id"
            " JOIN sourcefile ON line.sourcefile = sourcefile.id WHERE sourcefile.filename = ?",
            (module,),
        ).fetchall()
    return Counter(NAMES.get(status, status) for (status,) in rows)


def print_summary(modules: list[str]) -> int:
    for module in modules:
        counts = summary(module)
        total = sum(counts.values())
        # a timeout is a mutant the tests stopped (an endless loop): killed
        killed = counts["killed"] + counts["timeout"] + counts["suspicious"]
        parts = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
        print(f"{module}: {total} mutants ({parts}); killed {killed}, survived {counts['survived']}")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["pytest"]:
        return run_tests(argv[1:])
    if argv[:1] == ["summary"]:
        return print_summary(argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
