"""Monte Carlo runs of a scenario: replications on an executor, streamed to the results store.

Replication ``i`` of a run with seed ``S`` simulates with ``sim.rng.replication_seed(S, i)``
and nothing else random, so its numbers depend only on (scenario, S, i): the same with the
``serial`` executor, a ``local`` process pool of any size, or ``dask`` on a cluster.

Streaming: work goes to the executor in blocks of consecutive replications; a worker
simulates a block, reduces each replication to its tables (:func:`sim.results.metrics.replication_columns`)
and joins them into one Arrow table per table name, and only those travel back, once per
block.  Blocks are sized from the measured time per replication (about
:data:`BLOCK_TARGET_S` of work, at most :data:`FLUSH_EVERY_S`, smaller towards the end so
every worker stays busy to the last one), so the parent process only writes each finished
block to the store as it arrives.  At most a bounded window of blocks is in flight, so memory
does not grow with the number of replications and an interrupted run loses at most the
blocks in flight.  The final tables are assembled block by block in replication order, so
they are identical whatever the executor, the number of workers, the block sizes or the
order in which blocks finished.

``--set path.to.value=v`` overrides apply to the merged scenario mapping before validation;
items of named lists are addressed by name (``network.pipelines.odesa_brody.capacity=7Mt/y``)
or by index.  :func:`sweep` runs one run per point of a grid of overrides.

Flow held back (``held_back=True``, ``routesim run --held-back``): each replication is
paired in the worker with a replication without each disruption, same seed, cut at the
end of that disruption's last activation (:func:`sim.model.counterfactual.held_back`); the figures
go to ``disruption_kpis`` (``held_back_t`` ...).  Off by default: it costs up to one
shortened replication per disruption, and a run without it publishes no held-back figure.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml

from sim.results import store
from sim.errors import ScenarioError, UserError
from sim.results.metrics import replication_columns
from sim.recorder import Records
from sim.rng import replication_seed
from sim.scenario.language import Scenario
from sim.scenario.overrides import apply_override, blame_override, parse_override

EXECUTORS = ("local", "serial", "dask")
FLUSH_EVERY_S = 5.0    # a block holds at most this many seconds of work (0: one replication)
BLOCK_TARGET_S = 0.5   # work per block on a pool: IPC and writes amortised, still fine-grained
BLOCK_MIN_S = 0.05     # ... and at least this much, so the last blocks are not mostly overhead
LOOPBACK = "127.0.0.1"  # where the local Dask cluster listens
MAX_BLOCK = 32         # replications per block at most: bounds the memory a block takes in a worker

Model = Callable[[Scenario, np.random.SeedSequence], Records]


class ReplicationFailed(RuntimeError):
    """An internal error (a bug) in one replication stopped the run: the message names the
    replication, its seed and the scenario hash; every replication that finished is saved
    in ``path`` and the run is left ``incomplete``.  ``traceback`` is the failing
    replication's traceback (text, from the worker)."""

    def __init__(self, path: Path, failure: "Failure", seed: int, scenario_hash: str, done: int, total: int):
        self.path, self.replication, self.seed, self.scenario_hash = path, failure.replication, seed, scenario_hash
        self.done, self.total, self.traceback = done, total, failure.traceback
        super().__init__(
            f"replication {failure.replication} failed with {failure.error} (run seed {seed}, scenario hash "
            f"{scenario_hash}); the run stopped with {done} of {total} replications saved in {path}, marked "
            f"incomplete (after a fix, finish it with: routesim run --resume {path})")


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a run; finished replications are saved in ``path``."""

    def __init__(self, path: Path, done: int, total: int):
        self.path, self.done, self.total = path, done, total
        super().__init__(f"interrupted: {done} of {total} replications saved in {path}; "
                         f"finish with: routesim run --resume {path}")


# --------------------------------------------------------------------------- overrides




@dataclass(frozen=True)
class Prepared:
    """A scenario ready to run: validated, with the mapping it was validated from."""

    scenario: Scenario
    source: str | None
    overrides: tuple[str, ...]
    tree: Any = None   # the mapping it was validated from, with file positions (None: a Scenario object)
    shown: str = ""    # the file name to show in problems
    applied: tuple = ()  # (field path, --set path, value) of each override


def check(prep: Prepared) -> None:
    """Refuse what the model would refuse (:func:`sim.scenario.checks.problems`: its checks,
    its work and memory guards) before any run folder exists.  A scenario read from a file
    (or changed by ``--set``) was checked by the loader already, at its lines and naming the
    ``--set`` that caused a problem; a :class:`Scenario` made in code is checked here."""
    if prep.tree is None:
        from sim.scenario import checks

        problems = checks.scenario_problems(prep.scenario)
        if problems:
            raise ScenarioError(problems)


def prepare(scenario_or_path: Scenario | str | os.PathLike[str], overrides: Sequence[str] = ()) -> Prepared:
    """Load (if a path) and validate a scenario with ``--set`` overrides applied."""
    from sim.scenario import loader

    overrides = tuple(overrides)
    pairs = [parse_override(o) for o in overrides]
    if isinstance(scenario_or_path, Scenario):
        if not pairs:
            return Prepared(scenario_or_path, None, ())
        tree: Any = store.scenario_data(scenario_or_path)
        shown = f"<scenario {scenario_or_path.name}>"
        source = None
    else:
        path = Path(scenario_or_path)
        if not path.exists():
            raise UserError(f"{path}: no such scenario file")
        tree = loader.load_tree(path)
        shown = str(path)
        source = str(path)
    if not pairs:
        return Prepared(loader.validate_tree(tree, shown), source, (), tree, shown)
    applied = [(apply_override(tree, p, v), p, v) for p, v in pairs]
    try:
        scenario = loader.validate_tree(tree, shown)
    except ScenarioError as e:
        raise ScenarioError([blame_override(p, applied) for p in e.problems]) from None
    return Prepared(scenario, source, overrides, tree, shown, tuple(applied))


# --------------------------------------------------------------------------- one replication


def _default_model() -> Model:
    try:
        from sim.model import simulate
    except ImportError as e:
        raise UserError(f"the route model (sim.model.simulate) cannot be imported: {e}") from None
    return simulate


def preflight(scenario: Scenario, seed: int) -> None:
    """Let the model refuse a scenario (its own checks and event guard) before any run
    folder exists: builds replication 0 without running it."""
    import simpy

    from sim.model import build

    build(simpy.Environment(), scenario, replication_seed(seed, 0))


@dataclass(frozen=True)
class Failure:
    """Why replication ``replication`` raised: ``error`` is ``"Type: first line"``,
    ``user`` whether it was a :class:`UserError` (the scenario's fault, e.g. the event
    guard) rather than a bug, ``traceback`` the worker's traceback text."""

    replication: int
    error: str
    user: bool
    traceback: str


