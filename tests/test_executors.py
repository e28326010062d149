"""One executor for many runs (``sim.runner.shared``): an analysis's sub-runs share one
process pool or one Dask session, start it once, and get the same numbers as on an
executor of their own."""

from __future__ import annotations

import concurrent.futures as cf

import pandas as pd
import pytest

from sim import runner
from sim.runner import executors
from sim.results import store
from sim.scenario.loader import load_scenario
from tests.test_runner import SMALL as RUNNER_SMALL

SMALL = RUNNER_SMALL.replace("name: runner-test", "name: shared-pool", 1)  # the runner tests' corridor


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory):
    path = tmp_path_factory.mktemp("shared") / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    base = load_scenario(path)
    slower = runner.prepare(path, ["network.sources.sangachal.rate=80 kb/d"]).scenario
    return base, slower


def assert_same_tables(a: store.RunResult, b: store.RunResult) -> None:
    for t in store.TABLES:
        pd.testing.assert_frame_equal(a.table(t), b.table(t), check_exact=True, obj=t)


class CountingPool(cf.ProcessPoolExecutor):
    started = 0

    def __init__(self, *args, **kwargs):
        type(self).started += 1
        super().__init__(*args, **kwargs)


@pytest.mark.slow
def test_runs_in_a_shared_pool_start_one_pool_and_match_serial_runs(scenarios, tmp_path, monkeypatch):
    """Two runs of different scenarios inside ``shared("local")`` start one process pool
    between them (not one each), and each gives, table for table, the numbers of a serial
    run: a block carries its own scenario and seed, so sharing the workers moves no draw."""
    base, slower = scenarios
    serial = [runner.run(s, replications=4, seed=5, executor="serial", out=tmp_path / f"s{k}", progress=False)
              for k, s in enumerate((base, slower))]
    monkeypatch.setattr(executors.cf, "ProcessPoolExecutor", CountingPool)
    CountingPool.started = 0
    with runner.shared("local", workers=2) as ex:
        pooled = [runner.run(s, replications=4, seed=5, executor="local", workers=2, out=tmp_path / f"p{k}",
                             progress=False) for k, s in enumerate((base, slower))]
        assert ex.pool is not None  # still up for a third run
    assert CountingPool.started == 1
    assert ex.pool is None  # shut down when the block ended
    for a, b in zip(serial, pooled, strict=True):
        assert b.manifest["executor"] == "local" and b.manifest["workers"] == 2
        assert_same_tables(a, b)
    # the two scenarios really differ, so a pool that ran the wrong one would fail the test
    assert not serial[0].kpis["delivered_t"].equals(serial[1].kpis["delivered_t"])


def test_without_a_shared_block_each_run_starts_its_own_pool(scenarios, tmp_path, monkeypatch):
    base, _ = scenarios
    monkeypatch.setattr(executors.cf, "ProcessPoolExecutor", CountingPool)
    CountingPool.started = 0
    for k in range(2):
        runner.run(base, replications=2, seed=5, executor="local", workers=2, out=tmp_path / f"p{k}", progress=False)
    assert CountingPool.started == 2


@pytest.mark.slow
def test_criticality_runs_its_base_and_every_closure_on_one_pool(scenarios, tmp_path, monkeypatch):
    """Criticality closing two facilities makes three runs (base and two closures) on one
    pool, and its table is the serial one, exactly."""
    from sim.analysis.criticality import criticality

    base, _ = scenarios
    serial = criticality(base, facilities=["wrep", "odesa-brody"], replications=3, executor="serial",
                         out=tmp_path / "serial", progress=False, results_root=tmp_path / "none")
    monkeypatch.setattr(executors.cf, "ProcessPoolExecutor", CountingPool)
    CountingPool.started = 0
    pooled = criticality(base, facilities=["wrep", "odesa-brody"], replications=3, executor="local", workers=2,
                         out=tmp_path / "pooled", progress=False, results_root=tmp_path / "none")
    assert CountingPool.started == 1
    pd.testing.assert_frame_equal(serial.table, pooled.table, check_exact=True)


def test_an_exception_inside_the_block_shuts_the_shared_pool_down(scenarios, tmp_path):
    base, _ = scenarios
    with pytest.raises(RuntimeError, match="stop"), runner.shared("local", workers=2) as ex:
        runner.run(base, replications=2, seed=5, executor="local", out=tmp_path / "p", progress=False)
        assert ex.pool is not None
        raise RuntimeError("stop")
    assert ex.pool is None


def test_a_nested_shared_block_uses_the_outer_executor():
    with runner.shared("local", workers=2) as outer, runner.shared("local", workers=2) as inner:
        assert inner is outer
    with runner.shared("serial") as ex:  # serial runs need no pool: each runs in this process
        assert ex.pool is None and ex.session is None


@pytest.mark.slow
def test_runs_in_a_shared_dask_session_match_serial_runs(scenarios, tmp_path, monkeypatch):
    """Inside ``shared("dask")``, runs scatter their own scenario to one session's workers
    (here an in-process cluster) and match serial runs exactly."""
    distributed = pytest.importorskip("distributed")
    base, slower = scenarios
    serial = [runner.run(s, replications=3, seed=5, executor="serial", out=tmp_path / f"s{k}", progress=False)
              for k, s in enumerate((base, slower))]
    with distributed.LocalCluster(n_workers=2, processes=False, dashboard_address="127.0.0.1:0") as cluster, \
            distributed.Client(cluster) as client, runner.shared("dask", scheduler=client) as ex:
        sessions = []
        real = executors.DaskExecutor.__init__

        def spy(self, *args, **kwargs):
            real(self, *args, **kwargs)
            sessions.append(self.session)

        monkeypatch.setattr(executors.DaskExecutor, "__init__", spy)
        got = [runner.run(s, replications=3, seed=5, executor="dask", scheduler=client, out=tmp_path / f"d{k}",
                          progress=False) for k, s in enumerate((base, slower))]
        assert sessions == [ex.session, ex.session]
    for a, b in zip(serial, got, strict=True):
        assert_same_tables(a, b)


