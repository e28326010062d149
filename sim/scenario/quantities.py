"""Quantities of the scenario language: the unit of each number, declared in its type.

A field written ``capacity_t_per_day: TonnesPerDay`` is ``Annotated[float, Unit(...)]``:
a static alias a type checker reads as ``float``, whose :class:`Unit` tells pydantic how
to read the readable text ("9 Mt/y") into the internal unit (t/d) and tells the JSON
Schema which unit the field takes.  :func:`unit_of` gives a model field's unit, so the
results store and the docs can read units from the types instead of restating them.

The parsers themselves live in :mod:`sim.units` (the one unit-parsing module); this
module only ties them to types.
"""

from __future__ import annotations

import datetime as _dt
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, GetCoreSchemaHandler, GetJsonSchemaHandler, WithJsonSchema
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from sim import units


@dataclass(frozen=True)
class Unit:
    """The unit of a number in a scenario: how to read it and what it is stored in.

    ``parse`` turns what the YAML holds into the ``internal`` unit (raising
    :class:`sim.units.UnitError`, which pydantic reports as a value error); a unit that
    ``needs_barrels_per_tonne`` is parsed with the scenario's factor, passed in the
    validation context by the loader.  ``example`` and ``description`` are what the JSON
    Schema and the loader's hints show.
    """

    name: str
    internal: str
    parse: Callable[..., float]
    example: str
    description: str
    needs_barrels_per_tonne: bool = False
    json_types: tuple[str, ...] = ("string", "number")

    def read(self, value: Any, info: core_schema.ValidationInfo) -> float:
        """The value in the internal unit (pydantic calls this before the float check)."""
        if self.needs_barrels_per_tonne:
            return self.parse(value, (info.context or {}).get("barrels_per_tonne"))
        return self.parse(value)

    @property
    def json_schema(self) -> dict[str, Any]:
        """What the JSON Schema says of a field in this unit (``x-unit``: the internal unit)."""
        return {"type": list(self.json_types), "examples": [self.example], "description": self.description,
                "x-unit": self.internal}

    def __get_pydantic_core_schema__(self, source_type: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.with_info_before_validator_function(self.read, handler(source_type))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return self.json_schema


DURATION = Unit("duration", "h", units.parse_duration, "36h",
                "duration: a number and h, d, w or y (e.g. '36h', '3d')")
MASS = Unit("mass", "t", units.parse_mass, "85kt",
            "mass: t, kt, Mt, or bbl/kb/mb with barrels_per_tonne", needs_barrels_per_tonne=True)
RATE = Unit("rate", "t/d", units.parse_rate, "9 Mt/y",
            "rate: mass per time (e.g. '9 Mt/y', '25 kt/d', '100 kb/d')", needs_barrels_per_tonne=True)
DISTANCE = Unit("distance", "nm", units.parse_distance, "540 nm", "distance: nm or km")
SPEED = Unit("speed", "kn", units.parse_speed, "14 kn", "speed: kn or km/h")
LENGTH = Unit("length", "m", units.parse_length, "245 m", "length: m, mm, in or ft")
MEMORY = Unit("memory size", "B", units.parse_memory, "1 GiB", "memory size: B, kB, MB, GB, KiB, MiB, GiB")
USD = Unit("money", "USD", units.parse_usd, "50000 $", "money: US dollars ($, USD, k$, M$), e.g. '50000 $'")
USD_PER_TONNE = Unit("cost per tonne", "USD/t", units.parse_usd_per_tonne, "22 $/t",
                     "cost per tonne: $/t (or USD/t, $/kt, $/bbl with barrels_per_tonne), e.g. '22 $/t'",
                     needs_barrels_per_tonne=True)
USD_PER_DAY = Unit("cost per day", "USD/d", units.parse_usd_per_day, "25000 $/d",
                   "cost per day: $/d (or $/h, k$/d), e.g. '25000 $/d'")
CLOCK = Unit("time of day", "h after 00:00", units.parse_clock, "06:30", "time of day HH:MM",
             json_types=("string", "integer"))

Hours = Annotated[float, DURATION]
Tonnes = Annotated[float, MASS]
TonnesPerDay = Annotated[float, RATE]
NauticalMiles = Annotated[float, DISTANCE]
Knots = Annotated[float, SPEED]
Metres = Annotated[float, LENGTH]
Bytes = Annotated[float, MEMORY]
ClockHours = Annotated[float, CLOCK]
Usd = Annotated[float, USD]
UsdPerTonne = Annotated[float, USD_PER_TONNE]
UsdPerDay = Annotated[float, USD_PER_DAY]

Date = Annotated[
    _dt.date,
    BeforeValidator(units.parse_date),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["2021-01-15"]}),
]
Name = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$")]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


def unit_in(annotation: Any) -> Unit | None:
    """The :class:`Unit` inside a type (``Hours``, ``Hours | None``, ``tuple[Hours, ...]``), if any."""
    if typing.get_origin(annotation) is Annotated:
        found = next((m for m in annotation.__metadata__ if isinstance(m, Unit)), None)
        return found if found is not None else unit_in(typing.get_args(annotation)[0])
    for arg in typing.get_args(annotation):
        found = unit_in(arg)
        if found is not None:
            return found
    return None


def unit_of(model: type[BaseModel], field: str) -> Unit | None:
    """The unit of ``model``'s field ``field`` (its name or its YAML alias); None when the
    field holds no quantity.  ``unit_of(Pipeline, "capacity").internal == "t/d"``."""
    for name, info in model.model_fields.items():
        if field in (name, info.alias):
            found = next((m for m in info.metadata if isinstance(m, Unit)), None)
            return found if found is not None else unit_in(info.annotation)
    raise KeyError(f"{model.__name__} has no field {field!r}")
