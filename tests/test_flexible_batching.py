"""Flexible batching on a batched line (Brody–Mozyr): a size range, a flush rule that pumps
what is at the head after a maximum wait, and windows in which the line may run (the 2021
reverse-flow windows of Druzhba-south); whole batches of a fixed size stay the default."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from sim import rng
from sim.model import simulate
from sim.runner import prepare
from sim.scenario.loader import validate
from tests.test_model_support import flow_row, imbalance_t, scenario, stock_row

ROOT = Path(__file__).resolve().parent.parent
SEED = np.random.SeedSequence(11)

# S sends 2 kt/d into the head tank B; the batched line L (100 kt/d, 10 kt of linefill)
# moves 50 kt batches to R after 1 d of notice, each occupying the line for at least 2 d.
BATCH = {"size": "50kt", "setup": "1d", "min_window": "2d"}
NET = {
    "sources": [{"name": "S", "origin": "azeri", "rate": "2 kt/d"}],
    "depots": [{"name": "B", "tank": {"capacity": "100kt"}}],
    "pipelines": [{"name": "in", "from": "S", "to": "B", "capacity": "30 kt/d", "linefill": "0 t"},
                  {"name": "L", "from": "B", "to": "R", "capacity": "100 kt/d", "linefill": "10kt",
                   "batching": BATCH}],
    "refineries": [{"name": "R", "tank": {"capacity": "200kt"}, "demand": "0 t/d"}],
}


def _net(**rule: object) -> dict:
    net = copy.deepcopy(NET)
    net["pipelines"][1]["batching"] = {**BATCH, **rule}
    return net


def test_whole_batches_only_leave_crude_at_the_head_for_ever() -> None:
    """The fixed rule needs 50 kt at B: 25 d at 2 kt/d, past a 15 d horizon, so the 30 kt
    that arrive stay at B and R gets nothing."""
    rec = simulate(scenario(NET, horizon="15d"), SEED)
    assert stock_row(rec, "B")[-1] == pytest.approx(30_000)
    assert flow_row(rec, "L", "pipeline").sum() == 0.0
    assert rec.decisions == []


def test_a_flushed_partial_batch_pumps_what_is_at_the_head_after_the_maximum_wait() -> None:
    """Flush after 10 d idle if B holds at least 10 kt: at 240 h B holds 20 kt, so a batch
    is called; after the 1 d notice (264 h) B holds 22 kt, which is the batch.  It pumps
    at 22 kt / 2 d = 11 kt/d (it occupies the line for the 2 d minimum window) and ends at
    264 + 48 = 312 h; B then holds 22 - 2 x 11 + 2 x 2 = 4 kt, and 4 + 2 x 2 = 8 kt at 15 d."""
    rec = simulate(scenario(_net(flush={"after": "10d", "min": "10kt"}), horizon="15d"), SEED)
    assert [(d[2], d[3]) for d in rec.decisions] == [("batch_flushed", pytest.approx(240.0)),
                                                      ("batch_started", pytest.approx(264.0))]
    assert [d[6] for d in rec.decisions] == pytest.approx([20_000, 22_000])
    tail = flow_row(rec, "L", "pipeline")
    assert tail[11:13] == pytest.approx([11_000, 11_000]) and tail.sum() == pytest.approx(22_000)
    assert stock_row(rec, "R")[-1] == pytest.approx(22_000)
    assert stock_row(rec, "B")[13] == pytest.approx(4_000) and stock_row(rec, "B")[-1] == pytest.approx(8_000)
    assert abs(imbalance_t(rec.balance)) < 1e-6


def test_a_flush_waits_for_its_minimum_when_the_head_holds_less() -> None:
    """Flush after 3 d if at least 10 kt: at 72 h B holds only 6 kt; the flush is called
    when it reaches 10 kt, at 120 h."""
    rec = simulate(scenario(_net(flush={"after": "3d", "min": "10kt"}), horizon="6d"), SEED)
    assert rec.decisions[0][2] == "batch_flushed" and rec.decisions[0][3] == pytest.approx(120.0)


def test_a_size_range_calls_a_batch_at_its_minimum_and_pumps_what_is_there_when_pumping_starts() -> None:
    """min_size 10 kt: a batch is called at 120 h (10 kt at B); after the notice (144 h) B
    holds 12 kt, the batch's size, pumped over 2 d at 6 kt/d to 192 h."""
    rec = simulate(scenario(_net(min_size="10kt"), horizon="8d"), SEED)
    assert [(d[2], d[3], d[6]) for d in rec.decisions[:2]] == [
        ("batch_called", pytest.approx(120.0), pytest.approx(10_000)),
        ("batch_started", pytest.approx(144.0), pytest.approx(12_000))]
    assert flow_row(rec, "L", "pipeline")[6:8] == pytest.approx([6_000, 6_000])


