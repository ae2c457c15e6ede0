"""The rooms keep their shape: the import graph of ``protocol/``, ``federation/`` and ``node/`` is a DAG, it
points one way (node → federation → protocol), and no private name (``_x``) is used outside its module.

Static, on the source (STYLE.md, convention 12): every ``import`` counts, a lazy one inside a function
too, because a lazy import is still a dependency, only a hidden one.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("protocol", "federation", "node")  # bottom first: each may import only those before it

# A private name of the standard library read through a local variable, which a static check cannot tell
# from one of ours; each with the reason it is the only way. Nothing of ours may ever be listed here.
KNOWN: dict[str, str] = {
    "federation.verifypool:210 uses ._processes of another module": (
        "concurrent.futures names a ProcessPoolExecutor's workers only in its private _processes"
    ),
}


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module

    @property
    def package(self) -> str:
        return self.name.split(".", 1)[0]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Module]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = _module_name(path)
            found[name] = Module(name, path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return found


MODULES = _modules()


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    """The module an ``import from`` names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    package = module.name.split(".")
    if module.path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(module: Module, known: dict[str, Module]) -> set[str]:
    """The project modules ``module`` imports, at any depth of its source."""
    found: set[str] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, node)
            for alias in node.names:  # ``from a import b`` imports the module a.b when there is one
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {name for name in found if name in known and name != module.name}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as [a, b, …, a], or None when it is a DAG."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for target in sorted(graph.get(name, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[name] = 2
        return None

    for name in sorted(graph):
        if name not in state and (cycle := visit(name)):
            return cycle
    return None


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    rank = {package: i for i, package in enumerate(PACKAGES)}
    return sorted(
        f"{source} imports {target}"
        for source, targets in graph.items()
        for target in targets
        if rank[target.split(".", 1)[0]] > rank[source.split(".", 1)[0]]
    )


def _defined_private(tree: ast.AST) -> set[str]:
    """Private names a module defines: its own functions, classes, attributes and assignments."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
    return {name for name in names if _private(name)}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _foreign_names(tree: ast.AST, known: dict[str, Module]) -> set[str]:
    """Names bound to modules (or their members) from outside the project."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name not in known)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module not in known:
            names.update(a.asname or a.name for a in node.names)
    return names


def private_uses(module: Module, known: dict[str, Module]) -> list[str]:
    """``from x import _y`` of another project module, and ``thing._y`` where ``_y`` is not this module's
    own name (so it belongs to some other module's object)."""
    own = _defined_private(module.tree)
    foreign = _foreign_names(module.tree, known)
    found = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ImportFrom):
            base = _absolute(module, node)
            if base in known and base != module.name:
                found += [f"{module.name} imports {base}.{a.name}" for a in node.names if _private(a.name)]
        elif isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in own:
            if isinstance(node.value, ast.Name) and node.value.id in foreign:
                continue  # the standard library's or a dependency's own business (os._exit)
            found.append(f"{module.name}:{node.lineno} uses .{node.attr} of another module")
    return found


GRAPH = {name: imports_of(module, MODULES) for name, module in MODULES.items()}


def test_every_package_is_found() -> None:
    assert {"protocol.codec", "federation.store", "node.storage.writer", "node.http.app"} <= set(MODULES)


def test_import_graph_is_a_dag() -> None:
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_imports_point_down_the_layers() -> None:
    assert layer_violations(GRAPH) == []


# node/'s rooms, bottom first (README, "Where things live"): a room imports only rooms before it
NODE_ROOMS = (
    ("node", "node.errors"),
    ("node.settings",),
    ("node.config",),
    ("node.rules",),
    ("node.storage", "node.backup.keyfile", "node.backup.tables"),  # backup's key file and tables are storage
    ("node.bootstrap",),
    ("node.replication",),
    ("node.ops",),
    ("node.backup",),
    ("node.web",),
    ("node.http",),
    ("node.cli",),
)


def _room(name: str) -> int:
    ranks = [
        (len(prefix), rank)
        for rank, prefixes in enumerate(NODE_ROOMS)
        for prefix in prefixes
        if name == prefix or name.startswith(prefix + ".")
    ]
    return max(ranks)[1]


def test_node_rooms_import_only_rooms_below() -> None:
    upward = sorted(
        f"{source} imports {target}"
        for source, targets in GRAPH.items()
        if source.startswith("node.")
        for target in targets
        if target.startswith("node") and _room(target) > _room(source)
    )
    assert upward == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_private_name_crosses_modules(package: str) -> None:
    found = [v for m in MODULES.values() if m.package == package for v in private_uses(m, MODULES)]
    assert sorted(set(found) - set(KNOWN)) == []


def test_known_violations_are_still_violations() -> None:
    """A fixed violation leaves the known list, so the list only ever shrinks."""
    found = {v for m in MODULES.values() for v in private_uses(m, MODULES)}
    assert sorted(set(KNOWN) - found) == []


# The checkers themselves, on small made-up trees: each must see what it is there to see.


def _fake(name: str, source: str) -> Module:
    path = ROOT / (name.replace(".", "/") + ".py")
    return Module(name, path, ast.parse(source))


def test_checker_sees_lazy_relative_and_submodule_imports() -> None:
    known = {n: _fake(n, "") for n in ("node.a", "node.b", "node.c", "node.pkg.d", "federation.x")}
    source = (
        "from . import b\n"
        "def f():\n    from node.pkg import d\n"
        "import federation.x\n"
        "from node.c import thing\n"
        "import os\n"
    )
    assert imports_of(_fake("node.a", source), known) == {"node.b", "node.pkg.d", "federation.x", "node.c"}


def test_checker_names_the_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_checker_sees_upward_imports() -> None:
    graph = {"protocol.a": {"federation.b"}, "federation.b": {"protocol.a"}, "node.c": {"federation.b"}}
    assert layer_violations(graph) == ["protocol.a imports federation.b"]


def test_checker_sees_private_names_of_other_modules() -> None:
    known = {"node.a": _fake("node.a", ""), "node.b": _fake("node.b", "")}
    source = (
        "import os\n"
        "from node.a import _hidden, shown\n"
        "os._exit(0)\n"
        "class Mine:\n    def __init__(self, other):\n        self._own = other._theirs\n"
        "    def use(self, x):\n        return self._own, x._own, self.__class__\n"
    )
    found = private_uses(_fake("node.b", source), known)
    assert found == ["node.b imports node.a._hidden", "node.b:6 uses ._theirs of another module"]


def test_the_version_has_one_home() -> None:
    import tomllib

    from node import VERSION

    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"] == VERSION