@dataclass(frozen=True)
class BlockResult:
    """The tables of replications ``reps`` (consecutive), each encoded as the bytes of its
    part file (:func:`sim.results.store.encode_part`), and the seconds the worker spent on them.
    When a replication raised, ``failed`` says which and why, and ``reps`` holds only the
    replications of the block that finished before it (possibly none)."""

    reps: range
    tables: dict[str, pa.Buffer]
    seconds: float
    failed: Failure | None = None


def replicate_block(scenario: Scenario, seed: int, reps: range, model: Model | None = None,
                    held_back: bool = False) -> BlockResult:
    """Simulate consecutive replications ``reps`` and reduce them to one Arrow table per
    table name (rows in replication order): built in the worker from numpy columns, with
    one conversion per column for the whole block, so a block travels back as a few large
    buffers and the parent only has to write them.  A replication that raises ends the
    block: the replications before it are returned with the failure, not lost."""
    import traceback

    t0 = time.perf_counter()
    simulate = model or _default_model()
    columns: dict[str, list[dict[str, np.ndarray]]] = {}
    failed = None
    finished = reps
    for i in reps:
        seq = replication_seed(seed, i)
        try:
            records = simulate(scenario, seq)
            pairs = None
            if held_back:
                from sim.model.counterfactual import held_back as paired_held_back

                pairs = paired_held_back(scenario, seq, records, simulate)
            tables_i = replication_columns(records, scenario, i, held_back=pairs)
        except Exception as e:  # noqa: BLE001 - reported to the parent with the replication index
            first = str(e).splitlines()[0] if str(e) else ""
            failed = Failure(i, f"{type(e).__name__}: {first}"[:500], isinstance(e, UserError),
                             traceback.format_exc())
            finished = range(reps.start, i)
            break
        for name, cols in tables_i.items():
            columns.setdefault(name, []).append(cols)
    tables = {name: store.encode_part(store.block_table([store.join_columns(parts)]))
              for name, parts in columns.items()}
    return BlockResult(finished, tables, time.perf_counter() - t0, failed)


_WORKER: dict[str, Any] = {}


def _init_worker(scenario: Scenario, seed: int, model: Model | None, held_back: bool = False) -> None:
    # Ctrl-C goes to the whole process group; only the parent decides what to do with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER.update(scenario=scenario, seed=seed, model=model, held_back=held_back)


