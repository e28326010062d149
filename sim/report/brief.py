"""Policy briefing of a saved run: Markdown (and self-contained HTML) with charts beside it.

``brief(run_path, vs=None, format="md")`` reads the run folder the results store wrote
(``manifest.json``, ``scenario.yaml``, ``kpis.parquet``, ``facility_kpis.parquet``,
``timeseries.parquet``, ``voyages.parquet``, ``summary.json``) and writes ``brief.md`` (or
``brief.html``) and ``charts/*.png|svg`` into the same folder.

Every number in the document is computed here from those tables; the headline is assembled
from the numbers (which sentences appear depends on them), never hand-written.  Ranges are
the 5th and 95th percentiles over replications (numpy's default linear interpolation).
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml

from sim.report import charts
from sim.results import catalogue, dependency
from sim.results.catalogue import KPIS as KPI_FORMATS, kpi_format
from sim.errors import UserError

TABLES = ("kpis", "facility_kpis", "timeseries", "voyages")
# facility sections whose utilisation says how hard the flow pressed on them
FLOW_SECTIONS = ("pipelines", "terminals", "sea_legs", "chokepoints")


# --------------------------------------------------------------------------- reading a run


@dataclass
class RunTables:
    """A saved run as the brief sees it."""

    path: Path
    manifest: dict[str, Any]
    summary: dict[str, Any]
    scenario: Any  # sim.scenario.language.Scenario
    kpis: pd.DataFrame
    facility_kpis: pd.DataFrame
    timeseries: pd.DataFrame
    voyages: pd.DataFrame
    extra: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def replications(self) -> int:
        return int(self.kpis["replication"].nunique()) if "replication" in self.kpis else len(self.kpis)


def load_run(path: str | Path) -> RunTables:
    """Read a run folder (the finished replications of an incomplete one too); a clear
    :class:`UserError` when it is not one."""
    from sim.scenario.loader import load_scenario
    from sim.results.store import read_concat, read_manifest

    p = Path(path)
    if not p.is_dir():
        raise UserError(f"{p}: no such run folder (give the folder a run wrote, e.g. results/baseline/<run-id>)")
    missing = [f for f in ("manifest.json", "scenario.yaml") if not (p / f).exists()]
    if missing:
        raise UserError(f"{p}: not a complete run folder, missing {', '.join(missing)}")
    manifest = read_manifest(p)
    try:
        summary = json.loads((p / "summary.json").read_text(encoding="utf-8")) if (p / "summary.json").exists() else {}
    except ValueError:
        summary = {}  # the brief computes everything from the tables; the summary is optional
    tables = {name: read_concat(p, name) for name in TABLES}
    extra = {name: read_concat(p, name) for name in ("disruption_kpis", "waits")}
    extra.update({f.stem: pd.read_parquet(f) for f in sorted(p.glob("*.parquet"))
                  if f.stem not in TABLES and f.stem not in extra})
    if tables["kpis"].empty:
        raise UserError(f"{p}: kpis.parquet has no replications; the run did not finish any")
    return RunTables(p, manifest, summary, load_scenario(p / "scenario.yaml"), extra=extra, **tables)


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Stat:
    """Mean and p5/p50/p95 of one KPI over replications (NaN replications left out)."""

    mean: float
    p5: float
    p50: float
    p95: float
    n: int  # replications with a value

    @classmethod
    def of(cls, values: Any) -> "Stat":
        v = np.asarray(values, dtype=float)
        v = v[np.isfinite(v)]
        if v.size == 0:
            return cls(math.nan, math.nan, math.nan, math.nan, 0)
        p5, p50, p95 = np.quantile(v, [0.05, 0.5, 0.95])
        return cls(float(v.mean()), float(p5), float(p50), float(p95), int(v.size))


def _kt(t: float) -> str:
    return f"{t / 1e3:,.1f}"


def _num(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def fmt_value(column: str, value: float) -> str:
    """A KPI value as the brief prints it (in its display unit, no unit text)."""
    _, _, scale, digits = kpi_format(column)
    if not math.isfinite(value):
        return "n/a"
    return _num(value * scale, digits)


def fmt_diff(column: str, value: float) -> str:
    """A difference in the KPI's display unit, with more decimals (up to 4) when the usual
    precision would print a non-zero difference as 0."""
    _, _, scale, digits = kpi_format(column)
    if not math.isfinite(value):
        return "n/a"
    while value != 0.0 and round(abs(value) * scale, digits) == 0.0 and digits < 4:
        digits += 1
    return _num(value * scale, digits)


def fmt_range(column: str, st: Stat) -> str:
    """``mean unit (p5–p95 lo–hi)``, or ``value unit in every replication`` when the
    replications agree to the printed precision."""
    _, unit, _, _ = kpi_format(column)
    u = f" {unit}" if unit and unit != "%" else unit
    mean, lo, hi = fmt_value(column, st.mean), fmt_value(column, st.p5), fmt_value(column, st.p95)
    if st.n > 1 and mean == lo == hi:
        return f"{mean}{u} (in every replication)"
    return f"{mean}{u} (p5–p95 {lo}–{hi}{u})"


# --------------------------------------------------------------------------- derived series


def _refineries(s: Any) -> list[Any]:
    return list(s.network.refineries)


def _matrix(ts: pd.DataFrame, mask: pd.Series, n_days: int) -> np.ndarray:
    """Sum ``value_t`` of the masked rows into a [replication, day] matrix."""
    sub = ts.loc[mask]
    reps = sorted(ts["replication"].unique()) if "replication" in ts else [0]
    out = np.zeros((len(reps), n_days))
    if sub.empty:
        return out
    r_index = {r: i for i, r in enumerate(reps)}
    r = sub["replication"].map(r_index).to_numpy() if "replication" in sub else np.zeros(len(sub), dtype=int)
    d = sub["day"].to_numpy(dtype=int)
    ok = (d >= 0) & (d < n_days)
    np.add.at(out, (r[ok], d[ok]), sub["value_t"].to_numpy(dtype=float)[ok])
    return out


def n_days(run: RunTables) -> int:
    """Days in the daily series (stocks have one more row: the level at the end)."""
    ts = run.timeseries
    if not ts.empty and "day" in ts:
        flows = ts.loc[ts["kind"] != "stock", "day"]
        if not flows.empty:
            return int(flows.max()) + 1
    return int(run.scenario.horizon_days)


def dates(run: RunTables) -> list[_dt.date]:
    return [run.scenario.start + _dt.timedelta(days=i) for i in range(n_days(run))]


def delivered_matrix(run: RunTables) -> np.ndarray:
    """Crude delivered into the refineries per [replication, day] (t): the ``delivered``
    series at refineries when the store has one, else the flow of legs ending there."""
    ts = run.timeseries
    refs = {r.name for r in _refineries(run.scenario)}
    if ts.empty:
        return np.zeros((run.replications, n_days(run)))
    if ((ts["kind"] == "delivered") & ts["facility"].isin(refs)).any():
        mask = (ts["kind"] == "delivered") & ts["facility"].isin(refs)
    else:
        legs = {p.name for p in run.scenario.network.pipelines if p.to in refs}
        mask = ts["facility"].isin(legs) & (ts["kind"] == "pipeline")
    return _matrix(ts, mask, n_days(run))


def demand_matrix(run: RunTables) -> np.ndarray:
    ts = run.timeseries
    refs = {r.name for r in _refineries(run.scenario)}
    if ts.empty:
        return np.zeros((run.replications, n_days(run)))
    return _matrix(ts, (ts["kind"] == "demand") & ts["facility"].isin(refs), n_days(run))


def _stock_and_rate(run: RunTables, r: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """A refinery's stock per [replication, day boundary] and the demand rate that applies
    at each boundary (that day's demand, the last day's at the end); None without stock rows."""
    ts = run.timeseries
    is_stock = (ts["kind"] == "stock") & (ts["facility"] == r.name)
    if not is_stock.any():
        return None
    days = n_days(run)
    stock = _matrix(ts, is_stock, days + 1)
    demand = _matrix(ts, (ts["kind"] == "demand") & (ts["facility"] == r.name), days)
    return stock, np.concatenate([demand, demand[:, -1:]], axis=1)


def cover_matrices(run: RunTables) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Refinery stock in days of demand per [replication, day boundary] (the level at
    00:00 of each day, and at the end) and each refinery's minimum-operating level in the
    same days.  A boundary's demand rate is that day's demand (the last day's at the end);
    days without demand are NaN."""
    out: dict[str, np.ndarray] = {}
    floor: dict[str, float] = {}
    if run.timeseries.empty:
        return out, floor
    for r in _refineries(run.scenario):
        series = _stock_and_rate(run, r)
        if series is None:
            continue
        stock, rate = series
        with np.errstate(divide="ignore", invalid="ignore"):
            out[r.name] = np.where(rate > 0, stock / np.where(rate > 0, rate, 1.0), np.nan)
        floor[r.name] = r.min_stock_t / r.demand_t_per_day if r.demand_t_per_day > 0 else math.nan
    return out, floor


