"""The brief gives each seaborne route's same-tonnage lead time, the one the 2020 record and
``routesim calibrate`` use: from the tanker's arrival off the discharge port to the instant
the line into the refinery has delivered all the tonnage discharged there up to and
including the cargo (linefill pushed out ahead of it), next to the cargo's own crude's time
(first in, first out).  One definition, :mod:`sim.results.lead`, serves both; the figures
are worked by hand on the mini corridor of ``tests/test_brief.py`` (Pivdennyi, Odesa–Brody,
Brody, Brody–Mozyr, Mozyr)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis import calibration as cal
from sim.report.changes import answer_lead, answer_sentences, line_into, route_same_tonnage_times
from sim.results.lead import same_tonnage_leads, tail_cumulative
from sim.results.store import RunResult
from sim.scenario.loader import load_scenario
from tests.test_brief import SCENARIO_YAML
from tests.test_brief_answer import cargo

DAYS = 10


def voyage(rep: int, v: int, tonnes: float, arrive_h: float, end_h: float) -> dict:
    return {"replication": rep, "voyage": v, "programme": f"p{v}", "load_port": "supsa",
            "discharge_port": "pivdennyi", "cargo_t": tonnes, "arrive_discharge_h": arrive_h,
            "discharge_end_h": end_h}


# replication 0: A (10 kt, arrives 0 h, discharged by 10 h) and B (10 kt, 24 h, 30 h), the line
# delivering 5 kt/d; replication 1: C (10 kt, 12 h, 20 h) and D (50 kt, 48 h, 60 h), 4 kt/d
VOYAGES = [voyage(0, 0, 10_000.0, 0.0, 10.0), voyage(0, 1, 10_000.0, 24.0, 30.0),
           voyage(1, 0, 10_000.0, 12.0, 20.0), voyage(1, 1, 50_000.0, 48.0, 60.0)]


def line_series(per_day: dict[int, float]) -> pd.DataFrame:
    rows = [(rep, d, pd.Timestamp("2021-01-01") + pd.Timedelta(days=d), "brody_mozyr", "pipeline", t)
            for rep, t in per_day.items() for d in range(DAYS)]
    return pd.DataFrame(rows, columns=["replication", "day", "date", "facility", "kind", "value_t"])


def make_run(tmp_path: Path, *, share_supsa: float = 60.0, scenario: str = SCENARIO_YAML) -> RunResult:
    path = tmp_path / "run"
    path.mkdir(parents=True)
    (path / "scenario.yaml").write_text(scenario.replace("horizon: 30d", f"horizon: {DAYS}d"), encoding="utf-8")
    fac = pd.DataFrame({"replication": [0, 1], "facility": ["mozyr", "mozyr"],
                        "delivered_t": [100_000.0, 200_000.0], "share_route_supsa_pct": [share_supsa] * 2,
                        "share_route_odesa_brody_pct": [100.0 - share_supsa] * 2})
    cargoes = [cargo(0, 100.0, 200.0, 1.0, 48.0)] if share_supsa else []
    return RunResult(path, {}, {"scenario": load_scenario(path / "scenario.yaml"),
                                "kpis": pd.DataFrame({"replication": [0, 1], "delivered_t": [1.0, 1.0]}),
                                "facility_kpis": fac, "cargoes": pd.DataFrame(cargoes),
                                "voyages": pd.DataFrame(VOYAGES),
                                "timeseries": line_series({0: 5_000.0, 1: 4_000.0})})


def test_a_cargos_same_tonnage_time_is_from_its_arrival_to_the_lines_delivery_of_all_tonnage_so_far():
    """Replication 0: A's tonnage (10 kt) is out of the line at 10 / 5 = 2 d = 48 h, lead
    48 h; B waits for 20 kt, out at 4 d = 96 h, lead 96 - 24 = 72 h.  Replication 1: C's
    10 kt at 10 / 4 = 2.5 d = 60 h, lead 48 h; D would need 60 kt, but the line delivers
    only 40 kt in the 10 days: not reached (NaN).  First oil of B: 10 kt + 1 t, at
    10,001 / 5,000 d = 48.0048 h, lead 24.0048 h."""
    cums = tail_cumulative(line_series({0: 5_000.0, 1: 4_000.0}), "brody_mozyr")
    last = same_tonnage_leads(pd.DataFrame(VOYAGES), cums, "pivdennyi")
    assert last["lead_h"].tolist()[:3] == pytest.approx([48.0, 72.0, 48.0])
    assert np.isnan(last["lead_h"].iloc[3])
    first = same_tonnage_leads(pd.DataFrame(VOYAGES), cums, "pivdennyi", "first")
    assert first["lead_h"].iloc[1] == pytest.approx(24.0048)


def test_a_voyage_with_no_tonnage_has_no_lead_time_and_stops_nothing():
    """A shared run folder's voyage whose ``cargo_t`` is NaN: that cargo and the later ones
    of its replication (whose tonnage awaited includes it) have no same-tonnage time (NaN),
    the other replication's are as before; nothing raises (``searchsorted`` put NaN past
    the end, an IndexError in the brief)."""
    voyages = pd.DataFrame(VOYAGES)
    voyages.loc[0, "cargo_t"] = np.nan
    cums = tail_cumulative(line_series({0: 5_000.0, 1: 4_000.0}), "brody_mozyr")
    last = same_tonnage_leads(voyages, cums, "pivdennyi")
    assert np.isnan(last["lead_h"].iloc[0]) and np.isnan(last["lead_h"].iloc[1])
    assert last["lead_h"].iloc[2] == pytest.approx(48.0)


def test_calibration_measures_the_same_lead_time_as_the_brief():
    """``routesim calibrate``'s ``measure: lead`` is this definition: programme p1 of
    replication 0 (cargo B) is 72 h = 3.0 d; in replication 1 it (cargo D) is not reached."""
    target = cal.Target(name="b", measure="lead", programme="p1", discharge_port="pivdennyi",
                        pipeline="brody_mozyr", record=[2, 4], source="hand", use="fit")
    got = cal.measure(target, pd.DataFrame(VOYAGES), line_series({0: 5_000.0, 1: 4_000.0}))
    assert got[0] == pytest.approx(3.0) and np.isnan(got[1])


def test_the_brief_gives_each_routes_same_tonnage_time_next_to_its_own_crudes(tmp_path):
    """The Supsa cargoes' same-tonnage times in full are 48, 72 and 48 h (D not reached, left
    out): 2.0, 3.0 and 2.0 d; median 2.0 d, p5 (linear) 2.0 d, p95 2 + 0.9 × 1 = 2.9 d, over
    3 cargoes.  Their first tonnes: A's 1 t out at 1 / 5,000 d = 0.0048 h (lead 0.0048 h), B's
    10,001 t at 48.0048 h (lead 24.0048 h), C's 1 t at 0.006 h (lead -11.994 h: counted from
    the start of the run, the line's first tonne is out before C arrives), D's 10,001 t at
    10,001 / 4,000 d = 60.006 h (lead 12.006 h): median (0.0048 + 12.006) / 2 = 6.0054 h =
    0.250225 d, "0.3 d".  The cargo's own crude (``lead_first_h`` 48 h) in 2.0 d.  D, left
    out of the figure in full, is said to be: "1 of the 4 cargoes not delivered by the end of
    the run" (a median of the reached ones alone would look shorter than the route is)."""
    run = make_run(tmp_path)
    st = route_same_tonnage_times(run)[("mozyr", "supsa")]
    assert (st.p50, st.p5, st.p95, st.n, st.cargoes) == pytest.approx((2.0, 2.0, 2.9, 3, 4))
    first = route_same_tonnage_times(run, "first")[("mozyr", "supsa")]
    assert first.p50 == pytest.approx(0.250225) and first.n == 4
    detail = answer_sentences(run)[0]
    assert ("its tonnage reaches Mozyr 0.3 d after the tanker arrives for its first tonne and 2.0 d (median; "
            "p5–p95 2.0–2.9 d) for all of it (the same tonnage, as the press counts it; 1 of the 4 cargoes not "
            "delivered by the end of the run, left out); its own crude's first tonne in 2.0 d") in detail, detail
    lead = answer_lead(run, "mozyr")
    assert lead is not None
    assert "its tonnage in 2.0 d from arrival, its own crude in 2.0 d, first in, first out" in lead, lead


