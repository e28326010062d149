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
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.recorder import DECISION_FIELDS, NOMINATION_FIELDS, RAIL_TRIP_FIELDS, VOYAGE_FIELDS, WAIT_FIELDS, Records
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


def timeseries_block(records: Sequence[Records], scenario: Scenario, replications: Sequence[int]) -> pa.Table:
    """The time series of consecutive replications (``records[j]`` is replication
    ``replications[j]``) as one Arrow table, with a leading ``replication`` column: the
    rows of :func:`timeseries_columns` for each replication, in order, built for the whole
    block at once.

    What it buys: a replication's time series is ~15,000 rows (a row per day and series)
    whose ``facility`` and ``kind`` repeat a few dozen names.  Built per replication as
    Python strings and converted to Arrow, it cost more than every other table together;
    here each name is a code into one dictionary per column (``facility`` and ``kind`` are
    Arrow dictionary arrays), so no string is made per row, and the block's part file is
    several times smaller.  The final Parquet table is unchanged: :mod:`sim.results.parts`
    writes dictionary columns as plain strings (same values, same type as before)."""
    facilities: dict[str, int] = {}
    kinds: dict[str, int] = {}
    refs = [r.name for r in scenario.network.refineries]
    start = np.datetime64(scenario.start, "D")
    # a replication's layout (its series and days) is nearly always that of the one before:
    # its day, date and name-code columns are built once per layout and reused, so per
    # replication only the values are copied (a third of the block's cost before)
    layouts: dict[tuple[Any, ...], tuple[pa.Array, pa.Array, np.ndarray, np.ndarray]] = {}
    used: list[tuple[Any, ...]] = []  # each replication's layout
    rep_col, value_col = [], []
    for rec, replication in zip(records, replications, strict=True):
        n = rec.n_days
        layout = (n, tuple(rec.flow_names), tuple(rec.tank_names))
        names: list[tuple[str, str]] = [*rec.flow_names, *((r, "delivered") for r in refs)]
        tanks = list(rec.tank_names)
        if layout not in layouts:
            series = [f for f, _ in names] + tanks
            lengths = np.array([n] * len(names) + [n + 1] * len(tanks), dtype="int64")
            fac_codes = np.array([facilities.setdefault(f, len(facilities)) for f in series], dtype="int32")
            kind_codes = np.array([kinds.setdefault(k, len(kinds))
                                   for k in [k for _, k in names] + ["stock"] * len(tanks)], dtype="int32")
            day = np.concatenate([np.tile(np.arange(n, dtype="int64"), len(names)),
                                  np.tile(np.arange(n + 1, dtype="int64"), len(tanks))])
            layouts[layout] = (pa.array(day), pa.array((start + day.astype("timedelta64[D]")).astype("datetime64[s]")),
                               np.repeat(fac_codes, lengths), np.repeat(kind_codes, lengths))
        used.append(layout)
        values: list[np.ndarray] = [rec.flow_t]
        if refs:
            values.append(np.vstack([delivered_daily_t(rec, scenario, r) for r in refs]))
        rep_col.append(pa.array(np.full(len(layouts[layout][0]), replication, dtype="int64")))
        flows = np.vstack(values) if names else np.zeros((0, n))
        value_col.append(pa.array(np.concatenate([flows.reshape(-1),
                                                  np.asarray(rec.stock_t, dtype="float64").reshape(-1)])))
    # one chunk per replication, not one array for the block: what it buys is the copy of
    # the whole block into new arrays (~0.4 ms per baseline replication, 560,000 rows of six
    # columns per block of 32); the day, date and name columns of a layout are one Arrow array
    # that every replication with that layout refers to.  The names' codes take the final
    # dictionaries (one per column for the whole block: an IPC file holds one dictionary)
    fac_dict = pa.array(list(facilities), pa.string())
    kind_dict = pa.array(list(kinds), pa.string())
    names_of = {key: (pa.DictionaryArray.from_arrays(pa.array(fac, pa.int32()), fac_dict),
                      pa.DictionaryArray.from_arrays(pa.array(kind, pa.int32()), kind_dict))
                for key, (_day, _date, fac, kind) in layouts.items()}
    dictionary = pa.dictionary(pa.int32(), pa.string())

    def chunked(chunks: list[pa.Array], type_: pa.DataType) -> pa.ChunkedArray:
        return pa.chunked_array(chunks, type=type_)

    return pa.table({
        "replication": chunked(rep_col, pa.int64()),
        "day": chunked([layouts[u][0] for u in used], pa.int64()),
        "date": chunked([layouts[u][1] for u in used], pa.timestamp("s")),
        "facility": chunked([names_of[u][0] for u in used], dictionary),
        "kind": chunked([names_of[u][1] for u in used], dictionary),
        "value_t": chunked(value_col, pa.float64()),
    })


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