def usable_cover_matrices(run: RunTables) -> dict[str, np.ndarray]:
    """Days of cover above the minimum operating stock (floored at 0), the quantity of
    ``min_days_cover`` in the KPIs: (stock - min_stock) / that day's demand."""
    out: dict[str, np.ndarray] = {}
    if run.timeseries.empty:
        return out
    for r in _refineries(run.scenario):
        series = _stock_and_rate(run, r)
        if series is None:
            continue
        stock, rate = series
        with np.errstate(divide="ignore", invalid="ignore"):
            out[r.name] = np.where(rate > 0, np.maximum(stock - r.min_stock_t, 0.0) / np.where(rate > 0, rate, 1.0),
                                   np.nan)
    return out


def lowest_stock_days(run: RunTables) -> np.ndarray:
    """Per replication, the day boundary at which the refineries' usable days of cover is
    lowest (the first such boundary; the minimum over refineries when there are several)."""
    cover = usable_cover_matrices(run)
    if not cover:
        return np.array([], dtype=int)
    worst = np.fmin.reduce([m for m in cover.values()])
    worst = np.where(np.isnan(worst), np.inf, worst)
    return np.argmin(worst, axis=1)


VOYAGE_WAITS = (("load_port", "berth", "wait_load_berth_h", "arrive_load_h", "berth_load_h"),
                ("load_port", "cargo", "wait_cargo_h", "berth_load_h", "load_start_h"),
                ("discharge_port", "berth", "wait_discharge_berth_h", "arrive_discharge_h", "berth_discharge_h"),
                ("discharge_port", "tank room", "wait_tank_room_h", "berth_discharge_h", "discharge_start_h"))


