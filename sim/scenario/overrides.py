"""``--set PATH=VALUE`` overrides: a scenario mapping changed before validation.

The scenario language's own job, shared by ``run``, ``sweep`` and the Python API
(:func:`sim.runner.prepare`): an override's path walks the merged mapping of a scenario
file (items of named lists by ``name`` or by index, e.g.
``network.pipelines.odesa_brody.capacity=7Mt/y``), its value is read as YAML, and a problem
that validation then finds in the field it set names that ``--set`` in its hint.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from difflib import get_close_matches
from typing import Any

import yaml

from sim import units
from sim.errors import Problem, UserError
from sim.scenario.yaml_reader import MAX_DEPTH


def parse_override(text: str) -> tuple[str, Any]:
    """``"shipping.programmes.socar.every=20d"`` -> (path, value); the value is read as YAML
    (so ``4`` is a number, ``[a, b]`` a list, ``7Mt/y`` a string)."""
    if "=" not in text:
        raise UserError(f"--set {text!r}: write PATH=VALUE, e.g. --set network.pipelines.odesa_brody.capacity=7Mt/y")
    path, _, raw = text.partition("=")
    path = path.strip()
    if not path:
        raise UserError(f"--set {text!r}: the path before '=' is empty")
    return path, _yaml_value(raw)


def _yaml_value(raw: str) -> Any:
    """A --set value read as YAML, refused (exit 2) where a scenario file would be: nested
    deeper than :data:`~sim.scenario.yaml_reader.MAX_DEPTH` (PyYAML would recurse until
    Python's stack gives out) or holding an alias (a few of which expand into millions of
    values); text that is not YAML is taken as it is written."""
    if not raw.strip():
        return ""
    depth = 0
    try:
        for event in yaml.parse(raw, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise UserError(f"--set value {raw[:40]!r}: YAML aliases (*name) are not allowed in a --set value")
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise UserError(f"--set value {raw[:40]!r}...: nested more than {MAX_DEPTH} levels deep")
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw.strip()


def split_values(raw: str) -> list[Any]:
    """``"4,5,[a, b]"`` -> [4, 5, ['a', 'b']]: commas split values except inside brackets or quotes."""
    out, depth, cur, quote = [], 0, "", None
    for ch in raw:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        cur += ch
    out.append(cur)
    return [_yaml_value(v) for v in out]


def _suggest(word: str, options: Iterable[str]) -> str:
    options = [str(o) for o in options]
    near = get_close_matches(word, options, n=1, cutoff=0.6)
    if near:
        return f"; did you mean {near[0]!r}?"
    return f"; valid here: {', '.join(options[:15])}" if options else ""


def apply_override(tree: dict[str, Any], path: str, value: Any) -> tuple[str | int, ...]:
    """Set ``value`` at the dotted ``path`` of a scenario mapping, in place.

    Mapping keys must exist except the last one (a field left at its default may be set);
    a list is indexed by an item's ``name`` or by position.  Errors name the path and the
    nearest valid key.  Returns the field path it set, list items as indexes
    (``('network', 'pipelines', 2, 'capacity')``).
    """
    parts = path.split(".")
    node: Any = tree
    walked: list[str] = []
    resolved: list[str | int] = []
    for k, part in enumerate(parts):
        last = k == len(parts) - 1
        where = ".".join(walked) or "the scenario"
        idx = None
        if isinstance(node, dict):
            if last:
                node[part] = value
                return (*resolved, part)
            if part not in node:
                raise UserError(f"--set {path}: {where} has no {part!r}{_suggest(part, node.keys())}")
            nxt = node[part]
        elif isinstance(node, list):
            names = [item.get("name") if isinstance(item, dict) else None for item in node]
            if part in names:
                idx = names.index(part)
            elif part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
                idx = int(part)
            if idx is None:
                raise UserError(f"--set {path}: {where} has no item named {part!r}"
                                f"{_suggest(part, [n for n in names if n])}")
            if last:
                node[idx] = value
                return (*resolved, idx % len(node))
            nxt = node[idx]
        else:
            raise UserError(f"--set {path}: {where} is a single value ({units.written(node)}), it has no {part!r}")
        walked.append(part)
        resolved.append(idx % len(node) if isinstance(node, list) else part)  # type: ignore[operator]
        node = nxt
    return tuple(resolved)


def blame_override(problem: Problem, applied: Sequence[tuple[tuple[str | int, ...], str, Any]]) -> Problem:
    """Point a validation problem at the --set that caused it: one that set the problem's
    field, a field inside it, or the mapping holding it."""
    where = tuple(problem.path)
    for field_path, p, v in applied:
        n = min(len(where), len(field_path))
        if n and where[:n] == field_path[:n] and len(field_path) - len(where) <= 1:
            blame = f"set by --set {p}={units.flow_style(v)}"
            return Problem(problem.file, problem.line, problem.column, problem.path,
                           problem.message, (problem.hint + "; " if problem.hint else "") + blame)
    return problem


__all__ = ["apply_override", "blame_override", "parse_override", "split_values"]
