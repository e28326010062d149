"""Per-cargo tracking: each cargo's tonnes are followed, first in first out, from the tanker
through tanks and lines into the refineries, and the ``cargoes`` table gives for every
cargo its first and last tonne into each refinery and its port-to-refinery lead times
(``lead_first_h`` = first tonne - discharge start, ``lead_last_h`` = last tonne -
discharge end).  The cases are worked by hand from the legs of the route."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sim import runner
from sim.model import simulate
from sim.model.flows import Pipeline
from sim.model.lots import NO_CARGO, cargo_tonnes, move, put, share
from sim.results import store
from sim.results.tables import cargo_columns
from sim.rng import replication_seed
from sim.scenario.language import Scenario
from sim.scenario.loader import load_scenario
from tests.test_model_support import model_of, scenario

SEED = np.random.SeedSequence(5)
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

# Load port A (1 berth, 24 kt/d = 1 kt/h), 240 nm at 10 kn (24 h) to discharge port B
# (48 kt/d = 2 kt/h, empty tank), and from B a line P of 12 kt/d (0.5 kt/h) holding 60 kt
# (transit 60 / 0.5 = 120 h) into refinery R (demand 0, so nothing is run out of it).
# Plug flow moves a line only while crude is pumped in behind, so a source S starts at 84 h
# (once the cargoes below are ashore, so nothing reaches B at the same time as a cargo)
# and keeps B from running dry through a 1 kt line Q of P's capacity.
ROUTE: dict[str, Any] = {
    "sources": [{"name": "S", "origin": "urals", "rate": "0 t/d", "schedule": [{"start": "84h", "rate": "12 kt/d"}]}],
    "terminals": [
        {"name": "A", "tank": {"capacity": "200kt", "initial": "200kt"},
         "berths": {"count": 1, "load_rate": "24 kt/d"}},
        {"name": "B", "tank": {"capacity": "500kt"}, "berths": {"count": 1, "discharge_rate": "48 kt/d"}},
    ],
    "sea_legs": [{"name": "AB", "from": "A", "to": "B", "distance": "240 nm"}],
    "pipelines": [{"name": "Q", "from": "S", "to": "B", "capacity": "12 kt/d", "linefill": "1kt"},
                  {"name": "P", "from": "B", "to": "R", "capacity": "12 kt/d", "linefill": "60kt"}],
    "refineries": [{"name": "R", "tank": {"capacity": "1Mt"}, "demand": "0 t/d"}],
}


def _programme(**kw: Any) -> dict[str, Any]:
    return {"programmes": [{"name": "prog", "every": "30d", "first": "0d", "load_ports": [{"terminal": "A"}],
                            "discharge_port": "B", "tanker": {"cargo": "24kt", "speed": "10 kn"}, **kw}]}


def _cargoes(s: Scenario) -> pd.DataFrame:
    return pd.DataFrame(cargo_columns(simulate(s, SEED), s))


def test_one_cargo_reaches_the_refinery_after_the_hand_worked_sum_of_its_legs() -> None:
    """One 24 kt cargo, A -> B by sea, then by line P into R; horizon 10 days (240 h).

    * Loading at 1 kt/h: 0 to 24 h.  Sailing 240 nm / 10 kn: arrives at B at 48 h.
    * Discharge at 2 kt/h: 48 to 60 h.  B was empty, so P starts pumping the cargo at 48 h,
      at its capacity, 0.5 kt/h (B still holds 24 - 0.5 x 36 = 6 kt of it when S starts
      at 84 h, so B never runs dry): the last cargo tonne enters P at 48 + 24 / 0.5 = 96 h.
    * Plug flow: a tonne leaves P a transit (linefill / flow = 60 / 0.5 = 120 h) after it
      entered.  First tonne into R: 48 + 120 = 168 h; last: 96 + 120 = 216 h.
    * Lead times: first = 168 - 48 (discharge start) = 120 h, the line's transit; last =
      216 - 60 (discharge end) = 156 h = (cargo / line rate - discharge time) + transit
      = (48 - 12) + 120.
    """
    c = _cargoes(scenario(ROUTE, shipping=_programme(), horizon="10d"))
    assert len(c) == 1
    row = c.iloc[0]
    assert (row.voyage, row.tanker, row.programme, row.load_port, row.discharge_port, row.refinery) == \
        (0, "prog-001", "prog", "A", "B", "R")
    assert row.nominal_t == 24_000.0 and row.loaded_t == pytest.approx(24_000.0)
    assert (row.load_start_h, row.load_end_h) == pytest.approx((0.0, 24.0))
    assert (row.arrive_discharge_h, row.discharge_start_h, row.discharge_end_h) == pytest.approx((48.0, 48.0, 60.0))
    assert (row.first_tonne_h, row.last_tonne_h) == pytest.approx((168.0, 216.0))
    assert row.refinery_t == pytest.approx(24_000.0) and row.delivered_t == pytest.approx(24_000.0)
    assert bool(row.complete)
    assert (row.lead_first_h, row.lead_last_h) == pytest.approx((120.0, 156.0))


def test_a_cargo_not_all_in_by_the_horizon_has_no_last_tonne_lead_time() -> None:
    """Same route, horizon 8 days (192 h): the cargo began entering R at 168 h and 24 h x
    0.5 kt/h = 12 kt of it is in; the rest is still in P, so its last tonne (and
    ``lead_last_h``) is not known yet, while ``lead_first_h`` is (120 h)."""
    c = _cargoes(scenario(ROUTE, shipping=_programme(), horizon="8d"))
    row = c.iloc[0]
    assert row.refinery_t == pytest.approx(12_000.0)
    assert not bool(row.complete)
    assert row.first_tonne_h == pytest.approx(168.0) and row.last_tonne_h == pytest.approx(192.0)
    assert row.lead_first_h == pytest.approx(120.0)
    assert np.isnan(row.lead_last_h)


def test_two_cargoes_pass_through_a_tank_first_in_first_out() -> None:
    """Liftings at 0 and 12 h; A has one berth, so the second tanker waits for it until 24 h.

    * Cargo 0: loads 0-24, at B 48, discharges 48-60; enters P 48-96 (as above), into R
      168-216.
    * Cargo 1: loads 24-48, sails to 72, discharges 72-84 into B, behind what is left of
      cargo 0 (24 - 0.5 x 24 = 12 kt at 72 h).  First in first out, it enters P only when
      cargo 0 is all in, 96 h, and until 96 + 24 / 0.5 = 144 h (S's crude, from 84 h, is
      behind it); into R 216 to 264 h.
    * Lead times of cargo 1: first 216 - 72 = 144 h, last 264 - 84 = 180 h.
    A mixed tank would have sent cargo 1's crude into P from 72 h, blended with cargo 0's:
    here cargo 1's first tonne enters R exactly when cargo 0's last tonne does.
    """
    s = scenario(ROUTE, shipping=_programme(every="12h", until="13h"), horizon="12d")
    c = _cargoes(s).set_index("voyage")
    assert list(c.index) == [0, 1]
    assert (c.loc[0, "first_tonne_h"], c.loc[0, "last_tonne_h"]) == pytest.approx((168.0, 216.0))
    assert (c.loc[1, "discharge_start_h"], c.loc[1, "discharge_end_h"]) == pytest.approx((72.0, 84.0))
    assert (c.loc[1, "first_tonne_h"], c.loc[1, "last_tonne_h"]) == pytest.approx((216.0, 264.0))
    assert c.loc[1, "first_tonne_h"] == c.loc[0, "last_tonne_h"]
    assert (c.loc[1, "lead_first_h"], c.loc[1, "lead_last_h"]) == pytest.approx((144.0, 180.0))
    assert c.refinery_t.to_numpy() == pytest.approx([24_000.0, 24_000.0])


def test_a_cargo_split_between_two_refineries_adds_up_to_its_size() -> None:
    """From B two lines draw on the one tank: P1 0.5 kt/h holding 12 kt (transit 24 h) into
    R1, P2 0.25 kt/h holding 6 kt (transit 24 h) into R2; S feeds B 0.5 kt/h from 60 h.
    The cargo lands at B 48-60 h; together the lines take 0.75 kt/h from its front (S's
    crude queues behind it), so its last tonne leaves B at 48 + 24 / 0.75 = 80 h: P1 took
    0.5 x 32 = 16 kt, P2 8 kt.  B holds 24 - 9 + (0.5 - 0.75) x 20 = 10 kt at 80 h, so
    both lines run at capacity throughout.  Each refinery: first tonne 48 + 24 = 72 h,
    last 80 + 24 = 104 h; 16 + 8 = 24 kt, the whole cargo."""
    net = {**ROUTE,
           "sources": [{**ROUTE["sources"][0], "schedule": [{"start": "60h", "rate": "12 kt/d"}]}],
           "pipelines": [ROUTE["pipelines"][0],
                         {"name": "P1", "from": "B", "to": "R1", "capacity": "12 kt/d", "linefill": "12kt"},
                         {"name": "P2", "from": "B", "to": "R2", "capacity": "6 kt/d", "linefill": "6kt"}],
           "refineries": [{"name": n, "tank": {"capacity": "1Mt"}, "demand": "0 t/d"} for n in ("R1", "R2")]}
    c = _cargoes(scenario(net, shipping=_programme(), horizon="6d")).set_index("refinery")
    assert sorted(c.index) == ["R1", "R2"]
    assert (c.loc["R1", "refinery_t"], c.loc["R2", "refinery_t"]) == pytest.approx((16_000.0, 8_000.0))
    for r in ("R1", "R2"):
        assert (c.loc[r, "first_tonne_h"], c.loc[r, "last_tonne_h"]) == pytest.approx((72.0, 104.0))
        assert c.loc[r, "delivered_t"] == pytest.approx(24_000.0)
        assert bool(c.loc[r, "complete"])
        assert c.loc[r, "lead_last_h"] == pytest.approx(104.0 - 60.0)


def test_a_cargo_that_has_reached_no_refinery_yet_has_one_row_without_one() -> None:
    """Horizon 5 days (120 h): the cargo is in P (and the last of it at B), its first tonne
    due at 168 h."""
    c = _cargoes(scenario(ROUTE, shipping=_programme(), horizon="5d"))
    assert len(c) == 1
    row = c.iloc[0]
    assert row.refinery == "" and row.refinery_t == 0.0 and not bool(row.complete)
    assert np.isnan(row.first_tonne_h) and np.isnan(row.lead_first_h)


def test_every_tonne_of_every_baseline_cargo_is_in_a_refinery_a_tank_or_a_line() -> None:
    """Mass, cargo by cargo, on the shipped baseline year: for each cargo discharged within
    the horizon, its tonnes into refineries plus the tonnes still tagged with it in the
    tanks and lines before them equal what it loaded, to 1 kg; a complete cargo's refinery
    tonnes alone equal its size.  Crude that was never a cargo carries no cargo tag."""
    s = load_scenario(SCENARIOS / "baseline.yaml")
    m = model_of(s, seed=3)
    rec = m.run()
    c = pd.DataFrame(cargo_columns(rec, s))
    left: dict[int, float] = {}
    refineries = {r.name for r in s.network.refineries}  # crude in their tanks has entered them
    fifos = [tk.lots for name, tk in m.tanks.items() if name not in refineries]
    fifos += [f.line for f in m.flows.values() if isinstance(f, Pipeline)]
    for fifo in fifos:
        for cargo, t in cargo_tonnes(fifo).items():
            left[cargo] = left.get(cargo, 0.0) + t
    discharged = c[c.discharge_end_h <= s.horizon_h]
    assert discharged.voyage.nunique() >= 10
    for v, rows in discharged.groupby("voyage"):
        loaded = float(rows.loaded_t.iloc[0])
        assert loaded == pytest.approx(s.shipping.programmes[0].tanker.cargo_t, abs=1e-3)
        assert float(rows.refinery_t.sum()) + left.get(int(v), 0.0) == pytest.approx(loaded, abs=1e-3)
        if rows.complete.iloc[0]:
            assert float(rows.refinery_t.sum()) == pytest.approx(loaded, abs=1e-3)
    assert c.complete.sum() >= 3
    # what is not from a cargo (initial stock and linefill, Russian supply) has no cargo tag
    assert left.get(NO_CARGO, 0.0) > 0.0
    untagged = sum(t for (ref, _o, route), t in rec.delivered_by_origin.items()
                   if route not in {p.terminal for p in s.shipping.programmes[0].load_ports})
    assert untagged > 0.0


def test_the_cargoes_table_is_in_the_run_folder_and_its_lead_times_follow_from_its_columns(
        tmp_path: Path) -> None:
    """``cargoes.parquet`` holds each replication's rows, the same as the table computed
    from that replication's records, and ``lead_*`` follow from the time columns."""
    s = load_scenario(SCENARIOS / "baseline.yaml")
    run = runner.run(s, replications=2, seed=7, executor="serial", out=tmp_path / "run", progress=False)
    back = store.open_run(run.path).cargoes
    assert set(back.replication) == {0, 1}
    for rep in (0, 1):
        got = back[back.replication == rep].drop(columns="replication").reset_index(drop=True)
        want = pd.DataFrame(cargo_columns(simulate(s, replication_seed(7, rep)), s))
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
    done = back[back.complete]
    assert len(done) > 0
    assert (done.lead_last_h == done.last_tonne_h - done.discharge_end_h).all()
    assert (back.lead_first_h.dropna() == (back.first_tonne_h - back.discharge_start_h).dropna()).all()


