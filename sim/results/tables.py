"""The row tables of one replication, from its :class:`sim.recorder.Records`: a row per
voyage, per wait and per day-facility-kind of the time series, as numpy columns (the form
the runner ships from a worker) or DataFrames.

These are the recorded facts with each row's derived durations; the KPIs computed from them,
and the definitions of every derived column (cycle time, demurrage, waits clipped to the
horizon, delivered flow), are in :mod:`sim.results.metrics`.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

import numpy as np
import pandas as pd

from sim.recorder import VOYAGE_FIELDS, WAIT_FIELDS, Records
from sim.scenario.language import Fleet, Programme, Scenario

WAIT_CAUSES = ("berth", "cargo", "tank_room", "closed", "daylight", "one_way", "lane", "delay", "approach", "weather",
               "other")


def daily_flow_t(records: Records, facility: str, kind: str) -> np.ndarray:
    """Daily tonnes of one flow series, zeros when the model did not record it."""
    try:
        idx = records.flow_index(facility, kind)
    except KeyError:
        return np.zeros(records.n_days)
    return records.flow_t[idx]


def _pipelines_into(scenario: Scenario, node: str) -> list[str]:
    return [p.name for p in scenario.network.pipelines if p.to == node]


def delivered_daily_t(records: Records, scenario: Scenario, refinery: str) -> np.ndarray:
    """Daily tonnes arriving into ``refinery``: the tail flows of the legs ending there."""
    out = np.zeros(records.n_days)
    for name in _pipelines_into(scenario, refinery):
        out = out + daily_flow_t(records, name, "pipeline")
    return out


def programmes_and_fleets(scenario: Scenario) -> list[Programme | Fleet]:
    """Every cargo programme and dedicated fleet: what a voyage's ``programme`` names."""
    return [*scenario.shipping.programmes, *scenario.shipping.fleets]


def _laytimes(scenario: Scenario) -> dict[str, tuple[float, float | None]]:
    """Programme or fleet name -> (laytime_h, demurrage_usd_per_day)."""
    out: dict[str, tuple[float, float | None]] = {}
    for p in programmes_and_fleets(scenario):
        out[p.name] = (p.laytime_h, p.demurrage_usd_per_day)
    return out


_VOYAGE_TEXT = ("tanker", "programme", "load_port", "discharge_port")


def _num(values: list[Any]) -> np.ndarray:
    """Floats, with None as NaN."""
    return np.array([math.nan if v is None else float(v) for v in values], dtype="float64")


def voyages(records: Records, scenario: Scenario) -> pd.DataFrame:
    """A row per voyage (see :func:`voyage_columns`)."""
    return pd.DataFrame(voyage_columns(records, scenario))


def voyage_columns(records: Records, scenario: Scenario) -> dict[str, np.ndarray]:
    """A row per voyage: the recorded timestamps (hours) plus each stage's duration.

    Stage columns: ``wait_load_berth_h``, ``wait_cargo_h``, ``load_h``, ``sail_h``,
    ``wait_discharge_berth_h``, ``wait_tank_room_h``, ``discharge_h``, ``cycle_h``,
    ``port_h`` (both ports), ``demurrage_h`` and ``demurrage_usd`` (NaN without a rate).
    A stage not reached within the horizon is NaN; ``completed`` says whether the voyage
    finished discharging within the horizon.
    """
    rows = records.voyages
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in VOYAGE_FIELDS]
    data: dict[str, Any] = {}
    for name, values in zip(VOYAGE_FIELDS, cols, strict=True):
        if name == "voyage":
            data[name] = np.array(values, dtype="int64")
        elif name in _VOYAGE_TEXT:
            data[name] = np.array([str(v) for v in values], dtype=object)
        else:
            data[name] = _num(list(values))
    horizon = records.horizon_h

    def g(column: str) -> np.ndarray:
        return data[column]

    with np.errstate(invalid="ignore"):
        data["wait_load_berth_h"] = g("berth_load_h") - g("arrive_load_h")
        data["wait_cargo_h"] = g("load_start_h") - g("berth_load_h")
        data["load_h"] = g("load_end_h") - g("load_start_h")
        data["sail_h"] = g("arrive_discharge_h") - g("load_end_h")
        data["wait_discharge_berth_h"] = g("berth_discharge_h") - g("arrive_discharge_h")
        data["wait_tank_room_h"] = g("discharge_start_h") - g("berth_discharge_h")
        data["discharge_h"] = g("discharge_end_h") - g("discharge_start_h")
        end = g("discharge_end_h")
        completed = ~np.isnan(end) & (end <= horizon)
        data["completed"] = completed
        data["cycle_h"] = np.where(completed, end - g("arrive_load_h"), math.nan)

        def in_port(arrive: np.ndarray, leave: np.ndarray) -> np.ndarray:
            e = np.minimum(np.where(np.isnan(leave), horizon, leave), horizon)
            here = ~np.isnan(arrive) & (arrive < horizon)
            return np.where(here, np.maximum(e - np.minimum(arrive, horizon), 0.0), 0.0)

        port = in_port(g("arrive_load_h"), g("load_end_h")) + in_port(g("arrive_discharge_h"), g("discharge_end_h"))
        data["port_h"] = port
        lay = _laytimes(scenario)
        laytime = np.array([lay.get(p, (math.nan, None))[0] for p in data["programme"]], dtype="float64")
        rate = np.array([_nan_if_none(lay.get(p, (math.nan, None))[1]) for p in data["programme"]], dtype="float64")
        data["demurrage_h"] = np.maximum(port - laytime, 0.0)
        data["demurrage_usd"] = data["demurrage_h"] / 24.0 * rate
    return data


