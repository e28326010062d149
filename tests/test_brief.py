"""The briefing: every number it prints is checked against the run's Parquet tables.

A run folder with the results store's layout is written from known synthetic tables, so
the figures the brief must print are worked out here independently of ``sim.report.brief``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.report import brief as briefmod
from sim import runner
from sim.errors import UserError

SCENARIO_YAML = """\
name: mini_corridor
description: A small corridor for testing the briefing.
start: 2021-01-01
horizon: 30d
network:
  sources:
    - {name: sangachal, origin: azeri, rate: 10kt/d, tank: {capacity: 100kt, initial: 50kt},
       source: "ROUTE_FACTS: WREP", note: assumed}
  terminals:
    - {name: supsa, tank: {capacity: 200kt, initial: 100kt}, berths: {count: 1, load_rate: 50kt/d}}
    - {name: pivdennyi, tank: {capacity: 200kt, initial: 100kt}, berths: {count: 1, discharge_rate: 50kt/d}}
  depots:
    - {name: brody, tank: {capacity: 100kt, initial: 50kt}}
  pipelines:
    - {name: wrep, from: sangachal, to: supsa, capacity: 15kt/d, linefill: 100kt}
    - {name: odesa_brody, from: pivdennyi, to: brody, capacity: 25kt/d, linefill: 440kt}
    - {name: brody_mozyr, from: brody, to: mozyr, capacity: 25kt/d, linefill: 100kt}
  sea_legs:
    - {name: supsa_pivdennyi, from: supsa, to: pivdennyi, distance: 540nm}
  refineries:
    - {name: mozyr, tank: {capacity: 400kt, initial: 200kt}, demand: 10kt/d, min_stock: 50kt}
shipping:
  programmes:
    - name: socar
      every: 8d  # seed: programme.interval
      first: 1d  # seed: programme.first_missing
      load_ports: [{terminal: supsa}]
      discharge_port: pivdennyi
      tanker: {cargo: 85kt, speed: 14kn}
disruptions:
  - {name: brody_closed, target: brody_mozyr, kind: closure,
     window: {start: 2021-01-10, duration: 5d}, source: test}
