"""A block's KPI tables built a column at a time from the replications' rows (issue 19):
``join_rows`` must make the table the per-replication columns joined make, bit for bit,
whatever the rows hold; when it cannot be sure, it goes the per-replication way."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import workloads
from sim.results import metrics, parts
from sim.results.metrics import ROW_TABLES, replication_columns, replication_parts
from sim.rng import replication_seed
from sim.runner.executors import _unmetered


def _per_replication(replications: list[tuple[int, list[dict]]]) -> pa.Table:
    """What the worker did before: each replication's rows as numpy columns, joined."""
    joined = []
    for r, rows in replications:
        cols = parts.rows_to_columns(rows)
        n = len(next(iter(cols.values()))) if cols else 0
        joined.append({"replication": np.full(n, r, dtype="int64"), **cols})
    return parts.join_columns(joined)


def _same(a: pa.Table, b: pa.Table) -> bool:
    """Same schema, same nulls, same values; floats compared as bits (-0.0 is not 0.0)."""
    if not a.schema.equals(b.schema, check_metadata=True) or a.num_rows != b.num_rows:
        return False
    for name in a.column_names:
        ca, cb = a.column(name).combine_chunks(), b.column(name).combine_chunks()
        if pa.types.is_floating(ca.type):
            bits_a = ca.fill_null(0.0).to_numpy(zero_copy_only=False).view("u8")
            bits_b = cb.fill_null(0.0).to_numpy(zero_copy_only=False).view("u8")
            if not (ca.is_null().equals(cb.is_null()) and np.array_equal(bits_a, bits_b)):
                return False
        elif not ca.equals(cb):
            return False
    return True


def test_a_worked_block_of_two_replications():
    """Replication 3 has two facility rows, replication 4 one.  ``passages`` is an int on the
    chokepoint's row and NaN elsewhere, so each replication's column is float64 (NaN is null
    in Arrow); ``waits`` is an int everywhere (int64); ``facility`` is text.  The table:
    replication [3, 3, 4], facility [bosphorus, odesa, bosphorus], passages [12.0, null,
    7.0], waits [2, 0, 1]."""
    block = [(3, [{"facility": "bosphorus", "passages": 12, "waits": 2},
                  {"facility": "odesa", "passages": math.nan, "waits": 0}]),
             (4, [{"facility": "bosphorus", "passages": 7.0, "waits": 1}])]
    # replication 4's only passages value is a float, replication 3 mixes an int and a NaN
    table = parts.join_rows(block)
    assert table.to_pydict() == {"replication": [3, 3, 4], "facility": ["bosphorus", "odesa", "bosphorus"],
                                 "passages": [12.0, None, 7.0], "waits": [2, 0, 1]}
    assert table.schema.types == [pa.int64(), pa.string(), pa.float64(), pa.int64()]
    assert _same(table, _per_replication(block))


def test_a_replication_whose_column_is_int_beside_one_whose_column_is_float_goes_the_long_way(monkeypatch):
    """``passages`` is [12] (int64) in replication 0 and [NaN] (float64) in replication 1:
    the per-replication way unifies the two as float64 through Arrow; ``join_rows`` does not
    guess, it takes that way (and makes its table)."""
    taken = []
    monkeypatch.setattr(parts, "_join_rows_one_by_one",
                        lambda reps: taken.append(reps) or _per_replication(reps))
    block = [(0, [{"passages": 12}]), (1, [{"passages": math.nan}])]
    table = parts.join_rows(block)
    assert taken == [block]
    assert table.column("passages").to_pylist() == [12.0, None]


_SCALARS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, math.nan, 1.0]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-3, max_value=3),
    st.booleans(),
    st.sampled_from(["", "bosphorus", "odesa"]),
    st.none(),
    st.floats(width=64, allow_nan=True).map(np.float64),
    st.integers(min_value=-5, max_value=5).map(np.int64),
)


@st.composite
def _blocks(draw) -> list[tuple[int, list[dict]]]:
    keys = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4, unique=True))
    # a column's values drawn from one or two kinds, so columns of one dtype are common
    kinds = {k: draw(st.lists(_SCALARS, min_size=1, max_size=2)) for k in keys}
    block = []
    for r in range(draw(st.integers(min_value=1, max_value=4))):
        n = draw(st.integers(min_value=0 if draw(st.booleans()) else 1, max_value=4))
        order = draw(st.permutations(keys)) if draw(st.integers(0, 9)) == 0 else keys
        rows = []
        for _ in range(n):
            row = {k: draw(st.one_of(st.sampled_from(kinds[k]), _SCALARS) if draw(st.integers(0, 5)) == 0
                           else st.sampled_from(kinds[k])) for k in order}
            rows.append(row)
        block.append((10 + r, rows))
    return block