def waits_table(run: RunTables) -> pd.DataFrame:
    """One row per wait: place, cause, wait_h.  From the store's ``waits`` table when it has
    one (every wait, chokepoints included); else the voyages' berth, cargo and tank-room
    waits."""
    w = run.extra.get("waits")
    if w is not None and not w.empty and "facility" in w:
        hours = w["wait_h"] if "wait_h" in w else w["end_h"] - w["start_h"]
        cause = w["cause"].astype(str).str.replace("_", " ") if "cause" in w else pd.Series("", index=w.index)
        return pd.DataFrame({"place": w["facility"].astype(str) + " (" + cause + ")", "cause": cause,
                             "wait_h": hours.astype(float)}).dropna()
    v = run.voyages
    if v.empty:
        return pd.DataFrame(columns=["place", "cause", "wait_h"])
    parts = []
    for port, cause, col, a, b in VOYAGE_WAITS:
        if port not in v:
            continue
        if col in v:
            hours = v[col]
        elif {a, b} <= set(v.columns):
            hours = v[b] - v[a]
        else:
            continue
        ok = hours.notna()
        parts.append(pd.DataFrame({"place": v.loc[ok, port].astype(str) + " (" + cause + ")", "cause": cause,
                                   "wait_h": hours[ok].astype(float)}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["place", "cause", "wait_h"])


def _fac_col(df: pd.DataFrame, *names: str) -> str | None:
    for n in names:
        if n in df.columns:
            return n
    return None


def utilisation_table(run: RunTables) -> pd.DataFrame:
    """facility, utilisation_pct_{mean,p5,p95}, closed_d_{mean,p5,p95} from facility_kpis."""
    fk = run.facility_kpis
    cols = ["facility", *(f"{k}_{s}" for k in ("utilisation_pct", "closed_d") for s in ("mean", "p5", "p95"))]
    if fk.empty or "facility" not in fk:
        return pd.DataFrame(columns=cols)
    ucol = _fac_col(fk, "utilisation_pct", "utilisation")
    ccol = _fac_col(fk, "closed_h", "closed_d")
    rows = []
    for fac, g in fk.groupby("facility", sort=False):
        u = g[ucol].to_numpy(dtype=float) * (100.0 if ucol == "utilisation" else 1.0) if ucol else np.zeros(len(g))
        c = g[ccol].to_numpy(dtype=float) / (24.0 if ccol == "closed_h" else 1.0) if ccol else np.zeros(len(g))
        su, sc = Stat.of(u), Stat.of(c)
        rows.append((fac, su.mean, su.p5, su.p95, sc.mean, sc.p5, sc.p95))
    out = pd.DataFrame(rows, columns=cols)
    closed = [c for c in cols if c.startswith("closed_d_")]
    out[closed] = out[closed].fillna(0.0)
    return out  # utilisation stays NaN where it does not apply (depots, sea legs)


@dataclass(frozen=True)
class Binding:
    facility: str
    share_pct: float  # replications in which it was the most utilised flow facility
    utilisation: Stat


def binding_facility(run: RunTables) -> Binding | None:
    """The flow facility (pipeline, terminal, sea leg, chokepoint) with the highest
    utilisation in the most replications; ties broken by the higher mean utilisation."""
    fk = run.facility_kpis
    ucol = _fac_col(fk, "utilisation_pct", "utilisation") if not fk.empty else None
    if ucol is None or "facility" not in fk:
        return None
    flow_names = {f.name for sec, f in run.scenario.network.facilities() if sec in FLOW_SECTIONS}
    sub = fk[fk["facility"].isin(flow_names)].dropna(subset=[ucol])
    if sub.empty:
        return None
    scale = 100.0 if ucol == "utilisation" else 1.0
    rep = "replication" if "replication" in sub else None
    if rep:
        top = sub.sort_values([rep, ucol, "facility"], ascending=[True, False, True]).groupby(rep).head(1)
        counts = top["facility"].value_counts()
    else:
        counts = pd.Series({sub.sort_values(ucol, ascending=False)["facility"].iloc[0]: 1})
    means = sub.groupby("facility")[ucol].mean()
    best = max(counts.index, key=lambda f: (counts[f], means[f], f))
    n = int(sub[rep].nunique()) if rep else 1
    return Binding(str(best), 100.0 * counts[best] / n,
                   Stat.of(sub.loc[sub["facility"] == best, ucol].to_numpy(dtype=float) * scale))


def mean_leg_flows_t_per_day(run: RunTables) -> dict[str, float]:
    """Mean tonnes per day on each pipeline (tail flow) and sea leg (cargo discharged)."""
    out: dict[str, float] = {}
    days = n_days(run)
    reps = max(1, run.replications)
    ts = run.timeseries
    if not ts.empty:
        pipe = ts[ts["kind"] == "pipeline"]
        out.update((pipe.groupby("facility")["value_t"].sum() / (days * reps)).to_dict())
    v = run.voyages
    if not v.empty and {"load_port", "discharge_port", "cargo_t"} <= set(v.columns):
        done = v.dropna(subset=["discharge_end_h"]) if "discharge_end_h" in v else v
        for leg in run.scenario.network.sea_legs:
            pair = {leg.from_, leg.to}
            m = done["load_port"].isin(pair) & done["discharge_port"].isin(pair)
            out[leg.name] = float(done.loc[m, "cargo_t"].sum()) / (days * reps)
    return out


@dataclass(frozen=True)
class DisruptionStats:
    """One disruption over the replications of a run."""

    name: str
    kind: str
    targets: str
    timing: str
    activated_pct: float  # replications in which it was active at least once
    held_back: Stat | None  # flow held back at its targets (t), from paired runs; None if not computed
    wait: Stat | None  # waiting it caused (h)
    survive: dict[str, Stat]  # refinery -> time to survive (d); NaN = never cut runs
    recover: dict[str, Stat]  # refinery -> time to recover (d); NaN = not recovered
    source: str
    note: str
    to_the_end: bool = False  # its first activation lasted to the end of the run in every replication


def _timing(s: Any, d: Any) -> str:
    if d.window is not None:
        start = _dt.datetime.combine(s.start, _dt.time()) + _dt.timedelta(hours=s.at_h(d.window.start))
        shown = start.date().isoformat() if start.time() == _dt.time() else start.isoformat(" ", "minutes")
        return f"from {shown} for {d.window.duration_h / 24:.1f} d"
    if d.recurring is not None:
        return f"every {d.recurring.every_h / 24:.1f} d for {d.recurring.duration_h / 24:.1f} d"
    st = d.stochastic
    rate = st.per_year if st.per_year is not None else sum(st.per_month.values())
    return f"random, {rate:g} a year"


def disruption_stats(run: RunTables) -> list[DisruptionStats]:
    """Every scenario disruption with its attributed costs, from the store's
    ``disruption_kpis`` table (a row per replication and disruption)."""
    s = run.scenario
    dk = run.extra.get("disruption_kpis", pd.DataFrame())
    refineries = {catalogue.slug(r.name): r.name for r in _refineries(s)}
    out = []
    for d in s.disruptions:
        g = dk[dk["disruption"] == d.name] if not dk.empty and "disruption" in dk else pd.DataFrame()
        wait_col = _fac_col(g, "wait_h", "wait_h_total")
        held = Stat.of(g["held_back_t"]) if "held_back_t" in g and len(g) else None
        wait = Stat.of(g[wait_col]) if wait_col else None
        active = g[g["activations"] > 0] if "activations" in g else g
        survive, recover = {}, {}
        for slug_, name in refineries.items():
            for col, into in ((f"time_to_survive_{slug_}_d", survive), (f"time_to_recover_{slug_}_d", recover)):
                if col in active and len(active):
                    into[name] = Stat.of(active[col])
        to_end = bool(len(active)) and "first_end_h" in active and bool(
            (active["first_end_h"] >= s.horizon_h - 1e-6).all())
        out.append(DisruptionStats(
            d.name, d.kind, ", ".join(s.resolve_targets(d)), _timing(s, d),
            100.0 * len(active) / max(1, run.replications) if len(g) else math.nan,
            held, wait, survive, recover, d.source or "", d.note or "", to_end))
    return out


def _facility_figures(f: Any) -> str:
    parts = []
    for attr, label in (("capacity_t_per_day", "capacity {} kt/d"), ("rate_t_per_day", "rate {} kt/d"),
                        ("demand_t_per_day", "demand {} kt/d"), ("linefill_t", "linefill {} kt"),
                        ("transit_h", "transit {} h"), ("distance_nm", "{} nm")):
        v = getattr(f, attr, None)
        if v is not None:
            val = v / 1e3 if attr.endswith("_t_per_day") or attr.endswith("_t") else v
            parts.append(label.format(_num(val, 1)))
    tank = getattr(f, "tank", None)
    if tank is not None and tank.capacity_t > 0:
        parts.append(f"tank {_kt(tank.capacity_t)} kt (initial {_kt(tank.initial_t)} kt)")
    berths = getattr(f, "berths", None)
    if berths is not None:
        parts.append(f"{berths.count} berth{'s' if berths.count != 1 else ''}")
    return "; ".join(parts)


def assumptions_table(run: RunTables) -> list[list[str]]:
    """Facility, kind, key figures, source and note of every facility in the scenario."""
    from sim.scenario.language import KIND_OF_SECTION

    cited = cited_seeds(run)
    rows = []
    for section, f in run.scenario.network.facilities():
        rows.append([f.name, KIND_OF_SECTION[section].replace("_", " "), _facility_figures(f),
                     f.source or _seed_list(cited.get(f.name, [])), f.note or ""])
    return rows


def _seed_list(keys: list[str]) -> str:
    return ("seeds: " + ", ".join(dict.fromkeys(keys))) if keys else "not given"


def cited_seeds(run: RunTables) -> dict[str, list[str]]:
    """Named item (facility, programme, disruption) -> the seed keys its figures cite."""
    out: dict[str, list[str]] = {}
    for c in recorded_citations(run):
        out.setdefault(str(c.get("item", "")), []).append(str(c.get("seed", "")))
    return out


# --------------------------------------------------------------------------- seed citations

_SEED_LINE = re.compile(r"^(?P<indent>\s*)(?:-\s+)?(?:(?P<key>[A-Za-z_][\w]*):\s*)?(?P<value>.*?)\s*"
                        r"#\s*seed:\s*(?P<seed>[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)+)\s*$")
_NAME_LINE = re.compile(r"^(?P<indent>\s*)-\s+name:\s*(?P<name>[A-Za-z][\w\-]*)")
_PARENT_LINE = re.compile(r"^\s*(?:-\s+)?(?P<key>[A-Za-z_][\w]*):\s*(?:#.*)?$")
_EXTENDS_LINE = re.compile(r"^extends:\s*['\"]?(?P<file>[^'\"#]+?)['\"]?\s*(?:#.*)?$")


@dataclass(frozen=True)
class Citation:
    """A scenario figure and the seed entry it cites (``# seed: key`` in the file)."""

    file: str
    item: str  # the named facility, programme or disruption it belongs to ("" at top level)
    field: str
    value: str
    seed: str


def seed_citations(scenario_file: Path, _seen: frozenset[Path] = frozenset()) -> list[Citation]:
    """Every ``# seed:`` citation of a scenario file and of the files it ``extends``
    (the extended file's first, then this file's, which override them)."""
    path = scenario_file.resolve()
    if path in _seen or not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[Citation] = []
    for line in lines:
        m = _EXTENDS_LINE.match(line)
        if m:
            out.extend(seed_citations(path.parent / m.group("file").strip(), _seen | {path}))
    names: list[tuple[int, str]] = []  # (indent, name) of the enclosing named items
    parents: list[tuple[int, str]] = []  # (indent, key) of the enclosing mapping keys
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" -"))
        names = [(i, nm) for i, nm in names if i <= indent]
        parents = [(i, k) for i, k in parents if i < indent]
        n = _NAME_LINE.match(line)
        if n:
            names = [(i, nm) for i, nm in names if i < indent] + [(indent, n.group("name"))]
            parents = []
            continue
        p = _PARENT_LINE.match(line)
        if p:
            parents.append((indent, p.group("key")))
            continue
        m = _SEED_LINE.match(line)
        if m:
            item = names[-1][1] if names else ""
            inner = [k for i, k in parents if not names or i >= names[-1][0]]
            field_ = ".".join([*inner, m.group("key")] if m.group("key") else inner)
            value = m.group("value").strip()
            out.append(Citation(path.name, item, field_, value[:60] + ("…" if len(value) > 60 else ""),
                                m.group("seed")))
    return out