"""

DAYS = 30
FACILITIES = ("sangachal", "wrep", "supsa", "supsa_pivdennyi", "pivdennyi", "odesa_brody", "brody",
              "brody_mozyr", "mozyr")


def write_run(folder: Path, *, reps: int = 20, seed: int = 7, shift_t: float = 0.0) -> Path:
    """A run folder with the store's layout filled from a seeded generator."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scenario.yaml").write_text(SCENARIO_YAML, encoding="utf-8")
    seeds = folder.parent / "seeds"
    seeds.mkdir(exist_ok=True)
    (seeds / "test.yaml").write_text(
        "programme:\n  interval:\n    value: 8\n    unit: d\n    confidence: A\n"
        "    source: assumed for the test\n    note: one cargo every eight days\n", encoding="utf-8")
    demand = np.full(DAYS, 10_000.0)
    ts_rows, kpi_rows, fac_rows, voy_rows, dis_rows = [], [], [], [], []
    for r in range(reps):
        delivered = np.clip(rng.normal(9_500.0 + shift_t / DAYS, 1_500.0, DAYS), 0, None)
        delivered[9:14] = 0.0  # the closure
        stock = 200_000.0 + np.concatenate([[0.0], np.cumsum(delivered - demand)])  # DAYS + 1 boundaries
        run = np.minimum(demand, stock[:DAYS] + delivered)
        for d in range(DAYS):
            date = dt.date(2021, 1, 1) + dt.timedelta(days=d)
            ts_rows += [(r, d, date, "brody_mozyr", "pipeline", delivered[d]),
                        (r, d, date, "mozyr", "delivered", delivered[d]),
                        (r, d, date, "odesa_brody", "pipeline", delivered[d] * 0.9),
                        (r, d, date, "mozyr", "demand", demand[d]),
                        (r, d, date, "mozyr", "run", run[d])]
        for d in range(DAYS + 1):
            ts_rows.append((r, d, dt.date(2021, 1, 1) + dt.timedelta(days=d), "mozyr", "stock", stock[d]))
        shortfall = float(rng.choice([0.0, rng.uniform(1_000, 20_000)]))
        kpi_rows.append({
            "replication": r, "delivered_t": delivered.sum(), "demand_t": demand.sum(),
            "demand_met_pct": 100.0 * (demand.sum() - shortfall) / demand.sum(), "shortfall_t": shortfall,
            "cut_run_days": float(shortfall > 0) * rng.integers(1, 4),
            "min_days_cover": (stock.min() - 50_000.0) / 10_000.0,
            "voyages": int(rng.integers(3, 5)),
            "share_origin_azeri_pct": 100.0, "share_route_supsa_pct": 100.0, "hhi_origin": 10_000.0,
            "hhi_route": 10_000.0,
        })
        dis_rows.append({"replication": r, "disruption": "brody_closed", "kind": "closure", "activations": 1,
                         "held_back_t": rng.uniform(40_000, 60_000), "wait_h_total": 0.0,
                         "time_to_survive_mozyr_d": rng.uniform(8, 20) if r % 4 else np.nan,
                         "time_to_recover_mozyr_d": rng.uniform(3, 9) if r % 5 else np.nan})
        for f in FACILITIES:
            util = {"odesa_brody": rng.uniform(55, 65), "brody_mozyr": rng.uniform(88, 99)}.get(
                f, rng.uniform(10, 50))
            fac_rows.append({"replication": r, "facility": f, "utilisation_pct": util,
                             "closed_h": 120.0 if f == "brody_mozyr" else 0.0})
        for v in range(3):
            t0 = 24.0 + 192.0 * v
            voy_rows.append({"replication": r, "voyage": v, "tanker": f"t{v}", "programme": "socar",
                             "load_port": "supsa", "discharge_port": "pivdennyi", "cargo_t": 85_000.0,
                             "arrive_load_h": t0, "berth_load_h": t0 + rng.uniform(0, 30),
                             "load_start_h": t0 + 30, "load_end_h": t0 + 70, "arrive_discharge_h": t0 + 110,
                             "berth_discharge_h": t0 + 110 + rng.uniform(0, 20), "discharge_start_h": t0 + 130,
                             "discharge_end_h": t0 + 170})
    pd.DataFrame(dis_rows).to_parquet(folder / "disruption_kpis.parquet")
    pd.DataFrame(ts_rows, columns=["replication", "day", "date", "facility", "kind", "value_t"]).to_parquet(
        folder / "timeseries.parquet")
    pd.DataFrame(kpi_rows).to_parquet(folder / "kpis.parquet")
    pd.DataFrame(fac_rows).to_parquet(folder / "facility_kpis.parquet")
    pd.DataFrame(voy_rows).to_parquet(folder / "voyages.parquet")
    # the citations the runner records from the source file and seeds/ when a run starts
    source = folder.parent / "mini.yaml"
    source.write_text(SCENARIO_YAML, encoding="utf-8")
    cites = runner.source_citations(runner.prepare(source))
    (folder / "manifest.json").write_text(json.dumps({
        "scenario_hash": "abc123def456", "seed": seed, "replications": reps, "executor": "serial",
        "versions": {"routesim": "0.1.0"}, "status": "complete",
        "citations": [c.model_dump(exclude_none=True) for c in cites]}), encoding="utf-8")
    (folder / "summary.json").write_text("{}", encoding="utf-8")
    return folder


# ------------------------------------------------------------ independent expectations


def q(values) -> tuple[float, float, float, float]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    p5, p50, p95 = np.quantile(v, [0.05, 0.5, 0.95])
    return v.mean(), p5, p50, p95


SCALE = {"delivered_t": 1e-3, "demand_t": 1e-3, "shortfall_t": 1e-3}
DIGITS = {"hhi_origin": 0, "hhi_route": 0}


def shown(col: str, x: float) -> str:
    return f"{x * SCALE.get(col, 1.0):,.{DIGITS.get(col, 1)}f}"


