"""Nomination policies of cargo programmes (sim.model.nomination), each worked by hand: the
(s, S) reorder policy, the emergency trigger, the load port by readiness, a reroute round
an announced closure, and the errors a bad policy block gives."""

from __future__ import annotations

import copy
import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.errors import ScenarioError
from sim.model import simulate
from sim.recorder import NOMINATION_FIELDS
from sim.results.metrics import replication_tables
from sim.scenario.loader import load_scenario
from tests.test_model_support import imbalance_t, scenario, voyage_dicts

SEED = np.random.SeedSequence(11)


def rows(records) -> list[dict[str, Any]]:
    return [dict(zip(NOMINATION_FIELDS, r, strict=True)) for r in records.nominations]


# A load terminal A with ample crude, 300 nm (30 h at 10 kn) from a discharge terminal B,
# and a line from B to the refinery R, which runs 12 kt/d (0.5 kt/h) from 100 kt.
CORRIDOR: dict[str, Any] = {
    "terminals": [
        {"name": "A", "tank": {"capacity": "1000kt", "initial": "1000kt"},
         "berths": {"count": 1, "load_rate": "48 kt/d"}},
        {"name": "B", "tank": {"capacity": "200kt"}, "berths": {"count": 1, "discharge_rate": "48 kt/d"}},
    ],
    "sea_legs": [{"name": "AB", "from": "A", "to": "B", "distance": "300 nm"}],
    "pipelines": [{"name": "BR", "from": "B", "to": "R", "capacity": "48 kt/d", "transit": "1d"}],
    "refineries": [{"name": "R", "tank": {"capacity": "500kt", "initial": "100kt"}, "demand": "12 kt/d"}],
}

TANKER = {"cargo": "24kt", "speed": "10 kn"}

REORDER = {"programmes": [{
    "name": "P", "load_ports": [{"terminal": "A"}], "discharge_port": "B", "tanker": TANKER,
    "nomination": {"policy": "reorder", "watch": "R", "reorder_point": {"cover": "6d"},
                   "order_up_to": {"cover": "10d"}, "lead_time": "60h", "max_in_flight": 2, "review": "1d"},
}]}


def test_reorder_policy_nominates_when_the_position_falls_below_s_and_orders_up_to_s_capped() -> None:
    """s = 6 d x 12 kt/d = 72 kt, S = 10 d = 120 kt (min_stock 0), 24 kt cargoes, lead time
    60 h, at most 2 in flight, a review every 24 h.  Nothing arrives before the first
    cargo, so the position is R's stock, 100 - 12 d kt at review d: 100, 88, 76, then
    64 kt < 72 at 72 h: ceil((120 - 64) / 24) = 3 cargoes wanted, 2 allowed; both are due
    at A at 72 + 60 = 132 h.  The position is then 64 + 48 = 112 kt, and the reviews at
    96 h (100), 120 h (88) and 144 h (76) order nothing.  The first tanker loads 132-144 h
    (24 kt at 2 kt/h), sails 30 h and discharges 174-186 h; the second waits for the berth,
    loads 144-156 h and discharges 186-198 h.  At 168 h the position is 16 + 48 = 64 kt,
    but both cargoes are in flight: nothing.  At 192 h both are discharging or done: the
    position is 100 + 48 - 96 = 52 kt (R, B and what is still aboard), ceil(68 / 24) = 3
    wanted, 2 allowed, due at 252 h, after the 240 h horizon."""
    rec = simulate(scenario(CORRIDOR, shipping=REORDER), SEED)
    got = rows(rec)
    assert [r["decided_h"] for r in got] == pytest.approx([72, 72, 192, 192])
    assert [r["tanker"] for r in got] == ["P-R001", "P-R002", "P-R003", "P-R004"]
    assert {r["trigger"] for r in got} == {"reorder"} and {r["policy"] for r in got} == {"reorder"}
    assert [r["laycan_h"] for r in got] == pytest.approx([132, 132, 252, 252])
    assert got[0]["stock_t"] == pytest.approx(64_000) and got[0]["position_t"] == pytest.approx(64_000)
    assert got[0]["cover_d"] == pytest.approx(64 / 12)
    assert got[2]["position_t"] == pytest.approx(52_000)
    assert [r["load_port"] for r in got] == ["A", "A", "", ""]  # the last two were never due
    v = voyage_dicts(rec)
    assert [x["tanker"] for x in v] == ["P-R001", "P-R002"]
    assert [x["load_start_h"] for x in v] == pytest.approx([132, 144])
    assert [x["discharge_start_h"] for x in v] == pytest.approx([174, 186])
    assert abs(imbalance_t(rec.balance)) < 1e-6


