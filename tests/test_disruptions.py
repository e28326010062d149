"""Disruption timing and effects against bare SimPy: windows, recurrences, merging,
composition on one Condition, attribution rows, stream independence and validation.

The helpers at the top (a toy corridor, a harness of Conditions) are shared with the other
test_disruptions_* modules."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model import disruptions
from sim.model.condition import Condition
from sim.recorder import Records
from sim.scenario.language import Scenario
import itertools


def network() -> dict[str, Any]:
    """A toy corridor with one facility of every kind and a 'turkish_straits' group."""
    terminal = {"tank": {"capacity": "100kt"},
                "berths": {"count": 1, "load_rate": "50 kt/d", "discharge_rate": "50 kt/d"}}
    return {
        "sources": [{"name": "baku", "origin": "azeri", "rate": "10 kt/d"}],
        "depots": [{"name": "brody", "tank": {"capacity": "100kt"}}],
        "pipelines": [{"name": "line", "from": "baku", "to": "brody", "capacity": "10 kt/d", "linefill": "50kt"}],
        "terminals": [{"name": "supsa", "groups": ["ports"], **terminal},
                      {"name": "pivdennyi", "groups": ["ports"], **terminal}],
        "sea_legs": [{"name": "black_sea", "from": "supsa", "to": "pivdennyi", "distance": "540 nm"}],
        "chokepoints": [{"name": "bosphorus", "transit": "6h", "groups": ["turkish_straits"]},
                        {"name": "dardanelles", "transit": "8h", "groups": ["turkish_straits"]}],
        "refineries": [{"name": "mozyr", "tank": {"capacity": "500kt"}, "demand": "30 kt/d"}],
    }


def scenario(disruptions_: list[dict[str, Any]], *, start: str = "2021-01-01", horizon: str = "30d") -> Scenario:
    return Scenario.model_validate({
        "name": "toy", "description": "a toy corridor for disruption tests",
        "start": start, "horizon": horizon, "network": network(), "disruptions": disruptions_,
    })


class Harness:
    """Conditions for every facility of a scenario, with a log of each composed change."""

    def __init__(self, s: Scenario, seed: int = 0) -> None:
        self.env = simpy.Environment()
        self.records = Records(horizon_h=s.horizon_h, flow_names=[], tank_names=[])
        self.conditions = {name: Condition(self.env, name) for name in s.network.by_name()}
        self.log: dict[str, list[tuple[float, bool, float]]] = {n: [] for n in self.conditions}
        for _name, cond in self.conditions.items():
            cond.on_change(lambda c=cond: self.log[c.facility].append((self.env.now, c.closed, c.factor)))
        disruptions.install(self.env, s, self.conditions, self.records, np.random.SeedSequence(seed))

    def run(self, until_h: float) -> Harness:
        self.env.run(until=until_h)
        return self


def closure(name: str, target: Any, **timing: Any) -> dict[str, Any]:
    return {"name": name, "target": target, "kind": "closure", **timing}


def window(start: str, duration: str) -> dict[str, Any]:
    return {"window": {"start": start, "duration": duration}}


# --------------------------------------------------------------------------- fixed windows


def test_window_applies_at_exactly_its_start_and_lifts_at_start_plus_duration():
    s = scenario([closure("fog", "bosphorus", **window("2d", "30h"))])
    h = Harness(s).run(30 * 24)
    # one change to closed at 48 h, one back to open at 48 + 30 = 78 h; nothing else moved
    assert h.log["bosphorus"] == [(48.0, True, 0.0), (78.0, False, 1.0)]
    assert h.log["dardanelles"] == []
    assert h.records.disruptions == [("fog", "bosphorus", "closure", 48.0, 78.0)]


def test_state_inside_and_outside_the_window_seen_by_a_facility_process():
    s = scenario([closure("fog", "bosphorus", **window("2d", "30h"))])
    h = Harness(s)
    seen = []

    def probe(env, cond):
        for t in (47.999, 48.001, 77.999, 78.001):
            yield env.timeout(t - env.now)
            seen.append(cond.closed)

    h.env.process(probe(h.env, h.conditions["bosphorus"]))
    h.run(100)
    assert seen == [False, True, True, False]


def test_window_start_as_a_date_counts_hours_from_the_scenario_start():
    s = scenario([closure("fog", "bosphorus", **window("2021-01-11", "10d"))], start="2021-01-01")
    assert disruptions.schedule(s.disruptions[0], s, np.random.SeedSequence(0)) == [(240.0, 480.0)]


def test_window_is_clipped_to_the_horizon_and_to_the_scenario_start():
    late = scenario([closure("late", "supsa", **window("9d", "5d"))], horizon="10d")
    assert Harness(late).run(240).records.disruptions == [("late", "supsa", "closure", 216.0, 240.0)]
    # a window that began the day before the scenario starts is in force from hour 0
    early = scenario([closure("early", "supsa", **window("2020-12-31", "2d"))], start="2021-01-01")
    h = Harness(early).run(100)
    assert h.records.disruptions == [("early", "supsa", "closure", 0.0, 24.0)]
    assert h.log["supsa"] == [(0.0, True, 0.0), (24.0, False, 1.0)]


# --------------------------------------------------------------------------- recurring


def test_recurring_window_repeats_every_period_until_the_horizon():
    s = scenario([closure("maint", "line", recurring={"start": "1d", "every": "7d", "duration": "2d"})])
    acts = disruptions.schedule(s.disruptions[0], s, np.random.SeedSequence(0))
    # starts at 24 + 168 k for k = 0..4 (696 < 720); the fifth is clipped at the 720 h horizon
    assert acts == [(24.0, 72.0), (192.0, 240.0), (360.0, 408.0), (528.0, 576.0), (696.0, 720.0)]
    h = Harness(s).run(720)
    assert [r[3:] for r in h.records.disruptions] == acts
    # nine changes inside the horizon; the clipped last one lifts at 720 h, when the run stops
    assert len(h.log["line"]) == 9 and h.conditions["line"].closed


def test_recurring_that_started_before_the_scenario_skips_the_finished_repetitions():
    s = scenario([closure("maint", "line", recurring={"start": "2020-12-20", "every": "7d", "duration": "2d"})],
                 start="2021-01-01", horizon="10d")
    # repetitions start 2020-12-20 (-288 h), -120 h, +48 h, +216 h; the first two are over by hour 0
    assert disruptions.schedule(s.disruptions[0], s, np.random.SeedSequence(0)) == [(48.0, 96.0), (216.0, 240.0)]


def test_recurring_with_duration_equal_to_period_is_one_continuous_activation():
    s = scenario([closure("shut", "line", recurring={"start": "0d", "every": "2d", "duration": "2d"})], horizon="10d")
    h = Harness(s).run(241)
    assert h.records.disruptions == [("shut", "line", "closure", 0.0, 240.0)]
    assert h.log["line"] == [(0.0, True, 0.0), (240.0, False, 1.0)]


# --------------------------------------------------------------------------- merging


def test_overlapping_or_touching_occurrences_merge_into_one_activation():
    occ = [(-5.0, -1.0), (0.0, 10.0), (5.0, 20.0), (20.0, 25.0), (27.0, 27.0), (30.0, 40.0), (50.0, 60.0)]
    # (-5,-1) ends before the start; (27,27) is empty; (50,60) starts after the 35 h horizon
    assert list(disruptions.activations(occ, 35.0)) == [(0.0, 25.0), (30.0, 35.0)]


def test_a_stochastic_disruption_never_applies_twice_at_once():
    # about 25 occurrences a day lasting 2-4 h each: heavy overlap, so merging must happen
    s = scenario([{**closure("storm", "supsa"),
                   "stochastic": {"per_year": 9000, "duration": {"uniform": ["2h", "4h"]}}}], horizon="5d")
    raw = disruptions.occurrences(s.disruptions[0], s, np.random.default_rng(1))
    h = Harness(s, seed=1).run(121)
    rows = [r[3:] for r in h.records.disruptions]
    assert len(rows) < len(raw)
    assert all(e1 < s2 for (_, e1), (s2, _) in itertools.pairwise(rows))
    # the log alternates closed/open: no repeated apply without a lift in between
    states = [closed for _, closed, _ in h.log["supsa"]]
    assert states == [True, False] * (len(states) // 2)


# --------------------------------------------------------------------------- composition


def test_two_overlapping_derates_multiply_and_a_closure_wins_over_both():
    s = scenario([
        {"name": "low_water", "target": "line", "kind": "derate", "factor": 0.5, **window("0d", "2d")},
        {"name": "pump_fault", "target": "line", "kind": "derate", "factor": 0.6, **window("1d", "2d")},
        closure("repair", "line", **window("36h", "4h")),
    ], horizon="5d")
    h = Harness(s).run(120)
    assert [(t, c, round(f, 12)) for t, c, f in h.log["line"]] == [
        (0.0, False, 0.5),   # low_water alone
        (24.0, False, 0.3),  # 0.5 x 0.6
        (36.0, True, 0.0),   # closure wins
        (40.0, False, 0.3),  # back to both derates
        (48.0, False, 0.6),  # low_water ends
        (72.0, False, 1.0),  # pump_fault ends
    ]
    cond = h.conditions["line"]
    assert cond.active() == [] and cond.factors() == {}


def test_two_overlapping_delays_add_and_each_is_attributed():
    s = scenario([
        {"name": "inspection", "target": "bosphorus", "kind": "delay", "delay": "3h", **window("0d", "2d")},
        {"name": "traffic", "target": "turkish_straits", "kind": "delay", "delay": "5h", **window("1d", "2d")},
    ], horizon="5d")
    h = Harness(s)
    seen = {}

    def probe(env):
        for t in (12, 36, 60, 80):
            yield env.timeout(t - env.now)
            seen[t] = (h.conditions["bosphorus"].draw_delays(), h.conditions["dardanelles"].draw_delays())

    h.env.process(probe(h.env))
    h.run(120)
    assert seen[12] == ([("inspection", 3.0)], [])
    assert seen[36] == ([("inspection", 3.0), ("traffic", 5.0)], [("traffic", 5.0)])
    assert sum(d for _, d in seen[36][0]) == 8.0
    assert seen[60] == ([("traffic", 5.0)], [("traffic", 5.0)])
    assert seen[80] == ([], [])


def test_a_group_target_gives_one_row_per_facility_per_activation():
    s = scenario([closure("straits_shut", "turkish_straits",
                          recurring={"start": "0d", "every": "10d", "duration": "1d"})])
    h = Harness(s).run(720)
    assert h.records.disruptions == [
        ("straits_shut", f, "closure", t, t + 24.0) for t in (0.0, 240.0, 480.0) for f in ("bosphorus", "dardanelles")
    ]


def test_each_kind_gives_its_effect():
    s = scenario([
        {"name": "cut", "target": "baku", "kind": "supply_cut", "factor": 0.25, **window("0d", "1d")},
        {"name": "runs", "target": "mozyr", "kind": "run_cut", "factor": 0.5, **window("0d", "1d")},
        {"name": "chlorides", "target": "line", "kind": "contamination", "lost": "1.5 Mt", **window("0d", "1d")},
        {"name": "swell", "target": "ports", "kind": "derate", "factor": 0.8, **window("0d", "1d")},
    ])
    h = Harness(s).run(1)
    c = h.conditions
    assert (c["baku"].closed, c["baku"].factor) == (False, 0.25)
    assert (c["mozyr"].closed, c["mozyr"].factor) == (False, 0.5)
    assert c["line"].closed and c["line"].closing == ["chlorides"]
    assert c["line"]._active["chlorides"].lost_t == 1_500_000.0
    assert c["supsa"].factors() == {"swell": 0.8} and c["pivdennyi"].factor == 0.8
    assert [r[2] for r in h.records.disruptions] == ["supply_cut", "run_cut", "contamination", "derate", "derate"]


def test_a_delay_drawn_from_a_distribution_changes_per_passage_within_its_range():
    s = scenario([{"name": "checks", "target": "bosphorus", "kind": "delay",
                   "delay": {"uniform": ["2h", "10h"]}, **window("0d", "30d")}])
    h = Harness(s, seed=7).run(1)
    draws = [h.conditions["bosphorus"].draw_delays()[0][1] for _ in range(2000)]
    assert all(2.0 <= d <= 10.0 for d in draws)
    assert len(set(draws)) == 2000
    assert abs(np.mean(draws) - 6.0) < 0.15  # sd of the mean = 8/sqrt(12)/sqrt(2000) = 0.052


def test_install_refuses_a_target_the_model_has_no_condition_for():
    s = scenario([closure("fog", "bosphorus", **window("1d", "1d"))])
    env = simpy.Environment()
    with pytest.raises(disruptions.DisruptionError, match="bosphorus"):
        disruptions.install(env, s, {}, Records(horizon_h=720, flow_names=[], tank_names=[]),
                            np.random.SeedSequence(0))


# --------------------------------------------------------------------------- randomness


STORMS = {**closure("storms", "ports"),
          "stochastic": {"per_month": {"jan": 3, "feb": 2, "nov": 1, "dec": 2},
                         "duration": {"lognormal": {"median": "18h", "p90": "3d"}}}}
FOG = {**closure("fog", "bosphorus"), "stochastic": {"per_year": 8, "duration": {"triangular": ["6h", "12h", "48h"]}}}
CHECKS = {"name": "checks", "target": "turkish_straits", "kind": "delay",
          "delay": {"lognormal": {"median": "4h", "p90": "12h"}}, "stochastic": {"per_year": 20, "duration": "2d"}}


def _rows_of(records: Records, name: str) -> list[tuple]:
    return [r for r in records.disruptions if r[0] == name]


def test_same_seed_gives_the_same_realisation_and_another_seed_a_different_one():
    s = scenario([STORMS], horizon="365d")
    a = Harness(s, seed=11).run(365 * 24).records.disruptions
    b = Harness(s, seed=11).run(365 * 24).records.disruptions
    c = Harness(s, seed=12).run(365 * 24).records.disruptions
    assert a == b and len(a) > 0
    assert a != c


def test_adding_an_unrelated_disruption_leaves_every_other_realisation_unchanged():
    alone = scenario([STORMS, CHECKS], horizon="365d")
    more = scenario([FOG, STORMS, {**closure("odesa_brody_out", "line"), **window("100d", "20d")}, CHECKS],
                    horizon="365d")
    for seed in (0, 1, 2):
        h1 = Harness(alone, seed=seed).run(365 * 24)
        h2 = Harness(more, seed=seed).run(365 * 24)
        for name in ("storms", "checks"):
            assert _rows_of(h1.records, name) == _rows_of(h2.records, name)
            assert len(_rows_of(h1.records, name)) > 0
        # per-passage delay draws too: 50 draws at the Bosphorus once 'checks' is active
        t = _rows_of(h1.records, "checks")[0][3]
        h1 = Harness(alone, seed=seed).run(t + 1)
        h2 = Harness(more, seed=seed).run(t + 1)
        d1 = [dict(h1.conditions["bosphorus"].draw_delays())["checks"] for _ in range(50)]
        d2 = [dict(h2.conditions["bosphorus"].draw_delays())["checks"] for _ in range(50)]
        assert d1 == d2 and len(set(d1)) == 50


def test_changing_only_the_duration_keeps_the_occurrence_times():
    longer = {**STORMS, "stochastic": {**STORMS["stochastic"], "duration": {"fixed": "1h"}}}
    a = disruptions.schedule(scenario([STORMS], horizon="365d").disruptions[0],
                             scenario([STORMS], horizon="365d"), np.random.SeedSequence(5))
    s_b = scenario([longer], horizon="365d")
    b = disruptions.schedule(s_b.disruptions[0], s_b, np.random.SeedSequence(5))
    # with 1 h storms nothing merges, so b lists every occurrence start; a's merged
    # activations each start at one of them
    starts_b = [s for s, _ in b]
    assert all(e - s == 1.0 or e == s_b.horizon_h for s, e in b)
    assert {s for s, _ in a} <= set(starts_b)
    assert len(a) > 5


# --------------------------------------------------------------------------- validation


def _problems(disruptions_: list[dict[str, Any]], **kw: Any) -> list[tuple]:
    from sim.scenario.language import reference_problems
    return reference_problems(scenario(disruptions_, **kw))


def test_a_kind_must_suit_its_targets_types():
    probs = _problems([
        {"name": "a", "target": "line", "kind": "supply_cut", "factor": 0.5, **window("0d", "1d")},
        {"name": "b", "target": "baku", "kind": "run_cut", "factor": 0.5, **window("0d", "1d")},
        {"name": "c", "target": "ports", "kind": "contamination", **window("0d", "1d")},
        {"name": "d", "target": ["line", "bosphorus"], "kind": "delay", "delay": "1h", **window("0d", "1d")},
        {"name": "e", "target": "mozyr", "kind": "derate", "factor": 0.5, **window("0d", "1d")},
        {"name": "ok1", "target": "turkish_straits", "kind": "delay", "delay": "1h", **window("0d", "1d")},
        {"name": "ok2", "target": "line", "kind": "contamination", **window("0d", "1d")},
        {"name": "ok3", "target": ["baku", "brody", "mozyr", "ports"], "kind": "closure", **window("0d", "1d")},
    ])
    paths = [p for p, _ in probs]
    assert paths == [("disruptions", i, "kind") for i in range(5)]
    msgs = [m for _, m in probs]
    assert "supply_cut cannot act on line (pipeline)" in msgs[0]
    assert "run_cut cannot act on baku (source)" in msgs[1]
    assert "supsa (terminal), pivdennyi (terminal)" in msgs[2]
    assert "cannot act on line (pipeline);" in msgs[3] and "bosphorus" not in msgs[3]
    assert "use supply_cut on a source and run_cut on a refinery" in msgs[4]


def test_a_window_outside_the_scenario_is_reported():
    probs = _problems([
        closure("after", "supsa", **window("2021-03-01", "1d")),
        closure("before", "supsa", **window("2020-12-01", "2d")),
        closure("straddles", "supsa", **window("2020-12-31", "2d")),
        closure("recurs_late", "supsa", recurring={"start": "40d", "every": "7d", "duration": "1d"}),
    ], start="2021-01-01", horizon="30d")
    assert [p for p, _ in probs] == [("disruptions", 0, "window", "start"), ("disruptions", 1, "window", "start"),
                                     ("disruptions", 3, "recurring", "start")]
    assert "never acts" in probs[0][1]


# --------------------------------------------------------------------------- properties

_interval = st.tuples(st.floats(-50, 150, allow_nan=False), st.floats(0, 60, allow_nan=False)).map(
    lambda p: (p[0], p[0] + p[1]))


@settings(max_examples=200, deadline=None)
@given(st.lists(_interval, max_size=30), st.floats(1, 120, allow_nan=False))
def test_activations_are_ordered_disjoint_and_cover_exactly_the_clipped_occurrences(occ, horizon):
    occ = sorted(occ)
    acts = list(disruptions.activations(occ, horizon))
    assert all(0.0 <= s < e <= horizon for s, e in acts)
    assert all(e1 < s2 for (_, e1), (s2, _) in itertools.pairwise(acts))  # disjoint, not touching
    # every instant inside an occurrence (and the horizon) is inside exactly one activation
    for s, e in occ:
        lo, hi = max(s, 0.0), min(e, horizon)
        if hi > lo:
            mid = (lo + hi) / 2
            assert sum(a <= mid <= b for a, b in acts) == 1
    # and every activation is the union of occurrences: its ends are occurrence ends or clips
    ends = {e for _, e in occ} | {horizon}
    starts = {s for s, _ in occ} | {0.0}
    assert all(s in starts and e in ends for s, e in acts)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 5, allow_nan=False), min_size=1, max_size=14), st.integers(0, 2**32 - 1))
def test_poisson_times_are_increasing_and_only_where_the_rate_is_positive(rates, seed):
    segments = [(24.0 * i, 24.0 * (i + 1), r / 24.0) for i, r in enumerate(rates)]
    times = list(disruptions.poisson_times(segments, np.random.default_rng(seed)))
    assert times == sorted(times)
    for t in times:
        i = min(int(t // 24.0), len(rates) - 1)
        assert 0.0 <= t <= 24.0 * len(rates)
        assert rates[i] > 0 or (t == 24.0 * i and i > 0 and rates[i - 1] > 0)
