"""Calibration to the record: fit a scenario's uncertain parameters to reported figures.

A SPEC file (YAML, e.g. ``calibration/history_2020.yaml``) names the scenario, the
parameters (each a ``--set`` path, a value template with ``{x}`` and bounds), the targets
(each a measure of the run folder, the record's value or range, its source, and whether it
is ``fit`` or ``held_out``), the replications and the seeds.

Every candidate is run with the same scenario seed (common random numbers), so the
objective is a deterministic function of the parameters:

    loss = sum over fitted targets of ((model mean - record centre) / record half-range)^2

where a range ``[lo, hi]`` has centre (lo + hi) / 2 and half-range (hi - lo) / 2, and a
single value has the ``half_range`` the SPEC states (the date rounding of the report).  A
residual of 1 is a model mean at the edge of the record's range.  The optimiser is
:func:`scipy.optimize.differential_evolution` with the SPEC's seed (no polishing), so the
same SPEC gives the same fit.

Targets are measured from a run folder's own tables only (:func:`measure`):

* ``transit``: from departure at the load port (``load_end_h``) to arrival off the discharge
  port (``arrive_discharge_h``, ``to: arrival``) or to berthing (``berth_discharge_h``,
  ``to: berthing``), days, of the voyages from ``load_port`` that departed in ``month``;
* ``lead``: from a named programme's arrival at its discharge port to the first tonne
  (``tonne: first``) or the whole of its tonnage (``tonne: last``) delivered by the
  ``pipeline`` at its tail, counted as the record counts it: the same tonnage, the instant
  the line's cumulative delivery (daily time series, linear within a day) reaches the
  tonnage discharged at that port up to and including the cargo (the cargo's own crude
  stays in the lines for months; see docs/validation.md; :mod:`sim.results.lead` defines it,
  for the brief too);
* ``tonnage``: kt delivered by ``pipeline`` at its tail between ``start`` and ``end``.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, ValidationError, model_validator

from sim import units
from sim.errors import Problem, ScenarioError, UserError
from sim.results.lead import same_tonnage_leads, tail_cumulative
from sim.scenario.base import Strict
from sim.scenario.yaml_reader import MISSING, position_of, problem_at, read_yaml_file, value_at

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


class _Strict(Strict):
    """A calibration file's models refuse what a scenario's do: unknown keys, NaN and
    infinity, and true or false where a number goes."""


class Parameter(_Strict):
    name: str = Field(description="a short name for the report")
    set: str = Field(description="the --set path the value is written to, e.g. network.terminals.pivdennyi.approach")
    value: str = Field(default="{x}", description="the value written, with {x} the fitted number, e.g. '{x}h' or "
                                                  "'{exponential: {x}h}'")
    bounds: tuple[float, float] = Field(description="[low, high] of x")
    decimals: int = Field(default=2, ge=0, le=6, description="x is rounded to this many decimals")
    seed: str | None = Field(default=None, description="the seeds/corridor.yaml entry (section.key) the fit is "
                                                       "written to")
    unit: str | None = Field(default=None, description="unit of x in that seed entry")
    seed_value: str = Field(default="{x}", description="the seed entry's value, with {x} the fitted number "
                                                       "(e.g. '[{x}, 1.0]' for a range whose low end is fitted)")

    @model_validator(mode="after")
    def _check(self) -> Parameter:
        lo, hi = self.bounds
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"bounds {list(self.bounds)} must be two finite numbers, low < high")
        if "{x}" not in self.value:
            raise ValueError(f"value {self.value!r} must contain {{x}} where the fitted number goes")
        return self


class Target(_Strict):
    name: str = Field(description="a short name for the report")
    measure: Literal["transit", "lead", "tonnage"] = Field(description="what is measured from the run folder")
    record: float | tuple[float, float] = Field(description="the reported value, or its [low, high] range")
    half_range: float | None = Field(default=None, gt=0, description="scale of a single reported value "
                                                                     "(e.g. 1 for whole-day dates)")
    source: str = Field(description="the seeds/ROUTE_FACTS entry the record comes from")
    use: Literal["fit", "held_out"] = Field(description="fit: in the loss; held_out: reported only")
    load_port: str | None = Field(default=None, description="transit: the load port")
    discharge_port: str = Field(default="pivdennyi", description="transit/lead: the discharge port")
    month: Literal[MONTHS] | None = Field(default=None,  # type: ignore[valid-type]
                                          description="transit: the month of departure (default: any)")
    to: Literal["arrival", "berthing"] = Field(default="arrival", description="transit: to arrival or to berthing")
    programme: str | None = Field(default=None, description="lead: the programme of the named cargo")
    tonne: Literal["first", "last"] = Field(default="last", description="lead: first tonne or the whole tonnage")
    pipeline: str = Field(default="brody_mozyr", description="lead/tonnage: the pipeline whose tail delivery counts")
    start: _dt.date | None = Field(default=None, description="tonnage: first day counted")
    end: _dt.date | None = Field(default=None, description="tonnage: the day after the last day counted")

    @model_validator(mode="after")
    def _check(self) -> Target:
        if isinstance(self.record, tuple):
            if not self.record[0] < self.record[1]:
                raise ValueError(f"record range {list(self.record)} must be [low, high] with low < high")
        elif self.half_range is None:
            raise ValueError("a single record value needs half_range (its uncertainty), or give [low, high]")
        need = {"transit": ("load_port",), "lead": ("programme",), "tonnage": ("start", "end")}[self.measure]
        missing = [k for k in need if getattr(self, k) is None]
        if missing:
            raise ValueError(f"measure {self.measure!r} needs {', '.join(missing)}")
        return self

    @property
    def centre(self) -> float:
        return (self.record[0] + self.record[1]) / 2 if isinstance(self.record, tuple) else float(self.record)

    @property
    def scale(self) -> float:
        if isinstance(self.record, tuple):
            return (self.record[1] - self.record[0]) / 2
        assert self.half_range is not None
        return self.half_range


class Optimiser(_Strict):
    seed: int = Field(default=1, description="seed of differential evolution")
    maxiter: int = Field(default=5, ge=1, le=1000, description="generations")
    popsize: int = Field(default=5, ge=2, le=100, description="population per parameter")


class Spec(_Strict):
    scenario: str = Field(description="the scenario file, relative to the SPEC")
    replications: int = Field(ge=1, le=1000, description="replications per candidate")
    seed: int | None = Field(default=None, description="scenario seed (default: the scenario's)")
    optimiser: Optimiser = Field(default_factory=Optimiser)
    before: tuple[str, ...] = Field(default=(), description="--set PATH=VALUE strings giving the uncalibrated "
                                                            "state the report compares with (default: the "
                                                            "scenario as written)")
    parameters: tuple[Parameter, ...] = Field(min_length=1)
    targets: tuple[Target, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Spec:
        if not any(t.use == "fit" for t in self.targets):
            raise ValueError("at least one target must have use: fit")
        for kind, items in (("parameter", self.parameters), ("target", self.targets)):
            names = [i.name for i in items]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"{kind} names must be unique: {', '.join(dup)}")
        return self


def load_spec(path: str | os.PathLike[str]) -> tuple[Spec, Path]:
    """Read and validate a SPEC; ``ScenarioError`` lists each problem at its file and line.
    Returns the spec and the scenario's path."""
    shown = str(path)
    if not Path(path).is_file():
        raise UserError(f"no calibration SPEC {shown}: give a YAML file, e.g. calibration/history_2020.yaml")
    tree = read_yaml_file(path, shown)
    try:
        spec = Spec.model_validate(tree)
    except ValidationError as e:
        problems: list[Problem] = []
        for err in e.errors(include_url=False):
            loc = tuple(p for p in err["loc"] if isinstance(p, (str, int)))
            hint = _hint(err)
            message = err["msg"].removeprefix("Value error, ").replace("Input should", "should")
            written = value_at(tree, loc)
            if err["type"] not in ("value_error", "missing", "extra_forbidden") and written is not MISSING:
                message += f" (got {units.written(written)})"
            problems.append(problem_at(position_of(tree, loc), loc, message, hint, shown))
        raise ScenarioError(problems) from None
    scenario = (Path(path).parent / spec.scenario).resolve()
    if not scenario.is_file():
        raise ScenarioError([problem_at(position_of(tree, ("scenario",)), ("scenario",),
                                        f"no scenario file {scenario}", "the path is relative to the SPEC", shown)])
    return spec, scenario


