"""Validation errors as problems a person can act on, each at its file, line and column.

pydantic reports errors by location in the model (``('network', 'pipelines', 2,
'capacity_t_per_day')``, union branch tags included); this module walks that location
through the scenario models back to the keys written in the file, words each error the way
the scenario language speaks ("missing required key 'capacity'; e.g. capacity: 9 Mt/y",
"unknown key 'capacty'; did you mean 'capacity'?"), folds failed union branches into one
"expected X or Y", and places it at its line.  :func:`references_despite` adds the
dangling references of a file that has other errors too, so one pass shows both.
"""

from __future__ import annotations

import datetime as _dt
import re
import types
import typing
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from sim import units
from sim.errors import Problem
from sim.scenario.language import Scenario, reference_problems
from sim.scenario.quantities import Unit, unit_in
from sim.scenario.yaml_reader import MISSING, plain, position_of, problem_at, value_at

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


def _unit(w: _Walk) -> Unit | None:
    """The unit of the field an error is about (None for a plain number)."""
    if w.field is None:
        return None
    found = next((m for m in w.field.metadata if isinstance(m, Unit)), None)
    return found if found is not None else unit_in(w.field.annotation)


def _in_unit(x: float, unit: Unit) -> str:
    """A number in a field's internal unit, as the scenario could write it: ``1h``, ``16 MiB``."""
    if unit.internal == "B":
        return units.format_bytes(x)
    if unit.internal == "h":
        return f"{x:g}h"
    return f"{x:g} {unit.internal}"


def _tags(w: _Walk, disc: str) -> list[str]:
    """The values a discriminated union's key ``disc`` takes (each member's Literal)."""
    out: list[str] = []
    for member in typing.get_args(_unwrap(w.field.annotation)) if w.field is not None else ():
        f = _field(_unwrap(member), disc) if _is_model(_unwrap(member)) else None
        if f is not None and typing.get_origin(f.annotation) is typing.Literal:
            out += [str(a) for a in typing.get_args(f.annotation)]
    return out


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


# what the values of a fixed-length list mean, by its key (a distribution's parameters)
_TUPLE_VALUES = {"uniform": ("low", "high"), "triangular": ("low", "mode", "high")}


def _tuple_arity(path: tuple) -> int | None:
    """The number of values the fixed-length list at ``path`` takes (``uniform: [low,
    high]`` takes 2), from its annotation; None when it is not one."""
    if not path or not isinstance(path[-1], str):
        return None
    w = _walk(path)
    if w.field is None:
        return None
    t = _unwrap(w.field.annotation)
    args = typing.get_args(t)
    if typing.get_origin(t) is not tuple or not args or Ellipsis in args:
        return None
    return len(args)


def _wrong_count(err: ErrorDetails, w: _Walk, tree: Any) -> tuple[tuple, str, str] | None:
    """A fixed-length list with too few or too many values (pydantic: "missing required key
    1", "at most 2 items"), as (the list's path, message, hint): "a uniform needs 2 values
    [low, high], got 1"."""
    if err["type"] == "missing" and w.clean and isinstance(w.clean[-1], int):
        path = w.clean[:-1]
    elif err["type"] == "too_long":
        path = w.clean
    else:
        return None
    n, got = _tuple_arity(path), value_at(tree, path)
    if n is None or not isinstance(got, list):
        return None
    key = str(path[-1])
    names = _TUPLE_VALUES.get(key) if len(_TUPLE_VALUES.get(key, ())) == n else None
    shown = f" [{', '.join(names)}]" if names else ""
    example = {"uniform": "uniform: [6h, 2d]", "triangular": "triangular: [6h, 12h, 2d]"}.get(key)
    count = {1: "one", 2: "two", 3: "three"}.get(n, str(n))
    return (path, f"a {key} needs {count} values{shown}, got {len(got)}",
            f"e.g. {example}" if example and names else f"give {count} values in [ ]")


