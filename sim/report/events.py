"""When things happened, for the charts: disruption windows, cargoes and policy decisions.

* :func:`disruption_shades`: each disruption's activations in each replication of the run,
  rebuilt exactly as the model applied them (:func:`sim.model.disruptions.schedule` on the
  run's seed and replication seeds, the same random streams), as the share of replications
  in which it was active on each day.  The scenario's own disruptions are marked for the
  strongest shading.
* :func:`decisions_table`: the policy decisions a run recorded (``decisions.parquet`` or
  ``nominations.parquet`` in the run folder, optional), normalised to day, what, refinery.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
import numpy as np
import pandas as pd

from sim.report.plain import disruption_name
from sim.results.store import RunResult

DECISION_TABLES = ("decisions.parquet", "nominations.parquet")


@dataclass(frozen=True)
class Shade:
    """One disruption on a time axis: the share of replications active on each day."""

    name: str  # the identifier
    label: str  # the display name
    own: bool  # the scenario's own disruption (shaded strongly, labelled on the chart)
    start: _dt.date  # day 0
    share: np.ndarray  # [day] share of replications active at some time in that day (0..1)

    def spans(self) -> list[tuple[_dt.date, _dt.date, float]]:
        """Runs of consecutive days with the disruption active in some replication:
        (first day, the day after the last, the largest share in the run)."""
        out: list[tuple[_dt.date, _dt.date, float]] = []
        on = np.flatnonzero(self.share > 0)
        if not on.size:
            return out
        breaks = np.flatnonzero(np.diff(on) > 1)
        starts = np.concatenate([[on[0]], on[breaks + 1]])
        ends = np.concatenate([on[breaks], [on[-1]]])
        for a, b in zip(starts, ends, strict=True):
            out.append((self.start + _dt.timedelta(days=int(a)), self.start + _dt.timedelta(days=int(b) + 1),
                        float(self.share[a:b + 1].max())))
        return out


def run_seed(run: RunResult) -> int | None:
    """The run's seed from its manifest (None when not recorded)."""
    seed = run.manifest.get("seed")
    return int(seed) if isinstance(seed, int) else None


def replication_ids(run: RunResult) -> list[int]:
    k = run.kpis
    return sorted(int(r) for r in k["replication"].unique()) if "replication" in k else list(range(len(k)))


def disruption_shades(run: RunResult, own: set[str], n_days: int) -> list[Shade]:
    """Every disruption of the run as a :class:`Shade` over ``n_days`` days.  Without a
    recorded seed the windows of fixed-window and recurring disruptions are still known
    (they draw nothing); a stochastic one is then left out."""
    from sim.model.disruptions import schedule
    from sim.rng import replication_seed

    s = run.scenario
    seed = run_seed(run)
    reps = replication_ids(run)
    out = []
    for d in s.disruptions:
        active = np.zeros((max(1, len(reps)), n_days), dtype=bool)
        if seed is None and d.stochastic is not None:
            continue
        for i, r in enumerate(reps if seed is not None else [0]):
            seq = replication_seed(seed if seed is not None else 0, r)
            for a, b in schedule(d, s, seq):
                first = max(0, math.floor(a / 24.0))
                last = min(n_days - 1, math.ceil(b / 24.0) - 1)
                if b > a and last >= first:
                    active[i, first:last + 1] = True
        share = active[: len(reps) if seed is not None else 1].mean(axis=0)
        out.append(Shade(d.name, disruption_name(s, d.name), d.name in own, s.start, share))
    return out


def decisions_table(run: RunResult) -> pd.DataFrame | None:
    """The run's policy decisions as columns replication, day (float, days from the start),
    what, refinery ('' when not given); None when the folder has no decisions table.  Both
    optional tables are read (``decisions.parquet`` of the operating policies and
    ``nominations.parquet`` of the buyers' nominations): a time column (``time_h``, ``at_h``,
    ``t_h``, ``start_h``, ``decided_h`` in hours, or ``day``), a column saying what was decided
    (``policy``, ``action``, ``decision``, ``kind``) and the facility it concerns
    (``refinery``, ``facility``, ``watch``, ``buyer``) are looked for."""
    parts = []
    for name in DECISION_TABLES:
        f = run.path / name
        if not f.exists():
            continue
        t = pd.read_parquet(f)
        if t.empty:
            continue
        hours = next((c for c in ("time_h", "at_h", "t_h", "start_h", "decided_h") if c in t), None)
        if hours is not None:
            day = t[hours].astype(float) / 24.0
        elif "day" in t:
            day = t["day"].astype(float)
        else:
            continue
        what_col = next((c for c in ("policy", "action", "decision", "kind") if c in t), None)
        what = t[what_col].astype(str) if what_col else pd.Series(name.removesuffix(".parquet"), index=t.index)
        ref_col = next((c for c in ("refinery", "facility", "watch", "buyer") if c in t), None)
        parts.append(pd.DataFrame({
            "replication": t["replication"].astype(int) if "replication" in t else 0,
            "day": day, "what": what, "refinery": t[ref_col].fillna("").astype(str) if ref_col else ""}))
    return pd.concat(parts, ignore_index=True) if parts else None


def cargo_table(run: RunResult, replication: int | None = None) -> pd.DataFrame:
    """One replication's voyages (the first by default) as load port, discharge port,
    cargo (t) and the days from the start it loaded, sailed and discharged."""
    v = run.voyages
    cols = ["tanker", "load_port", "discharge_port", "cargo_t", "load_start_d", "load_end_d", "discharge_start_d",
            "discharge_end_d"]
    if v.empty or not {"load_start_h", "discharge_end_h"} <= set(v.columns):
        return pd.DataFrame(columns=cols)
    rep = replication if replication is not None else (int(v["replication"].min()) if "replication" in v else 0)
    mine = v[v["replication"] == rep] if "replication" in v else v
    out = pd.DataFrame({"tanker": mine.get("tanker", pd.Series("", index=mine.index)).astype(str),
                        "load_port": mine["load_port"].astype(str),
                        "discharge_port": mine["discharge_port"].astype(str),
                        "cargo_t": mine["cargo_t"].astype(float)})
    for c in ("load_start", "load_end", "discharge_start", "discharge_end"):
        out[f"{c}_d"] = mine[f"{c}_h"].astype(float) / 24.0 if f"{c}_h" in mine else math.nan
    return out.reset_index(drop=True)


__all__ = ["DECISION_TABLES", "Shade", "cargo_table", "decisions_table", "disruption_shades", "run_seed"]
