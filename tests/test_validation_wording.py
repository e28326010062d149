"""A value of the wrong type is reported in the file's own terms: what was written ("got a
list [1, 2]", "got a mapping {day: 5}", "got true", "got an empty value"), at its file,
line and field path, with what would be valid, and ``routesim run`` exits 2 — never with
the reader's Python class names (``PosList``, ``PosDict``, ``NoneType``) or Python's
spelling of a value (``True``, ``None``, ``{'a': 1}``)."""

from __future__ import annotations

import copy
import inspect
import re
from pathlib import Path

import pytest
import yaml

import sim.scenario
from sim import units
from sim.scenario import (base, costs, disruptions, distributions, language, network, quantities, shipping,
                          yaml_reader)
from sim.scenario.loader import validate

DATA = Path(__file__).parent / "data"
VALID = (DATA / "valid_minimal.yaml").read_text()


def variant(tmp_path: Path, old: str, new: str) -> Path:
    assert VALID.count(old) >= 1, old
    path = tmp_path / "bad.yaml"
    path.write_text(VALID.replace(old, new, 1))
    return path


# (id, text in valid_minimal.yaml, hostile replacement, the line `routesim run` must print)
HOSTILE = [
    ("a list where a quantity goes", "      capacity: 9 Mt/y\n", "      capacity: [1, 2]\n",
     ":37:7: network.pipelines[1].capacity: expected a rate such as '25 kt/d', got a list [1, 2]"),
    ("a mapping where a list goes", "load_ports: [{terminal: supsa}]", "load_ports: {terminal: supsa}",
     ":61:7: shipping.programmes[0].load_ports: expected a list ('- item' lines, or [a, b]), "
     "got a mapping {terminal: supsa}"),
    ("text where a mapping goes", "tank: {capacity: 500kt, initial: 300kt}", "tank: big",
     ":52:7: network.refineries[0].tank: expected a mapping (indented 'key: value' lines), got 'big'"),
    ("a mapping where a date goes", "start: 2021-01-01", "start: {day: 5}",
     ":5:1: start: expected a date like '2021-01-15', got a mapping {day: 5}"),
    ("a list where an instant goes", "first: 2021-01-05", "first: [2021-01-05]",
     ":60:7: shipping.programmes[0].first: expected a date like '2021-01-10', a date and time like "
     "'2021-01-10T18:00', or an offset like '9d', got a list [2021-01-05]"),
    ("a mapping nested in a distribution's list", "delay: {uniform: [6h, 2d]}", "delay: {uniform: [6h, {h: 2}]}",
     ":74:27: disruptions[1].delay.uniform[1]: expected a duration such as '36h', got a mapping {h: 2}"),
    ("a list where a word goes", "kind: closure", "kind: [closure]",
     ":69:5: disruptions[0].kind: expected one of closure, derate, delay, supply_cut, run_cut, contamination, "
     "got a list [closure]"),
    ("true where a speed goes", "speed: 14 kn", "speed: true",
     ":63:29: shipping.programmes[0].tanker.speed: expected a speed such as '14 kn', got true"),
    ("nothing where a mass goes", "min_stock: 50kt", "min_stock:",
     ":54:7: network.refineries[0].min_stock: expected a mass such as '85kt', got an empty value"),
    ("nothing where a name goes", "      to: mozyr\n", "      to:\n",
     ":41:7: network.pipelines[2].to: must be text (got an empty value)"),
    ("a number where a name goes", "target: pivdennyi", "target: [pivdennyi, 5]",
     ":68:25: disruptions[0].target[1]: must be text (got 5)"),
    ("a long list is cut", "      capacity: 9 Mt/y\n", f"      capacity: {list(range(30))}\n",
     ":37:7: network.pipelines[1].capacity: expected a rate such as '25 kt/d', "
     "got a list [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ...]"),
]