def expected_numbers(folder: Path) -> dict[str, str]:
    """Every number the headline may print, named, from the Parquet tables alone."""
    k = pd.read_parquet(folder / "kpis.parquet")
    ts = pd.read_parquet(folder / "timeseries.parquet")
    fk = pd.read_parquet(folder / "facility_kpis.parquet")
    out: dict[str, str] = {"days": str(DAYS), "reps": str(len(k)), "start": "2021-01-01"}
    for col in ("delivered_t", "demand_t", "demand_met_pct", "shortfall_t", "cut_run_days", "min_days_cover"):
        mean, p5, _, p95 = q(k[col])
        out[f"{col}.mean"], out[f"{col}.p5"], out[f"{col}.p95"] = (shown(col, x) for x in (mean, p5, p95))
    dk = pd.read_parquet(folder / "disruption_kpis.parquet")
    for col, name in (("held_back_t", "held"), ("time_to_survive_mozyr_d", "survive"),
                      ("time_to_recover_mozyr_d", "recover")):
        mean, p5, _, p95 = q(dk[col])
        scale = 1e-3 if col.endswith("_t") else 1.0
        out[f"{name}.mean"], out[f"{name}.p5"], out[f"{name}.p95"] = (f"{x * scale:,.1f}" for x in (mean, p5, p95))
    out["cut_reps"] = str(int(dk.time_to_survive_mozyr_d.notna().sum()))
    out["not_recovered"] = str(int(dk.time_to_recover_mozyr_d.isna().sum()))
    out["short_share"] = f"{100.0 * (k.shortfall_t > 0).mean():.0f}"
    # lowest stock: the day boundary of the minimum stock per replication, as dates
    stock = ts[(ts.kind == "stock") & (ts.facility == "mozyr")].pivot(index="replication", columns="day",
                                                                     values="value_t")
    low = stock.to_numpy().argmin(axis=1)
    for name, x in zip(("low.p5", "low.p50", "low.p95"), np.quantile(low, [0.05, 0.5, 0.95], method="nearest"),
                       strict=True):
        out[name] = (dt.date(2021, 1, 1) + dt.timedelta(days=int(x))).isoformat()
    # binding facility: brody_mozyr has the highest utilisation in every replication
    top = fk.sort_values(["replication", "utilisation_pct"], ascending=[True, False]).groupby("replication").head(1)
    assert set(top.facility) == {"brody_mozyr"}
    out["binding_share"] = "100"
    mean, p5, _, p95 = q(fk[fk.facility == "brody_mozyr"].utilisation_pct)
    out["util.mean"], out["util.p5"], out["util.p95"] = (f"{x:,.1f}" for x in (mean, p5, p95))
    return out


NUMBER = re.compile(r"\d{4}-\d{2}-\d{2}|\d[\d,]*(?:\.\d+)?")


