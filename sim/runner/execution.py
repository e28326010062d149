"""Executing a run: blocks of replications streamed from an executor into the run folder.

Blocks are sized from the measured time per replication (about :data:`BLOCK_TARGET_S` of
work, at most :data:`FLUSH_EVERY_S`, smaller towards the end so every worker stays busy to
the last one), and at most a bounded window of blocks is in flight, so memory does not grow
with the number of replications and an interrupted run loses at most the blocks in flight.
Each finished block is written to the store as it arrives and appended to the final tables
in replication order, so they are identical whatever the executor, the number of workers,
the block sizes or the order in which blocks finished.  Ctrl-C, SIGTERM, a failing
replication or a full disk leave the folder ``incomplete`` and resumable.

The public API (:func:`sim.runner.run`, :func:`sim.runner.resume` ...) prepares the
scenario and the manifest and calls :func:`execute`; this module owns everything after.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sim.errors import UserError
from sim.results import store
from sim.runner.executors import Executor, Failure, SimulateFn, make_executor
from sim.runner.reuse import file_digests
from sim.scenario.language import Scenario

FLUSH_EVERY_S = 5.0    # a block holds at most this many seconds of work (0: one replication)
BLOCK_TARGET_S = 0.5   # work per block on a pool: IPC and writes amortised, still fine-grained
BLOCK_MIN_S = 0.05     # ... and at least this much, so the last blocks are not mostly overhead
MAX_BLOCK = 32         # replications per block at most: bounds the memory a block takes in a worker
# manifest.json's progress (replications_done, wall_time_s) is rewritten at most this often
# while blocks stream: each write is a JSON encoding and an fsync, and once per block it cost
# the parent ~2 ms of CPU and ~11 ms of waiting per block under load; what is finished is
# the blocks on disk in any case (a resume and an interrupted run's manifest count those)
MANIFEST_EVERY_S = 1.0


class ReplicationFailed(RuntimeError):
    """An internal error (a bug) in one replication stopped the run: the message names the
    replication, its seed and the scenario hash; every replication that finished is saved
    in ``path`` and the run is left ``incomplete``.  ``traceback`` is the failing
    replication's traceback (text, from the worker)."""

    def __init__(self, path: Path, failure: Failure, seed: int, scenario_hash: str, done: int, total: int):
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


# --------------------------------------------------------------------------- the run loop


class _Terminated(Exception):
    pass


class _Failed(Exception):
    """A replication raised; carries the first (lowest-index) failure once the blocks in
    flight are written."""

    def __init__(self, failure: Failure):
        super().__init__(failure.error)
        self.failure = failure


