"""Golden regression values: KPIs of the baseline and two what-ifs at a fixed seed and
replication count, so a change that moves them is noticed and has to be explained.

The values live in ``tests/golden/*.json``.  After a deliberate change of the model, the
metrics or the baseline, regenerate them with

    .venv/bin/python -m tests.test_validation_golden --regenerate

and say in the commit message which KPIs moved and why (``git diff tests/golden`` shows
them).  The what-ifs are pinned copies in ``tests/golden/*.yaml`` (extending the
baseline), so editing a published scenario in ``scenarios/`` never moves a golden value.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.model import counterfactual
from sim.results import metrics
from sim import rng
from sim.scenario.loader import load_scenario
from sim.model import simulate

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
REPLICATIONS = 10
CASES = {
    "baseline": ROOT / "scenarios" / "baseline.yaml",
    "whatif_bosphorus_closed_10d": GOLDEN / "whatif_bosphorus_closed_10d.yaml",
    "whatif_odesa_brody_outage": GOLDEN / "whatif_odesa_brody_outage.yaml",
}
# Run-level KPIs (mean over the replications) that a briefing quotes.
KPIS = (
    "delivered_t", "delivered_mozyr_t", "run_t", "demand_met_pct", "shortfall_t", "shortfall_mozyr_t",
    "cut_run_days", "min_days_cover", "min_days_cover_mozyr", "voyages", "cargo_delivered_by_sea_t",
    "cycle_h_mean", "cycle_h_p95", "waits", "wait_h_total", "wait_berth_h_total", "wait_cargo_h_total",
    "wait_tank_room_h_total", "wait_closed_h_total", "wait_daylight_h_total", "wait_delay_h_total",
    "demurrage_h", "demurrage_usd", "disruption_activations", "share_origin_azeri_pct",
)
# Plus ``held_back.<disruption>``: each disruption's flow held back at its targets (mean of
# disruption_kpis.held_back_t, from the paired replication without it, as `run --held-back`).
# Facility KPIs pinned as well: (facility, column).
FACILITY_KPIS = (
    ("brody_mozyr", "throughput_t"), ("odesa_brody", "throughput_t"), ("pivdennyi", "utilisation_pct"),
    ("bosphorus", "closed_h"), ("mozyr", "shortfall_t"),
)


def compute(case: str) -> dict:
    scenario = load_scenario(CASES[case])
    rows, fac_rows, dis_rows = [], [], []
    for i in range(REPLICATIONS):  # replication i of the run seed, as sim.runner does
        seq = rng.replication_seed(scenario.seed, i)
        records = simulate(scenario, seq)
        facilities = metrics.facility_kpis(records, scenario)
        rows.append(metrics.replication_kpis(records, scenario, facilities))
        fac_rows.extend(facilities)
        dis_rows.extend(metrics.disruption_kpis(records, scenario,
                                                held_back=counterfactual.held_back(scenario, seq, records)))
    kpis = pd.DataFrame(rows)
    fac = pd.DataFrame(fac_rows)
    values: dict[str, float] = {}
    for k in KPIS:
        values[k] = float(kpis[k].mean())
    for facility, column in FACILITY_KPIS:
        rows = fac[fac["facility"] == facility]
        values[f"{facility}.{column}"] = float(rows[column].mean())
    dis = pd.DataFrame(dis_rows)
    for d in scenario.disruptions:
        values[f"held_back.{d.name}"] = float(dis[dis["disruption"] == d.name]["held_back_t"].mean())
    return {
        "scenario": str(CASES[case].relative_to(ROOT)),
        "seed": scenario.seed,
        "replications": REPLICATIONS,
        "statistic": "mean over replications 0..N-1 of the run seed",
        "regenerate": ".venv/bin/python -m tests.test_validation_golden --regenerate",
        "kpis": values,
    }


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def _load(case: str) -> dict:
    path = GOLDEN / f"{case}.json"
    assert path.is_file(), f"missing {path.name}: run .venv/bin/python -m tests.test_validation_golden --regenerate"
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=lambda c: float(c))


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_kpis_unchanged(case: str) -> None:
    want = _load(case)
    got = compute(case)
    assert (got["seed"], got["replications"]) == (want["seed"], want["replications"])
    moved = [f"{k}: {want['kpis'].get(k)!r} -> {v!r}" for k, v in got["kpis"].items()
             if not _same(v, want["kpis"].get(k))]
    assert not moved, (f"{case}: KPIs moved (explain the change, then regenerate with "
                       f"`{want['regenerate']}`):\n  " + "\n  ".join(moved))


def test_golden_values_tell_the_whatifs_apart() -> None:
    """The pinned what-ifs must actually differ from the baseline where they should."""
    base, bos, odb = (_load(c)["kpis"]
                      for c in ("baseline", "whatif_bosphorus_closed_10d", "whatif_odesa_brody_outage"))
    assert bos["bosphorus.closed_h"] >= 240.0 > base["bosphorus.closed_h"]
    assert bos["wait_closed_h_total"] > base["wait_closed_h_total"]
    assert bos["cycle_h_mean"] > base["cycle_h_mean"]
    assert odb["held_back.odesa_brody_outage"] > 0.0 == base.get("held_back.odesa_brody_outage", 0.0)
    assert odb["min_days_cover_mozyr"] < base["min_days_cover_mozyr"]


def regenerate() -> None:
    for case in sorted(CASES):
        data = compute(case)
        (GOLDEN / f"{case}.json").write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        print(f"wrote tests/golden/{case}.json")


if __name__ == "__main__":
    if sys.argv[1:] == ["--regenerate"]:
        regenerate()
    else:
        print("usage: python -m tests.test_validation_golden --regenerate", file=sys.stderr)
        raise SystemExit(2)