def test_reorder_on_a_terminal_stock_counts_the_stock_in_tonnes() -> None:
    """Watching B (stock 0, nothing aboard) with s = 10 kt, S = 50 kt: at 0 h the position
    is 0 < 10, so ceil(50 / 24) = 3 cargoes are nominated at once (cap 100), and no more
    while they are in flight (the position is then 72 kt)."""
    prog = copy.deepcopy(REORDER)
    prog["programmes"][0]["nomination"].update(
        watch="B", reorder_point={"stock": "10kt"}, order_up_to={"stock": "50kt"}, max_in_flight=100)
    rec = simulate(scenario(CORRIDOR, shipping=prog, horizon="2d"), SEED)
    got = rows(rec)
    assert [r["decided_h"] for r in got] == [0.0, 0.0, 0.0]
    assert all(math.isnan(r["cover_d"]) for r in got)  # a terminal has no days of cover


def test_a_calendar_programme_records_its_liftings_and_what_its_watch_showed() -> None:
    """A calendar lifting is decided at its laycan (24 h, 144 h).  Watching R, the first
    sees R's 100 - 12 = 88 kt (7.33 days of cover) and nothing on the way; the second sees
    100 + 24 - 72 = 52 kt in R and B, the first cargo having been pumped through."""
    cal = {"programmes": [{"name": "P", "every": "5d", "first": "1d", "load_ports": [{"terminal": "A"}],
                           "discharge_port": "B", "tanker": TANKER}]}
    rec = simulate(scenario(CORRIDOR, shipping=cal), SEED)
    got = rows(rec)
    assert [(r["tanker"], r["decided_h"], r["trigger"], r["load_port"]) for r in got] == [
        ("P-001", 24.0, "calendar", "A"), ("P-002", 144.0, "calendar", "A")]
    assert all(math.isnan(r["position_t"]) and r["watch"] == "" for r in got)
    cal["programmes"][0]["nomination"] = {"watch": "R"}
    watched = rows(simulate(scenario(CORRIDOR, shipping=cal), SEED))
    assert [r["position_t"] for r in watched] == pytest.approx([88_000, 52_000])
    assert watched[0]["cover_d"] == pytest.approx(88 / 12) and watched[0]["watch"] == "R"
    assert voyage_dicts(simulate(scenario(CORRIDOR, shipping=cal), SEED)) == voyage_dicts(rec)


# A source S sends 12 kt/d to R by its own line, besides the sea route.
WITH_SOURCE = copy.deepcopy(CORRIDOR)
WITH_SOURCE["sources"] = [{"name": "S", "origin": "russian", "rate": "12 kt/d"}]
WITH_SOURCE["pipelines"].append({"name": "SR", "from": "S", "to": "R", "capacity": "12 kt/d", "transit": "1d"})


def emergency_programme(**emergency: Any) -> dict[str, Any]:
    return {"programmes": [{
        "name": "P", "dates": ["2021-01-09"], "load_ports": [{"terminal": "A"}], "discharge_port": "B",
        "tanker": TANKER, "nomination": {"emergency": {"lead_time": "1d", **emergency}}}]}


def cut(factor: float, start: str = "2d", duration: str = "5d") -> list[dict[str, Any]]:
    return [{"name": "cut", "target": "S", "kind": "supply_cut", "factor": factor,
             "window": {"start": start, "duration": duration}}]


def test_an_emergency_nominates_extra_cargoes_after_the_decision_delay() -> None:
    """S is cut to 40 % from 48 h to 168 h.  The trigger (below 50 %) fires at 48 h, is seen
    a decision delay of 1 d later (72 h) while the cut still holds, and nominates 2 cargoes
    12 h apart: decided at 72 h and 84 h, due at A a 1 d lead time later (96 h, 108 h).
    The calendar lifting of 9 January (192 h) stays as it was."""
    rec = simulate(scenario(WITH_SOURCE, shipping=emergency_programme(
        when=[{"supply_cut": "S", "below": 0.5}], decision_delay="1d", cargoes=2, spacing="12h"),
        disruptions=cut(0.4)), SEED)
    got = rows(rec)
    extra = [r for r in got if r["trigger"] != "calendar"]
    assert [(r["tanker"], r["decided_h"], r["laycan_h"]) for r in extra] == [
        ("P-E001", 72.0, 96.0), ("P-E002", 84.0, 108.0)]
    assert {r["trigger"] for r in extra} == {"emergency:supply_cut:S"}
    assert {r["policy"] for r in extra} == {"calendar"}
    assert [r["decided_h"] for r in got if r["trigger"] == "calendar"] == [192.0]
    assert sorted(v["arrive_load_h"] for v in voyage_dicts(rec)) == pytest.approx([96, 108, 192])


