"""One table from several saved runs, each row tagged with the run it came from.

A notebook that compares scenarios wants one long DataFrame (``groupby("run")``, a seaborn
``hue``) rather than a dict of frames whose origin is lost once they are concatenated.
:func:`combine` adds three columns in front of a run table: ``run`` (the caller's label,
else the scenario's name), ``run_id`` (the run folder's name, which the store makes unique
per scenario: ``<UTC stamp>-<scenario hash>``) and ``scenario`` (the manifest's scenario
name).  The table's own columns, values and row order are unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from sim.errors import UserError
from sim.results.store import TABLES, RunResult, open_run

RunLike = RunResult | str | os.PathLike[str]
TAG_COLUMNS = ("run", "run_id", "scenario")


def _opened(run: RunLike) -> RunResult:
    return run if isinstance(run, RunResult) else open_run(Path(run))


def combine(runs: Mapping[str, RunLike] | Iterable[RunLike], table: str = "kpis") -> pd.DataFrame:
    """``table`` (one of the store's tables: ``kpis``, ``facility_kpis``, ``timeseries``, ...)
    of every run, stacked, with ``run``, ``run_id`` and ``scenario`` columns first.

    ``runs``: run results or folders, as a list (``run`` is then the scenario name, made
    unique with ``#2``, ``#3`` when a scenario appears twice) or as a dict label -> run
    (``run`` is the label).  ``run`` is an ordered categorical in the order given, so
    ``groupby("run")`` and plots keep that order.
    """
    if table not in TABLES:
        raise UserError(f"no table {table!r} in a run; tables are {', '.join(TABLES)}")
    if isinstance(runs, Mapping):
        pairs = [(str(label), _opened(r)) for label, r in runs.items()]
    else:
        pairs = []
        seen: dict[str, int] = {}
        for r in runs:
            opened = _opened(r)
            name = str(opened.manifest.get("scenario") or opened.path.name)
            seen[name] = seen.get(name, 0) + 1
            pairs.append((name if seen[name] == 1 else f"{name}#{seen[name]}", opened))
    if not pairs:
        raise UserError("combine needs at least one run")
    frames = []
    for label, r in pairs:
        df = r.table(table)
        tags = pd.DataFrame({"run": label, "run_id": r.path.name,
                             "scenario": str(r.manifest.get("scenario") or "")}, index=df.index)
        clash = [c for c in TAG_COLUMNS if c in df.columns]
        if clash:  # no store table has them today; a silent overwrite would lose data
            raise UserError(f"table {table!r} of {r.path} already has column(s) {', '.join(clash)}")
        frames.append(pd.concat([tags, df], axis=1))
    out = pd.concat(frames, ignore_index=True)
    out["run"] = pd.Categorical(out["run"], categories=[label for label, _ in pairs], ordered=True)
    return out


__all__ = ["TAG_COLUMNS", "combine"]
