"""``extends``: a scenario file as an override of another, merged before validation.

``extends: base.yaml`` (relative to the file) makes a file an override of another:
mappings merge recursively; lists whose items all have a ``name`` merge by name (an item
with a known name is merged into it, a new name is appended, ``{name: x, remove: true}``
removes x); any other list, and an empty list, replaces the base's.  A chain of
``extends`` must stay inside the scenario's folder tree (or a ``scenarios/`` folder above
it, or this repository's ``scenarios/``) and may not loop.  Positions are kept through the
merge, so a problem in the merged tree points at the file and line that wrote the value.
"""

from __future__ import annotations

import os
import stat
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from sim import units
from sim.errors import Problem, ScenarioError
from sim.scenario.yaml_reader import (
    PosDict,
    PosList,
    kind_of_file,
    plain,
    problem_at,
    read_yaml_file,
    shown_name,
)

MAX_EXTENDS_CHAIN = 16


REPO_SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _roots(top: Path) -> list[Path]:
    roots = [top.parent]
    for parent in top.parents:
        if parent.name == "scenarios":
            roots.append(parent)
            break
    if REPO_SCENARIOS.is_dir():
        roots.append(REPO_SCENARIOS.resolve())
    return roots


def _is_named_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in value)


def _merge(base: Any, over: Any, path: tuple, shown_base: str, problems: list[Problem]) -> Any:
    """``over`` merged onto ``base`` (neither is changed)."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = PosDict(pos=getattr(over, "pos", None))
        for k, v in base.items():
            out[k] = v
            out.key_pos[k] = getattr(base, "key_pos", {}).get(k)
        for k, v in over.items():
            out[k] = _merge(base[k], v, (*path, k), shown_base, problems) if k in base else v
            out.key_pos[k] = getattr(over, "key_pos", {}).get(k)
        return out
    if isinstance(base, list) and isinstance(over, list) and over and _is_named_list(base) and _is_named_list(over):
        items: list[Any] = list(base)
        item_pos: list[Any] = list(getattr(base, "item_pos", [None] * len(base)))
        over_pos = getattr(over, "item_pos", [None] * len(over))
        for item, ipos in zip(over, over_pos, strict=False):
            name = item["name"]
            where = next((i for i, b in enumerate(items) if b.get("name") == name), None)
            remove = item.get("remove", False)
            if "remove" in item:
                if not isinstance(remove, bool):
                    problems.append(problem_at(ipos, path,
                                               f"'remove' must be true or false, not {units.written(remove)}"))
                    continue
                if remove and set(item) - {"name", "remove"}:
                    extra = ", ".join(sorted(str(k) for k in set(item) - {"name", "remove"}))
                    problems.append(problem_at(
                        ipos, path, f"an item with 'remove: true' takes only 'name' (also found: {extra})"))
                    continue
                stripped = PosDict(pos=getattr(item, "pos", None))
                for k, v in item.items():
                    if k != "remove":
                        stripped[k] = v
                        stripped.key_pos[k] = getattr(item, "key_pos", {}).get(k)
                item = stripped
            if remove:
                if where is None:
                    names = [b.get("name") for b in items]
                    near = get_close_matches(name, names, n=1, cutoff=0.6)
                    problems.append(problem_at(
                        ipos, path, f"cannot remove {name!r}: {shown_base} has no item of that name here",
                        f"did you mean {near[0]!r}?" if near else "names here: " + ", ".join(names[:12])))
                    continue
                del items[where]
                del item_pos[where]
            elif where is None:
                items.append(item)
                item_pos.append(ipos)
            else:
                items[where] = _merge(items[where], item, (*path, where), shown_base, problems)
                item_pos[where] = ipos
        out_list = PosList(items, pos=getattr(over, "pos", None))
        out_list.item_pos = item_pos
        return out_list
    return over


def _nearby_yaml(target: Path) -> str | None:
    folder = target.parent
    if not folder.is_dir():
        return None
    try:
        names = sorted(p.name for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))[:1000]
    except OSError:
        return None
    near = get_close_matches(target.name, names, n=1, cutoff=0.5)
    if near:
        return f"did you mean {near[0]!r}?"
    return ("files there: " + ", ".join(names[:10])) if names else None


def _load_tree(path: Path, shown: str, roots: list[Path], chain: list[Path], problems: list[Problem]) -> PosDict:
    """The merged tree; problems of merging (a name to remove that is not there) are
    appended to ``problems`` and the rest of the merge goes on, so they are reported
    together with the validation problems."""
    tree = read_yaml_file(path, shown)
    if "extends" not in tree:
        return tree
    ext = tree.pop("extends")
    epos = tree.key_pos.pop("extends", None)

    def refuse(message: str, hint: str | None = None) -> ScenarioError:
        return ScenarioError([problem_at(epos, ("extends",), message, hint)])

    if not isinstance(ext, str) or not ext.strip():
        raise refuse(f"needs the file name of the base scenario, got {units.written(ext)}",
                     "e.g. 'extends: baseline.yaml'")
    try:
        target = (path.parent / ext.strip()).resolve()
    except (OSError, RuntimeError, ValueError) as e:  # symlink loops, NUL in the name, ...
        raise refuse(f"cannot resolve {ext!r}: {e}") from None
    if not any(target == r or r in target.parents for r in roots):
        raise refuse(f"points outside the scenario folders: {ext!r}",
                     "a base scenario must be in the same folder tree (allowed: "
                     + ", ".join(str(r) for r in roots) + ")")
    if target in chain:
        cycle = " -> ".join(os.path.relpath(p, path.parent) for p in [*chain[chain.index(target):], target])
        raise refuse(f"loops: {cycle}", "a file cannot extend itself, directly or through others")
    if len(chain) >= MAX_EXTENDS_CHAIN:
        raise refuse(f"the 'extends' chain is longer than {MAX_EXTENDS_CHAIN} files")
    try:
        mode = target.stat().st_mode
    except OSError:
        raise refuse(f"names a file that does not exist: {ext!r}", _nearby_yaml(target)) from None
    if stat.S_ISDIR(mode):
        raise refuse(f"{ext!r} is a folder, not a file",
                     "name the base scenario's YAML file, e.g. 'extends: baseline.yaml'")
    if not stat.S_ISREG(mode):
        raise refuse(f"{ext!r} is {kind_of_file(mode)}, not a regular file", "name the base scenario's YAML file")
    shown_base = shown_name(target)
    base = _load_tree(target, shown_base, roots, [*chain, target], problems)
    return _merge(base, tree, (), shown_base, problems)


def tree_and_problems(path: str | os.PathLike[str]) -> tuple[PosDict, list[Problem]]:
    p = Path(path)
    shown = str(path)
    try:
        resolved = p.resolve()
    except (OSError, RuntimeError) as e:
        raise ScenarioError([Problem(shown, None, None, (), f"cannot resolve the path: {e}")]) from None
    problems: list[Problem] = []
    tree = _load_tree(p, shown, _roots(resolved), [resolved], problems)
    return tree, problems


def load_tree(path: str | os.PathLike[str]) -> PosDict:
    """The merged mapping of a scenario file (``extends`` resolved), with positions."""
    tree, problems = tree_and_problems(path)
    if problems:
        raise ScenarioError(problems)
    return tree


def load_raw(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The merged scenario mapping before validation (plain dicts and lists)."""
    return plain(load_tree(path))