def test_an_emergency_waits_for_a_deep_enough_cut_and_one_that_lasts_past_the_decision() -> None:
    """A cut to 60 % is not below 50 %: no extra cargo.  A closure of the line SR for 12 h
    (from 48 h) has cleared when the 1 d decision delay is over: no extra cargo either."""
    shallow = simulate(scenario(WITH_SOURCE, shipping=emergency_programme(
        when=[{"supply_cut": "S", "below": 0.5}], decision_delay="1d"), disruptions=cut(0.6)), SEED)
    assert [r["trigger"] for r in rows(shallow)] == ["calendar"]
    brief = [{"name": "shut", "target": "SR", "kind": "closure", "window": {"start": "2d", "duration": "12h"}}]
    short = simulate(scenario(WITH_SOURCE, shipping=emergency_programme(
        when=[{"closure": "SR"}], decision_delay="1d"), disruptions=brief), SEED)
    assert [r["trigger"] for r in rows(short)] == ["calendar"]
    long = [{"name": "shut", "target": "SR", "kind": "closure", "window": {"start": "2d", "duration": "3d"}}]
    seen = simulate(scenario(WITH_SOURCE, shipping=emergency_programme(
        when=[{"closure": "SR"}], decision_delay="1d"), disruptions=long), SEED)
    assert [(r["trigger"], r["decided_h"]) for r in rows(seen)] == [
        ("calendar", 192.0), ("emergency:closure:SR", 72.0)]


# Two load ports for one discharge port B: A1 fed at 12 kt/d, A2 fed at 2 kt/d.
LOADING = {"count": 1, "load_rate": "48 kt/d"}

def two_load_ports(a1: str, a2: str) -> dict[str, Any]:
    return {
        "sources": [{"name": "S1", "origin": "azeri", "rate": "12 kt/d"},
                    {"name": "S2", "origin": "azeri", "rate": "2 kt/d"}],
        "terminals": [
            {"name": "A1", "tank": {"capacity": "200kt", "initial": a1}, "berths": LOADING},
            {"name": "A2", "tank": {"capacity": "200kt", "initial": a2}, "berths": LOADING},
            {"name": "B", "tank": {"capacity": "500kt"}, "berths": {"count": 1, "discharge_rate": "48 kt/d"}},
        ],
        "pipelines": [{"name": "S1A1", "from": "S1", "to": "A1", "capacity": "12 kt/d", "transit": "1d"},
                      {"name": "S2A2", "from": "S2", "to": "A2", "capacity": "2 kt/d", "transit": "1d"}],
        "sea_legs": [{"name": "A1B", "from": "A1", "to": "B", "distance": "240 nm"},
                     {"name": "A2B", "from": "A2", "to": "B", "distance": "240 nm"}],
    }


def first_load_port(network: dict[str, Any], rule: str) -> str:
    ship = {"programmes": [{"name": "P", "dates": ["2021-01-01"], "choose_port": rule,
                            "load_ports": [{"terminal": "A1"}, {"terminal": "A2"}],
                            "discharge_port": "B", "tanker": TANKER}]}
    rec = simulate(scenario(network, shipping=ship, horizon="3d"), SEED)
    return str(rows(rec)[0]["load_port"])


def test_readiness_takes_the_first_port_that_covers_the_cargo_not_the_largest() -> None:
    """A1 holds 30 kt and A2 100 kt for a 24 kt cargo: readiness takes A1 (listed first and
    covering it); availability takes A2 (the most crude)."""
    net = two_load_ports("30kt", "100kt")
    assert first_load_port(net, "readiness") == "A1"
    assert first_load_port(net, "availability") == "A2"


def test_readiness_otherwise_takes_the_port_that_will_have_the_cargo_first() -> None:
    """A1 holds 10 kt and gains 12 kt/d: 14 kt short, ready in 28 h.  A2 holds 20 kt and
    gains 2 kt/d: 4 kt short, ready in 48 h.  Readiness takes A1 although A2 holds more
    (availability's choice)."""
    net = two_load_ports("10kt", "20kt")
    assert first_load_port(net, "readiness") == "A1"
    assert first_load_port(net, "availability") == "A2"


def test_the_running_readiness_book_is_the_scan_of_every_voyage_at_every_pick(monkeypatch) -> None:
    """The desk keeps the cargoes waiting at each load port (arrived, not yet loading) as a
    running book instead of rescanning every voyage at each readiness pick.  The definition
    is the scan: the sum, in record order, of the cargo of every voyage with that load port
    and no load start.  A readiness programme lifting every 6 h (24 kt each, 12 h at the one
    berth, 14 kt/d of crude in all) beside a share programme at A1 every 2 d queues tankers
    at both ports: every call of the book gives exactly the scan's tonnes (``==`` on the
    floats), some with several tankers waiting, and both ports are chosen."""
    from sim.model.nomination import Desk

    book = Desk._waiting_t
    calls: list[float] = []

    def checked(self: Desk, port: str) -> float:
        got = book(self, port)
        scan = sum(v.cargo_t for v in self.voyages if v.load_port == port and math.isnan(v.load_start_h))
        assert got == scan, (float(self.env.now), port)
        calls.append(got)
        return got

    monkeypatch.setattr(Desk, "_waiting_t", checked)
    ship = {"programmes": [
        {"name": "P", "every": "6h", "first": "0h", "choose_port": "readiness",
         "load_ports": [{"terminal": "A1"}, {"terminal": "A2"}], "discharge_port": "B", "tanker": TANKER},
        {"name": "Q", "every": "2d", "first": "1d", "load_ports": [{"terminal": "A1"}],
         "discharge_port": "B", "tanker": TANKER}]}
    rec = simulate(scenario(two_load_ports("30kt", "40kt"), shipping=ship, horizon="20d"), SEED)
    assert len(calls) >= 70 and max(calls) >= 3 * 24_000.0 and 0 in calls
    assert {v["load_port"] for v in voyage_dicts(rec) if v["programme"] == "P"} == {"A1", "A2"}
    assert abs(imbalance_t(rec.balance)) < 1e-6