# --------------------------------------------------------------------------- the lots themselves


def test_lines_drawing_on_one_tank_each_take_their_share_of_every_lot_at_its_front() -> None:
    """A tank holds 10 t of initial crude, then 30 t of cargo 1.  In one step two lines
    draw 10 t and 20 t: the 30 t leaving is the front (all 10 t initial, the first 20 t of
    the cargo), and each line takes its share of both, 1/3 and 2/3, rather than the first
    line taking the initial crude alone: line 1 gets 3.33 t initial + 6.67 t of cargo 1,
    line 2 6.67 + 13.33 (its window, the 20 t left of the front, is all it draws, a plain
    move); 10 t of cargo 1 stay."""
    tank = deque([["initial", "T", 10.0, None], ["azeri", "A", 30.0, deque([[1, 30.0]])]])
    one: deque = deque()
    two: deque = deque()
    share(tank, one, 10.0, 30.0)
    share(tank, two, 20.0, 20.0)
    assert [lot[:3] for lot in one] == [["initial", "T", pytest.approx(10 / 3)], ["azeri", "A", pytest.approx(20 / 3)]]
    assert [lot[:3] for lot in two] == [["initial", "T", pytest.approx(20 / 3)], ["azeri", "A", pytest.approx(40 / 3)]]
    assert cargo_tonnes(one) == {NO_CARGO: pytest.approx(10 / 3), 1: pytest.approx(20 / 3)}
    assert cargo_tonnes(tank) == {1: pytest.approx(10.0)}


def test_cargoes_ride_inside_one_lot_in_order_and_do_not_split_it() -> None:
    """Two cargoes of the same crude from the same port make one lot (the origin tallies
    see one lot, as without tracking), its segments in arrival order: moving 15 t of it
    takes all 10 t of cargo 0, then 5 t of cargo 1.  Crude of no cargo joining the lot
    becomes a segment of its own."""
    tank: deque = deque()
    put(tank, "azeri", "A", 10.0, [[0, 10.0]])
    put(tank, "azeri", "A", 20.0, [[1, 20.0]])
    put(tank, "azeri", "A", 5.0)
    assert len(tank) == 1 and tank[0][2] == 35.0
    assert list(tank[0][3]) == [[0, 10.0], [1, 20.0], [NO_CARGO, 5.0]]
    line: deque = deque()
    move(tank, line, 15.0)
    assert list(line[0][3]) == [[0, 10.0], [1, 5.0]]
    assert cargo_tonnes(tank) == {1: 15.0, NO_CARGO: 5.0}
