"""The loader: positions of every problem, extends merging, validation messages."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sim.errors import Problem, ScenarioError
from sim.scenario.loader import load_raw, load_scenario, validate

DATA = Path(__file__).parent / "data"
VALID = (DATA / "valid_minimal.yaml").read_text()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return list(info.value.problems)


def variant(tmp_path: Path, old: str, new: str, name: str = "s.yaml") -> Path:
    assert old in VALID, old
    return write(tmp_path, name, VALID.replace(old, new, 1))


# --------------------------------------------------------------------------- a valid file


def test_the_small_valid_scenario_loads_with_units_resolved(valid_scenario):
    s = load_scenario(valid_scenario)
    assert s.name == "test-minimal"
    assert s.horizon_h == 90 * 24
    pipes = {p.name: p for p in s.network.pipelines}
    assert pipes["odesa-brody"].capacity_t_per_day == pytest.approx(9e6 / 365)
    # 100 kb/d at the file's 7.33 bbl/t: 13,642.6 t/d (the factor is read before validation)
    assert pipes["wrep"].capacity_t_per_day == pytest.approx(100_000 / 7.33)
    assert s.network.sources[0].tank.initial_t == 50_000
    assert validate(valid_scenario) == []


def test_an_integer_beyond_float_range_is_a_problem_at_its_line_not_an_overflow(tmp_path):
    """YAML reads ``1`` followed by 400 zeros as a Python int, which no float holds: the
    clock offset (read before validation, to convert zoned times) once raised
    OverflowError here.  Now it is one problem at the field's line."""
    path = variant(tmp_path, "barrels_per_tonne: 7.33\n", "barrels_per_tonne: 7.33\nutc_offset_h: 1" + "0" * 400 + "\n")
    (problem,) = problems_of(path)
    assert problem.path == ("utc_offset_h",) and problem.line is not None
    assert "valid number" in problem.message


def test_barrel_units_without_a_factor_point_at_the_value(tmp_path):
    path = variant(tmp_path, "barrels_per_tonne: 7.33\n", "")
    probs = problems_of(path)
    # the source rate (line 14 once the factor line is gone) and the wrep capacity (line 31)
    assert [(p.line, p.path) for p in probs] == [
        (14, ("network", "sources", 0, "rate")),
        (31, ("network", "pipelines", 0, "capacity")),
    ]
    assert all("barrels_per_tonne" in p.message for p in probs)


# --------------------------------------------------------------------------- positions and messages


def test_misspelt_key_gives_line_column_path_and_suggestion(tmp_path):
    path = variant(tmp_path, "      capacity: 9 Mt/y\n", "      capcity: 9 Mt/y\n")
    probs = problems_of(path)
    by_msg = {p.message: p for p in probs}
    typo = by_msg["unknown key 'capcity'"]
    assert (typo.file, typo.line, typo.column) == (str(path), 37, 7)
    assert typo.path == ("network", "pipelines", 1, "capcity")
    assert typo.hint.startswith("did you mean 'capacity'?")
    assert "valid keys here: name, groups" in typo.hint
    missing = by_msg["missing required key 'capacity'"]
    assert missing.line == 34  # the pipeline item that lacks it
    assert "e.g. capacity: 9 Mt/y" in missing.hint
    assert typo.format() == (
        f"{path}:37:7: network.pipelines[1].capcity: unknown key 'capcity'; {typo.hint}")


def test_every_problem_is_reported_at_once(tmp_path):
    text = (VALID.replace("count: 1, load_rate", "count: 0, load_rate")
                 .replace("capacity: 17.5 Mt/y", "capacity: 17.5 Mx/y")
                 .replace("kind: closure", "kind: closed"))
    probs = problems_of(write(tmp_path, "s.yaml", text))
    assert [(p.line, p.path[-1]) for p in probs] == [(20, "count"), (42, "capacity"), (69, "kind")]
    assert probs[0].message == "must be at least 1 (got 0)"
    assert "unknown quantity unit 'Mx'" in probs[1].message and "did you mean 'Mt'?" in probs[1].message
    assert probs[2].message.startswith("unknown value 'closed': use one of closure, derate")
    assert probs[2].hint == "did you mean 'closure'?"


def test_negative_capacity_shows_what_was_written(tmp_path):
    probs = problems_of(variant(tmp_path, "capacity: 9 Mt/y", "capacity: -9 Mt/y"))
    assert [(p.line, p.path, p.message) for p in probs] == [
        (37, ("network", "pipelines", 1, "capacity"), "must be greater than 0 (got '-9 Mt/y')")]