# A and C both load for B; a known closure of the leg AB.
REROUTE_NET = copy.deepcopy(CORRIDOR)
REROUTE_NET["terminals"].append({"name": "C", "tank": {"capacity": "100kt", "initial": "100kt"},
                                 "berths": {"count": 1, "load_rate": "48 kt/d"}})
REROUTE_NET["sea_legs"].append({"name": "CB", "from": "C", "to": "B", "distance": "600 nm"})


def reroute_run(closure: str, threshold: str = "2d"):
    ship = {"programmes": [{
        "name": "P", "dates": ["2021-01-02"], "load_ports": [{"terminal": "A"}], "discharge_port": "B",
        "tanker": TANKER, "reroute": {"threshold": threshold, "alternatives": [
            {"load_port": "C", "delay": "12h", "cost_usd": 50000}]}}]}
    shut = [{"name": "leg_shut", "target": "AB", "kind": "closure", "window": {"start": "12h", "duration": closure}}]
    return simulate(scenario(REROUTE_NET, shipping=ship, disruptions=shut), SEED)


def test_a_cargo_reroutes_round_an_announced_closure_longer_than_the_threshold() -> None:
    """AB is closed from 12 h for 5 d (to 132 h).  The cargo is due at A at 24 h: the closure
    lasts 108 h more, over the 48 h threshold, so it switches to C (whose route C-CB-B is
    clear), arrives there 12 h later (36 h), loads 36-48 h, sails 600 nm in 60 h and
    discharges 108-120 h, well before AB reopens.  The switch costs $50,000."""
    rec = reroute_run("5d")
    (r,) = rows(rec)
    assert (r["rerouted_from"], r["rerouted_to"], r["load_port"]) == ("A->B", "C->B", "C")
    assert r["switch_delay_h"] == 12.0 and r["switch_cost_usd"] == 50000.0
    (v,) = voyage_dicts(rec)
    assert v["load_port"] == "C" and v["arrive_load_h"] == pytest.approx(36)
    assert v["discharge_end_h"] == pytest.approx(120)
    table = replication_tables(rec, scenario(REROUTE_NET), 0)["nominations"]
    assert table.loc[0, "switch_cost_usd"] == 50000.0 and table.loc[0, "replication"] == 0


def test_a_closure_shorter_than_the_threshold_keeps_the_route() -> None:
    """AB closed from 12 h for 2 d ends at 60 h: 36 h after the 24 h laycan, under the 48 h
    threshold, so the cargo keeps its route and waits at A."""
    (r,) = rows(reroute_run("2d"))
    assert (r["rerouted_from"], r["rerouted_to"], r["load_port"]) == ("", "", "A")


# --------------------------------------------------------------------------- bad input

DATA = Path(__file__).parent / "data"
VALID = (DATA / "valid_minimal.yaml").read_text()


def problems_of(tmp_path: Path, nomination: str) -> list:
    text = VALID.replace("      laycan_spread: 2d\n", "      laycan_spread: 2d\n" + textwrap.indent(
        textwrap.dedent(nomination), "      "), 1)
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return list(info.value.problems)


def test_a_misspelt_policy_name_says_what_would_be_valid(tmp_path: Path) -> None:
    (p,) = problems_of(tmp_path, "nomination: {policy: reoder}\n")
    assert p.path[-2:] == ("nomination", "policy")
    assert "calendar" in p.message and p.hint == "did you mean 'reorder'?"


def test_an_unknown_watched_facility_gets_a_did_you_mean(tmp_path: Path) -> None:
    (p,) = problems_of(tmp_path, """\
        nomination:
          emergency:
            when: [{closure: wrap}]
        """)
    assert p.path == ("shipping", "programmes", 0, "nomination", "emergency", "when", 0, "closure")
    assert p.hint == "did you mean 'wrep'?"
    assert p.line is not None


