"""Read scenario files: safe YAML with line numbers, limits, ``extends`` merging, validation.

``load_scenario(path)`` returns a :class:`~sim.scenario.language.Scenario` or raises
:class:`~sim.errors.ScenarioError` listing every problem, each with its file, line, column,
field path and a hint.  ``load_raw(path)`` returns the merged mapping before validation.

Safety: the YAML is read event by event (libyaml where available) and built here, not by
PyYAML's constructor, so only plain values exist (no object tags), every mapping key and
sequence item keeps its position, duplicate keys are errors rather than silently
overwritten, and hostile files are refused early with bounded memory: more than
``MAX_FILE_BYTES``, more than ``MAX_NODES`` values once aliases are expanded (an alias
bomb), nesting deeper than ``MAX_DEPTH``, binary or non-UTF-8 content.

``extends: base.yaml`` (relative to the file) makes a file an override of another:
mappings merge recursively; lists whose items all have a ``name`` merge by name (an item
with a known name is merged into it, a new name is appended, ``{name: x, remove: true}``
removes x); any other list, and an empty list, replaces the base's.  A chain of
``extends`` must stay inside the scenario's folder tree (or a ``scenarios/`` folder above
it, or this repository's ``scenarios/``) and may not loop.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
import stat
import types
import typing
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sim.errors import Problem, ScenarioError
from sim.scenario import checks
from sim.scenario.language import Scenario, reference_problems
from sim.units import format_bytes

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 64
MAX_EXTENDS_CHAIN = 16

REPO_SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

_YAML = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_YAML + t for t in ("null", "bool", "int", "float", "str", "timestamp")}
_MERGE_TAG = _YAML + "merge"
_EventLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# --------------------------------------------------------------------------- positions


class Pos(typing.NamedTuple):
    """Where a value starts: file name as shown to the user, 1-based line and column."""

    file: str
    line: int
    column: int


class PosDict(dict):
    """A mapping read from YAML that remembers where it and each of its keys are."""

    pos: Pos | None = None
    key_pos: dict

    def __init__(self, *args: Any, pos: Pos | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.pos = pos
        self.key_pos = {}


class PosList(list):
    """A sequence read from YAML that remembers where it and each of its items are."""

    pos: Pos | None = None
    item_pos: list

    def __init__(self, *args: Any, pos: Pos | None = None):
        super().__init__(*args)
        self.pos = pos
        self.item_pos = []


def plain(value: Any) -> Any:
    """The same data as built-in dicts and lists (for dumping or JSON Schema checks)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def position_of(tree: Any, path: tuple) -> Pos | None:
    """Position of the deepest part of ``path`` that exists in ``tree``."""
    pos = getattr(tree, "pos", None)
    node = tree
    for part in path:
        if isinstance(node, PosDict) and _has_key(node, part):
            pos = node.key_pos.get(part, pos)
            node = node[part]
        elif isinstance(node, PosList) and isinstance(part, int) and 0 <= part < len(node):
            pos = node.item_pos[part] if part < len(node.item_pos) else pos
            node = node[part]
        else:
            break
    return pos


_MISSING = object()


def value_at(tree: Any, path: tuple) -> Any:
    """The raw value at ``path``, or ``_MISSING``."""
    node = tree
    for part in path:
        if isinstance(node, dict) and _has_key(node, part):
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return _MISSING
    return node


def _has_key(d: dict, key: Any) -> bool:
    try:
        return key in d
    except TypeError:
        return False


# --------------------------------------------------------------------------- reading YAML


class _Refused(Exception):
    """Stop reading a file: it is unusable (the problems say why)."""

    def __init__(self, problems: list[Problem]):
        super().__init__(problems)
        self.problems = problems


