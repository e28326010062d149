"""The results folder of a run: manifest, resolved scenario, Parquet tables; atomic and resumable.

Layout of ``results/<scenario>/<run-id>/`` (or the folder given with ``--out``)::

    manifest.json          what was run and how (written first, rewritten last)
    scenario.yaml          the resolved scenario (extends and --set overrides applied)
    kpis.parquet           a row per replication
    facility_kpis.parquet  a row per replication and facility
    disruption_kpis.parquet a row per replication and disruption
    timeseries.parquet     daily flows and stocks, long format (replication, day, ...)
    voyages.parquet        a row per voyage with the time of each stage
    waits.parquet          a row per wait (facility, cause, disruption, tanker, start, end)
    passages.parquet       a row per strait passage (queue entry, entry, exit, wait by cause)
    balance.parquet        a row per replication: the mass balance at the end, and its imbalance
    cargoes.parquet        a row per cargo and refinery it reached: first and last tonne, lead times
    decisions.parquet      a row per decision an operating policy took (top-up, planned cut, batch)
    nominations.parquet    a row per lifting a programme decided: when, by which policy, why
    summary.json           mean, std, p5, p50, p95 of every KPI over the replications, and
                           the risk block (sim.results.risk)
    parts/                 while running: one file per finished block of replications
                           (Arrow IPC parts, joined into the Parquet tables at the end)

The run id is the UTC start time plus a short hash of the resolved scenario
(``20210101T120000Z-3f2a9c1e``); no random ids, so nothing about a run depends on chance.
Two runs never share a folder: the folder is created exclusively (a ``-2``, ``-3``...
suffix when two start in the same second).

Crash safety: every file is written to a temporary name and moved into place with
``os.replace``; a block of replications is written under a temporary name that is renamed
into ``parts/`` only when all of its tables are in it.  The manifest says ``incomplete``
until the final tables and ``summary.json`` exist, and is rewritten ``complete`` last.  A
``kill -9`` at any moment therefore leaves either finished blocks or nothing, and never a
file that looks complete but is not; ``routesim run --resume DIR`` continues from the
finished blocks.

This module is the results folder as a whole (creating it, locking it, the summary, reading
a run back) and the one name callers use for it: ``from sim.results import store`` then
``store.open_run``, ``store.write_manifest`` ...  The jobs it delegates live beside it and
are re-exported here: :mod:`sim.results.manifest` (the manifest and provenance),
:mod:`sim.results.parts` (blocks of replications and the assembled tables),
:mod:`sim.results.files` (atomic writes) and :mod:`sim.results.scenario_data` (the resolved
scenario as data, its hash).
"""

from __future__ import annotations

import datetime as _dt
import errno
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Hashable
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import yaml

from sim.errors import UserError
from sim.results.files import atomic_write_bytes, atomic_write_json, atomic_write_text, write_parquet
from sim.results.manifest import (
    FORMAT_VERSION,
    MAX_MANIFEST_BYTES,
    CitedFigure,
    FailureNote,
    GitInfo,
    Manifest,
    git_commit,
    git_info,
    load_manifest,
    package_versions,
    read_manifest,
    utc_now,
    write_manifest,
)
from sim.results.metrics import summarise
from sim.results.risk import COST_RISK_KPIS, cost_summary, risk_summary
from sim.results.parts import (
    PART_EXT,
    PARTS,
    SUMMARY_TABLES,
    TABLES,
    Assembler,
    Block,
    as_arrow,
    assemble,
    block_table,
    decode_part,
    drop_broken_blocks,
    encode_part,
    finished_blocks,
    join_columns,
    read_concat,
    remove_parts,
    remove_temporaries,
    whole_blocks,
    write_block,
)
from sim.results.scenario_data import scenario_data, scenario_hash
from sim.results.summary import summary_records
from sim.scenario.language import Scenario
from sim.scenario.loader import load_scenario

RUN_MARKER = ".routesim-run"

