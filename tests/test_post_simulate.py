"""The work after ``simulate()`` (issue 19): shortcuts on the runner's block path that must
give the numbers and tables the longer way gave, bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.results import parts
from sim.results.costs import _group_sums, sea_cost_per_t


def _pandas_group_sums(a, b, usd, t) -> dict:
    frame = pd.DataFrame({"a": a, "b": b, "usd": usd, "t": t})
    sums = frame.groupby(["a", "b"], sort=False)[["usd", "t"]].sum().reset_index()
    return {(x, y): [u, w] for x, y, u, w in zip(sums["a"], sums["b"], sums["usd"], sums["t"], strict=True)}


def test_sea_cost_per_t_is_each_pairs_dollars_over_its_completed_cargo():
    """Three completed voyages Supsa -> Odesa of 100 kt with freight + dues of 1.0, 1.2 and
    1.4 M$ and one Ceyhan -> Odesa of 80 kt with 2.0 M$; a fifth, not completed, is left out:
    Supsa -> Odesa is 3.6 M$ / 300 kt = 12 $/t, Ceyhan -> Odesa 2.0 M$ / 80 kt = 25 $/t, in
    order of first appearance."""
    voyages = {"completed": np.array([True, True, False, True, True]),
               "load_port": np.array(["Supsa", "Ceyhan", "Supsa", "Supsa", "Supsa"], dtype=object),
               "discharge_port": np.array(["Odesa"] * 5, dtype=object),
               "freight_usd": np.array([0.9e6, 1.9e6, 5e6, 1.1e6, 1.3e6]),
               "port_dues_usd": np.array([0.1e6, 0.1e6, 0.0, 0.1e6, 0.1e6]),
               "cargo_t": np.array([100e3, 80e3, 100e3, 100e3, 100e3])}
    got = sea_cost_per_t(voyages)
    assert list(got) == [("Supsa", "Odesa"), ("Ceyhan", "Odesa")]
    assert got[("Supsa", "Odesa")] == pytest.approx(12.0) and got[("Ceyhan", "Odesa")] == pytest.approx(25.0)


@pytest.mark.parametrize("seed", range(40))
def test_group_sums_are_pandas_groupby_sums_bit_for_bit(seed):
    """Random voyages (up to 60; 3 load ports and a missing one, 2 discharge ports; dollars
    spread over six orders of magnitude, so the order and compensation of the additions
    show in the last bits; some NaN and infinite dollars): the sums per pair, and the order
    of the pairs, are exactly those of pandas' ``groupby(sort=False).sum()`` (Kahan
    summation, NaN skipped, rows with a missing key dropped)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 60))
    a = np.array(rng.choice(np.array(["Supsa", "Ceyhan", "Novo", None], dtype=object), n), dtype=object)
    b = np.array(rng.choice(["Odesa", "Klaipeda"], n), dtype=object)
    usd = rng.lognormal(10, 3, n) * rng.choice([1.0, -1.0], n)
    t = rng.normal(1e5, 3e4, n)
    if n and seed % 3 == 0:
        usd[rng.integers(0, n)] = math.nan
    if n and seed % 5 == 0:
        usd[rng.integers(0, n)] = math.inf
    want = _pandas_group_sums(a, b, usd, t)
    got = _group_sums(a, b, usd, t)
    assert list(got) == list(want)
    for key, sums in want.items():
        np.testing.assert_array_equal(np.array(got[key]), np.array(sums))  # equal, NaN included


def test_a_block_with_no_rows_is_the_table_its_parts_joined_one_by_one_make():
    """Four replications without a rail trip: their (empty) rail-trip parts join into the
    table the part-by-part path makes, the same columns, each an empty float64 (an empty
    part's columns have no type; untyped columns unify to float64)."""
    empty = [{"replication": np.zeros(0, dtype="int64"), "train": np.zeros(0, dtype=object),
              "loaded_t": np.zeros(0)} for _ in range(4)]
    joined = parts.join_columns(empty)
    one_by_one = parts.block_table(empty)  # each part converted on its own, then unified and joined
    assert joined.equals(one_by_one)
    assert joined.schema == pa.schema([(k, pa.float64()) for k in ("replication", "train", "loaded_t")])