@settings(max_examples=500, deadline=None)
@given(_blocks())
def test_join_rows_is_the_per_replication_table_bit_for_bit(block):
    """Random rows (floats with NaN, infinities and -0.0, ints up to 2**70, booleans, text,
    None, numpy scalars; some replications with no rows or their keys in another order):
    ``join_rows`` makes the per-replication table, or raises what that way raises."""
    try:
        expected = _per_replication(block)
    except Exception as e:  # the same failure is the expected behaviour
        with pytest.raises(type(e)):
            parts.join_rows(block)
        return
    assert _same(parts.join_rows(block), expected)


@pytest.mark.parametrize("name", ["baseline", "black_sea_storms"])
def test_real_blocks_kpi_tables_are_the_per_replication_tables(name):
    """Four replications of a shipped scenario: each KPI table from ``join_rows`` is the
    table of the replications' ``replication_columns`` joined."""
    from sim.scenario.loader import load_scenario

    scenario = workloads.baseline() if name == "baseline" else load_scenario(workloads.ROOT / f"scenarios/{name}.yaml")
    records = [(i, _unmetered(scenario, replication_seed(scenario.seed, i))) for i in range(4)]
    for table in ROW_TABLES:
        fast = parts.join_rows([(i, replication_parts(rec, scenario, i, timeseries=False)[table])
                                for i, rec in records])
        slow = parts.join_columns([replication_columns(rec, scenario, i, timeseries=False)[table]
                                   for i, rec in records])
        assert fast.num_rows > 0 and _same(fast, slow), table


# --------------------------------------------------------------------------- time to recover

_FLOW = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, width=64)


@st.composite
def _recoveries(draw) -> tuple[np.ndarray, int, float]:
    values = draw(st.lists(st.one_of(_FLOW, st.sampled_from([0.0, 100.0, 50_000.0]),
                                     st.floats(width=64) if draw(st.integers(0, 9)) == 0 else _FLOW),
                           min_size=1, max_size=60))
    delivered = np.array(values, dtype="float64")
    d_end = draw(st.integers(min_value=0, max_value=len(values) + 1))
    # the target is often exactly a window's own mean (the boundary), else any level
    d = draw(st.integers(min_value=0, max_value=len(values) - 1))
    exact = float(delivered[d:d + metrics.RECOVERY_WINDOW_D].mean())
    target = draw(st.one_of(st.just(exact), st.just(np.nextafter(exact, np.inf)), st.floats(width=64)))
    return delivered, d_end, float(target)


@settings(max_examples=600, deadline=None)
@given(_recoveries())
def test_first_recovery_is_the_day_by_day_loop_bit_for_bit(case):
    """The cumulative-sum screen finds the day the loop of window means finds (NaN when
    none), with targets equal to a window's own mean or just above it, and flows with NaN or
    infinities (which go to the loop)."""
    delivered, d_end, target = case
    got = metrics._RecoveryScreen(delivered).first(d_end, target)
    want = metrics._first_recovery_by_loop(delivered, d_end, target)
    assert (math.isnan(got) and math.isnan(want)) or got == want


def test_time_to_recover_worked_case():
    """Delivered 100 t/day for 10 days, 0 for days 10-14, then 100 again; the disruption
    runs from hour 240 (day 10) to hour 360 (day 15).  The level before it is 100 t/day, so
    recovery needs a 7-day forward mean of at least 95: from day 15 on every window is
    all 100s, so the flow has recovered on its end day (0 days); a flow that stays at 0
    until the horizon never recovers (NaN)."""
    delivered = np.array([100.0] * 10 + [0.0] * 5 + [100.0] * 15)
    demand = np.full(30, 100.0)
    assert metrics.time_to_recover_d(delivered, demand, 240.0, 360.0) == 0.0
    # ending a day earlier (day 14): days 14's window holds one 0 of 7, mean 85.7 < 95, then day 15
    assert metrics.time_to_recover_d(delivered, demand, 240.0, 336.0) == 1.0
    never = np.array([100.0] * 10 + [0.0] * 20)
    assert math.isnan(metrics.time_to_recover_d(never, demand, 240.0, 360.0))
