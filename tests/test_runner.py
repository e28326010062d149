"""The runner: same seed, same tables on every executor; interruption and resume; overrides; sweeps."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sim import runner
from sim.runner import execution, executors
from sim.results import store
from sim.cli.shell import main
from sim.errors import ScenarioError, UserError
from sim.model import simulate
from sim.recorder import Records
from sim.scenario.language import Scenario
from sim.scenario import overrides

REPO = Path(__file__).resolve().parent.parent

SMALL = """\
name: runner-test
description: A small corridor with random laycans and port storms, for runner tests.
start: 2021-01-01
horizon: 90d
seed: 7
replications: 3
barrels_per_tonne: 7.33
network:
  sources:
    - name: sangachal
      origin: azeri
      rate: 100 kb/d
      tank: {capacity: 200kt, initial: 50kt}
  terminals:
    - name: supsa
      tank: {capacity: 160kt, initial: 80kt}
      berths: {count: 1, load_rate: 40 kt/d, max_cargo: 140kt}
    - name: pivdennyi
      tank: {capacity: 120kt, initial: 40kt}
      berths: {count: 1, discharge_rate: 48 kt/d}
  depots:
    - name: brody
      tank: {capacity: 100kt, initial: 20kt}
  pipelines:
    - {name: wrep, from: sangachal, to: supsa, capacity: 100 kb/d, transit: 11d}
    - {name: odesa-brody, from: pivdennyi, to: brody, capacity: 9 Mt/y, linefill: 440kt}
    - {name: brody-mozyr, from: brody, to: mozyr, capacity: 17.5 Mt/y, transit: 3d}
  sea_legs:
    - {name: supsa-pivdennyi, from: supsa, to: pivdennyi, distance: 540 nm}
  refineries:
    - name: mozyr
      tank: {capacity: 500kt, initial: 100kt}
      demand: 25 kt/d
      min_stock: 50kt
shipping:
  programmes:
    - name: socar-belarus
      every: 7d
      first: 2021-01-03
      load_ports: [{terminal: supsa}]
      discharge_port: pivdennyi
      tanker: {cargo: 85kt, speed: 14 kn}
      laycan_spread: 2d
      demurrage_usd_per_day: 25000
disruptions:
  - name: pivdennyi-storm
    target: pivdennyi
    kind: closure
    stochastic: {per_year: 20, duration: {uniform: [12h, 3d]}}