def test_outside_its_windows_a_line_calls_no_batch_and_a_batch_under_way_pauses() -> None:
    """B starts with 50 kt (a full batch); the line may run 5-6 d, 7-10 d and 12-20 d
    after the start, and carries at most 10 kt/d here.  A batch needs 1 d of notice and
    2 d of pumping: that does not fit in the 1 d window, so it is called when the second
    opens (168 h) and starts at 192 h.  At 10 kt/d it pumps 20 kt by the window's end
    (240 h), pauses, and pumps the other 30 kt from 288 h, to 360 h."""
    net = _net(windows=[{"start": "5d", "duration": "1d"}, {"start": "7d", "duration": "3d"},
                        {"start": "12d", "duration": "8d"}])
    net["pipelines"][1]["capacity"] = "10 kt/d"
    net["depots"][0]["tank"]["initial"] = "50kt"
    net["sources"][0]["rate"] = "0 t/d"
    net["sources"][0]["tank"] = {"capacity": "1kt", "initial": "1kt"}  # something that could flow
    rec = simulate(scenario(net, horizon="16d"), SEED)
    assert [(d[2], d[3]) for d in rec.decisions] == [("batch_called", pytest.approx(168.0)),
                                                      ("batch_started", pytest.approx(192.0))]
    tail = flow_row(rec, "L", "pipeline")
    assert tail[:8].sum() == 0.0 and tail[10:12].sum() == 0.0
    assert tail[8:10] == pytest.approx([10_000, 10_000])
    assert tail[12:15] == pytest.approx([10_000, 10_000, 10_000]) and tail[15] == 0.0
    assert tail.sum() == pytest.approx(50_000)


@pytest.mark.parametrize(("rule", "words"), [
    ({"min_size": "60kt"}, "'min_size' (60,000 t) is above 'size' (50,000 t)"),
    ({"flush": {"after": "10d", "min": "80kt"}}, "'flush.min' (80,000 t) is above 'size'"),
    ({"flush": {"after": "10d"}}, "min"),
])
def test_a_contradictory_flexible_rule_is_refused_at_its_field(tmp_path: Path, rule: dict, words: str) -> None:
    import yaml

    data = {"name": "flex", "description": "flexible batching", "start": "2021-01-01", "horizon": "10d",
            "network": _net(**rule)}
    path = tmp_path / "flex.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    problems = validate(path)
    assert len(problems) == 1
    assert problems[0].path[:5] == ("network", "pipelines", 1, "batching", *problems[0].path[4:5])
    assert words in problems[0].message and problems[0].line is not None


# --------------------------------------------------------------------------- the reference corridor

FLUSH = "network.pipelines.brody_mozyr.batching.flush={after: 30d, min: 10kt}"


def _brody(path: str, *overrides: str):
    s = prepare(ROOT / "scenarios" / path, list(overrides)).scenario
    return s, simulate(s, rng.replication_seed(s.seed, 0))


# The replay's Brody-Mozyr as whole 85 kt batches (the baseline's fixed rule) instead of
# its batch per tanker (history_2020.batch_size, batch_min_size).
WHOLE_85 = ("network.pipelines.brody_mozyr.batching.size=85kt",
            "network.pipelines.brody_mozyr.batching.min_size=null")