def section(md: str, title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", md, flags=re.S | re.M)
    assert m, f"no section {title!r}"
    return m.group(1)


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    folder = write_run(tmp_path_factory.mktemp("runs") / "run1")
    briefmod.brief(folder)
    return folder


def test_every_number_in_the_headline_comes_from_the_tables(run_folder):
    md = (run_folder / "brief.md").read_text(encoding="utf-8")
    head = section(md, "In detail")
    expected = expected_numbers(run_folder)
    allowed = set(expected.values()) | {"5", "95"}  # the p5–p95 labels themselves
    found = NUMBER.findall(head.replace("p5–p95", ""))
    assert found, head
    strays = [n for n in found if n not in allowed]
    assert not strays, f"numbers in the headline not found in the tables: {strays}\n{head}"
    # and the main figures are all there, with their ranges
    for key in ("delivered_t", "demand_met_pct", "shortfall_t", "min_days_cover", "held", "survive", "recover"):
        assert f"{expected[key + '.mean']}" in head and f"{expected[key + '.p5']}–{expected[key + '.p95']}" in head
    assert f"around {expected['low.p50']} (median; p5–p95 {expected['low.p5']} to {expected['low.p95']})" in head
    assert (f"The Brody–Mozyr pipeline bound the flow: it ran at {expected['util.mean']}% (p5–p95 "
            f"{expected['util.p5']}–{expected['util.p95']}%) of its capacity and was the most utilised leg or port "
            "in 100% of") in head
    # flow held back (from paired runs) is throughput forgone at the facility, and the brief says so
    assert "The disruption that held back the most flow, the Brody closed (active in 20 of 20 replications" in head
    assert ("of flow held back at the Brody–Mozyr pipeline: throughput forgone there while it acted, against the same "
            "replications without it; the crude may still arrive later") in head
    assert "flow lost" not in head
    assert f"before cutting runs (in {expected['cut_reps']} of 20 replications; it never ran short" in head
    assert f"(not recovered by the end in {expected['not_recovered']} of 20)" in head


def test_key_figures_table_matches_the_kpis(run_folder):
    md = (run_folder / "brief.md").read_text(encoding="utf-8")
    k = pd.read_parquet(run_folder / "kpis.parquet")
    rows = [r for r in section(md, "Key figures").splitlines() if r.startswith("| ") and "mean" not in r]
    labels = {"crude delivered (kt)": "delivered_t", "shortfall (kt)": "shortfall_t",
              "lowest days of cover (d)": "min_days_cover", "demand met (%)": "demand_met_pct",
              "tanker voyages": "voyages", "concentration by origin (HHI)": "hhi_origin",
              "days with cut runs (d)": "cut_run_days"}
    seen = set()
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        if cells[0] in labels:
            col = labels[cells[0]]
            mean, p5, p50, p95 = q(k[col])
            assert cells[1:] == [shown(col, x) for x in (mean, p5, p50, p95)], (col, cells)
            seen.add(col)
    assert seen == set(labels.values())


def test_dependency_and_disruption_tables_come_from_the_run(run_folder):
    md = (run_folder / "brief.md").read_text(encoding="utf-8")
    assert "| all refineries | origin | azeri | 100.0 | 100.0 | 100.0 |" in section(md, "Dependency")
    dis = section(md, "Disruptions")
    dk = pd.read_parquet(run_folder / "disruption_kpis.parquet")
    mean, p5, _, p95 = q(dk["held_back_t"])
    assert (f"| Brody closed (this scenario) | closure | Brody–Mozyr pipeline | from 2021-01-10 for 5.0 d | 100 | "
            f"{mean / 1e3:,.1f} kt (p5–p95 {p5 / 1e3:,.1f}–{p95 / 1e3:,.1f} kt) | 0 h (in every replication) "
            "| test |") in dis


def test_assumptions_and_what_was_run(run_folder):
    md = (run_folder / "brief.md").read_text(encoding="utf-8")
    a = section(md, "Appendix C: assumptions and sources")
    assert "| sangachal | source | rate 3.6 Mt/y; tank 100.0 kt (initial 50.0 kt) | ROUTE_FACTS: WREP | assumed |" in a
    assert "| supsa | terminal |" in a and "not given" in a
    assert "| socar | every | 8d | programme.interval = 8 d | A | assumed for the test |" in a
    assert "| socar | first | 1d | programme.first_missing | ? | seed entry not found in seeds/ |" in a
    w = section(md, "Appendix D: what was run")
    for row in ("| scenario hash | abc123def456 |", "| seed | 7 |", "| replications | 20 |",
                "| routesim version | 0.1.0 |"):
        assert row in w


def test_charts_are_written_as_png_and_svg_and_linked(run_folder):
    md = (run_folder / "brief.md").read_text(encoding="utf-8")
    for stem in ("delivered", "cover", "timeline", "waits", "utilisation", "route_map"):
        assert (run_folder / "charts" / f"{stem}.png").stat().st_size > 10_000
        assert (run_folder / "charts" / f"{stem}.svg").exists()
        assert f"](charts/{stem}.png)" in md


def test_html_is_self_contained(tmp_path):
    folder = write_run(tmp_path / "run", reps=5)
    out = briefmod.brief(folder, format="html")
    text = out.read_text(encoding="utf-8")
    assert out.name == "brief.html" and text.startswith("<!DOCTYPE html>")
    assert text.count('src="data:image/png;base64,') == 6  # cover, delivered, timeline, map, waits, utilisation
    assert 'src="charts/' not in text
    assert "<th>figure</th>" in text


def test_no_shortfall_is_said_plainly(tmp_path):
    folder = write_run(tmp_path / "run", reps=5)
    k = pd.read_parquet(folder / "kpis.parquet").assign(shortfall_t=0.0, demand_met_pct=100.0, cut_run_days=0.0)
    k.to_parquet(folder / "kpis.parquet")
    head = section(briefmod.brief(folder).read_text(encoding="utf-8"), "In detail")
    assert "No replication fell short of demand." in head
    assert "shortfall was" not in head


def test_bad_run_folder_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="no such run folder"):
        briefmod.brief(tmp_path / "nope")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "manifest.json").write_text("{}")
    with pytest.raises(UserError, match=r"missing scenario.yaml"):
        briefmod.brief(tmp_path / "half")
    with pytest.raises(UserError, match="unknown brief format"):
        briefmod.brief(tmp_path / "half", format="pdf")  # type: ignore[arg-type]


