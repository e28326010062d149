"""Safe positioned YAML: a scenario file read into plain values that remember where they are.

The YAML is read event by event (libyaml where available) and built here, not by PyYAML's
constructor, so only plain values exist (no object tags), every mapping key and sequence
item keeps its position (:class:`PosDict`, :class:`PosList`, :func:`position_of`),
duplicate keys are errors rather than silently overwritten, and hostile files are refused
early with bounded memory: more than ``MAX_FILE_BYTES``, more than ``MAX_NODES`` values once
aliases are expanded (an alias bomb), nesting deeper than ``MAX_DEPTH``, binary or
non-UTF-8 content, anything that is not a regular file.
"""

from __future__ import annotations

import os
import stat
import typing
from pathlib import Path
from typing import Any

import yaml

from sim.errors import Problem, ScenarioError
from sim.units import format_bytes

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 64

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

MISSING = object()  # what value_at gives for a path that is not in the tree


def value_at(tree: Any, path: tuple) -> Any:
    """The raw value at ``path``, or ``MISSING``."""
    node = tree
    for part in path:
        in_mapping = isinstance(node, dict) and _has_key(node, part)
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_mapping or in_list):
            return MISSING
        node = node[part]
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


def shown_name(path: Path) -> str:
    """A file name as a person would type it: relative to the working folder if inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return rel if not rel.startswith("..") else str(path)


def kind_of_file(mode: int) -> str:
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
        raise refuse(f"this is {kind_of_file(st.st_mode)}, not a regular file; a scenario is a YAML file on disk")
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
    __slots__ = ("anchor", "container", "is_map", "key", "key_pos", "merges", "start_nodes")

    def __init__(self, container: Any, anchor: str | None, start_nodes: int):
        self.container = container
        self.anchor = anchor
        self.start_nodes = start_nodes
        self.is_map = isinstance(container, dict)
        self.key: Any = MISSING
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
    root: Any = MISSING

    def at(mark: Any) -> Pos:
        return Pos(shown, mark.line + 1, mark.column + 1)

    def stop(pos: Pos | None, message: str, hint: str | None = None) -> _Refused:
        return _Refused([*problems, problem_at(pos, (), message, hint, shown)])

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
        if top.key is MISSING:
            if isinstance(value, (dict, list)):
                raise stop(pos, "a mapping key must be a plain value, not a list or a mapping")
            top.key, top.key_pos = (_MergeKey if is_merge else value), pos
            return
        key, key_pos = top.key, top.key_pos
        assert key_pos is not None  # set together with the key, just above
        top.key = MISSING
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
                if tag == _MERGE_TAG and stack and stack[-1].is_map and stack[-1].key is MISSING:
                    add(None, pos, is_merge=True)
                    continue
                check_tag(tag, _SCALAR_TAGS, pos)
                # libyaml's marks work as PyYAML's here; the stubs only name PyYAML's Mark
                node = yaml.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, ev.style)  # type: ignore[arg-type]
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
        raise _Refused([*problems, _syntax_problem(e, shown)]) from None
    except RecursionError:  # defensive: nothing here recurses, but libyaml might
        raise stop(None, f"the document is nested too deeply (more than {MAX_DEPTH} levels)") from None
    finally:
        loader.dispose()
    if problems:
        raise _Refused(problems)
    if root is MISSING or root is None:
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


def problem_at(pos: Pos | None, path: tuple, message: str, hint: str | None = None, shown: str = "?") -> Problem:
    """A problem at ``pos``, or in file ``shown`` with no line when the position is unknown."""
    if pos is None:
        return Problem(shown, None, None, path, message, hint)
    return Problem(pos.file, pos.line, pos.column, path, message, hint)