def _show(path: Path) -> str:
    """A file name as a person would type it: relative to the working folder if inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return rel if not rel.startswith("..") else str(path)


def _kind_of(mode: int) -> str:
    """What a non-regular file is, for a message."""
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def _read_text(path: Path, shown: str) -> str:
    def refuse(message: str, hint: str | None = None, line: int | None = None) -> _Refused:
        return _Refused([Problem(shown, line, None, (), message, hint)])

    try:
        st = path.stat()
    except FileNotFoundError:
        raise refuse("no such file") from None
    except OSError as e:
        raise refuse(f"cannot read the file: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise refuse("this is a folder, not a scenario file")
    if not stat.S_ISREG(st.st_mode):  # opening a FIFO would block until a writer comes
        raise refuse(f"this is {_kind_of(st.st_mode)}, not a regular file; a scenario is a YAML file on disk")
    if st.st_size > MAX_FILE_BYTES:
        raise refuse(
            f"the file is {st.st_size / 1e6:,.1f} MB; scenario files are limited to "
            f"{format_bytes(MAX_FILE_BYTES)}", "a scenario is a few kilobytes of YAML; is this the right file?")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)  # a device or growing file cannot exceed the cap
    except OSError as e:
        raise refuse(f"cannot read the file: {e.strerror or e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise refuse(f"the file is larger than {format_bytes(MAX_FILE_BYTES)}; scenario files are limited to that")
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise refuse("this is a binary file (it contains NUL bytes), not a YAML scenario", line=line)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise refuse(f"the file is not UTF-8 text (byte 0x{data[e.start]:02x} cannot be decoded)",
                     "save the file as UTF-8", line=line) from None


_SYNTAX_HINTS = (
    ("'\\t'", "YAML does not allow tabs for indentation; indent with spaces"),
    ("tab character", "YAML does not allow tabs for indentation; indent with spaces"),
    ("mapping values are not allowed", "a value containing ': ' needs quotes, or the indentation is off"),
    ("could not find expected ':'", "a key needs ': ' after it, or a quoted value is not closed"),
    ("did not find expected", "check the indentation of this line against the lines above"),
    ("found undefined alias", "an alias '*name' needs an anchor '&name' earlier in the file"),
)


def _syntax_problem(err: yaml.YAMLError, shown: str) -> Problem:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    col = mark.column + 1 if mark is not None else None
    what = getattr(err, "problem", None) or str(err).splitlines()[0]
    context = getattr(err, "context", None)
    message = f"YAML syntax error: {what}" + (f" ({context})" if context else "")
    if "maximum nesting depth" in message:  # libyaml's own cap (1000), met while scanning ahead
        return Problem(shown, line, col, (), f"the document is nested more than {MAX_DEPTH} levels deep",
                       "a scenario needs fewer than ten levels; is this the right file?")
    if isinstance(err, yaml.reader.ReaderError):
        message = f"the file contains a character YAML does not allow: {err.reason}"
    hint = next((h for key, h in _SYNTAX_HINTS if key in message), None)
    return Problem(shown, line, col, (), message, hint)


class _Frame:
    __slots__ = ("container", "anchor", "start_nodes", "key", "key_pos", "merges", "is_map")

    def __init__(self, container: Any, anchor: str | None, start_nodes: int):
        self.container = container
        self.anchor = anchor
        self.start_nodes = start_nodes
        self.is_map = isinstance(container, dict)
        self.key: Any = _MISSING
        self.key_pos: Pos | None = None
        self.merges: list[tuple[Any, Pos]] = []


class _MergeKey:
    """The YAML merge key ``<<``."""


def parse_yaml(text: str, shown: str) -> Any:
    """Build plain values (``PosDict``/``PosList``/scalars) from YAML text, within the limits.

    Raises ``_Refused`` with every problem found (duplicate keys are all collected; a
    syntax error or a limit stops at once).
    """
    loader = _EventLoader(text)
    problems: list[Problem] = []
    anchors: dict[str, tuple[Any, int]] = {}
    open_anchors: set[str] = set()
    stack: list[_Frame] = []
    nodes = 0
    documents = 0
    root: Any = _MISSING

    def at(mark: Any) -> Pos:
        return Pos(shown, mark.line + 1, mark.column + 1)

    def stop(pos: Pos | None, message: str, hint: str | None = None) -> _Refused:
        return _Refused(problems + [_problem_at(pos, (), message, hint, shown)])

    def count(n: int, pos: Pos) -> None:
        nonlocal nodes
        nodes += n
        if nodes > MAX_NODES:
            raise stop(pos, f"the document expands to more than {MAX_NODES:,} values "
                            "(aliases included); refusing it as an alias bomb or a runaway file",
                       "a scenario has a few thousand values at most")

    def add(value: Any, pos: Pos, is_merge: bool = False) -> None:
        nonlocal root
        if not stack:
            root = value
            return
        top = stack[-1]
        if not top.is_map:
            top.container.append(value)
            top.container.item_pos.append(pos)
            return
        if top.key is _MISSING:
            if isinstance(value, (dict, list)):
                raise stop(pos, "a mapping key must be a plain value, not a list or a mapping")
            top.key, top.key_pos = (_MergeKey if is_merge else value), pos
            return
        key, key_pos = top.key, top.key_pos
        top.key = _MISSING
        if key is _MergeKey:
            sources = value if isinstance(value, list) else [value]
            if not all(isinstance(s, dict) for s in sources):
                raise stop(key_pos, "the merge key '<<' needs a mapping or a list of mappings (e.g. '<<: *defaults')")
            top.merges.extend((s, key_pos) for s in sources)
            return
        mapping = top.container
        if key in mapping:
            first = mapping.key_pos[key]
            problems.append(Problem(shown, key_pos.line, key_pos.column, (),
                                    f"duplicate key {key!r} (first at line {first.line})",
                                    "YAML would silently keep only the last one; remove or rename one of them"))
            return
        mapping[key] = value
        mapping.key_pos[key] = key_pos

    def check_tag(tag: str | None, allowed: set[str], pos: Pos) -> None:
        if tag not in (None, "!") and tag not in allowed:
            tag = tag.replace(_YAML, "!!")
            raise stop(pos, f"the tag {tag!r} is not allowed: scenario files hold plain values only",
                       "remove the '!...' tag")

    try:
        while loader.check_event():
            ev = loader.get_event()
            if isinstance(ev, (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)):
                continue
            pos = at(ev.start_mark)
            if isinstance(ev, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise stop(pos, "the file holds more than one YAML document ('---'); a scenario is one document")
                continue
            if isinstance(ev, yaml.AliasEvent):
                if ev.anchor in open_anchors:
                    raise stop(pos, f"the alias *{ev.anchor} refers to a value that contains itself",
                               "recursive structures are not allowed")
                if ev.anchor not in anchors:
                    raise stop(pos, f"the alias *{ev.anchor} has no anchor &{ev.anchor} before it")
                value, size = anchors[ev.anchor]
                count(size, pos)
                add(value, pos)
                continue
            if isinstance(ev, yaml.ScalarEvent):
                count(1, pos)
                tag = ev.tag
                if tag is None and ev.style in ("'", '"'):  # quoted: text, no resolving needed
                    if ev.anchor:
                        anchors[ev.anchor] = (ev.value, 1)
                    add(ev.value, pos)
                    continue
                if tag is None or tag == "!":
                    tag = loader.resolve(yaml.ScalarNode, ev.value, ev.implicit)
                if tag == _MERGE_TAG and stack and stack[-1].is_map and stack[-1].key is _MISSING:
                    add(None, pos, is_merge=True)
                    continue
                check_tag(tag, _SCALAR_TAGS, pos)
                node = yaml.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, ev.style)
                try:
                    value = yaml.SafeLoader.yaml_constructors[tag](loader, node)
                except (ValueError, OverflowError, yaml.YAMLError) as e:
                    reason = str(e) if len(ev.value) < 4000 else f"it has {len(ev.value):,} characters"
                    shown_value = ev.value if len(ev.value) <= 40 else ev.value[:37] + "..."
                    kind = tag.rsplit(":", 1)[-1]
                    kind = {"timestamp": "date", "int": "whole number", "float": "number"}.get(kind, kind)
                    raise stop(pos, f"cannot read {shown_value!r} as a {kind}: {reason}",
                               "quote it if it is meant as text") from None
                if ev.anchor:
                    anchors[ev.anchor] = (value, 1)
                add(value, pos)
                continue
            if isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                is_map = isinstance(ev, yaml.MappingStartEvent)
                check_tag(ev.tag, {_YAML + ("map" if is_map else "seq")}, pos)
                if len(stack) >= MAX_DEPTH:
                    raise stop(pos, f"the document is nested more than {MAX_DEPTH} levels deep",
                               "a scenario needs fewer than ten levels; is this the right file?")
                count(1, pos)
                container = PosDict(pos=pos) if is_map else PosList(pos=pos)
                if ev.anchor:
                    open_anchors.add(ev.anchor)
                stack.append(_Frame(container, ev.anchor, nodes - 1))
                continue
            if isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                frame = stack.pop()
                container = frame.container
                for source, key_pos in frame.merges:  # explicit keys win, then earlier sources
                    for k, v in source.items():
                        if k not in container:
                            container[k] = v
                            container.key_pos[k] = source.key_pos.get(k, key_pos)
                if frame.anchor:
                    open_anchors.discard(frame.anchor)
                    anchors[frame.anchor] = (container, nodes - frame.start_nodes)
                add(container, container.pos)
                continue
    except yaml.YAMLError as e:
        raise _Refused(problems + [_syntax_problem(e, shown)]) from None
    except RecursionError:  # defensive: nothing here recurses, but libyaml might
        raise stop(None, f"the document is nested too deeply (more than {MAX_DEPTH} levels)") from None
    finally:
        loader.dispose()
    if problems:
        raise _Refused(problems)
    if root is _MISSING or root is None:
        raise _Refused([Problem(shown, None, None, (), "the file is empty",
                                "a scenario is a mapping with at least name, description, start, horizon and network")])
    if not isinstance(root, dict):
        kind = "a list" if isinstance(root, list) else f"the single value {root!r}"[:60]
        raise _Refused([Problem(shown, 1, 1, (), f"the top level must be a mapping of keys to values, found {kind}",
                                "start with lines like 'name: my-scenario'")])
    return root


def read_yaml_file(path: str | os.PathLike[str], shown: str | None = None) -> PosDict:
    """One YAML file as a ``PosDict`` (no ``extends`` handling), or ``ScenarioError``."""
    p = Path(path)
    shown = shown or str(path)
    try:
        return parse_yaml(_read_text(p, shown), shown)
    except _Refused as r:
        raise ScenarioError(r.problems) from None


# --------------------------------------------------------------------------- extends


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
            out[k] = _merge(base[k], v, path + (k,), shown_base, problems) if k in base else v
            out.key_pos[k] = getattr(over, "key_pos", {}).get(k)
        return out
    if isinstance(base, list) and isinstance(over, list) and over and _is_named_list(base) and _is_named_list(over):
        items: list[Any] = list(base)
        item_pos: list[Any] = list(getattr(base, "item_pos", [None] * len(base)))
        over_pos = getattr(over, "item_pos", [None] * len(over))
        for item, ipos in zip(over, over_pos):
            name = item["name"]
            where = next((i for i, b in enumerate(items) if b.get("name") == name), None)
            remove = item.get("remove", False)
            if "remove" in item:
                if not isinstance(remove, bool):
                    problems.append(_problem_at(ipos, path, f"'remove' must be true or false, not {remove!r}"))
                    continue
                if remove and set(item) - {"name", "remove"}:
                    extra = ", ".join(sorted(str(k) for k in set(item) - {"name", "remove"}))
                    problems.append(_problem_at(ipos, path, f"an item with 'remove: true' takes only 'name' (also found: {extra})"))
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
                    problems.append(_problem_at(
                        ipos, path, f"cannot remove {name!r}: {shown_base} has no item of that name here",
                        f"did you mean {near[0]!r}?" if near else "names here: " + ", ".join(names[:12])))
                    continue
                del items[where]
                del item_pos[where]
            elif where is None:
                items.append(item)
                item_pos.append(ipos)
            else:
                items[where] = _merge(items[where], item, path + (where,), shown_base, problems)
                item_pos[where] = ipos
        out_list = PosList(items, pos=getattr(over, "pos", None))
        out_list.item_pos = item_pos
        return out_list
    return over


def _problem_at(pos: Pos | None, path: tuple, message: str, hint: str | None = None, shown: str = "?") -> Problem:
    """A problem at ``pos``, or in file ``shown`` with no line when the position is unknown."""
    return Problem(pos.file if pos else shown, pos.line if pos else None, pos.column if pos else None, path, message, hint)


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
        return ScenarioError([_problem_at(epos, ("extends",), message, hint)])

    if not isinstance(ext, str) or not ext.strip():
        raise refuse(f"needs the file name of the base scenario, got {ext!r}", "e.g. 'extends: baseline.yaml'")
    try:
        target = (path.parent / ext.strip()).resolve()
    except (OSError, RuntimeError, ValueError) as e:  # symlink loops, NUL in the name, ...
        raise refuse(f"cannot resolve {ext!r}: {e}") from None
    if not any(target == r or r in target.parents for r in roots):
        raise refuse(f"points outside the scenario folders: {ext!r}",
                     "a base scenario must be in the same folder tree (allowed: "
                     + ", ".join(str(r) for r in roots) + ")")
    if target in chain:
        cycle = " -> ".join(os.path.relpath(p, path.parent) for p in chain[chain.index(target):] + [target])
        raise refuse(f"loops: {cycle}", "a file cannot extend itself, directly or through others")
    if len(chain) >= MAX_EXTENDS_CHAIN:
        raise refuse(f"the 'extends' chain is longer than {MAX_EXTENDS_CHAIN} files")
    try:
        mode = target.stat().st_mode
    except OSError:
        raise refuse(f"names a file that does not exist: {ext!r}", _nearby_yaml(target)) from None
    if stat.S_ISDIR(mode):
        raise refuse(f"{ext!r} is a folder, not a file", "name the base scenario's YAML file, e.g. 'extends: baseline.yaml'")
    if not stat.S_ISREG(mode):
        raise refuse(f"{ext!r} is {_kind_of(mode)}, not a regular file", "name the base scenario's YAML file")
    shown_base = _show(target)
    base = _load_tree(target, shown_base, roots, chain + [target], problems)
    return _merge(base, tree, (), shown_base, problems)


def _tree_and_problems(path: str | os.PathLike[str]) -> tuple[PosDict, list[Problem]]:
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
    tree, problems = _tree_and_problems(path)
    if problems:
        raise ScenarioError(problems)
    return tree


def load_raw(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The merged scenario mapping before validation (plain dicts and lists)."""
    return plain(load_tree(path))