def seeds_dir(near: Path | None = None) -> Path | None:
    """The ``seeds/`` folder: beside or above ``near``, else beside the ``sim`` package."""
    candidates = [*(p / "seeds" for p in ([near, *near.parents] if near is not None else []))]
    candidates.append(Path(__file__).resolve().parents[2] / "seeds")
    return next((c for c in candidates if c.is_dir()), None)


def seed_entries(folder: Path) -> dict[str, dict[str, Any]]:
    """Every seed entry (``group.name`` -> {value, unit, confidence, source, note}) of the
    YAML files in ``seeds/``."""
    out: dict[str, dict[str, Any]] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and "value" in node and "source" in node:
            out[prefix] = node
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))

    for f in sorted(folder.glob("*.yaml")):
        try:
            walk(yaml.safe_load(f.read_text(encoding="utf-8")), "")
        except yaml.YAMLError:
            continue
    return out


def recorded_citations(run: RunTables) -> list[dict[str, Any]]:
    """The seed citations the run recorded in its manifest when it started (the figures of
    its source file and the seed entries they cited then; see
    :func:`sim.runner.source_citations`).  The brief reads nothing but the run folder, so an
    edit to the source or to seeds/ after the run cannot change what it cites."""
    cites = run.manifest.get("citations")
    return [c for c in cites if isinstance(c, dict)] if isinstance(cites, list) else []


def citation_rows(run: RunTables) -> tuple[list[list[str]], str]:
    """Rows of the cited-figures table and a sentence saying where they came from."""
    cites = recorded_citations(run)
    if not cites:
        return [], ("The run folder records no seed citations (the scenario file had no '# seed:' comments, "
                    "or the run was started from a Scenario object), so the facility notes above are the "
                    "only record of its sources.")
    files = list(dict.fromkeys(str(c.get("file", "")) for c in cites))
    rows = []
    for c in cites:
        where = [str(c.get("file", ""))] if len(files) > 1 else []
        value = str(c.get("value", ""))
        if c.get("overridden"):
            value += f" (this run: --set {c['overridden']})"
        if c.get("seed_value") is None:
            rows.append([*where, c.get("item") or "(scenario)", str(c.get("field", "")), value, str(c.get("seed", "")),
                         "?", "seed entry not found in seeds/"])
        else:
            rows.append([*where, c.get("item") or "(scenario)", str(c.get("field", "")), value,
                         f"{c.get('seed', '')} = {c['seed_value']}", str(c.get("confidence") or "?"),
                         str(c.get("seed_source") or "")])
    return rows, (f"Figures of {' and '.join(esc(f) for f in reversed(files))} that cite the reference data in "
                  f"seeds/, as they were when the run started (recorded in its manifest); confidence H official "
                  f"or agreed, M one report, L weak, E estimate worked out from sources, A labelled assumption "
                  f"(see seeds/README.md).")


# --------------------------------------------------------------------------- attribution

# The counterfactual figures of sim.analysis.attribution the brief shows: (stem, KPI whose format it takes, label)
COST_FIGURES = (("delivered_lost_t", "delivered_t", "crude delivered lost (kt)"),
                ("shortfall_added_t", "shortfall_t", "shortfall added (kt)"),
                ("cut_run_days_added", "cut_run_days", "cut-run days added (d)"),
                ("min_days_cover_change_d", "min_days_cover", "lowest cover change (d)"),
                ("wait_added_h", "wait_h_total", "waiting added (h)"))


def attribution_table(run: RunTables) -> pd.DataFrame | None:
    """The run's counterfactual attribution (``attribution.parquet``, written by
    ``routesim attribute --into RUN``) when it covers this run's replications, else None."""
    t = run.extra.get("attribution")
    if t is None or t.empty or not {"disruption", "delivered_lost_t_mean"} <= set(t.columns):
        return None
    if "replications" in t and int(t["replications"].iloc[0]) != run.replications:
        return None
    return t


