"""Dependency shares and the HHI, worked by hand on a two-refinery delivery."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from sim.results import dependency

# Mozyr: 60 kt Azeri via Supsa, 20 kt Azeri via Ceyhan, 20 kt Russian by Druzhba.
# Naftan: 100 kt Russian by Druzhba.
DELIVERED = {
    ("mozyr", "azeri", "supsa"): 60_000.0,
    ("mozyr", "azeri", "ceyhan"): 20_000.0,
    ("mozyr", "russian", "druzhba"): 20_000.0,
    ("naftan", "russian", "druzhba"): 100_000.0,
}


def records(delivered):
    return SimpleNamespace(delivered_by_origin=delivered)


def test_hhi_of_one_supplier_is_10000_and_of_n_equal_suppliers_10000_over_n():
    assert dependency.hhi([100.0]) == 10_000.0
    assert dependency.hhi([50.0, 50.0]) == 5_000.0
    assert dependency.hhi([25.0] * 4) == pytest.approx(2_500.0)
    assert math.isnan(dependency.hhi([0.0, 0.0]))


def test_total_shares_pool_both_refineries():
    k = dependency.dependency_kpis(records(DELIVERED))
    # total 200 kt: Azeri 80 kt = 40 %, Russian 120 kt = 60 %
    assert k["share_origin_azeri_pct"] == pytest.approx(40.0)
    assert k["share_origin_russian_pct"] == pytest.approx(60.0)
    assert k["hhi_origin"] == pytest.approx(40.0**2 + 60.0**2)  # 5,200
    # routes: Supsa 30 %, Ceyhan 10 %, Druzhba 60 %
    assert k["share_route_supsa_pct"] == pytest.approx(30.0)
    assert k["share_route_ceyhan_pct"] == pytest.approx(10.0)
    assert k["share_route_druzhba_pct"] == pytest.approx(60.0)
    assert k["hhi_route"] == pytest.approx(900.0 + 100.0 + 3_600.0)


def test_per_refinery_shares_and_hhi():
    k = dependency.dependency_facility_kpis(records(DELIVERED))
    assert k["mozyr"]["share_origin_azeri_pct"] == pytest.approx(80.0)
    assert k["mozyr"]["hhi_origin"] == pytest.approx(6_400.0 + 400.0)
    assert k["mozyr"]["hhi_route"] == pytest.approx(3_600.0 + 400.0 + 400.0)
    # Naftan took only Russian crude: a full dependency, and a zero Azeri column
    assert k["naftan"]["share_origin_russian_pct"] == pytest.approx(100.0)
    assert k["naftan"]["share_origin_azeri_pct"] == 0.0
    assert k["naftan"]["hhi_origin"] == pytest.approx(10_000.0)


def test_declared_origins_get_a_zero_column_when_they_deliver_nothing():
    scenario = SimpleNamespace(network=SimpleNamespace(
        sources=[SimpleNamespace(origin="azeri"), SimpleNamespace(origin="kazakh")],
        refineries=[SimpleNamespace(name="mozyr")],
    ))
    k = dependency.dependency_kpis(records({("mozyr", "azeri", "supsa"): 5.0}), scenario)
    assert k["share_origin_kazakh_pct"] == 0.0
    assert k["share_origin_azeri_pct"] == 100.0


def test_nothing_delivered_gives_zero_shares_and_undefined_hhi():
    k = dependency.dependency_kpis(records({("mozyr", "azeri", "supsa"): 0.0}))
    assert k["share_origin_azeri_pct"] == 0.0
    assert math.isnan(k["hhi_origin"])


def test_labels_become_column_safe_slugs():
    k = dependency.dependency_kpis(records({("mozyr", "azeri", "via Klaipėda (rail)"): 1.0}))
    assert "share_route_via_klaip_da_rail_pct" in k
    assert dependency.label_of("share_route_supsa_pct") == "supsa"
    groups = dependency.share_columns(["share_origin_azeri_pct", "hhi_origin", "share_route_x_pct"])
    assert groups == {"origin": ["share_origin_azeri_pct"], "route": ["share_route_x_pct"]}


def test_tidy_frame_sums_to_100_percent_per_split():
    df = dependency.shares_frame(DELIVERED)
    sums = df.groupby(["refinery", "dimension"])["share_pct"].sum()
    assert sums.to_dict() == pytest.approx(dict.fromkeys(sums.index, 100.0))
    total = df[(df.refinery == "total") & (df.dimension == "origin")]
    assert total["delivered_t"].sum() == pytest.approx(200_000.0)


def test_malformed_input_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\(refinery, origin, route\)"):
        dependency.dependency_kpis(records({("mozyr", "azeri"): 1.0}))
    with pytest.raises(ValueError, match="finite and >= 0"):
        dependency.dependency_kpis(records({("mozyr", "azeri", "supsa"): -5.0}))