def progress_bar(total: int, initial: int, progress: bool | None, label: str) -> Any:
    """The replications bar, or None.  ``progress=None`` shows it on a terminal and in a
    Jupyter kernel (whose stderr is no terminal, but whose notebook shows the bar: a widget
    when ipywidgets is installed, else tqdm's text bar, which Jupyter redraws in place)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    in_kernel = shell is not None and hasattr(shell, "kernel")  # a terminal IPython has no kernel
    show = (sys.stderr.isatty() or in_kernel) if progress is None else bool(progress)
    if not show:
        return None
    if in_kernel:
        from tqdm.auto import tqdm as auto_bar  # the widget, or the text bar without ipywidgets

        auto_bar.monitor_interval = 0  # no monitor thread (it would be forked into pool workers)
        return auto_bar(total=total, initial=initial, unit="rep", desc=label, smoothing=0.1)
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread (it would be forked into pool workers)
    try:
        sized = os.get_terminal_size(sys.stderr.fileno()).columns > 0
    except (OSError, ValueError):
        sized = False
    # a terminal that reports no width (some pseudo-terminals) gets a fixed 80-column bar
    return tqdm(total=total, initial=initial, unit="rep", desc=label, file=sys.stderr, smoothing=0.1,
                **({"dynamic_ncols": True} if sized else {"ncols": 80}))


def block_size(per_rep_s: float | None, left: int, ex: Executor) -> int:
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


def stream_blocks(folder: Path, ex: Executor, todo: list[int], manifest: store.Manifest, bar: Any,
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
    # a shared executor's time per replication of its earlier runs, if any: the blocks start
    # at full size, without single-replication blocks to time the model (it is the same one)
    per_rep_s: float | None = getattr(ex, "per_rep_s", None)
    nxt = 0  # next position of todo to submit

    def refill() -> None:
        nonlocal nxt
        # until a block has been timed, one single-replication block per worker
        while nxt < len(todo) and len(pending) < (window if per_rep_s is not None else ex.workers):
            size = block_size(per_rep_s, len(todo) - nxt, ex)
            end = nxt + 1
            while end < len(todo) and end - nxt < size and todo[end] == todo[end - 1] + 1:
                end += 1
            reps = range(todo[nxt], todo[end - 1] + 1)
            pending[ex.submit(reps)] = reps
            nxt = end

    failures: list[Failure] = []
    manifest_at = time.perf_counter()
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
            now = time.perf_counter()
            manifest.wall_time_s = round(wall_before + now - t_start, 3)
            # ... and always after the last block, so the count is whole before the close
            # (benchmarks.memory_trace takes samples at a count below the total as streaming)
            if now - manifest_at >= MANIFEST_EVERY_S or (nxt >= len(todo) and not pending):
                store.write_manifest(folder, manifest)
                manifest_at = now
            if bar is not None:
                bar.update(len(reps))
            if assembler is not None:
                assembler.add(block, res.tables)  # the bytes in hand, not the files read back
    if failures:
        raise _Failed(min(failures, key=lambda x: x.replication))


def _finish(folder: Path, manifest: store.Manifest, assembler: store.Assembler | None = None) -> None:
    """Assemble the final tables, write the summary, then mark the run complete."""
    n = int(manifest.replications or 0)
    summarised = False

    def summarise(written: set[str]) -> None:
        nonlocal summarised
        # while the other tables (the time series) are still being encoded and fsynced
        if set(store.SUMMARY_TABLES) <= written:
            store.write_summary_from_tables(folder)
            summarised = True

    written = assembler.finish(n, summarise) if assembler is not None else set()
    store.assemble(folder, n, skip=written)
    if not summarised:
        store.write_summary_from_tables(folder)  # a column at a time: memory does not grow with the run
    manifest.table_sha256 = file_digests(folder)  # what a reuse of this run checks (sim.runner.reuse)
    manifest.status = "complete"
    manifest.replications_done = n
    manifest.finished_utc = store.utc_now()
    store.write_manifest(folder, manifest)
    store.remove_parts(folder)


def execute(folder: Path, scenario: Scenario, manifest: store.Manifest, *, executor: str, workers: int | None,
            scheduler: Any, progress: bool | None, model: SimulateFn | None) -> store.RunResult:
    """Run the replications of ``folder`` that are not on disk yet (all of a new run, the
    rest of an interrupted one) under the folder's OS lock, then assemble the final tables
    and mark the run complete; returns the saved run."""
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
        with contextlib.suppress(OSError):  # a read-only folder: the OS lock ends with this process anyway
            store.unlock_run(held)


def _execute_locked(folder: Path, scenario: Scenario, manifest: store.Manifest, *, executor: str,
                    workers: int | None, scheduler: Any, progress: bool | None,
                    model: SimulateFn | None) -> store.RunResult:
    store.remove_temporaries(folder)
    n = int(manifest.replications or 0)
    # blocks are not fsynced: what an OS crash cut short runs again (and a block naming
    # replications past the run's count, which only an altered folder holds, goes too)
    store.drop_broken_blocks(folder, replications=n)
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
            ex = make_executor(executor, scenario, seed, model, workers, scheduler, bool(manifest.held_back))
            manifest.executor = executor  # type: ignore[assignment]
            manifest.workers = int(ex.workers)
            store.write_manifest(folder, manifest)
            bar = progress_bar(n, len(done), progress, scenario.name)
            stream_blocks(folder, ex, todo, manifest, bar, t_start, wall_before, assembler)
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
        saved = int(manifest.replications_done or 0)
        if failure.user:  # the scenario's fault (e.g. the event guard): a user error, exit 2
            raise UserError(f"replication {failure.replication} (run seed {seed}): {failure.error.partition(': ')[2]}"
                            f"; the run stopped with {saved} of {n} replications saved in {folder}, "
                            "marked incomplete") from None
        raise ReplicationFailed(folder, failure, seed, str(manifest.scenario_hash), saved, n) from None
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
    with contextlib.suppress(OSError):  # a full or read-only disk: the error that stopped the run is reported
        store.write_manifest(folder, manifest)