def cost_stat(row: pd.Series, stem: str) -> Stat:
    """An attribution figure as a :class:`Stat` (mean, p5, p95 of the paired differences)."""
    n = int(row.get("replications", 0))
    return Stat(float(row[f"{stem}_mean"]), float(row[f"{stem}_p5"]), math.nan, float(row[f"{stem}_p95"]), n)


def cost_ci(row: pd.Series, stem: str, column: str) -> str:
    """``lo to hi unit``: the 95% interval of the mean paired difference."""
    lo, hi = float(row[f"{stem}_ci_low"]), float(row[f"{stem}_ci_high"])
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "n/a (too few replications)"
    unit = kpi_format(column)[1]
    return f"{fmt_diff(column, lo)} to {fmt_diff(column, hi)}" + (f" {unit}" if unit else "")


def cost_rows(table: pd.DataFrame) -> list[list[str]]:
    """A row per disruption (and all together) of the cost-to-the-refineries table."""
    rows = []
    for _, r in table.iterrows():
        cells = [str(r["disruption"])]
        for stem, col, _ in COST_FIGURES:
            cells.append(fmt_range(col, cost_stat(r, stem)) if f"{stem}_mean" in r else "not recorded")
            if stem == "delivered_lost_t":
                cells.append(cost_ci(r, stem, col))
        rows.append(cells)
    return rows


def _all_zero(column: str, st: Stat) -> bool:
    return all(fmt_value(column, x) in ("0.0", "-0.0", "0", "-0") for x in (st.mean, st.p5, st.p95))


def cost_clause(row: pd.Series) -> str:
    """What the counterfactual says about crude delivered: ``the refineries would have
    received X more crude (95% CI ...)``, or the same."""
    lost = cost_stat(row, "delivered_lost_t")
    ci = cost_ci(row, "delivered_lost_t", "delivered_t")
    if _all_zero("delivered_t", lost):
        return "the refineries would have received the same crude in every replication"
    if lost.mean < 0:
        gain = Stat(-lost.mean, -lost.p95, math.nan, -lost.p5, lost.n)
        return (f"the refineries would have received {fmt_range('delivered_t', gain)} less crude "
                f"(95% CI of the crude lost {ci})")
    return f"the refineries would have received {fmt_range('delivered_t', lost)} more crude (95% CI {ci})"


def _cost_sentence(run: RunTables) -> str:
    """The headline's counterfactual sentence: what all the disruptions together cost."""
    from sim.analysis.attribution import ALL

    t = attribution_table(run)
    if t is None or not (t["disruption"] == ALL).any():
        return ""
    r = t[t["disruption"] == ALL].iloc[0]
    text = "Without any of the disruptions (the same replications and seed), " + cost_clause(r)
    if "shortfall_added_t_mean" in r:
        short = cost_stat(r, "shortfall_added_t")
        text += (", with the same shortfall" if _all_zero("shortfall_t", short) else
                 f"; the disruptions added {fmt_range('shortfall_t', short)} of shortfall")
    return text + ". "


# --------------------------------------------------------------------------- comparison


def differences(run: RunTables, base: RunTables, columns: Sequence[str]) -> pd.DataFrame:
    """Per KPI (in ``columns`` order): kpi, base_mean, run_mean, diff (run - base), ci_low,
    ci_high (95%), significant (beyond the replication noise and the numerical tolerance),
    n_paired, method and note, from :func:`sim.analysis.compare.compare` on the two runs themselves,
    the one place the noise test lives: paired by replication when they share seed and
    replications (as ``routesim compare`` does), Welch's otherwise."""
    from sim.analysis.compare import compare

    t = compare(base, run, kpis=list(columns), incomplete_ok=True)
    return t.rename(columns={"mean_baseline": "base_mean", "mean_run": "run_mean"})[
        ["kpi", "base_mean", "run_mean", "diff", "ci_low", "ci_high", "significant", "n_paired", "method",
         "note"]]


# --------------------------------------------------------------------------- document

# Markdown punctuation that could start markup in user text; '_' only where it can open or
# close emphasis (inside a word, as in odesa_brody, it cannot)
_MD_SPECIAL = re.compile(r"[\\`*\[\]|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def esc(text: object) -> str:
    """User text (a name, description, note, source, label, file name) as Markdown that any
    viewer shows as exactly that text: ``<``, ``>`` and ``&`` become entities (so no HTML
    tag, ``<img onerror>``, ``<iframe>`` or autolink), and the punctuation of links, images,
    code, emphasis and tables is backslash-escaped (so no ``[x](javascript:...)``).  Runs of
    whitespace, newlines included, become one space: the text stays in its paragraph or cell."""
    t = " ".join(str(text).split())
    t = t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), t)


def code(text: object) -> str:
    """``text`` as a Markdown code span (literal in every viewer), fenced with more
    backticks than any run inside it."""
    t = " ".join(str(text).split())
    fence = "`" * (max((len(r) for r in re.findall(r"`+", t)), default=0) + 1)
    pad = " " if t.startswith("`") or t.endswith("`") else ""
    return f"{fence}{pad}{t}{pad}{fence}"


