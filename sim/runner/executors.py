"""Where replications run: one block of consecutive replications in a worker, and the three
executors (``serial``, a ``local`` process pool, ``dask``) that hand blocks to workers.

A worker simulates a block, reduces each replication to its tables
(:func:`sim.results.metrics.replication_parts`) and encodes them as part files
(:func:`sim.results.store.encode_part`), so only a few large buffers travel back.  Every
executor has the same small interface (``submit``, ``wait_any``, ``cancel``, ``result``,
``close``, ``join``, ``name``, ``workers``) that :mod:`sim.runner.execution` drives; none
of them decides anything about the run.  Kept apart from the run loop so that the code that
runs in worker processes is the code in this file.
"""

from __future__ import annotations

import contextlib
import contextvars
import concurrent.futures as cf
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from sim.errors import UserError
from sim.model import simulate
from sim.model.counterfactual import held_back as paired_held_back
from sim.recorder import Records
from sim.results import store
from sim.results.metrics import ROW_TABLES, replication_parts
from sim.results.parts import join_rows
from sim.results.tables import timeseries_block
from sim.rng import replication_seed
from sim.scenario.language import Scenario

EXECUTORS = ("local", "serial", "dask")
LOOPBACK = "127.0.0.1"  # where the local Dask cluster listens

SimulateFn = Callable[[Scenario, np.random.SeedSequence], Records]
"""A model: one replication of a scenario from its seed sequence (:func:`sim.model.simulate`)."""


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


def replicate_block(scenario: Scenario, seed: int, reps: range, model: SimulateFn | None = None,
                    held_back: bool = False) -> BlockResult:
    """Simulate consecutive replications ``reps`` and reduce them to one Arrow table per
    table name (rows in replication order): built in the worker from numpy columns, with
    one conversion per column for the whole block, so a block travels back as a few large
    buffers and the parent only has to write them.  A replication that raises ends the
    block: the replications before it are returned with the failure, not lost."""
    t0 = time.perf_counter()
    simulate_one = model or simulate
    # the built-in model meters every disruption's targets for the flow held back; without
    # held_back nothing reads those meters, so they are not set up (~9% of simulate() on
    # the baseline; every other record is the same with or without them)
    run_one = simulate_one if model is not None or held_back else _unmetered
    columns: dict[str, list[Any]] = {}  # per table, each replication's columns (its rows for ROW_TABLES)
    kept: list[Records] = []  # the block's records, for its time series (built at once)
    failed = None
    finished = reps
    for i in reps:
        seq = replication_seed(seed, i)
        try:
            records = run_one(scenario, seq)
            pairs = None
            if held_back:
                pairs = paired_held_back(scenario, seq, records, simulate_one)
            tables_i = replication_parts(records, scenario, i, held_back=pairs, timeseries=False)
        except Exception as e:  # reported to the parent with the replication index
            first = str(e).splitlines()[0] if str(e) else ""
            failed = Failure(i, f"{type(e).__name__}: {first}"[:500], isinstance(e, UserError),
                             traceback.format_exc())
            finished = range(reps.start, i)
            break
        for name, cols in tables_i.items():
            columns.setdefault(name, []).append((i, cols) if name in ROW_TABLES else cols)
        kept.append(records)
    # the KPI tables from the block's rows, a column at a time (join_rows: the table the
    # replications' own columns joined make, without a numpy array per column and replication)
    tables = {name: store.encode_part(store.block_table([join_rows(parts) if name in ROW_TABLES
                                                         else store.join_columns(parts)]))
              for name, parts in columns.items()}
    if kept:
        tables["timeseries"] = store.encode_part(timeseries_block(kept, scenario, finished))
    return BlockResult(finished, tables, time.perf_counter() - t0, failed)


def _unmetered(scenario: Scenario, seed_seq: np.random.SeedSequence) -> Records:
    """:func:`sim.model.simulate` without throughput windows (see :func:`replicate_block`)."""
    return simulate(scenario, seed_seq, windows=[])


_WORKER: dict[str, Any] = {}


def _init_worker(scenario: Scenario, seed: int, model: SimulateFn | None, held_back: bool = False) -> None:
    # Ctrl-C goes to the whole process group; only the parent decides what to do with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER.update(scenario=scenario, seed=seed, model=model, held_back=held_back)


def _replicate_in_worker(reps: range) -> BlockResult:
    return replicate_block(_WORKER["scenario"], _WORKER["seed"], reps, _WORKER["model"], _WORKER["held_back"])