def test_against_a_baseline_each_difference_is_flagged_from_sim_compare(tmp_path):
    from sim.analysis.compare import compare

    base = write_run(tmp_path / "base", reps=10, seed=7)
    run = write_run(tmp_path / "run", reps=10, seed=8, shift_t=60_000.0)  # about +2 kt/d delivered
    md = briefmod.brief(run, vs=base).read_text(encoding="utf-8")
    against = section(md, "Against mini corridor")
    kb, kr = pd.read_parquet(base / "kpis.parquet"), pd.read_parquet(run / "kpis.parquet")
    verdicts = compare([base, run]).set_index("kpi")
    rows = {r.split("|")[1].strip(): [c.strip() for c in r.strip().strip("|").split("|")]
            for r in against.splitlines() if r.startswith("| ") and "verdict" not in r}
    cells = rows["crude delivered to the refineries (kt)"]
    diff = kr.delivered_t.mean() - kb.delivered_t.mean()
    assert cells[1:4] == [f"{kr.delivered_t.mean() / 1e3:,.1f}", f"{kb.delivered_t.mean() / 1e3:,.1f}",
                          f"{'+' if diff > 0 else ''}{diff / 1e3:,.1f}"]
    v = verdicts.loc["delivered_t"]
    assert cells[4] == f"{v.ci_low / 1e3:,.1f} to {v.ci_high / 1e3:,.1f}"
    assert cells[5] == ("beyond noise" if v.significant else "within noise")
    assert v.significant  # 60 kt more over 30 days is far outside the replication noise here
    # demand is the same in both runs: a zero difference, within noise
    assert rows["demand (kt)"][3:] == ["0.0", "0.0 to 0.0", "within noise"]
    assert "crude delivered" in against.split("\n\n")[0] and "within noise" in against


def test_brief_and_compare_print_the_same_interval_on_the_same_two_runs(tmp_path):
    """Two runs with the same seed and replications (seed 7, 10 replications) whose figures
    are identical: replication by replication every difference is 0, so the paired interval
    is exactly [0, 0].  The brief used Welch's interval on the same two tables, which is
    about +-1.8 kt here (two samples with 1.5 kt/d of daily noise each); now it asks
    sim.analysis.compare, which pairs them, and both print 0.0 to 0.0."""
    from sim.analysis.compare import compare

    base = write_run(tmp_path / "base", reps=10, seed=7)
    run = write_run(tmp_path / "run", reps=10, seed=7)
    v = compare([base, run]).set_index("kpi").loc["delivered_t"]
    assert v.method == "paired" and v.n_paired == 10 and (v.ci_low, v.ci_high) == (0.0, 0.0)
    against = section(briefmod.brief(run, vs=base).read_text(encoding="utf-8"), "Against mini corridor")
    row = next(r for r in against.splitlines() if r.startswith("| crude delivered to the refineries (kt)"))
    assert [c.strip() for c in row.strip("|").split("|")][3:] == ["0.0", "0.0 to 0.0", "within noise"]
    assert "paired by replication, 10 replications paired" in against


@pytest.mark.slow
def test_brief_of_a_real_run_matches_its_tables(tmp_path, valid_scenario):
    """End to end: the runner writes the run, the brief reads it, the numbers agree."""
    from sim.runner import run

    res = run(valid_scenario, replications=3, seed=11, executor="serial", out=tmp_path / "run", progress=False)
    md = briefmod.brief(res.path).read_text(encoding="utf-8")
    head = section(md, "In detail")
    k = pd.read_parquet(res.path / "kpis.parquet")
    dk = pd.read_parquet(res.path / "disruption_kpis.parquet")
    assert "Over 90 days from 2021-01-01 (3 replications)" in head
    assert f"against a demand of {k.demand_t.mean() / 1e3:,.1f} kt" in head
    mean, p5, _, p95 = q(k.delivered_t)
    if f"{p5 / 1e3:,.1f}" == f"{p95 / 1e3:,.1f}" == f"{mean / 1e3:,.1f}":
        assert f"received {mean / 1e3:,.1f} kt (in every replication)" in head
    else:
        assert f"received {mean / 1e3:,.1f} kt (p5–p95 {p5 / 1e3:,.1f}–{p95 / 1e3:,.1f} kt)" in head
    assert f"ran lowest at {k.min_days_cover.mean():,.1f} d" in head
    storm = dk[dk.disruption == "pivdennyi-storm"]
    assert (storm.activations > 0).all()  # a fixed window: active in every replication
    assert ("| Pivdennyi storm (this scenario) | closure | Pivdennyi | from 2021-01-20 for 3.0 d | 100 |"
            in section(md, "Disruptions"))
    assert "| seed | 11 |" in md and f"| scenario hash | {res.manifest['scenario_hash']} |" in md