def _replicate_in_worker(reps: range) -> BlockResult:
    return replicate_block(_WORKER["scenario"], _WORKER["seed"], reps, _WORKER["model"], _WORKER["held_back"])


# --------------------------------------------------------------------------- executors


class _Serial:
    name = "serial"

    def __init__(self, scenario: Scenario, seed: int, model: Model | None, held_back: bool = False):
        self.args = (scenario, seed, model, held_back)
        self.workers = 1

    def submit(self, reps: range) -> Any:
        f: cf.Future = cf.Future()
        try:
            f.set_result(replicate_block(*self.args[:2], reps, *self.args[2:]))
        except BaseException as e:  # noqa: BLE001 - handed to the caller via the future
            if isinstance(e, KeyboardInterrupt):
                raise
            f.set_exception(e)
        return f

    def wait_any(self, futures: set) -> set:
        return set(futures)

    @staticmethod
    def cancel(f: Any) -> bool:
        return f.cancel()

    @staticmethod
    def result(f: Any) -> BlockResult:
        return f.result()

    def close(self, abort: bool = False, wait: bool = True) -> None:
        pass

    def join(self) -> None:
        pass


class _Pool:
    name = "local"

    def __init__(self, scenario: Scenario, seed: int, model: Model | None, workers: int, held_back: bool = False):
        self.workers = workers
        self.pool = cf.ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                                           initargs=(scenario, seed, model, held_back))

    def submit(self, reps: range) -> Any:
        return self.pool.submit(_replicate_in_worker, reps)

    def wait_any(self, futures: set) -> set:
        done, _ = cf.wait(futures, timeout=1.0, return_when=cf.FIRST_COMPLETED)
        return done

    @staticmethod
    def cancel(f: Any) -> bool:
        """Drop a block not yet started (True); one already running is left to finish."""
        return f.cancel()

    @staticmethod
    def result(f: Any) -> BlockResult:
        return f.result()

    def close(self, abort: bool = False, wait: bool = True) -> None:
        if abort:
            # stop promptly: running replications are lost anyway and will be redone on resume
            for p in list(getattr(self.pool, "_processes", {}).values()):
                try:
                    p.terminate()
                except OSError:
                    pass
            self.pool.shutdown(wait=False, cancel_futures=True)
        else:
            # wait=False: the workers exit while the parent assembles; join() waits for them
            self.pool.shutdown(wait=wait)

    def join(self) -> None:
        self.pool.shutdown(wait=True)


