"""Row groups of the final tables (issue 19, memory): blocks are gathered into bounded row
groups instead of one row group per block, so an open writer's footer metadata (kept in
memory until it closes) does not grow with every block; and the benchmark figures that
judge it (the streaming slope, the interleaved ratios)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks.harness import interleaved_ratio
from benchmarks.memory_trace import streaming_slope
from sim.results import parts, store


def _table(start: int, rows: int) -> pa.Table:
    return pa.table({"replication": np.arange(start, start + rows, dtype="int64"),
                     "x": np.arange(start, start + rows, dtype="float64") / 4})


def test_row_groups_gather_tables_up_to_the_row_bound_and_keep_every_row_in_order(tmp_path):
    """Five tables of 10 rows with at most 25 rows a group: 10, then 20; the third would
    make 30 > 25, so 20 are written and it starts the next group (10, 20); the fifth does
    the same, and close writes the last 10: groups of 20, 20, 10 rows, 50 rows in order."""
    path = tmp_path / "t.parquet"
    w = parts.RowGroups(path, _table(0, 0).schema, max_rows=25)
    for i in range(5):
        w.write_table(_table(10 * i, 10))
    w.close()
    f = pq.ParquetFile(path)
    assert [f.metadata.row_group(i).num_rows for i in range(f.num_row_groups)] == [20, 20, 10]
    assert f.read().equals(pa.concat_tables([_table(10 * i, 10) for i in range(5)]))


def test_row_groups_hold_at_most_the_byte_bound_or_one_table(tmp_path):
    """A 100-row table of two 8-byte columns is 1,600 bytes of Arrow data.  With a bound of
    4,000 bytes two tables gather (3,200) and a third would pass it, so each group is 200
    rows and what is held in memory never passes 4,000 bytes; a single table larger than
    the bound is held alone and written at once (gathered nothing stays behind)."""
    one = _table(0, 100)
    assert one.nbytes == 1_600
    path = tmp_path / "t.parquet"
    w = parts.RowGroups(path, one.schema, max_bytes=4_000)
    held = []
    for i in range(7):
        w.write_table(_table(100 * i, 100))
        held.append(w.nbytes)
    assert max(held) <= 4_000
    w.write_table(_table(700, 300))  # 4,800 bytes: over the bound by itself
    assert w.nbytes == 0
    w.close()
    f = pq.ParquetFile(path)
    assert [f.metadata.row_group(i).num_rows for i in range(f.num_row_groups)] == [200, 200, 200, 100, 300]
    assert f.read().column("replication").to_pylist() == list(range(1_000))


def test_a_discarded_writer_does_not_write_what_it_gathered(tmp_path):
    path = tmp_path / "t.parquet"
    w = parts.RowGroups(path, _table(0, 0).schema)
    w.write_table(_table(0, 10))
    w.close(flush=False)
    assert pq.ParquetFile(path).metadata.num_rows == 0


def _kpi_block(start: int, stop: int) -> dict:
    reps = range(start, stop)
    return {"kpis": [pd.DataFrame({"replication": [i], "delivered_kt": [10.0 + i]}) for i in reps],
            "timeseries": [pd.DataFrame({"replication": [i] * 3, "day": [0, 1, 2], "stock_kt": [1.0, 2.0, i]})
                           for i in reps]}


@pytest.mark.parametrize("streamed", [True, False])
def test_many_blocks_make_one_row_group_per_table_not_one_per_block(tmp_path, streamed):
    """60 blocks of 2 replications: 120 kpi rows and 360 time-series rows, a few KB, far
    below the bounds, so each final table is a single row group (it was 60, one per block),
    whether written while streaming (Assembler) or at the end (assemble); rows as written."""
    for s in range(0, 120, 2):
        store.write_block(tmp_path, s, s + 2, _kpi_block(s, s + 2))
    if streamed:
        asm = store.Assembler(tmp_path)
        for b in store.finished_blocks(tmp_path):
            asm.add(b)
        written = asm.finish(120)
        assert {"kpis", "timeseries"} <= written
    else:
        written = set()
    store.assemble(tmp_path, 120, skip=written)
    kpis = pq.ParquetFile(tmp_path / "kpis.parquet")
    ts = pq.ParquetFile(tmp_path / "timeseries.parquet")
    assert (kpis.num_row_groups, ts.num_row_groups) == (1, 1)
    assert kpis.read().column("delivered_kt").to_pylist() == [10.0 + i for i in range(120)]
    assert ts.read().column("replication").to_pylist() == [i for i in range(120) for _ in range(3)]


def test_streaming_slope_fits_only_the_samples_while_blocks_stream():
    """10 replications: warm-up is done < 2 (20 %), finishing is done == 10.  The samples at
    done 2..9 have rss = 1,000 + 3 * done KB, so the slope is exactly 3 KB per replication;
    the warm-up sample (50,000 KB at done 0) and the closing one (90,000 KB at done 10) are
    left out, or they would dominate the fit."""
    samples = [(0.0, 50_000.0, 0)] + [(0.2 * d, 1_000.0 + 3 * d, d) for d in range(2, 10)] + [(3.0, 90_000.0, 10)]
    assert streaming_slope(samples, 10) == pytest.approx(3.0)
    assert streaming_slope(samples[:5], 10) is None  # 4 streaming samples: too few
    assert streaming_slope([(0.1 * i, 500.0 + i, 5) for i in range(9)], 10) is None  # no spread in done


def test_interleaved_ratio_alternates_the_first_side_and_takes_the_median():
    """Pairs (2/1, 4/2, 9/3) = (2, 2, 3): median 2.  The second pair takes the denominator
    first, so the calls go num, den, den, num, num, den."""
    calls: list[str] = []
    nums, dens = iter([2.0, 4.0, 9.0]), iter([1.0, 2.0, 3.0])

    def num() -> float:
        calls.append("num")
        return next(nums)

    def den() -> float:
        calls.append("den")
        return next(dens)

    median, samples = interleaved_ratio(num, den, 3)
    assert (median, samples) == (2.0, [2.0, 2.0, 3.0])
    assert calls == ["num", "den", "den", "num", "num", "den"]
    with pytest.raises(ValueError):
        interleaved_ratio(num, den, 0)


def test_row_groups_hold_at_most_the_table_bound_however_small_the_tables(tmp_path):
    """Ten one-row tables (16 bytes each, far below the byte bound) with at most 4 tables
    gathered: a group is written each time 4 are held, and close writes the last 2 -
    groups of 4, 4 and 2 rows, never more than 4 tables in memory, rows in order."""
    path = tmp_path / "t.parquet"
    w = parts.RowGroups(path, _table(0, 0).schema, max_tables=4)
    held = []
    for i in range(10):
        w.write_table(_table(i, 1))
        held.append(len(w.pending))
    assert max(held) <= 4
    w.close()
    f = pq.ParquetFile(path)
    assert [f.metadata.row_group(i).num_rows for i in range(f.num_row_groups)] == [4, 4, 2]
    assert f.read().column("replication").to_pylist() == list(range(10))