def test_in_the_2020_replay_whole_batches_strand_a_remainder_at_brody_that_a_flush_moves() -> None:
    """The replay lands 9 cargoes at Pivdennyi, all at Brody before 31 December: the 7 Azeri
    (90 + 80 + 85 + 85 + 90 + 85 + 95 = 610 kt) and 2 Urals from Novorossiysk (2 x 77.3 =
    154.6 kt), 764.6 kt.  The replay itself moves a batch per tanker, so it all reaches Mozyr
    (tests/test_validation_history.py).  With whole 85 kt batches instead, 8 batches move
    680 kt and 84.6 kt stay at Brody on 31 December.

    With a flush after 30 idle days (at least 10 kt) the remainders go as partial batches.
    By April Brody has the March and April cargoes, 90 + 77.3 + 80 + 85 = 332.3 kt: three
    whole batches, and the 77.3 kt left is flushed.  June (85), July (90), August (85) and
    September (95) bring 355 kt: four whole batches (340 kt) and a flushed 15 kt.  The
    December tanker's 77.3 kt is flushed too: 7 x 85 + 77.3 + 15 + 77.3 = 764.6 kt, all of
    it at Mozyr, the last two batches 15 kt and 77.3 kt."""
    _, before = _brody("history_2020.yaml", *WHOLE_85)
    _, after = _brody("history_2020.yaml", *WHOLE_85, FLUSH)
    _, replay = _brody("history_2020.yaml")
    row = before.tank_names.index("brody")
    assert flow_row(replay, "brody_mozyr", "pipeline").sum() == pytest.approx(764_600)
    assert before.stock_t[row, -1] == pytest.approx(84_600)
    assert flow_row(before, "brody_mozyr", "pipeline").sum() == pytest.approx(680_000)
    assert after.stock_t[row, -1] == pytest.approx(0.0, abs=1e-6)
    assert flow_row(after, "brody_mozyr", "pipeline").sum() == pytest.approx(764_600)
    flushed = [d for d in after.decisions if d[2] == "batch_flushed"]
    assert flushed and all(d[6] >= 10_000 - 1e-6 for d in flushed)
    assert [d[6] for d in after.decisions if d[2] == "batch_started"][-2:] == pytest.approx([15_000, 77_300])


# The 2021 stops of the southern Druzhba flow (ROUTE_FACTS, pipelines: January, March and
# September 2021), as the months in which Brody–Mozyr may run reverse batches.
WINDOWS_2021 = ("network.pipelines.brody_mozyr.batching.windows=[{start: 2021-01-01, duration: 31d}, "
                "{start: 2021-03-01, duration: 31d}, {start: 2021-09-01, duration: 30d}]")


def test_the_2021_reverse_flow_windows_confine_brody_mozyr_to_january_march_and_september() -> None:
    """With the windows, the line pumps only on days 0-30, 59-89 and 243-272 of 2021, and
    every batch starts inside one; a flush after 30 d empties Brody inside the windows."""
    _, rec = _brody("baseline.yaml", WINDOWS_2021, FLUSH)
    pumped = flow_row(rec, "brody_mozyr", "pipeline")
    inside = np.zeros(pumped.size, dtype=bool)
    for a, b in ((0, 31), (59, 90), (243, 273)):
        inside[a:b] = True
    assert pumped[~inside].sum() == 0.0 and pumped[inside].sum() > 0.0
    starts = [d[3] / 24.0 for d in rec.decisions if d[2] == "batch_started"]
    assert starts and all(inside[int(t)] for t in starts)
    assert abs(imbalance_t(rec.balance)) < 1.0


def test_a_full_batch_above_the_head_tank_is_refused_unless_a_smaller_batch_may_start() -> None:
    """B holds at most 100 kt: whole 150 kt batches could never start (refused, naming the
    field); with min_size 40 kt a batch is called when B holds 40 kt (20 d at 2 kt/d, 480 h)
    and moves what B holds after its 1 d notice, 42 kt."""
    from sim.errors import ScenarioError

    with pytest.raises(ScenarioError, match="can never start"):
        simulate(scenario(_net(size="150kt"), horizon="25d"), SEED)
    rec = simulate(scenario(_net(size="150kt", min_size="40kt"), horizon="25d"), SEED)
    assert [(d[2], d[3], d[6]) for d in rec.decisions[:2]] == [
        ("batch_called", pytest.approx(480.0), pytest.approx(40_000)),
        ("batch_started", pytest.approx(504.0), pytest.approx(42_000))]
