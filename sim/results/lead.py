"""The same-tonnage lead time: when a cargo's tonnage reaches the refinery, as the record counts it.

A cargo discharged at a port is "at the refinery", in the buyer's words, when the line into
the refinery has delivered as many tonnes as the port has received up to and including that
cargo: plug flow pushes the same tonnage of older crude (linefill, stocks) out ahead of the
cargo's own crude, so that is the instant the refinery has the cargo's tonnage. Its lead
time is measured from the tanker's arrival off the port (``arrive_discharge_h``) to the
instant the line's cumulative delivery, from the start of the run, reaches

* the tonnage discharged at the port before the cargo plus one tonne (``tonne="first"``:
  first oil), or
* that tonnage plus the whole cargo (``tonne="last"``: the cargo's tonnage),

counting the voyages that finished discharging there in the order they finished. The line's
cumulative delivery is known at day boundaries from the daily time series and taken as
linear within a day, so a time can be up to a day off where a batch starts or ends inside a
day. It counts tonnage from the start of the run: crude held at the port or along the line
at the start is counted as the first cargo's (README "Calibrating to the record").

This is the lead time of ``routesim calibrate`` (``measure: lead``) and of the brief's answer
per route; the cargo's own crude, first in first out, is ``cargoes.parquet``'s
``lead_first_h``, which can be months later in a slow line.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd

from sim.errors import UserError

Tonne = Literal["first", "last"]


def tail_cumulative(timeseries: pd.DataFrame, line: str, kind: str = "pipeline") -> dict[int, np.ndarray]:
    """Per replication, a line's cumulative delivery at its tail at the day boundaries 0, 1, ...
    (t), from the daily time series (rows of ``facility == line`` and ``kind``)."""
    rows = timeseries[(timeseries["facility"] == line) & (timeseries["kind"] == kind)]
    if rows.empty:
        raise UserError(f"the run has no daily delivery of a {kind} {line!r}")
    out: dict[int, np.ndarray] = {}
    for rep, g in rows.groupby("replication"):
        daily = g.sort_values("day")["value_t"].to_numpy(dtype=float)
        out[int(str(rep))] = np.concatenate([[0.0], np.cumsum(daily)])  # cum at day boundaries 0, 1, ...
    return out


def reach_h(cum: np.ndarray, tonnes: float) -> float:
    """Hour at which a cumulative delivery known at day boundaries reaches ``tonnes``
    (linear within a day); NaN if never, or if ``tonnes`` or the delivery is not a finite
    number (a shared run folder's voyage with no tonnage, say: ``searchsorted`` would
    place NaN past the end)."""
    if not math.isfinite(tonnes) or not np.isfinite(cum[-1]) or cum[-1] < tonnes - 1e-6:
        return math.nan
    k = int(np.searchsorted(cum, tonnes - 1e-6))
    if k == 0:
        return 0.0
    step = cum[k] - cum[k - 1]
    return 24.0 * (k - 1 + (tonnes - cum[k - 1]) / step)


def same_tonnage_leads(voyages: pd.DataFrame, cumulative: dict[int, np.ndarray], discharge_port: str,
                       tonne: Tonne = "last") -> pd.DataFrame:
    """The same-tonnage lead time (hours, module docstring) of every voyage of ``voyages``
    that finished discharging at ``discharge_port``, per replication, in the order they
    finished: columns ``replication``, the voyage table's ``voyage`` and ``programme`` (when
    it has them), ``arrive_discharge_h``, ``tonnes`` (the cumulative tonnage awaited) and
    ``lead_h`` (NaN when the line had not delivered it by the end of the run, or the
    replication has no delivery of the line)."""
    parts = []
    done = voyages[(voyages["discharge_port"] == discharge_port) & voyages["discharge_end_h"].notna()]
    for rep, v in done.groupby("replication", sort=True):
        v = v.sort_values("discharge_end_h", kind="stable")
        cargo = v["cargo_t"].to_numpy(dtype=float)
        before = np.concatenate([[0.0], np.cumsum(cargo)[:-1]])
        tonnes = before + (1.0 if tonne == "first" else cargo)
        cum = cumulative.get(int(str(rep)))
        arrive = v["arrive_discharge_h"].to_numpy(dtype=float)
        reached = np.array([reach_h(cum, t) if cum is not None else math.nan for t in tonnes])
        frame = pd.DataFrame({"replication": int(str(rep)), "arrive_discharge_h": arrive, "tonnes": tonnes,
                              "lead_h": reached - arrive})
        for col in ("voyage", "programme"):
            if col in v:
                frame.insert(1, col, v[col].to_numpy())
        parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=["replication", "arrive_discharge_h", "tonnes", "lead_h"])
    return pd.concat(parts, ignore_index=True)


__all__ = ["Tonne", "reach_h", "same_tonnage_leads", "tail_cumulative"]