def numbers_derivable_from(folder: Path) -> set[str]:
    """Every way the brief may print a statistic of the run's tables: the mean, p5, p50 and
    p95 of each column (over all rows, per facility, per disruption over its active
    replications), in t, kt or as is, with 0 or 1 decimal; counts and shares of
    replications; the dates and the length of the horizon."""
    k = pd.read_parquet(folder / "kpis.parquet")
    fk = pd.read_parquet(folder / "facility_kpis.parquet")
    dk = pd.read_parquet(folder / "disruption_kpis.parquet")
    n = len(k)
    groups = [k] + [g for _, g in fk.groupby("facility")] + [g[g.activations > 0] for _, g in dk.groupby("disruption")]
    out: set[str] = set()
    for g in groups:
        for col in g.columns:
            if not pd.api.types.is_numeric_dtype(g[col]) or pd.api.types.is_bool_dtype(g[col]):
                continue
            v = g[col].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            if not v.size:
                continue
            for x in (v.mean(), *np.quantile(v, [0.05, 0.5, 0.95])):
                for scale in (1.0, 1e-3):
                    out |= {f"{x * scale:,.1f}", f"{x * scale:,.0f}"}
    out |= {str(i) for i in range(n + 1)} | {f"{100.0 * i / n:.0f}" for i in range(n + 1)}
    start = dt.date(2021, 1, 1)
    out |= {(start + dt.timedelta(days=d)).isoformat() for d in range(367)}
    ts = pd.read_parquet(folder / "timeseries.parquet", columns=["day", "kind"])
    out.add(str(int(ts.loc[ts.kind != "stock", "day"].max()) + 1))  # days in the daily series
    return out