# --------------------------------------------------------------------------- validation


def _context(tree: dict) -> dict[str, Any]:
    return {**_factor_context(tree), "utc_offset_h": _utc_offset(tree)}


def _utc_offset(tree: dict) -> float | None:
    """The scenario's clock for converting times with a zone (None when it is not valid;
    validation reports that at its line)."""
    v = tree.get("utc_offset_h", 0.0)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not -12 <= v <= 14:
        return None
    return float(v)


def _factor_context(tree: dict) -> dict[str, Any]:
    factor = tree.get("barrels_per_tonne")
    if isinstance(factor, bool) or not isinstance(factor, (int, float)):
        return {"barrels_per_tonne": None}
    try:
        value = float(factor)
    except OverflowError:
        return {"barrels_per_tonne": None}
    # an invalid factor is reported by validation; barrel units then say it is missing
    return {"barrels_per_tonne": value if math.isfinite(value) and value > 0 else None}


def validate_tree(tree: PosDict, shown: str, earlier: list[Problem] | None = None) -> Scenario:
    """Validate a merged tree into a Scenario; every problem is mapped to its file and line.
    ``earlier`` problems (from merging) are reported together with these."""
    problems = list(earlier or [])
    context = _context(tree)
    try:
        scenario = Scenario.model_validate(tree, context=context)
    except ValidationError as e:
        problems += problems_from_validation_error(e, tree, shown)
        problems += _references_despite(e, tree, shown, context)
        raise ScenarioError(_sorted(problems)) from None
    problems += [_problem_at(position_of(tree, path), path, message, hint, shown)
                 for path, message, hint in checks.problems(scenario)]
    if problems:
        raise ScenarioError(_sorted(problems))
    return scenario


