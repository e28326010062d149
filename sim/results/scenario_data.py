"""A validated scenario back as plain YAML data, and its hash: what a run folder records.

``scenario.yaml`` of a run is :func:`scenario_data` of the resolved scenario, written with
full precision in the internal units, so loading it gives the same scenario (and the same
:func:`scenario_hash`) and a run can be resumed or reproduced from its folder alone.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import types
import typing
from typing import Any

import numpy as np
from pydantic import BaseModel, BeforeValidator

from sim import units
from sim.scenario.language import Scenario
from sim.scenario.quantities import Unit

_UNIT_SUFFIX = {
    units.parse_duration: "h", units.parse_mass: " t", units.parse_rate: " t/d",
    units.parse_distance: " nm", units.parse_speed: " kn", units.parse_length: " m", units.parse_memory: " B",
    units.parse_usd: " $", units.parse_usd_per_tonne: " $/t", units.parse_usd_per_day: " $/d",
}


def _parser_of(metadata_items: typing.Iterable[Any]) -> Any:
    """The unit parser behind a field's BeforeValidator, or None for a plain field."""
    for m in metadata_items:
        if isinstance(m, Unit):  # a quantity declares its unit (sim.scenario.quantities)
            return m.parse
        if not isinstance(m, BeforeValidator):
            continue
        if m.func is units.parse_clock or m.func is units.parse_date:
            return m.func
        for cell in getattr(m.func, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if value in _UNIT_SUFFIX:
                return value
    return None


def _value_data(value: Any, annotation: Any, field_meta: typing.Iterable[Any] = ()) -> Any:
    """A validated value back as YAML data that validates to the same value (units written out)."""
    if value is None:
        return None
    if isinstance(value, BaseModel):
        return scenario_data(value)
    parser = _parser_of(field_meta)
    if not isinstance(value, (tuple, list, dict)):
        for member in _members(annotation):
            if typing.get_origin(member) is typing.Annotated:
                parser = parser or _parser_of(typing.get_args(member)[1:])
    if isinstance(value, (tuple, list)):
        inner = _element_types(annotation, len(value))
        return [_value_data(v, t) for v, t in zip(value, inner, strict=True)]
    if isinstance(value, dict):
        vt = _dict_value_type(annotation)
        return {k: _value_data(v, vt) for k, v in value.items()}
    if isinstance(value, _dt.date):
        return value.isoformat()
    if parser is units.parse_clock and isinstance(value, float):
        minutes = round(value * 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    if parser in _UNIT_SUFFIX and isinstance(value, float):
        return f"{value!r}{_UNIT_SUFFIX[parser]}"
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def _members(annotation: Any) -> list[Any]:
    """The members of a union (Optional[X] -> [X]); [annotation] otherwise."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _element_types(annotation: Any, n: int) -> list[Any]:
    for member in _members(annotation):
        if typing.get_origin(member) is typing.Annotated:
            member = typing.get_args(member)[0]
        if typing.get_origin(member) in (tuple, list):
            args = typing.get_args(member)
            if len(args) == 2 and args[1] is Ellipsis:
                return [args[0]] * n
            if typing.get_origin(member) is list and args:
                return [args[0]] * n
            if len(args) == n:
                return list(args)
    return [Any] * n


def _dict_value_type(annotation: Any) -> Any:
    for member in _members(annotation):
        if typing.get_origin(member) is dict:
            return typing.get_args(member)[1]
    return Any


def scenario_data(model: BaseModel) -> dict[str, Any]:
    """A validated scenario (or part of one) as plain YAML data, units written out exactly.

    ``Scenario.model_validate(scenario_data(s), ...) == s``: numbers are written with full
    precision in the internal unit ("85000.0 t", "36.0h", "24657.5 t/d"), so the resolved
    file of a run reproduces the run.  Fields left at None are left out.
    """
    out: dict[str, Any] = {}
    for name, f in type(model).model_fields.items():
        value = getattr(model, name)
        if value is None:
            continue
        if isinstance(value, BaseModel):
            out[f.alias or name] = scenario_data(value)
            continue
        out[f.alias or name] = _value_data(value, f.annotation, f.metadata)
    return out


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the validated scenario's canonical JSON (units resolved, defaults filled)."""
    data = scenario.model_dump(mode="json")
    if data.get("costs") is None:  # a scenario without costs hashes as it did before the cost layer
        data.pop("costs", None)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

