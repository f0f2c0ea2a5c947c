"""The layout's rules, read from the source: one-way layers, prefect in flows only, no private
imports across modules, the sandbox kept out of production code, short functions.

``docs/architecture.md`` draws the same layers for newcomers. Each rule is checked on the
checkout's files with :mod:`ast`, so a stray import fails here before it confuses anybody.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Folder of the checkout → import name (setup.py maps the same).
FOLDERS = {
    "src/proximite": "proximite",
    "conf": "proximite.conf",
    "cohort": "proximite.cohort",
    "indicators": "proximite.indicators",
    "economics": "proximite.economics",
    "expectations": "proximite.expectations",
    "flows": "proximite.flows",
}

#: The layers, bottom first. A unit may import units of its own layer's rank or lower, and the
#: graph of units must have no cycle (so two units of one rank import at most one way).
LAYERS: list[set[str]] = [
    {"base"},  # proximite (package root), proximite.config, proximite.errors, proximite.version, proximite.conf
    {"cohort"},
    {"expectations", "indicators", "economics"},
    {"pipeline"},
    {"flows", "cli"},
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}

#: Units allowed to import the synthetic generator or the REDCap sandbox (their clients): the
#: commands that start them, and the simulation study that generates cohorts.
SANDBOX_CLIENTS = {"proximite.cli", "proximite.pipeline.validity"}

#: Functions allowed over :data:`MAX_FUNCTION_LINES`, each with the reason splitting would hurt.
LONG_FUNCTION_EXCEPTIONS: dict[str, str] = {}
MAX_FUNCTION_LINES = 80


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module


def modules() -> list[Module]:
    found = []
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join([package, *parts])
            found.append(Module(name, path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))))
    return found


def unit_of(module: str) -> str | None:
    """The layer unit of a ``proximite`` module name (None for other packages)."""
    parts = module.split(".")
    if parts[0] != "proximite":
        return None
    if len(parts) == 1 or parts[1] in {"config", "errors", "version", "conf"}:
        return "base"
    return parts[1]


def imports(module: Module) -> Iterator[tuple[str, list[str], int]]:
    """(imported module, imported names, line) of every import, relative ones resolved."""
    package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, [alias.name for alias in node.names], node.lineno


def unit_graph(found: list[Module]) -> dict[str, dict[str, list[str]]]:
    """unit → imported unit → where (``module:line``)."""
    graph: dict[str, dict[str, list[str]]] = {}
    for module in found:
        source = unit_of(module.name)
        for target_module, _, line in imports(module):
            target = unit_of(target_module)
            if target is None or target == source:
                continue
            graph.setdefault(source, {}).setdefault(target, []).append(f"{module.name}:{line}")
    return graph


def find_cycle(graph: dict[str, dict[str, list[str]]]) -> list[str] | None:
    """One cycle of the graph as a list of units, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(unit: str) -> list[str] | None:
        state[unit] = 1
        stack.append(unit)
        for target in graph.get(unit, {}):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[unit] = 2
        return None

    for unit in sorted(graph):
        if unit not in state and (cycle := visit(unit)):
            return cycle
    return None


@pytest.fixture(scope="module")
def found() -> list[Module]:
    return modules()


def test_every_unit_has_a_layer(found: list[Module]) -> None:
    units = {unit_of(module.name) for module in found}
    assert units <= set(RANK), f"units without a layer in docs/architecture.md: {sorted(units - set(RANK))}"


def test_the_graph_of_top_level_packages_has_no_cycle(found: list[Module]) -> None:
    graph = unit_graph(found)
    cycle = find_cycle(graph)
    where = [graph[a][b][0] for a, b in zip(cycle, cycle[1:])] if cycle else []
    assert cycle is None, f"import cycle {' -> '.join(cycle)} (first imports: {', '.join(where)})"


def test_layers_import_downward_only(found: list[Module]) -> None:
    upward = [
        f"{source} -> {target} ({places[0]})"
        for source, targets in unit_graph(found).items()
        for target, places in targets.items()
        if RANK[target] > RANK[source]
    ]
    assert not upward, "imports that go up the layers:\n" + "\n".join(upward)


def test_only_flows_imports_prefect(found: list[Module]) -> None:
    stray = [
        f"{module.name}:{line} imports {name}"
        for module in found
        if unit_of(module.name) != "flows"
        for name, _, line in imports(module)
        if name.split(".")[0] in {"prefect", "prefect_dask"}
    ]
    assert not stray, "prefect imported outside flows/:\n" + "\n".join(stray)


def test_no_private_name_is_imported_from_another_module(found: list[Module]) -> None:
    names_of_modules = {module.name for module in found}

    def package_internal(importer: str, source: str, name: str) -> bool:
        # A package's own ``_module`` imported by a module of that package is its private business.
        return f"{source}.{name}" in names_of_modules and importer.startswith(source + ".")

    private = [
        f"{module.name}:{line} imports {name} from {source}"
        for module in found
        for source, names, line in imports(module)
        if source.startswith("proximite") and source != module.name
        for name in names
        if name.startswith("_") and not name.startswith("__") and not package_internal(module.name, source, name)
    ]
    assert not private, "private names imported across modules:\n" + "\n".join(private)


def test_production_code_never_imports_the_sandbox(found: list[Module]) -> None:
    sandbox = "proximite.cohort.sandbox"
    stray = [
        f"{module.name}:{line} imports {name}"
        for module in found
        if not module.name.startswith(sandbox) and not any(
            module.name == client or module.name.startswith(client + ".") for client in SANDBOX_CLIENTS
        )
        for name, _, line in imports(module)
        if name == sandbox or name.startswith(sandbox + ".")
    ]
    assert not stray, "production code importing the sandbox or the generator:\n" + "\n".join(stray)


def function_lengths(module: Module) -> Iterator[tuple[str, int]]:
    """(qualified name, lines from ``def`` to the end with the docstring left out) of each function."""

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = child.end_lineno - child.lineno + 1
                first = child.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                    length -= first.end_lineno - first.lineno + 1
                yield f"{prefix}{child.name}", length
                yield from walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")

    yield from walk(module.tree, f"{module.name}:")


def test_no_function_over_80_lines(found: list[Module]) -> None:
    long = [
        f"{name} ({length} lines)"
        for module in found
        for name, length in function_lengths(module)
        if length > MAX_FUNCTION_LINES and name not in LONG_FUNCTION_EXCEPTIONS
    ]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines (split them, or document why not):\n" + "\n".join(long)


def test_the_rules_catch_what_they_forbid() -> None:
    """The checks above fail on a planted cycle, a planted prefect import and a planted private import."""
    graph = {"cohort": {"indicators": ["x:1"]}, "indicators": {"cohort": ["y:2"]}}
    assert find_cycle(graph) == ["cohort", "indicators", "cohort"]
    planted = Module("proximite.cohort.planted", ROOT / "cohort" / "planted.py",
                     ast.parse("import prefect\nfrom proximite.indicators.base import _private\n"))
    assert [name for name, _, _ in imports(planted)] == ["prefect", "proximite.indicators.base"]
    assert unit_graph([planted]) == {"cohort": {"indicators": ["proximite.cohort.planted:2"]}}
    long = Module("proximite.cohort.long", ROOT / "cohort" / "long.py",
                  ast.parse("def f():\n    '''doc'''\n" + "    x = 1\n" * 81))
    assert list(function_lengths(long)) == [("proximite.cohort.long:f", 82)]