def _nan_if_none(v: float | None) -> float:
    return math.nan if v is None else float(v)


def waits(records: Records) -> pd.DataFrame:
    """A row per recorded wait (see :func:`wait_columns`)."""
    return pd.DataFrame(wait_columns(records))


def wait_columns(records: Records) -> dict[str, np.ndarray]:
    """A row per recorded wait (``WAIT_FIELDS``) plus ``wait_h``, the end clipped to the horizon."""
    rows = records.waits
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in WAIT_FIELDS]
    data: dict[str, Any] = {}
    for name, values in zip(WAIT_FIELDS, cols, strict=True):
        if name in ("start_h", "end_h"):
            data[name] = _num(list(values))
        else:
            data[name] = np.array(["" if v is None else str(v) for v in values], dtype=object)
    known = set(WAIT_CAUSES)
    data["cause"] = np.array([c if c in known else "other" for c in data["cause"]], dtype=object)
    h = records.horizon_h
    end = np.minimum(np.where(np.isnan(data["end_h"]), h, data["end_h"]), h)
    data["wait_h"] = np.maximum(end - np.minimum(data["start_h"], h), 0.0)
    return data


def timeseries(records: Records, scenario: Scenario) -> pd.DataFrame:
    """Daily flows and day-boundary stocks in long format (see :func:`timeseries_columns`)."""
    return pd.DataFrame(timeseries_columns(records, scenario))


def timeseries_columns(records: Records, scenario: Scenario) -> dict[str, np.ndarray]:
    """Daily flows and day-boundary stocks in long format.

    Columns: ``day`` (0-based), ``date`` (the calendar date the day starts), ``facility``,
    ``kind`` (a flow kind of :data:`sim.recorder.FLOW_KINDS`, ``delivered`` for the crude
    arriving into each refinery, or ``stock`` for the tank level at 00:00 of that day, with
    one extra row at day ``n_days`` for the level at the end) and ``value_t`` (tonnes).
    """
    n = records.n_days
    names: list[tuple[str, str]] = list(records.flow_names)
    values: list[np.ndarray] = [records.flow_t]
    refs = [r.name for r in scenario.network.refineries]
    names += [(r, "delivered") for r in refs]
    if refs:
        values.append(np.vstack([delivered_daily_t(records, scenario, r) for r in refs]))
    n_flow = len(names)
    flows = np.vstack(values) if n_flow else np.zeros((0, n))
    n_tank = len(records.tank_names)
    day = np.concatenate([np.tile(np.arange(n, dtype="int64"), n_flow),
                          np.tile(np.arange(n + 1, dtype="int64"), n_tank)])
    facility = np.concatenate([np.repeat(np.array([f for f, _ in names], dtype=object), n),
                               np.repeat(np.array(records.tank_names, dtype=object), n + 1)])
    kind = np.concatenate([np.repeat(np.array([k for _, k in names], dtype=object), n),
                           np.full(n_tank * (n + 1), "stock", dtype=object)])
    value = np.concatenate([flows.reshape(-1), np.asarray(records.stock_t, dtype="float64").reshape(-1)])
    start = np.datetime64(scenario.start, "D")
    return {"day": day, "date": (start + day.astype("timedelta64[D]")).astype("datetime64[s]"),
            "facility": facility, "kind": kind, "value_t": value.astype("float64")}


