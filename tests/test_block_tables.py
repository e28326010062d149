"""Block-level time series (issue 19, work after the model): a worker builds the time series
of its whole block at once, names dictionary-encoded, and the run folder's
``timeseries.parquet`` holds exactly the rows it held when each replication was built and
converted on its own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks import workloads
from sim import runner
from sim.model import simulate
from sim.results import parts
from sim.results.tables import timeseries_block, timeseries_columns
from sim.rng import replication_seed


def _per_replication(records, scenario, reps) -> pd.DataFrame:
    frames = [pd.DataFrame({"replication": np.full(len(c["day"]), i, dtype="int64"), **c})
              for r, i in zip(records, reps, strict=True) for c in [timeseries_columns(r, scenario)]]
    return pd.concat(frames, ignore_index=True)


def test_a_blocks_time_series_is_each_replications_rows_in_order_with_names_as_codes():
    """Two shuttle replications (replications 7 and 8) of 2 terminals: their time series has a
    row per day and flow series and n_days + 1 rows per tank (the stock at each 00:00 and at
    the end), replication 7's rows first.  Built at once, ``facility`` and ``kind`` are
    dictionary arrays over the few names; read as strings the rows equal those of each
    replication's own table, joined."""
    scenario = workloads.shuttle_scenario(3)
    reps = [7, 8]
    records = [simulate(scenario, replication_seed(scenario.seed, i)) for i in reps]
    block = timeseries_block(records, scenario, reps)
    r = records[0]
    per_rep = len(r.flow_names) * r.n_days + len(r.tank_names) * (r.n_days + 1)
    assert block.num_rows == 2 * per_rep
    assert block.column("replication").to_pylist() == [7] * per_rep + [8] * per_rep
    assert pa.types.is_dictionary(block.schema.field("facility").type)
    assert len(block.column("facility").chunk(0).dictionary) == len(set(r.tank_names) | {f for f, _ in r.flow_names})
    expected = _per_replication(records, scenario, reps)
    plain = pa.schema([pa.field(f.name, parts._unify([f.type])) for f in block.schema])
    assert plain.field("facility").type == pa.string()
    pd.testing.assert_frame_equal(block.cast(plain).to_pandas(), expected)


def test_the_final_time_series_holds_plain_strings_whatever_the_parts_hold(tmp_path):
    """The parts carry dictionary-encoded names; the final table unifies them to their value
    type (string), so a reader sees the same columns and dtypes as before, and the rows of
    every replication in order."""
    scenario = workloads.shuttle_scenario(3)
    result = runner.run(scenario, replications=3, seed=5, executor="serial", out=tmp_path / "run", progress=False)
    ts = result.timeseries
    schema = pq.read_schema(result.path / "timeseries.parquet")
    assert schema.field("facility").type == pa.string() and schema.field("kind").type == pa.string()
    records = [simulate(scenario, replication_seed(5, i)) for i in range(3)]
    expected = _per_replication(records, scenario, range(3))
    expected["date"] = expected["date"].astype("datetime64[ms]")  # Parquet has no second unit: read back in ms
    pd.testing.assert_frame_equal(ts.reset_index(drop=True), expected)
    assert parts._unify([pa.dictionary(pa.int32(), pa.string())]) == pa.string()