def test_a_reorder_policy_without_its_levels_or_with_the_calendar_fields_is_refused(tmp_path: Path) -> None:
    missing = problems_of(tmp_path, """\
        nomination:
          policy: reorder
          watch: mozyr
          reorder_point: {cover: 5d}
          lead_time: 10d
        """)
    assert [p.message for p in missing] == ["'policy: reorder' needs order_up_to"]
    assert missing[0].path == ("shipping", "programmes", 0, "nomination")
    calendar = problems_of(tmp_path, """\
        nomination:
          policy: reorder
          watch: mozyr
          reorder_point: {cover: 5d}
          order_up_to: {cover: 9d}
          lead_time: 10d
        """)
    assert [p.message for p in calendar] == ["a reorder programme nominates its own liftings; remove every, first"]
    (stray,) = problems_of(tmp_path, "nomination: {review: 2d}\n")
    assert stray.message == "review applies only to 'policy: reorder'"


def test_cover_on_a_terminal_and_a_watch_off_the_route_are_refused(tmp_path: Path) -> None:
    text = VALID.replace("      first: 2021-01-05\n", "").replace("      every: 30d\n", "").replace(
        "      laycan_spread: 2d\n", textwrap.indent(textwrap.dedent("""\
        laycan_spread: 2d
        nomination:
          policy: reorder
          watch: supsa
          reorder_point: {cover: 5d}
          order_up_to: {cover: 10d}
          lead_time: {uniform: [5d, 10d]}
        """), "      "))
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    messages = [p.message for p in info.value.problems]
    assert any("is not fed from the discharge port 'pivdennyi'" in m for m in messages)
    assert any("'cover' needs a refinery's demand" in m for m in messages)


def test_the_reorder_scenario_validates_from_yaml(tmp_path: Path) -> None:
    """The README's reorder example loads, with its levels in internal units (hours)."""
    text = VALID.replace("      first: 2021-01-05\n", "").replace("      every: 30d\n", "").replace(
        "      laycan_spread: 2d\n", textwrap.indent(textwrap.dedent("""\
        laycan_spread: 2d
        choose_port: readiness
        nomination:
          policy: reorder
          watch: mozyr
          reorder_point: {cover: 5d}
          order_up_to: {cover: 9d}
          lead_time: {uniform: [5d, 10d]}
          max_in_flight: 2
        """), "      "))
    path = tmp_path / "s.yaml"
    path.write_text(text)
    s = load_scenario(path)
    nom = s.shipping.programmes[0].nomination
    assert nom is not None and nom.reorder_point is not None and nom.reorder_point.cover_h == 120.0


# --------------------------------------------------------------------------- the shipped what-if

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def test_the_halved_supply_what_if_nominates_three_extra_cargoes_a_week_apart_after_a_week() -> None:
    """The Russian supply is halved from hour 0 for 59 days (factor 0.5 < 0.75: the trigger
    fires at once); a decision delay of 7 d puts the first extra nomination at 168 h, the
    next two at 336 h and 504 h (7 d apart), each due 10-20 d later, and Mozyr's cover is
    recorded at each decision.  The same cut without the response
    (russian_supply_cut_2020, same seed) leaves Mozyr short by more; the year's deliveries
    do not grow, because the Azeri allocation is not raised: the extra cargoes bring the
    year's crude forward."""
    s = load_scenario(SCENARIOS / "russian_supply_halved_2020.yaml")
    text = (SCENARIOS / "russian_supply_halved_2020.yaml").read_text(encoding="utf-8")
    assert text.startswith("# What if") and "\nextends: baseline.yaml\n" in text and "?" in s.description
    seed = np.random.SeedSequence(2021, spawn_key=(0,))
    rec = simulate(s, seed)
    extra = [r for r in rows(rec) if r["trigger"] != "calendar"]
    assert [r["decided_h"] for r in extra] == [168.0, 336.0, 504.0]
    assert {r["trigger"] for r in extra} == {"emergency:supply_cut:russia_druzhba"}
    assert all(240 <= r["lead_time_h"] <= 480 for r in extra)
    assert all(r["watch"] == "mozyr" and r["cover_d"] == r["cover_d"] for r in extra)  # recorded, not NaN
    assert abs(imbalance_t(rec.balance)) < 1.0
    without = simulate(load_scenario(SCENARIOS / "russian_supply_cut_2020.yaml"), seed)
    mine, theirs = (replication_tables(r, s, 0)["kpis"].iloc[0] for r in (rec, without))
    assert mine["shortfall_mozyr_t"] < theirs["shortfall_mozyr_t"]
    assert mine["delivered_t"] == pytest.approx(theirs["delivered_t"], rel=1e-3)


def test_a_run_folder_keeps_the_policies_through_its_resolved_scenario() -> None:
    """The resolved scenario.yaml of a run (every value written out) loads back to the same
    scenario, for a calendar programme with an emergency and a reorder one with a reroute."""
    from sim.results import store
    from sim.scenario.loader import validate_tree
    reorder = copy.deepcopy(REORDER)
    reorder["programmes"][0]["reroute"] = {"threshold": "2d", "alternatives": [{"load_port": "A", "cost_usd": 5}]}
    reorder["programmes"][0]["nomination"]["emergency"] = {"when": [{"closure": "BR"}, {"supply_cut": "S"}]}
    del reorder["programmes"][0]["nomination"]["max_in_flight"]
    cases = [load_scenario(SCENARIOS / "russian_supply_halved_2020.yaml"), scenario(WITH_SOURCE, shipping=reorder)]
    for s in cases:
        again = validate_tree(store.scenario_data(s), "<resolved>")
        assert again == s and store.scenario_hash(again) == store.scenario_hash(s)


