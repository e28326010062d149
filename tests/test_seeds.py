"""The reference corridor's data (seeds/) is complete, and scenarios cite it faithfully.

Every seed entry carries value, unit, source and confidence; estimates and assumptions say
how they were reached; every number in a scenario that cites a seed key (``# seed: key``)
equals that seed's value after unit conversion; estimates agree with their inputs.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any
from collections.abc import Callable

import pytest
import yaml

from sim import units

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SCENARIOS = ROOT / "scenarios"
CONFIDENCE = {"H", "M", "L", "E", "A", "F"}
ENTRY_FIELDS = {"value", "unit", "confidence", "source", "note"}
# Units of figures that have no dimension in sim/units.py: compared as plain numbers.
PLAIN_UNITS = {"count", "fraction", "deg", "bbl/t", "t/m3", "USD/d", "h ahead of UTC", "per month"}
# Figures a scenario states without citing a seed: the run's own settings.
SETTING_KEYS = {"name", "description", "start", "horizon", "seed", "replications", "until"}
TEXT_KEYS = {"note", "source"}
CITE = re.compile(r"#\s*seed:\s*(?P<key>[A-Za-z0-9_.]+)\s*$")
LINE = re.compile(r"^\s*(?:-\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_]*):\s*(?P<value>[^#]*?)\s*(?:#(?P<comment>.*))?$")


def _load_seeds() -> dict[str, dict[str, Any]]:
    """Every entry of every seeds/*.yaml file by dotted key (section.item)."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(SEEDS.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert isinstance(data, dict), f"{path.name}: expected sections of entries"
        for section, items in data.items():
            assert isinstance(items, dict), f"{path.name}: section {section!r} must map item names to entries"
            for item, entry in items.items():
                key = f"{section}.{item}"
                assert key not in out, f"seed key {key!r} defined twice"
                out[key] = entry
    return out


SEED = _load_seeds()
PARSERS: list[tuple[str, Callable[..., float]]] = [
    ("rate", units.parse_rate), ("mass", units.parse_mass), ("duration", units.parse_duration),
    ("distance", units.parse_distance), ("length", units.parse_length), ("speed", units.parse_speed),
    # the cost layer's money units ($/t or $/bbl, $/day, $)
    ("cost per tonne", units.parse_usd_per_tonne), ("cost per day", units.parse_usd_per_day),
    ("amount of money", units.parse_usd),
]
BPT = SEED["conversion.barrels_per_tonne"]["value"]


def _parse(text: object, parser: Callable[..., float]) -> float:
    if parser in (units.parse_rate, units.parse_mass, units.parse_usd_per_tonne):
        return parser(text, BPT)
    return parser(text)


def _dimension(value: float, unit: str) -> tuple[str, Callable[..., float], float]:
    """The first parser that reads ``value unit``, and the value in internal units."""
    for dim, parser in PARSERS:
        try:
            return dim, parser, _parse(f"{value} {unit}", parser)
        except units.UnitError:
            continue
    raise AssertionError(f"unit {unit!r} is neither a plain unit ({sorted(PLAIN_UNITS)}) nor readable by sim.units")


def seed_internal(key: str) -> Any:
    """A seed's value in internal units (tonnes, t/d, hours, nm, m, kn), or plain."""
    entry = SEED[key]
    value, unit = entry["value"], entry["unit"]
    if unit in PLAIN_UNITS:
        return value
    if isinstance(value, list):
        return [_dimension(v, unit)[2] for v in value]
    return _dimension(value, unit)[2]


def _close(a: float, b: float, rel: float = 1e-9) -> bool:
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-12)


# --------------------------------------------------------------------------- the seeds


def test_seed_files_exist_and_hold_entries() -> None:
    assert (SEEDS / "README.md").is_file()
    assert len(SEED) >= 60, "the reference corridor needs its figures"


@pytest.mark.parametrize("key", sorted(SEED))
def test_every_seed_entry_has_value_unit_source_and_confidence(key: str) -> None:
    entry = SEED[key]
    assert isinstance(entry, dict), f"{key}: an entry is a mapping"
    assert set(entry) <= ENTRY_FIELDS, f"{key}: unknown fields {sorted(set(entry) - ENTRY_FIELDS)}"
    for field in ("value", "unit", "source", "confidence"):
        assert entry.get(field) not in (None, ""), f"{key}: missing {field}"
    assert entry["confidence"] in CONFIDENCE, f"{key}: confidence {entry['confidence']!r} not one of H/M/L/E/A/F"
    value = entry["value"]
    if isinstance(value, dict):
        assert all(isinstance(v, (int, float)) for v in value.values()), f"{key}: map values must be numbers"
    elif isinstance(value, list):
        assert value and all(isinstance(v, (int, float)) for v in value), f"{key}: list values must be numbers"
    else:
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{key}: value must be a number"


@pytest.mark.parametrize("key", sorted(k for k, e in SEED.items() if e.get("confidence") in ("E", "A")))
def test_estimates_and_assumptions_explain_themselves(key: str) -> None:
    note = SEED[key].get("note") or ""
    assert len(note.split()) >= 4, f"{key}: an E or A figure needs a note with the working or the reasoning"


@pytest.mark.parametrize("key", sorted(SEED))
def test_every_seed_unit_is_readable(key: str) -> None:
    seed_internal(key)  # raises with the unit's name if sim.units cannot read it


# --------------------------------------------------------------------------- estimates


def _v(key: str) -> float:
    return seed_internal(key)


def test_odesa_brody_linefill_is_the_pipe_volume_times_density() -> None:
    inner_m = (SEED["odesa_brody.diameter"]["value"] - 2 * SEED["odesa_brody.wall"]["value"]) / 1000
    volume_m3 = math.pi / 4 * inner_m**2 * SEED["odesa_brody.length"]["value"] * 1000
    # 0.7791 m2 x 674,000 m = 525,100 m3 x 0.858 t/m3 = 450.6 kt
    assert volume_m3 == pytest.approx(525_132, rel=1e-4)
    assert volume_m3 * units.density_t_per_m3(BPT) == pytest.approx(_v("odesa_brody.linefill"), rel=2e-4)


def test_brody_mozyr_linefill_is_the_pipe_volume_times_density() -> None:
    inner_m = SEED["brody_mozyr.inner_diameter"]["value"] / 1000
    volume_m3 = math.pi / 4 * inner_m**2 * SEED["brody_mozyr.length"]["value"] * 1000
    assert volume_m3 * units.density_t_per_m3(BPT) == pytest.approx(_v("brody_mozyr.linefill"), rel=2e-4)


def test_density_follows_from_the_barrels_per_tonne_factor() -> None:
    assert units.density_t_per_m3(BPT) == pytest.approx(SEED["conversion.density"]["value"], abs=5e-4)


def test_supsa_tankage_is_four_tanks_of_48820_m3() -> None:
    assert 4 * 48_820 * units.density_t_per_m3(BPT) == pytest.approx(_v("supsa.tankage"), rel=2e-4)


@pytest.mark.parametrize("line", ["wrep", "btc"])
def test_pro_rata_slice_keeps_the_real_transit_time(line: str) -> None:
    alloc = _v(f"sangachal.{line}_allocation")  # t/d
    share = alloc / _v(f"{line}.throughput_2021")
    real_transit_d = _v(f"{line}.linefill") / _v(f"{line}.throughput_2021")
    slice_transit_d = _v(f"{line}.belarus_linefill") / alloc
    assert slice_transit_d == pytest.approx(real_transit_d, rel=0.01)
    max_key = "capacity_max" if line == "wrep" else "capacity"
    assert _v(f"{line}.belarus_capacity") == pytest.approx(_v(f"{line}.{max_key}") * share, rel=0.01)


def test_wrep_transit_is_about_eleven_days_and_btc_sixteen_to_eighteen() -> None:
    assert _v("wrep.belarus_linefill") / _v("sangachal.wrep_allocation") == pytest.approx(10.7, abs=0.1)
    assert 16 <= _v("btc.belarus_linefill") / _v("sangachal.btc_allocation") <= 18


def test_allocation_splits_add_up() -> None:
    assert SEED["sangachal.supsa_share"]["value"] + SEED["sangachal.ceyhan_share"]["value"] == pytest.approx(1.0)
    total = _v("sangachal.wrep_allocation") + _v("sangachal.btc_allocation")
    assert total == pytest.approx(_v("sangachal.belarus_allocation"))


def test_russian_supply_is_the_rest_of_demand() -> None:
    assert _v("mozyr.russian_supply") == pytest.approx(_v("mozyr.demand") - _v("sangachal.belarus_allocation"))
    assert _v("russia.druzhba_supply") == pytest.approx(_v("mozyr.russian_supply") + _v("naftan.russian_supply"))


def test_lifting_interval_delivers_the_allocation() -> None:
    cargoes_per_year = _v("sangachal.belarus_allocation") * 365 / _v("aframax.cargo")
    assert cargoes_per_year == pytest.approx(11.76, abs=0.01)
    assert _v("programme_2021.lifting_interval") / 24 == pytest.approx(365 / cargoes_per_year, abs=0.1)


def test_brody_mozyr_batch_of_one_cargo_fits_the_three_day_stop() -> None:
    batch_days = _v("brody_mozyr.batch_size") / _v("brody_mozyr.capacity")
    assert batch_days == pytest.approx(3.1, abs=0.05)
    assert batch_days * 24 >= _v("brody_mozyr.batch_min_window")


def test_ceyhan_bosphorus_position_is_after_the_dardanelles_and_marmara() -> None:
    after = _v("sea.ceyhan_to_dardanelles") + _v("dardanelles.length") + 112
    assert _v("sea.ceyhan_to_bosphorus") == pytest.approx(after, abs=1)
    assert _v("sea.ceyhan_to_bosphorus") < _v("sea.ceyhan_pivdennyi")


# --------------------------------------------------------------------------- scenarios


def _cited_lines(path: Path) -> list[tuple[int, str, str, str]]:
    """(line number, key, value text, seed key) of every line citing a seed."""
    out = []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        m = LINE.match(line)
        if not m or not m.group("comment"):
            continue
        c = CITE.search("#" + m.group("comment"))
        if c:
            out.append((no, m.group("key"), m.group("value"), c.group("key")))
    return out


CITING = sorted(p for p in SCENARIOS.glob("*.yaml") if "# seed:" in p.read_text(encoding="utf-8"))
CITATIONS = [(p.name, *c) for p in CITING for c in _cited_lines(p)]


def _matches(text: str, key: str) -> str | None:
    """None when the scenario value equals the seed; otherwise why not."""
    entry = SEED[key]
    value = yaml.safe_load(text)
    want = entry["value"]
    unit = entry["unit"]
    if unit in PLAIN_UNITS:
        if isinstance(want, dict):
            ok = isinstance(value, dict) and set(value) == set(want) and all(_close(value[k], want[k]) for k in want)
        elif isinstance(want, list):
            ok = (isinstance(value, list) and len(value) == len(want)
                  and all(_close(a, b) for a, b in zip(value, want, strict=False)))
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and _close(value, want)
        return None if ok else f"{value!r} differs from the seed's {want!r} {unit}"
    got_list = value if isinstance(value, list) else [value]
    want_list = want if isinstance(want, list) else [want]
    if len(got_list) != len(want_list):
        return f"{value!r} has {len(got_list)} values, the seed {len(want_list)}"
    for got, exp in zip(got_list, want_list, strict=False):
        _dim, parser, exp_internal = _dimension(exp, unit)
        try:
            got_internal = _parse(got, parser)
        except units.UnitError as exc:
            return f"{got!r} is not a {_dim} like the seed's '{exp} {unit}': {exc}"
        if not _close(got_internal, exp_internal):
            return (f"{got!r} = {got_internal:g} differs from the seed's '{exp} {unit}' = {exp_internal:g} "
                    "(internal units)")
    return None


def test_baseline_cites_seeds() -> None:
    assert SCENARIOS / "baseline.yaml" in CITING
    assert len([c for c in CITATIONS if c[0] == "baseline.yaml"]) >= 60


@pytest.mark.parametrize("scenario,line,key,text,seed", CITATIONS, ids=[f"{c[0]}:{c[1]}" for c in CITATIONS])
def test_every_cited_number_matches_its_seed(scenario: str, line: int, key: str, text: str, seed: str) -> None:
    assert seed in SEED, f"{scenario}:{line}: cites unknown seed key {seed!r}"
    problem = _matches(text, seed)
    assert problem is None, f"{scenario}:{line} {key}: {problem} (seed {seed})"


def test_every_figure_in_the_baseline_cites_a_seed() -> None:
    """A number without a citation is a silent figure; settings of the run are exempt."""
    silent = []
    for no, line in enumerate((SCENARIOS / "baseline.yaml").read_text(encoding="utf-8").splitlines(), start=1):
        m = LINE.match(line)
        if not m or not re.search(r"\d", m.group("value")) or m.group("key") in SETTING_KEYS | TEXT_KEYS:
            continue
        comment = m.group("comment") or ""
        if not (CITE.search("#" + comment) or comment.strip().startswith("setting")):
            silent.append(f"line {no}: {line.strip()}")
    assert not silent, "figures without '# seed: key':\n" + "\n".join(silent)


def test_the_cited_comparison_catches_a_drifted_number() -> None:
    # The checker itself must fail on a mismatch, or the tests above prove nothing.
    assert _matches("9 Mt/y", "odesa_brody.capacity") is None
    assert _matches("9.5 Mt/y", "odesa_brody.capacity") is not None
    assert _matches(f"{9e6 / 365!r} t/d", "odesa_brody.capacity") is None  # the same rate per day
    assert _matches("9", "odesa_brody.capacity") is not None  # a bare number is not a rate
    assert _matches("[0.2d, 0.8d]", "bosphorus.normal_wait") is None
    assert _matches("[0.2d, 0.9d]", "bosphorus.normal_wait") is not None
    assert _matches("1000kb", "supsa.max_parcel") is None
    assert _matches("0.5", "sangachal.supsa_share") is not None