def _message(err: ErrorDetails, w: _Walk, tree: Any) -> tuple[str, str | None]:
    typ = err["type"]
    ctx = err.get("ctx") or {}
    counted = _wrong_count(err, w, tree)
    if counted is not None:
        return counted[1], counted[2]
    raw = value_at(tree, w.clean)
    got = raw if raw is not MISSING else err.get("input")
    got_s = f" (got {units.written(got)})"
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
        unit = _unit(w)
        if unit is not None and isinstance(bound, (int, float)) and bound != 0:
            # the bound is in the field's internal unit, which the file may not write in (0 is 0 in any)
            return f"{words} {_in_unit(float(bound), unit)}{got_s}", unit.description
        return f"{words} {bound:g}{got_s}" if isinstance(bound, (int, float)) else f"{words} {bound}{got_s}", None
    if typ == "finite_number":
        return f"must be a finite number{got_s}", None
    if typ == "string_pattern_mismatch":
        return f"not a valid name{got_s}", _NAME_PATTERN_HINT
    if typ == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        near = get_close_matches(str(got), options, n=1, cutoff=0.5)
        what = "unknown key" if w.key_error else "unknown value"
        if not w.key_error and (isinstance(got, bool) or not isinstance(got, (str, int, float))):
            # a list, mapping, true/false or nothing where a word goes: what was written, then the words
            return f"expected one of {', '.join(options)}, got {units.written(got)}", None
        return (f"{what} {units.written(got)}: use one of {', '.join(options)}",
                f"did you mean {near[0]!r}?" if near else None)
    if typ in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected a mapping (indented 'key: value' lines), got {units.written(got)}", None
    if typ in ("tuple_type", "list_type"):
        return f"expected a list ('- item' lines, or [a, b]), got {units.written(got)}", None
    if typ == "invalid_key":
        return f"a key must be text, not {units.written(got)}", None
    if typ == "too_short" and isinstance(ctx.get("min_length"), int):
        n = ctx["min_length"]
        shown = units.written(got) if got else "an empty list"
        return f"needs at least {n} item{'' if n == 1 else 's'} (got {shown})", None
    if typ == "string_too_short" and ctx.get("min_length") == 1:
        return "must not be empty", None
    if typ in ("int_parsing", "int_type", "int_from_float"):
        return f"must be a whole number{got_s}", None
    if typ == "float_parsing":
        return f"should be a valid number{got_s}", None
    if typ == "string_type":
        return f"must be text{got_s}", None
    if typ == "bool_type" or typ == "bool_parsing":
        return f"must be true or false{got_s}", None
    if typ in ("union_tag_invalid", "union_tag_not_found"):
        disc = str(ctx.get("discriminator", "")).strip("'")
        options = re.findall(r"'([^']*)'", str(ctx.get("expected_tags", "")))
        if typ == "union_tag_not_found":
            options = options or _tags(w, disc)
            return f"missing required key {disc!r}" + (f": use one of {', '.join(options)}" if options else ""), None
        tag = str(ctx.get("tag", ""))
        near = get_close_matches(tag, options, n=1, cutoff=0.5)
        return (f"unknown {disc} {tag!r}: use one of {', '.join(options)}",
                f"did you mean {near[0]!r}?" if near else None)
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
    for e, w in zip(errors, walks, strict=True):
        for i, tag in w.tags:
            depth = len(e["loc"]) - i - 1
            branches = points.setdefault(tuple(e["loc"][:i]), {})
            branches[tag] = max(branches.get(tag, 0), depth)
    for n, (e, w) in enumerate(zip(errors, walks, strict=True)):
        for i, tag in w.tags:
            branches = points[tuple(e["loc"][:i])]
            if branches[tag] == 0 and any(d > 0 for d in branches.values()):
                keep[n] = False
    # A list whose item failed is "too short after validation" to pydantic (the failed item
    # does not count): with the item's own error beside it, that second error is false.
    above = {w.clean[:k] for n, w in enumerate(walks) if keep[n] for k in range(len(w.clean))}
    for n, (e, w) in enumerate(zip(errors, walks, strict=True)):
        if e["type"] == "too_short" and w.clean in above:
            keep[n] = False
    # what remains: one problem per path; union branches that all failed at the type
    # check become one "expected X or Y" problem
    slots: dict[tuple, list[tuple[ErrorDetails, _Walk]]] = {}
    counted_at: set[tuple] = set()  # lists already said to have the wrong number of values
    for n, (e, w) in enumerate(zip(errors, walks, strict=True)):
        if e["type"] == "union_tag_invalid":  # an unknown 'kind': at the key that holds it
            disc = str((e.get("ctx") or {}).get("discriminator", "")).strip("'")
            if value_at(tree, (*w.clean, disc)) is not MISSING:
                w = _Walk((*w.clean, disc), w.tags, None, None, False)
        counted = _wrong_count(e, w, tree)
        if counted is not None:  # too few or too many values: at the list, whose line the file has
            w = _Walk(counted[0], w.tags, w.parent_model, w.field, False)
            e = {**e, "type": "too_long"} if e["type"] == "missing" else e
            if keep[n] and counted[0] in counted_at:
                continue  # ``uniform: []`` misses both values: one problem for the list, not one per value
            counted_at.add(counted[0])
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
            got = raw if raw is not MISSING else items[0][0].get("input")
            message, hint = f"expected {' or '.join(nouns)}, got {units.written(got)}", None
        else:
            message, hint = _message(items[0][0], items[0][1], tree)
        problems.append(problem_at(position_of(tree, path), path, message, hint, shown))
    return problems


def _reference_problem(path: tuple, message: str, tree: Any, shown: str) -> Problem:
    hint = None
    if "; did you mean" in message:
        message, hint = message.split("; ", 1)
    return problem_at(position_of(tree, tuple(path)), tuple(path), message, hint, shown)


def references_despite(exc: ValidationError, tree: Any, shown: str, context: dict) -> list[Problem]:
    """Dangling references in a file that also has other problems (best effort).

    The list items that hold validation errors (a whole facility, programme or disruption)
    are left out and the rest is validated again; if that passes, its unknown-name
    references are reported too, except those naming a left-out item.  So a misspelt key
    and a misspelt reference show up in one pass instead of two.
    """
    drop: dict[tuple, set[int]] = {}
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        found = next(((i, part) for i, part in enumerate(loc) if isinstance(part, int) and not isinstance(part, bool)),
                     None)
        if found is None or not isinstance(value_at(tree, loc[:found[0]]), list):
            return []  # a problem outside any list item: nothing sensible to leave out
        first, index = found
        drop.setdefault(loc[:first], set()).add(index)
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
        item = next(((i, part) for i, part in enumerate(path) if isinstance(part, int)), None)
        if item is not None and path[:item[0]] in index_maps:
            k, index = item
            path = (*path[:k], index_maps[path[:k]][index], *path[k + 1:])
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