def _init_shared_worker() -> None:
    """A worker of a :class:`SharedExecutor`'s pool: it holds no scenario (each block brings
    its own), and ignores Ctrl-C like every worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _started(hold_s: float) -> int:
    """A worker's first task (:meth:`SharedExecutor.start`): held briefly, so the pool forks
    the next worker rather than handing it this one."""
    time.sleep(hold_s)
    return os.getpid()


def _replicate_job(job: tuple[Scenario, int, SimulateFn | None, bool], reps: range) -> BlockResult:
    """A block of a shared pool: the job (scenario, seed, model, held back) travels with it
    (about 11 KB pickled for the baseline, under a millisecond each way, against about a
    second of work in a block), so one pool serves any number of runs."""
    scenario, seed, model, held_back = job
    return replicate_block(scenario, seed, reps, model, held_back)


# --------------------------------------------------------------------------- executors


class Executor(Protocol):
    """What the run loop needs of an executor: submit a block of consecutive replications
    and get a future for its :class:`BlockResult`; wait for some futures; cancel one not yet
    started; read a result; shut down (``abort``: now, dropping running blocks)."""

    name: str
    workers: int

    def submit(self, reps: range) -> Any: ...

    def wait_any(self, futures: set[Any]) -> set[Any]: ...

    def cancel(self, f: Any) -> bool: ...

    def result(self, f: Any) -> BlockResult: ...

    def close(self, abort: bool = False, wait: bool = True) -> None: ...

    def join(self) -> None: ...


class _FutureBlocks:
    """``cancel`` and ``result`` of executors whose blocks are :mod:`concurrent.futures` futures."""

    @staticmethod
    def cancel(f: Any) -> bool:
        """Drop a block not yet started (True); one already running is left to finish."""
        return f.cancel()

    @staticmethod
    def result(f: Any) -> BlockResult:
        return f.result()


class SerialExecutor(_FutureBlocks):
    """Blocks run in this process as they are submitted (tests, debugging, one core)."""

    name = "serial"

    def __init__(self, scenario: Scenario, seed: int, model: SimulateFn | None, held_back: bool = False):
        self.args = (scenario, seed, model, held_back)
        self.workers = 1

    def submit(self, reps: range) -> Any:
        f: cf.Future[BlockResult] = cf.Future()
        try:
            f.set_result(replicate_block(*self.args[:2], reps, *self.args[2:]))
        except BaseException as e:  # handed to the caller via the future
            if isinstance(e, KeyboardInterrupt):
                raise
            f.set_exception(e)
        return f

    def wait_any(self, futures: set[Any]) -> set[Any]:
        return set(futures)

    def close(self, abort: bool = False, wait: bool = True) -> None:
        pass

    def join(self) -> None:
        pass


class PoolExecutor(_FutureBlocks):
    """A local process pool; each worker holds the scenario from its initializer."""

    name = "local"

    def __init__(self, scenario: Scenario, seed: int, model: SimulateFn | None, workers: int,
                 held_back: bool = False):
        self.workers = workers
        self.pool = cf.ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                                           initargs=(scenario, seed, model, held_back))

    def submit(self, reps: range) -> Any:
        return self.pool.submit(_replicate_in_worker, reps)

    def wait_any(self, futures: set[Any]) -> set[Any]:
        done, _ = cf.wait(futures, timeout=1.0, return_when=cf.FIRST_COMPLETED)
        return done

    def close(self, abort: bool = False, wait: bool = True) -> None:
        if abort:
            # stop promptly: running replications are lost anyway and will be redone on resume.
            # The standard library offers no public way to terminate a pool's workers, so this
            # reads ProcessPoolExecutor's own process table (absent: nothing to terminate).
            for p in list((getattr(self.pool, "_processes", None) or {}).values()):
                with contextlib.suppress(OSError):  # it has exited already
                    p.terminate()
            self.pool.shutdown(wait=False, cancel_futures=True)
        else:
            # wait=False: the workers exit while the parent assembles; join() waits for them
            self.pool.shutdown(wait=wait)

    def join(self) -> None:
        self.pool.shutdown(wait=True)


class DaskSession:
    """A Dask client, and the private cluster behind it when none was given: a given
    ``scheduler`` address or an existing ``distributed.Client``, or (None) a
    ``LocalCluster`` of ``workers`` processes listening on loopback only.  One session
    serves one run (:class:`DaskExecutor`) or all the runs of an analysis
    (:class:`SharedExecutor`)."""

    def __init__(self, workers: int | None, scheduler: Any):
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

    def close(self) -> None:
        if self.own_client:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


class DaskExecutor:
    """Dask distributed: a given scheduler or client, or a private cluster on loopback
    (its own :class:`DaskSession`, or a shared one it borrows and leaves open)."""

    name = "dask"

    def __init__(self, scenario: Scenario, seed: int, model: SimulateFn | None, workers: int | None, scheduler: Any,
                 held_back: bool = False, session: DaskSession | None = None):
        self.own_session = session is None
        self.session = session if session is not None else DaskSession(workers, scheduler)
        self.client = self.session.client
        self.cluster = self.session.cluster
        self.workers = self.session.workers
        self.args = (self.client.scatter(scenario, broadcast=True), seed, model, held_back)

    def submit(self, reps: range) -> Any:
        scenario, seed, model, held_back = self.args
        return self.client.submit(replicate_block, scenario, seed, reps, model, held_back, pure=False)

    def wait_any(self, futures: set[Any]) -> set[Any]:
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
        if self.own_session:
            self.session.close()


class _BoundPool:
    """One run's view of a :class:`SharedExecutor`'s process pool: its blocks carry the
    run's job; closing the view leaves the pool to the next run (and gives back the
    computing slot the view holds, :meth:`SharedExecutor.bind`)."""

    name = "local"

    def __init__(self, pool: cf.ProcessPoolExecutor, workers: int, job: tuple[Scenario, int, SimulateFn | None, bool],
                 release: Callable[[], None] = lambda: None, timing: list[float | None] | None = None,
                 stopped: Callable[[], bool] = lambda: False):
        self.pool, self.workers, self.job = pool, workers, job
        self._stopped = stopped
        self.timing: list[float | None] = timing if timing is not None else [None]  # shared by the pool's views
        self._release: Callable[[], None] | None = release

    def submit(self, reps: range) -> Any:
        return self.pool.submit(_replicate_job, self.job, reps)

    cancel = staticmethod(_FutureBlocks.cancel)

    @property
    def per_rep_s(self) -> float | None:
        """Seconds per replication in the latest block of any run on this pool (None before
        the first): :func:`sim.runner.execution.stream_blocks` sizes a new run's first blocks
        with it.  Block sizes never change a run's numbers, only how it is cut."""
        return self.timing[0]

    def result(self, f: Any) -> BlockResult:
        res: BlockResult = f.result()
        if len(res.reps) and res.failed is None:
            self.timing[0] = res.seconds / len(res.reps)
        return res

    def wait_any(self, futures: set[Any]) -> set[Any]:
        done, _ = cf.wait(futures, timeout=1.0, return_when=cf.FIRST_COMPLETED)
        if not done and self._stopped():
            # another run of the analysis failed and the shared pool was aborted (its workers
            # terminated): a block that was running may never be marked done by the pool's
            # manager thread, so this run stops here rather than wait for it forever
            raise RuntimeError("the shared executor was shut down (an earlier run failed or was interrupted)")
        return done

    def close(self, abort: bool = False, wait: bool = True) -> None:
        # the pool belongs to the SharedExecutor (an abort reaches it as the run's exception);
        # the run has submitted its last block: the next run may start computing
        release, self._release = self._release, None
        if release is not None:
            release()

    def join(self) -> None:
        pass