@pytest.mark.parametrize("old, new, expected", [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_run_refuses_a_wrong_type_in_the_users_terms_with_exit_2(cli, tmp_path, monkeypatch, old, new, expected):
    """`routesim run bad.yaml` exits 2, before any run folder exists, with the problem at its
    file, line, column and field path, saying what was written and what would be valid."""
    path = variant(tmp_path, old, new)
    monkeypatch.chdir(tmp_path)
    r = cli("run", path, "-n", "1")
    assert r.code == 2, r.text
    assert "Traceback" not in r.text and "internal error" not in r.text
    lines = [ln for ln in r.text.splitlines() if ln.startswith(f"{path}{expected}")]
    assert lines, r.text
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("value, shown", [
    ([1, 2], "a list [1, 2]"),
    ({"a": 1}, "a mapping {a: 1}"),
    ({"from": "brody", "to": [True, None]}, "a mapping {from: brody, to: [true, null]}"),
    ("abc", "'abc'"),
    (True, "true"),
    (None, "an empty value"),
    (3.5, "3.5"),
    (["x y", "it's", " pad"], "a list [x y, \"it's\", ' pad']"),
    (list(range(100)), "a list [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ...]"),
    ({f"k{i}": i for i in range(20)}, "a mapping {k0: 0, k1: 1, k2: 2, k3: 3, k4: 4, ...}"),
    (["x" * 80], "a list [" + "x" * 35 + "...]"),
])
def test_written_shows_a_value_as_the_file_writes_it(value, shown):
    """YAML's spelling (true, null, flow style), the kind of value first for a list or a
    mapping, cut after units.WRITTEN_CHARS characters."""
    assert units.written(value) == shown
    if isinstance(value, (list, dict)):
        assert len(shown.split(" ", 2)[-1]) <= units.WRITTEN_CHARS


# the class names a message must never show: every class of the scenario language and its
# reader, and Python's own type and value spellings
_MODULES = [base, costs, disruptions, distributions, language, network, quantities, shipping, yaml_reader]
CLASS_NAMES = sorted({name for m in _MODULES for name, obj in vars(m).items()
                      if inspect.isclass(obj) and getattr(obj, "__module__", "").startswith(sim.scenario.__name__)})
PYTHON_WORDS = r"NoneType|None|True|False|dict|str|float|int|tuple|list\[|PosList|PosDict"
FORBIDDEN = re.compile(rf"\b({'|'.join(CLASS_NAMES)}|{PYTHON_WORDS})\b|\{{'")
WRONG = {"a list": [1, 2], "a mapping": {"a": 1}, "text": "abc", "true": True, "nothing": None,
         "nested": [[1], {"b": [2]}]}


def _paths(tree, here=()):
    yield here
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _paths(v, (*here, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _paths(v, (*here, i))


def test_no_message_names_a_python_type_whatever_value_is_wrong(tmp_path):
    """Every value of a complete scenario, replaced in turn by a list, a mapping, text, true,
    nothing and a nested list: each problem names what was written in the file's terms
    (no class of sim.scenario, no Python spelling), and says what would be valid."""
    assert "PosList" in CLASS_NAMES and "Pipeline" in CLASS_NAMES
    tree = yaml.safe_load(VALID)
    seen = 0
    for path in [p for p in _paths(tree) if p]:
        for label, wrong in WRONG.items():
            t = copy.deepcopy(tree)
            node = t
            for k in path[:-1]:
                node = node[k]
            node[path[-1]] = copy.deepcopy(wrong)
            f = tmp_path / "bad.yaml"
            f.write_text(yaml.safe_dump(t, sort_keys=False))
            for p in validate(f):
                seen += 1
                text = f"{p.message}; {p.hint or ''}"
                assert not FORBIDDEN.search(text), (path, label, p.format())
                assert p.line is not None, (path, label, p.format())
    assert seen > 300


def _numbers(tree, here=()):
    """The path of every number (not true or false) in a parsed YAML tree."""
    for path in _paths(tree, here):
        node = tree
        for k in path:
            node = node[k]
        if isinstance(node, (int, float)) and not isinstance(node, bool):
            yield path


@pytest.mark.parametrize("word", [True, False])
def test_true_or_false_where_a_number_goes_is_refused_at_that_number(tmp_path, word):
    """pydantic reads true as 1 and false as 0, so ``seed: true``, ``lanes: true`` or
    ``latitude: true`` ran as 1.  Every number written in the baseline scenario (a seed, a
    berth count, lanes, a latitude, a month's rate, an item of a factor's range, a plain
    price...), replaced in turn by true or false, gives a problem at that number's path and
    line that says what was written."""
    baseline = Path(__file__).parents[1] / "scenarios" / "baseline.yaml"
    plain_tree = yaml.safe_load(baseline.read_text())
    paths = list(_numbers(plain_tree))
    assert {("seed",), ("replications",)} <= set(paths) and len(paths) > 30
    for path in paths:
        t = copy.deepcopy(plain_tree)
        node = t
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = word
        f = tmp_path / "bad.yaml"
        f.write_text(yaml.safe_dump(t, sort_keys=False))
        problems = [p for p in validate(f) if p.path == path]
        assert problems, (path, [p.format() for p in validate(f)])
        assert any(f"got {'true' if word else 'false'}" in p.message for p in problems), problems[0].format()


def test_a_calibration_spec_refuses_true_where_a_number_goes(tmp_path):
    """The same for a calibration SPEC: a bound written as true is refused at its line."""
    from sim.analysis.calibration import load_spec
    from sim.errors import ScenarioError

    spec = Path(__file__).parents[1] / "calibration" / "history_2020.yaml"
    text = spec.read_text()
    assert "bounds: [0, 6]" in text
    bad = tmp_path / "spec.yaml"
    bad.write_text(text.replace("bounds: [0, 6]", "bounds: [true, 6]", 1))
    with pytest.raises(ScenarioError) as e:
        load_spec(bad)
    assert "parameters[0].bounds[0]: should be a valid number (got true)" in str(e.value)


def test_a_field_of_a_number_or_a_mapping_refuses_true_only_where_the_number_goes():
    """A field that holds a number or a model (no such field exists in the language today)
    refuses true written as its number, but leaves the model's own fields alone: a
    true/false field inside it still reads true."""
    from pydantic import ValidationError

    class Flag(base.Strict):
        on: bool

    class Holder(base.Strict):
        x: float | Flag
        xs: tuple[float, ...] = ()

    assert Holder.model_validate({"x": {"on": True}}).x == Flag(on=True)
    assert Holder.model_validate({"x": 2, "xs": [1, 2.5]}).xs == (1.0, 2.5)
    for bad in ({"x": True}, {"x": 1, "xs": [1, False]}):
        with pytest.raises(ValidationError, match="should be a valid number"):
            Holder.model_validate(bad)


def test_an_invalid_barrels_per_tonne_is_not_called_missing(tmp_path):
    """``barrels_per_tonne: true`` is one problem at its line; each quantity written in
    barrels then says the factor is not valid, not that the scenario states none."""
    problems = validate(variant(tmp_path, "barrels_per_tonne: 7.33", "barrels_per_tonne: true"))
    assert problems[0].path == ("barrels_per_tonne",) and "got true" in problems[0].message
    barrels = [p for p in problems[1:] if "in barrels" in p.message]
    assert barrels and all("'barrels_per_tonne' is not valid" in p.message for p in barrels)
    assert not any("states no" in p.message for p in problems)