def _inline_html(markdown: str) -> str:
    """A paragraph's Markdown as HTML by a CommonMark renderer with raw HTML turned off
    (markdown-it-py): what a viewer shows, and user text escaped by :func:`esc` stays text."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).renderInline(markdown)


@dataclass
class Doc:
    """The brief as blocks, rendered to Markdown or HTML."""

    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def h(self, level: int, text: str) -> None:
        self.blocks.append(("h", (level, text)))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        self.blocks.append(("table", (list(header), [list(map(str, r)) for r in rows])))

    def image(self, path: Path, alt: str) -> None:
        self.blocks.append(("img", (path, alt)))

    def markdown(self, root: Path) -> str:
        out: list[str] = []
        for kind, b in self.blocks:
            if kind == "h":
                out.append("#" * b[0] + " " + esc(b[1]))
            elif kind == "p":
                out.append(b)  # Markdown already: its user text went through esc()
            elif kind == "table":
                header, rows = b
                cells = [[esc(c) for c in r] for r in [header, *rows]]
                out.append("\n".join(["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(header),
                                      *("| " + " | ".join(r) + " |" for r in cells[1:])]))
            elif kind == "img":
                out.append(f"![{esc(b[1])}]({b[0].relative_to(root).as_posix()})")
        return "\n\n".join(out) + "\n"

    def html(self, title: str) -> str:
        body: list[str] = []
        for kind, b in self.blocks:
            if kind == "h":
                body.append(f"<h{b[0]}>{html.escape(b[1])}</h{b[0]}>")
            elif kind == "p":
                body.append(f"<p>{_inline_html(b)}</p>")
            elif kind == "table":
                header, rows = b
                head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
                trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
                body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{trs}</tbody></table>")
            elif kind == "img":
                data = base64.b64encode(Path(b[0]).read_bytes()).decode("ascii")
                body.append(f'<figure><img alt="{html.escape(b[1])}" src="data:image/png;base64,{data}">'
                            f"<figcaption>{html.escape(b[1])}</figcaption></figure>")
        style = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
                 "line-height:1.45;color:#222}table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}"
                 "th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}"
                 "th{background:#f2f2f2}img{max-width:100%}figcaption{font-size:.85rem;color:#555}")
        return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
                f"</title><style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


# A flow facility used at least this much (mean utilisation, %) is said to bind the flow.
BINDING_PCT = 90.0

HEADLINE_KPIS = catalogue.BRIEF_HEADLINE
TABLE_KPIS = catalogue.BRIEF_TABLE


def _stat(run: RunTables, col: str) -> Stat | None:
    return Stat.of(run.kpis[col]) if col in run.kpis else None


def headline(run: RunTables) -> str:
    """The headline paragraph, built from the run's numbers."""
    s = run.scenario
    k = run.kpis
    n = run.replications
    days = n_days(run)
    parts = [f"Over {days} days from {s.start.isoformat()} ({n} replication{'s' if n != 1 else ''}), "]
    dl, dm, met = _stat(run, "delivered_t"), _stat(run, "demand_t"), _stat(run, "demand_met_pct")
    if dl is not None and dm is not None:
        parts.append(f"the refineries received {fmt_range('delivered_t', dl)} of crude against a demand "
                     f"of {fmt_value('demand_t', dm.mean)} kt")
        if met is not None:
            parts.append(f", meeting {fmt_range('demand_met_pct', met)} of demand")
        parts.append(". ")
    sf, cut = _stat(run, "shortfall_t"), _stat(run, "cut_run_days")
    if sf is not None:
        if sf.n and float(np.nanmax(k["shortfall_t"])) <= 0.0:
            parts.append("No replication fell short of demand. ")
        else:
            short_share = 100.0 * float((k["shortfall_t"] > 0).sum()) / max(1, sf.n)
            parts.append(f"The shortfall was {fmt_range('shortfall_t', sf)}; {_num(short_share, 0)}% of "
                         f"replications fell short")
            if cut is not None:
                parts.append(f", with runs cut on {fmt_range('cut_run_days', cut)}")
            parts.append(". ")
    cover = _stat(run, "min_days_cover")
    low_days = lowest_stock_days(run)
    if cover is not None:
        text = (f"Refinery stocks ran lowest at {fmt_range('min_days_cover', cover)} of cover above the "
                f"minimum operating level")
        if low_days.size:
            q = np.quantile(low_days, [0.05, 0.5, 0.95], method="nearest")
            d = [(s.start + _dt.timedelta(days=int(x))).isoformat() for x in q]
            if d[0] == d[2]:
                text += f", on {d[1]} in every replication"
            else:
                text += f", around {d[1]} (median; p5–p95 {d[0]} to {d[2]})"
        parts.append(text + ". ")
    parts.append(_cost_sentence(run))
    parts.append(_resilience(run))
    b = binding_facility(run)
    if b is not None:
        if b.utilisation.mean >= BINDING_PCT:
            parts.append(f"{esc(b.facility)} bound the flow: it ran at {fmt_range('utilisation_pct', b.utilisation)} "
                         f"of its capacity and was the most utilised leg or port in {_num(b.share_pct, 0)}% of "
                         f"replications.")
        else:
            parts.append(f"No leg or port ran near its capacity: the most utilised, {esc(b.facility)}, ran at "
                         f"{fmt_range('utilisation_pct', b.utilisation)}.")
    return "".join(parts).strip()


def main_disruption(run: RunTables) -> DisruptionStats | None:
    """The activated disruption that cost the refineries the most crude delivered (from the
    counterfactual attribution, when the run has one and some disruption cost any), else
    the one that held back the most flow at its targets (when the run computed it from paired
    replications), then the one that caused the most waiting."""
    active = [d for d in disruption_stats(run) if d.activated_pct > 0]
    if not active:
        return None
    costs = _delivered_lost_means(run)
    costly = [d for d in active if costs.get(d.name, 0.0) > 0.0]
    if costly:
        return max(costly, key=lambda d: (costs[d.name], d.name))

    def weight(d: DisruptionStats) -> tuple[float, float]:
        held = d.held_back.mean if d.held_back is not None and d.held_back.n else 0.0
        wait = d.wait.mean if d.wait is not None and d.wait.n else 0.0
        return (held, wait)

    return max(active, key=weight)


def _delivered_lost_means(run: RunTables) -> dict[str, float]:
    """Disruption -> mean crude delivered it cost the refineries (counterfactual), if known."""
    t = attribution_table(run)
    if t is None:
        return {}
    return {str(r["disruption"]): float(r["delivered_lost_t_mean"]) for _, r in t.iterrows()
            if math.isfinite(float(r["delivered_lost_t_mean"]))}


def _cost_row(run: RunTables, name: str) -> pd.Series | None:
    t = attribution_table(run)
    if t is None or not (t["disruption"] == name).any():
        return None
    return t[t["disruption"] == name].iloc[0]


