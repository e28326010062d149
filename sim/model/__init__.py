"""The SimPy model of a route network: facilities, flows and tanker voyages.

Build a model from a validated :class:`sim.scenario.language.Scenario` and run one replication with
:func:`sim.model.simulate`; it returns the replication's :class:`sim.recorder.Records`.
The model never writes files and never reads the global random state.
"""

from sim.model.build import Model, build_model, simulate

__all__ = ["Model", "build_model", "simulate"]