# --------------------------------------------------------------------------- what a what-if changes

# Fields that describe an item rather than change what the model does: a diff leaves them out.
DESCRIPTIVE_FIELDS = frozenset({"name", "description", "note", "label", "remove"})
# Top-level fields that choose how a run is sampled, not what is simulated.
RUN_SETTINGS = frozenset({"seed", "replications", "limits"})


def base_file(path: str | os.PathLike[str]) -> str | None:
    """The ``extends:`` value of a scenario file as written (``"baseline.yaml"``), or None
    when it extends nothing.  Only the file's own top level is read; the base is not."""
    ext = read_yaml_file(Path(path), str(path)).get("extends")
    return ext.strip() if isinstance(ext, str) and ext.strip() else None


def _leaf_paths(base: Any, over: Any, prefix: str) -> list[str]:
    """Dotted paths (``tank.initial``) below which ``base`` and ``over`` differ; a list that
    is not a list of named items counts as one field."""
    if isinstance(base, dict) and isinstance(over, dict):
        out: list[str] = []
        for k in sorted(set(base) | set(over), key=str):
            if k in DESCRIPTIVE_FIELDS:
                continue
            if base.get(k) != over.get(k):
                out += _leaf_paths(base.get(k), over.get(k), f"{prefix}.{k}" if prefix else str(k))
        return out
    return [prefix] if base != over else []


def scenario_changes(base: dict[str, Any], scenario: dict[str, Any]) -> list[dict[str, Any]]:
    """What ``scenario`` changes relative to ``base``: both plain scenario mappings as the
    run folder's ``scenario.yaml`` holds them (units written out, defaults filled).

    One entry per changed item of a named list (``network.sources``, ``shipping.programmes``,
    ``disruptions`` ...): ``{"section": "shipping.programmes", "item": "mar_ceyhan",
    "change": "added" | "removed" | "changed", "fields": [...]}``, ``fields`` the dotted paths
    that differ (for ``changed``) in the item's order; and one per other top-level field
    that differs (``{"section": "settings", "item": "horizon", "change": "changed",
    "fields": ["horizon"]}``).  Descriptive fields (:data:`DESCRIPTIVE_FIELDS`) and how the
    run is sampled (:data:`RUN_SETTINGS`) are left out.  Sections in the scenario's order."""
    out: list[dict[str, Any]] = []

    def walk(b: Any, s: Any, section: str) -> None:
        if isinstance(b, dict) and isinstance(s, dict):
            for k in [*s, *(k for k in b if k not in s)]:
                if k in DESCRIPTIVE_FIELDS or (not section and k in RUN_SETTINGS) or b.get(k) == s.get(k):
                    continue
                sub = f"{section}.{k}" if section else str(k)
                if _is_named_list(b.get(k, [])) and _is_named_list(s.get(k, [])) and (b.get(k) or s.get(k)):
                    walk_items(b.get(k) or [], s.get(k) or [], sub)
                elif isinstance(b.get(k), dict) and isinstance(s.get(k), dict) and not section:
                    walk(b[k], s[k], sub)  # network, shipping, costs: sections of sections
                else:
                    out.append({"section": section or "settings", "item": str(k), "change": "changed",
                                "fields": _leaf_paths(b.get(k), s.get(k), str(k))})

    def walk_items(b: list[Any], s: list[Any], section: str) -> None:
        theirs = {i["name"]: i for i in b}
        mine = {i["name"]: i for i in s}
        for name, item in mine.items():
            if name not in theirs:
                out.append({"section": section, "item": name, "change": "added", "fields": []})
            elif theirs[name] != item:
                fields = _leaf_paths(theirs[name], item, "")
                if fields:
                    out.append({"section": section, "item": name, "change": "changed", "fields": fields})
        out.extend({"section": section, "item": name, "change": "removed", "fields": []}
                   for name in theirs if name not in mine)

    walk(base, scenario, "")
    return out
