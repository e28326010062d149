"""Times of day in instants are kept, never cut to midnight (issue 13, item 10).

The runner test scenario starts on 2021-01-01 (t = 0 is 00:00 that day, on the scenario's
clock ``utc_offset_h``); a fixed closure of pivdennyi is added with its window's start
written in each form.  Hours from the start, worked out by hand:

    2021-01-10                  9 days            = 216 h
    2021-01-10T18:00:00         9 days + 18 h     = 234 h   (unquoted: a YAML timestamp)
    '2021-01-10 06:30'          9 days + 6.5 h    = 222.5 h
    2021-01-10T18:00:00Z        18:00 UTC on a UTC+3 clock = 21:00 local -> 237 h
    '2021-01-10T01:00+05:00'    20:00 UTC on 01-09 = 23:00 local (UTC+3) on 01-09 -> 8 d + 23 h = 215 h
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.model import disruptions
from sim.results import store
from sim.errors import ScenarioError
from sim.scenario.loader import load_scenario, validate_tree
from sim.rng import replication_seed

from tests.test_runner import SMALL

CLOSURE = """\
  - name: port-closed
    target: pivdennyi
    kind: closure
    window: {{start: {start}, duration: 2d}}
"""


def scenario_file(tmp_path: Path, start: str, *, utc_offset: float | None = None,
                  scenario_start: str | None = None) -> Path:
    text = SMALL.replace("disruptions:\n", "disruptions:\n" + CLOSURE.format(start=start), 1)
    if utc_offset is not None:
        text = text.replace("seed: 7\n", f"seed: 7\nutc_offset_h: {utc_offset}\n", 1)
    if scenario_start is not None:
        text = text.replace("start: 2021-01-01\n", f"start: {scenario_start}\n", 1)
    p = tmp_path / "s.yaml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("start, utc_offset, hours", [
    ("2021-01-10", None, 216.0),
    ("2021-01-10T18:00:00", None, 234.0),
    ("'2021-01-10 06:30'", None, 222.5),
    ("2021-01-10T18:00:00Z", 3, 237.0),
    ("'2021-01-10T01:00+05:00'", 3, 215.0),
], ids=["date", "date-time", "quoted-with-space", "utc", "zone-across-midnight"])
def test_a_window_starts_at_its_time_of_day(tmp_path, start, utc_offset, hours):
    s = load_scenario(scenario_file(tmp_path, start, utc_offset=utc_offset))
    closure = next(d for d in s.disruptions if d.name == "port-closed")
    assert s.at_h(closure.window.start) == pytest.approx(hours, abs=1e-9)
    # the model's schedule applies it then: one activation from that hour for 48 h
    (act,) = disruptions.schedule(closure, s, replication_seed(7, 0))
    assert (act[0], act[1]) == pytest.approx((hours, hours + 48.0))
    # the resolved scenario of a run folder keeps the time (same hash, same hour on reload)
    again = validate_tree(store.scenario_data(s), "<resolved>")
    assert store.scenario_hash(again) == store.scenario_hash(s)
    assert again.at_h(next(d for d in again.disruptions if d.name == "port-closed").window.start) == hours


def test_a_date_only_instant_keeps_the_hash_it_had(tmp_path):
    """A date without a time is stored as before (no offset), so run folders written before
    times of day were kept still resume: the instant is {date, offset_h: None}."""
    s = load_scenario(scenario_file(tmp_path, "2021-01-10"))
    w = next(d for d in s.disruptions if d.name == "port-closed").window.start
    assert (w.date.isoformat(), w.offset_h) == ("2021-01-10", None)


def test_the_scenario_start_refuses_a_time_of_day_instead_of_cutting_it(tmp_path):
    """t = 0 is 00:00 on ``start``; 06:00 there is refused at its line, naming the field."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario_file(tmp_path, "2021-01-10", scenario_start="2021-01-01T06:00:00"))
    (p,) = info.value.problems
    assert p.path == ("start",) and p.line == 3
    assert "has a time of day (06:00)" in p.message and "write the date alone" in p.message
    # exactly midnight is that date, nothing is cut
    s = load_scenario(scenario_file(tmp_path, "2021-01-10", scenario_start="2021-01-01T00:00:00"))
    assert s.start.isoformat() == "2021-01-01"


def test_an_impossible_time_is_refused_at_its_line(tmp_path):
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario_file(tmp_path, "'2021-01-10T25:00'"))
    (p,) = info.value.problems
    assert p.path[-2:] == ("window", "start")
    assert "hour must be in 0..23" in p.message
