"""The same replication without a cause: the counterfactual every "held back" and "lost" figure
is measured against.

Every disruption draws from its own named random streams (``sim.rng``), so a scenario with
one disruption removed replays the others and the shipping draws exactly; the difference
between the two runs of one replication is that disruption's doing and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sim.errors import UserError
from sim.scenario.language import Scenario


def without(scenario: Scenario, names: Sequence[str]) -> Scenario:
    """The scenario with the disruptions named ``names`` removed (nothing else changes)."""
    drop = set(names)
    unknown = drop - {d.name for d in scenario.disruptions}
    if unknown:
        raise UserError(f"the scenario has no disruption {', '.join(sorted(unknown))}; it has "
                        f"{', '.join(d.name for d in scenario.disruptions) or 'none'}")
    return scenario.model_copy(update={"disruptions": tuple(d for d in scenario.disruptions if d.name not in drop)})


def held_back(scenario: Scenario, seed_seq: np.random.SeedSequence, records: Any,
              simulate: Any = None) -> dict[str, tuple[float, float]]:
    """Each disruption's (throughput with, throughput without) at its targets during its
    activation windows in one replication: ``records`` is the replication with every
    disruption (metered on every disruption's windows, the model's default), and the
    replication without each disruption, with the same ``seed_seq``, is simulated here up
    to the end of that disruption's last activation.  Held back = without - with."""
    if simulate is None:
        from sim.model import simulate
    out: dict[str, tuple[float, float]] = {}
    for d in scenario.disruptions:
        idx = [j for j, w in enumerate(records.windows) if w[0] == d.name]
        if not idx:
            out[d.name] = (0.0, 0.0)
            continue
        wins = [records.windows[j] for j in idx]
        until = max(w[3] for w in wins)
        cf = simulate(without(scenario, [d.name]), seed_seq, until_h=until, windows=wins)
        out[d.name] = (float(records.window_t[idx].sum()), float(cf.window_t.sum()))
    return out
