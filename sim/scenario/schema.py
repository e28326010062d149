"""JSON Schema of the scenario language, so editors can autocomplete and check scenario files.

Built from the pydantic models (by alias, as written in YAML) and adjusted where the YAML
accepts more than the models' own schema says: ``extends``, the ``remove`` marker of
override items, and bare durations where a distribution is expected.  A file that
``extends`` another is checked against a relaxed copy of every definition (no required
keys), because it states only what differs from its base.

Checking a file with this schema is a convenience for editors; ``routesim validate`` is the
authority (it resolves units, merges ``extends`` and checks cross-references).
"""

from __future__ import annotations

import copy
import datetime as _dt
from typing import Any

from sim._version import __version__
from sim.scenario.language import Scenario

SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"
_BOUNDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum"}
_DURATION = {"type": ["string", "number"], "examples": ["12h"],
             "description": "a fixed duration, e.g. '12h' (short for {fixed: 12h})"}

_BARE = {
    "TonnesDistribution": {"type": ["string", "number"], "examples": ["85kt"],
                           "description": "a fixed cargo size, e.g. '85kt' (short for {fixed: 85kt})"},
    "FactorDistribution": {"type": "number", "examples": [0.9],
                           "description": "a fixed factor, e.g. 0.9 (short for {fixed: 0.9})"},
}


def _fix_bounds(node: Any) -> None:
    """pydantic leaves its own ``gt``/``ge`` keywords on some unit fields: make them standard."""
    if isinstance(node, dict):
        for ours, std in _BOUNDS.items():
            if ours in node and isinstance(node[ours], (int, float)):
                node[std] = node.pop(ours)
        for v in node.values():
            _fix_bounds(v)
    elif isinstance(node, list):
        for v in node:
            _fix_bounds(v)


def _relaxed(node: Any, names: set[str]) -> Any:
    """A copy with no ``required`` lists and every ``$ref`` pointing at the relaxed defs."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "required":
                continue
            if k == "$ref" and isinstance(v, str) and v.startswith("#/$defs/") and v[8:] in names:
                out[k] = "#/$defs/Partial" + v[8:]
            else:
                out[k] = _relaxed(v, names)
        return out
    if isinstance(node, list):
        return [_relaxed(v, names) for v in node]
    return node


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file."""
    full = Scenario.model_json_schema(by_alias=True)
    _fix_bounds(full)
    defs: dict[str, Any] = full.pop("$defs", {})
    if "Distribution" in defs:  # Distribution also accepts a bare duration ('12h')
        defs["Distribution"] = {"anyOf": [copy.deepcopy(_DURATION), defs["Distribution"]],
                                "description": defs["Distribution"].get("description", "")}
    for name, bare in _BARE.items():  # so do the distributions of other quantities
        if name in defs:
            defs[name] = {"anyOf": [copy.deepcopy(bare), defs[name]], "description": defs[name].get("description", "")}
    defs["Scenario"] = full
    names = set(defs)
    partial = {}
    for name, d in defs.items():
        p = _relaxed(d, names)
        props = p.get("properties")
        if isinstance(props, dict) and "name" in props:
            props["remove"] = {"type": "boolean", "description": "true removes the base item of this name"}
        partial["Partial" + name] = p
    partial["PartialScenario"]["properties"]["extends"] = {
        "type": "string", "description": "the base scenario file this one overrides (relative path)"}
    defs.update(partial)
    return {
        "$schema": SCHEMA_DRAFT,
        "title": f"routesim scenario (routesim {__version__})",
        "description": ("A routesim scenario file. A file with 'extends' states only what differs "
                        "from its base scenario."),
        "if": {"type": "object", "required": ["extends"]},
        "then": {"$ref": "#/$defs/PartialScenario"},
        "else": {"$ref": "#/$defs/Scenario"},
        "$defs": defs,
    }


def jsonable(value: Any) -> Any:
    """YAML data as JSON data: dates become ISO strings (as JSON Schema expects)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return value
