"""Supply contracts: a source that tops up a refinery's cover after it falls, up to a
maximum rate and after a delay, or stays fixed (the default, today's behaviour)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from sim import rng
from sim.model import simulate
from sim.results import metrics
from sim.scenario.language import Scenario
from sim.scenario.loader import load_raw, validate
from tests.test_model_support import flow_row, imbalance_t, scenario, stock_row

ROOT = Path(__file__).resolve().parent.parent
SEED = np.random.SeedSequence(7)

# R wants 10 kt/d and holds 60 kt over a 20 kt floor: a cover of 40 kt = 4 days.  S sends
# its nominal 10 kt/d through a line that could carry 30 kt/d.
TOP_UP = {"kind": "top_up", "refinery": "R", "below": "5d", "restore_to": "8d", "max_rate": "20 kt/d",
          "delay": "2d"}
NET = {
    "sources": [{"name": "S", "origin": "russian", "rate": "10 kt/d", "contract": TOP_UP}],
    "pipelines": [{"name": "P", "from": "S", "to": "R", "capacity": "30 kt/d", "linefill": "10kt"}],
    "refineries": [{"name": "R", "tank": {"capacity": "200kt", "initial": "60kt"}, "demand": "10 kt/d",
                    "min_stock": "20kt"}],
}


def _with_contract(contract: dict | None) -> dict:
    net = copy.deepcopy(NET)
    if contract is None:
        del net["sources"][0]["contract"]
    else:
        net["sources"][0]["contract"] = contract
    return net


def test_a_top_up_restores_cover_in_the_time_its_maximum_rate_allows() -> None:
    """Cover 4 d is below the trigger of 5 d at t = 0; after the 2 d delay S makes 20 kt/d
    against a demand of 10 kt/d, so the stock rises 10 kt/d.  Restoring 8 d of cover means
    20 + 8 x 10 = 100 kt in the tank: a deficit of 100 - 60 = 40 kt, restored in
    40 / (20 - 10) = 4 d, so the top-up stops at 48 + 96 = 144 h and S is back at 10 kt/d."""
    rec = simulate(scenario(NET), SEED)
    assert flow_row(rec, "S", "production") == pytest.approx([10_000] * 2 + [20_000] * 4 + [10_000] * 4)
    assert stock_row(rec, "R") == pytest.approx([60_000] * 3 + [70_000, 80_000, 90_000] + [100_000] * 5)
    assert [(d[2], d[3]) for d in rec.decisions] == [
        ("top_up_triggered", 0.0), ("top_up_started", 48.0), ("top_up_stopped", pytest.approx(144.0))]
    assert [d[5] for d in rec.decisions] == pytest.approx([4.0, 4.0, 8.0])  # days of cover then
    assert [d[6] for d in rec.decisions] == pytest.approx([40_000, 40_000, 80_000])  # tonnes above the floor
    assert abs(imbalance_t(rec.balance)) < 1e-6


def test_a_cover_in_tonnes_triggers_at_that_stock_above_the_floor() -> None:
    """The same case with the cover in tonnes: below 50 kt, restore to 70 kt above the floor
    (a level of 90 kt): 30 kt at 10 kt/d net = 3 d after the delay, so it stops at 120 h."""
    rec = simulate(scenario(_with_contract({**TOP_UP, "below": "50kt", "restore_to": "70kt"})), SEED)
    assert [d[3] for d in rec.decisions] == pytest.approx([0.0, 48.0, 120.0])
    assert stock_row(rec, "R")[-1] == pytest.approx(90_000)


def test_a_drawn_delay_comes_from_the_source_s_own_stream() -> None:
    """A delay drawn uniform in [1 d, 3 d] is the first draw of the stream
    ("contract", "S"): so the top-up starts that many hours after the trigger, and a new
    contract never moves another stream's draws (shipping, disruptions)."""
    contract = {**TOP_UP, "delay": {"uniform": ["1d", "3d"]}}
    rec = simulate(scenario(_with_contract(contract)), SEED)
    expected = float(rng.stream(SEED, "contract", "S").uniform(24.0, 72.0))
    (_, trig), (_, start) = [(d[2], d[3]) for d in rec.decisions[:2]]
    assert start - trig == pytest.approx(expected)
    assert 24.0 <= expected <= 72.0


def test_the_fixed_contract_is_the_default_and_makes_the_nominal_rate_whatever_the_cover() -> None:
    """Without a contract (or with kind: fixed) S makes 10 kt/d throughout and R's stock stays
    at 60 kt; no decision is recorded."""
    for contract in (None, {"kind": "fixed"}):
        rec = simulate(scenario(_with_contract(contract)), SEED)
        assert flow_row(rec, "S", "production") == pytest.approx([10_000] * 10)
        assert stock_row(rec, "R") == pytest.approx([60_000] * 11)
        assert rec.decisions == []


@pytest.mark.parametrize(("field", "value", "words"), [
    ("restore_to", "4d", "'restore_to' must be above 'below'"),
    ("restore_to", "300kt", "same unit"),
    ("below", "fast", "cannot read 'fast' as a cover: give days of demand (e.g. '10d') or tonnes"),
])
def test_contradictory_top_up_levels_are_refused_with_their_field(tmp_path: Path, field: str, value: str,
                                                                  words: str) -> None:
    """A clear error at the contract's line, no traceback: what is wrong and what would do."""
    path = tmp_path / "contract.yaml"
    path.write_text(_yaml(field, value))
    problems = validate(path)
    assert len(problems) == 1
    p = problems[0]
    assert p.path[:4] == ("network", "sources", 0, "contract")
    assert words in p.message
    assert p.file is not None and Path(p.file).name == "contract.yaml" and p.line is not None