# --------------------------------------------------------------------------- the run folder


# The user's environment, not a bug: a read-only or full disk, no permission, a quota.
ENVIRONMENT_ERRNOS = frozenset({errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EFBIG,
                                errno.ENOTDIR})


def environment_problem(e: OSError, fallback: Path | str | None = None) -> str | None:
    """``"cannot write /x/y: Read-only file system"`` for an OSError the user's environment
    caused (see :data:`ENVIRONMENT_ERRNOS`), naming the path; None for anything else."""
    if e.errno not in ENVIRONMENT_ERRNOS:
        return None
    where = e.filename if e.filename is not None else fallback
    reason = e.strerror or os.strerror(e.errno or 0)
    if e.errno == errno.ENOSPC:
        reason += " (the disk is full: free some space)"
    elif e.errno == errno.EROFS:
        reason += " (choose a writable folder with --out or --results)"
    return f"cannot write {where}: {reason}" if where is not None else f"cannot write the results: {reason}"


def _make_parents(folder: Path) -> None:
    """Create the folders above ``folder``; a file in the way is named as such."""
    for up in [folder.parent, *folder.parent.parents]:
        if up.exists() or up.is_symlink():
            if not up.is_dir():
                raise UserError(f"cannot create {folder}: {up} is a file, not a folder")
            break
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(environment_problem(e, folder.parent)
                        or f"cannot create {folder.parent}: {e.strerror or e}") from None


