"""Slim records of one replication: what the model saw, as arrays and tuples.

The model appends to a :class:`Records` while it runs (never object snapshots); the
metrics module reduces them to KPIs and tables.  A ``Records`` is plain data (numpy
arrays, lists of tuples, dicts), cheap to pickle back from a worker process.

Time is in hours from the scenario start; day ``d`` covers hours ``[24 d, 24 (d + 1))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import cast

import numpy as np

# A continuous flow series is named (facility, kind).  Kinds:
#   production  tonnes a source made available (accepted into its tank or line)
#   pipeline    tonnes delivered at the tail of a pipeline or rail leg
#   load        tonnes loaded onto tankers at a terminal
#   discharge   tonnes discharged from tankers into a terminal's tanks
#   run         tonnes a refinery processed
#   demand      tonnes a refinery wanted to process (its scheduled run rate)
#   removed     tonnes taken out of the system (contaminated linefill)
#   planned     tonnes a refinery's run policy wanted to run (demand less a planned cut;
#               recorded only for refineries with ``run_policy: planned_cut``)
#   inflow      tonnes pumped into a pipeline or rail leg at its head (equal to its tail
#               flow except while the line refills: then the head takes in, the tail gives 0)
FLOW_KINDS = ("production", "pipeline", "load", "discharge", "run", "demand", "removed", "planned", "inflow")

VOYAGE_FIELDS = (
    "voyage",          # int, 0.. in order of creation
    "tanker",          # str
    "programme",       # str: programme or fleet name
    "load_port",       # str
    "discharge_port",  # str
    "cargo_t",         # float
    "arrive_load_h",   # arrival at the load port
    "berth_load_h",    # got a berth
    "load_start_h",    # cargo available, loading starts
    "load_end_h",
    "arrive_discharge_h",
    "berth_discharge_h",
    "discharge_start_h",  # tank room available, discharge starts
    "discharge_end_h",
)



@dataclass(slots=True)
class Voyage:
    """One loaded voyage as the model fills it in (a time stays NaN until it is reached);
    :meth:`row` gives its ``Records.voyages`` row, in ``VOYAGE_FIELDS`` order.  The model
    writes named fields rather than indexing a list, and the tables stay plain tuples."""

    voyage: int
    tanker: str
    programme: str
    load_port: str
    discharge_port: str
    cargo_t: float
    arrive_load_h: float = math.nan
    berth_load_h: float = math.nan
    load_start_h: float = math.nan
    load_end_h: float = math.nan
    arrive_discharge_h: float = math.nan
    berth_discharge_h: float = math.nan
    discharge_start_h: float = math.nan
    discharge_end_h: float = math.nan

    def row(self) -> tuple[int, str, str, str, str, float, float, float, float, float, float, float, float, float]:
        """The ``Records.voyages`` row (``VOYAGE_FIELDS`` order)."""
        return (self.voyage, self.tanker, self.programme, self.load_port, self.discharge_port, self.cargo_t,
                self.arrive_load_h, self.berth_load_h, self.load_start_h, self.load_end_h,
                self.arrive_discharge_h, self.berth_discharge_h, self.discharge_start_h, self.discharge_end_h)


if tuple(f.name for f in fields(Voyage)) != VOYAGE_FIELDS:  # the row order is the table's contract
    raise AssertionError("Voyage fields must match VOYAGE_FIELDS")

WAIT_FIELDS = (
    "facility",    # where the tanker waited
    "cause",       # berth | cargo | tank_room | closed | daylight | one_way | lane | delay | approach | weather
    "disruption",  # name of the disruption responsible, or "" when none
    "tanker",
    "start_h",
    "end_h",
)

PASSAGE_FIELDS = ("chokepoint", "tanker", "direction", "arrive_h", "enter_h", "exit_h")

DISRUPTION_FIELDS = ("disruption", "facility", "kind", "start_h", "end_h")

# Per-cargo tracking: a row per (cargo, refinery) that some of the cargo's crude entered
# within the run, in (voyage, refinery) order.  A cargo is the crude one voyage loaded
# (``voyage`` as in VOYAGE_FIELDS); its tonnes are followed first in, first out through
# tanks and lines (sim.model.lots).
CARGO_INTAKE_FIELDS = (
    "voyage",    # int: the voyage that loaded the cargo
    "refinery",  # str
    "first_h",   # its first tonne enters the refinery's tank
    "last_h",    # its last tonne so far (within the run) enters it
    "tonnes",    # of the cargo that entered it
)

# One loaded trip of a train set of a rail service (sim.model.rail), a row of Records.rail_trips.
RAIL_TRIP_FIELDS = (
    "leg",             # the kind-rail leg with a rail: block
    "train",           # train set, e.g. "klaipeda_naftan#train3"
    "cargo_t",
    "ready_h",         # at the loading end, empty, asking for a loading point
    "point_h",         # holds a loading point
    "load_start_h",    # a full train's crude free in the tank (and the leg open): loading starts
    "load_end_h",
    "depart_h",        # left on its path (the daily cap spaces the paths)
    "arrive_h",        # at the unloading end (NaN until then)
    "unload_point_h",  # holds an unloading point
    "unload_start_h",  # room for the train in the tank (and the leg open): unloading starts
    "unload_end_h",    # NaN while the trip is not finished at the horizon
)

# A decision an operating policy took (sim.model.policies): a supply contract's top-up
# (top_up_triggered / top_up_started / top_up_stopped), a refinery's planned cut
# (cut_started / cut_ended), a flexible batch (batch_called / batch_flushed / batch_started /
# batch_cancelled).
DECISION_FIELDS = (
    "facility",  # the source, refinery or pipeline that acted
    "policy",    # top_up | planned_cut | batching
    "decision",
    "time_h",
    "reason",    # what triggered it, in words
    "cover_d",   # the watched refinery's days of cover (stock above min_stock / demand) then; NaN for batches
    "tonnes",    # the watched refinery's stock above min_stock; for batches: the tonnes at the
                 # head (batch_called / batch_flushed) or the batch's size (batch_started)
)

# a row per lifting a programme's nomination desk decided (sim.model.nomination.Cargo)
NOMINATION_FIELDS = (
    "programme", "tanker", "decided_h", "policy", "trigger", "watch", "stock_t", "cover_d", "position_t",
    "lead_time_h", "laycan_h", "cargo_t", "load_port", "discharge_port", "rerouted_from", "rerouted_to",
    "switch_delay_h", "switch_cost_usd",
)


_LOOP_DAYS = 24  # add_flow: up to this many whole days in a loop, more in one numpy slice (measured)


@dataclass
class Records:
    """Everything one replication recorded."""

    horizon_h: float
    flow_names: list[tuple[str, str]]
    tank_names: list[str]
    flow_t: np.ndarray = field(init=False)   # [flow, day] tonnes moved during the day
    stock_t: np.ndarray = field(init=False)  # [tank, day boundary] level at hour 24 d
    voyages: list[tuple] = field(default_factory=list)      # VOYAGE_FIELDS
    waits: list[tuple] = field(default_factory=list)        # WAIT_FIELDS
    passages: list[tuple] = field(default_factory=list)     # PASSAGE_FIELDS
    disruptions: list[tuple] = field(default_factory=list)  # DISRUPTION_FIELDS
    rail_trips: list[tuple] = field(default_factory=list)   # RAIL_TRIP_FIELDS (rail services only)

    nominations: list[tuple] = field(default_factory=list)  # NOMINATION_FIELDS
    # tonnes delivered to each refinery by (refinery, origin, route)
    delivered_by_origin: dict[tuple[str, str, str], float] = field(default_factory=dict)
    # throughput windows: (disruption, facility, start_h, end_h), by default every activation
    # of every disruption at each of its targets; window_t[j] = tonnes through the facility
    # in window j (throughput as defined in sim.model.build), filled by the model
    windows: list[tuple[str, str, float, float]] = field(default_factory=list)
    window_t: np.ndarray = field(init=False)
    # mass balance at the end: injected, delivered, in_pipelines, in_tanks, aboard, removed
    balance: dict[str, float] = field(default_factory=dict)
    events: int = 0  # SimPy events processed
    cargo_intake: list[tuple] = field(default_factory=list)  # CARGO_INTAKE_FIELDS
    # tonnes each voyage loaded (voyage -> t), once its loading ends
    cargo_loaded_t: dict[int, float] = field(default_factory=dict)

    decisions: list[tuple] = field(default_factory=list)  # DECISION_FIELDS

    def __post_init__(self) -> None:
        n_days = max(1, math.ceil(self.horizon_h / 24.0))
        self.flow_t = np.zeros((len(self.flow_names), n_days))
        self.stock_t = np.zeros((len(self.tank_names), n_days + 1))
        self.window_t = np.zeros(len(self.windows))
        self._flow_index = {name: i for i, name in enumerate(self.flow_names)}
        self._rows: list[memoryview[float]] | None = None  # see _flow_rows
        self._rows_of: np.ndarray | None = None

    # A memoryview per row of flow_t, made at the first add_flow (and again if flow_t is
    # replaced): what it buys is that a bin is read and written as a Python float instead of
    # through a numpy scalar: a two-day segment costs 1.9 instead of 2.7 us, a 200 h one 2.2
    # instead of 4.6 us (CPU, a loaded 2-core machine); add_flow runs at every rate change
    # of every flow, 4 times a cycle in the shuttle benchmark.  The sums are the same IEEE
    # double additions in the same order, so the bins are bit for bit those of numpy.
    # Memoryviews do not pickle: __getstate__ leaves them out and they are made again.
    def _flow_rows(self) -> list[memoryview[float]]:
        flow = self.flow_t
        rows = self._rows = [cast("memoryview[float]", memoryview(row)) for row in flow]  # format "d"
        self._rows_of = flow
        return rows

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_rows"] = state["_rows_of"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_rows", None)
        self.__dict__.setdefault("_rows_of", None)

    @property
    def n_days(self) -> int:
        return self.flow_t.shape[1]

    def flow_index(self, facility: str, kind: str) -> int:
        return self._flow_index[(facility, kind)]

    def add_flow(self, index: int, t0_h: float, t1_h: float, rate_t_per_h: float) -> None:
        """Add a constant rate over ``[t0_h, t1_h)`` to the daily bins it overlaps."""
        if rate_t_per_h == 0.0 or t1_h <= t0_h:
            return
        rows = self._rows
        if rows is None or self._rows_of is not self.flow_t:
            rows = self._flow_rows()
        row = rows[index]
        n_days = len(row)
        t1_h = min(t1_h, n_days * 24.0)
        d0 = int(t0_h // 24.0)
        d1 = int(t1_h // 24.0)
        if d0 == d1 or (d1 == d0 + 1 and t1_h == d1 * 24.0):
            row[d0] += rate_t_per_h * (t1_h - t0_h)
            return
        row[d0] += rate_t_per_h * ((d0 + 1) * 24.0 - t0_h)
        if d1 > d0 + 1:
            full_day_t = rate_t_per_h * 24.0
            if d1 - d0 <= _LOOP_DAYS:  # a few whole days: a loop costs less than a numpy slice
                for d in range(d0 + 1, d1):
                    row[d] += full_day_t
            else:
                self.flow_t[index, d0 + 1:d1] += full_day_t
        if d1 < n_days:
            row[d1] += rate_t_per_h * (t1_h - d1 * 24.0)

    def add_amount(self, index: int, t_h: float, tonnes: float) -> None:
        """Add a lump (a discrete transfer) to the day containing ``t_h``."""
        d = min(int(t_h // 24.0), self.n_days - 1)
        self.flow_t[index, d] += tonnes