# --------------------------------------------------------------------------- cargoes

CARGO_COMPLETE_TOL_T = 1e-3  # a cargo whose refinery tonnes fall short of its loaded tonnes by less is all in


def cargoes(records: Records, scenario: Scenario) -> pd.DataFrame:
    """A row per cargo and refinery it reached (see :func:`cargo_columns`)."""
    return pd.DataFrame(cargo_columns(records, scenario))


def cargo_columns(records: Records, scenario: Scenario) -> dict[str, np.ndarray]:
    """A row per cargo (the crude one voyage loaded) and refinery some of it entered within
    the horizon; a cargo none of whose crude has entered a refinery yet has one row with an
    empty ``refinery``.

    Columns: ``voyage`` (as in the voyages table), ``programme``, ``tanker``, ``load_port``,
    ``discharge_port``, ``nominal_t`` (the cargo of the programme's or fleet's tanker: its
    fixed size, or the mean of its size distribution),
    ``loaded_t`` (the tonnes that went aboard; NaN while loading has not ended),
    ``load_start_h``, ``load_end_h``, ``arrive_discharge_h``, ``discharge_start_h``,
    ``discharge_end_h`` (hours from the start, NaN when not reached); ``refinery``,
    ``first_tonne_h`` and ``last_tonne_h`` (the cargo's first and last tonne within the
    horizon into that refinery's tank), ``refinery_t`` (its tonnes into that refinery),
    ``delivered_t`` (its tonnes into all refineries), ``complete`` (the whole loaded cargo
    has entered refineries: ``delivered_t`` within :data:`CARGO_COMPLETE_TOL_T` of
    ``loaded_t``); and the port-to-refinery lead times ``lead_first_h`` = first tonne -
    discharge start and ``lead_last_h`` = last tonne - discharge end (NaN unless
    ``complete``: until then the last tonne is not known).
    """
    voyage_rows = {int(v[0]): v for v in records.voyages}
    nominal = {p.name: p.tanker.cargo_t for p in programmes_and_fleets(scenario)}
    reached: dict[int, list[tuple[str, float, float, float]]] = {}
    for v, refinery, first, last, t in records.cargo_intake:
        reached.setdefault(int(v), []).append((str(refinery), float(first), float(last), float(t)))
    rows: list[tuple[Any, ...]] = []
    for v in sorted(voyage_rows):
        row = voyage_rows[v]
        parts = reached.get(v) or [("", math.nan, math.nan, 0.0)]
        for refinery, first, last, t in parts:
            rows.append((v, *row[1:5], refinery, first, last, t))
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in range(9)]
    vid = np.array(cols[0], dtype="int64")

    def voyage_field(name: str) -> np.ndarray:
        k = VOYAGE_FIELDS.index(name)
        return _num([voyage_rows[int(v)][k] for v in vid])

    data: dict[str, Any] = {"voyage": vid}
    for k, name in enumerate(_VOYAGE_TEXT):
        data[name] = np.array([str(x) for x in cols[k + 1]], dtype=object)
    data["nominal_t"] = _num([nominal.get(p) for p in data["programme"]])
    data["loaded_t"] = _num([records.cargo_loaded_t.get(int(v)) for v in vid])
    for name in ("load_start_h", "load_end_h", "arrive_discharge_h", "discharge_start_h", "discharge_end_h"):
        data[name] = voyage_field(name)
    data["refinery"] = np.array([str(x) for x in cols[5]], dtype=object)
    data["first_tonne_h"] = _num(list(cols[6]))
    data["last_tonne_h"] = _num(list(cols[7]))
    data["refinery_t"] = _num(list(cols[8]))
    total: dict[int, float] = {}
    for v, t in zip(vid, data["refinery_t"], strict=True):
        total[int(v)] = total.get(int(v), 0.0) + float(t)
    data["delivered_t"] = _num([total[int(v)] for v in vid])
    with np.errstate(invalid="ignore"):
        complete = data["delivered_t"] >= data["loaded_t"] - CARGO_COMPLETE_TOL_T  # NaN loaded: False
        data["complete"] = complete
        data["lead_first_h"] = data["first_tonne_h"] - data["discharge_start_h"]
        data["lead_last_h"] = np.where(complete, data["last_tonne_h"] - data["discharge_end_h"], math.nan)
    return data