def _claim(folder: Path) -> None:
    """Make ``folder`` ours: create it exclusively, or claim an existing empty folder."""
    try:
        folder.mkdir(parents=False)
    except FileExistsError:
        if not folder.is_dir():
            raise UserError(f"{folder} exists and is not a folder") from None
        if any(folder.iterdir()):
            raise UserError(f"{folder} already holds files; choose another --out, or "
                            f"'routesim run --resume {folder}' to finish an interrupted run there") from None
    try:
        fd = os.open(folder / RUN_MARKER, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        raise UserError(f"another run is already writing to {folder}") from None
    os.close(fd)


def new_run_dir(scenario: Scenario, *, root: str | os.PathLike[str] = "results",
                out: str | os.PathLike[str] | None = None, prefix: str = "") -> Path:
    """Create (exclusively) the folder of a new run and return it."""
    if out is not None:
        folder = Path(out)
        _make_parents(folder)
        try:
            _claim(folder)
        except OSError as e:
            raise UserError(environment_problem(e, folder) or f"cannot create {folder}: {e.strerror or e}") from None
        return folder
    base = Path(root) / scenario.name
    _make_parents(base / "x")
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(environment_problem(e, base) or f"cannot create {base}: {e.strerror or e}") from None
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    run_id = f"{prefix}{stamp}-{scenario_hash(scenario)[:8]}"
    for k in range(1, 10_000):
        folder = base / (run_id if k == 1 else f"{run_id}-{k}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        except OSError as e:
            raise UserError(environment_problem(e, folder) or f"cannot create {folder}: {e.strerror or e}") from None
        try:
            _claim_marker(folder)
        except OSError as e:
            raise UserError(environment_problem(e, folder) or f"cannot create {folder}: {e.strerror or e}") from None
        return folder
    raise UserError(f"too many runs of {scenario.name} started in the same second under {base}")


def _claim_marker(folder: Path) -> None:
    fd = os.open(folder / RUN_MARKER, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    os.close(fd)


LOCK = ".lock"
LOCK_PID = ".lock.pid"  # who holds the lock, for the message only: the lock itself is the OS lock


@dataclass
class RunLock:
    """The OS lock on a run folder this process holds (see :func:`lock_run`)."""

    folder: Path
    lock: Any
    key: str

    def release(self) -> None:
        try:
            (self.folder / LOCK_PID).unlink(missing_ok=True)
        finally:
            self.lock.release()
            with _HELD_GUARD:
                _HELD.discard(self.key)


_HELD: set[str] = set()  # run folders this process holds
_HELD_GUARD = threading.Lock()


def lock_run(folder: Path) -> RunLock:
    """Take the run folder for this process, or refuse with a :class:`UserError`.

    The lock is an OS file lock (``filelock``: ``flock`` on ``.lock``), taken without
    waiting: exactly one process holds it at a time, and the kernel releases it when that
    process ends, however it ends (``kill -9`` too), so there is no stale lock to guess
    about.  The holder's pid is written beside it, only so the refusal can name it.
    """
    from filelock import FileLock, Timeout

    key = os.path.realpath(folder)
    with _HELD_GUARD:  # filelock is re-entrant within a thread; a run folder is not
        if key in _HELD:
            raise UserError(f"{folder} is in use by this process (pid {os.getpid()}): it is already "
                            "running or resuming it")
        _HELD.add(key)
    lock = FileLock(str(folder / LOCK), timeout=0, thread_local=False)
    try:
        lock.acquire()
    except BaseException as e:
        with _HELD_GUARD:
            _HELD.discard(key)
        if isinstance(e, Timeout):
            raise UserError(f"{folder} is in use by {_holder(folder)} (another routesim run or resume is "
                            "writing it); wait for it to finish or stop it first") from None
        if isinstance(e, OSError):
            raise UserError(f"cannot lock {folder}: {e.strerror or e}") from None
        raise
    try:
        tmp = folder / f"{LOCK_PID}.tmp-{os.getpid()}"
        tmp.write_text(f"{os.getpid()}\n", encoding="ascii")
        os.replace(tmp, folder / LOCK_PID)
    except OSError:
        pass  # the pid is only for the message; the lock is held
    return RunLock(folder, lock, key)


def _holder(folder: Path) -> str:
    try:
        pid = (folder / LOCK_PID).read_text(encoding="ascii").strip()
    except OSError:
        pid = ""
    return f"pid {pid}" if pid.isdigit() else "another process"


def unlock_run(held: RunLock) -> None:
    held.release()


def write_scenario_yaml(folder: Path, data: dict[str, Any], header: str = "") -> None:
    """``scenario.yaml``: the resolved scenario (:func:`scenario_data`) under a comment header."""
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    atomic_write_text(folder / "scenario.yaml", header + text)



def _refinery_names(facility_kpis: pd.DataFrame) -> list[str] | None:
    """The refineries of a facility table, in first-seen order (None without the columns)."""
    if "kind" not in facility_kpis or "facility" not in facility_kpis:
        return None
    return list(dict.fromkeys(facility_kpis.loc[facility_kpis["kind"] == "refinery", "facility"].astype(str)))


def write_summary(folder: Path, kpis: pd.DataFrame, facility_kpis: pd.DataFrame,
                  disruption_kpis: pd.DataFrame) -> dict[str, Any]:
    """``summary.json``: the distribution of every KPI (run, per facility, per disruption) and
    the ``risk`` block of :func:`sim.results.risk.risk_summary`."""
    def records(df: pd.DataFrame) -> list[dict[Hashable, Any]]:
        return df.to_dict(orient="records")

    summary = {
        "replications": len(kpis),
        "kpis": records(summarise(kpis)) if len(kpis) else [],
        "facility_kpis": records(summarise(facility_kpis.drop(columns=["kind"], errors="ignore"), by="facility"))
        if len(facility_kpis) else [],
        "disruption_kpis": records(summarise(disruption_kpis.drop(columns=["kind"], errors="ignore"), by="disruption"))
        if len(disruption_kpis) and "disruption" in disruption_kpis else [],
        "risk": risk_summary(kpis, _refinery_names(facility_kpis)) if len(kpis) else None,
    }
    costs = cost_summary(kpis) if len(kpis) else None
    if costs is not None:  # only a scenario with a costs: section (sim.results.costs) has the block
        summary["costs"] = costs
    atomic_write_json(folder / "summary.json", summary)
    return summary


def write_summary_from_tables(folder: Path) -> dict[str, Any]:
    """:func:`write_summary` of a run folder's final ``kpis``, ``facility_kpis`` and
    ``disruption_kpis`` tables (the same ``summary.json``, byte for byte), without reading
    them whole: the distributions are summarised a batch of columns at a time, each
    statistic one numpy call for all the columns of a group (:func:`sim.results.summary.
    summary_records`, the numbers of :func:`sim.results.metrics.summarise` to the
    last bit), and the risk and cost blocks read only
    the KPI columns they use (cut-run days, shortfall, the bill's totals) and the facility
    table's ``facility`` and ``kind``.  The close phase's memory is a column's, not the
    tables' (those grow with the replications)."""
    paths = {t: folder / f"{t}.parquet" for t in ("kpis", "facility_kpis", "disruption_kpis")}
    files = {t: pq.ParquetFile(p) for t, p in paths.items()}
    rows = {t: f.metadata.num_rows for t, f in files.items()}
    cols = {t: list(f.schema_arrow.names) for t, f in files.items()}
    risk_cols = [c for c in cols["kpis"] if c in {"shortfall_t", "cut_run_days", *COST_RISK_KPIS}
                 or c.startswith("cut_run_days_") or (c.startswith("shortfall_") and c.endswith("_t"))]
    kpis = pd.read_parquet(paths["kpis"], columns=risk_cols) if rows["kpis"] else pd.DataFrame()
    fk = pd.read_parquet(paths["facility_kpis"], columns=[c for c in ("facility", "kind") if c in cols["facility_kpis"]])
    summary = {
        "replications": rows["kpis"],
        "kpis": summary_records(paths["kpis"]) if rows["kpis"] else [],
        "facility_kpis": summary_records(paths["facility_kpis"], by="facility", drop=["kind"])
        if rows["facility_kpis"] else [],
        "disruption_kpis": summary_records(paths["disruption_kpis"], by="disruption", drop=["kind"])
        if rows["disruption_kpis"] and "disruption" in cols["disruption_kpis"] else [],
        "risk": risk_summary(kpis, _refinery_names(fk)) if rows["kpis"] else None,
    }
    costs = cost_summary(kpis) if rows["kpis"] else None
    if costs is not None:
        summary["costs"] = costs
    atomic_write_json(folder / "summary.json", summary)
    return summary


# --------------------------------------------------------------------------- reading a run


@dataclass
class RunResult:
    """A run on disk.  Tables are read on first use (``timeseries`` can be large)."""

    path: Path
    manifest: dict[str, Any]
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def status(self) -> str:
        return str(self.manifest.get("status", "unknown"))

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def table(self, name: str) -> pd.DataFrame:
        if name not in TABLES:
            raise UserError(f"no table {name!r} in a run; tables are {', '.join(TABLES)}")
        if name not in self._cache:
            if self._from_finals():
                self._cache[name] = read_concat(self.path, name)
            else:
                try:
                    self._cache[name] = read_concat(self.path, name, self.blocks)
                except FileNotFoundError:  # the run finished (its parts removed) since the blocks were listed
                    raise UserError(f"{self.path}: the run finished or changed while it was being read; "
                                    "open it again") from None
        return self._cache[name]

    def _from_finals(self) -> bool:
        """Whether this result's tables are the final Parquet files or the whole blocks,
        decided once, on the first table read, so that every table covers the same
        replications even if the run finishes while it is read: the finals when the
        manifest says complete, or when no block is left beside them (an unfinished
        manifest over a finished run's tables); otherwise the blocks (a run closing writes
        its finals before it says complete, and removes its blocks only after)."""
        if "finals" not in self._cache:
            self._cache["finals"] = self.complete or (not finished_blocks(self.path)
                                                      and (self.path / "kpis.parquet").exists())
        return bool(self._cache["finals"])

    @property
    def blocks(self) -> list[Block]:
        """The blocks an unfinished run's tables are read from: those whose every part
        still has the SHA-256 recorded when it was written (:func:`sim.results.parts.
        whole_blocks`, the check ``--resume`` makes).  A block an OS crash left torn (a
        short file, or data pages never written back that read as zeros) is left out, not
        read as data, and not deleted (a resume drops it).  Taken once, on the first
        table read, so every table of this result covers the same replications even while
        a run is still adding blocks."""
        if "blocks" not in self._cache:
            self._cache["blocks"] = whole_blocks(self.path)
        return self._cache["blocks"]

    @property
    def kpis(self) -> pd.DataFrame:
        return self.table("kpis")

    @property
    def facility_kpis(self) -> pd.DataFrame:
        return self.table("facility_kpis")

    @property
    def disruption_kpis(self) -> pd.DataFrame:
        return self.table("disruption_kpis")

    @property
    def timeseries(self) -> pd.DataFrame:
        return self.table("timeseries")

    @property
    def voyages(self) -> pd.DataFrame:
        return self.table("voyages")

    @property
    def waits(self) -> pd.DataFrame:
        return self.table("waits")

    @property
    def passages(self) -> pd.DataFrame:
        return self.table("passages")

    @property
    def balance(self) -> pd.DataFrame:
        return self.table("balance")

    @property
    def cargoes(self) -> pd.DataFrame:
        return self.table("cargoes")

    @property
    def rail_trips(self) -> pd.DataFrame:
        """A row per loaded train trip of the rail services (:func:`sim.results.tables.rail_trip_columns`)."""
        return self.table("rail_trips")

    @property
    def decisions(self) -> pd.DataFrame:
        """A row per decision of an operating policy (``sim.results.tables.decision_columns``)."""
        return self.table("decisions")

    @property
    def nominations(self) -> pd.DataFrame:
        return self.table("nominations")

    @property
    def summary(self) -> pd.DataFrame:
        """Mean, std, p5, p50, p95 of every run-level KPI over the replications."""
        if "summary" not in self._cache:
            self._cache["summary"] = summarise(self.kpis).set_index("kpi")
        return self._cache["summary"]

    @property
    def scenario(self) -> Scenario:
        if "scenario" not in self._cache:
            self._cache["scenario"] = load_scenario(self.path / "scenario.yaml")
        return self._cache["scenario"]

    def __repr__(self) -> str:
        m = self.manifest
        return (f"RunResult({str(self.path)!r}, scenario={m.get('scenario')!r}, status={self.status!r}, "
                f"replications={m.get('replications_done')}/{m.get('replications')}, seed={m.get('seed')})")


def open_run(path: str | os.PathLike[str]) -> RunResult:
    """Reload a saved run (complete, or the finished replications of an incomplete one: the
    blocks that pass the torn-block check, :attr:`RunResult.blocks`)."""
    folder = Path(path)
    return RunResult(folder, read_manifest(folder))


__all__ = [
    "ENVIRONMENT_ERRNOS", "FORMAT_VERSION", "LOCK", "LOCK_PID", "MAX_MANIFEST_BYTES", "PARTS", "PART_EXT",
    "RUN_MARKER", "SUMMARY_TABLES", "TABLES", "Assembler", "Block", "CitedFigure", "FailureNote", "GitInfo", "Manifest", "RunLock",
    "RunResult", "as_arrow", "assemble", "atomic_write_bytes", "atomic_write_json", "atomic_write_text",
    "block_table", "decode_part", "drop_broken_blocks", "encode_part", "environment_problem", "finished_blocks",
    "git_commit", "git_info", "join_columns",
    "load_manifest", "lock_run", "new_run_dir", "open_run", "package_versions", "read_concat", "read_manifest",
    "remove_parts", "remove_temporaries", "scenario_data", "scenario_hash", "unlock_run", "utc_now", "whole_blocks",
    "write_block",
    "write_manifest", "write_parquet", "write_scenario_yaml", "write_summary", "write_summary_from_tables",
]