"""

TABLES = ("kpis", "facility_kpis", "disruption_kpis", "timeseries", "voyages", "waits")


@pytest.fixture()
def small(tmp_path: Path) -> Path:
    p = tmp_path / "small.yaml"
    p.write_text(SMALL, encoding="utf-8")
    return p


def slow_model(scenario: Scenario, seed_seq: np.random.SeedSequence) -> Records:
    """The real model, slowed so that a test can interrupt a run part-way."""
    time.sleep(float(os.environ.get("ROUTESIM_TEST_DELAY_S", "0.25")))
    return simulate(scenario, seed_seq)


def gated_model(scenario: Scenario, seed_seq: np.random.SeedSequence) -> Records:
    """The real model, held until the file named by ROUTESIM_TEST_GATE exists (at most 2 min),
    so a test decides when a run may go on."""
    gate = Path(os.environ["ROUTESIM_TEST_GATE"])
    t0 = time.monotonic()
    while not gate.exists() and time.monotonic() - t0 < 120:
        time.sleep(0.02)
    return simulate(scenario, seed_seq)


CALLS: list[int] = []


def counting_model(scenario: Scenario, seed_seq: np.random.SeedSequence) -> Records:
    CALLS.append(int(seed_seq.spawn_key[0]))
    return simulate(scenario, seed_seq)


def failing_model(scenario: Scenario, seed_seq: np.random.SeedSequence, **options: Any) -> Records:
    """The real model (keyword options, such as the runner's ``windows=[]``, passed on),
    except that replication 3 hits a bug (a division by zero)."""
    if int(seed_seq.spawn_key[0]) == 3:
        return 1.0 / 0.0  # type: ignore[return-value]
    return simulate(scenario, seed_seq, **options)


def guarded_model(scenario: Scenario, seed_seq: np.random.SeedSequence) -> Records:
    """The real model, except that replication 1 trips a scenario limit (a UserError)."""
    if int(seed_seq.spawn_key[0]) == 1:
        raise UserError("went past 10 simulation events; raise 'limits: max_events'")
    return simulate(scenario, seed_seq)


def assert_same_tables(a: store.RunResult, b: store.RunResult) -> None:
    for t in TABLES:
        pd.testing.assert_frame_equal(a.table(t), b.table(t), check_exact=True, obj=t)


def test_serial_and_local_pool_give_identical_tables(small, tmp_path):
    a = runner.run(small, replications=5, seed=11, executor="serial", out=tmp_path / "a", progress=False)
    b = runner.run(small, replications=5, seed=11, executor="local", workers=2, out=tmp_path / "b", progress=False)
    assert a.complete and b.complete
    assert list(a.kpis["replication"]) == [0, 1, 2, 3, 4]
    assert_same_tables(a, b)
    # and the replications really differ (the scenario is random), so the test can fail
    assert a.kpis["wait_h_total"].nunique() > 1


def test_replication_depends_only_on_seed_and_index(small, tmp_path):
    a = runner.run(small, replications=4, seed=3, executor="serial", out=tmp_path / "a", progress=False)
    b = runner.run(small, replications=2, seed=3, executor="serial", out=tmp_path / "b", progress=False)
    c = runner.run(small, replications=2, seed=4, executor="serial", out=tmp_path / "c", progress=False)
    pd.testing.assert_frame_equal(a.kpis.iloc[:2].reset_index(drop=True), b.kpis)
    assert not a.kpis.iloc[:2].reset_index(drop=True).equals(c.kpis)


@pytest.mark.slow
def test_dask_gives_the_same_tables_as_serial(small, tmp_path):
    distributed = pytest.importorskip("distributed")
    a = runner.run(small, replications=4, seed=5, executor="serial", out=tmp_path / "a", progress=False)
    with distributed.LocalCluster(n_workers=2, processes=False, dashboard_address="127.0.0.1:0") as cluster, \
            distributed.Client(cluster) as client:
        b = runner.run(small, replications=4, seed=5, executor="dask", scheduler=client, out=tmp_path / "b",
                       progress=False)
    assert b.manifest["executor"] == "dask"
    assert_same_tables(a, b)


@pytest.mark.slow
def test_dask_local_cluster_with_worker_processes(small, tmp_path):
    pytest.importorskip("distributed")
    a = runner.run(small, replications=3, seed=5, executor="serial", out=tmp_path / "a", progress=False)
    b = runner.run(small, replications=3, seed=5, executor="dask", workers=2, out=tmp_path / "b", progress=False)
    assert_same_tables(a, b)


def test_run_folder_holds_manifest_scenario_tables_and_summary(small, tmp_path):
    res = runner.run(small, replications=2, seed=1, executor="serial", results_root=tmp_path / "results",
                     progress=False)
    assert res.path.parent == tmp_path / "results" / "runner-test"
    run_id = res.path.name
    stamp, short_hash = run_id.split("-")[:2]
    assert stamp.endswith("Z") and len(short_hash) == 8
    m = json.loads((res.path / "manifest.json").read_text())
    assert m["status"] == "complete" and m["replications_done"] == 2 and m["seed"] == 1
    assert m["scenario_hash"].startswith(short_hash)
    assert m["executor"] == "serial" and m["versions"]["numpy"]
    assert m["wall_time_s"] >= 0
    for t in TABLES:
        assert (res.path / f"{t}.parquet").exists()
    assert not (res.path / "parts").exists()
    kpis = pd.read_parquet(res.path / "kpis.parquet")
    for col in ("replication", "delivered_t", "demand_t", "demand_met_pct", "shortfall_t", "cut_run_days",
                "min_days_cover", "voyages"):
        assert col in kpis.columns
    summary = json.loads((res.path / "summary.json").read_text())
    row = next(r for r in summary["kpis"] if r["kpi"] == "demand_t")
    assert row["mean"] == pytest.approx(25_000 * 90)  # 25 kt/d for 90 days, met or not
    # the resolved scenario reloads to the same scenario
    assert store.scenario_hash(res.scenario) == m["scenario_hash"]


def test_open_run_reloads_the_same_tables(small, tmp_path):
    res = runner.run(small, replications=2, seed=1, executor="serial", out=tmp_path / "r", progress=False)
    again = store.open_run(tmp_path / "r")
    assert_same_tables(res, again)
    assert again.summary.loc["demand_t", "mean"] == pytest.approx(25_000 * 90)


def test_from_manifest_reproduces_a_run(small, tmp_path):
    a = runner.run(small, replications=3, seed=9, executor="serial", out=tmp_path / "a", progress=False,
                   overrides=["network.refineries.mozyr.demand=20 kt/d"])
    b = runner.from_manifest(tmp_path / "a", out=tmp_path / "b", progress=False)
    assert b.manifest["seed"] == 9 and b.manifest["replications"] == 3
    assert_same_tables(a, b)


def test_a_run_whose_scenario_was_edited_is_not_reproduced(small, tmp_path):
    runner.run(small, replications=1, executor="serial", out=tmp_path / "a", progress=False)
    f = tmp_path / "a" / "scenario.yaml"
    f.write_text(f.read_text().replace("demand: 25000.0 t/d", "demand: 26000.0 t/d"))
    with pytest.raises(UserError, match="does not match the scenario hash"):
        runner.from_manifest(tmp_path / "a", out=tmp_path / "b", progress=False)


def test_two_runs_started_together_get_separate_folders(small, tmp_path):
    s = runner.prepare(small).scenario
    first = store.new_run_dir(s, root=tmp_path)
    second = store.new_run_dir(s, root=tmp_path)
    assert first != second and first.exists() and second.exists()
    with pytest.raises(UserError, match="already"):
        store.new_run_dir(s, out=first)


def test_resume_finishes_without_redoing_finished_replications(small, tmp_path, monkeypatch):
    full = runner.run(small, replications=6, seed=2, executor="serial", out=tmp_path / "full", progress=False)
    # simulate an interruption: stop after the first block of 2 replications is on disk
    monkeypatch.setattr(execution, "FLUSH_EVERY_S", 0.0)
    original = execution.stream_blocks

    def stop_after_two(folder, ex, todo, manifest, bar, t0, wall, *rest):
        ex_submit = ex.submit

        def submit(reps):
            if reps.start >= 2 and len(store.finished_blocks(folder)) >= 1:
                raise KeyboardInterrupt
            return ex_submit(reps)

        ex.submit = submit
        return original(folder, ex, todo, manifest, bar, t0, wall, *rest)

    monkeypatch.setattr(execution, "stream_blocks", stop_after_two)
    with pytest.raises(runner.RunInterrupted) as info:
        runner.run(small, replications=6, seed=2, executor="serial", out=tmp_path / "cut", progress=False)
    assert info.value.done >= 1
    m = store.read_manifest(tmp_path / "cut")
    assert m["status"] == "incomplete" and not (tmp_path / "cut" / "kpis.parquet").exists()
    done_before = m["replications_done"]
    monkeypatch.setattr(execution, "stream_blocks", original)
    CALLS.clear()
    res = runner.resume(tmp_path / "cut", model=counting_model, progress=False)
    assert sorted(CALLS) == list(range(done_before, 6))  # only the unfinished ones ran
    assert res.complete
    assert_same_tables(full, res)


KILL_SCRIPT = textwrap.dedent("""
    import sys
    from sim import runner
    from sim.runner import execution
    from tests.test_runner import slow_model
    execution.FLUSH_EVERY_S = 0.0
    runner.run(sys.argv[1], replications=int(sys.argv[2]), seed=4, executor=sys.argv[3], workers=2,
               out=sys.argv[4], model=slow_model, progress=False)
""")


def _start(small: Path, n: int, executor: str, out: Path) -> subprocess.Popen:
    env = {**os.environ, "ROUTESIM_TEST_DELAY_S": "0.3", "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(small), str(n), executor, str(out)], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _wait_for_blocks(out: Path, k: int, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    t0 = time.monotonic()
    while len(store.finished_blocks(out)) < k:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout_s, "the run wrote no blocks"
        time.sleep(0.05)


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_result(small, tmp_path):
    reference = runner.run(small, replications=10, seed=4, executor="serial", out=tmp_path / "ref", progress=False)
    out = tmp_path / "killed"
    proc = _start(small, 10, "serial", out)
    _wait_for_blocks(out, 3, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    m = store.read_manifest(out)
    assert m["status"] == "incomplete"
    assert not (out / "kpis.parquet").exists() and not (out / "summary.json").exists()
    assert 3 <= sum(len(b.replications) for b in store.finished_blocks(out)) < 10
    res = runner.resume(out, executor="serial", progress=False)  # the manifest names the slow model
    assert res.complete and res.manifest["replications_done"] == 10
    assert_same_tables(reference, res)


@pytest.mark.slow
def test_ctrl_c_stops_a_pool_run_promptly_and_marks_it_incomplete(small, tmp_path):
    out = tmp_path / "interrupted"
    proc = _start(small, 40, "local", out)
    _wait_for_blocks(out, 2, proc)
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # like Ctrl-C: the whole process group
    _, err = proc.communicate(timeout=20)
    assert time.monotonic() - t0 < 10
    assert b"routesim run --resume" in err
    m = store.read_manifest(out)
    assert m["status"] == "incomplete"
    assert m["replications_done"] == sum(len(b.replications) for b in store.finished_blocks(out)) < 40


def test_progress_bar_only_on_a_terminal_or_when_asked(capsys):
    assert execution.progress_bar(10, 0, None, "x") is None  # pytest's stderr is not a terminal
    assert execution.progress_bar(10, 0, False, "x") is None
    bar = execution.progress_bar(10, 3, True, "x")
    bar.update(2)
    bar.close()
    assert "5/10" in capsys.readouterr().err


# --------------------------------------------------------------------------- overrides


def test_override_addresses_named_list_items_and_indexes():
    tree = {"network": {"pipelines": [{"name": "odesa-brody", "capacity": "9 Mt/y"}, {"name": "b", "capacity": 1}]},
            "seed": 1}
    assert overrides.apply_override(tree, "network.pipelines.odesa-brody.capacity", "7Mt/y") == \
        ("network", "pipelines", 0, "capacity")
    assert overrides.apply_override(tree, "network.pipelines.-1.capacity", "2 Mt/y") == \
        ("network", "pipelines", 1, "capacity")
    overrides.apply_override(tree, "replications", 50)  # a field left at its default
    assert tree["network"]["pipelines"][0]["capacity"] == "7Mt/y"
    assert tree["network"]["pipelines"][1]["capacity"] == "2 Mt/y"
    assert tree["replications"] == 50


def test_override_errors_name_the_path_and_suggest():
    tree = {"network": {"pipelines": [{"name": "odesa-brody", "capacity": "9 Mt/y"}]}}
    with pytest.raises(UserError,
                       match=r"network.pipelines has no item named 'odesa-brdy'.*did you mean 'odesa-brody'"):
        overrides.apply_override(tree, "network.pipelines.odesa-brdy.capacity", "7Mt/y")
    with pytest.raises(UserError, match=r"has no 'netwrk'.*did you mean 'network'"):
        overrides.apply_override(tree, "netwrk.pipelines.x", 1)
    with pytest.raises(UserError, match="PATH=VALUE"):
        overrides.parse_override("shipping.tankers")


def test_override_values_are_read_as_yaml():
    assert overrides.parse_override("a.b=4") == ("a.b", 4)
    assert overrides.parse_override("a.b=7Mt/y") == ("a.b", "7Mt/y")
    assert overrides.parse_override("a=[x, y]") == ("a", ["x", "y"])
    assert overrides.split_values("20d,30d,[a, b]") == ["20d", "30d", ["a", "b"]]
    assert overrides.parse_override("a=x: [")[1] == "x: ["


def test_an_override_value_is_bounded_as_a_scenario_file_is():
    """A --set value nested 3,000 levels deep made PyYAML recurse until Python's stack gave
    out (an internal error); one with an alias can expand into millions of values.  Both are
    refused with what to do, as a scenario file's are; 64 levels still read."""
    with pytest.raises(UserError, match="nested more than 64 levels deep"):
        overrides.parse_override("seed=" + "[" * 3000 + "1" + "]" * 3000)
    with pytest.raises(UserError, match=r"aliases \(\*name\) are not allowed"):
        overrides.parse_override("a=[&x 1, *x]")
    assert overrides.parse_override("a=" + "[" * 64 + "1" + "]" * 64)[1] is not None


def test_override_changes_the_run_and_bad_values_name_the_set(small):
    p = runner.prepare(small, ["network.refineries.mozyr.demand=20 kt/d"])
    assert p.scenario.network.refineries[0].demand_t_per_day == 20_000
    with pytest.raises(ScenarioError) as info:
        runner.prepare(small, ["network.refineries.mozyr.demand=20 kt/dy", "network.pipelines.wrep.capacity=1 kt/d"])
    assert len(info.value.problems) == 1
    assert "--set network.refineries.mozyr.demand" in str(info.value)
    assert "--set network.pipelines.wrep" not in str(info.value)


def test_a_scenario_the_model_refuses_creates_no_run_folder(small, tmp_path):
    with pytest.raises(ScenarioError, match="max_events"):
        runner.run(small, overrides=["limits={max_events: 1000}", "horizon=100y"], results_root=tmp_path,
                   executor="serial", progress=False)
    assert not (tmp_path / "runner-test").exists()


def test_sweep_runs_each_point_and_tabulates_kpis_by_parameter(small, tmp_path):
    res = runner.sweep(small, {"network.refineries.mozyr.demand": ["20 kt/d", "30 kt/d"]}, replications=2,
                       seed=1, executor="serial", out=tmp_path / "sw", progress=False)
    t = pd.read_parquet(tmp_path / "sw" / "sweep.parquet")
    assert len(t) == 4 and list(t["point"]) == [0, 0, 1, 1]
    assert list(t["network.refineries.mozyr.demand"]) == ["20 kt/d", "20 kt/d", "30 kt/d", "30 kt/d"]
    assert list(t["demand_t"]) == pytest.approx([20_000 * 90] * 2 + [30_000 * 90] * 2)
    assert (tmp_path / "sw" / "point-001" / "kpis.parquet").exists()
    assert len(res.points) == 2


# --------------------------------------------------------------------------- command line


def test_cli_run_prints_where_results_went_and_kpis(small, tmp_path, capsys):
    code = main(["run", str(small), "-n", "2", "--seed", "3", "--executor", "serial", "--out", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert code == 0
    assert f"results: {tmp_path / 'r'}" in out
    assert "demand met (%)" in out and "shortfall (kt)" in out


def test_cli_run_bad_input_exits_2_without_traceback(small, tmp_path, capsys):
    assert main(["run", str(small), "--set", "network.pipelines.odesa-brdy.capacity=7Mt/y"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'odesa-brody'" in err and "Traceback" not in err
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    assert main(["run"]) == 2
    assert main(["run", "--resume", str(tmp_path / "nowhere")]) == 2
    assert "no such run folder" in capsys.readouterr().err


_CONTENDER = """
import os, sys, time
from pathlib import Path
from sim.results import store
from sim.errors import UserError
folder, log, start = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
Path(sys.argv[4]).touch()  # ready
while not start.exists():
    time.sleep(0.001)
stop = time.monotonic() + 2.0
held_count = 0
while time.monotonic() < stop:
    try:
        held = store.lock_run(folder)
    except UserError as e:
        assert "is in use by" in str(e), e
        continue
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, f"+{os.getpid()}\\n".encode())
    time.sleep(0.002)
    os.write(fd, f"-{os.getpid()}\\n".encode())
    os.close(fd)
    held.release()
    held_count += 1
print(held_count)
"""


@pytest.mark.slow
def test_the_run_lock_is_held_by_exactly_one_of_many_contending_processes(tmp_path):
    """Eight processes try to take the lock of one folder as fast as they can for two
    seconds.  Each writes '+pid' when it gets the lock and '-pid' before it lets go, to one
    append-only log; with a lock held by at most one process at a time the log alternates
    +a -a +b -b ... and never shows +a +b.  (The old pid-file lock let two in, 140 of 400
    times.)  Every refusal is a UserError 'in use by', never an OSError: each contender
    exits 0, and the acquisitions they count add up to the log's pairs."""
    folder = tmp_path / "run"
    folder.mkdir()
    log, start = tmp_path / "log", tmp_path / "go"
    ready = [tmp_path / f"ready-{k}" for k in range(8)]
    procs = [subprocess.Popen([sys.executable, "-c", _CONTENDER, str(folder), str(log), str(start), str(r)],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in ready]
    t0 = time.monotonic()
    while not all(r.exists() for r in ready):
        assert all(p.poll() is None for p in procs) and time.monotonic() - t0 < 120, "a contender did not start"
        time.sleep(0.01)
    start.touch()
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [err for _, err in outs]
    lines = log.read_text().split()
    assert len(lines) >= 20 and len(lines) % 2 == 0  # it was taken many times over
    for enter, leave in zip(lines[0::2], lines[1::2], strict=False):
        assert enter.startswith("+") and leave == "-" + enter[1:], "two processes held the lock at once"
    assert sum(int(out) for out, _ in outs) == len(lines) // 2
    assert len({ln[1:] for ln in lines}) >= 2  # more than one process won it over the run


def test_a_double_resume_gives_the_loser_a_clean_error_and_the_holder_finishes(small, tmp_path):
    """Process A resumes a run with a model held at a gate; while it holds the lock,
    'routesim run --resume' of the same folder exits 2 with one line naming A's pid and no
    traceback, and leaves the folder alone; the gate opens and A finishes the run (exit 0,
    complete)."""
    runner.run(small, replications=3, executor="serial", out=tmp_path / "r", progress=False)
    m = store.read_manifest(tmp_path / "r")
    store.write_manifest(tmp_path / "r", {**m, "status": "incomplete"})
    code = ("import sys; from sim import runner; from tests.test_runner import gated_model; "
            "runner.resume(sys.argv[1], executor='serial', model=gated_model, progress=False)")
    gate = tmp_path / "gate"
    a = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "r")], cwd=REPO,
                         env={**os.environ, "ROUTESIM_TEST_GATE": str(gate)}, stderr=subprocess.PIPE, text=True)
    try:
        pid_file = tmp_path / "r" / store.LOCK_PID
        t0 = time.monotonic()
        while not (pid_file.exists() and pid_file.read_text().strip() == str(a.pid)):
            assert a.poll() is None and time.monotonic() - t0 < 60, "the first resume never took the lock"
            time.sleep(0.02)
        b = subprocess.run([sys.executable, "-m", "sim", "run", "--resume", str(tmp_path / "r"), "-q"],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
        assert b.returncode == 2, b.stderr
        assert f"is in use by pid {a.pid}" in b.stderr and "Traceback" not in b.stderr
        assert len(b.stderr.strip().splitlines()) == 1
        assert store.read_manifest(tmp_path / "r")["status"] == "incomplete"  # the loser changed nothing
        gate.touch()
        assert a.wait(timeout=120) == 0, a.stderr.read() if a.stderr else ""
    finally:
        if a.poll() is None:
            a.kill()
            a.wait()
    assert store.open_run(tmp_path / "r").complete
    assert not (tmp_path / "r" / store.LOCK_PID).exists()


def test_a_lock_left_by_a_killed_process_is_free(small, tmp_path):
    """The lock is the kernel's: a process killed with -9 while holding it leaves nothing
    that stops the next resume (no stale-pid guessing)."""
    runner.run(small, replications=1, executor="serial", out=tmp_path / "r", progress=False)
    m = store.read_manifest(tmp_path / "r")
    store.write_manifest(tmp_path / "r", {**m, "status": "incomplete"})
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time; from pathlib import Path; from sim.results import store; "
                               "held = store.lock_run(Path(sys.argv[1])); print('held', flush=True); time.sleep(60)",
                               str(tmp_path / "r")], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match=f"in use by pid {holder.pid}"):
            runner.resume(tmp_path / "r", progress=False)
    finally:
        holder.kill()
        holder.wait()
    assert runner.resume(tmp_path / "r", executor="serial", progress=False).complete


def test_cli_resume_of_a_complete_run_is_a_no_op(small, tmp_path, capsys):
    assert main(["run", str(small), "-n", "1", "--executor", "serial", "--out", str(tmp_path / "r"), "-q"]) == 0
    before = (tmp_path / "r" / "kpis.parquet").stat().st_mtime_ns
    assert main(["run", "--resume", str(tmp_path / "r"), "-q"]) == 0
    assert (tmp_path / "r" / "kpis.parquet").stat().st_mtime_ns == before


def test_block_sizes_follow_the_measured_time_per_replication(monkeypatch):
    pool = type("Ex", (), {"name": "local", "workers": 2})()
    serial = type("Ex", (), {"name": "serial", "workers": 1})()
    assert execution.block_size(None, 200, pool) == 1          # not timed yet
    assert execution.block_size(0.02, 200, pool) == 25         # 0.5 s of 20 ms replications
    assert execution.block_size(0.01, 30, pool) == 15          # each worker's share of the last 30
    assert execution.block_size(0.01, 6, pool) == 5            # but at least 50 ms of work
    assert execution.block_size(0.2, 6, pool) == 2             # 0.5 s of 200 ms replications
    assert execution.block_size(0.01, 200, serial) == 32       # 5 s of work, capped at MAX_BLOCK
    monkeypatch.setattr(execution, "FLUSH_EVERY_S", 0.0)
    assert execution.block_size(0.01, 200, serial) == 1        # write after every replication
    assert execution.block_size(0.01, 200, pool) == 1          # also on a pool


@pytest.mark.parametrize("executor, workers", [("serial", None), ("local", 2)])
def test_a_bug_in_one_replication_stops_the_run_and_keeps_every_replication_that_finished(
        small, tmp_path, executor, workers):
    """Six replications; replication 3 raises ZeroDivisionError.  The run stops with an
    error naming replication 3, the run seed 7 and the scenario hash; the folder keeps
    replications 0, 1 and 2 (serial: blocks run in order and stop at 3; the pool's first
    blocks are single replications, so 0-2 and maybe 4-5, already running, finish too) and
    its manifest says incomplete, with the failure.  Every kept replication equals the
    same replication of a clean run."""
    out = tmp_path / f"fail-{executor}"
    with pytest.raises(runner.ReplicationFailed) as info:
        runner.run(small, replications=6, executor=executor, workers=workers, out=out, model=failing_model,
                   progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    message = str(info.value)
    assert "replication 3 failed with ZeroDivisionError: float division by zero" in message
    assert "run seed 7" in message and manifest["scenario_hash"] in message and str(out) in message
    assert info.value.replication == 3 and "ZeroDivisionError" in info.value.traceback
    assert manifest["status"] == "incomplete"
    assert manifest["failure"] == {"replication": 3, "error": "ZeroDivisionError: float division by zero"}
    kept = sorted(i for b in store.finished_blocks(out) for i in b.replications)
    assert {0, 1, 2} <= set(kept) and 3 not in kept
    assert manifest["replications_done"] == len(kept)
    partial = store.open_run(out)
    assert partial.status == "incomplete"
    assert sorted(partial.kpis["replication"]) == kept
    clean = runner.run(small, replications=6, executor="serial", out=tmp_path / f"clean-{executor}", progress=False)
    want = clean.kpis[clean.kpis["replication"].isin(kept)].reset_index(drop=True)
    pd.testing.assert_frame_equal(partial.kpis.reset_index(drop=True), want)


def test_the_cli_reports_a_failed_replication_in_one_line_with_exit_1(small, tmp_path, capsys, monkeypatch):
    """The same bug through the CLI: one 'internal error' line naming replication 3 and the
    saved replications, exit status 1 (a bug, not bad input), no traceback."""
    monkeypatch.setattr(executors, "simulate", failing_model)
    monkeypatch.setattr(runner, "preflight", lambda scenario, seed: None)
    out = tmp_path / "cli-fail"
    code = main(["run", str(small), "--replications", "5", "--executor", "serial", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "internal error: ReplicationFailed: replication 3 failed" in err and "3 of 5 replications saved" in err


def test_a_scenario_limit_hit_in_one_replication_is_a_user_error_and_keeps_what_finished(small, tmp_path):
    """Replication 1 trips the event guard (the scenario's fault, not a bug): a UserError
    (exit 2) naming replication 1 and the limit; replication 0 is saved, the run incomplete."""
    out = tmp_path / "guard"
    with pytest.raises(UserError, match=r"replication 1 \(run seed 7\): went past 10 simulation events.*"
                                        r"1 of 3 replications saved"):
        runner.run(small, replications=3, executor="serial", out=out, model=guarded_model, progress=False)
    assert store.read_manifest(out)["status"] == "incomplete"
    assert [list(b.replications) for b in store.finished_blocks(out)] == [[0]]


@pytest.mark.parametrize("cores, asked, n, used, line", [
    (8, 1000, 2, 2, "routesim: --workers 1000 capped at 2 (2 replications to run)"),
    (2, 1000, 50, 2, "routesim: --workers 1000 capped at 2 (2 cores here)"),
    (8, 3, 50, 3, None),
])
def test_workers_are_capped_at_what_is_useful_and_the_cap_is_said(small, tmp_path, capsys, monkeypatch,
                                                                  cores, asked, n, used, line):
    """--workers 1000 -n 2 started about 1,000 processes (2.9 GB).  A block holds at least
    one replication, so more workers than replications to run, or than cores, only idle:
    on 8 cores, 2 replications use 2 workers; on 2 cores, 50 use 2; 3 asked of 8 stay 3.
    The cap is one line on stderr; no line when nothing is capped."""
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert runner.useful_workers("local", asked, n) == used
    assert capsys.readouterr().err.splitlines() == ([line] if line else [])
    assert runner.useful_workers("serial", asked, n) == asked  # one process whatever is asked
    assert runner.useful_workers("local", None, n) == min(cores, n)


def test_a_capped_run_records_the_workers_it_used(small, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    code = main(["run", str(small), "-n", "2", "--workers", "1000", "--out", str(tmp_path / "r"), "-q"])
    assert code == 0
    assert capsys.readouterr().err.splitlines() == ["routesim: --workers 1000 capped at 2 (2 replications to run)"]
    assert json.loads((tmp_path / "r" / "manifest.json").read_text())["workers"] == 2