# --------------------------------------------------------------------------- rail services

RAIL_WAITS = {  # a train's waits on one trip: column -> (from field, to field)
    "wait_loading_point_h": ("ready_h", "point_h"),
    "wait_cargo_h": ("point_h", "load_start_h"),
    "wait_path_h": ("load_end_h", "depart_h"),
    "wait_unloading_point_h": ("arrive_h", "unload_point_h"),
    "wait_tank_room_h": ("unload_point_h", "unload_start_h"),
}


def rail_trip_columns(records: Records) -> dict[str, np.ndarray]:
    """A row per loaded train trip of a rail service (``RAIL_TRIP_FIELDS``), plus its waits
    (:data:`RAIL_WAITS`: for a loading point, for a full train's crude, for a path under the
    daily cap, for an unloading point, for room in the tank; each clipped to the horizon,
    0 when not reached) and ``completed`` (unloaded within the horizon)."""
    rows = records.rail_trips
    if not rows:
        # no rail service ran (most scenarios have none): the empty columns the path below
        # makes (text leg and train, float hours and waits, a bool completed), without its
        # ~30 numpy calls on nothing (~50 us of a baseline replication's tables)
        empty = {name: np.array([], dtype=object if name in ("leg", "train") else "float64")
                 for name in RAIL_TRIP_FIELDS}
        empty.update({column: np.zeros(0) for column in RAIL_WAITS})
        empty["completed"] = np.zeros(0, dtype=bool)
        return empty
    cols = list(zip(*rows, strict=True))
    data: dict[str, Any] = {}
    for name, values in zip(RAIL_TRIP_FIELDS, cols, strict=True):
        data[name] = np.array(list(values), dtype=object) if name in ("leg", "train") else _num(list(values))
    h = records.horizon_h
    for column, (a, b) in RAIL_WAITS.items():
        start, end = data[a], np.where(np.isnan(data[b]), h, data[b])
        data[column] = np.where(np.isnan(start), 0.0, np.maximum(np.minimum(end, h) - np.minimum(start, h), 0.0))
    data["completed"] = ~np.isnan(data["unload_end_h"])
    return data


def rail_trips(records: Records) -> pd.DataFrame:
    """A row per loaded train trip (see :func:`rail_trip_columns`)."""
    return pd.DataFrame(rail_trip_columns(records))