def test_with_no_clear_alternative_the_cargo_keeps_its_route_and_says_so() -> None:
    """AB and CB are both closed from 12 h for 5 d: the alternative via C is blocked too, so
    the cargo keeps A->B (``rerouted_to`` empty, no delay or cost) and waits at A."""
    ship = {"programmes": [{
        "name": "P", "dates": ["2021-01-02"], "load_ports": [{"terminal": "A"}], "discharge_port": "B",
        "tanker": TANKER, "reroute": {"threshold": "2d", "alternatives": [{"load_port": "C", "cost_usd": 50000}]}}]}
    shut = [{"name": "legs_shut", "target": ["AB", "CB"], "kind": "closure",
             "window": {"start": "12h", "duration": "5d"}}]
    (r,) = rows(simulate(scenario(REROUTE_NET, shipping=ship, disruptions=shut), SEED))
    assert (r["rerouted_from"], r["rerouted_to"], r["load_port"]) == ("A->B", "", "A")
    assert r["switch_delay_h"] == 0.0 and r["switch_cost_usd"] == 0.0


def test_an_emergency_does_not_move_the_reorder_cargoes_draws() -> None:
    """Reorder and emergency cargoes draw their lead times from separate streams: the k-th
    reorder cargo's lead time is the same with or without an emergency trigger, including
    the reorder cargoes decided after an emergency one."""
    def run(emergency: dict[str, Any] | None) -> list[dict[str, Any]]:
        prog = copy.deepcopy(REORDER)
        prog["programmes"][0]["nomination"]["lead_time"] = {"uniform": ["40h", "80h"]}
        if emergency:
            prog["programmes"][0]["nomination"]["emergency"] = emergency
        return rows(simulate(scenario(half_fed, shipping=prog, horizon="30d",
                                      disruptions=cut(0.0, "4d", "2d")), SEED))

    half_fed = copy.deepcopy(WITH_SOURCE)  # S covers half of R's demand
    half_fed["sources"][0]["rate"] = half_fed["pipelines"][1]["capacity"] = "6 kt/d"

    plain = [r["lead_time_h"] for r in run(None) if r["trigger"] == "reorder"]
    got = run({"when": [{"supply_cut": "S"}], "lead_time": {"uniform": ["1d", "2d"]}})
    first_extra = min(r["decided_h"] for r in got if r["trigger"].startswith("emergency"))
    mixed = [r["lead_time_h"] for r in got if r["trigger"] == "reorder"]
    later = [r for r in got if r["trigger"] == "reorder" and r["decided_h"] > first_extra]
    assert later, "the test needs reorder cargoes decided after the emergency one"
    n = min(len(plain), len(mixed))
    assert n > len(mixed) - len(later) and plain[:n] == mixed[:n]


def test_the_work_guard_refuses_a_huge_order_up_to_without_a_cap_before_anything_runs() -> None:
    """A first review can nominate at most ceil(S / cargo) cargoes (the position is never
    below 0): S = 10 d x 12 kt/d = 120 kt of 24 kt cargoes is 5, under any limit; S = 1e9 t
    (stock) with no ``max_in_flight`` is ceil(1e9 / 24,000) = 41,667 cargoes x 15 events =
    625,005 events (with the horizon's), over a max_events of 100,000, so the guard refuses it at
    ``order_up_to`` (the model would start a voyage process per cargo); a cap of 2 bounds
    the burst at 2."""
    from sim.scenario.work import reorder_burst, work_problems

    base = copy.deepcopy(REORDER)
    small = scenario(CORRIDOR, shipping=base)
    assert reorder_burst(small.shipping.programmes[0], small) == 2.0  # max_in_flight 2 caps 5
    huge = copy.deepcopy(REORDER)
    nom = huge["programmes"][0]["nomination"]
    nom.update(reorder_point={"stock": "100kt"}, order_up_to={"stock": "1000000kt"})
    del nom["max_in_flight"]
    s = scenario(CORRIDOR, shipping=huge, limits={"max_events": 100_000})
    assert reorder_burst(s.shipping.programmes[0], s) == 41_667.0
    (path, message, hint), = work_problems(s)
    assert path == ("shipping", "programmes", 0, "nomination", "order_up_to")
    assert "(most of it for programme 'P': up to 41,667 cargoes at one review)" in message
    assert hint is not None and "set max_in_flight" in hint


