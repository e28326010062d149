"""Units live in the types: each quantity field's unit is readable from its model and schema."""

from __future__ import annotations

import pytest

from sim.scenario import language as sc
from sim.scenario.quantities import DURATION, RATE, Unit, unit_of
from sim.scenario.schema import scenario_json_schema


@pytest.mark.parametrize("model, field, internal", [
    (sc.Pipeline, "capacity", "t/d"),             # by YAML alias
    (sc.Pipeline, "capacity_t_per_day", "t/d"),   # by field name
    (sc.Pipeline, "linefill", "t"),               # optional: Tonnes | None
    (sc.Tanker, "speed", "kn"),
    (sc.Pass, "at", "nm"),
    (sc.Chokepoint, "daylight_only_over", "m"),
    (sc.Distribution, "uniform", "h"),            # inside a tuple
    (sc.Daylight, "sunrise", "h after 00:00"),
    (sc.Limits, "max_memory", "B"),
])
def test_a_field_names_its_unit(model, field, internal):
    unit = unit_of(model, field)
    assert isinstance(unit, Unit) and unit.internal == internal


def test_a_field_without_a_quantity_has_no_unit_and_an_unknown_field_is_an_error():
    assert unit_of(sc.Chokepoint, "lanes") is None
    assert unit_of(sc.Scenario, "start") is None
    with pytest.raises(KeyError, match="Pipeline has no field 'capacty'"):
        unit_of(sc.Pipeline, "capacty")


def test_a_unit_reads_readable_text_into_its_internal_unit():
    assert sc.Window.model_validate({"start": "2d", "duration": "3d"}).duration_h == 72.0
    assert DURATION.parse("3d") == 72.0
    # barrels need the scenario's factor, which the unit takes from the validation context
    step = sc.RateStep.model_validate({"start": "0d", "rate": "733 kb/d"}, context={"barrels_per_tonne": 7.33})
    assert step.rate_t_per_day == pytest.approx(100_000.0)
    assert RATE.needs_barrels_per_tonne and not DURATION.needs_barrels_per_tonne


def test_the_json_schema_states_each_quantity_s_unit():
    defs = scenario_json_schema()["$defs"]
    assert defs["Pipeline"]["properties"]["capacity"]["x-unit"] == "t/d"
    assert defs["Pipeline"]["properties"]["linefill"]["anyOf"][0]["x-unit"] == "t"
    assert defs["Tanker"]["properties"]["speed"]["x-unit"] == "kn"