def _reference_problem(path: tuple, message: str, tree: Any, shown: str) -> Problem:
    hint = None
    if "; did you mean" in message:
        message, hint = message.split("; ", 1)
    return _problem_at(position_of(tree, tuple(path)), tuple(path), message, hint, shown)


def _references_despite(exc: ValidationError, tree: Any, shown: str, context: dict) -> list[Problem]:
    """Dangling references in a file that also has other problems (best effort).

    The list items that hold validation errors (a whole facility, programme or disruption)
    are left out and the rest is validated again; if that passes, its unknown-name
    references are reported too, except those naming a left-out item.  So a misspelt key
    and a misspelt reference show up in one pass instead of two.
    """
    drop: dict[tuple, set[int]] = {}
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        first = next((i for i, part in enumerate(loc) if isinstance(part, int) and not isinstance(part, bool)), None)
        if first is None or not isinstance(value_at(tree, loc[:first]), list):
            return []  # a problem outside any list item: nothing sensible to leave out
        drop.setdefault(loc[:first], set()).add(loc[first])
    pruned = plain(tree)
    index_maps: dict[tuple, list[int]] = {}
    dropped_names: set[str] = set()
    for list_path, indices in drop.items():
        parent = value_at(pruned, list_path[:-1])
        old = parent[list_path[-1]]
        keep = [j for j in range(len(old)) if j not in indices]
        for j in indices:
            dropped_names.update(_item_names(old[j]))
        parent[list_path[-1]] = [old[j] for j in keep]
        index_maps[list_path] = keep
    try:
        scenario = Scenario.model_validate(pruned, context=context)
    except (ValidationError, ValueError, TypeError):
        return []
    out = []
    for path, message in reference_problems(scenario):
        path = tuple(path)
        k = next((i for i, part in enumerate(path) if isinstance(part, int)), None)
        if k is not None and path[:k] in index_maps:
            path = path[:k] + (index_maps[path[:k]][path[k]],) + path[k + 1:]
        if not message.startswith("unknown "):
            continue  # e.g. "no sea leg between ...": may only be missing because of a left-out item
        value = value_at(tree, path)
        named = [n for n in (value if isinstance(value, list) else [value]) if isinstance(n, str)]
        if any(n in dropped_names for n in named):
            continue
        problem = _reference_problem(path, message, tree, shown)
        # the hint was worked out without the left-out items: work it out again from all names
        pool = _all_names(tree)
        near = [m for n in named if n not in pool for m in get_close_matches(n, pool, n=1, cutoff=0.6)]
        out.append(Problem(problem.file, problem.line, problem.column, problem.path,
                           problem.message.split("; ", 1)[0], f"did you mean {near[0]!r}?" if near else None))
    return out


