"""The results store: resolved scenario round trip, atomic blocks, assembly, reading runs back."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from sim.results import store
from sim.errors import UserError
from sim.scenario.loader import load_scenario
from sim.scenario.language import Scenario
from tests.test_metrics import SCENARIO


def test_resolved_scenario_round_trips_exactly(tmp_path):
    # Brody stocked, so the toy can run (load_scenario refuses a network where nothing can flow)
    network = {**SCENARIO["network"], "depots": [{"name": "brody", "tank": {"capacity": "10kt", "initial": "5kt"}}]}
    s = Scenario.model_validate({**SCENARIO, "network": network, "horizon": "12d", "disruptions": [
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
    """NaN has no JSON form: a NaN wall time is left out (unknown), a numpy integer is written as a number."""
    store.write_manifest(tmp_path, {"wall_time_s": float("nan"), "seed": np.int64(3)})
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert m == {"seed": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_open_run_errors_are_clear(tmp_path):
    with pytest.raises(UserError, match="no such run folder"):
        store.open_run(tmp_path / "nope")
    with pytest.raises(UserError, match=r"no manifest.json"):
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


def _assembled(folder) -> dict[str, pd.DataFrame]:
    return {t: pd.read_parquet(folder / f"{t}.parquet") for t in store.TABLES}


def test_streaming_assembler_writes_what_assemble_writes_and_leaves_changed_schemas_to_it(tmp_path):
    # block 0: no voyages (its voyage columns have no type yet), route supsa only, whole-hour
    # waits; block 1: a new route column; block 3: a wait of 2.5 h widens the waits int -> float
    waits = [pd.DataFrame({"replication": [0], "wait_h": [1]}), pd.DataFrame({"replication": [3], "wait_h": [2.5]})]
    blocks = [(0, 1, {**_tables(0, ["supsa"]), "waits": waits[:1]}),
              (1, 3, {"kpis": [_tables(1, ["supsa", "ceyhan"])["kpis"][0], _tables(2, ["supsa"])["kpis"][0]],
                      "voyages": _tables(1, [])["voyages"] + _tables(2, [])["voyages"]}),
              (3, 4, {"kpis": _tables(3, ["supsa"])["kpis"], "voyages": _tables(3, [])["voyages"], "waits": waits[1:]})]
    streamed, plain = tmp_path / "streamed", tmp_path / "plain"
    for folder in (streamed, plain):
        folder.mkdir()
        for start, stop, tables in blocks:
            store.write_block(folder, start, stop, tables)
    asm = store.Assembler(streamed)
    for b in reversed(store.finished_blocks(streamed)):  # out of order: appended once 0 is there
        asm.add(b)
    written = asm.finish(4)
    # kpis gained a column and waits a wider type: left to assemble; voyages waited for a
    # block with rows to type its columns and was written; the others never had a row and
    # are written with none, in the union schema of their parts (what assemble writes)
    assert written == set(store.TABLES) - {"kpis", "waits"}
    store.assemble(streamed, 4, skip=written)
    store.assemble(plain, 4)
    a, b = _assembled(streamed), _assembled(plain)
    for t in store.TABLES:
        pd.testing.assert_frame_equal(a[t], b[t], check_exact=True)
        assert pq.read_schema(streamed / f"{t}.parquet").equals(pq.read_schema(plain / f"{t}.parquet")), t
    assert list(a["kpis"]["share_route_ceyhan_pct"]) == [0.0, 50.0, 0.0, 0.0]
    assert list(a["voyages"]["replication"]) == [1, 2, 2, 3, 3, 3]
    assert list(a["waits"]["wait_h"]) == [1.0, 2.5]
    assert not list(streamed.glob(".*tmp*"))  # no temporary files left


def test_streaming_assembler_that_did_not_see_every_block_writes_nothing(tmp_path):
    store.write_block(tmp_path, 0, 1, _tables(0, ["supsa"]))
    asm = store.Assembler(tmp_path)
    asm.add(store.finished_blocks(tmp_path)[0])
    assert asm.finish(2) == set()
    assert not list(tmp_path.glob("*.parquet")) and not list(tmp_path.glob(".*tmp*"))


def test_joined_columns_equal_part_by_part_conversion():
    parts = [{"replication": np.array([0, 0]), "facility": np.array(["a", "b"], dtype=object),
              "value_t": np.array([1.0, np.nan])},
             {"replication": np.array([1]), "facility": np.array([None], dtype=object), "value_t": np.array([2.5])}]
    fast = store.join_columns(parts)
    slow = store.block_table(parts)
    assert fast.equals(slow)
    assert fast.column("facility").to_pylist() == ["a", "b", None]
    assert fast.column("value_t").to_pylist() == [1.0, None, 2.5]  # NaN is missing, as in pandas
    # parts that differ in columns are unified part by part (a missing share is 0)
    mixed = [{"replication": np.array([0]), "share_x_pct": np.array([50.0])}, {"replication": np.array([1])}]
    assert store.join_columns(mixed).column("share_x_pct").to_pylist() == [50.0, 0.0]