# causes a tanker can wait for at a strait (sim.model.chokepoint), in the passages table
STRAIT_CAUSES = ("closed", "daylight", "one_way", "lane", "delay")
_MATCH_EPS_H = 1e-6  # a wait segment belongs to a passage it starts within (float rounding)


def passages(records: Records) -> pd.DataFrame:
    """A row per completed strait passage (see :func:`passage_columns`)."""
    return pd.DataFrame(passage_columns(records))


def passage_columns(records: Records) -> dict[str, np.ndarray]:
    """A row per strait passage completed within the horizon (``PASSAGE_FIELDS``).

    Columns: ``strait``, ``tanker``, ``direction``, ``queue_entry_h`` (arrival at the strait),
    ``entry_h`` (entered a lane), ``exit_h``; ``wait_h`` = entry - queue entry;
    ``transit_h`` = exit - entry; and ``wait_<cause>_h`` for each cause of
    :data:`STRAIT_CAUSES`: the hours of that tanker's wait segments at that strait that
    start between its queue entry and its exit.  The causes before entry add up to
    ``wait_h``; a derate's extra transit time is a ``delay`` segment inside the transit, so
    ``wait_delay_h`` may include time also counted in ``transit_h``.
    """
    rows = records.passages
    n = len(rows)
    cols = list(zip(*rows, strict=True)) if rows else [(), (), (), (), (), ()]
    strait = np.array([str(v) for v in cols[0]], dtype=object)
    tanker = np.array([str(v) for v in cols[1]], dtype=object)
    queue_h, entry_h, exit_h = (_num(list(c)) for c in cols[3:6])
    by_cause = {c: np.zeros(n) for c in STRAIT_CAUSES}
    # one tanker's passages of one strait never overlap: sorted by queue entry, a wait
    # segment belongs to the last passage queued before it starts, if that one is not over
    mine: dict[tuple[str, str], tuple[list[float], list[int]]] = {}
    for i in sorted(range(n), key=lambda i: queue_h[i]):
        starts, rows_of = mine.setdefault((strait[i], tanker[i]), ([], []))
        starts.append(queue_h[i] - _MATCH_EPS_H)
        rows_of.append(i)
    for facility, cause, _who, who_tanker, start, end in records.waits:
        found = mine.get((str(facility), str(who_tanker))) if cause in by_cause else None
        if found is None:
            continue
        k = bisect.bisect_right(found[0], start) - 1
        if k >= 0 and start <= exit_h[found[1][k]] + _MATCH_EPS_H:
            by_cause[cause][found[1][k]] += float(end) - float(start)
    data: dict[str, np.ndarray] = {
        "strait": strait, "tanker": tanker, "direction": np.array([str(v) for v in cols[2]], dtype=object),
        "queue_entry_h": queue_h, "entry_h": entry_h, "exit_h": exit_h,
        "wait_h": entry_h - queue_h, "transit_h": exit_h - entry_h,
    }
    data.update({f"wait_{c}_h": v for c, v in by_cause.items()})
    return data


BALANCE_FIELDS = ("injected", "delivered", "in_pipelines", "in_tanks", "aboard", "removed", "initial", "produced")


def balance_columns(records: Records) -> dict[str, np.ndarray]:
    """The mass balance of one replication at the end of its run, one row (tonnes).

    ``Records.balance`` (:mod:`sim.model.build`) with each name given the ``_t`` suffix, its
    ``delivered`` (crude the refineries ran) renamed ``processed_t`` so that it is not
    confused with the ``delivered_t`` KPI (crude arriving into the refineries), and
    ``imbalance_t`` = injected - (processed + in_pipelines + in_tanks + aboard + removed),
    where injected = initial + produced.  No row when the model recorded no balance.
    """
    b = records.balance
    if not b:
        return {}
    out = {("processed_t" if k == "delivered" else f"{k}_t"): np.array([float(b[k])]) for k in BALANCE_FIELDS}
    out["imbalance_t"] = out["injected_t"] - (out["processed_t"] + out["in_pipelines_t"] + out["in_tanks_t"]
                                              + out["aboard_t"] + out["removed_t"])
    return out