def _hint(err: Any) -> str | None:
    if err["type"] == "extra_forbidden":
        where = err["loc"][:-1]
        model: type[BaseModel] = Spec
        if where[:1] == ("parameters",):
            model = Parameter
        elif where[:1] == ("targets",):
            model = Target
        elif where[:1] == ("optimiser",):
            model = Optimiser
        return f"valid keys: {', '.join(model.model_fields)}"
    if err["type"] == "missing":
        return "add it"
    return None


# ------------------------------------------------------------------ measures of a run folder

def measure(target: Target, voyages: pd.DataFrame, timeseries: pd.DataFrame) -> np.ndarray:
    """The target's figure in each replication (days for transit and lead, kt for tonnage);
    NaN where a replication has none (no such voyage, or not delivered by the horizon)."""
    reps = sorted(int(r) for r in timeseries["replication"].unique())
    start = pd.Timestamp(timeseries["date"].min())
    values = np.full(len(reps), math.nan)
    if target.measure == "transit":
        v = voyages[(voyages["load_port"] == target.load_port) & (voyages["discharge_port"] == target.discharge_port)]
        if target.month is not None:
            departed = start + pd.to_timedelta(v["load_end_h"], unit="h")
            v = v[departed.dt.month == MONTHS.index(target.month) + 1]
        end = v["arrive_discharge_h"] if target.to == "arrival" else v["berth_discharge_h"]
        days = ((end - v["load_end_h"]) / 24).groupby(v["replication"]).mean()
        for i, r in enumerate(reps):
            values[i] = days.get(r, math.nan)
        return values
    cums = tail_cumulative(timeseries, target.pipeline)
    if target.measure == "tonnage":
        assert target.start is not None and target.end is not None
        a = (pd.Timestamp(target.start) - start).days
        b = (pd.Timestamp(target.end) - start).days
        for i, r in enumerate(reps):
            cum = cums[r]
            if a < 0 or b >= len(cum):
                raise UserError(f"target {target.name!r}: {target.start}..{target.end} is outside the run "
                                f"({start.date()} + {len(cum) - 1} d)")
            values[i] = (cum[b] - cum[a]) / 1000
        return values
    # the same-tonnage lead time, defined once in sim.results.lead (the brief's answer uses it too)
    leads = same_tonnage_leads(voyages, cums, target.discharge_port, target.tonne)
    for i, r in enumerate(reps):
        mine = leads[(leads["replication"] == r) & (leads["programme"] == target.programme)]
        if len(mine):
            values[i] = float(mine["lead_h"].iloc[0]) / 24
    return values


