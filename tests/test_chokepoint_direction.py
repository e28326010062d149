"""Disruptions with a ``direction`` at a strait: they act on that direction's traffic only.

Worked by hand on a lone strait with a 2 h transit (t = 0 is 00:00 on the start date):
a southbound closure holds southbound tankers and lets northbound ones through at once; a
northbound delay or derate lengthens northbound passages only; the facility-level state
that other facilities read ignores directional effects; the scenario language refuses a
direction on anything but a chokepoint, naming the field.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import simpy

from sim.model import disruptions
from sim.errors import ScenarioError
from sim.scenario.loader import load_scenario
from sim.model.chokepoint import Chokepoint
from sim.model.condition import Condition, Effect
from sim.recorder import Records
from sim.scenario.language import Scenario, reference_problems
from tests.test_chokepoint import arrive, at, entries, make, waits_of


def strait_with(disruption: dict) -> tuple[simpy.Environment, Chokepoint, Records]:
    """A lone 2 h strait with one disruption installed through the disruption module."""
    scenario = Scenario.model_validate({
        "name": "strait", "description": "one strait and one directional disruption",
        "start": "2021-01-15", "horizon": "30d",
        "network": {"chokepoints": [{"name": "Bosphorus", "transit": "2h"}]},
        "disruptions": [disruption],
    })
    assert reference_problems(scenario) == []
    env = simpy.Environment()
    condition = Condition(env, "Bosphorus")
    records = Records(scenario.horizon_h, [], [])
    strait = Chokepoint(env, scenario.network.chokepoints[0], condition, records, scenario)
    disruptions.install(env, scenario, {"Bosphorus": condition}, records, np.random.SeedSequence(0))
    return env, strait, records


# --------------------------------------------------------------------------- closures


def test_southbound_closure_holds_a_southbound_tanker_and_lets_a_northbound_one_pass_at_once():
    env, strait, condition, records = make({})
    at(env, 0.0, lambda: condition.apply("bora", Effect("closure", direction="southbound")))
    at(env, 10.0, lambda: condition.lift("bora"))
    arrive(env, strait, "South", 1.0, direction="southbound")
    arrive(env, strait, "North", 1.0, direction="northbound")
    env.run()
    # North: in at 1, out at 3, no wait.  South: held 1-10 by the closure, in at 10, out at 12.
    assert entries(records) == {"North": (1.0, 3.0), "South": (10.0, 12.0)}
    assert waits_of(records, "North") == []
    assert waits_of(records, "South") == [("closed", "bora", 1.0, 10.0)]


def test_a_closure_without_direction_still_holds_both_directions():
    env, strait, condition, records = make({})
    at(env, 0.0, lambda: condition.apply("fog", Effect("closure")))
    at(env, 5.0, lambda: condition.lift("fog"))
    arrive(env, strait, "South", 1.0, direction="southbound")
    arrive(env, strait, "North", 2.0, direction="northbound")
    env.run()
    assert entries(records) == {"South": (5.0, 7.0), "North": (5.0, 7.0)}
    assert waits_of(records, "North") == [("closed", "fog", 2.0, 5.0)]


def test_a_northbound_closure_lifted_while_a_southbound_one_holds_releases_only_northbound():
    env, strait, condition, records = make({})
    at(env, 0.0, lambda: condition.apply("nb", Effect("closure", direction="northbound")))
    at(env, 0.0, lambda: condition.apply("sb", Effect("closure", direction="southbound")))
    at(env, 4.0, lambda: condition.lift("nb"))
    at(env, 9.0, lambda: condition.lift("sb"))
    arrive(env, strait, "North", 1.0, direction="northbound")
    arrive(env, strait, "South", 1.0, direction="southbound")
    env.run()
    assert entries(records) == {"North": (4.0, 6.0), "South": (9.0, 11.0)}
    assert waits_of(records, "North") == [("closed", "nb", 1.0, 4.0)]
    assert waits_of(records, "South") == [("closed", "sb", 1.0, 9.0)]


# --------------------------------------------------------------------------- delays and derates


def test_northbound_fixed_delay_adds_exactly_its_hours_northbound_and_nothing_southbound():
    env, strait, records = strait_with({
        "name": "nb_hold", "target": "Bosphorus", "kind": "delay", "direction": "northbound",
        "delay": {"fixed": "5h"}, "window": {"start": "0h", "duration": "20d"},
    })
    arrive(env, strait, "North", 10.0, direction="northbound")
    arrive(env, strait, "South", 10.0, direction="southbound")
    env.run()
    # North: 5 h delay 10-15, transit 15-17 (7 h in all); South: transit 10-12 (2 h).
    assert entries(records) == {"North": (15.0, 17.0), "South": (10.0, 12.0)}
    assert waits_of(records, "North") == [("delay", "nb_hold", 10.0, 15.0)]
    assert waits_of(records, "South") == []


def test_southbound_derate_slows_only_southbound_transits_and_is_attributed():
    env, strait, records = strait_with({
        "name": "sb_slow", "target": "Bosphorus", "kind": "derate", "direction": "southbound",
        "factor": 0.5, "window": {"start": "0h", "duration": "20d"},
    })
    arrive(env, strait, "North", 3.0, direction="northbound")
    arrive(env, strait, "South", 3.0, direction="southbound")
    env.run(until=1.0)
    assert strait.transit_now_h("southbound") == pytest.approx(4.0)
    assert strait.transit_now_h("northbound") == pytest.approx(2.0)
    env.run()
    # factor 0.5: southbound transit 2 h / 0.5 = 4 h (3-7), the 2 h beyond nominal a delay wait.
    assert entries(records) == {"North": (3.0, 5.0), "South": (3.0, 7.0)}
    assert waits_of(records, "South") == [("delay", "sb_slow", 5.0, 7.0)]
    assert waits_of(records, "North") == []


def test_directional_effects_leave_the_facility_level_state_untouched():
    env = simpy.Environment()
    cond = Condition(env, "Bosphorus")
    cond.apply("sb_shut", Effect("closure", direction="southbound"))
    cond.apply("nb_slow", Effect("derate", factor=0.25, direction="northbound"))
    cond.apply("nb_hold", Effect("delay", draw_delay_h=lambda: 3.0, direction="northbound"))
    # what every other facility (and the network) reads: nothing without a direction is active
    assert (cond.closed, cond.closing, cond.factor, cond.factors(), cond.draw_delays()) == (False, [], 1.0, {}, [])
    assert cond.closing_for("southbound") == ["sb_shut"] and cond.factor_for("southbound") == 0.0
    assert cond.closing_for("northbound") == [] and cond.factor_for("northbound") == 0.25
    assert cond.draw_delays("northbound") == [("nb_hold", 3.0)] and cond.draw_delays("southbound") == []
    cond.apply("storm", Effect("closure"))
    assert cond.closed and cond.closing == ["storm"]
    assert cond.closing_for("southbound") == ["sb_shut", "storm"]


def test_effect_for_carries_the_disruptions_direction():
    s = Scenario.model_validate({
        "name": "strait", "description": "one strait and one directional disruption",
        "start": "2021-01-15", "horizon": "30d",
        "network": {"chokepoints": [{"name": "Bosphorus", "transit": "2h"}]},
        "disruptions": [{"name": "sb", "target": "Bosphorus", "kind": "closure", "direction": "southbound",
                         "window": {"start": "0h", "duration": "1d"}}],
    })
    assert disruptions.effect_for(s.disruptions[0]) == Effect("closure", direction="southbound")


# --------------------------------------------------------------------------- the scenario language


BASE = """\
name: dir
description: a directional disruption on the wrong kind of facility
start: 2021-01-01
horizon: 30d
network:
  sources: [{name: baku, origin: azeri, rate: 10 kt/d}]
  refineries: [{name: mozyr, demand: 5 kt/d, tank: {capacity: 100kt}}]
  pipelines: [{name: line, from: baku, to: mozyr, capacity: 10 kt/d, linefill: 50kt}]
  chokepoints: [{name: bosphorus, transit: 6h}]