def _all_names(tree: Any) -> list[str]:
    """Every facility name, group and section name written in the network (raw)."""
    names: list[str] = []
    network = tree.get("network") if isinstance(tree, dict) else None
    if not isinstance(network, dict):
        return names
    for section, items in network.items():
        names.append(str(section))
        for item in items if isinstance(items, list) else []:
            names += _item_names(item)
    return names


def _item_names(item: Any) -> list[str]:
    """The name and group names written on one raw list item."""
    if not isinstance(item, dict):
        return []
    groups = item.get("groups")
    return [n for n in [item.get("name"), *(groups if isinstance(groups, list) else [])] if isinstance(n, str)]


def _sorted(problems: list[Problem]) -> list[Problem]:
    files: dict[str, int] = {}
    for p in problems:
        files.setdefault(p.file, len(files))
    return sorted(problems, key=lambda p: (files[p.file], p.line or 0, p.column or 0))


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read, merge and validate a scenario file; raises ``ScenarioError`` listing all problems."""
    tree, problems = _tree_and_problems(path)
    return validate_tree(tree, str(path), problems)


def validate(path: str | os.PathLike[str]) -> list[Problem]:
    """Every problem in a scenario file (an empty list means it is valid and will run).

    Besides the file's own problems this includes what the model would refuse (a cargo no
    berth can take, a network where nothing can flow, ...; :func:`sim.scenario.checks.problems`, the
    one check ``load_scenario`` and ``run`` make too), placed at the lines of the fields
    concerned, so ``validate`` answers "will this run?"."""
    try:
        load_scenario(path)
    except ScenarioError as e:
        return list(e.problems)
    return []


# --------------------------------------------------------------------------- pydantic errors -> problems

_NONE = type(None)


def _unwrap(t: Any) -> Any:
    """Strip ``Annotated`` and ``Optional`` wrappers."""
    while True:
        origin = typing.get_origin(t)
        if origin is typing.Annotated:
            t = typing.get_args(t)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(t) if a is not _NONE]
            if len(members) == 1:
                t = members[0]
                continue
        return t


def _is_union(t: Any) -> bool:
    return typing.get_origin(t) in (typing.Union, types.UnionType)


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BaseModel)


def _field(model: type[BaseModel], key: Any) -> Any:
    for name, f in model.model_fields.items():
        if key in (f.alias, name):
            return f
    return None


def _key_of(name: str, f: Any) -> str:
    return f.alias or name


def _union_member(t: Any, tag: Any) -> Any:
    members = [a for a in typing.get_args(t) if a is not _NONE]
    tag = str(tag)
    for m in members:
        u = _unwrap(m)
        if _is_model(u) and u.__name__ in tag:
            return m
    for m in members:
        origin = typing.get_origin(_unwrap(m))
        if origin is not None and tag.startswith(getattr(origin, "__name__", "?")):
            return m
    for m in members:
        if typing.get_origin(_unwrap(m)) is None and not _is_model(_unwrap(m)):
            return m
    return None


@dataclass
class _Walk:
    clean: tuple            # the loc without union tags and '[key]' markers
    tags: list              # (index in loc, tag) of each union branch taken
    parent_model: Any       # the model the last clean key was looked up in (or None)
    field: Any              # FieldInfo of the last clean key (or None)
    key_error: bool         # the error is about a mapping key, not its value


def _walk(loc: tuple) -> _Walk:
    t: Any = Scenario
    clean: list = []
    tags: list = []
    parent = field = None
    key_error = False
    for i, el in enumerate(loc):
        t = _unwrap(t) if t is not None else None
        if t is not None and _is_union(t):
            tags.append((i, el))
            t = _union_member(t, el)
            continue
        if el == "[key]":
            key_error = True
            continue
        clean.append(el)
        parent = field = None
        if _is_model(t):
            parent = t
            field = _field(t, el)
            t = field.annotation if field is not None else None
            continue
        origin, args = typing.get_origin(t), typing.get_args(t)
        if origin in (tuple, list) and args:
            if origin is list or (len(args) == 2 and args[1] is Ellipsis):
                t = args[0]
            elif isinstance(el, int) and 0 <= el < len(args):
                t = args[el]
            else:
                t = None
        elif origin is dict and len(args) == 2:
            t = args[1]
        else:
            t = None
    return _Walk(tuple(clean), tags, parent, field, key_error)


def _short(value: Any) -> str:
    if isinstance(value, _dt.date):
        return value.isoformat()
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (an empty value)"
    return _short(value)


def _valid_keys(model: Any) -> list[str]:
    if not _is_model(model):
        return []
    return [_key_of(n, f) for n, f in model.model_fields.items()]


def _example(name: str, f: Any) -> str | None:
    """An example line for a field, from its declared examples or its type."""
    for m in getattr(f, "metadata", ()):
        js = getattr(m, "json_schema", None)
        if isinstance(js, dict) and js.get("examples"):
            return f"{name}: {js['examples'][0]}"
    t = _unwrap(f.annotation)
    if _is_union(t):
        for m in typing.get_args(t):
            for meta in typing.get_args(m)[1:] if typing.get_origin(m) is typing.Annotated else ():
                js = getattr(meta, "json_schema", None)
                if isinstance(js, dict) and js.get("examples"):
                    return f"{name}: {js['examples'][0]}"
        return None
    if _is_model(t):
        req = [_key_of(n, ff) for n, ff in t.model_fields.items() if ff.is_required()]
        return f"{name}: a mapping with {', '.join(req)}" if req else None
    origin = typing.get_origin(t)
    if origin in (tuple, list):
        inner = _unwrap(typing.get_args(t)[0]) if typing.get_args(t) else None
        if _is_model(inner):
            return f"{name}: a list of items, each with {', '.join(_valid_keys(inner)[:4])}, ..."
        return f"{name}: [a, b]"
    if origin is typing.Literal:
        return f"{name}: one of " + ", ".join(repr(a) for a in typing.get_args(t))
    if t is _dt.date:
        return f"{name}: 2021-01-01"
    if t is str:
        return f"{name}: my-{name}" if name == "name" else f"{name}: ..."
    if t in (int, float):
        return f"{name}: a number"
    return None


_BOUND_WORDS = {
    "greater_than": ("gt", "must be greater than"),
    "greater_than_equal": ("ge", "must be at least"),
    "less_than": ("lt", "must be less than"),
    "less_than_equal": ("le", "must be at most"),
}
_NOUNS = {
    "string_type": "text", "tuple_type": "a list", "list_type": "a list", "dict_type": "a mapping",
    "model_type": "a mapping", "int_type": "a whole number", "int_parsing": "a whole number",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
}
_NAME_PATTERN_HINT = "a name starts with a letter and holds only letters, digits, '-' and '_' (at most 80)"


def _message(err: dict, w: _Walk, tree: Any) -> tuple[str, str | None]:
    typ = err["type"]
    ctx = err.get("ctx") or {}
    raw = value_at(tree, w.clean)
    got = raw if raw is not _MISSING else err.get("input")
    got_s = f" (got {_short(got)})" if not isinstance(got, (dict, list)) else f" (got {_kind(got)})"
    key = w.clean[-1] if w.clean else None
    if typ == "missing":
        hint = None
        if w.parent_model is not None and w.field is not None:
            example = _example(str(key), w.field)
            desc = w.field.description
            hint = "; ".join(x for x in (f"e.g. {example}" if example else None, desc) if x) or None
        return f"missing required key {key!r}", hint
    if typ == "extra_forbidden":
        valid = _valid_keys(w.parent_model)
        if key == "remove":
            return "unknown key 'remove'", "'remove: true' only works in a file that 'extends' a base scenario"
        near = get_close_matches(str(key), valid, n=1, cutoff=0.6)
        listing = "valid keys here: " + ", ".join(valid) if valid else None
        hint = f"did you mean {near[0]!r}? ({listing})" if near else listing
        return f"unknown key {key!r}", hint
    if typ in ("value_error", "assertion_error"):
        msg = re.sub(r"^(Value error|Assertion failed), ", "", err["msg"])
        return msg, None
    if typ in _BOUND_WORDS:
        ck, words = _BOUND_WORDS[typ]
        bound = ctx.get(ck)
        if typ == "greater_than_equal" and bound == 0:
            return f"must not be negative{got_s}", None
        return f"{words} {bound:g}{got_s}" if isinstance(bound, (int, float)) else f"{words} {bound}{got_s}", None
    if typ == "finite_number":
        return f"must be a finite number{got_s}", None
    if typ == "string_pattern_mismatch":
        return f"not a valid name{got_s}", _NAME_PATTERN_HINT
    if typ == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        near = get_close_matches(str(got), options, n=1, cutoff=0.5)
        what = "unknown key" if w.key_error else "unknown value"
        return (f"{what} {_short(got)}: use one of {', '.join(options)}",
                f"did you mean {near[0]!r}?" if near else None)
    if typ in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected a mapping (indented 'key: value' lines), got {_kind(got)}", None
    if typ in ("tuple_type", "list_type"):
        return f"expected a list ('- item' lines, or [a, b]), got {_kind(got)}", None
    if typ == "invalid_key":
        return f"a key must be text, not {_short(got)}", None
    if typ in ("string_too_short", "string_too_long", "too_short", "too_long"):
        return re.sub(r"^(Input|String|Tuple|List) should", "should", err["msg"]) + got_s, None
    return re.sub(r"^Input should", "should", err["msg"]) + got_s, None


def problems_from_validation_error(exc: ValidationError, tree: Any, shown: str) -> list[Problem]:
    """Friendly problems, one per distinct error, each at its file, line and column."""
    errors = exc.errors(include_url=False)
    walks = [_walk(tuple(e["loc"])) for e in errors]
    # Union branches: if one branch got past the type check (its errors go deeper than the
    # tag), the other branches' "should be a valid X" errors are noise.
    keep = [True] * len(errors)
    points: dict[tuple, dict[Any, int]] = {}
    for e, w in zip(errors, walks):
        for i, tag in w.tags:
            depth = len(e["loc"]) - i - 1
            branches = points.setdefault(tuple(e["loc"][:i]), {})
            branches[tag] = max(branches.get(tag, 0), depth)
    for n, (e, w) in enumerate(zip(errors, walks)):
        for i, tag in w.tags:
            branches = points[tuple(e["loc"][:i])]
            if branches[tag] == 0 and any(d > 0 for d in branches.values()):
                keep[n] = False
    # what remains: one problem per path; union branches that all failed at the type
    # check become one "expected X or Y" problem
    slots: dict[tuple, list[tuple[dict, _Walk]]] = {}
    for n, (e, w) in enumerate(zip(errors, walks)):
        if keep[n]:
            slot = (w.clean,) if w.tags else (w.clean, n)
            slots.setdefault(slot, []).append((e, w))
    problems = []
    for slot, items in slots.items():
        path = slot[0]
        if len(items) > 1:
            nouns = []
            for e, _ in items:
                noun = _NOUNS.get(e["type"]) or re.sub(r"^Input should be ", "", e["msg"])
                if noun not in nouns:
                    nouns.append(noun)
            raw = value_at(tree, path)
            got = raw if raw is not _MISSING else items[0][0].get("input")
            message, hint = f"expected {' or '.join(nouns)}, got {_kind(got)}", None
        else:
            message, hint = _message(items[0][0], items[0][1], tree)
        problems.append(_problem_at(position_of(tree, path), path, message, hint, shown))
    return problems