def test_a_route_whose_own_crude_never_arrived_still_gives_its_tonnages_time(tmp_path):
    """A slow line: the Supsa cargoes' own crude is still in the lines at the end of the run
    (no intake by Supsa), but the line has delivered their tonnage: the answer says so."""
    run = make_run(tmp_path, share_supsa=0.0)
    lead = answer_lead(run, "mozyr")
    assert lead == ("Mozyr receives the tonnage of the Supsa cargoes in 2.0 d from arrival "
                    "(none of their own crude within the run)"), lead
    assert "none of their own crude within the run" in answer_sentences(run)[0]


def test_the_line_counted_is_the_one_way_from_the_port_into_the_refinery():
    """Pivdennyi's crude can only reach Mozyr, by Brody–Mozyr: that line counts.  Once another
    line joins the way (a source feeding Brody), the line's delivery is no longer the port's
    tonnage, and no same-tonnage time is given."""
    s = load_scenario_text(SCENARIO_YAML)
    assert line_into(s, "mozyr", "pivdennyi") == "brody_mozyr"
    assert line_into(s, "mozyr", "supsa") is None  # Supsa's crude goes by sea, not by a line to Mozyr
    joined = SCENARIO_YAML.replace(
        "    - {name: brody_mozyr,",
        "    - {name: extra, from: sangachal, to: brody, capacity: 5kt/d, linefill: 10kt}\n    - {name: brody_mozyr,")
    assert line_into(load_scenario_text(joined), "mozyr", "pivdennyi") is None


def load_scenario_text(text: str):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "s.yaml"
        p.write_text(text, encoding="utf-8")
        return load_scenario(p)
