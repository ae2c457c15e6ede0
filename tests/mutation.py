"""``make mutation`` (docs/mutation.md): mutmut 2's mutants of one module, each run against its tests.

    python -m tests.mutation run protocol/merkle.py tests/protocol/test_merkle.py ...   mutate, test, report
    python -m tests.mutation summary protocol/merkle.py                             counts of the last run
    python -m tests.mutation pytest tests/protocol/test_merkle.py ...               the tests of one mutant

The mutants are mutmut 2.5.1's own (``mutmut.list_mutations``: operators flipped, constants ±1, ``and``/``or``
swapped, strings and names changed, …), applied by mutmut's own ``mutate``. This driver runs them instead of
``mutmut run``, whose cache keys a line by its text: on a module holding one line twice (``if key is None:``,
``@classmethod``) it lost mutants, re-tested others, and crashed with "Attribute Mutant.line is required" —
then hung, on every protocol module but merkle (5 December).

One process imports pytest, hypothesis and the other third-party packages once, and never a module of this
project. For each mutant it writes the mutated module, forks a child that runs the tests (``-x``; the
hypothesis properties after the examples) and so imports every project module fresh from the mutated file,
and puts the original back. A mutant is **killed** when the tests fail (any status but 0, a collection
error included), **timeout** when they run ten times longer than on the original plus a minute (an endless
loop: killed too), **survived** when they pass. Results go to ``build/mutation/NAME.json`` as each mutant
ends, so a run stopped half-way goes on where it stopped; a mutant killed stays killed while the module's
text is the same, and every survivor is tested again (the tests may have changed). ``build/mutation/NAME.txt``
gets the wall time, every survivor as a diff and the counts.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib
import json
import os
import select
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

OUT = Path("build/mutation")
# Imported once by the driver: third-party only, so no project module is ever inherited by a child.
WARM = ("pytest", "hypothesis", "pytest_asyncio", "aiohttp", "msgpack", "nacl.signing",
        "cryptography.hazmat.primitives.asymmetric.ed25519", "unicodedata")  # fmt: skip
PROJECT = ("protocol", "federation", "node", "deploy")
KILLED = ("killed", "timeout")


def run_tests(args: list[str]) -> int:
    """The tests against the module as it is on disk: 0 if all pass, 1 if any fails. The example tests run
    before the hypothesis properties (most of the time), so a mutant the examples kill costs little."""
    import pytest

    quiet = ["-W", "ignore::pytest.PytestAssertRewriteWarning"]  # the driver imported the plugins
    status = pytest.main(["-x", "-q", "-p", "no:cacheprovider", *quiet, *args], plugins=[_ExamplesFirst()])
    return 0 if status == pytest.ExitCode.OK else 1


class _ExamplesFirst:
    """A pytest plugin: tests marked ``hypothesis`` (every ``@given``) run after all the others."""

    @staticmethod
    def pytest_collection_modifyitems(items: list[Any]) -> None:
        items.sort(key=lambda item: item.get_closest_marker("hypothesis") is not None)


def _in_child(args: list[str], timeout_s: float | None) -> tuple[str, float]:
    """Run the tests in a forked child, its output discarded: ('passed' | 'killed' | 'timeout', seconds)."""
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            status = run_tests(args)
        finally:
            os._exit(status)
    pidfd = os.pidfd_open(pid)
    try:
        if not select.select([pidfd], [], [], timeout_s)[0]:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout", time.monotonic() - started
        _, wait_status = os.waitpid(pid, 0)
    finally:
        os.close(pidfd)
    code = os.waitstatus_to_exitcode(wait_status)
    return ("passed" if code == 0 else "killed"), time.monotonic() - started


def _mutant(module: str, source: str, mutation_id: Any) -> str:
    """The text of one mutant mutmut 2 makes of ``source``."""
    from mutmut import Context, mutate

    mutated, count = mutate(Context(source=source, filename=module, mutation_id=mutation_id))
    assert count == 1, mutation_id
    return str(mutated)


def _diff(module: str, source: str, mutated: str) -> str:
    lines = difflib.unified_diff(source.splitlines(), mutated.splitlines(), module, module, lineterm="", n=0)
    return "\n".join(lines)


def run(module: str, tests: list[str]) -> int:
    """Mutate ``module`` mutant by mutant, run ``tests`` against each, record and report."""
    for name in WARM:
        with contextlib.suppress(ImportError):  # only ever a head start
            importlib.import_module(name)
    assert not [m for m in sys.modules if m.split(".")[0] in PROJECT], "the driver imported project code"
    path = Path(module)
    source = path.read_text(encoding="utf-8")
    digest = hashlib.sha256(source.encode()).hexdigest()
    OUT.mkdir(parents=True, exist_ok=True)
    record = OUT / f"{path.stem}.json"
    kept: dict[str, Any] = {}
    if record.exists():
        previous = json.loads(record.read_text(encoding="utf-8"))
        if previous.get("source_sha256") == digest:
            kept = {n: r for n, r in previous["mutants"].items() if r["status"] in KILLED}
    started = time.monotonic()
    baseline, seconds = _in_child(tests, None)
    if baseline != "passed":
        print(f"{module}: the tests fail on the unmutated module; nothing to measure", file=sys.stderr)
        return 1
    timeout_s = 10 * seconds + 60
    results: dict[str, Any] = dict(kept)
    from mutmut import Context, list_mutations

    mutants = list_mutations(Context(source=source, filename=module))
    restore = signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # the finally below puts the module back
    try:
        for n, mutation_id in enumerate(mutants):
            if str(n) in results:
                continue
            mutated = _mutant(module, source, mutation_id)
            path.write_text(mutated, encoding="utf-8")
            status, _ = _in_child(tests, timeout_s)
            path.write_text(source, encoding="utf-8")
            results[str(n)] = {
                "status": "survived" if status == "passed" else status,
                "line": mutation_id.line_number + 1,
                "diff": _diff(module, source, mutated),
            }
            _save(record, module, digest, tests, results)
    finally:
        path.write_text(source, encoding="utf-8")
        signal.signal(signal.SIGTERM, restore)
    _save(record, module, digest, tests, results)
    wall = time.monotonic() - started
    survivors = [results[str(n)] for n in range(len(mutants)) if results[str(n)]["status"] == "survived"]
    report = [f"wall time: {wall:.0f} s (baseline {seconds:.1f} s)", ""]
    report += [f"# mutant on line {r['line']}\n{r['diff']}\n" for r in survivors]
    report.append(summary_line(module, results))
    (OUT / f"{path.stem}.txt").write_text("\n".join(report) + "\n", encoding="utf-8")
    print(report[-1], flush=True)
    return 0


def _save(record: Path, module: str, digest: str, tests: list[str], results: dict[str, Any]) -> None:
    data = {"module": module, "source_sha256": digest, "tests": tests, "mutants": results}
    temp = record.with_suffix(".tmp")
    temp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(temp, record)


def summary_line(module: str, results: dict[str, Any]) -> str:
    counts = Counter(r["status"] for r in results.values())
    parts = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
    killed = sum(counts[s] for s in KILLED)
    return f"{module}: {len(results)} mutants ({parts}); killed {killed}, survived {counts['survived']}"


def print_summary(modules: list[str]) -> int:
    for module in modules:
        record = OUT / f"{Path(module).stem}.json"
        print(summary_line(module, json.loads(record.read_text(encoding="utf-8"))["mutants"]))
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["pytest"]:
        return run_tests(argv[1:])
    if argv[:1] == ["run"] and len(argv) >= 3:
        return run(argv[1], argv[2:])
    if argv[:1] == ["summary"]:
        return print_summary(argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
