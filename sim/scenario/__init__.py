"""The scenario language, from YAML text to a validated :class:`~sim.scenario.language.Scenario`.

Models: ``quantities`` (units in the types: ``Hours``, ``TonnesPerDay``, ... and ``unit_of``),
``base`` (``Strict``, instants), ``network``, ``shipping``, ``disruptions`` (one per section of a
file), ``language`` (``Scenario``, cross-references; re-exports every model).
Reading: ``yaml_reader`` (safe positioned YAML), ``extends`` (merging onto a base),
``overrides`` (``--set``), ``validation_problems`` (errors worded at their lines), ``loader``
(joins them). Checks: ``checks`` (the one "will it run?" check), ``work`` (work and memory
guards), ``topology``. ``schema``: the JSON Schema. Imports nothing above it."""
