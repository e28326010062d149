"""The base of every scenario model, and instants (when something happens).

:class:`Strict` makes each model frozen and strict (unknown keys, NaN and infinity are
refused); :data:`When` reads an instant as a date, a date and time of day, or an offset from
the scenario start, into an :class:`Instant` that the scenario turns into hours.
"""

from __future__ import annotations

import datetime as _dt
import functools
import types
import typing
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, WithJsonSchema, model_validator

from sim import units


def _instant(v: Any, info: ValidationInfo) -> Any:
    """An instant is a date ('2021-01-10'), a date and time of day ('2021-01-10T18:00',
    a zone converted to the scenario's clock) or an offset from the start ('9d')."""
    if isinstance(v, dict):
        return v
    # the loader passes the scenario's clock; without it a time with a zone is refused
    date, hours = units.parse_instant(v, (info.context or {}).get("utc_offset_h"))
    if date is None:
        return {"offset_h": hours}
    return {"date": date} if hours is None else {"date": date, "offset_h": hours}

# A tanker's direction through a strait (each sea leg's pass says which way is which).
Direction = Literal["northbound", "southbound"]


def _leaves(annotation: Any) -> frozenset[Any]:
    """The plain types a field's annotation can hold, through ``X | None``, ``Annotated``,
    tuples and mappings (a mapping's values): ``tuple[Hours, ...] | None`` gives
    ``{float, NoneType}``."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _leaves(args[0])
    if origin is Literal:
        return frozenset({Literal})
    if origin is dict:
        return _leaves(args[1])
    if args and origin in (typing.Union, types.UnionType, tuple):
        return frozenset().union(*(_leaves(a) for a in args if a is not Ellipsis))
    return frozenset({origin or annotation})


@functools.cache
def _number_fields(model: type) -> dict[str, bool]:
    """The fields of a model that hold a number but never true or false, by the key a file
    writes (alias and name): whether the field holds only numbers, so that every item of a
    list or mapping written there must be a number too."""
    found = {}
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        leaves = _leaves(field.annotation)
        if leaves & {int, float} and bool not in leaves:
            only = leaves <= {int, float, type(None)}
            found[name] = only
            if field.alias:
                found[field.alias] = only
    return found


class WrittenBool:
    """True or false written where a number goes, kept so that the field's own validation
    refuses it (a number field cannot read this object) and the message shows what the file
    wrote; ``repr`` is YAML's word, for messages that show the input."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "true" if self.value else "false"


def _marked(value: Any) -> Any:
    """``value`` with every true or false in it (through lists and mappings) a
    :class:`WrittenBool`; the same object when it holds none."""
    if isinstance(value, bool):
        return WrittenBool(value)
    if isinstance(value, (list, tuple)):
        items = [_marked(v) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if isinstance(value, dict):
        marked = {k: _marked(v) for k, v in value.items()}
        return value if all(marked[k] is v for k, v in value.items()) else marked
    return value


class Strict(BaseModel):
    """Base for every scenario model: frozen, unknown keys rejected, NaN and infinity
    refused (a comparison with NaN is always false, so it would slip past every bound),
    and true or false refused where a number goes: pydantic reads them as 1 and 0, so
    ``seed: true`` or ``lanes: true`` would run as 1."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_number(cls, data: Any) -> Any:
        """Mark a true or false written for a number field, so that field's validation
        refuses it where the file wrote it (a model validator sees the keys, and a field
        validator on every field is not allowed beside a union's tag field)."""
        if not isinstance(data, dict):
            return data
        numbers = _number_fields(cls)
        changed = None
        for key, value in data.items():
            only = numbers.get(key) if isinstance(key, str) else None
            if only is None:
                continue
            marked = _marked(value) if only or isinstance(value, bool) else value
            if marked is not value:
                changed = changed if changed is not None else dict(data)
                changed[key] = marked
        return data if changed is None else changed


class Instant(Strict):
    """A moment: ``date`` plus ``offset_h`` hours after its 00:00 (a time of day), or, with
    no date, ``offset_h`` hours after the scenario start."""

    date: _dt.date | None = None
    offset_h: float | None = None

    def hours_from(self, start: _dt.date) -> float:
        if self.date is not None:
            return (self.date - start).days * 24.0 + float(self.offset_h or 0.0)
        return float(self.offset_h or 0.0)


When = Annotated[
    Instant,
    BeforeValidator(_instant),
    WithJsonSchema({"type": "string", "examples": ["2021-01-10", "2021-01-10T18:00", "9d"],
                    "description": "a date (00:00 that day), a date and time of day (a zone such as Z or "
                                   "+03:00 is converted to the scenario's utc_offset_h), or an offset from "
                                   "the scenario start"}),
]
