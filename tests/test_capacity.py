"""The corridor's max-flow / min cut (sim.scenario.capacity), worked by hand, and the pushed
corridor's simulated sustained rate against it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
import pytest
from scipy import stats

from sim import rng
from sim.errors import UserError
from sim.model import simulate
from sim.runner import prepare
from sim.scenario import capacity
from sim.scenario.loader import load_scenario
from tests.test_model_support import flow_row, scenario

ROOT = Path(__file__).resolve().parent.parent


def series_parallel(last_line: str) -> dict:
    """A source of 30 kt/d, two parallel lines of 20 and 15 kt/d to a depot A, then one line
    to a refinery that wants 100 kt/d."""
    return {
        "sources": [{"name": "S", "origin": "azeri", "rate": "30 kt/d"}],
        "depots": [{"name": "A", "tank": {"capacity": "100kt"}}],
        "pipelines": [
            {"name": "P1", "from": "S", "to": "A", "capacity": "20 kt/d", "linefill": "10kt"},
            {"name": "P2", "from": "S", "to": "A", "capacity": "15 kt/d", "linefill": "10kt"},
            {"name": "P3", "from": "A", "to": "R", "capacity": last_line, "linefill": "10kt"},
        ],
        "refineries": [{"name": "R", "tank": {"capacity": "1Mt"}, "demand": "100 kt/d"}],
    }


def test_min_cut_of_a_series_parallel_network_is_its_narrowest_stage() -> None:
    """Stages in series: the source (30), the two lines in parallel (20 + 15 = 35), the last
    line, the demand (100).  With a 25 kt/d last line the max-flow is min(30, 35, 25, 100) =
    25 kt/d and the cut is P3; with a 40 kt/d one it is 30 kt/d and the cut is the source."""
    narrow = capacity.max_flow(scenario(series_parallel("25 kt/d")))
    assert narrow.value_t_per_day == pytest.approx(25_000.0)
    assert narrow.binding == ["P3"]
    wide = capacity.max_flow(scenario(series_parallel("40 kt/d")))
    assert wide.value_t_per_day == pytest.approx(30_000.0)
    assert wide.binding == ["S"]
    flows = {r["facility"]: r["flow_t_per_day"] for r in wide.table()}
    assert flows["P1"] + flows["P2"] == pytest.approx(30_000.0)


def test_parallel_lines_bind_together_when_they_are_the_narrowest_stage() -> None:
    """A 50 kt/d source and a 40 kt/d last line leave the parallel pair (35 kt/d) the
    narrowest stage: both P1 and P2 are on the cut, and the value is 20 + 15 = 35 kt/d."""
    net = series_parallel("40 kt/d")
    net["sources"][0]["rate"] = "50 kt/d"
    result = capacity.max_flow(scenario(net))
    assert result.value_t_per_day == pytest.approx(35_000.0)
    assert result.binding == ["P1", "P2"]


def test_a_batched_line_sustains_one_batch_per_setup_and_pumping() -> None:
    """Brody–Mozyr as seeded: 85 kt batches, 5.9 days' notice (fitted to the 2020 record),
    at least 3 days per batch, a 10 Mt/y line (27,397 t/d, below 85 kt / 3 d = 28,333 t/d).
    A batch pumps for 85,000 / 27,397 = 3.1025 d after its 5.9 d of notice: one batch per
    9.0025 d = 9,441.8 t/d (3.45 Mt/y)."""
    s = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    line = next(p for p in s.network.pipelines if p.name == "brody_mozyr")
    pump = 10e6 / 365.0
    assert capacity.batch_rate_t_per_day(line) == pytest.approx(85_000.0 / (5.9 + 85_000.0 / pump))
    assert capacity.batch_rate_t_per_day(line) == pytest.approx(9_441.8, abs=0.1)


def test_a_shuttle_fleet_sustains_its_tankers_cargo_per_cycle() -> None:
    """The pushed corridor's Supsa shuttle: 85 kt loaded at 60 kt/d (1.417 d), 540 nm each
    way at 14 kn (2 x 38.57 h = 3.214 d), discharged at 50 kt/d (1.7 d): a 6.331 d cycle,
    so three tankers carry 3 x 85,000 / 6.331 = 40,278 t/d."""
    s = load_scenario(ROOT / "scenarios" / "corridor_pushed.yaml")
    fleet = next(f for f in s.shipping.fleets if f.name == "supsa_shuttle")
    cycle_d = 85 / 60 + 2 * 540 / 14 / 24 + 85 / 50
    assert capacity.fleet_rate_t_per_day(s, fleet) == pytest.approx(3 * 85_000 / cycle_d)


def test_a_programme_with_two_load_ports_counts_its_calendar_once() -> None:
    """The baseline's programme, lifting 85 kt every 62 days (set here) from Supsa or
    Ceyhan, carries 85,000 / 62 = 1,371 t/d in all, not that much from each port (2,742):
    below the 1 Mt/y (2,740 t/d) allocation, so it is the southern route's cut.  At the
    seeded 31 days the calendar (2,742 t/d) is just above the allocation, which binds."""
    slow = prepare(ROOT / "scenarios" / "baseline.yaml", ["shipping.programmes.belarus_azeri.every=62d"]).scenario
    south = capacity.max_flow(slow, sources=["sangachal_wrep", "sangachal_btc"], sinks=["mozyr"])
    assert south.value_t_per_day == pytest.approx(85_000.0 / 62.0, abs=0.1)
    assert south.binding == ["belarus_azeri"]
    seeded = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    south = capacity.max_flow(seeded, sources=["sangachal_wrep", "sangachal_btc"], sinks=["mozyr"])
    assert south.value_t_per_day == pytest.approx(1e6 / 365.0, abs=0.2)
    assert south.binding == ["sangachal_wrep", "sangachal_btc"]


def test_unknown_sources_or_refineries_are_user_errors() -> None:
    s = scenario(series_parallel("25 kt/d"))
    with pytest.raises(UserError, match="unknown source 'X'"):
        capacity.max_flow(s, sources=["X"])
    with pytest.raises(UserError, match="unknown refinery 'Y'"):
        capacity.max_flow(s, sinks=["Y"])


def sustained(delivered_per_day: np.ndarray, after_day: int) -> tuple[float, float]:
    """The sustained rate and the ramp-up of a daily delivery series: the least-squares line
    through the cumulative tonnes at the day boundaries from ``after_day`` on; its slope is
    the rate (t/d), the day where it crosses zero the ramp-up (days)."""
    cumulative = np.concatenate([[0.0], np.cumsum(delivered_per_day)])
    days = np.arange(cumulative.size)
    keep = days >= after_day
    fit = stats.linregress(days[keep], cumulative[keep])
    return float(fit.slope), float(-fit.intercept / fit.slope)


def test_the_pushed_corridors_sustained_rate_equals_its_min_cut() -> None:
    """corridor_pushed: Azeri supply of 4.48 + 2 Mt/y, five shuttle tankers (58 kt/d), the
    Russian line to Mozyr closed.  The min cut from Sangachal to Mozyr is the Brody–Mozyr
    batch rule, 9,441.8 t/d with the fitted 5.9 d notice (3.45 Mt/y; Odesa–Brody offers
    24,658, Pivdennyi's berth 50,000, the supply 17,753).

    The sustained simulated rate is the slope of the least-squares line through the
    cumulative tonnes Brody–Mozyr delivered at Mozyr at each day boundary from day 120 (well
    after the ramp-up) to the end of the three years; it equals the min cut within 1 %
    in every replication tried, and the line crosses zero within the first month (the
    ramp-up: the first cargoes, Brody filling to a batch, the notice)."""
    s = load_scenario(ROOT / "scenarios" / "corridor_pushed.yaml")
    cut = capacity.max_flow(s, sources=["sangachal_wrep", "sangachal_btc"], sinks=["mozyr"])
    assert cut.binding == ["brody_mozyr"]
    assert cut.value_t_per_day == pytest.approx(9_441.8, abs=0.1)
    for i in range(2):
        rec = simulate(s, rng.replication_seed(s.seed, i))
        rate, ramp_up_d = sustained(flow_row(rec, "brody_mozyr", "pipeline"), after_day=120)
        assert rate == pytest.approx(cut.value_t_per_day, rel=0.01)
        assert 0.0 < ramp_up_d < 30.0


def test_the_capacity_command_prints_the_cut_and_refuses_unknown_names(cli, tmp_path: Path) -> None:
    """`routesim capacity` on the series/parallel case with a 25 kt/d last line: 25,000
    t/d = 25,000 x 365 / 1e6 = 9.125 Mt/y (printed 9.12, half to even), P3 on the cut; an unknown --from is a user
    error (exit 2) naming the sources there are."""
    path = tmp_path / "sp.yaml"
    path.write_text(yaml.safe_dump({"name": "sp", "description": "series and parallel lines",
                                    "start": "2021-01-01", "horizon": "10d", "network": series_parallel("25 kt/d")}))
    r = cli("capacity", path)
    assert r.code == 0
    assert r.out.splitlines()[:2] == ["max-flow: 25,000 t/d (9.12 Mt/y)", "binding (min cut): P3"]
    assert any(line.startswith("P3 ") and line.rstrip().endswith("yes") for line in r.out.splitlines())
    r = cli("capacity", path, "--from", "nowhere")
    assert r.code == 2 and "unknown source 'nowhere'; sources: S" in r.err
