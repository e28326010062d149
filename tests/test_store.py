"""The results store: resolved scenario round trip, atomic blocks, assembly, reading runs back."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
import yaml

from sim import store
from sim.errors import UserError
from sim.loader import load_scenario
from sim.scenario import Scenario
from tests.test_metrics import SCENARIO


def test_resolved_scenario_round_trips_exactly(tmp_path):
    s = Scenario.model_validate({**SCENARIO, "horizon": "12d", "disruptions": [
        *SCENARIO["disruptions"],
        {"name": "fog", "target": "bosphorus", "kind": "delay", "delay": {"triangular": ["1h", "2h", "6h"]},
         "stochastic": {"per_month": {"jan": 2, "feb": 1}, "duration": {"lognormal": {"median": "10h", "p90": "1d"}}}},
    ]})
    data = store.scenario_data(s)
    assert data["network"]["pipelines"][0]["capacity"] == "200.0 t/d"
    assert data["horizon"] == "288.0h"
    store.write_scenario_yaml(tmp_path, data, "# header\n")
    again = load_scenario(tmp_path / "scenario.yaml")
    assert again == s
    assert store.scenario_hash(again) == store.scenario_hash(s)


def test_scenario_hash_changes_with_any_value():
    a = Scenario.model_validate(SCENARIO)
    b = Scenario.model_validate({**SCENARIO, "horizon": "5d"})
    assert store.scenario_hash(a) != store.scenario_hash(b)
    assert store.scenario_hash(a) == store.scenario_hash(Scenario.model_validate(SCENARIO))


def _tables(rep: int, routes: list[str]) -> dict[str, list[pd.DataFrame]]:
    k = {"replication": rep, "delivered_t": 100.0 * rep}
    k.update({f"share_route_{r}_pct": 50.0 for r in routes})
    return {"kpis": [pd.DataFrame([k])],
            "voyages": [pd.DataFrame({"replication": pd.Series([rep] * rep, dtype="int64"),
                                      "tanker": [f"t{i}" for i in range(rep)]})]}


def test_blocks_assemble_in_replication_order_with_missing_share_columns_as_zero(tmp_path):
    # blocks written out of order, with a route that only delivered in replication 2
    store.write_block(tmp_path, 2, 3, _tables(2, ["supsa", "ceyhan"]))
    store.write_block(tmp_path, 0, 2, {"kpis": [_tables(0, ["supsa"])["kpis"][0], _tables(1, ["supsa"])["kpis"][0]],
                                       "voyages": _tables(0, [])["voyages"] + _tables(1, [])["voyages"]})
    store.assemble(tmp_path, 3)
    k = pd.read_parquet(tmp_path / "kpis.parquet")
    assert list(k["replication"]) == [0, 1, 2]
    assert list(k["share_route_ceyhan_pct"]) == [0.0, 0.0, 50.0]
    v = pd.read_parquet(tmp_path / "voyages.parquet")
    assert list(v["replication"]) == [1, 2, 2]  # replication 0 had no voyages


def test_assemble_refuses_a_run_with_missing_replications(tmp_path):
    store.write_block(tmp_path, 0, 1, _tables(0, []))
    store.write_block(tmp_path, 2, 3, _tables(2, []))
    with pytest.raises(RuntimeError, match="missing"):
        store.assemble(tmp_path, 3)
    assert not (tmp_path / "kpis.parquet").exists()


def test_half_written_blocks_are_ignored_and_cleaned(tmp_path):
    store.write_block(tmp_path, 0, 1, _tables(0, []))
    junk = tmp_path / "parts" / ".tmp-r0000001-0000002-999"
    junk.mkdir()
    (junk / "kpis.parquet").write_bytes(b"half a file")
    (tmp_path / ".manifest.json.tmp-999").write_text("{")
    assert [b.start for b in store.finished_blocks(tmp_path)] == [0]
    store.remove_temporaries(tmp_path)
    assert not junk.exists() and not (tmp_path / ".manifest.json.tmp-999").exists()


def test_incomplete_run_reads_its_finished_blocks(tmp_path):
    folder = tmp_path / "run"
    store.new_run_dir(Scenario.model_validate(SCENARIO), out=folder)
    store.write_manifest(folder, {"status": "incomplete", "replications": 4, "replications_done": 2})
    store.write_block(folder, 0, 2, {"kpis": _tables(0, [])["kpis"] + _tables(1, [])["kpis"]})
    run = store.open_run(folder)
    assert not run.complete
    assert list(run.kpis["replication"]) == [0, 1]
    assert "incomplete" in repr(run)


def test_out_folder_is_claimed_exclusively(tmp_path):
    s = Scenario.model_validate(SCENARIO)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert store.new_run_dir(s, out=empty) == empty  # an existing empty folder is fine
    with pytest.raises(UserError, match="already holds files"):
        store.new_run_dir(s, out=empty)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UserError, match="not a folder"):
        store.new_run_dir(s, out=tmp_path / "afile")


def test_manifest_writes_are_atomic_json_without_nan(tmp_path):
    store.write_manifest(tmp_path, {"wall_time_s": float("nan"), "n": np.int64(3)})
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert m == {"wall_time_s": None, "n": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_open_run_errors_are_clear(tmp_path):
    with pytest.raises(UserError, match="no such run folder"):
        store.open_run(tmp_path / "nope")
    with pytest.raises(UserError, match="no manifest.json"):
        store.open_run(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(UserError, match="cannot read the manifest"):
        store.open_run(tmp_path)
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(UserError, match="no table"):
        store.open_run(tmp_path).table("kpi")


def test_summary_json_holds_percentiles(tmp_path):
    kpis = pd.DataFrame({"replication": range(5), "shortfall_t": [0.0, 10.0, 20.0, 30.0, 40.0]})
    fk = pd.DataFrame({"replication": [0, 0], "facility": ["a", "b"], "kind": ["x", "y"], "closed_h": [1.0, 3.0]})
    store.write_summary(tmp_path, kpis, fk, pd.DataFrame())
    s = json.loads((tmp_path / "summary.json").read_text())
    row = s["kpis"][0]
    assert row["kpi"] == "shortfall_t" and row["p50"] == 20.0 and row["p95"] == pytest.approx(38.0)
    assert {r["facility"] for r in s["facility_kpis"]} == {"a", "b"}
    assert s["replications"] == 5


def test_git_and_versions_are_recorded():
    v = store.package_versions()
    assert v["python"] and v["numpy"] and v["pandas"]
    g = store.git_commit()
    if g is not None:
        assert len(g["commit"]) == 40
    assert os.path.basename(store.utc_now()).endswith("Z")
    assert isinstance(yaml.safe_dump({"a": 1}), str)