class _Dask:
    name = "dask"

    def __init__(self, scenario: Scenario, seed: int, model: Model | None, workers: int | None, scheduler: Any,
                 held_back: bool = False):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise UserError("the dask executor needs dask.distributed: pip install 'routesim[dask]'") from None
        self.cluster = None
        self.own_client = True
        if scheduler is not None and not isinstance(scheduler, str):
            self.client = scheduler  # an existing distributed.Client
            self.own_client = False
        elif scheduler:
            try:
                self.client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError) as e:
                raise UserError(f"cannot reach the dask scheduler at {scheduler}: {e}") from None
        else:
            # a private cluster for this run: scheduler, workers, nannies and dashboard listen on
            # the loopback interface only (a cluster others may reach is one the user starts
            # and passes with --scheduler)
            self.cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                                        processes=True, host=LOOPBACK, dashboard_address=f"{LOOPBACK}:0",
                                        worker_dashboard_address=None, silence_logs=40)
            self.client = Client(self.cluster)
        info = self.client.scheduler_info() if hasattr(self.client, "scheduler_info") else {}
        self.workers = workers or max(1, len(info.get("workers", {})) or 1)
        self.args = (self.client.scatter(scenario, broadcast=True), seed, model, held_back)

    def submit(self, reps: range) -> Any:
        scenario, seed, model, held_back = self.args
        return self.client.submit(replicate_block, scenario, seed, reps, model, held_back, pure=False)

    def wait_any(self, futures: set) -> set:
        from distributed import wait

        try:
            done, _ = wait(list(futures), timeout=1.0, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return set()
        return set(done)

    @staticmethod
    def cancel(f: Any) -> bool:
        return False  # blocks in flight on the cluster are bounded: let them finish and keep them

    @staticmethod
    def result(f: Any) -> BlockResult:
        out = f.result()
        f.release()
        return out

    def join(self) -> None:
        pass

    def close(self, abort: bool = False, wait: bool = True) -> None:
        if self.own_client:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _executor(name: str, scenario: Scenario, seed: int, model: Model | None, workers: int | None,
              scheduler: Any, held_back: bool = False) -> Any:
    if name == "serial":
        return _Serial(scenario, seed, model, held_back)
    if name == "local":
        return _Pool(scenario, seed, model, workers or os.cpu_count() or 1, held_back)
    if name == "dask":
        return _Dask(scenario, seed, model, workers, scheduler, held_back)
    raise UserError(f"unknown executor {name!r}; use one of {', '.join(EXECUTORS)}")


# --------------------------------------------------------------------------- the run loop


class _Terminated(Exception):
    pass


class _Failed(Exception):
    """A replication raised; carries the first (lowest-index) failure once the blocks in
    flight are written."""

    def __init__(self, failure: Failure):
        super().__init__(failure.error)
        self.failure = failure


def _progress_bar(total: int, initial: int, progress: bool | None, label: str) -> Any:
    show = sys.stderr.isatty() if progress is None else bool(progress)
    if not show:
        return None
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread (it would be forked into pool workers)
    try:
        sized = os.get_terminal_size(sys.stderr.fileno()).columns > 0
    except (OSError, ValueError):
        sized = False
    # a terminal that reports no width (some pseudo-terminals) gets a fixed 80-column bar
    return tqdm(total=total, initial=initial, unit="rep", desc=label, file=sys.stderr, smoothing=0.1,
                **({"dynamic_ncols": True} if sized else {"ncols": 80}))


def _block_size(per_rep_s: float | None, left: int, ex: Any) -> int:
    """Replications in the next block: about :data:`BLOCK_TARGET_S` of work (never more than
    :data:`FLUSH_EVERY_S`, so a slow model still writes often), and on a pool no more than
    each worker's share of what is left (guided self-scheduling), so blocks shrink towards
    the end and no worker idles long waiting for the last one."""
    if per_rep_s is None:
        return 1  # the first blocks measure the time per replication
    target_s = FLUSH_EVERY_S if ex.name == "serial" else min(BLOCK_TARGET_S, FLUSH_EVERY_S)
    per_rep_s = max(per_rep_s, 1e-9)
    size = min(MAX_BLOCK, int(target_s / per_rep_s))
    if ex.name != "serial":
        size = max(min(size, -(-left // ex.workers)), min(size, int(BLOCK_MIN_S / per_rep_s)))
    return max(1, size)


def _stream(folder: Path, ex: Any, todo: list[int], manifest: store.Manifest, bar: Any,
            t_start: float, wall_before: float, assembler: store.Assembler | None = None) -> None:
    """Run ``todo`` on the executor in blocks of consecutive replications, writing each
    block to the store as soon as it comes back (and appending it to the final tables
    through ``assembler`` while the workers run the next blocks).

    When a replication raises, nothing more is submitted, blocks not yet started are
    cancelled, the blocks still running are waited for and written (with the part of the
    failing block that finished), and :class:`_Failed` is raised with the lowest-index
    failure."""
    # enough blocks queued that no worker waits while the parent writes a block
    window = 1 if ex.name == "serial" else 3 * ex.workers
    pending: dict[Any, range] = {}
    per_rep_s: float | None = None
    nxt = 0  # next position of todo to submit

    def refill() -> None:
        nonlocal nxt
        # until a block has been timed, one single-replication block per worker
        while nxt < len(todo) and len(pending) < (window if per_rep_s is not None else ex.workers):
            size = _block_size(per_rep_s, len(todo) - nxt, ex)
            end = nxt + 1
            while end < len(todo) and end - nxt < size and todo[end] == todo[end - 1] + 1:
                end += 1
            reps = range(todo[nxt], todo[end - 1] + 1)
            pending[ex.submit(reps)] = reps
            nxt = end

    failures: list[Failure] = []
    while nxt < len(todo) or pending:
        if not failures:
            refill()
        for f in ex.wait_any(set(pending)):
            reps = pending.pop(f)
            res = ex.result(f)
            expected = reps if res.failed is None else range(reps.start, res.failed.replication)
            if res.reps != expected:
                raise RuntimeError(f"the executor returned replications {res.reps} for {reps}")
            if res.failed is not None:
                if not failures:  # stop: submit nothing more, drop the blocks not yet started
                    nxt = len(todo)
                    for g in [g for g in pending if ex.cancel(g)]:
                        pending.pop(g)
                failures.append(res.failed)
                reps = res.reps
                if not len(reps):
                    continue
            per_rep_s = res.seconds / len(reps)
            if ex.name != "serial" and not failures:
                refill()  # queue the next block before writing this one
            block = store.write_block(folder, reps.start, reps.stop, res.tables)
            manifest.replications_done = (manifest.replications_done or 0) + len(reps)
            manifest.wall_time_s = round(wall_before + time.perf_counter() - t_start, 3)
            store.write_manifest(folder, manifest)
            if bar is not None:
                bar.update(len(reps))
            if assembler is not None:
                assembler.add(block)
    if failures:
        raise _Failed(min(failures, key=lambda x: x.replication))


def _finish(folder: Path, manifest: store.Manifest, assembler: store.Assembler | None = None) -> None:
    """Assemble the final tables, write the summary, then mark the run complete."""
    n = int(manifest.replications or 0)
    written = assembler.finish(n) if assembler is not None else set()
    store.assemble(folder, n, skip=written)
    kpis = pd.read_parquet(folder / "kpis.parquet")
    fk = pd.read_parquet(folder / "facility_kpis.parquet")
    dk = pd.read_parquet(folder / "disruption_kpis.parquet")
    store.write_summary(folder, kpis, fk, dk)
    manifest.status = "complete"
    manifest.replications_done = n
    manifest.finished_utc = store.utc_now()
    store.write_manifest(folder, manifest)
    store.remove_parts(folder)


def _execute(folder: Path, scenario: Scenario, manifest: store.Manifest, *, executor: str, workers: int | None,
             scheduler: Any, progress: bool | None, model: Model | None) -> store.RunResult:
    try:
        held = store.lock_run(folder)
    except OSError as e:
        msg = store.environment_problem(e, folder)
        if msg is None:
            raise
        raise UserError(msg) from None
    try:
        return _execute_locked(folder, scenario, manifest, executor=executor, workers=workers,
                               scheduler=scheduler, progress=progress, model=model)
    finally:
        try:
            store.unlock_run(held)
        except OSError:
            pass  # a read-only folder: the OS lock ends with this process anyway


def _execute_locked(folder: Path, scenario: Scenario, manifest: store.Manifest, *, executor: str,
                    workers: int | None, scheduler: Any, progress: bool | None,
                    model: Model | None) -> store.RunResult:
    store.remove_temporaries(folder)
    n = int(manifest.replications or 0)
    seed = int(manifest.seed or 0)
    done = {i for b in store.finished_blocks(folder) for i in b.replications}
    todo = [i for i in range(n) if i not in done]
    manifest.replications_done = len(done)
    manifest.status = "incomplete"
    manifest.failure = None  # a resumed run tries the failed replication again
    wall_before = float(manifest.wall_time_s or 0.0)
    t_start = time.perf_counter()
    old_term = None
    if threading.current_thread() is threading.main_thread():
        def on_term(signum: int, frame: Any) -> None:
            raise _Terminated()

        old_term = signal.signal(signal.SIGTERM, on_term)
    ex = closing = None
    bar = None
    assembler = store.Assembler(folder)
    try:
        for block in store.finished_blocks(folder):  # a resumed run: what is already on disk
            assembler.add(block)
        if todo:
            workers = useful_workers(executor, workers, len(todo), scheduler)
            ex = _executor(executor, scenario, seed, model, workers, scheduler, bool(manifest.held_back))
            manifest.executor = executor  # type: ignore[assignment]
            manifest.workers = int(ex.workers)
            store.write_manifest(folder, manifest)
            bar = _progress_bar(n, len(done), progress, scenario.name)
            _stream(folder, ex, todo, manifest, bar, t_start, wall_before, assembler)
            ex.close(wait=False)
            closing, ex = ex, None
        manifest.wall_time_s = round(wall_before + time.perf_counter() - t_start, 3)
        _finish(folder, manifest, assembler)
        if closing is not None:
            closing.join()
    except (KeyboardInterrupt, _Terminated):
        if ex is not None:
            ex.close(abort=True)
        assembler.abort()
        _save_state(folder, manifest, wall_before, t_start)
        raise RunInterrupted(folder, int(manifest.replications_done or 0), n) from None
    except _Failed as e:
        if ex is not None:
            ex.close(abort=True)
        assembler.abort()
        failure = e.failure
        manifest.failure = store.FailureNote(replication=failure.replication, error=failure.error)
        _save_state(folder, manifest, wall_before, t_start)
        done = int(manifest.replications_done or 0)
        if failure.user:  # the scenario's fault (e.g. the event guard): a user error, exit 2
            raise UserError(f"replication {failure.replication} (run seed {seed}): {failure.error.partition(': ')[2]}"
                            f"; the run stopped with {done} of {n} replications saved in {folder}, "
                            "marked incomplete") from None
        raise ReplicationFailed(folder, failure, seed, str(manifest.scenario_hash), done, n) from None
    except BaseException as e:
        if ex is not None:
            ex.close(abort=True)
        assembler.abort()
        _save_state(folder, manifest, wall_before, t_start)
        msg = store.environment_problem(e, folder) if isinstance(e, OSError) else None
        if msg is None:
            raise
        saved = sum(len(b.replications) for b in store.finished_blocks(folder))
        raise UserError(f"{msg}; {saved} of {n} replications are saved in {folder}; when the disk allows, "
                        f"finish with: routesim run --resume {shlex.quote(str(folder))}") from None
    finally:
        if bar is not None:
            bar.close()
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    return store.open_run(folder)


def useful_workers(executor: str, workers: int | None, todo: int, scheduler: Any = None) -> int | None:
    """Processes worth starting: no more than the replications (a block holds at least
    one) nor, on this machine, the cores; more would only cost memory.  When a requested
    ``workers`` is capped, says so in one line on standard error."""
    if executor == "serial" or (executor == "dask" and scheduler):
        return workers
    cores = os.cpu_count() or 1
    useful = max(1, min(cores, todo))
    if workers is None:
        return useful  # no idle processes for a short run
    if workers > useful:
        why = (f"{todo} replication{'s' if todo != 1 else ''} to run" if todo <= cores
               else f"{cores} core{'s' if cores != 1 else ''} here")
        print(f"routesim: --workers {workers} capped at {useful} ({why})", file=sys.stderr)
        return useful
    return workers


def _save_state(folder: Path, manifest: store.Manifest, wall_before: float, t_start: float) -> None:
    manifest.status = "incomplete"
    manifest.replications_done = sum(len(b.replications) for b in store.finished_blocks(folder))
    manifest.wall_time_s = round(wall_before + time.perf_counter() - t_start, 3)
    try:
        store.write_manifest(folder, manifest)
    except OSError:
        pass


def _check_options(executor: str, replications: int | None, seed: int | None, workers: int | None) -> None:
    if executor not in EXECUTORS:
        raise UserError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}")
    if replications is not None and not (1 <= int(replications) <= 10_000_000):
        raise UserError(f"replications must be between 1 and 10,000,000, got {replications}")
    if seed is not None and not (0 <= int(seed) < 2**63):
        raise UserError(f"the seed must be a whole number from 0 to 2**63 - 1, got {seed}")
    if workers is not None and int(workers) < 1:
        raise UserError(f"workers must be at least 1, got {workers}")


def run(scenario_or_path: Scenario | str | os.PathLike[str], *, replications: int | None = None,
        seed: int | None = None, executor: str = "local", workers: int | None = None, scheduler: Any = None,
        out: str | os.PathLike[str] | None = None, overrides: Sequence[str] = (), progress: bool | None = None,
        results_root: str | os.PathLike[str] = "results", model: Model | None = None,
        held_back: bool = False, _prefix: str = "",
        _citations: list[store.CitedFigure] | None = None) -> store.RunResult:
    """Run a scenario's replications and save them; returns the saved run.

    ``replications`` and ``seed`` default to the scenario's.  ``executor``: ``"local"`` (a
    process pool of ``workers``, default all cores), ``"serial"`` or ``"dask"`` (``scheduler``
    is an address, an existing ``distributed.Client``, or None for a local cluster).  Results
    go to ``out`` or ``results/<scenario>/<run-id>/``.  ``overrides`` are ``"path=value"``
    strings.  ``progress``: None shows a bar only on a terminal.  ``model`` replaces
    :func:`sim.model.simulate` (tests, alternative models); it must be picklable.
    ``held_back``: also compute each disruption's flow held back from paired replications
    without it (see the module docstring); the model must then accept ``until_h`` and
    ``windows`` keywords as :func:`sim.model.simulate` does.
    """
    _check_options(executor, replications, seed, workers)
    if model is None:
        _default_model()  # fail before creating a run folder
    prep = prepare(scenario_or_path, overrides)
    scenario = prep.scenario
    n = int(replications if replications is not None else scenario.replications)
    s = int(seed if seed is not None else scenario.seed)
    if model is None:
        check(prep)
        preflight(scenario, s)
    folder = store.new_run_dir(scenario, root=results_root, out=out, prefix=_prefix)
    try:
        return _start(folder, scenario, prep, n, s, executor=executor, workers=workers, scheduler=scheduler,
                      progress=progress, model=model, held_back=held_back, citations=_citations)
    except OSError as e:  # before the manifest exists: nothing to resume
        msg = store.environment_problem(e, folder)
        if msg is None:
            raise
        raise UserError(f"{msg}; nothing was run: remove {folder} and start again") from None


def _start(folder: Path, scenario: Scenario, prep: Prepared, n: int, s: int, *, executor: str,
           workers: int | None, scheduler: Any, progress: bool | None, model: Model | None,
           held_back: bool, citations: list[store.CitedFigure] | None) -> store.RunResult:
    header = (f"# Resolved scenario of this run (extends and overrides applied, units in tonnes, hours, t/d).\n"
              f"# source: {prep.source or 'a Scenario object'}\n"
              + "".join(f"# --set {o}\n" for o in prep.overrides))
    store.write_scenario_yaml(folder, store.scenario_data(scenario), header)
    manifest = store.Manifest(
        format_version=store.FORMAT_VERSION,
        routesim_run=folder.name,
        scenario=scenario.name,
        scenario_hash=store.scenario_hash(scenario),
        scenario_source=prep.source,
        overrides=list(prep.overrides),
        seed=s,
        replications=n,
        replications_done=0,
        executor=executor,  # type: ignore[arg-type]
        workers=workers,
        scheduler=scheduler if isinstance(scheduler, str) else None,
        held_back=bool(held_back),
        status="incomplete",
        created_utc=store.utc_now(),
        wall_time_s=0.0,
        versions=store.package_versions(),
        git=store.git_commit(),
        command=" ".join(sys.argv) if sys.argv and sys.argv[0] else None,
        tables=list(store.TABLES),
        citations=citations if citations is not None else source_citations(prep),
    )
    store.write_manifest(folder, manifest)
    return _execute(folder, scenario, manifest, executor=executor, workers=workers, scheduler=scheduler,
                    progress=progress, model=model)


def source_citations(prep: Prepared) -> list[store.CitedFigure] | None:
    """The ``# seed:`` citations of the scenario source (and the files it extends) as they
    are now, with the seed entries they cite, for the run folder: a brief reads them from
    there, so it cites what was run even after the source or seeds/ change.  A figure a
    ``--set`` replaced is marked with that override.  None without a source file."""
    if prep.source is None:
        return None
    from sim.report.brief import seed_citations, seed_entries, seeds_dir

    src = Path(prep.source)
    cites = seed_citations(src)
    folder = seeds_dir(src.resolve().parent)
    entries = seed_entries(folder) if folder is not None and cites else {}
    sets = [(o.partition("=")[0].strip(), o) for o in prep.overrides]
    out = []
    for c in {(c.item, c.field): c for c in cites}.values():  # a file that extends another overrides it
        e = entries.get(c.seed)
        tail = ".".join(p for p in (c.item, c.field) if p)
        hit = next((o for path, o in sets if path == tail or path.endswith("." + tail)), None)
        def cap(text: Any, n: int) -> str:  # within the manifest schema's limits, whatever seeds/ holds
            t = str(text)
            return t if len(t) <= n else t[:n - 1] + "…"

        out.append(store.CitedFigure(
            file=cap(c.file, 300), item=cap(c.item, 200), field=cap(c.field, 300), value=cap(c.value, 200),
            seed=cap(c.seed, 200),
            seed_value=None if e is None else cap(f"{e.get('value')} {e.get('unit', '')}".strip(), 200),
            confidence=None if e is None else cap(e.get("confidence", "?"), 20),
            seed_source=None if e is None else cap(e.get("source", ""), 2000),
            overridden=None if hit is None else cap(hit, 2000)))
    return out


def _load_run_scenario(folder: Path, manifest: Mapping[str, Any] | store.Manifest) -> Scenario:
    from sim.scenario import loader

    m = manifest if isinstance(manifest, store.Manifest) else store.Manifest.model_validate(dict(manifest))
    _runnable(folder, m)
    scenario = loader.load_scenario(folder / "scenario.yaml")
    if store.scenario_hash(scenario) != m.scenario_hash:
        raise UserError(f"{folder}/scenario.yaml does not match the scenario hash in the manifest; "
                        "it was edited after the run started, so the run cannot be resumed or reproduced")
    return scenario


def _runnable(folder: Path, m: store.Manifest) -> None:
    """Refuse a manifest that lacks what a resume or a rerun needs (naming the field)."""
    if m.analysis:
        raise UserError(f"{folder} holds a {m.analysis} analysis, not a run; give one of its runs/ folders")
    for name in ("scenario_hash", "seed", "replications"):
        if getattr(m, name) is None:
            raise UserError(f"{folder / 'manifest.json'}: {name}: missing; a run's manifest records it, so this "
                            "folder cannot be resumed or reproduced")
    if not (folder / "scenario.yaml").is_file():
        raise UserError(f"{folder}: scenario.yaml is missing, so the run cannot be resumed or reproduced")


def resume(path: str | os.PathLike[str], *, executor: str | None = None, workers: int | None = None,
           scheduler: Any = None, progress: bool | None = None, model: Model | None = None) -> store.RunResult:
    """Finish an interrupted run in place, without redoing its finished replications.

    It runs the built-in model (or ``model``, given here): the run folder is data and
    never chooses code (see :class:`sim.results.store.Manifest`)."""
    folder = Path(path)
    manifest = store.load_manifest(folder)
    if manifest.status == "complete":
        return store.open_run(folder)
    executor = executor or manifest.executor or "local"
    _check_options(executor, None, None, workers)
    scenario = _load_run_scenario(folder, manifest)
    return _execute(folder, scenario, manifest, executor=executor, workers=workers, scheduler=scheduler,
                    progress=progress, model=model)


def from_manifest(path: str | os.PathLike[str], *, executor: str | None = None, workers: int | None = None,
                  scheduler: Any = None, out: str | os.PathLike[str] | None = None, progress: bool | None = None,
                  results_root: str | os.PathLike[str] = "results", model: Model | None = None) -> store.RunResult:
    """Run again what a saved run ran: its resolved scenario, seed and replications, with
    the built-in model (or ``model``, given here; never one named by the folder)."""
    folder = Path(path)
    if folder.name == "manifest.json":
        folder = folder.parent
    manifest = store.load_manifest(folder)
    scenario = _load_run_scenario(folder, manifest)
    return run(scenario, replications=int(manifest.replications or 0), seed=int(manifest.seed or 0),
               executor=executor or manifest.executor or "local", workers=workers, scheduler=scheduler,
               out=out, progress=progress, results_root=results_root, model=model,
               held_back=bool(manifest.held_back), _citations=manifest.citations)


# --------------------------------------------------------------------------- sweeps


@dataclass
class SweepResult:
    path: Path
    points: pd.DataFrame       # point, each parameter, run path
    kpis: pd.DataFrame         # point, each parameter, replication, KPIs

    def __repr__(self) -> str:
        return f"SweepResult({str(self.path)!r}, points={len(self.points)})"


def sweep(scenario_or_path: Scenario | str | os.PathLike[str], grid: Mapping[str, Sequence[Any]], *,
          replications: int | None = None, seed: int | None = None, executor: str = "local",
          workers: int | None = None, scheduler: Any = None, out: str | os.PathLike[str] | None = None,
          overrides: Sequence[str] = (), progress: bool | None = None,
          results_root: str | os.PathLike[str] = "results", model: Model | None = None) -> SweepResult:
    """One run per point of the grid (the product of the values of each path), all with the
    same seed, into ``<sweep folder>/point-NNN/``, plus ``sweep.parquet`` (KPIs of every
    replication by parameter) and ``points.parquet`` (which run holds which point)."""
    if not grid:
        raise UserError("a sweep needs at least one --set PATH=v1,v2,...")
    for p, values in grid.items():
        if not values:
            raise UserError(f"--set {p}: give at least one value")
    _check_options(executor, replications, seed, workers)
    base = prepare(scenario_or_path, overrides)
    points = list(itertools.product(*grid.values()))
    # validate every point before running any, so a typo in the last value fails fast
    prepared = []
    for values in points:
        sets = [f"{p}={yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...').strip()}"
                for p, v in zip(grid, values)]
        prep_point = prepare(scenario_or_path, [*overrides, *sets])
        point = prep_point.scenario
        if model is None:
            check(prep_point)
            preflight(point, seed if seed is not None else point.seed)
        prepared.append((values, point, sets))
    folder = store.new_run_dir(base.scenario, root=results_root, out=out, prefix="sweep-")
    rows, frames = [], []
    for k, (values, scenario, sets) in enumerate(prepared):
        res = run(scenario, replications=replications, seed=seed if seed is not None else base.scenario.seed,
                  executor=executor, workers=workers, scheduler=scheduler, out=folder / f"point-{k:03d}",
                  progress=progress, model=model)
        params = {p: _param_value(v, grid[p]) for p, v in zip(grid, values)}
        rows.append({"point": k, **params, "run": str(res.path.relative_to(folder)), "set": " ".join(sets)})
        kp = res.kpis.copy()
        for j, (p, v) in enumerate(params.items()):
            kp.insert(j, p, v)
        kp.insert(0, "point", k)
        frames.append(kp)
    pts = pd.DataFrame(rows)
    table = pd.concat(frames, ignore_index=True)
    store.write_parquet(folder / "points.parquet", pts)
    store.write_parquet(folder / "sweep.parquet", table)
    return SweepResult(folder, pts, table)


def _param_value(v: Any, all_values: Sequence[Any]) -> Any:
    """A parameter's value for the sweep table: a number when every value of it is one."""
    numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in all_values)
    return float(v) if numeric else str(v)


__all__ = ["run", "resume", "from_manifest", "sweep", "prepare", "apply_override", "RunInterrupted",
           "ReplicationFailed", "SweepResult", "EXECUTORS"]