def test_the_work_guard_counts_emergency_cargoes_and_refuses_a_trigger_on_a_frequent_disruption() -> None:
    """A trigger fires at most once per activation of a disruption acting on its facility
    (it re-arms only when the condition clears), and each firing nominates ``cargoes``.
    BR closed for 1 h every 2 h from day 1 over the 10-day horizon is 240 / 2 + 1 = 121
    activations (the recurring count of ``activation_count``); 100 cargoes each is 12,100
    emergency cargoes x 15 events = 181,500 events, over a max_events of 100,000, so the
    guard refuses it at ``emergency.cargoes`` before the model starts a voyage process per
    cargo.  The same block with one 5-day window closure is 100 cargoes, 1,500 events."""
    from sim.scenario.work import emergency_count, work_problems

    blink = [{"name": "blink", "target": "BR", "kind": "closure",
              "recurring": {"start": "2021-01-02", "every": "2h", "duration": "1h"}}]
    prog = emergency_programme(when=[{"closure": "BR"}], cargoes=100)
    s = scenario(WITH_SOURCE, shipping=prog, disruptions=blink, limits={"max_events": 100_000})
    assert emergency_count(s.shipping.programmes[0], s) == 12_100.0
    (path, message, hint), = work_problems(s)
    assert path == ("shipping", "programmes", 0, "nomination", "emergency", "cargoes")
    assert "(most of it for programme 'P': up to 12,100 emergency cargoes)" in message
    assert hint is not None and hint.startswith("nominate fewer emergency cargoes per activation")
    once = [{"name": "once", "target": "BR", "kind": "closure", "window": {"start": "2d", "duration": "5d"}}]
    s = scenario(WITH_SOURCE, shipping=prog, disruptions=once, limits={"max_events": 100_000})
    assert emergency_count(s.shipping.programmes[0], s) == 100.0 and work_problems(s) == []
    untouched = scenario(WITH_SOURCE, shipping=prog, disruptions=cut(0.4), limits={"max_events": 100_000})
    assert emergency_count(untouched.shipping.programmes[0], untouched) == 0.0  # the cut acts on S, not BR


def test_validate_refuses_a_hostile_emergency_count_with_its_line(tmp_path: Path) -> None:
    """The hostile input of the review: 100 cargoes per closure of pivdennyi, which closes
    for an hour every 2 h for 3 years, used to validate and then run without bound; it is
    now one problem at the ``cargoes`` line, exit 2 from ``routesim validate``."""
    from sim.cli.shell import main

    text = VALID.replace("horizon: 90d", "horizon: 3y").replace(
        "      laycan_spread: 2d\n", "      laycan_spread: 2d\n      nomination:\n        emergency:\n"
        "          when: [{closure: pivdennyi}]\n          cargoes: 100\n", 1)
    text += ("  - name: pivdennyi-blink\n    target: pivdennyi\n    kind: closure\n"
             "    recurring: {start: 2021-01-02, every: 2h, duration: 1h}\n")
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    (p,) = info.value.problems
    assert p.path == ("shipping", "programmes", 0, "nomination", "emergency", "cargoes")
    assert p.line == text.splitlines().index("          cargoes: 100") + 1
    assert "emergency cargoes" in p.message and "limits.max_memory" in p.message
    assert main(["validate", str(path)]) == 2


def test_the_running_in_flight_book_is_the_scan_of_every_cargo_at_every_review(monkeypatch) -> None:
    """The desk keeps its in-flight cargoes as a running book instead of rescanning every
    cargo and voyage at each review.  The definition is the scan: the rows decided by now
    (a calendar lifting at its laycan) whose tanker has not started discharging.  Over 60
    days of a reorder programme with random lead times and an emergency on S's cut, beside
    a watched calendar programme, every call of the book gives exactly the scan's list, and
    the run gives enough cargoes, in flight and discharged, for the comparison to bite."""
    from sim.model.nomination import Desk

    book = Desk._in_flight
    calls: list[int] = []

    def checked(self: Desk, prog: Any) -> list:
        got = book(self, prog)
        now = float(self.env.now)
        started = {v.tanker for v in self.voyages
                   if v.programme == prog.name and not math.isnan(v.discharge_start_h)}
        scan = [c for c in self.cargoes if c.programme == prog.name and c.decided_h <= now
                and c.tanker not in started]
        assert got == scan, (now, prog.name)
        calls.append(len(got))
        return got

    monkeypatch.setattr(Desk, "_in_flight", checked)
    half_fed = copy.deepcopy(WITH_SOURCE)
    half_fed["sources"][0]["rate"] = half_fed["pipelines"][1]["capacity"] = "6 kt/d"
    ship = copy.deepcopy(REORDER)
    nom = ship["programmes"][0]["nomination"]
    nom.update(lead_time={"uniform": ["40h", "80h"]}, max_in_flight=3,
               emergency={"when": [{"supply_cut": "S"}], "cargoes": 2, "spacing": "1d"})
    ship["programmes"].append({"name": "Q", "every": "9d", "first": "2d", "load_ports": [{"terminal": "A"}],
                               "discharge_port": "B", "tanker": TANKER, "laycan_spread": "3d",
                               "nomination": {"watch": "R"}})
    rec = simulate(scenario(half_fed, shipping=ship, horizon="60d", disruptions=cut(0.0, "4d", "2d")), SEED)
    assert len(calls) > 60 and max(calls) >= 3 and 0 in calls
    assert sum(1 for v in voyage_dicts(rec) if not math.isnan(v["discharge_start_h"])) > 10
    assert abs(imbalance_t(rec.balance)) < 1e-6