def failing_model(scenario, seed_seq):
    """The real model, except that a scenario whose well makes 80 kb/d raises (a bug)."""
    from sim.model import simulate

    if scenario.network.sources[0].rate_t_per_day < 12_000:  # 80 kb/d is 10.9 kt/d, 100 kb/d 13.6
        raise RuntimeError("boom")
    return simulate(scenario, seed_seq)


def test_run_all_gives_results_in_the_order_asked_and_stops_at_a_failure(scenarios, tmp_path):
    """Two runs in flight on one pool: results come back in the order given (whatever
    finished first) and equal serial runs; when one run fails, run_all raises its error,
    the shared pool is shut down, and the failed run is left incomplete (resumable)."""
    base, slower = scenarios
    serial = runner.run(base, replications=3, seed=5, executor="serial", out=tmp_path / "s", progress=False)
    with runner.shared("local", workers=2):
        got = runner.run_all([lambda k=k: runner.run(base, replications=3 + k, seed=5, executor="local",
                                                     out=tmp_path / f"r{k}", progress=False) for k in range(3)],
                             executor="local")
    assert [len(r.kpis) for r in got] == [3, 4, 5]
    assert_same_tables(serial, got[0])
    with pytest.raises(runner.ReplicationFailed, match="boom"), runner.shared("local", workers=2) as ex:
        runner.run_all([lambda s=s, k=k: runner.run(s, replications=3, seed=5, executor="local", model=failing_model,
                                                    out=tmp_path / f"f{k}", progress=False)
                        for k, s in enumerate((slower, base))], executor="local")
    assert ex.pool is None
    assert store.load_manifest(tmp_path / "f0").status == "incomplete"


def test_a_shared_pool_lets_only_at_once_runs_compute_and_frees_a_slot_after_the_last_block(scenarios):
    """Within ``computing_slots(1)``, a second run binding to the pool waits until the first
    run's view is closed (what the run loop does right after its last block came back,
    before it assembles its tables); once the executor is shut down a waiting run is refused
    instead of waiting for ever."""
    import threading
    import time

    base, _ = scenarios
    with runner.shared("local", workers=1) as ex, ex.computing_slots(1):
        first = ex.bind(base, 5, None, False)
        bound: list = []
        waiting = threading.Thread(target=lambda: bound.append(ex.bind(base, 5, None, False)))
        waiting.start()
        time.sleep(0.3)
        assert bound == []  # the only slot is the first run's
        first.close(wait=False)
        waiting.join(timeout=5)
        assert len(bound) == 1
        errors: list = []

        def refused() -> None:
            try:
                ex.bind(base, 5, None, False)
            except RuntimeError as e:
                errors.append(str(e))

        third = threading.Thread(target=refused)
        third.start()
        time.sleep(0.2)
        ex.close(abort=True)
        third.join(timeout=5)
        assert errors and "shut down" in errors[0]


def test_a_run_after_another_on_a_shared_pool_starts_with_full_size_blocks(scenarios, tmp_path, monkeypatch):
    """The first run on a shared pool times the model with single-replication blocks; the
    next run starts from the pool's latest time per replication, so its first block is
    already several replications (about 0.5 s of work, guided by what is left), and its
    tables are those of a run on a pool of its own (block sizes never change the numbers)."""
    from sim.runner import execution

    base, _ = scenarios
    sizes: dict[str, list[int]] = {}
    write = store.write_block

    def recorded(folder, start, stop, tables):
        sizes.setdefault(folder.name, []).append(stop - start)
        return write(folder, start, stop, tables)

    monkeypatch.setattr(execution.store, "write_block", recorded)
    alone = runner.run(base, replications=12, seed=5, executor="local", workers=2, out=tmp_path / "alone",
                       progress=False)
    with runner.shared("local", workers=2):
        runner.run(base, replications=12, seed=5, executor="local", out=tmp_path / "first", progress=False)
        second = runner.run(base, replications=12, seed=5, executor="local", out=tmp_path / "second",
                            progress=False)
    assert sizes["first"][:2] == [1, 1] and sizes["alone"][:2] == [1, 1]
    assert max(sizes["second"][:2]) > 1
    assert_same_tables(alone, second)


def test_a_run_waiting_on_an_aborted_shared_pool_stops_instead_of_hanging():
    """When one run of an analysis fails, run_all aborts the shared pool (its workers are
    terminated); a block another run had on a terminated worker may never be marked done.
    A run's wait for its blocks then raises once the shared executor is stopped, instead of
    polling forever (seen once as a hung suite under load); while the executor runs, an
    unfinished block is simply not done yet."""
    import concurrent.futures as cf

    from sim.runner.executors import _BoundPool

    never = cf.Future()  # a block whose worker was terminated: nobody will finish it
    stopped = [False]
    view = _BoundPool(None, 2, (None, 0, None, False), stopped=lambda: stopped[0])  # type: ignore[arg-type]
    assert view.wait_any({never}) == set()
    stopped[0] = True
    with pytest.raises(RuntimeError, match="shared executor was shut down"):
        view.wait_any({never})