@pytest.mark.slow
def test_every_headline_number_of_a_real_what_if_brief_is_in_its_tables(tmp_path):
    """The baseline and a what-if run by the runner; the what-if's brief against it."""
    from sim.analysis.compare import compare
    from sim.runner import run

    scenarios = Path(__file__).parent.parent / "scenarios"
    base = run(scenarios / "baseline.yaml", replications=3, seed=4, executor="serial", out=tmp_path / "base",
               progress=False)
    what_if = run(scenarios / "odesa_brody_outage.yaml", replications=3, seed=4, executor="serial",
                  out=tmp_path / "what_if", progress=False)
    md = briefmod.brief(what_if.path, vs=base.path).read_text(encoding="utf-8")
    head = section(md, "In detail")
    allowed = numbers_derivable_from(what_if.path) | {"5", "95"}
    strays = [x for x in NUMBER.findall(head) if x not in allowed]
    assert not strays, f"headline numbers not derivable from the tables: {strays}\n{head}"
    # the comparison table: each mean and difference as sim.analysis.compare gives it
    verdicts = compare([base.path, what_if.path]).set_index("kpi")
    # the body's table keeps what moved; every figure is in Appendix A
    appendix = section(md, "Appendix A: every figure against baseline")
    assert "| lowest days of cover above minimum stock (d) |" in appendix
    v = verdicts.loc["min_days_cover"]
    row = next(r for r in section(md, "Appendix A: every figure against baseline").splitlines()
               if r.startswith("| lowest days of cover"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:3] == [f"{v.mean_run:,.1f}", f"{v.mean_baseline:,.1f}"]
    assert cells[5] == ("beyond noise" if v.significant else "within noise")
    # key figures: each cell is the statistic of its KPI column
    k = pd.read_parquet(what_if.path / "kpis.parquet")
    row = next(r for r in section(md, "Key figures").splitlines() if r.startswith("| shortfall (kt)"))
    assert [c.strip() for c in row.strip("|").split("|")][1:] == [f"{x / 1e3:,.1f}" for x in q(k.shortfall_t)]


def test_charts_carry_axis_labels_with_units_and_legends(run_folder):
    """Labels are kept as text in the SVGs, so they can be checked (and read by screen readers)."""
    expected = {
        "delivered": ["cumulative delivered − demand (kt)", "crude per day, 7-day mean (kt/d)",
                      "deliveries equal demand"],
        "cover": ["stock in days of demand (d)", "minimum operating (5.0 d)", "cover: p5–p95"],
        "waits": ["wait per tanker (h)", "Supsa (berth), n=60", "median"],
        "utilisation": ["utilisation (%)", "closed (days)", "p5–p95"],
        "route_map": ["longitude (°E)", "latitude (°N)", "Brody–Mozyr pipeline", "Mt/y",
                      "this scenario's disruption:"],
    }
    for stem, labels in expected.items():
        svg = (run_folder / "charts" / f"{stem}.svg").read_text(encoding="utf-8")
        for label in labels:
            assert label in svg, (stem, label)


@pytest.mark.slow
def test_per_refinery_shares_reach_facility_kpis_and_the_brief(tmp_path):
    from sim.runner import run

    res = run(Path(__file__).parent.parent / "scenarios" / "baseline.yaml", replications=2, seed=4,
              executor="serial", out=tmp_path / "run", progress=False)
    fk = pd.read_parquet(res.path / "facility_kpis.parquet").set_index(["replication", "facility"])
    naftan = fk.loc[(0, "naftan")]
    assert naftan["share_origin_russian_pct"] == pytest.approx(100.0)  # Naftan only takes Druzhba crude
    assert naftan["hhi_origin"] == pytest.approx(10_000.0)
    assert np.isnan(fk.loc[(0, "odesa_brody"), "share_origin_russian_pct"])  # not a refinery
    mozyr = fk.loc[(0, "mozyr")]
    assert mozyr["share_origin_azeri_pct"] + mozyr["share_origin_russian_pct"] == pytest.approx(100.0)
    md = briefmod.brief(res.path).read_text(encoding="utf-8")
    assert "| naftan | origin | russian | 100.0 | 100.0 | 100.0 |" in section(md, "Dependency")


def test_brief_command_writes_the_document_and_refuses_bad_input_plainly(tmp_path, cli):
    folder = write_run(tmp_path / "run", reps=3)
    r = cli("brief", folder, "--format", "html")
    assert r.code == 0 and f"wrote {folder / 'brief.html'}" in r.out
    r = cli("brief", tmp_path / "missing")
    assert r.code == 2 and "no such run folder" in r.err and "Traceback" not in r.text
    r = cli("brief", folder, "--format", "pdf")
    assert r.code == 2 and "invalid choice: 'pdf'" in r.err
    r = cli("criticality", tmp_path / "nope.yaml")
    assert r.code == 2 and "no such scenario file" in r.err
    r = cli("sensitivity", tmp_path)
    assert r.code == 2 and "no sweep.parquet" in r.err


# ------------------------------------------------------------ counterfactual attribution

COST_STEMS = (("delivered_lost_t", 1e-3, 1, " kt", 20_000, 40_000),
              ("shortfall_added_t", 1e-3, 1, " kt", 1_000, 15_000),
              ("cut_run_days_added", 1.0, 1, " d", 0.5, 3.0), ("min_days_cover_change_d", 1.0, 1, " d", -3.0, -1.0),
              ("wait_added_h", 1.0, 0, " h", 2.0, 90.0))


def write_attribution(folder: Path, reps: int, seed: int = 3) -> pd.DataFrame:
    """An attribution table as ``routesim attribute --into`` writes it, from a seeded generator:
    for each figure, sorted draws give p5 <= CI low <= mean <= CI high <= p95."""
    rng = np.random.default_rng(seed)
    rows = []
    for name in ("brody_closed", "all disruptions"):
        r = {"disruption": name, "removed": "brody_closed", "replications": reps, "run": f"attribution/{name}"}
        for stem, _, _, _, lo, hi in COST_STEMS:
            v = np.sort(rng.uniform(lo, hi, 5))
            r.update({f"{stem}_p5": v[0], f"{stem}_ci_low": v[1], f"{stem}_mean": v[2], f"{stem}_ci_high": v[3],
                      f"{stem}_p95": v[4]})
        rows.append(r)
    table = pd.DataFrame(rows)
    table.to_parquet(folder / "attribution.parquet")
    return table


def cost_text(r: pd.Series, stem: str) -> tuple[str, str]:
    """(``mean unit (p5–p95 lo–hi unit)``, ``ci_low to ci_high unit``) as the brief must print them."""
    _, scale, digits, unit, _, _ = next(c for c in COST_STEMS if c[0] == stem)
    f = {s: f"{r[f'{stem}_{s}'] * scale:,.{digits}f}" for s in ("mean", "p5", "p95", "ci_low", "ci_high")}
    return (f"{f['mean']}{unit} (p5–p95 {f['p5']}–{f['p95']}{unit})", f"{f['ci_low']} to {f['ci_high']}{unit}")


def test_an_attribution_table_in_the_run_folder_is_the_cost_to_the_refineries(tmp_path):
    folder = write_run(tmp_path / "run", reps=20)
    table = write_attribution(folder, reps=20)
    md = briefmod.brief(folder).read_text(encoding="utf-8")
    head = section(md, "In detail")
    own, every = table.iloc[0], table.iloc[1]
    lost, lost_ci = cost_text(own, "delivered_lost_t")
    expected = expected_numbers(folder)
    # the headline prefers the counterfactual figure, and still says what was held back where
    assert (f"The disruption that cost the refineries the most crude, the Brody closed (active in 20 of 20 "
            f"replications; "
            f"without it the refineries would have received {lost} more crude (95% CI {lost_ci}); it held back "
            f"{expected['held.mean']} kt (p5–p95 {expected['held.p5']}–{expected['held.p95']} kt) of flow at "
            f"the Brody–Mozyr pipeline while it acted, against the same replications without it)") in head
    all_lost, all_ci = cost_text(every, "delivered_lost_t")
    all_short, _ = cost_text(every, "shortfall_added_t")
    assert (f"Without any of the disruptions (the same replications and seed), the refineries would have received "
            f"{all_lost} more crude (95% CI {all_ci}); the disruptions added {all_short} of shortfall.") in head
    # no number in the headline comes from anywhere but the run's tables and the attribution table
    allowed = set(expected.values()) | {"5", "95"}
    for _, r in table.iterrows():
        for stem, scale, digits, _, _, _ in COST_STEMS:
            allowed |= {f"{r[f'{stem}_{s}'] * scale:,.{digits}f}" for s in ("mean", "p5", "p95", "ci_low", "ci_high")}
    strays = [x for x in NUMBER.findall(head.replace("p5–p95", "")) if x not in allowed]
    assert not strays, f"numbers in the headline not found in the tables: {strays}\n{head}"
    # the cost table: a row per disruption, every cell from the attribution table
    rows = {r.split("|")[1].strip(): [c.strip() for c in r.strip().strip("|").split("|")]
            for r in section(md, "Disruptions").split("### Cost to the refineries")[1].splitlines()
            if r.startswith("| ") and "95% CI" not in r}
    assert set(rows) == {"Brody closed", "all disruptions"}
    for _, r in table.iterrows():
        cells = rows[{"brody_closed": "Brody closed"}.get(r["disruption"], r["disruption"])]
        assert cells[1:3] == list(cost_text(r, "delivered_lost_t"))
        assert cells[3:] == [cost_text(r, stem)[0] for stem, *_ in COST_STEMS[1:]]


def test_without_an_attribution_table_the_brief_says_how_to_get_one(tmp_path, monkeypatch):
    """The command names the run folder as the user would type it from where they stand (here
    the folder above the run: ``run``), as a code span, so it works when pasted; from elsewhere
    the path is absolute."""
    folder = write_run(tmp_path / "run", reps=5)
    monkeypatch.chdir(tmp_path)
    md = briefmod.brief(folder).read_text(encoding="utf-8")
    dis = section(md, "Disruptions")
    assert "Cost to the refineries" not in dis
    assert "`routesim attribute --into run`" in dis and "the crude may still arrive later" in dis
    assert "`routesim attribute --into run`" in section(md, "Bottom line")
    elsewhere = tmp_path / "elsewhere" / "deeper" / "still"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    assert f"`routesim attribute --into {folder.resolve()}`" in briefmod.brief(folder).read_text(encoding="utf-8")
    # a table of other replications (a stale or foreign file) is not used
    write_attribution(folder, reps=4)
    md = briefmod.brief(folder).read_text(encoding="utf-8")
    assert "Cost to the refineries" not in md and "cost the refineries the most crude" not in md


@pytest.mark.slow
def test_attribute_into_a_real_run_reaches_its_brief(tmp_path):
    """End to end: run, attribute into the run, brief; the cost rows are the table's."""
    from sim.analysis.attribution import attribute_run
    from sim.runner import run

    scenarios = Path(__file__).parent.parent / "scenarios"
    res = run(scenarios / "odesa_brody_outage.yaml", replications=2, seed=4, executor="serial",
              out=tmp_path / "run", progress=False)
    table = attribute_run(res.path, executor="serial", progress=False)
    md = briefmod.brief(res.path).read_text(encoding="utf-8")
    cost = section(md, "Disruptions").split("### Cost to the refineries")[1]
    r = table[table.disruption == "odesa_brody_outage"].iloc[0]
    row = next(x for x in cost.splitlines() if x.startswith("| Odesa–Brody outage |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    mean = f"{r.delivered_lost_t_mean / 1e3:,.1f}"
    assert cells[1].startswith(f"{mean} kt")
    assert "| all disruptions |" in cost