# --------------------------------------------------------------------------- wordings (review follow-ups)


def test_a_bad_trigger_gives_its_own_error_not_a_false_empty_list(tmp_path: Path) -> None:
    """pydantic calls a list whose only item failed "too short after validation"; that
    second error was false (the list has an item).  Only the item's error remains, and an
    empty list still says what it needs."""
    (p,) = problems_of(tmp_path, "nomination:\n  emergency:\n    when: [{closure: wrep, below: 0.5}]\n")
    assert p.path[-2:] == ("when", 0) and p.message == "'below' only applies to a supply_cut trigger"
    (empty,) = problems_of(tmp_path, "nomination:\n  emergency:\n    when: []\n")
    assert empty.path[-1] == "when" and empty.message == "needs at least 1 item (got an empty list)"


def test_a_review_under_an_hour_names_the_minimum_with_its_unit(tmp_path: Path) -> None:
    """``review`` is bounded at 1 h, stored in hours: the bound is worded in hours, with
    the field's unit as the hint, not as a bare "at least 1"."""
    (p,) = problems_of(tmp_path, """\
        nomination: {policy: reorder, watch: mozyr, reorder_point: {cover: 5d},
                     order_up_to: {cover: 9d}, lead_time: 10d, review: 1s}
        """)
    assert p.path[-1] == "review" and p.message == "must be at least 1h (got '1s')"
    assert p.hint is not None and p.hint.startswith("duration:")


def test_bad_kinds_counts_and_names_read_as_the_language_speaks(tmp_path: Path) -> None:
    """Hostile values on the review's fields: a fractional or unparsable count, an empty
    name, each a problem in plain words at its field."""
    (frac,) = problems_of(tmp_path, "nomination:\n  emergency: {when: [{closure: wrep}], cargoes: 2.5}\n")
    assert frac.path[-1] == "cargoes" and frac.message == "must be a whole number (got 2.5)"
    (huge,) = problems_of(tmp_path, "nomination:\n  emergency: {when: [{closure: wrep}], cargoes: 1e30}\n")
    assert huge.message == "must be a whole number (got '1e30')"
    (empty,) = problems_of(tmp_path, "nomination: {watch: ''}\n")
    assert empty.path[-1] == "watch" and empty.message == "must not be empty"


def test_an_unknown_contract_kind_is_placed_at_its_key_with_the_valid_kinds(tmp_path: Path) -> None:
    """A misspelt discriminator (``kind: topup``) was pydantic's "Input tag 'topup' found
    using 'kind' does not match any of the expected tags" at the whole contract; it is now
    at the ``kind`` line, with the kinds and a did-you-mean; a missing kind lists them."""
    text = VALID.replace("      rate: 100 kb/d\n", "      rate: 100 kb/d\n      contract: {kind: topup}\n", 1)
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    (p,) = info.value.problems
    assert p.path == ("network", "sources", 0, "contract", "kind")
    assert p.message == "unknown kind 'topup': use one of fixed, top_up" and p.hint == "did you mean 'top_up'?"
    path.write_text(text.replace("{kind: topup}", "{note: none}"))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    (p,) = info.value.problems
    assert p.message == "missing required key 'kind': use one of fixed, top_up"


@pytest.mark.parametrize("argv, message", [
    (["n-1", "--to", ","], "error: --to ',' names no refinery: give one or more of mozyr, naftan, separated by "
                           "commas, or leave --to out for all of them"),
    (["capacity", "--to", " , "], "error: --to ' , ' names no refinery: give one or more of mozyr, naftan"),
    (["capacity", "--from", ","], "error: --from ',' names no source: give one or more of sangachal_wrep, "),
    (["n-1", "--to", "mozir"], "error: unknown refinery 'mozir'; refineries: mozyr, naftan"),
], ids=["n-1-comma", "capacity-to-blank", "capacity-from-comma", "n-1-unknown"])
def test_an_option_naming_no_refinery_says_which_option_and_the_valid_names(argv, message, capsys) -> None:
    """``--to ","`` used to say "the scenario has no refinery" (n-1) or give a max-flow of
    0 t/d (capacity); it is the option that names nothing, exit 2."""
    from sim.cli.shell import main

    assert main([argv[0], "scenarios/baseline.yaml", *argv[1:]]) == 2
    assert capsys.readouterr().err.startswith(message)
