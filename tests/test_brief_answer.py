"""The bottom line of a change answers the what-if's question per refinery.

After the change sentence, each refinery's crude by route (kt, Mt/y, share of its intake,
p5–p95 over replications) with the port-to-refinery lead time of each seaborne route; and,
for a refinery that gets enough seaborne crude for long enough, its sustained seaborne
rate, the time the ramp-up takes and the facility that binds its seaborne path.  Each
figure is worked by hand on small synthetic tables (the mini corridor of
``tests/test_brief.py``, 120 days, two replications).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.report.changes import (answer_sentences, refinery_routes, route_binding, route_lead_times,
                                seaborne_daily_t, seaborne_path, sustained_rates)
from sim.results.store import RunResult
from sim.scenario.loader import load_scenario
from tests.test_brief import SCENARIO_YAML


def cargo(rep: int, first_h: float, last_h: float, tonnes: float, lead_h: float = 48.0) -> dict:
    return {"replication": rep, "voyage": 0, "programme": "socar", "load_port": "supsa",
            "discharge_port": "pivdennyi", "refinery": "mozyr", "first_tonne_h": first_h,
            "last_tonne_h": last_h, "refinery_t": tonnes, "lead_first_h": lead_h}


def ramp_cargoes(rep: int, start_day: int, lead_h: float) -> list[dict]:
    """100 kt cargoes back to back, each over 10 days (240 h), from ``start_day`` to day 120:
    10 kt/d into Mozyr from that day on, nothing before."""
    n = (120 - start_day) // 10
    return [cargo(rep, 24.0 * start_day + 240.0 * k, 24.0 * start_day + 240.0 * (k + 1), 100_000.0, lead_h)
            for k in range(n)]


def make_run(tmp_path: Path, *, horizon: str = "120d", cargoes: list[dict] | None = None) -> RunResult:
    path = tmp_path / "run"
    path.mkdir(parents=True)
    (path / "scenario.yaml").write_text(SCENARIO_YAML.replace("horizon: 30d", f"horizon: {horizon}"),
                                        encoding="utf-8")
    if cargoes is None:  # replication 0 ramps up from day 20 (10 cargoes), replication 1 from day 30 (9)
        cargoes = ramp_cargoes(0, 20, 48.0) + ramp_cargoes(1, 30, 72.0)
    kpis = pd.DataFrame({"replication": [0, 1], "delivered_t": [100_000.0, 200_000.0]})
    fac = pd.DataFrame({
        "replication": [0, 1, 0, 1, 0, 1, 0, 1],
        "facility": ["mozyr", "mozyr", "wrep", "wrep", "brody_mozyr", "brody_mozyr", "supsa", "supsa"],
        "delivered_t": [100_000.0, 200_000.0, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan],
        "share_route_supsa_pct": [60.0, 50.0, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan],
        "share_route_odesa_brody_pct": [40.0, 50.0, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan],
        "utilisation_pct": [np.nan, np.nan, 99.0, 99.0, 95.0, 93.0, 50.0, 60.0],
    })
    return RunResult(path, {}, {"scenario": load_scenario(path / "scenario.yaml"), "kpis": kpis,
                                "facility_kpis": fac, "cargoes": pd.DataFrame(cargoes),
                                "timeseries": pd.DataFrame()})


def test_crude_by_route_is_the_refinerys_intake_times_each_routes_share(tmp_path):
    """Mozyr took in 100 kt and 200 kt in the two replications, 60% and 50% by Supsa: 60 and
    100 kt, mean 80.0 kt, p5 = 60 + 0.05 × 40 = 62.0 kt, p95 = 98.0 kt; share mean 55.0%
    (p5 50.5, p95 59.5); the rest (40 and 100 kt, mean 70.0 kt) was in the Odesa–Brody line
    at the start.  80 kt over 120 days is 80,000 / 120 × 365 = 0.24 Mt/y."""
    run = make_run(tmp_path)
    supsa, start = refinery_routes(run)["mozyr"]
    assert (supsa.route, supsa.tonnes.mean, supsa.tonnes.p5, supsa.tonnes.p95) == ("supsa", 80_000.0, 62_000.0,
                                                                                   98_000.0)
    assert (supsa.share.mean, supsa.share.p5, supsa.share.p95) == pytest.approx((55.0, 50.5, 59.5))
    assert (start.route, start.tonnes.mean) == ("odesa_brody", 70_000.0)
    first = answer_sentences(run)[0]
    assert first.startswith("Mozyr receives 80.0 kt (p5–p95 62.0–98.0 kt) by Supsa (0.2 Mt/y, 55.0% "
                            "(p5–p95 50.5–59.5%) of its intake; its own crude's first tonne in ")
    assert "; 70.0 kt of opening stocks and linefill." in first


def test_a_routes_lead_time_is_the_median_of_its_cargoes_first_tonne_after_discharge_starts(tmp_path):
    """Cargoes whose first tonne reached Mozyr 48, 72 and 120 h after discharge started:
    2, 3 and 5 d; median 3.0 d, p5 (linear) 2 + 0.1 × 1 = 2.1 d, p95 3 + 0.9 × 2 = 4.8 d."""
    run = make_run(tmp_path, cargoes=[cargo(0, 100.0, 200.0, 1.0, 48.0), cargo(0, 300.0, 400.0, 1.0, 72.0),
                                      cargo(1, 100.0, 200.0, 1.0, 120.0)])
    lead = route_lead_times(run)[("mozyr", "supsa")]
    assert (lead.p50, lead.p5, lead.p95, lead.n) == pytest.approx((3.0, 2.1, 4.8, 3))
    assert ("its own crude's first tonne in 3.0 d (median; p5–p95 2.1–4.8 d) after discharge starts, over 3 "
            "cargoes, first in, first out behind the crude already in the tanks and lines)") in answer_sentences(run)[0]


def test_a_cargo_is_spread_evenly_from_its_first_to_its_last_tonne(tmp_path):
    """24 kt from hour 36 to hour 84 (48 h): day 1 gets hours 36–48 (a quarter, 6 kt), day 2
    all of its 24 h (12 kt), day 3 hours 72–84 (6 kt); the row sums to the cargo."""
    run = make_run(tmp_path, cargoes=[cargo(0, 36.0, 84.0, 24_000.0)])
    m = seaborne_daily_t(run, "mozyr")
    assert m.shape == (2, 120)
    assert m[0, :5] == pytest.approx([0.0, 6_000.0, 12_000.0, 6_000.0, 0.0])
    assert m.sum() == pytest.approx(24_000.0)


def test_the_sustained_rate_is_the_second_halfs_mean_and_the_ramp_up_ends_at_90_percent_of_it(tmp_path):
    """10 kt/d from day 20 (replication 0) and from day 30 (replication 1) to day 120: over
    the second half (days 60–119) 10 kt/d = 3.65 Mt/y in both (printed 3.6: the float
    3.65 lies just below it).  The trailing 30-day mean on
    day d is 10 × (days of supply in d−29..d) / 30, which reaches 9 kt/d once 27 of the 30
    days have supply: day 46 in replication 0 (days 20..46), so 47 days from the start, and
    day 56 in replication 1, 57 days; median 52.0 d, p5 47.5 d, p95 56.5 d.  The Brody–Mozyr
    pipeline is the busiest facility on the Supsa–Pivdennyi–Mozyr path (94.0% mean; WREP, at
    99%, feeds Supsa and is not on it)."""
    run = make_run(tmp_path)
    (sus,) = sustained_rates(run)
    assert sus.rate.mean == pytest.approx(10_000.0)
    assert (sus.ramp_days.p50, sus.ramp_days.p5, sus.ramp_days.p95) == pytest.approx((52.0, 47.5, 56.5))
    assert seaborne_path(run.scenario, "mozyr", ["supsa"], ["pivdennyi"]) == {
        "supsa", "pivdennyi", "supsa_pivdennyi", "odesa_brody", "brody_mozyr"}
    facility, util = route_binding(run, "mozyr")
    assert (facility, util.mean) == ("brody_mozyr", pytest.approx(94.0))
    assert ("It sustains 3.6 Mt/y of seaborne crude over the run's second half; its 30-day rate first reaches 90% "
            "of that 52.0 d (median; p5–p95 47.5–56.5 d) from the start; the Brody–Mozyr pipeline binds it, at "
            "94.0% (p5–p95 93.1–94.9%) of capacity.") in answer_sentences(run)[0]


def test_no_sustained_rate_for_a_short_run_or_too_few_cargoes(tmp_path):
    """The rule: at least 90 days, and a mean of at least 3 cargoes per replication starting
    into the refinery in the run's second half.  A 60-day run states none; so does a 120-day
    run whose replications get 2 cargoes each after day 60 (first tonnes at days 70 and 90)."""
    assert sustained_rates(make_run(tmp_path / "a", horizon="60d")) == []
    few = [cargo(r, 24.0 * d, 24.0 * d + 48.0, 50_000.0) for r in (0, 1) for d in (10, 70, 90)]
    run = make_run(tmp_path / "b", cargoes=few)
    assert sustained_rates(run) == []
    assert "sustains" not in answer_sentences(run)[0]


def test_in_the_brief_the_answer_follows_the_change_sentence(tmp_path):
    """The added-programme what-if of ``tests/test_brief_changes.py`` (four replications),
    Mozyr receiving 330 kt in each, all by Supsa (route share 100%):
    330 kt over 30 days is 11 kt/d, 11,000 × 365 / 10⁶ = 4.0 Mt/y.  Its question is not one
    of routes, so the paragraph opens with the change and its effect and the answer per
    refinery is the bullet after the list of changes; a 30-day run states no sustained rate."""
    from sim.report import brief as briefmod
    from tests.test_brief import section, write_run
    from tests.test_brief_changes import with_second_programme

    base = write_run(tmp_path / "base", reps=4, seed=7)
    run = write_run(tmp_path / "run", reps=4, seed=7)
    (run / "scenario.yaml").write_text(with_second_programme(SCENARIO_YAML), encoding="utf-8")
    fk = pd.read_parquet(run / "facility_kpis.parquet")
    fk["delivered_t"] = np.where(fk["facility"] == "mozyr", 330_000.0, np.nan)
    fk["share_route_supsa_pct"] = np.where(fk["facility"] == "mozyr", 100.0, np.nan)
    fk.to_parquet(run / "facility_kpis.parquet")
    md = briefmod.brief(run, vs=base).read_text(encoding="utf-8")
    paragraph, bullets = section(md, "Bottom line").strip().split("\n\n")[:2]
    assert paragraph.startswith("Against Mini corridor (one change: adding the programme Second Supsa"), paragraph
    items = [b.removeprefix("- ") for b in bullets.split("\n") if b.startswith("- ")]
    assert items[0].startswith("What this scenario changes against ")  # the change in full, then the answer
    # (then the Supsa cargoes' same-tonnage lead time from the run's voyages: tests/test_brief_same_tonnage.py)
    assert items[1].startswith("Mozyr receives 330.0 kt by Supsa (4.0 Mt/y, 100.0% of its intake; its tonnage "
                               "reaches Mozyr "), items
    assert "sustains" not in paragraph