def rail_kpis(records: Records, scenario: Scenario) -> list[dict[str, Any]]:
    """One row per rail service (a ``kind: rail`` leg with a ``rail:`` block): its train
    sets, its daily cap, trips started and unloaded, tonnes delivered (unloaded at the
    tail) in total and per day of the horizon, its best day, and the mean of each train
    wait per trip (:data:`RAIL_WAITS`)."""
    trips = rail_trip_columns(records)
    out: list[dict[str, Any]] = []
    for p in scenario.network.pipelines:
        if p.rail is None:
            continue
        mine = trips["leg"] == p.name
        daily = daily_flow_t(records, p.name, "pipeline")
        row: dict[str, Any] = {
            "leg": p.name, "trains": p.rail.trains, "daily_cap_t": p.capacity_t_per_day,
            "trips": int(mine.sum()), "trips_completed": int((mine & trips["completed"]).sum()),
            "delivered_t": float(daily.sum()), "delivered_t_per_day": float(daily.sum()) / (records.horizon_h / 24.0),
            "best_day_t": float(daily.max()) if daily.size else 0.0,
        }
        for column in RAIL_WAITS:
            row[f"{column}_mean"] = float(trips[column][mine].mean()) if mine.any() else math.nan
        out.append(row)
    return out


def decision_columns(records: Records) -> dict[str, np.ndarray]:
    """A row per decision an operating policy took (``DECISION_FIELDS``,
    :mod:`sim.model.policies`): ``facility``, ``policy`` (``top_up``, ``planned_cut``,
    ``batching``), ``decision``, ``time_h`` (hours from the start), ``day`` (0-based, of ``time_h`` to 1e-6 h),
    ``reason`` in words, ``cover_d`` (the watched refinery's days of cover then; NaN for
    batches) and ``tonnes`` (its stock above ``min_stock``; for a batch the tonnes at the
    head when called, or the batch's size when it starts)."""
    rows = records.decisions
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in DECISION_FIELDS]
    data: dict[str, np.ndarray] = {}
    for name, values in zip(DECISION_FIELDS, cols, strict=True):
        if name in ("time_h", "cover_d", "tonnes"):
            data[name] = _num(list(values))
        else:
            data[name] = np.array([str(v) for v in values], dtype=object)
    data["day"] = np.floor((data["time_h"] + 1e-6) / 24.0).astype("int64")  # 119.99999999999999 h is day 5
    return data


_NOMINATION_TEXT = ("programme", "tanker", "policy", "trigger", "watch", "load_port", "discharge_port",
                    "rerouted_from", "rerouted_to")


def nominations(records: Records) -> pd.DataFrame:
    """A row per lifting a programme decided (see :func:`nomination_columns`)."""
    return pd.DataFrame(nomination_columns(records))


def nomination_columns(records: Records) -> dict[str, np.ndarray]:
    """A row per lifting of every cargo programme (``NOMINATION_FIELDS``, from
    :mod:`sim.model.nomination`), in the order they were decided (calendar liftings first,
    as the calendar is set at the start).

    Columns: ``programme``, ``tanker`` (joins ``voyages.parquet``), ``decided_h``,
    ``policy`` (calendar | reorder), ``trigger`` (calendar | reorder |
    ``emergency:supply_cut:<source>`` | ``emergency:closure:<facility>``), ``watch`` and what
    the desk saw of it when it decided (``stock_t``, ``cover_d`` for a refinery,
    ``position_t``; NaN without a watched facility), ``lead_time_h``, ``laycan_h`` (due at
    the load port), ``cargo_t``, ``load_port`` and ``discharge_port`` (as sailed; "" if the
    tanker was not yet due within the horizon), ``rerouted_from`` / ``rerouted_to``
    (``load->discharge``; "" when not rerouted, ``rerouted_to`` "" when no alternative was
    clear), ``switch_delay_h`` and ``switch_cost_usd``.
    """
    rows = records.nominations
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in NOMINATION_FIELDS]
    data: dict[str, np.ndarray] = {}
    for name, values in zip(NOMINATION_FIELDS, cols, strict=True):
        if name in _NOMINATION_TEXT:
            data[name] = np.array([str(v) for v in values], dtype=object)
        else:
            data[name] = _num(list(values))
    return data