def test_dangling_references_are_mapped_to_lines_with_did_you_mean(tmp_path):
    text = VALID.replace("to: mozyr", "to: mozir").replace("target: odesa", "target: odessa")
    probs = problems_of(write(tmp_path, "s.yaml", text))
    assert [(p.line, p.path) for p in probs] == [
        (41, ("network", "pipelines", 2, "to")), (72, ("disruptions", 1, "target"))]
    assert probs[0].hint == "did you mean 'mozyr'?"
    assert probs[1].message == "unknown facility or group 'odessa'"
    assert probs[1].hint == "did you mean 'odesa'?"


def test_nan_and_infinity_are_refused(tmp_path):
    probs = problems_of(variant(tmp_path, "per_year: 4", "per_year: .nan"))
    assert [(p.line, p.message) for p in probs] == [(75, "must be a finite number (got nan)")]


def test_a_target_of_the_wrong_type_gives_one_problem_not_one_per_union_branch(tmp_path):
    probs = problems_of(variant(tmp_path, "target: pivdennyi", "target: 5"))
    assert len(probs) == 1
    assert probs[0].path == ("disruptions", 0, "target")
    assert probs[0].message == "expected text or a list, got 5"


def test_a_bad_item_in_a_target_list_is_reported_on_its_own(tmp_path):
    probs = problems_of(variant(tmp_path, "target: pivdennyi", "target: [pivdennyi, 5]"))
    assert [(p.path, p.message) for p in probs] == [
        (("disruptions", 0, "target", 1), "must be text (got 5)")]


def test_a_bad_name_explains_the_rule(tmp_path):
    probs = problems_of(variant(tmp_path, "name: brody\n", "name: 'brody depot'\n"))
    assert probs[0].path == ("network", "depots", 0, "name")
    assert probs[0].message == "not a valid name (got 'brody depot')"
    assert "starts with a letter" in probs[0].hint


def test_a_section_of_the_wrong_shape(tmp_path):
    probs = problems_of(variant(tmp_path, "shipping:\n  programmes:", "shipping:\n  - programmes:"))
    assert probs[0].path == ("shipping",)
    assert probs[0].message == "expected a mapping (indented 'key: value' lines), got a list [{programmes: [...]}]"


def test_duplicate_names_point_at_the_second_item(tmp_path):
    probs = problems_of(variant(tmp_path, "    - name: brody\n", "    - name: supsa\n"))
    dup = [p for p in probs if "used twice" in p.message]
    # depots come before terminals, so the terminal is the second use
    assert [(p.line, p.path) for p in dup] == [(18, ("network", "terminals", 0, "name"))]


def test_duplicate_keys_are_errors_naming_both_lines(tmp_path):
    path = variant(tmp_path, "      transit: 11d\n", "      transit: 11d\n      capacity: 5 kt/d\n")
    probs = problems_of(path)
    assert len(probs) == 1
    assert (probs[0].line, probs[0].column) == (34, 7)
    assert probs[0].message == "duplicate key 'capacity' (first at line 32)"


def test_yaml_merge_keys_and_aliases_are_plain_data(tmp_path):
    text = VALID.replace(
        "      tank: {capacity: 200kt, initial: 50kt}",
        "      tank: &small {capacity: 200kt, initial: 50kt}").replace(
        "    - name: brody\n      tank: {capacity: 100kt, initial: 20kt}",
        "    - name: brody\n      tank: {<<: *small, initial: 20kt}")
    s = load_scenario(write(tmp_path, "s.yaml", text))
    assert s.network.depots[0].tank.capacity_t == 200_000  # from the anchor
    assert s.network.depots[0].tank.initial_t == 20_000    # explicit key wins over the merge


def test_load_raw_gives_plain_merged_data(valid_scenario):
    raw = load_raw(valid_scenario)
    assert type(raw) is dict and type(raw["network"]["pipelines"]) is list
    assert raw["network"]["pipelines"][1] == {
        "name": "odesa-brody", "from": "pivdennyi", "to": "brody", "capacity": "9 Mt/y", "linefill": "440kt"}


# --------------------------------------------------------------------------- extends


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """scenarios/base.yaml (the valid scenario) and an empty scenarios/whatif/ folder."""
    write(tmp_path, "scenarios/base.yaml", VALID)
    (tmp_path / "scenarios" / "whatif").mkdir()
    return tmp_path / "scenarios"


