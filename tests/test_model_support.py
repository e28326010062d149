"""Small inline scenarios for the route-model tests, and the mass-balance check they share."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import simpy

from sim.model import build_model
from sim.model.build import Model
from sim.scenario.language import Scenario, reference_problems


def scenario(network: dict[str, Any], *, horizon: str = "10d", shipping: dict | None = None,
             disruptions: list | None = None, **top: Any) -> Scenario:
    data: dict[str, Any] = {
        "name": "test",
        "description": "an inline scenario for a model test",
        "start": "2021-01-01",
        "horizon": horizon,
        "network": copy.deepcopy(network),
        **top,
    }
    if shipping:
        data["shipping"] = copy.deepcopy(shipping)
    if disruptions:
        data["disruptions"] = copy.deepcopy(disruptions)
    s = Scenario.model_validate(data, context={"barrels_per_tonne": top.get("barrels_per_tonne")})
    problems = reference_problems(s)
    assert not problems, problems
    return s


def model_of(s: Scenario, seed: int = 1) -> Model:
    return build_model(simpy.Environment(), s, np.random.SeedSequence(seed))


def apply_between(m: Model, facility: str, disruption: str, effect, start_h: float, end_h: float) -> None:
    """Apply ``effect`` to ``facility`` as ``disruption`` from ``start_h`` to ``end_h``."""
    cond = m.conditions[facility]

    def window():
        if start_h > 0.0:
            yield m.env.timeout(start_h)
        cond.apply(disruption, effect)
        yield m.env.timeout(end_h - start_h)
        cond.lift(disruption)

    m.env.process(window())


def imbalance_t(balance: dict[str, float]) -> float:
    """injected - (delivered + in pipelines + in tanks + aboard + removed)."""
    return balance["injected"] - (balance["delivered"] + balance["in_pipelines"] + balance["in_tanks"]
                                  + balance["aboard"] + balance["removed"])


def flow_row(records, facility: str, kind: str) -> np.ndarray:
    return records.flow_t[records.flow_index(facility, kind)]


def stock_row(records, tank: str) -> np.ndarray:
    return records.stock_t[records.tank_names.index(tank)]


def voyage_dicts(records) -> list[dict[str, Any]]:
    from sim.recorder import VOYAGE_FIELDS
    return [dict(zip(VOYAGE_FIELDS, v, strict=False)) for v in records.voyages]


# A two-port network: A loads, B discharges, 240 nm apart.
TWO_PORTS: dict[str, Any] = {
    "terminals": [
        {"name": "A", "tank": {"capacity": "200kt", "initial": "200kt"},
         "berths": {"count": 1, "load_rate": "24 kt/d"}},
        {"name": "B", "tank": {"capacity": "500kt"},
         "berths": {"count": 1, "discharge_rate": "48 kt/d"}},
    ],
    "sea_legs": [{"name": "AB", "from": "A", "to": "B", "distance": "240 nm"}],
}

SHUTTLE = {"fleets": [{"name": "shuttle", "tankers": ["T1"], "load_port": "A", "discharge_port": "B",
                       "tanker": {"cargo": "24kt", "speed": "10 kn"}}]}


def test_inline_scenarios_validate() -> None:
    """The helper builds a valid two-port scenario (guards the other tests' fixtures)."""
    s = scenario(TWO_PORTS, shipping=SHUTTLE)
    assert s.network.terminals[0].berths.load_rate_t_per_day == 24_000.0
    assert s.horizon_h == 240.0
