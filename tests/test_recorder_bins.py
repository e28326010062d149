"""How Records.add_flow spreads a constant rate over the daily bins (sim.recorder).

The bins are written through a memoryview per row (a speed shortcut); these tests pin the
arithmetic on cases worked by hand and check that the shortcut survives what a Records goes
through: a pickle round trip (worker to parent) and a replaced ``flow_t``.
"""

from __future__ import annotations

import pickle

import numpy as np

from sim import recorder
from sim.recorder import Records


def _records(days: int) -> Records:
    return Records(horizon_h=24.0 * days, flow_names=[("a", "load"), ("b", "load")], tank_names=[])


def test_a_rate_over_parts_of_days_fills_each_day_with_its_share() -> None:
    """10 t/h from 20 h to 75 h over a 4-day horizon: day 0 gets 4 h (40 t), days 1 and 2
    a whole day each (240 t), day 3 the 3 h to 75 h (30 t); 550 t = 10 t/h x 55 h in all.
    The other series is untouched."""
    r = _records(4)
    r.add_flow(1, 20.0, 75.0, 10.0)
    assert r.flow_t[1].tolist() == [40.0, 240.0, 240.0, 30.0]
    assert r.flow_t[0].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_a_segment_inside_one_day_or_ending_on_its_boundary_is_one_bin() -> None:
    """2 t/h over 5-7 h is 4 t in day 0; 3 t/h over 30-48 h (ending exactly at the day-2
    boundary) is 54 t in day 1 only; a zero rate or an empty span adds nothing."""
    r = _records(3)
    r.add_flow(0, 5.0, 7.0, 2.0)
    r.add_flow(0, 30.0, 48.0, 3.0)
    r.add_flow(0, 50.0, 60.0, 0.0)
    r.add_flow(0, 60.0, 60.0, 5.0)
    assert r.flow_t[0].tolist() == [4.0, 54.0, 0.0]


def test_a_segment_past_the_horizon_is_cut_at_it() -> None:
    """1 t/h from 36 h to 100 h with a 2-day (48 h) horizon: 12 t in day 1, nothing beyond."""
    r = _records(2)
    r.add_flow(0, 36.0, 100.0, 1.0)
    assert r.flow_t[0].tolist() == [0.0, 12.0]


def test_long_and_short_spans_give_the_bins_numpy_gives() -> None:
    """Spans shorter and longer than the loop limit (recorder._LOOP_DAYS whole days) add,
    bin for bin, exactly what numpy's own element-wise additions give, in the same order."""
    days = 3 * recorder._LOOP_DAYS
    r = _records(days)
    expected = np.zeros(days)
    segments = [(0.7, 24.0 * 2 + 5.3, 1.1), (3.3, 24.0 * (recorder._LOOP_DAYS + 5) + 0.1, 7.7),
                (24.0 * 4 + 0.2, 24.0 * days - 0.4, 0.3)]
    for t0, t1, rate in segments:
        r.add_flow(0, t0, t1, rate)
        d0, d1 = int(t0 // 24.0), int(t1 // 24.0)
        expected[d0] += rate * ((d0 + 1) * 24.0 - t0)
        expected[d0 + 1:d1] += rate * 24.0
        expected[d1] += rate * (t1 - d1 * 24.0)
    assert r.flow_t[0].tobytes() == expected.tobytes()


def test_records_still_bin_after_a_pickle_round_trip_and_a_new_flow_t() -> None:
    """A worker's Records pickles (the row views are left out and made again), and a
    replaced ``flow_t`` is the one written to: 1 t/h over 0-12 h adds 12 t each time."""
    r = _records(2)
    r.add_flow(0, 0.0, 12.0, 1.0)
    back = pickle.loads(pickle.dumps(r))
    back.add_flow(0, 0.0, 12.0, 1.0)
    assert back.flow_t[0].tolist() == [24.0, 0.0]
    assert r.flow_t[0].tolist() == [12.0, 0.0]
    back.flow_t = np.zeros_like(back.flow_t)
    back.add_flow(1, 0.0, 12.0, 1.0)
    assert back.flow_t[1].tolist() == [12.0, 0.0]
    assert back.flow_t[0].tolist() == [0.0, 0.0]