class SharedExecutor:
    """One executor for all the runs made while it is active (:func:`shared`): the sub-runs
    of an analysis (criticality's base and closures, attribution's counterfactuals) share
    one process pool or one Dask session instead of starting one each, so workers start
    once and stay warm.  Each block carries its own scenario and seed, so a run's numbers
    are the same as on an executor of its own (they depend only on the scenario, the seed
    and the replication)."""

    def __init__(self, name: str, workers: int | None, scheduler: Any = None):
        if name not in EXECUTORS:
            raise UserError(f"unknown executor {name!r}; use one of {', '.join(EXECUTORS)}")
        self.name = name
        self.pool: cf.ProcessPoolExecutor | None = None
        self.session: DaskSession | None = None
        self.scheduler = scheduler
        self.stopped = False  # closed: a run that starts later is refused, not given a new pool
        # runs computing on the local pool at once (None: no limit); see computing_slots()
        self.slots: threading.Semaphore | None = None
        self.timing: list[float | None] = [None]  # seconds per replication of the latest block (_BoundPool)
        # what every run made on this executor records alike (sim.runner: versions, git), read once
        self.memo: dict[Any, Any] = {}
        if name == "local":
            self.workers = workers or os.cpu_count() or 1
        elif name == "dask":
            self.session = DaskSession(workers, scheduler)
            self.workers = self.session.workers
        else:
            self.workers = 1

    def bind(self, scenario: Scenario, seed: int, model: SimulateFn | None, held_back: bool) -> Executor:
        """The executor of one run on this shared one (a serial one runs in this process)."""
        if self.stopped:
            raise RuntimeError("the shared executor was shut down (an earlier run failed or was interrupted)")
        if self.name == "local":
            self.start()
            assert self.pool is not None
            release = self._take_slot()
            return _BoundPool(self.pool, self.workers, (scenario, seed, model, held_back), release, self.timing,
                              stopped=lambda: self.stopped)
        if self.name == "dask":
            return DaskExecutor(scenario, seed, model, self.workers, self.scheduler, held_back, session=self.session)
        return SerialExecutor(scenario, seed, model, held_back)

    @contextlib.contextmanager
    def computing_slots(self, n: int) -> Iterator[None]:
        """Within the block, at most ``n`` runs compute on the local pool at once: a run takes
        a slot when it binds (its first block is about to go) and gives it back when its
        executor view is closed, right after its last block came back and *before* it
        assembles its tables and summary.  So the next run's blocks reach the workers while
        the previous run finishes in the parent, and :func:`sim.runner.run_all` can prepare
        and finish runs in more threads than compute at once without queueing more blocks
        than ``n`` runs' windows (the memory bound)."""
        if self.name != "local" or n < 1:
            yield
            return
        outer, self.slots = self.slots, threading.Semaphore(n)
        try:
            yield
        finally:
            self.slots = outer

    def _take_slot(self) -> Callable[[], None]:
        """Wait for a computing slot (none to wait for outside :meth:`computing_slots`); the
        function that gives it back.  Refused once the executor is shut down."""
        slots = self.slots
        if slots is None:
            return lambda: None
        while not slots.acquire(timeout=0.1):
            if self.stopped:
                raise RuntimeError("the shared executor was shut down (an earlier run failed or was interrupted)")
        if self.stopped:
            slots.release()
            raise RuntimeError("the shared executor was shut down (an earlier run failed or was interrupted)")
        return slots.release

    def start(self) -> None:
        """Start the pool's worker processes now, all of them (``local``; else nothing).

        :func:`shared` calls it on entry, in the calling thread: a process pool forks its
        workers on demand, and a fork while other threads of the parent run (the runs of
        :func:`sim.runner.run_all`, Arrow's own threads) could copy a lock one of them holds
        into the child.  One short task per worker, submitted at once, makes the pool fork
        every worker before any of them is idle, so none is forked later."""
        if self.name != "local" or self.pool is not None:
            return
        self.pool = cf.ProcessPoolExecutor(max_workers=self.workers, initializer=_init_shared_worker)
        for f in [self.pool.submit(_started, 0.05) for _ in range(self.workers)]:
            f.result()

    def close(self, abort: bool = False) -> None:
        self.stopped = True
        if self.pool is not None:
            if abort:  # as PoolExecutor.close(abort=True): running blocks are lost anyway
                for p in list((getattr(self.pool, "_processes", None) or {}).values()):
                    with contextlib.suppress(OSError):
                        p.terminate()
                self.pool.shutdown(wait=False, cancel_futures=True)
            else:
                self.pool.shutdown(wait=True)
            self.pool = None
        if self.session is not None:
            self.session.close()
            self.session = None