def test_a_parquet_tables_summary_read_a_column_at_a_time_is_summarise_of_the_whole_table(tmp_path):
    """A facility table of 3 replications x 3 facilities written to Parquet, with the kinds of
    columns a run has: floats with NaN (a KPI undefined in a replication), integers, an
    integer column with a missing value (read as float), a boolean and a string (not
    summarised).  Read one column at a time it summarises to exactly the frame of
    ``summarise`` on the whole table: groups sorted (Naftan, Odesa, Supsa), each with its
    rows in file order; Naftan's ``run_t`` (100, NaN, 130 kt) has n 2, mean 115 kt, std
    sqrt(450) = 21.21 kt."""
    from sim.results.metrics import summarise
    from sim.results.summary import summary_records

    table = pa.table({
        "replication": pa.array([0, 0, 0, 1, 1, 1, 2, 2, 2], pa.int64()),
        "facility": ["Supsa", "Naftan", "Odesa"] * 3,
        "kind": ["terminal", "refinery", "terminal"] * 3,
        "run_t": [math.nan, 100e3, math.nan, math.nan, math.nan, math.nan, math.nan, 130e3, math.nan],
        "waits": pa.array([3, 0, 5, 2, 0, 7, 4, 1, 6], pa.int64()),
        "passages": pa.array([1, None, 2, 1, None, 3, 2, None, 2], pa.int64()),
        "closed": [False, True, False] * 3,
        "wait_h_total": [12.5, 0.0, 30.25, 7.0, 0.0, 41.0, 15.5, 2.0, 33.0],
    })
    path = tmp_path / "facility_kpis.parquet"
    pq.write_table(table, path)
    got = pd.DataFrame(summary_records(path, by="facility", drop=["kind"]))
    want = summarise(pd.read_parquet(path).drop(columns=["kind"]), by="facility")
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert list(got["facility"].unique()) == ["Naftan", "Odesa", "Supsa"]
    assert list(got["kpi"].unique()) == ["run_t", "waits", "passages", "wait_h_total"]
    naftan = got[(got["facility"] == "Naftan") & (got["kpi"] == "run_t")].iloc[0]
    assert naftan["n"] == 2 and naftan["mean"] == 115e3 and naftan["std"] == pytest.approx(math.sqrt(450e6))
    pd.testing.assert_frame_equal(pd.DataFrame(summary_records(path, drop=["facility", "kind"])),
                                  summarise(pd.read_parquet(path).drop(columns=["facility", "kind"])), check_exact=True)


def test_a_runs_summary_from_its_tables_is_the_summary_of_the_tables_read_whole(tmp_path):
    """A run of the baseline (costs, disruptions, refineries): ``summary.json`` written when it
    closed (its tables summarised a column at a time) is, byte for byte, what
    ``write_summary`` makes of the three KPI tables read whole."""
    import json

    from benchmarks import workloads
    from sim import runner
    from sim.results import store

    run = runner.run(workloads.baseline(), replications=4, executor="serial", out=tmp_path / "run", progress=False)
    written = (run.path / "summary.json").read_bytes()
    again = store.write_summary(run.path, *(pd.read_parquet(run.path / f"{t}.parquet")
                                            for t in ("kpis", "facility_kpis", "disruption_kpis")))
    assert (run.path / "summary.json").read_bytes() == written
    summary = json.loads(written)
    assert again["replications"] == summary["replications"] == 4
    assert summary["facility_kpis"] and summary["risk"]["refineries"] and "costs" in summary