# ------------------------------------------------------------------ the fit

@dataclass
class Calibration:
    """The result: the fitted values, the per-target table, the trials and the folder."""

    spec: Spec
    fitted: dict[str, float]
    table: pd.DataFrame
    before: pd.DataFrame
    trials: pd.DataFrame
    loss: float
    folder: Path | None


def _overrides(spec: Spec, x: np.ndarray | list[float]) -> list[str]:
    return [f"{p.set}={p.value.replace('{x}', repr(round(float(v), p.decimals)))}"
            for p, v in zip(spec.parameters, x, strict=True)]


def evaluate(spec: Spec, scenario: Path, overrides: list[str]) -> dict[str, np.ndarray]:
    """Run the scenario with ``overrides`` and measure every target in each replication."""
    from sim.runner import run

    tmp = Path(tempfile.mkdtemp(prefix="routesim-calibrate-"))
    try:
        result = run(scenario, replications=spec.replications, seed=spec.seed, executor="serial",
                     overrides=overrides, progress=False, out=tmp / "run")
        voyages, ts = result.voyages, result.timeseries
        return {t.name: measure(t, voyages, ts) for t in spec.targets}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _loss(spec: Spec, figures: dict[str, np.ndarray]) -> float:
    total = 0.0
    for t in spec.targets:
        if t.use != "fit":
            continue
        m = float(np.nanmean(figures[t.name])) if np.isfinite(figures[t.name]).any() else math.nan
        total += ((m - t.centre) / t.scale) ** 2 if math.isfinite(m) else 1e6
    return total


