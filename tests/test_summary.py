"""summary.json's distributions (sim.results.summary): the numbers of the column-by-column
summary, to the last bit, for a fraction of its fixed cost per run."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sim.results import summary
from sim.results.metrics import summarise


def _bits(records):
    """Records with every float as its hex (so NaN == NaN and -0.0 != 0.0)."""
    return [{k: (v.hex() if isinstance(v, float) else v) for k, v in r.items()} for r in records]


def test_a_kpi_column_worked_by_hand(tmp_path):
    """Five replications of a KPI, 1, 2, 3, 4, 10 (and a NaN in a sixth: undefined there):
    n 5, mean 20 / 5 = 4, std sqrt((9 + 4 + 1 + 0 + 36) / 4) = sqrt(12.5) = 3.5355...; the
    quantiles interpolate between order statistics at (n - 1) q: p5 at 0.2, 1 + 0.2 (2 - 1) =
    1.2; p50 at 2, the value 3; p95 at 3.8, 4 + 0.8 (10 - 4) = 8.8.  A column of one value
    has no std (NaN); a column of only NaN has n 0 and NaN everywhere."""
    path = tmp_path / "kpis.parquet"
    pq.write_table(pa.table({"replication": list(range(6)),
                             "delivered_kt": [1.0, 2.0, 3.0, math.nan, 4.0, 10.0],
                             "one": [math.nan] * 5 + [7.0],
                             "none": [math.nan] * 6}), path)
    got = {r["kpi"]: r for r in summary.summary_records(path)}
    assert list(got) == ["delivered_kt", "one", "none"]
    d = got["delivered_kt"]
    assert (d["n"], d["mean"], d["p50"]) == (5, 4.0, 3.0)
    assert d["std"] == pytest.approx(math.sqrt(12.5), rel=1e-15)
    assert d["p5"] == pytest.approx(1.2, rel=1e-15) and d["p95"] == pytest.approx(8.8, rel=1e-15)
    assert got["one"]["n"] == 1 and got["one"]["mean"] == 7.0 and math.isnan(got["one"]["std"])
    assert got["none"]["n"] == 0 and all(math.isnan(got["none"][k]) for k in ("mean", "std", "p5", "p50", "p95"))


@pytest.mark.parametrize("batch_bytes", [summary.BATCH_BYTES, 1])  # all columns at once; one column a batch
def test_the_records_are_the_column_by_column_summary_to_the_last_bit(tmp_path, monkeypatch, batch_bytes):
    """A facility table as a run writes it, 300 replications of 4 facilities: floats over a
    wide range, integers, signed zeros, a column NaN in some rows (a count of its own per
    facility), one NaN for a whole facility, a boolean and a string (not summarised).
    Grouped by facility, every record (key, n, mean, std, p5, p50, p95) is bit for bit what
    ``summarise`` of the table read whole gives (``to_dict(orient="records")``), read in one batch or a
    column at a time."""
    monkeypatch.setattr(summary, "BATCH_BYTES", batch_bytes)
    rng = np.random.default_rng(19)
    n = 1200
    facility = np.array(["Supsa", "Odesa", "Naftan", "Brody"])[np.arange(n) % 4]
    partly = rng.lognormal(size=n) * 1e6
    partly[rng.random(n) < 0.3] = math.nan
    only_naftan = np.where(facility == "Naftan", rng.normal(size=n), math.nan)
    zeros = rng.choice([-0.0, 0.0, 1.5], size=n)
    table = pa.table({
        "replication": np.arange(n) // 4, "facility": facility, "kind": ["terminal"] * n,
        "wide": rng.normal(size=n) * 10.0 ** rng.integers(-6, 12, size=n),
        "waits": pa.array(rng.integers(0, 9, size=n), pa.int64()),
        "partly": partly, "only_naftan": only_naftan, "zeros": zeros,
        "closed": rng.random(n) < 0.5, "note": ["x"] * n,
    })
    path = tmp_path / "facility_kpis.parquet"
    pq.write_table(table, path, row_group_size=256)
    want = summarise(pd.read_parquet(path).drop(columns=["kind"]), by="facility").to_dict(orient="records")
    got = summary.summary_records(path, by="facility", drop=["kind"])
    assert _bits(got) == _bits(want)
    assert [type(v) for v in got[0].values()] == [type(v) for v in want[0].values()]
    assert _bits(summary.summary_records(path, drop=["facility", "kind"])) == _bits(
        summarise(pd.read_parquet(path).drop(columns=["facility", "kind"])).to_dict(orient="records"))