"""


def _load(tmp_path: Path, disruptions_yaml: str) -> Scenario:
    p = tmp_path / "dir.yaml"
    p.write_text(BASE + textwrap.dedent(disruptions_yaml))
    return load_scenario(p)


def test_direction_on_a_pipeline_is_refused_with_the_field_path(tmp_path: Path):
    with pytest.raises(ScenarioError) as info:
        _load(tmp_path, """\
            disruptions:
              - {name: cut, target: line, kind: closure, direction: northbound, window: {start: 1d, duration: 1d}}
            """)
    problems = info.value.problems
    assert [p.path for p in problems] == [("disruptions", 0, "direction")]
    assert problems[0].line == 11
    assert "'direction: northbound' only applies to chokepoints" in problems[0].message
    assert "line (pipeline)" in problems[0].message


def test_direction_on_a_group_with_a_pipeline_names_only_the_non_chokepoint():
    s = Scenario.model_validate({
        "name": "dir", "description": "a group mixing a strait and a pipeline",
        "start": "2021-01-01", "horizon": "30d",
        "network": {
            "sources": [{"name": "baku", "origin": "azeri", "rate": "10 kt/d"}],
            "refineries": [{"name": "mozyr", "demand": "5 kt/d", "tank": {"capacity": "100kt"}}],
            "pipelines": [{"name": "line", "from": "baku", "to": "mozyr", "capacity": "10 kt/d",
                           "linefill": "50kt", "groups": ["mixed"]}],
            "chokepoints": [{"name": "bosphorus", "transit": "6h", "groups": ["mixed"]}],
        },
        "disruptions": [{"name": "cut", "target": "mixed", "kind": "closure", "direction": "southbound",
                         "window": {"start": "1d", "duration": "1d"}}],
    })
    problems = reference_problems(s)
    assert [p for p, _ in problems] == [("disruptions", 0, "direction")]
    assert "line (pipeline)" in problems[0][1] and "bosphorus" not in problems[0][1]


def test_an_unknown_direction_is_refused_with_the_choices(tmp_path: Path):
    with pytest.raises(ScenarioError) as info:
        _load(tmp_path, """\
            disruptions:
              - {name: cut, target: bosphorus, kind: closure, direction: eastbound, window: {start: 1d, duration: 1d}}
            """)
    problems = info.value.problems
    assert [p.path for p in problems] == [("disruptions", 0, "direction")]
    assert "northbound" in problems[0].format() and "southbound" in problems[0].format()


def test_direction_on_a_chokepoint_is_accepted(tmp_path: Path):
    s = _load(tmp_path, """\
        disruptions:
          - {name: sb, target: bosphorus, kind: delay, direction: southbound, delay: 2d, window: {start: 1d, duration: 1d}}
        """)  # noqa: E501 - one disruption reads best on one line of YAML
    assert s.disruptions[0].direction == "southbound"


# --------------------------------------------------------------------------- in the whole model


def test_a_southbound_delay_holds_a_shuttle_on_its_ballast_return_only():
    """A shuttle loads 24 kt at 1 kt/h (0-24 h) and sails 240 nm at 10 kn; the strait
    (2 h transit) is 120 nm out, passed northbound laden and southbound in ballast.
    Laden: strait at 36 h, out at 38, at B at 50 h (no delay: the delay is southbound).
    Discharge 12 h (50-62); ballast: strait at 74 h, 10 h southbound delay (74-84), transit
    84-86, back at A at 98 h, not 88 h as without the delay."""
    from tests.test_model_support import SHUTTLE, TWO_PORTS, scenario, voyage_dicts
    from sim.model import simulate

    network = {**TWO_PORTS,
               "sea_legs": [{**TWO_PORTS["sea_legs"][0],
                             "passes": [{"chokepoint": "strait", "at": "120 nm", "direction": "northbound"}]}],
               "chokepoints": [{"name": "strait", "transit": "2h"}]}
    hold = {"name": "sb_queue", "target": "strait", "kind": "delay", "direction": "southbound",
            "delay": "10h", "window": {"start": "0h", "duration": "10d"}}
    rec = simulate(scenario(network, shipping=SHUTTLE, horizon="5d", disruptions=[hold]),
                   np.random.SeedSequence(7))
    v = voyage_dicts(rec)
    assert v[0]["arrive_discharge_h"] == pytest.approx(50.0)
    assert v[1]["arrive_load_h"] == pytest.approx(98.0)
    strait_waits = [(w[1], w[2], w[4], w[5]) for w in rec.waits if w[0] == "strait"]
    assert strait_waits == [("delay", "sb_queue", pytest.approx(74.0), pytest.approx(84.0))]