def report_table(spec: Spec, figures: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per target: model mean, p5, p95, the record, the residual (scaled) and its use."""
    rows = []
    for t in spec.targets:
        f = figures[t.name]
        ok = f[np.isfinite(f)]
        mean = float(ok.mean()) if ok.size else math.nan
        rec = t.record
        rows.append({
            "target": t.name, "measure": t.measure, "use": t.use,
            "model_mean": mean,
            "model_p5": float(np.percentile(ok, 5)) if ok.size else math.nan,
            "model_p95": float(np.percentile(ok, 95)) if ok.size else math.nan,
            "record": f"{rec[0]:g}-{rec[1]:g}" if isinstance(rec, tuple) else f"{rec:g}",
            "record_centre": t.centre, "half_range": t.scale,
            "residual": mean - t.centre, "scaled_residual": (mean - t.centre) / t.scale,
            "replications_measured": int(ok.size), "source": t.source,
        })
    return pd.DataFrame(rows)


def calibrate(spec_path: str | os.PathLike[str], *, out: str | os.PathLike[str] | None = None,
              seeds_file: str | os.PathLike[str] | None = None) -> Calibration:
    """Fit the SPEC's parameters by differential evolution; write ``report.md``,
    ``report.csv``, ``trials.csv`` and ``fit.json`` into ``out`` (if given) and the fitted
    values into ``seeds_file`` (if given) with confidence F."""
    from scipy.optimize import differential_evolution

    spec, scenario = load_spec(spec_path)
    trials: list[dict[str, Any]] = []
    cache: dict[tuple[float, ...], float] = {}

    def objective(x: np.ndarray) -> float:
        key = tuple(round(float(v), p.decimals) for p, v in zip(spec.parameters, x, strict=True))
        if key not in cache:
            figures = evaluate(spec, scenario, _overrides(spec, list(key)))
            cache[key] = _loss(spec, figures)
            trials.append({**{p.name: k for p, k in zip(spec.parameters, key, strict=True)}, "loss": cache[key],
                           **{f"mean_{t}": float(np.nanmean(v)) if np.isfinite(v).any() else math.nan
                              for t, v in figures.items()}})
        return cache[key]

    result = differential_evolution(objective, [p.bounds for p in spec.parameters], seed=spec.optimiser.seed,
                                    maxiter=spec.optimiser.maxiter, popsize=spec.optimiser.popsize,
                                    polish=False, init="sobol" if len(spec.parameters) > 1 else "latinhypercube",
                                    updating="immediate", workers=1)
    best = {p.name: round(float(v), p.decimals) for p, v in zip(spec.parameters, result.x, strict=True)}
    fitted_figures = evaluate(spec, scenario, _overrides(spec, list(best.values())))
    table = report_table(spec, fitted_figures)
    before = report_table(spec, evaluate(spec, scenario, list(spec.before)))
    cal = Calibration(spec, best, table, before, pd.DataFrame(trials), _loss(spec, fitted_figures),
                      Path(out) if out is not None else None)
    if out is not None:
        write_folder(cal, Path(out), spec_path)
    if seeds_file is not None:
        write_seeds(cal, Path(seeds_file), spec_path)
    return cal


def _fmt(v: float) -> str:
    return "—" if not math.isfinite(v) else f"{v:.2f}"


def markdown(cal: Calibration, spec_path: str | os.PathLike[str]) -> str:
    lines = [f"# Calibration: {Path(spec_path).name}", "",
             f"Scenario `{cal.spec.scenario}`, {cal.spec.replications} replications at one seed per candidate "
             f"(common random numbers); differential evolution, seed {cal.spec.optimiser.seed}, "
             f"{len(cal.trials)} distinct candidates. Loss = sum over fitted targets of "
             f"((model mean - record centre) / half-range)^2 = {cal.loss:.3f}.", "",
             "| parameter | fitted | bounds | --set |", "|---|---|---|---|"]
    for p in cal.spec.parameters:
        lines.append(f"| {p.name} | {cal.fitted[p.name]:g} | {p.bounds[0]:g}–{p.bounds[1]:g} | "
                     f"`{p.set}={p.value.replace('{x}', repr(cal.fitted[p.name]))}` |")
    lines += ["", "| target | use | record | before: mean | after: mean (p5–p95) | residual (scaled) | source |",
              "|---|---|---|---|---|---|---|"]
    for (_, a), (_, b) in zip(cal.table.iterrows(), cal.before.iterrows(), strict=True):
        lines.append(f"| {a['target']} | {a['use']} | {a['record']} | {_fmt(b['model_mean'])} | "
                     f"{_fmt(a['model_mean'])} ({_fmt(a['model_p5'])}–{_fmt(a['model_p95'])}) | "
                     f"{_fmt(a['residual'])} ({_fmt(a['scaled_residual'])}) | {a['source']} |")
    lines += ["", "Days for transit and lead targets, kt for tonnage. Reproduce: "
              f"`routesim calibrate {spec_path}`.", ""]
    return "\n".join(lines)


def write_folder(cal: Calibration, folder: Path, spec_path: str | os.PathLike[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    cal.table.to_csv(folder / "report.csv", index=False, quoting=csv.QUOTE_MINIMAL)
    cal.before.to_csv(folder / "before.csv", index=False)
    cal.trials.to_csv(folder / "trials.csv", index=False)
    (folder / "fit.json").write_text(json.dumps({"fitted": cal.fitted, "loss": cal.loss}, indent=2) + "\n",
                                     encoding="utf-8")
    (folder / "report.md").write_text(markdown(cal, spec_path), encoding="utf-8")


def write_seeds(cal: Calibration, seeds_file: Path, spec_path: str | os.PathLike[str]) -> list[str]:
    """Set each parameter's seed entry ``value`` to the fitted number, ``confidence: F`` and a
    note naming the data fitted to and the command; other lines of the file are kept as
    they are.  Returns the keys written."""
    text = seeds_file.read_text(encoding="utf-8").splitlines(keepends=True)
    fitted_to = ", ".join(f"{t.name} ({t.source})" for t in cal.spec.targets if t.use == "fit")
    written = []
    for p in cal.spec.parameters:
        if p.seed is None:
            continue
        section, key = p.seed.split(".", 1)
        entry = [f"    value: {p.seed_value.replace('{x}', f'{cal.fitted[p.name]:g}')}\n"]
        if p.unit:
            entry.append(f"    unit: {p.unit}\n")
        entry += ["    confidence: F\n",
                  f"    source: fitted to the 2020 record by `routesim calibrate {spec_path}`\n",
                  f"    note: >-\n      x in --set {p.set}={p.value}, fitted (bounds {p.bounds[0]:g}-{p.bounds[1]:g}) "
                  f"to {fitted_to}. See docs/validation.md section 3.\n"]
        text = _replace_entry(text, section, key, entry)
        written.append(p.seed)
    seeds_file.write_text("".join(text), encoding="utf-8")
    return written


def _replace_entry(lines: list[str], section: str, key: str, body: list[str]) -> list[str]:
    try:
        s = lines.index(f"{section}:\n")
    except ValueError:
        lines = [*lines, f"\n{section}:\n"]
        s = len(lines) - 1
    i = s + 1
    while i < len(lines) and (lines[i].startswith(" ") or not lines[i].strip()):
        if lines[i] == f"  {key}:\n":
            j = i + 1
            while j < len(lines) and lines[j].startswith("    "):
                j += 1
            return [*lines[:i + 1], *body, *lines[j:]]
        i += 1
    while i > s + 1 and not lines[i - 1].strip():
        i -= 1
    return [*lines[:i], f"  {key}:\n", *body, *lines[i:]]
