"""An analysis copies its baseline run from disk instead of recomputing it, only when that
run is complete, made by the same code, and has the scenario hash, seed, replications and
held-back setting asked for; and it says so."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from sim import runner
from sim.analysis.attribution import attribute
from sim.analysis.criticality import criticality
from sim.cli.shell import main
from sim.results import store
from sim.runner import reuse
from tests.test_executors import SMALL


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A scenario file and a complete run of it (seed 5, 3 replications) under results/."""
    root = tmp_path_factory.mktemp("reuse")
    path = root / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    res = runner.run(path, replications=3, seed=5, executor="serial", results_root=root / "results", progress=False)
    return path, root / "results", res


def same_tables(a: store.RunResult, b: store.RunResult) -> None:
    for t in store.TABLES:
        pd.testing.assert_frame_equal(a.table(t), b.table(t), check_exact=True, obj=t)


@pytest.mark.slow
def test_criticality_copies_a_matching_run_and_gets_the_table_it_would_compute(saved, tmp_path, capsys):
    """The base run of criticality (seed 5, 3 replications) is the saved run: it is copied
    (its tables identical to the saved ones), standard error names where from, and the
    criticality table equals the one computed with --rerun-base, to the bit."""
    path, root, res = saved
    reused = criticality(path, facilities=["wrep"], replications=3, seed=5, executor="serial",
                         out=tmp_path / "a", results_root=root, progress=False)
    err = capsys.readouterr().err
    assert reused.reused_from == res.path
    assert f"reused the complete run {res.path}" in err and "--rerun-base" in err
    same_tables(res, reused.base)
    computed = criticality(path, facilities=["wrep"], replications=3, seed=5, executor="serial",
                           out=tmp_path / "b", results_root=root, progress=False, reuse=False)
    assert computed.reused_from is None and "reused" not in capsys.readouterr().err
    pd.testing.assert_frame_equal(reused.table.drop(columns="run"), computed.table.drop(columns="run"),
                                  check_exact=True)
    same_tables(reused.base, computed.base)


def edit_manifest(folder, **changes) -> None:
    m = json.loads((folder / "manifest.json").read_text())
    m.update(changes)
    (folder / "manifest.json").write_text(json.dumps(m))


def _incomplete(f):
    edit_manifest(f, status="incomplete")


def _other_code(f):
    m = json.loads((f / "manifest.json").read_text())
    edit_manifest(f, versions={**m["versions"], reuse.SOURCE_KEY: "0" * 32})


def _old_run(f):  # made before the source fingerprint was recorded
    m = json.loads((f / "manifest.json").read_text())
    edit_manifest(f, versions={k: v for k, v in m["versions"].items() if k != reuse.SOURCE_KEY})


def _edited_yaml(f):
    text = (f / "scenario.yaml").read_text()
    (f / "scenario.yaml").write_text(text.replace("capacity: 160000.0", "capacity: 150000.0", 1))