def test_a_top_up_for_an_unknown_refinery_names_the_field_and_a_near_miss(tmp_path: Path) -> None:
    text = _yaml("refinery", "Rr")
    path = tmp_path / "contract.yaml"
    path.write_text(text)
    (p,) = validate(path)
    assert p.path == ("network", "sources", 0, "contract", "refinery")
    assert p.message == "unknown refinery 'Rr'" and p.hint == "did you mean 'R'?"
    assert p.line == 1 + next(i for i, ln in enumerate(text.splitlines()) if "refinery: Rr" in ln)


def _yaml(field: str, value: str) -> str:
    contract = {"refinery": "R", "below": "5d", "restore_to": "8d", "max_rate": "20 kt/d", "delay": "2d",
                field: value}
    lines = "\n".join(f"        {k}: {v}" for k, v in contract.items())
    return f"""name: contract
description: a top-up contract
start: 2021-01-01
horizon: 10d
network:
  sources:
    - name: S
      origin: russian
      rate: 10 kt/d
      contract:
        kind: top_up
{lines}
  pipelines:
    - {{name: P, from: S, to: R, capacity: 30 kt/d, linefill: 10kt}}
  refineries:
    - {{name: R, tank: {{capacity: 200kt, initial: 60kt}}, demand: 10 kt/d, min_stock: 20kt}}
"""


# --------------------------------------------------------------------------- Mozyr after 2019


def contamination_what_if(top_up: bool) -> Scenario:
    """The 2019 contamination (scenarios/contamination_2019.yaml) with Mozyr's Russian crude
    as a source of its own (11 Mt/y, the baseline's druzhba_mozyr allocation, so the fixed
    case is the published scenario's numbers) and, with ``top_up``, a contract: below 3 d of
    cover, after 3 d, up to 16 Mt/y until 5 d of cover; the line may then carry 16 Mt/y
    (an assumption: spare Druzhba capacity is not in ROUTE_FACTS)."""
    raw = load_raw(ROOT / "scenarios" / "contamination_2019.yaml")
    net = raw["network"]
    next(s for s in net["sources"] if s["name"] == "russia_druzhba")["rate"] = "12 Mt/y"
    mozyr = {"name": "russia_mozyr", "origin": "russian", "rate": "11 Mt/y", "groups": ["russia", "druzhba"]}
    if top_up:
        mozyr["contract"] = {"kind": "top_up", "refinery": "mozyr", "below": "3d", "restore_to": "5d",
                             "max_rate": "16 Mt/y", "delay": "3d"}
    net["sources"].append(mozyr)
    line = next(p for p in net["pipelines"] if p["name"] == "druzhba_mozyr")
    line.update({"from": "russia_mozyr", "capacity": "16 Mt/y" if top_up else "11 Mt/y", "linefill": "120.548kt"})
    line.pop("transit")
    return Scenario.model_validate(raw, context={"barrels_per_tonne": raw.get("barrels_per_tonne")})


def test_after_the_2019_contamination_a_top_up_lets_mozyr_rebuild_its_stock() -> None:
    """Fixed supply: after the lines reopen (day 130) Mozyr gets 11 Mt/y of Russian crude
    plus the Azeri batches against a 12 Mt/y demand, so its stock never gets back to where
    it was.  With the top-up the supplier sends 16 Mt/y from 3 d after the cover fell below
    3 d until it is back at 5 d (164 kt above the 100 kt floor), so Mozyr rebuilds, and
    it cuts runs on fewer days."""
    seed = rng.replication_seed(2021, 0)
    fixed, topped = (simulate(contamination_what_if(t), seed) for t in (False, True))
    row = fixed.tank_names.index("mozyr")
    after = slice(141, 366)  # from the day the contamination's top-up is over
    assert topped.stock_t[row, after].mean() > fixed.stock_t[row, after].mean() + 80_000
    stopped = [d for d in topped.decisions if d[2] == "top_up_stopped" and 130 * 24 <= d[3] <= 150 * 24]
    assert stopped and stopped[0][5] == pytest.approx(5.0)
    kf, kt = (metrics.replication_kpis(r, contamination_what_if(t)) for r, t in ((fixed, False), (topped, True)))
    assert kt["cut_run_days_mozyr"] < kf["cut_run_days_mozyr"]
    assert kt["shortfall_mozyr_t"] < kf["shortfall_mozyr_t"]
    assert abs(imbalance_t(topped.balance)) < 1.0


def test_a_drawn_top_up_delay_gives_the_same_run_on_any_executor(tmp_path: Path) -> None:
    """Same seed, same numbers: the contamination what-if with a drawn delay, run serially
    and on a pool of two workers, writes identical KPI and decision tables."""
    import pandas as pd

    import sim

    delay = "network.sources.russia_mozyr.contract.delay={uniform: [1d, 5d]}"
    runs = [sim.run(ROOT / "scenarios" / "contamination_2019_top_up.yaml", replications=3, seed=5,
                    executor=ex, workers=w, out=tmp_path / ex, overrides=[delay], progress=False)
            for ex, w in (("serial", None), ("local", 2))]
    pd.testing.assert_frame_equal(runs[0].kpis, runs[1].kpis)
    pd.testing.assert_frame_equal(runs[0].decisions, runs[1].decisions)
    started = runs[0].decisions[runs[0].decisions.decision == "top_up_started"]
    assert len(started) > 0 and runs[0].decisions.replication.nunique() == 3
