"""The package's layers, read from its own imports: data flows one way and nothing imports back up.

The layers, lowest first (docs/architecture.md): the leaves (errors, units, rng, recorder,
_version), the scenario language, the model, results (catalogue, metrics, store), the runner,
analysis, report, the CLI, and on top the public API in ``sim/__init__.py``.  A module may
import from its own layer or a lower one, never a higher one, and the import graph has no
circles, lazy imports inside functions included (they are dependencies all the same).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parents[1] / "sim"

LAYERS = [
    ("leaves", {"sim.errors", "sim.units", "sim.rng", "sim.recorder", "sim._version"}),
    ("scenario", {"sim.scenario"}),
    ("model", {"sim.model"}),
    ("results", {"sim.results"}),
    ("runner", {"sim.runner"}),
    ("analysis", {"sim.analysis"}),
    ("report", {"sim.report"}),
    ("cli", {"sim.cli"}),
    ("api", {"sim", "sim.__main__"}),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SIM.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(SIM.rglob("*.py"))}


def layer_of(module: str) -> int:
    for rank, (_name, prefixes) in enumerate(LAYERS):
        if module in prefixes:
            return rank
    for rank, (_name, prefixes) in enumerate(LAYERS):
        if any(module.startswith(p + ".") for p in prefixes if p != "sim"):
            return rank
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS and docs/architecture.md")


def imports_of(module: str) -> set[str]:
    """Every sim module that ``module`` imports, at the top or inside a function."""
    tree = ast.parse(MODULES[module].read_text(), filename=str(MODULES[module]))
    found: set[str] = set()
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            # `from sim.results import store` names the submodule sim.results.store
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name.startswith("sim") and name != module:
                found.add(name)
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


def test_every_module_has_a_layer():
    for m in MODULES:
        layer_of(m)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_reaches_up_a_layer(module):
    mine = layer_of(module)
    up = sorted(t for t in GRAPH[module] if layer_of(t) > mine)
    assert not up, (f"{module} ({LAYERS[mine][0]}) imports from a higher layer: "
                    + ", ".join(f"{t} ({LAYERS[layer_of(t)][0]})" for t in up))


def test_no_package_module_imports_the_public_api():
    """``sim/__init__.py`` is the top of the house: only ``python -m sim`` may lean on it."""
    leaning = sorted(m for m, targets in GRAPH.items() if "sim" in targets and m != "sim.__main__")
    assert not leaning


def test_the_import_graph_has_no_circles():
    """Depth-first search; a grey node met again closes a circle."""
    colour: dict[str, str] = {}
    circles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        colour[node] = "grey"
        for nxt in sorted(GRAPH[node]):
            if nxt == "sim" or nxt.endswith("__main__"):
                continue
            if colour.get(nxt) == "grey":
                circles.append([*path[path.index(nxt):], nxt] if nxt in path else [node, nxt])
            elif nxt not in colour:
                visit(nxt, [*path, nxt])
        colour[node] = "black"

    for m in sorted(MODULES):
        if m not in colour:
            visit(m, [m])
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def test_the_checker_sees_a_planted_upward_import(tmp_path, monkeypatch):
    """The rule is not vacuous: a model module importing the report layer is caught."""
    fake = tmp_path / "sim" / "model" / "planted.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("def f():\n    from sim.report import brief\n")
    monkeypatch.setitem(MODULES, "sim.model.planted", fake)
    monkeypatch.setitem(MODULES, "sim.report.brief", SIM / "report" / "brief.py")
    assert "sim.report.brief" in imports_of("sim.model.planted")
    assert layer_of("sim.report.brief") > layer_of("sim.model.planted")