def _resilience(run: RunTables) -> str:
    """Sentences on time to survive and to recover after the main disruption."""
    s = run.scenario
    if not s.disruptions:
        return "The scenario has no disruptions, so time to survive and to recover do not apply. "
    d = main_disruption(run)
    if d is None:
        return "No disruption was active in any replication. "
    n_active = round(d.activated_pct * run.replications / 100.0)
    held_any = bool(d.held_back is not None and d.held_back.n and d.held_back.mean > 0)
    wait_any = bool(d.wait is not None and d.wait.n and d.wait.mean > 0)
    cost = _cost_row(run, d.name)
    if cost is not None and float(cost["delivered_lost_t_mean"]) > 0.0:
        text = [f"The disruption that cost the refineries the most crude, {esc(d.name)} (active in {n_active} of "
                f"{run.replications} replications; without it {cost_clause(cost)}"]
        if held_any:
            text.append(f"; it held back {fmt_range('held_back_t', d.held_back)} of flow at {esc(d.targets)} "
                        f"while it acted, against the same replications without it")
    elif held_any:
        text = [f"The disruption that held back the most flow, {esc(d.name)} (active in {n_active} of "
                f"{run.replications} replications, {fmt_range('held_back_t', d.held_back)} of flow held back at "
                f"{d.targets}: throughput forgone there while it acted, against the same replications without "
                f"it; the crude may still arrive later"]
        if cost is not None:
            text.append(f"; without it {cost_clause(cost)}")
    elif wait_any:
        text = [f"The disruption that caused the most waiting, {esc(d.name)} (active in {n_active} of "
                f"{run.replications} replications, {fmt_range('wait_h_total', d.wait)} of tanker waiting"]
    else:
        held = "no flow held back or " if d.held_back is not None else ""
        text = [f"After {esc(d.name)} (active in {n_active} of {run.replications} replications, with {held}"
                f"no waiting attributed to any disruption"]
    text.append("): ")
    clauses = []
    for ref in sorted(set(d.survive) | set(d.recover)):
        sv, rc = d.survive.get(ref), d.recover.get(ref)
        cut = sv.n if sv is not None else 0
        if d.to_the_end:
            rc = None  # recovery cannot be measured after a disruption that lasts to the end
        if cut == 0 and (rc is None or (rc.n == n_active and rc.mean == 0.0)):
            continue  # this refinery neither cut runs nor lost delivered flow
        if cut and sv.p95 <= 0.0:
            clause = f"{esc(ref)} was already cutting runs when it began"
            if cut < n_active:
                clause += f" (in {cut} of {n_active} replications)"
        elif cut:
            clause = f"{esc(ref)} ran on stock for {fmt_range('time_to_survive_d', sv)} before cutting runs"
            if cut < n_active:
                clause += f" (in {cut} of {n_active} replications; it never ran short in the others)"
        else:
            clause = f"{esc(ref)} never had to cut runs"
        if rc is not None and rc.n:
            clause += (f", and its delivered flow took {fmt_range('time_to_recover_d', rc)} to return to 95% "
                       f"of the undisrupted level")
            if rc.n < n_active:
                clause += f" (not recovered by the end in {n_active - rc.n} of {n_active})"
        elif rc is not None:
            clause += ", and its delivered flow had not recovered by the end in any replication"
        clauses.append(clause)
    if d.to_the_end:
        clauses.append("it lasted to the end of the run, so recovery is not measured")
    if not clauses:
        return "".join(text) + "no refinery cut runs or lost delivered flow after it. "
    return "".join(text) + "; ".join(clauses) + ". "


def _kpi_rows(run: RunTables) -> list[list[str]]:
    rows = []
    cols = [c for c in TABLE_KPIS if c in run.kpis]
    for c in cols:
        st = Stat.of(run.kpis[c])
        if st.n == 0:
            continue  # undefined in every replication (e.g. cycle time without voyages)
        label, unit, _, _ = kpi_format(c)
        rows.append([label + (f" ({unit})" if unit else ""), fmt_value(c, st.mean), fmt_value(c, st.p5),
                     fmt_value(c, st.p50), fmt_value(c, st.p95)])
    return rows


def _share_rows(run: RunTables) -> list[list[str]]:
    """Shares for all refineries together (from ``kpis``) and, where the store has them, for
    each refinery (its rows of ``facility_kpis``); labels that never deliver are left out."""
    tables = [("all refineries", run.kpis)]
    fk = run.facility_kpis
    if not fk.empty and "facility" in fk:
        for r in _refineries(run.scenario):
            mine = fk[fk["facility"] == r.name]
            if len(mine) and any(dependency.share_columns(mine.columns).values()):
                tables.append((r.name, mine))
    rows = []
    for who, table in tables:
        groups = dependency.share_columns(table.columns)
        for dim in dependency.DIMENSIONS:
            for c in sorted(groups[dim], key=lambda c: (-float(table[c].fillna(0).mean()), c)):
                st = Stat.of(table[c].fillna(0.0))
                if len(tables) > 1 and who != "all refineries" and st.p95 <= 0.0:
                    continue
                rows.append([who, dim, dependency.label_of(c), fmt_value(c, st.mean), fmt_value(c, st.p5),
                             fmt_value(c, st.p95)])
    return rows


def _stat_cell(col: str, st: Stat | None) -> str:
    if st is None or st.n == 0:
        return "not recorded"
    return fmt_range(col, st)


def make_charts(run: RunTables, out_dir: Path) -> list[tuple[Path, str]]:
    """Every chart of the brief, as (png path, caption)."""
    s = run.scenario
    sub = f"{s.name}, {run.replications} replications"
    made: list[tuple[Path, str]] = []
    x = dates(run)
    if not run.timeseries.empty:
        made.append((charts.delivered_vs_demand(x, delivered_matrix(run), demand_matrix(run),
                                                out_dir / "delivered", subtitle=sub),
                     "Crude delivered to the refineries against demand (p5–p95 band over replications)"))
        cover, floor = cover_matrices(run)
        if cover:
            bounds = [*x, x[-1] + _dt.timedelta(days=1)]  # stocks are at day boundaries
            made.append((charts.days_of_cover(bounds, cover, floor, out_dir / "cover", subtitle=sub),
                         "Refinery stock in days of cover, with the minimum operating level"))
    w = waits_table(run)
    if not w.empty:
        made.append((charts.waits(w, out_dir / "waits", subtitle=sub),
                     "Distribution of tanker waits at berths and chokepoints"))
    u = utilisation_table(run)
    if not u.empty:
        made.append((charts.utilisation(u, out_dir / "utilisation", subtitle=sub),
                     "Facility utilisation and closed time (mean, p5–p95)"))
    disrupted = sorted({t for d in s.disruptions for t in s.resolve_targets(d)})
    made.append((charts.route_map(s, mean_leg_flows_t_per_day(run), disrupted, out_dir / "route_map",
                                  subtitle=sub),
                 "The route network with mean flows on each leg; disrupted facilities marked"))
    return made


