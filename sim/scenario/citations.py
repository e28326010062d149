"""Seed citations of a scenario file: which figures cite which entry of ``seeds/``.

A scenario figure cites the reference data with a comment, ``every: 8d  # seed:
programme.interval``; :func:`seed_citations` finds them (in the file and the files it
``extends``), :func:`seeds_dir` finds the ``seeds/`` folder and :func:`seed_entries` reads
its entries.  They read only the scenario's own text and the seed files, so they belong to
the scenario language: the runner records them in the manifest when a run starts, and the
brief reports what was recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_SEED_LINE = re.compile(r"^(?P<indent>\s*)(?:-\s+)?(?:(?P<key>[A-Za-z_][\w]*):\s*)?(?P<value>.*?)\s*"
                        r"#\s*seed:\s*(?P<seed>[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)+)\s*$")
_NAME_LINE = re.compile(r"^(?P<indent>\s*)-\s+name:\s*(?P<name>[A-Za-z][\w\-]*)")
_PARENT_LINE = re.compile(r"^\s*(?:-\s+)?(?P<key>[A-Za-z_][\w]*):\s*(?:#.*)?$")
_EXTENDS_LINE = re.compile(r"^extends:\s*['\"]?(?P<file>[^'\"#]+?)['\"]?\s*(?:#.*)?$")


@dataclass(frozen=True)
class Citation:
    """A scenario figure and the seed entry it cites (``# seed: key`` in the file)."""

    file: str
    item: str  # the named facility, programme or disruption it belongs to ("" at top level)
    field: str
    value: str
    seed: str


def seed_citations(scenario_file: Path, _seen: frozenset[Path] = frozenset()) -> list[Citation]:
    """Every ``# seed:`` citation of a scenario file and of the files it ``extends``
    (the extended file's first, then this file's, which override them)."""
    path = scenario_file.resolve()
    if path in _seen or not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[Citation] = []
    for line in lines:
        m = _EXTENDS_LINE.match(line)
        if m:
            out.extend(seed_citations(path.parent / m.group("file").strip(), _seen | {path}))
    names: list[tuple[int, str]] = []  # (indent, name) of the enclosing named items
    parents: list[tuple[int, str]] = []  # (indent, key) of the enclosing mapping keys
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" -"))
        names = [(i, nm) for i, nm in names if i <= indent]
        parents = [(i, k) for i, k in parents if i < indent]
        n = _NAME_LINE.match(line)
        if n:
            names = [(i, nm) for i, nm in names if i < indent] + [(indent, n.group("name"))]
            parents = []
            continue
        p = _PARENT_LINE.match(line)
        if p:
            parents.append((indent, p.group("key")))
            continue
        m = _SEED_LINE.match(line)
        if m:
            item = names[-1][1] if names else ""
            inner = [k for i, k in parents if not names or i >= names[-1][0]]
            field_ = ".".join([*inner, m.group("key")] if m.group("key") else inner)
            value = m.group("value").strip()
            out.append(Citation(path.name, item, field_, value[:60] + ("…" if len(value) > 60 else ""),
                                m.group("seed")))
    return out


def seeds_dir(near: Path | None = None) -> Path | None:
    """The ``seeds/`` folder: beside or above ``near``, else beside the ``sim`` package."""
    candidates = [*(p / "seeds" for p in ([near, *near.parents] if near is not None else []))]
    candidates.append(Path(__file__).resolve().parents[2] / "seeds")
    return next((c for c in candidates if c.is_dir()), None)


def seed_entries(folder: Path) -> dict[str, dict[str, Any]]:
    """Every seed entry (``group.name`` -> {value, unit, confidence, source, note}) of the
    YAML files in ``seeds/``."""
    out: dict[str, dict[str, Any]] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and "value" in node and "source" in node:
            out[prefix] = node
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))

    for f in sorted(folder.glob("*.yaml")):
        try:
            walk(yaml.safe_load(f.read_text(encoding="utf-8")), "")
        except yaml.YAMLError:
            continue
    return out


__all__ = ["Citation", "seed_citations", "seed_entries", "seeds_dir"]
