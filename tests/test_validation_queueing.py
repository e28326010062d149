"""Queueing theory checks: a single berth and a single-lane strait behave as an M/D/1 queue,
and Little's law holds at each queue.

Poisson arrivals come out of the scenario language itself: a programme lifts a cargo every
``1/lambda`` hours and each spot tanker arrives uniformly within +-``spread`` of its laycan.
Far from the ends, arrivals are the superposition of 2 x spread x lambda independent sparse
points, which is a Poisson process to within O(1/contributors) (Palm–Khintchine); we use
200 contributors.  Loading (100 berths, fast) and sailing take the same time for every
tanker, so arrivals at the discharge port or the strait are the same Poisson process shifted.

Service is deterministic (cargo / discharge rate, or the strait's transit time), so theory
is M/D/1 (Pollaczek–Khinchine): utilisation rho = lambda D, mean wait Wq = rho D / (2 (1 - rho)).
Tolerances come from replication noise: the mean over R replications must lie within
4 standard errors of theory, and the standard error must be small enough for the test to
have power (below 6 % of the value).  Run ``python -m tests.test_validation_queueing`` to
print the figures quoted in docs/validation.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Iterator

import numpy as np
import pytest
import simpy

from sim import rng
from sim.model.build import build_model
from sim.recorder import VOYAGE_FIELDS
from sim.scenario.language import Scenario

COL = {n: i for i, n in enumerate(VOYAGE_FIELDS)}
LAMBDA_PER_H = 0.1   # one arrival every 10 h on average
SERVICE_H = 6.0      # deterministic service time: rho = 0.6
SPREAD_H = 1000.0    # laycan spread: 2 x 1000 h x 0.1/h = 200 contributors per instant
LIFTINGS = 1200
CARGO_T = 10_000.0
SAIL_NM = 10.0
SPEED_KN = 10.0
WARMUP_H = 500.0
REPLICATIONS = 8
SAMPLE_EVERY_H = 0.25


def md1_wait_h(lam: float, service_h: float) -> float:
    """Pollaczek–Khinchine mean wait in queue for M/D/1."""
    rho = lam * service_h
    return rho * service_h / (2.0 * (1.0 - rho))


def queue_scenario(where: str) -> Scenario:
    """A load port with ample berths, a short leg, and one single-server queue:
    ``where`` = "berth" (one discharge berth) or "strait" (a one-lane strait on the leg)."""
    discharge_rate = CARGO_T / SERVICE_H * 24.0 if where == "berth" else CARGO_T * 24.0 * 10
    first_h = SPREAD_H
    leg: dict = {"name": "leg", "from": "load", "to": "unload", "distance": f"{SAIL_NM} nm"}
    chokepoints = []
    if where == "strait":
        leg["passes"] = [{"chokepoint": "strait", "at": f"{SAIL_NM / 2} nm", "direction": "northbound"}]
        chokepoints = [{"name": "strait", "transit": f"{SERVICE_H}h", "lanes": 1}]
    data = {
        "name": f"md1-{where}",
        "description": "M/D/1 check: Poisson tanker arrivals at a single deterministic server",
        "start": "2021-01-01",
        "horizon": f"{first_h + LIFTINGS / LAMBDA_PER_H + 3 * SPREAD_H}h",
        "network": {
            "terminals": [
                {"name": "load", "tank": {"capacity": "100 Mt", "initial": "100 Mt"},
                 "berths": {"count": 100, "load_rate": f"{CARGO_T * 24 * 10} t/d"}},
                {"name": "unload", "tank": {"capacity": "100 Mt"},
                 "berths": {"count": 1 if where == "berth" else 100, "discharge_rate": f"{discharge_rate} t/d"}},
            ],
            "sea_legs": [leg],
            "chokepoints": chokepoints,
        },
        "shipping": {"programmes": [{
            "name": "poisson", "every": f"{1 / LAMBDA_PER_H}h", "first": f"{first_h}h",
            "until": f"{first_h + LIFTINGS / LAMBDA_PER_H}h",
            "load_ports": [{"terminal": "load"}], "discharge_port": "unload",
            "tanker": {"cargo": f"{CARGO_T} t", "speed": f"{SPEED_KN} kn", "length": "100 m"},
            "laycan_spread": f"{SPREAD_H}h",
        }]},
    }
    return Scenario.model_validate(data)


@dataclass
class QueueRun:
    """One replication seen from one queue, restricted to the full-density window."""

    window_h: tuple[float, float]
    arrivals_h: np.ndarray     # arrival times in the window, sorted
    waits_h: np.ndarray        # waits of the customers arriving in the window
    arrivals: int
    busy_h: float              # server busy time inside the window
    sampled_queue: float       # time-average number waiting, sampled from the SimPy resource


def _window(shift_h: float) -> tuple[float, float]:
    lo = 2 * SPREAD_H + shift_h + WARMUP_H
    hi = SPREAD_H + (LIFTINGS - 1) / LAMBDA_PER_H - SPREAD_H + shift_h
    return lo, hi


def run_queue(where: str, replication: int) -> QueueRun:
    scenario = queue_scenario(where)
    env = simpy.Environment()
    model = build_model(env, scenario, rng.replication_seed(20210, replication))
    load_h = CARGO_T / (CARGO_T * 10)  # 0.1 h at the load berth
    if where == "berth":
        shift_h = load_h + SAIL_NM / SPEED_KN
        resource = model.ports["unload"].berths
    else:
        shift_h = load_h + SAIL_NM / 2 / SPEED_KN
        resource = model.chokepoints["strait"].lanes["northbound"]
    lo, hi = _window(shift_h)
    samples: list[int] = []

    def monitor() -> Iterator[simpy.Event]:
        yield env.timeout(lo)
        while env.now < hi:
            samples.append(len(resource.queue))
            yield env.timeout(SAMPLE_EVERY_H)

    env.process(monitor())
    rec = model.run()
    if where == "berth":
        v = [r for r in rec.voyages if lo <= r[COL["arrive_discharge_h"]] < hi]
        waits = np.array([r[COL["berth_discharge_h"]] - r[COL["arrive_discharge_h"]] for r in v])
        arrivals = np.sort([r[COL["arrive_discharge_h"]] for r in v])
        spans = [(r[COL["berth_discharge_h"]], r[COL["discharge_end_h"]]) for r in rec.voyages]
    else:
        p = [x for x in rec.passages if lo <= x[3] < hi]
        waits = np.array([x[4] - x[3] for x in p])
        arrivals = np.sort([x[3] for x in p])
        spans = [(x[4], x[5]) for x in rec.passages]
    busy = sum(max(0.0, min(b, hi) - max(a, lo)) for a, b in spans)
    return QueueRun((lo, hi), arrivals, waits, len(waits), busy, float(np.mean(samples)))


@pytest.fixture(scope="module", params=["berth", "strait"])
def runs(request) -> tuple[str, list[QueueRun]]:
    return request.param, [run_queue(request.param, i) for i in range(REPLICATIONS)]


def _mean_se(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1) / math.sqrt(len(a)))


def test_arrivals_are_poisson_at_the_designed_rate(runs) -> None:
    _, rs = runs
    rates = [r.arrivals / (r.window_h[1] - r.window_h[0]) for r in rs]
    mean, se = _mean_se(rates)
    assert abs(mean - LAMBDA_PER_H) <= 4 * se + 1e-3
    # Poisson: exponential gaps, coefficient of variation 1 (a grid would give 0)
    gaps = np.concatenate([np.diff(r.arrivals_h) for r in rs])
    assert len(gaps) > 5000
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.05)
    # and P(gap > mean) = exp(-1)
    assert np.mean(gaps > gaps.mean()) == pytest.approx(math.exp(-1), abs=0.02)


def test_single_server_utilisation_is_lambda_times_service(runs) -> None:
    _, rs = runs
    util = [r.busy_h / (r.window_h[1] - r.window_h[0]) for r in rs]
    mean, se = _mean_se(util)
    rho = LAMBDA_PER_H * SERVICE_H  # 0.6
    assert se < 0.06 * rho
    assert abs(mean - rho) <= 4 * se, f"utilisation {mean:.4f} +- {se:.4f}, theory {rho}"


def test_single_server_mean_wait_matches_md1(runs) -> None:
    where, rs = runs
    wq = md1_wait_h(LAMBDA_PER_H, SERVICE_H)  # 0.6 x 6 / (2 x 0.4) = 4.5 h
    assert wq == pytest.approx(4.5)
    mean, se = _mean_se([float(r.waits_h.mean()) for r in rs])
    assert se < 0.06 * wq, f"replication noise too large for a meaningful check ({se:.3f} h)"
    assert abs(mean - wq) <= 4 * se, f"{where}: mean wait {mean:.3f} +- {se:.3f} h, M/D/1 gives {wq:.3f} h"
    # and clearly not M/M/1 (rho D / (1 - rho) = 9 h): the deterministic service matters
    assert mean < 0.75 * (LAMBDA_PER_H * SERVICE_H * SERVICE_H / (1 - LAMBDA_PER_H * SERVICE_H))


def test_littles_law_holds_at_the_queue(runs) -> None:
    """L (sampled from the SimPy queue) = lambda x W (from the recorded waits)."""
    where, rs = runs
    diffs = []
    for r in rs:
        lam = r.arrivals / (r.window_h[1] - r.window_h[0])
        diffs.append(r.sampled_queue - lam * float(r.waits_h.mean()))
    mean, se = _mean_se(diffs)
    ell = float(np.mean([r.sampled_queue for r in rs]))
    assert ell == pytest.approx(LAMBDA_PER_H * md1_wait_h(LAMBDA_PER_H, SERVICE_H), rel=0.15)
    # edge effects (customers straddling the window ends) are O(1/arrivals); allow 2 % of L
    assert abs(mean) <= 4 * se + 0.02 * ell, f"{where}: L - lambda W = {mean:.4f} +- {se:.4f} (L = {ell:.3f})"


if __name__ == "__main__":
    for where in ("berth", "strait"):
        rs = [run_queue(where, i) for i in range(REPLICATIONS)]
        w, wse = _mean_se([float(r.waits_h.mean()) for r in rs])
        u, use = _mean_se([r.busy_h / (r.window_h[1] - r.window_h[0]) for r in rs])
        ell = np.mean([r.sampled_queue for r in rs])
        lw = np.mean([r.arrivals / (r.window_h[1] - r.window_h[0]) * r.waits_h.mean() for r in rs])
        print(f"{where}: arrivals/rep {np.mean([r.arrivals for r in rs]):.0f}; "
              f"utilisation {u:.4f} +- {use:.4f} (theory 0.6); "
              f"mean wait {w:.3f} +- {wse:.3f} h (M/D/1 {md1_wait_h(LAMBDA_PER_H, SERVICE_H):.3f} h); "
              f"L sampled {ell:.4f} vs lambda W {lw:.4f}")