def test_the_streamed_time_series_with_dictionary_names_reads_as_the_one_assembled_from_strings(tmp_path):
    """Three blocks of 2 shuttle replications: the Assembler writes the time series' names as
    Parquet dictionaries (no Arrow schema stored), ``assemble`` joins the same parts cast to
    strings (schema stored).  Read back, the two files are the same table, ``facility`` and
    ``kind`` plain strings in both, and pandas gives the same frame and dtypes."""
    from benchmarks import workloads
    from sim.runner.executors import replicate_block

    scenario = workloads.shuttle_scenario(3)
    streamed, assembled = tmp_path / "streamed", tmp_path / "assembled"
    for folder in (streamed, assembled):
        folder.mkdir()
    assembler = parts.Assembler(streamed)
    for start in (0, 2, 4):
        res = replicate_block(scenario, 5, range(start, start + 2))
        for folder in (streamed, assembled):
            block = parts.write_block(folder, start, start + 2, res.tables)
            if folder == streamed:
                assembler.add(block)
    assert "timeseries" in assembler.finish(6)
    parts.assemble(assembled, 6)
    a, b = pq.read_table(streamed / "timeseries.parquet"), pq.read_table(assembled / "timeseries.parquet")
    assert a.equals(b) and a.num_rows > 0
    assert a.schema.field("facility").type == pa.string() == b.schema.field("kind").type
    pd.testing.assert_frame_equal(pd.read_parquet(streamed / "timeseries.parquet"),
                                  pd.read_parquet(assembled / "timeseries.parquet"))


def test_the_streamed_time_series_keeps_statistics_only_where_a_reader_can_prune_on_them(tmp_path):
    """Two blocks of 2 shuttle replications streamed (small: gathered into one row group):
    the row group has min/max for ``replication``, ``day``, ``date`` and ``value_t``
    (replications 0 to 3, from day 0), none for the dictionary names ``facility`` and ``kind``
    (every row group holds every name, so they could never prune one); a filter on ``kind``
    as criticality reads it gives the rows of the same filter in pandas."""
    from benchmarks import workloads
    from sim.runner.executors import replicate_block

    scenario = workloads.shuttle_scenario(3)
    assembler = parts.Assembler(tmp_path)
    for start in (0, 2):
        res = replicate_block(scenario, 5, range(start, start + 2))
        assembler.add(parts.write_block(tmp_path, start, start + 2, res.tables), res.tables)
    assert "timeseries" in assembler.finish(4)
    path = tmp_path / "timeseries.parquet"
    meta = pq.ParquetFile(path).metadata
    names = pq.ParquetFile(path).schema_arrow.names
    first = meta.row_group(0)
    stats = {names[i]: first.column(i).statistics for i in range(first.num_columns)}
    assert meta.num_row_groups == 1
    assert (stats["replication"].min, stats["replication"].max) == (0, 3)
    assert stats["day"].min == 0 and stats["value_t"].has_min_max
    assert stats["facility"] is None and stats["kind"] is None
    filtered = pd.read_parquet(path, filters=[("kind", "==", "stock")])
    whole = pd.read_parquet(path)
    expected = whole[whole["kind"] == "stock"].reset_index(drop=True)
    assert len(expected) > 0
    pd.testing.assert_frame_equal(filtered.reset_index(drop=True), expected)


_FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_FLOATS, st.sampled_from([0.0, -0.0, 1.5, 2.0])), max_size=60))
def test_p95_and_mean_are_numpys_bit_for_bit(values):
    """``_p95`` is ``np.quantile(values, 0.95)`` and ``_mean`` is ``values.mean()``, bit for
    bit (NaN payloads and signed zeros included), on any float64 values: ties, zeros of
    both signs, infinities and NaN; no values gives NaN.  E.g. [1, 2, 3, 4, 5]: the
    virtual index is 4 x 0.95 = 3.8, between the 4th and 5th values, t = 0.8 (>= 0.5), so
    5 - (5 - 4) x 0.2 = 4.8; the mean is 15 / 5 = 3."""
    from sim.results.metrics import _mean, _p95

    a = np.array(values, dtype="float64")
    if not a.size:
        assert math.isnan(_p95(a)) and math.isnan(_mean(a))
        return
    with np.errstate(all="ignore"):
        expected = np.float64(np.quantile(a, 0.95)), np.float64(a.mean())
        got = np.float64(_p95(a)), np.float64(_mean(a))
    assert [x.tobytes() for x in got] == [x.tobytes() for x in expected]


def test_p95_of_a_worked_case():
    """[1, 2, 3, 4, 5]: index 4 x 0.95 = 3.8, so 4 + (5 - 4) x 0.8 = 4.8 (numpy's form from
    t = 0.5 up: 5 - 1 x 0.2, the same double); one value is that value."""
    from sim.results.metrics import _p95

    assert _p95(np.array([5.0, 1.0, 4.0, 2.0, 3.0])) == 4.8
    assert _p95(np.array([7.25])) == 7.25