def build(run: RunTables, base: RunTables | None = None) -> Doc:
    """The brief's blocks (charts are written into ``run.path / 'charts'``)."""
    s = run.scenario
    doc = Doc()
    doc.h(1, f"Briefing: {s.name}")
    doc.p(f"_{esc(s.description.strip())}_")
    status = run.manifest.get("status")
    if status is not None and status != "complete":
        doc.p(f"**This run is {status}: the figures below cover the {run.replications} replications that "
              f"finished, of {run.manifest.get('replications', '?')} asked for.**")
    doc.h(2, "Headline")
    doc.p(headline(run))
    if base is not None:
        doc.h(2, f"Against {base.scenario.name}")
        cols = [c for c in (*TABLE_KPIS,
                            *sorted(c for c in run.kpis.columns if c.startswith("share_")))
                if c in run.kpis and c in base.kpis]
        diff = differences(run, base, cols)
        rows = []
        beyond = []
        for _, r in diff.iterrows():
            c = r["kpi"]
            if not (math.isfinite(float(r["run_mean"])) or math.isfinite(float(r["base_mean"]))):
                continue  # undefined in both runs (e.g. cycle time without voyages)
            label, unit, _, _ = kpi_format(c)
            sig = bool(r["significant"])
            if sig:
                beyond.append(label)
            rows.append([label + (f" ({unit})" if unit else ""),
                         fmt_value(c, float(r["run_mean"])),
                         fmt_value(c, float(r["base_mean"])),
                         ("+" if r["diff"] > 0 else "") + fmt_diff(c, float(r["diff"])) if math.isfinite(r["diff"])
                         else "n/a",
                         f"{fmt_diff(c, float(r['ci_low']))} to {fmt_diff(c, float(r['ci_high']))}"
                         if math.isfinite(r["ci_low"]) and math.isfinite(r["ci_high"]) else f"n/a ({r['note']})",
                         "beyond noise" if sig else "within noise"])
        within = len(rows) - len(beyond)
        named = beyond if len(beyond) <= 6 else [*beyond[:5], f"{len(beyond) - 5} more figures"]
        listed = ", ".join(named[:-1]) + (" and " if len(named) > 1 else "") + named[-1] if named else ""
        how = ""
        if not diff.empty:
            how = ("; intervals paired by replication, " f"{int(diff['n_paired'].max())} replications paired (the same "
                   "seed, so the noise both runs share cancels)" if diff["method"].iloc[0] == "paired" else
                   "; Welch's intervals (the runs do not share seed and replications)")
        doc.p(f"Compared with {esc(base.scenario.name)} ({esc(base.path.name)}{how}): "
              + (f"{listed} differ{'s' if len(beyond) == 1 else ''} beyond the replication noise"
                 if beyond else "no figure differs beyond the replication noise")
              + (f"; {within} other figure{'s are' if within != 1 else ' is'} within noise." if within else "."))
        doc.table(["figure", "this run", base.scenario.name, "difference", "95% CI of difference", "verdict"], rows)
    doc.h(2, "Key figures")
    doc.p("Mean and percentiles over replications.")
    doc.table(["figure", "mean", "p5", "p50", "p95"], _kpi_rows(run))
    share_rows = _share_rows(run)
    if share_rows:
        doc.h(2, "Dependency")
        doc.p("Share of the crude delivered, by origin and by route, to all refineries together and to "
              "each (percent; for a refinery, labels that never reach it are left out; HHI on a 0–10,000 "
              "scale is in the key figures).")
        doc.table(["refineries", "by", "label", "mean (%)", "p5 (%)", "p95 (%)"], share_rows)
    doc.h(2, "Charts")
    for png, caption in make_charts(run, run.path / "charts"):
        doc.image(png, caption)
    doc.h(2, "Disruptions")
    stats = disruption_stats(run)
    cited = cited_seeds(run)
    if not stats:
        doc.p("The scenario has no disruptions.")
    else:
        held = any(d.held_back is not None for d in stats)
        if held:
            doc.p("Flow held back and waiting per disruption; mean with p5–p95 over the replications. Flow "
                  "held back is what its target facilities moved during its activations in the same "
                  "replication without it (same seed, so the same random numbers) minus what they moved "
                  "with it, summed over its targets (throughput as defined in the README: a pipeline's "
                  "intake at its head, a terminal's berth transfers, ...); the crude may still arrive later, "
                  "so it is not what the refineries lost.")
        else:
            doc.p("Waiting is attributed to each disruption by the model; mean with p5–p95 over the "
                  "replications. Flow held back was not computed for this run (it needs paired runs "
                  "without each disruption: `routesim run --held-back`, or `routesim attribute`).")
        doc.table(["disruption", "kind", "targets", "timing", "active in (%)",
                   *(["flow held back at its facilities"] if held else []), "waiting caused", "source"],
                  [[d.name, d.kind, d.targets, d.timing,
                    "not recorded" if not math.isfinite(d.activated_pct) else _num(d.activated_pct, 0),
                    *([_stat_cell("held_back_t", d.held_back)] if held else []), _stat_cell("wait_h_total", d.wait),
                    d.source or _seed_list(cited.get(d.name, []))]
                   for d in stats])
        costs = attribution_table(run)
        if costs is not None:
            doc.h(3, "Cost to the refineries")
            doc.p("Counterfactual: the same replications with the same seed, without the disruption (the last "
                  "row without any), so each replication pairs with itself and the difference is the "
                  "disruption's effect (routesim attribute). Mean with p5–p95 of the per-replication "
                  "differences, and the 95% CI of the mean difference; costs need not add up when disruptions "
                  "overlap.")
            doc.table(["disruption", *(label for _, _, label in COST_FIGURES[:1]), "95% CI (kt)",
                       *(label for _, _, label in COST_FIGURES[1:])], cost_rows(costs))
        else:
            doc.p("What the disruptions cost the refineries in crude delivered is not in this run folder: "
                  f"{code('routesim attribute --into ' + run.path.name)} adds it (paired runs without each "
                  "disruption).")
    doc.h(2, "Assumptions and sources")
    doc.table(["facility", "kind", "figures", "source", "note"], assumptions_table(run))
    rows, sentence = citation_rows(run)
    doc.p(sentence)  # Markdown: its file names are escaped
    if rows:
        header = ["item", "field", "value in scenario", "seed entry", "confidence", "source"]
        doc.table((["file"] if len(rows[0]) > len(header) else []) + header, rows)
    doc.h(2, "What was run")
    m = run.manifest
    versions = m.get("versions") or m.get("package_versions") or {}
    version = m.get("version") or (versions.get("routesim") if isinstance(versions, dict) else None)
    rows = [["scenario", s.name], ["scenario hash", str(m.get("scenario_hash", "not recorded"))],
            ["seed", str(m.get("seed", "not recorded"))], ["replications", str(run.replications)],
            ["routesim version", str(version or "not recorded")]]
    git = m.get("git")
    if isinstance(git, dict) and git.get("commit"):
        rows.append(["git commit", git["commit"] + (" (with local changes)" if git.get("dirty") else "")])
    for key, label in (("executor", "executor"), ("status", "status"), ("wall_time_s", "wall time (s)"),
                       ("created_utc", "started (UTC)")):
        if m.get(key) is not None:
            rows.append([label, str(m[key])])
    if m.get("overrides"):
        rows.append(["overrides (--set)", "; ".join(map(str, m["overrides"]))])
    rows.append(["run folder", run.path.name])
    doc.table(["item", "value"], rows)
    return doc


def brief(run_path: str | Path, vs: str | Path | None = None,
          format: Literal["md", "html"] = "md") -> Path:  # noqa: A002 - the CLI's option name
    """Write the briefing of a run into its folder; return the document's path."""
    if format not in ("md", "html"):
        raise UserError(f"unknown brief format {format!r}; use 'md' or 'html'")
    run = load_run(run_path)
    base = load_run(vs) if vs is not None else None
    doc = build(run, base)
    md = run.path / "brief.md"
    md.write_text(doc.markdown(run.path), encoding="utf-8")
    if format == "html":
        out = run.path / "brief.html"
        out.write_text(doc.html(f"Briefing: {run.scenario.name}"), encoding="utf-8")
        return out
    return md