def _truncated(f):
    data = (f / "voyages.parquet").read_bytes()
    (f / "voyages.parquet").write_bytes(data[: len(data) // 2])


def _kpis_missing_a_row(f):
    kp = pd.read_parquet(f / "kpis.parquet")
    store.write_parquet(f / "kpis.parquet", kp.iloc[:2])


def _no_summary(f):
    (f / "summary.json").unlink()


def _parts_left(f):
    (f / store.PARTS).mkdir()


def _linked_table(f):  # a link could point at another run's table, or anywhere
    (f / "kpis.parquet").rename(f.parent / "elsewhere.parquet")
    (f / "kpis.parquet").symlink_to(f.parent / "elsewhere.parquet")


def _fewer_tables(f):  # a listed subset would leave the others unchecked (and missing from the copy)
    edit_manifest(f, tables=["kpis"])
    (f / "timeseries.parquet").unlink()


def _bad_manifest(f):
    edit_manifest(f, seed=-1)


def _tampered_table(f):
    """A valid Parquet file with the same replications and columns, one number changed: every
    check but the SHA-256 passes."""
    v = pd.read_parquet(f / "voyages.parquet")
    col = next(c for c in v.columns if pd.api.types.is_float_dtype(v[c]))
    v.loc[0, col] = v.loc[0, col] + 1.0
    store.write_parquet(f / "voyages.parquet", v)


def _tampered_summary(f):
    s = json.loads((f / "summary.json").read_text())
    s["replications"] = 4
    (f / "summary.json").write_text(json.dumps(s))


def _no_digests(f):  # made before the digests were recorded
    m = json.loads((f / "manifest.json").read_text())
    m.pop("table_sha256")
    (f / "manifest.json").write_text(json.dumps(m))


@pytest.mark.parametrize("damage, asked, why", [
    (None, {}, None),
    (None, {"seed": 6}, "its seed is 5, not 6"),
    (None, {"replications": 4}, "its replications is 3, not 4"),
    (None, {"held_back": True}, "its held_back is False, not True"),
    (None, {"scenario_hash": "ab" * 32}, "its scenario_hash is"),
    (_incomplete, {}, "it is not complete"),
    (_other_code, {}, "made by other code"),
    (_old_run, {}, "does not record the routesim source"),
    (_edited_yaml, {}, "scenario.yaml was edited"),
    (_truncated, {}, "voyages.parquet is not a readable Parquet file"),
    (_kpis_missing_a_row, {}, "does not hold replications 0 to 2 once each"),
    (_no_summary, {}, "summary.json is missing"),
    (_parts_left, {}, "part files are left over"),
    (_linked_table, {}, "kpis.parquet is a link"),
    (_fewer_tables, {}, "its manifest lists the tables ['kpis']"),
    (_bad_manifest, {}, "its manifest does not validate"),
    (_tampered_table, {}, "voyages.parquet does not match the SHA-256 its manifest recorded"),
    (_tampered_summary, {}, "summary.json does not match the SHA-256"),
    (_no_digests, {}, "records no SHA-256 of its tables"),
])
def test_a_run_is_reused_only_when_every_check_holds(saved, tmp_path, damage, asked, why):
    """Each way a folder on disk can differ from the run asked for, or be damaged, names
    itself, and such a folder is never reused; the intact copy is reusable."""
    _, _, res = saved
    folder = tmp_path / "copy"
    shutil.copytree(res.path, folder)
    if damage is not None:
        damage(folder)
    want = {"scenario_hash": res.manifest["scenario_hash"], "seed": 5, "replications": 3, "held_back": False} | asked
    got = reuse.reuse_problem(folder, want["scenario_hash"], want["seed"], want["replications"], want["held_back"])
    if why is None:
        assert got is None
    else:
        assert got is not None and why in got


def test_the_manifest_records_the_sha256_of_every_table_and_the_summary(saved):
    """Worked by hand: the manifest's ``table_sha256`` holds, for each of the 13 tables and
    summary.json, the hex SHA-256 of that file's bytes (``sha256sum`` of the file)."""
    import hashlib

    _, _, res = saved
    recorded = store.load_manifest(res.path).table_sha256
    assert recorded is not None
    assert list(recorded) == [*(f"{t}.parquet" for t in store.TABLES), "summary.json"]
    for name, digest in recorded.items():
        assert digest == hashlib.sha256((res.path / name).read_bytes()).hexdigest(), name


def test_a_tampered_table_is_refused_with_its_reason_and_the_run_recomputed(saved, tmp_path, capsys):
    """A saved run whose voyages table was rewritten after the run (still valid Parquet, the
    same replications, one value changed) is not copied: standard error names the folder and
    the table whose SHA-256 no longer matches, and the base run is computed again, with the
    tables an untouched run has."""
    path, _, res = saved
    other = tmp_path / "results"
    (other / res.path.parent.name).mkdir(parents=True)
    shutil.copytree(res.path, other / res.path.parent.name / res.path.name)
    damaged = other / res.path.parent.name / res.path.name
    _tampered_table(damaged)
    scenario = runner.prepare(path).scenario
    got, found = runner.run_or_reuse(scenario, replications=3, seed=5, out=tmp_path / "base", results_root=other,
                                     executor="serial", progress=False)
    err = capsys.readouterr().err
    assert found is None
    assert (f"not reusing {damaged}: voyages.parquet does not match the SHA-256 its manifest recorded" in err
            and "computing the run again" in err)
    assert got.manifest.get("reused_from") is None
    same_tables(res, got)


def test_a_custom_model_is_never_reused(saved, tmp_path):
    from sim.model import simulate

    path, root, _ = saved
    scenario = runner.prepare(path).scenario
    res, found = runner.run_or_reuse(scenario, replications=3, seed=5, out=tmp_path / "m", results_root=root,
                                     executor="serial", progress=False, model=simulate)
    assert found is None and res.complete


@pytest.mark.slow
def test_attribution_reuses_only_a_held_back_run(saved, tmp_path, capsys):
    """Attribution's disrupted run has each disruption's flow held back: the saved plain run
    is not reused for it (its disruption table lacks those columns), a --held-back run is."""
    path, root, _ = saved
    first = attribute(path, replications=3, seed=5, executor="serial", out=tmp_path / "a", results_root=root,
                      progress=False)
    assert first.attrs["reused_from"] is None
    held = runner.run(path, replications=3, seed=5, executor="serial", results_root=root, held_back=True,
                      progress=False)
    second = attribute(path, replications=3, seed=5, executor="serial", out=tmp_path / "b", results_root=root,
                       progress=False)
    assert second.attrs["reused_from"] == held.path
    pd.testing.assert_frame_equal(first.drop(columns="run"), second.drop(columns="run"), check_exact=True)


def test_rerun_base_on_the_command_line_computes_the_base(saved, tmp_path, capsys):
    path, root, _ = saved
    code = main(["criticality", str(path), "-n", "3", "--seed", "5", "--facility", "wrep", "--executor", "serial",
                 "--results", str(root), "--out", str(tmp_path / "c"), "-q", "--rerun-base"])
    assert code == 0 and "reused" not in capsys.readouterr().err
    code = main(["criticality", str(path), "-n", "3", "--seed", "5", "--facility", "wrep", "--executor", "serial",
                 "--results", str(root), "--out", str(tmp_path / "d"), "-q"])
    assert code == 0 and "reused the complete run" in capsys.readouterr().err


def _other_draws(scenario, seed_seq, **kwargs):
    """A caller's own model: the built-in one on other random numbers than it is given."""
    import numpy as np

    from sim.model import simulate

    return simulate(scenario, np.random.SeedSequence([99, *seed_seq.spawn_key]), **kwargs)


def test_a_run_made_by_a_custom_model_is_never_reused(saved, tmp_path):
    """A complete run of the same scenario, seed and replications made by a caller's own
    ``model=`` (here drawing other random numbers) holds numbers the built-in model would not
    compute: it names itself as such and an analysis computes its base instead."""
    path, _, _ = saved
    root = tmp_path / "results"
    custom = runner.run(path, replications=3, seed=5, executor="serial", results_root=root, progress=False,
                        model=_other_draws)
    assert custom.manifest["versions"][reuse.SOURCE_KEY] == reuse.CUSTOM_MODEL
    why = reuse.reuse_problem(custom.path, custom.manifest["scenario_hash"], 5, 3, False)
    assert why is not None and "model=" in why
    assert reuse.find_reusable(runner.prepare(path).scenario, 5, 3, root=root) is None


def test_the_copy_takes_the_runs_own_files_only(saved, tmp_path):
    """A folder or a link left in a run folder (a shared results folder could hold a link
    to anywhere) is not copied with the run; the run's files are, and it opens complete."""
    _, _, res = saved
    src = tmp_path / "src"
    shutil.copytree(res.path, src)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not the run's")
    (src / "everything").symlink_to(outside, target_is_directory=True)
    (src / "note.txt").symlink_to(outside / "secret.txt")
    (src / "charts").mkdir()
    reuse.copy_run(src, tmp_path / "dst")
    names = {p.name for p in (tmp_path / "dst").iterdir()}
    assert not names & {"everything", "note.txt", "charts"}
    assert {f"{t}.parquet" for t in store.TABLES} | {"manifest.json", "scenario.yaml", "summary.json"} <= names
    same_tables(res, store.open_run(tmp_path / "dst"))
    # the copy's manifest is its own and says so: its own id, the run it came from by id
    copied = store.load_manifest(tmp_path / "dst")
    assert (copied.routesim_run, copied.reused_from) == ("dst", store.load_manifest(src).routesim_run)
    assert copied.reused_utc is not None and "/" not in copied.reused_from


def test_a_table_changed_after_the_check_is_not_copied_and_the_run_is_recomputed(saved, tmp_path, capsys,
                                                                                 monkeypatch):
    """The gap between the reuse check and the copy: a folder that passed every check has a
    table rewritten before it is linked (another user of a shared results folder, say).  The
    copy is checked against the digests the run recorded before its manifest is written, so
    it never becomes a complete run; standard error says why and the run is computed again."""
    path, _, res = saved
    other = tmp_path / "results"
    (other / res.path.parent.name).mkdir(parents=True)
    src = other / res.path.parent.name / res.path.name
    shutil.copytree(res.path, src)
    assert reuse.reuse_problem(src, res.manifest["scenario_hash"], 5, 3, False) is None
    _tampered_table(src)  # after the check, as find_reusable has already answered
    monkeypatch.setattr(runner, "find_reusable", lambda *a, **k: src)
    with pytest.raises(reuse.ReuseRefused, match=r"voyages\.parquet does not match"):
        reuse.copy_run(src, tmp_path / "copy")
    assert not (tmp_path / "copy" / "manifest.json").exists()
    scenario = runner.prepare(path).scenario
    got, found = runner.run_or_reuse(scenario, replications=3, seed=5, out=tmp_path / "base", results_root=other,
                                     executor="serial", progress=False)
    err = capsys.readouterr().err
    assert found is None and f"not reusing {src}: voyages.parquet does not match" in err
    assert got.manifest.get("reused_from") is None
    same_tables(res, got)
