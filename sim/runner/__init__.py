"""Monte Carlo runs of a scenario: replications on an executor, streamed to the results store.

Replication ``i`` of a run with seed ``S`` simulates with ``sim.rng.replication_seed(S, i)``
and nothing else random, so its numbers depend only on (scenario, S, i): the same with the
``serial`` executor, a ``local`` process pool of any size, or ``dask`` on a cluster.

The package's modules, each one job: this one is the API (:func:`prepare`, :func:`run`,
:func:`resume`, :func:`from_manifest`, :func:`sweep`) that turns a scenario and options into
a run folder and a manifest; :mod:`sim.runner.execution` streams blocks of replications from
an executor into that folder (block sizing, the bounded window in flight, interruption,
failures, the final tables); :mod:`sim.runner.executors` is the code that runs in the
workers and the ``serial``, ``local`` and ``dask`` executors.

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

import contextlib
import contextvars
import itertools
import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import simpy
import yaml

from sim.errors import ScenarioError, UserError
from sim.model import build_model
from sim.results import store
from sim.results.manifest import extends_fields as manifest_extends
from sim.rng import replication_seed
from sim.runner.execution import ReplicationFailed, RunInterrupted, execute, useful_workers
from sim.runner import executors
from sim.runner.executors import EXECUTORS, SimulateFn, shared
from sim.runner.reuse import ReuseRefused, code_versions, copy_run, find_reusable
from sim.scenario.language import Scenario
from sim.scenario.overrides import apply_override, blame_override, parse_override

T = TypeVar("T")


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


# --------------------------------------------------------------------------- runs


def preflight(scenario: Scenario, seed: int) -> None:
    """Let the model refuse a scenario (its own checks and event guard) before any run
    folder exists: builds replication 0 without running it."""
    build_model(simpy.Environment(), scenario, replication_seed(seed, 0))


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
        results_root: str | os.PathLike[str] = "results", model: SimulateFn | None = None,
        held_back: bool = False, _prefix: str = "",
        _citations: list[store.CitedFigure] | None = None) -> store.RunResult:
    """Run a scenario's replications and save them; returns the saved run.

    ``replications`` and ``seed`` default to the scenario's.  ``executor``: ``"local"`` (a
    process pool of ``workers``, default all cores), ``"serial"`` or ``"dask"`` (``scheduler``
    is an address, an existing ``distributed.Client``, or None for a local cluster).  Results
    go to ``out`` or ``results/<scenario>/<run-id>/``.  ``overrides`` are ``"path=value"``
    strings.  ``progress``: None shows a bar on a terminal or in Jupyter.  ``model`` replaces
    :func:`sim.model.simulate` (tests, alternative models); it must be picklable.
    ``held_back``: also compute each disruption's flow held back from paired replications
    without it (see the module docstring); the model must then accept ``until_h`` and
    ``windows`` keywords as :func:`sim.model.simulate` does.
    """
    _check_options(executor, replications, seed, workers)
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


def run_or_reuse(scenario: Scenario, *, replications: int, seed: int, out: str | os.PathLike[str],
                 reuse: bool = True, results_root: str | os.PathLike[str] = "results", held_back: bool = False,
                 model: SimulateFn | None = None, **kwargs: Any) -> tuple[store.RunResult, Path | None]:
    """The run an analysis pairs its others with (criticality's base, attribution's disrupted
    run): a copy of a complete run already under ``results_root`` with the same scenario
    hash, seed, replications and ``held_back``, made by the same code
    (:func:`sim.runner.reuse.find_reusable` says what is checked), or else a new run.
    Returns the run and the folder it was copied from (None: it was computed).  ``reuse``
    False (``--rerun-base``) always computes it; a ``model`` given here is never reused.
    Says on standard error when a run was reused, and why a run on disk that claims the same
    scenario hash, seed and replications was not (a table that no longer has the SHA-256 its
    manifest recorded, say)."""
    found = None
    if reuse and model is None:
        refused: list[tuple[Path, str]] = []
        found = find_reusable(scenario, seed, replications, held_back=held_back, root=results_root, refused=refused)
        for folder, why in refused:
            print(f"routesim: not reusing {folder}: {why}" + ("; computing the run again" if found is None else ""),
                  file=sys.stderr)
    if found is None:
        return run(scenario, replications=replications, seed=seed, out=out, results_root=results_root,
                   held_back=held_back, model=model, **kwargs), None
    folder = store.new_run_dir(scenario, root=results_root, out=out)
    try:
        copy_run(found, folder)
    except ReuseRefused as e:  # changed since the check: this new folder is ours, without a manifest
        print(f"routesim: not reusing {found}: {e}; computing the run again", file=sys.stderr)
        shutil.rmtree(folder, ignore_errors=True)
        return run(scenario, replications=replications, seed=seed, out=out, results_root=results_root,
                   held_back=held_back, model=model, **kwargs), None
    print(f"routesim: reused the complete run {found} (same scenario hash, seed and {replications} replications, "
          "made by this code) instead of computing it again; --rerun-base computes it", file=sys.stderr)
    return store.open_run(folder), found


# runs an analysis prepares or finishes in the parent besides the ``at_once`` that compute
# (run_all on a shared local pool): a run's set-up (folder, scenario.yaml, manifest) and its
# close (tables, summary, digests: ~0.2 s of the parent per baseline run whatever its size)
# then overlap the other runs' blocks instead of leaving the pool without a next run
PIPELINED = 2


def run_all(calls: Sequence[Callable[[], T]], *, executor: str, at_once: int = 2) -> list[T]:
    """``calls`` (each makes one run, e.g. ``lambda: run(...)``), in threads of this process,
    on the active :func:`shared` executor, with up to ``at_once`` runs computing at a time;
    their results in the order given.

    On a shared local pool, a run holds one of ``at_once`` computing slots only from its
    first block to its last (:meth:`sim.runner.executors.SharedExecutor.computing_slots`),
    and :data:`PIPELINED` more threads prepare the next runs and finish the last ones
    meanwhile: a run's set-up and its close in the parent (assembling its tables, the
    summary) overlap the other runs' replications, so the workers always have the next
    run's blocks (elsewhere, ``at_once`` runs are in flight from start to end).  Each run's
    numbers are its own (they depend only on its scenario, seed and replications), so the
    order in which runs finish changes nothing.  Serial runs go one after another (they
    compute in the calling thread).  The first exception (a failed run, Ctrl-C) stops the
    shared executor at once, so the runs still in flight stop too (saved, resumable), and
    is raised."""
    if executor == "serial" or at_once <= 1 or len(calls) <= 1:
        return [c() for c in calls]
    from concurrent.futures import ThreadPoolExecutor

    active = executors.active()
    gated = active is not None and active.name == "local" and executor == "local"
    threads_n = min(len(calls), at_once + PIPELINED) if gated else at_once
    with contextlib.ExitStack() as stack:
        if gated:
            assert active is not None
            stack.enter_context(active.computing_slots(at_once))
        threads = stack.enter_context(ThreadPoolExecutor(max_workers=threads_n, thread_name_prefix="routesim-run"))
        # each thread runs in a copy of this context, so its runs see the active shared executor
        futures = [threads.submit(contextvars.copy_context().run, c) for c in calls]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            if active is not None:
                active.close(abort=True)  # the runs in flight raise at once instead of finishing
            raise


def _start(folder: Path, scenario: Scenario, prep: Prepared, n: int, s: int, *, executor: str,
           workers: int | None, scheduler: Any, progress: bool | None, model: SimulateFn | None,
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
        # with the routesim source's fingerprint: what makes a run reusable (never one of a custom model)
        **_provenance(custom_model=model is not None),
        command=" ".join(sys.argv) if sys.argv and sys.argv[0] else None,
        tables=list(store.TABLES),
        citations=citations if citations is not None else source_citations(prep),
        **manifest_extends(prep.source, scenario),
    )
    store.write_manifest(folder, manifest)
    return execute(folder, scenario, manifest, executor=executor, workers=workers, scheduler=scheduler,
                    progress=progress, model=model)


def _provenance(custom_model: bool) -> dict[str, Any]:
    """The manifest's ``versions`` and ``git``.  Read once per :func:`shared` executor (its
    runs are made by this process, with the code it imported, in one checkout): two ``git``
    processes and the package metadata were ~15 ms of every sub-run of an analysis."""
    active = executors.active()
    memo = active.memo if active is not None else {}
    key = ("provenance", custom_model)
    if key not in memo:
        memo[key] = (code_versions(custom_model=custom_model), store.git_info())
    versions, git = memo[key]
    return {"versions": dict(versions), "git": git.model_copy() if git is not None else None}


def source_citations(prep: Prepared) -> list[store.CitedFigure] | None:
    """The ``# seed:`` citations of the scenario source (and the files it extends) as they
    are now, with the seed entries they cite, for the run folder: a brief reads them from
    there, so it cites what was run even after the source or seeds/ change.  A figure a
    ``--set`` replaced is marked with that override.  None without a source file."""
    if prep.source is None:
        return None
    from sim.scenario.citations import seed_citations, seed_entries, seeds_dir

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


def load_run_scenario(folder: Path, manifest: Mapping[str, Any] | store.Manifest) -> Scenario:
    """The resolved scenario a run folder holds, refused unless it is the one the manifest's
    scenario hash names (an edited ``scenario.yaml`` cannot be resumed or reproduced)."""
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
           scheduler: Any = None, progress: bool | None = None, model: SimulateFn | None = None) -> store.RunResult:
    """Finish an interrupted run in place, without redoing its finished replications.

    It runs the built-in model (or ``model``, given here): the run folder is data and
    never chooses code (see :class:`sim.results.store.Manifest`)."""
    folder = Path(path)
    manifest = store.load_manifest(folder)
    if manifest.status == "complete":
        return store.open_run(folder)
    executor = executor or manifest.executor or "local"
    _check_options(executor, None, None, workers)
    scenario = load_run_scenario(folder, manifest)
    return execute(folder, scenario, manifest, executor=executor, workers=workers, scheduler=scheduler,
                    progress=progress, model=model)


def from_manifest(path: str | os.PathLike[str], *, executor: str | None = None, workers: int | None = None,
                  scheduler: Any = None, out: str | os.PathLike[str] | None = None, progress: bool | None = None,
                  results_root: str | os.PathLike[str] = "results", model: SimulateFn | None = None) -> store.RunResult:
    """Run again what a saved run ran: its resolved scenario, seed and replications, with
    the built-in model (or ``model``, given here; never one named by the folder)."""
    folder = Path(path)
    if folder.name == "manifest.json":
        folder = folder.parent
    manifest = store.load_manifest(folder)
    scenario = load_run_scenario(folder, manifest)
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
          results_root: str | os.PathLike[str] = "results", model: SimulateFn | None = None) -> SweepResult:
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
                for p, v in zip(grid, values, strict=True)]
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
        params = {p: _param_value(v, grid[p]) for p, v in zip(grid, values, strict=True)}
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


__all__ = ["EXECUTORS", "Prepared", "ReplicationFailed", "RunInterrupted", "SimulateFn", "SweepResult",
           "apply_override", "from_manifest", "load_run_scenario", "prepare", "resume", "run", "run_all",
           "run_or_reuse", "shared", "sweep", "useful_workers"]
