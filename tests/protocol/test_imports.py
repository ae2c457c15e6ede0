"""``protocol/`` is pure (STYLE.md, convention 1): no event loop, network, database or clock.

Checked twice: statically, on the source of every module (so a lazy import inside a function counts), and
dynamically, by importing every module in a fresh interpreter and looking at what got loaded.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PROTOCOL = Path(__file__).resolve().parents[2] / "protocol"
FORBIDDEN = ("asyncio", "aiohttp", "sqlite3", "sqlite_utils", "socket", "time", "federation", "node")
MODULES = sorted(PROTOCOL.rglob("*.py"))


def _imported(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def _forbidden(name: str) -> bool:
    return any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)


def test_modules_found() -> None:
    names = {path.stem for path in MODULES}
    assert {"codec", "keys", "entry", "errors"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PROTOCOL)))
def test_no_forbidden_imports_in_source(path: Path) -> None:
    imported = _imported(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    assert not {name for name in imported if _forbidden(name)}


def test_checker_sees_nested_and_dynamic_imports() -> None:
    source = (
        "def f():\n    import time\n    from aiohttp import web\n"
        "import importlib\nimportlib.import_module('sqlite3')\nfrom node.store import x\nimport os.path\n"
    )
    found = {name for name in _imported(ast.parse(source)) if _forbidden(name)}
    assert found == {"time", "aiohttp", "sqlite3", "node.store"}
    assert not _forbidden("timeit") and not _forbidden("nodes") and not _forbidden("protocol.time_format")


def test_no_forbidden_modules_loaded_at_runtime() -> None:
    parts = [path.relative_to(PROTOCOL.parent).with_suffix("").parts for path in MODULES]
    modules = [".".join(part[:-1] if part[-1] == "__init__" else part) for part in parts]
    script = (
        "import importlib, json, sys\n"
        "before = set(sys.modules)\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps({'before': sorted(before), 'after': sorted(sys.modules)}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROTOCOL.parent,  # "-c" puts the working directory first on sys.path
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    new = set(loaded["after"]) - set(loaded["before"])
    assert set(modules) <= new
    # ``time`` is loaded by the interpreter itself (zipimport, at startup), so only the source check above
    # can catch it; every other forbidden module must not appear, whether protocol or a dependency pulls it.
    assert sorted(name for name in new if _forbidden(name)) == []