def test_extends_merges_named_items_by_name_appends_and_removes(tree):
    path = write(tree, "whatif/half.yaml", """\
        extends: ../base.yaml
        name: half-odesa-brody
        network:
          pipelines:
            - name: odesa-brody
              capacity: 4.5 Mt/y
            - name: wrep
              remove: true
            - name: rail-bypass
              kind: rail
              from: pivdennyi
              to: mozyr
              capacity: 1 kt/d
              transit: 4d
          refineries:
            - name: mozyr
              tank: {initial: 100kt}
        """)
    s = load_scenario(path)
    assert s.name == "half-odesa-brody"
    assert s.description.startswith("Does a monthly Aframax")  # inherited
    assert [p.name for p in s.network.pipelines] == ["odesa-brody", "brody-mozyr", "rail-bypass"]
    ob = s.network.pipelines[0]
    assert ob.capacity_t_per_day == pytest.approx(4.5e6 / 365)   # overridden
    assert ob.linefill_t == 440_000 and ob.from_ == "pivdennyi"  # kept from the base item
    mozyr = s.network.refineries[0]
    assert (mozyr.tank.capacity_t, mozyr.tank.initial_t) == (500_000, 100_000)  # deep merge
    assert "extends" not in load_raw(path)


def test_extends_replaces_plain_lists_and_empty_lists(tree):
    path = write(tree, "whatif/quiet.yaml", """\
        extends: ../base.yaml
        network:
          terminals:
            - name: pivdennyi
              groups: [ukraine]
        disruptions: []
        """)
    s = load_scenario(path)
    assert s.disruptions == ()
    assert s.network.terminals[1].groups == ("ukraine",)


def test_extends_chains_through_several_files(tree):
    write(tree, "whatif/a.yaml", "extends: ../base.yaml\nhorizon: 30d\nseed: 1\n")
    write(tree, "whatif/b.yaml", "extends: a.yaml\nseed: 2\n")
    s = load_scenario(tree / "whatif" / "b.yaml")
    assert (s.horizon_h, s.seed, s.replications) == (720.0, 2, 2)


def test_problems_in_the_base_point_at_the_base_file(tree):
    write(tree, "base.yaml", VALID.replace("count: 1, load_rate", "count: 0, load_rate"))
    path = write(tree, "whatif/w.yaml", "extends: ../base.yaml\nseed: -1\n")
    probs = problems_of(path)
    assert sorted((Path(p.file).name, p.line, p.path[-1]) for p in probs) == [
        ("base.yaml", 20, "count"), ("w.yaml", 2, "seed")]


def test_removing_a_name_that_is_not_there_is_an_error(tree):
    path = write(tree, "whatif/w.yaml", """\
        extends: ../base.yaml
        network:
          pipelines:
            - name: odesa-brodi
              remove: true
        """)
    probs = problems_of(path)
    assert [(p.line, p.path) for p in probs] == [(4, ("network", "pipelines"))]
    assert probs[0].message.startswith("cannot remove 'odesa-brodi':")
    assert probs[0].hint == "did you mean 'odesa-brody'?"


def test_a_remove_item_takes_only_its_name(tree):
    path = write(tree, "whatif/w.yaml", """\
        extends: ../base.yaml
        network:
          pipelines:
            - {name: wrep, remove: true, capacity: 1 kt/d}
        """)
    (p,) = problems_of(path)
    assert p.message == "an item with 'remove: true' takes only 'name' (also found: capacity)"


def test_remove_outside_an_extends_file_is_explained(tmp_path):
    probs = problems_of(variant(tmp_path, "    - name: brody\n", "    - name: brody\n      remove: true\n"))
    assert [(p.message, p.hint) for p in probs] == [
        ("unknown key 'remove'", "'remove: true' only works in a file that 'extends' a base scenario")]


def test_extends_loop_names_the_cycle(tree):
    write(tree, "whatif/a.yaml", "extends: b.yaml\n")
    write(tree, "whatif/b.yaml", "extends: a.yaml\n")
    (p,) = problems_of(tree / "whatif" / "a.yaml")
    assert p.message.startswith("loops: ")
    assert p.message.endswith("a.yaml -> b.yaml -> a.yaml")


def test_extends_itself(tree):
    (p,) = problems_of(write(tree, "whatif/self.yaml", "extends: self.yaml\n"))
    assert p.message.startswith("loops:") and p.path == ("extends",) and p.line == 1


def test_extends_may_reach_the_scenarios_folder_above_but_not_outside_it(tmp_path, tree):
    write(tmp_path, "secret.yaml", VALID)
    (p,) = problems_of(write(tree, "whatif/esc.yaml", "extends: ../../secret.yaml\n"))
    assert p.message == "points outside the scenario folders: '../../secret.yaml'"
    assert str(tree.resolve()) in p.hint
    (p,) = problems_of(write(tree, "whatif/abs.yaml", "extends: /etc/passwd\n"))
    assert p.message.startswith("points outside the scenario folders")


