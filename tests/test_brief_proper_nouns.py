"""Names put into words keep their proper nouns' capitals: a disruption called
``no_russian_crude_to_mozyr`` reads "No Russian crude to Mozyr", not "No russian crude to
Mozyr", and inside a sentence ("against the Russian supply cut") only a common first word
is lowered."""

from __future__ import annotations

from pathlib import Path

from sim.report.plain import disruption_name, origin_crude, proper_words, words
from sim.scenario.loader import load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def test_a_disruptions_name_keeps_peoples_places_systems_and_months_capitalised():
    s = load_scenario(SCENARIOS / "baseline.yaml")
    assert disruption_name(s, "no_russian_crude_to_mozyr") == "No Russian crude to Mozyr"
    assert disruption_name(s, "no_druzhba_stop_feb") == "No Druzhba stop Feb"
    assert disruption_name(s, "azeri_cargo_late") == "Azeri cargo late"
    assert disruption_name(s, "socar_strike") == "SOCAR strike"
    assert disruption_name(s, "odesa_brody_outage") == "Odesa–Brody outage"  # a facility's name, as before
    assert disruption_name(s, "bosphorus_winter_december") == "Bosphorus winter December"


def test_inside_a_sentence_only_a_common_first_word_is_lowered():
    s = load_scenario(SCENARIOS / "baseline.yaml")
    assert disruption_name(s, "russian_supply_cut", start=False) == "Russian supply cut"
    assert disruption_name(s, "baseline", start=False) == "baseline"
    assert disruption_name(s, "odesa_brody_outage", start=False) == "Odesa–Brody outage"
    assert disruption_name(s, "winter_queue_jan_mar", start=False) == "winter queue Jan Mar"


def test_the_scenarios_own_origins_and_places_count_as_proper():
    """The first word of each origin the scenario names ("russian", "azeri") and its facility
    names' place words ("sangachal", "druzhba" of russia_druzhba) are proper; common words
    of names ("sea" of a North Sea terminal) are not."""
    s = load_scenario(SCENARIOS / "diversified_2020.yaml")
    known = proper_words(s)
    assert {"russian", "azeri", "baltic", "sangachal", "druzhba", "klaipeda"} <= known
    assert "sea" not in known and "supply" not in known
    assert disruption_name(s, "sangachal_fire_drill") == "Sangachal fire drill"
    assert words("russian_supply_halved_2020") == "Russian supply halved 2020"
    assert origin_crude("azeri") == "Azeri crude"


def test_common_words_of_facility_names_stay_common():
    """A facility called ``klaipeda_rail`` or ``main_tank_farm`` makes its place word proper
    ("klaipeda"), never its common words: a disruption ``rail_strike`` reads "Rail strike"
    at the start of a sentence and "rail strike" inside one."""
    s = load_scenario(SCENARIOS / "baseline.yaml")
    depots = tuple(d.model_copy(update={"name": "main_tank_farm"}) for d in s.network.depots[:1])
    lines = tuple(p.model_copy(update={"name": "klaipeda_rail"}) if p.name == "klaipeda_naftan" else p
                  for p in s.network.pipelines)
    assert "klaipeda_rail" in {p.name for p in lines}
    s = s.model_copy(update={"network": s.network.model_copy(update={"depots": depots, "pipelines": lines})})
    known = proper_words(s)
    assert "klaipeda" in known
    assert not {"rail", "main", "tank", "farm"} & known
    assert disruption_name(s, "rail_strike", start=False) == "rail strike"
    assert disruption_name(s, "rail_strike") == "Rail strike"


def test_a_brief_against_a_base_with_a_proper_noun_keeps_its_capital(tmp_path):
    """The brief of the mini corridor against a base run named ``russian_supply_cut``: its
    section is "Against Russian supply cut" and the bottom line's comparison "Against the
    Russian supply cut, ..." (both lowered to "russian" before)."""
    from sim.report import brief as briefmod
    from tests.test_brief import write_run

    base = write_run(tmp_path / "base", reps=4, seed=7)
    text = (base / "scenario.yaml").read_text(encoding="utf-8")
    (base / "scenario.yaml").write_text(text.replace("name: mini_corridor", "name: russian_supply_cut"),
                                        encoding="utf-8")
    run = write_run(tmp_path / "run", reps=4, seed=7, shift_t=50_000.0)
    md = briefmod.brief(run, vs=base).read_text(encoding="utf-8")
    assert "## Against Russian supply cut" in md
    assert "Against the Russian supply cut, " in md, md[:2000]
    assert "russian" not in md.replace("russian_supply_cut", "")


def test_may_is_the_month_only_where_a_month_goes_and_us_is_the_country_only_before_a_word():
    """"may" is the month beside a number or another month or as the last word, a verb
    elsewhere; "us" is "US" before another word ("US sanctions"), a word at the end."""
    s = load_scenario(SCENARIOS / "baseline.yaml")
    assert disruption_name(s, "no_druzhba_stop_may") == "No Druzhba stop May"
    assert disruption_name(s, "closure_1_may") == "Closure 1 May"
    assert disruption_name(s, "storms_apr_may_jun") == "Storms Apr May Jun"
    assert disruption_name(s, "what_may_come") == "What may come"
    assert disruption_name(s, "storm_hits_us") == "Storm hits us"
    assert words("may_come_soon") == "May come soon"  # the first letter of a sentence
    assert words("usa_sanctions") == "USA sanctions"
    assert words("us_sanctions") == "US sanctions" and words("us_gulf_export") == "US gulf export"
