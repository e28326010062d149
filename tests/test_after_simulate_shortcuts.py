"""The fourth pass on the work after simulate() (issue 19): each shortcut gives what the
path it replaced gave, bit for bit (floats compared as their bytes: -0.0 is not 0.0, and
NaN is NaN), and stays right when what it keeps changes."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import workloads
from sim.results import costs, dependency, metrics, parts
from sim.results.tables import WAIT_CAUSES
from sim.rng import replication_seed
from sim.runner.executors import _unmetered
from sim.scenario.language import Scenario
from tests.test_metrics import SCENARIO, toy_records

_FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                    st.sampled_from([0.0, -0.0, 1.5, 1e16, -1e16, 0.1]))
_FACILITIES = ("supsa", "pivdennyi", "bosphorus")


def _bits(x: float) -> bytes:
    return np.float64(x).tobytes()


@pytest.fixture(scope="module")
def toy() -> Scenario:
    return Scenario.model_validate(SCENARIO)


def test_per_cause_wait_totals_of_a_worked_facility(toy):
    """supsa waited 2.5 h and 4.0 h for a berth and 1.25 h for cargo: berth 6.5 h, cargo
    1.25 h, and every other cause 0.0 (positive zero: the sum of no rows); a cause that is
    not one of WAIT_CAUSES counts for none of them."""
    waits = {"facility": np.array(["supsa", "supsa", "pivdennyi", "supsa", "supsa"], dtype=object),
             "cause": np.array(["berth", "cargo", "berth", "berth", "not-a-cause"], dtype=object),
             "wait_h": np.array([2.5, 1.25, 9.0, 4.0, 100.0])}
    rows = {r["facility"]: r for r in metrics.facility_kpis(toy_records(), toy, waits_df=waits)}
    supsa = rows["supsa"]
    assert supsa["wait_berth_h_total"] == 6.5 and supsa["wait_cargo_h_total"] == 1.25
    assert supsa["waits"] == 4 and supsa["wait_h_total"] == 107.75
    for cause in set(WAIT_CAUSES) - {"berth", "cargo"}:
        assert _bits(supsa[f"wait_{cause}_h_total"]) == _bits(0.0)
    assert rows["pivdennyi"]["wait_berth_h_total"] == 9.0
    # in record order: (1e16 - 1e16) + 1 = 1; the other way round 1 is lost against 1e16
    waits = {"facility": np.array(["supsa"] * 3, dtype=object), "cause": np.array(["lane"] * 3, dtype=object),
             "wait_h": np.array([1e16, -1e16, 1.0])}
    (supsa,) = [r for r in metrics.facility_kpis(toy_records(), toy, waits_df=waits) if r["facility"] == "supsa"]
    assert supsa["wait_lane_h_total"] == 1.0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_FACILITIES), st.sampled_from([*WAIT_CAUSES, "elsewhere"]), _FLOATS),
                max_size=40))
def test_per_cause_wait_totals_are_the_masked_sums_bit_for_bit(toy, waits):
    """Each facility's ``wait_<cause>_h_total`` is what the mask made of it before: the sum
    numpy makes of that facility's rows of that cause, in their order (NaN, infinities and
    signed zeros included), 0.0 for none."""
    fac = np.array([f for f, _c, _h in waits], dtype=object)
    cause = np.array([c for _f, c, _h in waits], dtype=object)
    hours = np.array([h for _f, _c, h in waits], dtype="float64")
    with np.errstate(all="ignore"):  # infinities of both signs make NaN and overflow, as they may
        rows = {r["facility"]: r for r in metrics.facility_kpis(
            toy_records(), toy, waits_df={"facility": fac, "cause": cause, "wait_h": hours})}
    for name in _FACILITIES:
        mine = fac == name
        h, c = hours[mine], cause[mine]
        for w in WAIT_CAUSES:
            with np.errstate(all="ignore"):
                want = float(h[c == w].sum()) if mine.any() else 0.0
            assert _bits(rows[name][f"wait_{w}_h_total"]) == _bits(want), (name, w)


def test_route_paths_are_kept_per_network_and_shipping_and_a_caller_has_its_own_list():
    """The kept path is the one the search finds; editing the list handed back changes
    nothing kept; a copy with another network or shipping finds its own paths; the scenario
    still equals, dumps and pickles as before."""
    base, fresh = workloads.baseline(), workloads.baseline()
    dumped = base.model_dump_json()
    rec = _unmetered(base, replication_seed(base.seed, 0))
    keys = list(rec.delivered_by_origin)
    assert keys
    for key in keys:
        assert costs.route_path(base, *key) == costs._route_path(base, *key)
    mine = costs.route_path(base, *keys[0])
    mine.append("not a line")
    assert costs.route_path(base, *keys[0]) == costs._route_path(base, *keys[0])
    # the route A tonnes take to R over a pipeline network that is not the baseline's
    other = workloads.copied(base, 2)
    moved = base.model_copy(update={"network": other.network})
    probe = next(k for k in keys if k[2] != k[0])
    assert costs.route_path(moved, *probe) == costs._route_path(other, *probe)
    no_ships = base.model_copy(update={"shipping": base.shipping.model_copy(update={"programmes": (), "fleets": ()})})
    for key in keys:
        assert costs.route_path(no_ships, *key) == costs._route_path(no_ships, *key)
    assert base == fresh and base.model_dump_json() == dumped
    assert pickle.loads(pickle.dumps(base)) == fresh


def test_dependency_columns_from_given_splits_are_those_made_afresh(toy):
    """Facility and run rows take their shares from one ``replication_splits``: the same
    columns and numbers as each making its own."""
    rec = toy_records()
    given = dependency.replication_splits(rec, toy)
    assert dependency.dependency_kpis(rec, toy, given=given) == dependency.dependency_kpis(rec, toy)
    assert dependency.dependency_facility_kpis(rec, toy, given=given) == dependency.dependency_facility_kpis(rec, toy)
    fac = metrics.facility_kpis(rec, toy)
    with_given = metrics.replication_kpis(rec, toy, fac, splits=given)
    alone = metrics.replication_kpis(rec, toy, fac)
    assert list(with_given) == list(alone)
    assert all(_bits(a) == _bits(b) if isinstance(a, float) else a == b
               for a, b in zip(with_given.values(), alone.values(), strict=True))


def test_a_part_written_on_one_thread_is_the_part_arrows_pool_writes():
    """A compressed part (a time series larger than COMPRESS_ABOVE_BYTES) and a raw one have
    the bytes Arrow's own thread pool gives them, and read back as the table written."""
    n = 40_000
    ts = pa.table({"replication": np.repeat(np.arange(4, dtype="int64"), n // 4),
                   "day": np.tile(np.arange(n // 4, dtype="int64"), 4),
                   "value_t": np.sin(np.arange(n, dtype="float64"))})
    small = pa.table({"x": np.array([1.0, -0.0, math.nan])})
    assert ts.get_total_buffer_size() > parts.COMPRESS_ABOVE_BYTES > small.get_total_buffer_size()
    for table, compression in ((ts, "lz4"), (small, None)):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression=compression)) as w:
            w.write_table(table)
        ours = parts.encode_part(table)
        assert ours.to_pybytes() == sink.getvalue().to_pybytes()
        back = parts.decode_part(ours)
        assert back.schema.equals(table.schema)
        for name in table.column_names:  # floats as bits: NaN is NaN, -0.0 is -0.0
            got, want = (t.column(name).to_numpy() for t in (back, table))
            assert got.tobytes() == want.tobytes()


def test_no_rail_trips_are_empty_columns_of_a_replication_with_trips():
    """A replication without rail trips has the columns, in order, and the dtypes of one
    with a trip (text leg and train, float hours and waits, bool completed), so the two
    join into one table as before."""
    from sim.recorder import RAIL_TRIP_FIELDS, Records
    from sim.results import tables

    none = tables.rail_trip_columns(Records(horizon_h=48.0, flow_names=[], tank_names=[]))
    rec = Records(horizon_h=48.0, flow_names=[], tank_names=[])
    rec.rail_trips = [tuple("leg" if f == "leg" else "leg#train1" if f == "train" else 1.0 for f in RAIL_TRIP_FIELDS)]
    one = tables.rail_trip_columns(rec)
    assert list(none) == list(one) == [*RAIL_TRIP_FIELDS, *tables.RAIL_WAITS, "completed"]
    assert [a.dtype for a in none.values()] == [a.dtype for a in one.values()]
    assert all(a.shape == (0,) for a in none.values())
    assert none["leg"].dtype == object and none["completed"].dtype == bool and none["cargo_t"].dtype == np.float64