def test_extends_a_missing_file_suggests_a_near_name(tree):
    (p,) = problems_of(write(tree, "whatif/m.yaml", "extends: ../bsae.yaml\n"))
    assert p.message == "names a file that does not exist: '../bsae.yaml'"
    assert p.hint == "did you mean 'base.yaml'?"


def test_extends_must_be_a_file_name(tree):
    (p,) = problems_of(write(tree, "whatif/m.yaml", "extends: [a.yaml, b.yaml]\n"))
    assert p.message.startswith("needs the file name of the base scenario")


def test_odd_keys_are_quoted_in_the_field_path_and_stay_on_one_line(tmp_path):
    # found by the fuzz test: a key holding a newline broke the one-problem-per-line output
    probs = problems_of(variant(tmp_path, "berths: {count: 1, discharge_rate: 48 kt/d}",
                                'berths: {count: 1, discharge_rate: 48 kt/d, "a\\nb": 1}'))
    assert [p.format().split(": ", 1)[1] for p in probs] == [
        "network.terminals[1].berths['a\\nb']: unknown key 'a\\nb'; valid keys here: "
        "count, load_rate, discharge_rate, load_time, discharge_time, max_cargo, max_length"]


def test_a_misspelt_key_and_a_dangling_reference_are_reported_in_one_pass(tmp_path):
    text = (VALID.replace("      capacity: 9 Mt/y\n", "      capcity: 9 Mt/y\n")   # odesa-brody
                 .replace("target: odesa", "target: odessa"))
    probs = problems_of(write(tmp_path, "s.yaml", text))
    assert [(p.line, p.path[-1], p.message, p.hint) for p in probs if p.path[0] == "disruptions"] == [
        (72, "target", "unknown facility or group 'odessa'", "did you mean 'odesa'?")]
    assert {p.message for p in probs if p.path[0] == "network"} == {
        "unknown key 'capcity'", "missing required key 'capacity'"}


def test_references_to_an_item_with_its_own_problems_are_not_called_dangling(tmp_path):
    # the depot 'brody' has a bad tank; the pipelines that name it must not be reported as
    # pointing at an unknown node (it exists, it is just broken)
    probs = problems_of(variant(tmp_path, "tank: {capacity: 100kt, initial: 20kt}", "tank: {capacity: 100 kx}"))
    assert [(p.path, p.message) for p in probs] == [
        (("network", "depots", 0, "tank", "capacity"),
         "unknown mass unit 'kx' in '100 kx' (did you mean 'kt'?): use one of Mbbl, Mt, b, bbl, kb, kbbl, kt, mb, "
         "mbbl, mt, t, e.g. '85kt'")]


def test_a_horizon_of_centuries_is_refused_with_its_line(tmp_path, data_dir):
    text = (data_dir / "valid_minimal.yaml").read_text().replace("horizon: 90d", "horizon: 1000y")
    path = tmp_path / "long.yaml"
    path.write_text(text)
    problems = validate(path)
    (p,) = problems
    assert p.path == ("horizon",) and p.line == 6 and "200 years" in p.message


@pytest.mark.parametrize(("written", "message", "hint"), [
    ("{uniform: [10d]}", "a uniform needs two values [low, high], got 1", "e.g. uniform: [6h, 2d]"),
    ("{uniform: []}", "a uniform needs two values [low, high], got 0", "e.g. uniform: [6h, 2d]"),
    ("{uniform: [1h, 2h, 3h]}", "a uniform needs two values [low, high], got 3", "e.g. uniform: [6h, 2d]"),
    ("{triangular: [6h, 2d]}", "a triangular needs three values [low, mode, high], got 2",
     "e.g. triangular: [6h, 12h, 2d]"),
])
def test_a_distribution_with_the_wrong_number_of_values_says_how_many_it_takes(tmp_path, cli, written, message,
                                                                                hint):
    """``uniform: [10d]`` is one value where a uniform takes two (pydantic's own words are
    "missing required key 1"): one problem at the line of the list, saying what the values
    are (once for the list, though ``[]`` misses both values), and ``routesim validate``
    exits 2 with it."""
    path = variant(tmp_path, "delay: {uniform: [6h, 2d]}", f"delay: {written}")
    probs = problems_of(path)
    assert [(p.line, p.path, p.message, p.hint) for p in probs] == [
        (74, ("disruptions", 1, "delay", written[1:].split(":")[0]), message, hint)]
    result = cli("validate", path)
    assert result.code == 2 and "s.yaml:74:" in result.out and message in result.out
