"""The base of every scenario model, and instants (when something happens).

:class:`Strict` makes each model frozen and strict (unknown keys, NaN and infinity are
refused); :data:`When` reads an instant as a date, a date and time of day, or an offset from
the scenario start, into an :class:`Instant` that the scenario turns into hours.
"""

from __future__ import annotations

import datetime as _dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, WithJsonSchema

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


class Strict(BaseModel):
    """Base for every scenario model: frozen, unknown keys rejected, NaN and infinity
    refused (a comparison with NaN is always false, so it would slip past every bound)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)


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