_ACTIVE: contextvars.ContextVar[SharedExecutor | None] = contextvars.ContextVar("routesim_shared_executor",
                                                                                default=None)


def active() -> SharedExecutor | None:
    """The :class:`SharedExecutor` of the innermost :func:`shared` block, if any."""
    return _ACTIVE.get()


@contextlib.contextmanager
def shared(name: str, workers: int | None = None, scheduler: Any = None) -> Iterator[SharedExecutor]:
    """Within the block, every run on executor ``name`` uses one :class:`SharedExecutor`
    (started once, shut down at the end; on an exception, at once).  Nested: the outer
    one is used."""
    outer = _ACTIVE.get()
    if outer is not None and outer.name == name:
        yield outer
        return
    ex = SharedExecutor(name, workers, scheduler)
    token = _ACTIVE.set(ex)
    try:
        ex.start()
        yield ex
    except BaseException:
        ex.close(abort=True)
        raise
    finally:
        _ACTIVE.reset(token)
        ex.close()


def make_executor(name: str, scenario: Scenario, seed: int, model: SimulateFn | None, workers: int | None,
                  scheduler: Any, held_back: bool = False) -> Executor:
    """The executor called ``name`` (one of :data:`EXECUTORS`), ready to take blocks: a
    view of the active :func:`shared` executor of that name if there is one."""
    active = _ACTIVE.get()
    if active is not None and active.name == name and name != "serial":
        return active.bind(scenario, seed, model, held_back)
    if name == "serial":
        return SerialExecutor(scenario, seed, model, held_back)
    if name == "local":
        return PoolExecutor(scenario, seed, model, workers or os.cpu_count() or 1, held_back)
    if name == "dask":
        return DaskExecutor(scenario, seed, model, workers, scheduler, held_back)
    raise UserError(f"unknown executor {name!r}; use one of {', '.join(EXECUTORS)}")
