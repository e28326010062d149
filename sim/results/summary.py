"""The distributions of ``summary.json``: a row per KPI (and per facility or disruption) with
``n``, ``mean``, ``std``, ``p5``, ``p50``, ``p95``, from a final Parquet table.

The same records, to the last bit, as ``summarise(pd.read_parquet(path).drop(columns=drop),
by).to_dict(orient="records")`` (:func:`sim.results.metrics.summarise`, one numpy call per
statistic per KPI and group, of the table read whole), at a fraction of the cost: a run's close used to spend about 100 ms of the
parent's CPU here whatever its size (about 1,150 rows for the baseline: 2,300 ``np.quantile``
and ``std`` calls of ~40 us each, then a DataFrame and its ``to_dict``), a fixed cost that every
sub-run of an analysis pays.  What it does instead:

- the columns are read a batch at a time (as many as fit in :data:`BATCH_BYTES` of float64),
  so memory stays bounded at any number of replications, as with one column at a time;
- within a group, the columns whose values (NaN left out) have the same count are stacked as
  the columns of one Fortran-ordered matrix and each statistic is one numpy call over
  ``axis=0``.  That is numpy's own computation column by column: ``np.quantile(..., axis=0)``
  partitions each column at the same positions and interpolates element-wise with the same
  ``_lerp``; a sum over ``axis=0`` of contiguous columns is the same pairwise summation as
  the sum of each column alone, so ``mean`` (sum / n) and ``std`` (numpy's ``_var`` steps:
  the mean, the squared deviations, their sum over n - 1, the square root) are too
  (``tests/test_summary.py`` checks this against the column-by-column figures, bit for bit);
- the records are made as dicts of Python numbers, without a DataFrame in between.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sim.results.metrics import QUANTILES

BATCH_BYTES = 16 << 20  # float64 values read and stacked at a time (bounds the close's memory)


def _numeric(pf: pq.ParquetFile, skip: Collection[str]) -> list[str]:
    """The columns pandas reads as numbers (integers and floats; not booleans, strings,
    times or untyped nulls), as :func:`sim.results.metrics.summarise` takes them."""
    return [f.name for f in pf.schema_arrow if f.name not in skip
            and (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))]


def _groups(pf: pq.ParquetFile, by: str | None) -> list[tuple[Any, np.ndarray | None]]:
    """(key, row positions) per distinct value of ``by``, sorted, rows in file order (pandas'
    ``groupby(by, sort=True)``); one group of all rows (positions None) without ``by``."""
    if by is None:
        return [(None, None)]
    codes = pc.dictionary_encode(pf.read(columns=[by]).column(0)).combine_chunks()
    index = codes.indices.fill_null(-1).to_numpy()
    names = codes.dictionary.to_pylist()
    return [(names[k], np.flatnonzero(index == k)) for k in sorted(range(len(names)), key=names.__getitem__)]


def _batches(pf: pq.ParquetFile, numeric: list[str], rows: int) -> Iterator[tuple[list[str], np.ndarray]]:
    """The numeric columns, a batch at a time: (names, float64 matrix with one column each,
    Fortran-ordered so each column is contiguous)."""
    per = max(1, BATCH_BYTES // max(1, 8 * rows))
    for s in range(0, len(numeric), per):
        names = numeric[s:s + per]
        table = pf.read(columns=names)
        matrix = np.empty((rows, len(names)), dtype="float64", order="F")
        for j, name in enumerate(names):
            matrix[:, j] = np.asarray(table.column(name).to_numpy(), dtype="float64")
        yield names, matrix


def _stats(values: np.ndarray) -> tuple[list[float], list[float], list[list[float]]]:
    """Mean, std (ddof 1; NaN for one value) and the :data:`QUANTILES` of each column of a
    Fortran-ordered float64 matrix without NaN and with at least one row, as Python floats."""
    n = values.shape[0]
    total = np.add.reduce(values, axis=0, keepdims=True)
    means = [float(x) / n for x in total[0]]
    if n > 1:
        dev = values - total / n  # numpy's _var: the mean as an array, deviations, squares, sum
        dev = np.multiply(dev, dev, out=dev)
        stds = [float(x) for x in np.sqrt(np.add.reduce(dev, axis=0) / (n - 1))]
    else:
        stds = [math.nan] * values.shape[1]
    qs = np.quantile(values, list(QUANTILES.values()), axis=0)
    return means, stds, [[float(x) for x in q] for q in qs]


def summary_records(path: Path, by: str | None = None, drop: Collection[str] = ()) -> list[dict[str, Any]]:
    """The rows of :func:`sim.results.metrics.summarise` of the Parquet table
    ``path`` (less ``drop``; per ``by`` group) as records: per group (sorted), per numeric
    column (in file order), ``{by: key, "kpi", "n", "mean", "std", "p5", "p50", "p95"}``;
    statistics of the values that are not NaN, NaN where there are none (std: fewer than 2)."""
    pf = pq.ParquetFile(path)
    rows = pf.metadata.num_rows
    numeric = _numeric(pf, {"replication", *drop} | ({by} if by is not None else set()))
    groups = _groups(pf, by)
    out: list[list[dict[str, Any]]] = [[] for _ in groups]  # per group, its rows in column order
    nan = math.nan
    for names, matrix in _batches(pf, numeric, rows):
        for g, (key, idx) in enumerate(groups):
            part = matrix if idx is None else np.asfortranarray(matrix[idx])
            missing = np.isnan(part)
            counts = part.shape[0] - missing.sum(axis=0)
            cells: list[tuple[Any, ...]] = [(0, nan, nan, *[nan] * len(QUANTILES))] * len(names)
            for count in np.unique(counts):
                cols = np.flatnonzero(counts == count)
                if count == 0:
                    continue
                if count == part.shape[0]:
                    stacked = np.asfortranarray(part[:, cols])
                else:  # each column's values without its NaN, in order, side by side
                    stacked = np.empty((int(count), cols.size), dtype="float64", order="F")
                    for j, c in enumerate(cols):
                        stacked[:, j] = part[~missing[:, c], c]
                means, stds, qs = _stats(stacked)
                for j, c in enumerate(cols):
                    cells[c] = (int(count), means[j], stds[j], *(q[j] for q in qs))
            head = {} if by is None else {by: key}
            for name, (n, mean, std, *quantiles) in zip(names, cells, strict=True):
                out[g].append({**head, "kpi": name, "n": n, "mean": mean, "std": std,
                               **dict(zip(QUANTILES, quantiles, strict=True))})
    return [row for group in out for row in group]


__all__ = ["BATCH_BYTES", "summary_records"]
