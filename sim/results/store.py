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
    summary.json           mean, std, p5, p50, p95 of every KPI over the replications
    parts/                 while running: one folder per finished block of replications
                           (Arrow IPC files, joined into the Parquet tables at the end)

The run id is the UTC start time plus a short hash of the resolved scenario
(``20210101T120000Z-3f2a9c1e``); no random ids, so nothing about a run depends on chance.
Two runs never share a folder: the folder is created exclusively (a ``-2``, ``-3``...
suffix when two start in the same second).

Crash safety: every file is written to a temporary name and moved into place with
``os.replace``; a block of replications is written into a temporary folder that is renamed
into ``parts/`` only when all of its tables are on disk.  The manifest says ``incomplete``
until the final tables and ``summary.json`` exist, and is rewritten ``complete`` last.  A
``kill -9`` at any moment therefore leaves either finished blocks or nothing, and never a
file that looks complete but is not; ``routesim run --resume DIR`` continues from the
finished blocks.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import json
import math
import os
import platform
import re
import shutil
import subprocess
import threading
import typing
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from difflib import get_close_matches
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from sim import units
from sim.errors import Problem, ScenarioError, UserError
from sim.scenario.language import Scenario
from sim.scenario.quantities import Unit

FORMAT_VERSION = 1
TABLES = ("kpis", "facility_kpis", "disruption_kpis", "timeseries", "voyages", "waits")
PARTS = "parts"
PART_EXT = ".arrow"  # blocks are Arrow IPC files: written and read back several times faster than Parquet
RUN_MARKER = ".routesim-run"

# --------------------------------------------------------------------------- scenario as data

_UNIT_SUFFIX = {
    units.parse_duration: "h", units.parse_mass: " t", units.parse_rate: " t/d",
    units.parse_distance: " nm", units.parse_speed: " kn", units.parse_length: " m", units.parse_memory: " B",
}


def _parser_of(metadata_items: typing.Iterable[Any]) -> Any:
    """The unit parser behind a field's BeforeValidator, or None for a plain field."""
    for m in metadata_items:
        if isinstance(m, Unit):  # a quantity declares its unit (sim.scenario.quantities)
            return m.parse
        if not isinstance(m, BeforeValidator):
            continue
        if m.func is units.parse_clock or m.func is units.parse_date:
            return m.func
        for cell in getattr(m.func, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if value in _UNIT_SUFFIX:
                return value
    return None


def _value_data(value: Any, annotation: Any, field_meta: typing.Iterable[Any] = ()) -> Any:
    """A validated value back as YAML data that validates to the same value (units written out)."""
    if value is None:
        return None
    if isinstance(value, BaseModel):
        return scenario_data(value)
    parser = _parser_of(field_meta)
    if not isinstance(value, (tuple, list, dict)):
        for member in _members(annotation):
            if typing.get_origin(member) is typing.Annotated:
                parser = parser or _parser_of(typing.get_args(member)[1:])
    if isinstance(value, (tuple, list)):
        inner = _element_types(annotation, len(value))
        return [_value_data(v, t) for v, t in zip(value, inner)]
    if isinstance(value, dict):
        vt = _dict_value_type(annotation)
        return {k: _value_data(v, vt) for k, v in value.items()}
    if isinstance(value, _dt.date):
        return value.isoformat()
    if parser is units.parse_clock and isinstance(value, float):
        minutes = round(value * 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    if parser in _UNIT_SUFFIX and isinstance(value, float):
        return f"{value!r}{_UNIT_SUFFIX[parser]}"
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def _members(annotation: Any) -> list[Any]:
    """The members of a union (Optional[X] -> [X]); [annotation] otherwise."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _element_types(annotation: Any, n: int) -> list[Any]:
    for member in _members(annotation):
        if typing.get_origin(member) is typing.Annotated:
            member = typing.get_args(member)[0]
        if typing.get_origin(member) in (tuple, list):
            args = typing.get_args(member)
            if len(args) == 2 and args[1] is Ellipsis:
                return [args[0]] * n
            if typing.get_origin(member) is list and args:
                return [args[0]] * n
            if len(args) == n:
                return list(args)
    return [Any] * n


def _dict_value_type(annotation: Any) -> Any:
    for member in _members(annotation):
        if typing.get_origin(member) is dict:
            return typing.get_args(member)[1]
    return Any


def scenario_data(model: BaseModel) -> dict[str, Any]:
    """A validated scenario (or part of one) as plain YAML data, units written out exactly.

    ``Scenario.model_validate(scenario_data(s), ...) == s``: numbers are written with full
    precision in the internal unit ("85000.0 t", "36.0h", "24657.5 t/d"), so the resolved
    file of a run reproduces the run.  Fields left at None are left out.
    """
    out: dict[str, Any] = {}
    for name, f in type(model).model_fields.items():
        value = getattr(model, name)
        if value is None:
            continue
        if isinstance(value, BaseModel):
            out[f.alias or name] = scenario_data(value)
            continue
        out[f.alias or name] = _value_data(value, f.annotation, f.metadata)
    return out


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the validated scenario's canonical JSON (units resolved, defaults filled)."""
    text = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- atomic files


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, and move it into place."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk or a read-only folder leaves no stray temporary file
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if not math.isfinite(float(o)) else float(o)
    if isinstance(o, (_dt.date, _dt.datetime)):
        return o.isoformat()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__} to JSON")


def _clean(o: Any) -> Any:
    """NaN and infinity as null: JSON has no NaN."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(_clean(data), indent=2, default=_json_default, allow_nan=False) + "\n")


def _write_parquet_atomic(path: Path, table: pa.Table) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- provenance


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the numbers."""
    out = {"python": platform.python_version()}
    for dist in ("routesim", "numpy", "pandas", "simpy", "pydantic", "pyarrow", "pyyaml", "dask", "distributed"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_commit() -> dict[str, Any] | None:
    """The commit of the checkout the package runs from (and whether it has local changes)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "sim"], cwd=root,
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(dirty)}


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        raise UserError(environment_problem(e, folder.parent) or f"cannot create {folder.parent}: {e.strerror or e}") from None


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
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
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
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    atomic_write_text(folder / "scenario.yaml", header + text)


# --------------------------------------------------------------------------- the manifest


class GitInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    commit: str = Field(pattern=r"^[0-9a-f]{7,64}$")
    dirty: bool = False


class CitedFigure(BaseModel):
    """A figure of the scenario source that cites a seed entry (``# seed: key``), as it was
    when the run started, with the seed entry it cited then: the brief's citation table
    comes from these, never from the source or seeds/ as they are later."""

    model_config = ConfigDict(extra="forbid", strict=True)
    file: str = Field(max_length=300)
    item: str = Field(max_length=200)
    field: str = Field(max_length=300)
    value: str = Field(max_length=200)
    seed: str = Field(max_length=200)
    seed_value: str | None = Field(default=None, max_length=200)
    confidence: str | None = Field(default=None, max_length=20)
    seed_source: str | None = Field(default=None, max_length=2000)
    overridden: str | None = Field(default=None, max_length=2000)  # the --set that replaced the figure


_Text = Annotated[str, Field(max_length=10_000)]
_Count = Annotated[int, Field(ge=0, le=10_000_000)]


class FailureNote(BaseModel):
    """The replication that stopped a run with an internal error, and the error's first line."""

    model_config = ConfigDict(extra="forbid", strict=True)
    replication: _Count
    error: _Text


class Manifest(BaseModel):
    """``manifest.json`` of a run (or of an analysis folder: ``analysis`` set).

    A run folder is data people share and download, so every field is untrusted when read
    back: unknown fields are refused (a folder cannot add one that some code would act on),
    every value is checked for its type and range, and nothing in it names code to import.
    The run always uses the built-in model; a Python caller may pass ``model=`` explicitly.
    Written by the runner, :mod:`sim.analysis.criticality` and :mod:`sim.analysis.attribution`.
    """

    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True)

    format_version: Literal[1] | None = None
    analysis: Literal["criticality", "attribution"] | None = None
    routesim_run: _Text | None = None
    scenario: _Text | None = None
    scenario_hash: str | None = Field(default=None, pattern=r"^[0-9a-f]{1,64}$")
    scenario_source: _Text | None = None  # where the scenario was read from; shown, never read
    overrides: list[_Text] | None = None
    seed: int | None = Field(default=None, ge=0, lt=2**63)
    replications: int | None = Field(default=None, ge=1, le=10_000_000)
    replications_done: _Count | None = None
    executor: Literal["local", "serial", "dask"] | None = None
    workers: int | None = Field(default=None, ge=1, le=100_000)
    scheduler: _Text | None = None
    # legacy: manifests before this schema named the model function; only the built-in
    # one is accepted (and ignored), so an edited folder cannot choose code to run
    model: Literal["sim.model.simulate"] | None = Field(default=None, exclude=True)
    held_back: bool | None = None  # each disruption's flow held back, from paired replications
    status: Literal["complete", "incomplete"] | None = None
    failure: FailureNote | None = None  # the replication that stopped the run, when one did
    created_utc: _Text | None = None
    finished_utc: _Text | None = None
    wall_time_s: float | None = Field(default=None, ge=0)
    versions: dict[str, _Text] | None = None
    git: GitInfo | None = None
    command: _Text | None = None
    tables: list[_Text] | None = None
    citations: list[CitedFigure] | None = None
    # criticality
    closure_duration_h: float | None = Field(default=None, gt=0)
    closure_start: _Text | None = None
    closure_start_h: float | None = None
    facilities: list[_Text] | None = None
    # attribution
    disruptions: list[_Text] | None = None

    @model_validator(mode="after")
    def _done_within_asked(self) -> "Manifest":
        if self.replications is not None and (self.replications_done or 0) > self.replications:
            raise ValueError(f"replications_done ({self.replications_done}) is more than replications "
                             f"({self.replications})")
        return self

    def as_dict(self) -> dict[str, Any]:
        """The fields that are set, as plain data (``model`` never: it is not kept)."""
        return self.model_dump(mode="json", exclude_none=True)


def _manifest_problems(f: Path, text: str, e: ValidationError) -> list[Problem]:
    lines = text.splitlines()
    names = list(Manifest.model_fields)
    out = []
    for err in e.errors():
        loc = tuple(err["loc"])
        key = str(loc[0]) if loc else ""
        line = next((k + 1 for k, ln in enumerate(lines) if re.match(rf'\s*"{re.escape(key)}"\s*:', ln)), None)
        got = err.get("input")
        shown = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        if err["type"] == "extra_forbidden" and len(loc) == 1:
            near = get_close_matches(key, names, n=1, cutoff=0.6)
            msg = f"{key!r} is not a manifest field"
            hint = (f"did you mean {near[0]!r}?" if near else f"valid fields: {', '.join(names)}")
        elif key == "model" and len(loc) == 1:
            msg = f"names code to run ({shown}); a run folder never chooses code"
            hint = ("routesim always runs its built-in model (the only value accepted here is "
                    "'sim.model.simulate'); delete the line if you trust the rest of the folder")
        else:
            msg = f"{err['msg'].lower()} (got {shown})"
            hint = None
        out.append(Problem(str(f), line, None, loc, msg, hint))
    return out


def load_manifest(folder: str | os.PathLike[str]) -> Manifest:
    """The validated manifest of a run folder; a :class:`ScenarioError` naming the file, the
    line and the field of every bad value, or a :class:`UserError` for a missing one."""
    p = Path(folder)
    f = p / "manifest.json"
    if not p.is_dir():
        raise UserError(f"{p}: no such run folder (give the folder a run wrote, e.g. results/<scenario>/<run-id>)")
    if not f.exists():
        raise UserError(f"{p}: not a run folder (no manifest.json)")
    try:
        if f.stat().st_size > MAX_MANIFEST_BYTES:
            raise UserError(f"{f}: {f.stat().st_size:,} bytes is too large for a manifest "
                            f"(at most {MAX_MANIFEST_BYTES // 2**20} MiB); this is not a routesim run folder")
        text = f.read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, ValueError) as e:
        raise UserError(f"{f}: cannot read the manifest: {e}") from None
    if not isinstance(data, dict):
        raise UserError(f"{f}: cannot read the manifest: it holds {type(data).__name__}, not a JSON object")
    try:
        return Manifest.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(_manifest_problems(f, text, e)) from None


MAX_MANIFEST_BYTES = 16 * 2**20


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The validated manifest of a run folder as plain data (see :func:`load_manifest`)."""
    return load_manifest(folder).as_dict()


def write_manifest(folder: Path, manifest: Manifest | dict[str, Any]) -> None:
    """Write ``manifest.json`` atomically; a dict is validated as a :class:`Manifest` first,
    so what is written is what :func:`load_manifest` accepts."""
    if isinstance(manifest, Manifest):
        m = manifest
    else:  # plain data (numpy numbers, dates) as JSON would carry it, then checked
        m = Manifest.model_validate(json.loads(json.dumps(_clean(dict(manifest)), default=_json_default)))
    atomic_write_json(folder / "manifest.json", m.as_dict())


# --------------------------------------------------------------------------- blocks of replications


@dataclass(frozen=True)
class Block:
    """Replications ``start`` to ``stop - 1``, stored in ``parts/r<start>-<stop>/``."""

    start: int
    stop: int
    path: Path

    @property
    def replications(self) -> range:
        return range(self.start, self.stop)


def _block_name(start: int, stop: int) -> str:
    return f"r{start:07d}-{stop:07d}"


def finished_blocks(folder: Path) -> list[Block]:
    """The blocks on disk, in replication order (temporary folders are ignored)."""
    parts = folder / PARTS
    out = []
    if parts.is_dir():
        for d in parts.iterdir():
            if not d.is_dir() or not d.name.startswith("r"):
                continue
            try:
                a, b = d.name[1:].split("-")
                out.append(Block(int(a), int(b), d))
            except ValueError:
                continue
    return sorted(out, key=lambda b: b.start)


def remove_temporaries(folder: Path) -> None:
    """Drop half-written blocks and temporary files a killed run left behind."""
    parts = folder / PARTS
    if parts.is_dir():
        for d in parts.iterdir():
            if d.name.startswith(".tmp"):
                shutil.rmtree(d, ignore_errors=True)
    for f in folder.glob(".*.tmp-*"):
        f.unlink(missing_ok=True)


def _to_arrow(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)


def write_parquet(path: Path, df: pd.DataFrame) -> None:
    """A DataFrame as a Parquet file, written atomically (the analysis tables: sweep,
    criticality, attribution)."""
    _write_parquet_atomic(path, _to_arrow(df))


def as_arrow(part: Any) -> pa.Table:
    """A DataFrame or a dict of numpy columns as an Arrow table."""
    if isinstance(part, pa.Table):
        return part
    if isinstance(part, pd.DataFrame):
        return _to_arrow(part)
    return pa.table({k: pa.array(v, from_pandas=True) for k, v in part.items()})


def join_columns(parts: list[dict[str, np.ndarray]]) -> pa.Table:
    """Consecutive replications' columns of one table (each a dict of numpy columns) as one
    Arrow table: the same table as converting each part with :func:`as_arrow` and joining
    them as :func:`write_block` does, built with one conversion per column instead of one
    per column and replication when every part has the same columns and dtypes (the common
    case); otherwise part by part."""
    parts = [p for p in parts if p]
    if not parts:
        return pa.table({})
    names = list(parts[0])
    same = all(list(p) == names and all(p[k].dtype == parts[0][k].dtype for k in names) for p in parts[1:])
    if same and sum(len(p[names[0]]) for p in parts):
        cols = {}
        for k in names:
            col = pa.array(np.concatenate([p[k] for p in parts]) if len(parts) > 1 else parts[0][k],
                           from_pandas=True)
            if parts[0][k].dtype == object and not (pa.types.is_string(col.type) or pa.types.is_null(col.type)):
                break  # mixed Python objects: leave type inference and unification to each part
            cols[k] = col
        else:
            return pa.table(cols)
    pieces = [as_arrow(p) for p in parts]
    pieces = [p for p in pieces if p.num_columns]
    schema = _schema_of([(t.schema, t.num_rows) for t in pieces])
    return pa.concat_tables([_conform(t, schema) for t in pieces])


def block_table(parts: Iterable[Any]) -> pa.Table:
    """One table of a block from its parts in replication order (DataFrames, Arrow tables
    or dicts of numpy columns; columns unified); a table with no parts is an empty
    ``replication`` column."""
    pieces = [as_arrow(f) for f in parts if f is not None]
    pieces = [p for p in pieces if p.num_columns]
    if not pieces:
        return pa.table({"replication": pa.array([], pa.int64())})
    if len(pieces) == 1:
        return pieces[0]
    schema = _schema_of([(t.schema, t.num_rows) for t in pieces])
    return pa.concat_tables([_conform(t, schema) for t in pieces])


def encode_part(table: pa.Table) -> pa.Buffer:
    """A block's table as the bytes of its part file (Arrow IPC, LZ4-compressed): a worker
    encodes its block once, and the parent writes the bytes as they are."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema, options=_IPC_OPTIONS) as writer:
        writer.write_table(table)
    return sink.getvalue()


def write_block(folder: Path, start: int, stop: int, tables: dict[str, Any]) -> Block:
    """Write one block of consecutive replications atomically (a folder renamed into place).

    ``tables`` maps each table name to its parts in replication order (see
    :func:`block_table`), or to the part file's bytes from :func:`encode_part`.
    """
    parts = folder / PARTS
    parts.mkdir(exist_ok=True)
    name = _block_name(start, stop)
    tmp = parts / f".tmp-{name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    for table in TABLES:
        entry = tables.get(table, [])
        if isinstance(entry, (bytes, pa.Buffer)):
            with open(tmp / f"{table}{PART_EXT}", "wb") as fh:
                fh.write(entry)
        else:
            _write_part(tmp / f"{table}{PART_EXT}", block_table(entry))
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    final = parts / name
    os.rename(tmp, final)
    return Block(start, stop, final)


def _unify(types: list[pa.DataType]) -> pa.DataType:
    real = [t for t in types if not pa.types.is_null(t)]
    if not real:
        return pa.float64()
    if all(t == real[0] for t in real):
        return real[0]
    if all(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) for t in real):
        return pa.float64()
    if all(pa.types.is_string(t) or pa.types.is_large_string(t) for t in real):
        return pa.large_string() if any(pa.types.is_large_string(t) for t in real) else pa.string()
    return real[0]


def _schema_of(schemas: list[tuple[pa.Schema, int]]) -> pa.Schema:
    """One schema for parts with these (schema, rows): columns in first-seen order, types
    unified; an empty part's column types do not count (an empty column has no type)."""
    names: list[str] = []
    types: dict[str, list[pa.DataType]] = {}
    for schema, rows in schemas:
        for fld in schema:
            if fld.name not in types:
                names.append(fld.name)
                types[fld.name] = []
            types[fld.name].append(fld.type if rows else pa.null())
    return pa.schema([pa.field(n, _unify(types[n])) for n in names])


# the time series repeats its names, days and replication number on every row: LZ4 makes
# a block's parts ~6x smaller for ~0.4 ms per replication, less than moving the raw bytes
_IPC_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")


def _write_part(path: Path, table: pa.Table) -> None:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema, options=_IPC_OPTIONS) as writer:
        writer.write_table(table)


def _read_part(path: Path) -> pa.Table:
    with pa.memory_map(str(path), "r") as source:
        return pa.ipc.open_file(source).read_all()


def _part_schema(path: Path) -> tuple[pa.Schema, int]:
    with pa.memory_map(str(path), "r") as source:
        reader = pa.ipc.open_file(source)
        rows = sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
        return reader.schema, rows


def _union_schema(files: list[Path]) -> pa.Schema:
    return _schema_of([_part_schema(f) for f in files])


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Add missing columns (0 for dependency shares, null otherwise) and cast to ``schema``."""
    if table.schema.equals(schema, check_metadata=False):
        return table
    cols = []
    for fld in schema:
        if fld.name in table.column_names:
            col = table.column(fld.name)
            cols.append(col.cast(fld.type) if col.type != fld.type else col)
        elif fld.name.startswith("share_") and pa.types.is_floating(fld.type):
            # a route or origin that delivered nothing in these replications has a 0 % share
            cols.append(pa.array(np.zeros(table.num_rows), fld.type))
        else:
            cols.append(pa.nulls(table.num_rows, fld.type))
    return pa.Table.from_arrays(cols, schema=schema)


class Assembler:
    """Writes the final tables while a run streams, so little is left to do at the end.

    Each block is appended to every table's Parquet file (a temporary file until the run is
    complete) as soon as all blocks before it are on disk, in replication order, exactly as
    :func:`assemble` would write it: conformed to the union schema of the blocks.  That
    schema is only known at the end, so a table keeps being written only while no block
    changes it (a new column, a wider type); a table whose schema changed is left to
    :func:`assemble`, which joins it from the blocks as usual.  Memory: one block.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.next = 0                    # replications before this are appended
        self.waiting: dict[int, Block] = {}
        self.names: dict[str, list[str]] = {t: [] for t in TABLES}
        self.types: dict[str, dict[str, list[pa.DataType]]] = {t: {} for t in TABLES}
        self.writers: dict[str, tuple[pq.ParquetWriter, pa.Schema, Path]] = {}
        self.dropped: set[str] = set()

    def add(self, block: Block) -> None:
        """A block is on disk: append it, and any blocks waiting for it, in order."""
        self.waiting[block.start] = block
        while self.next in self.waiting:
            b = self.waiting.pop(self.next)
            for table in TABLES:
                if table not in self.dropped:
                    self._append(table, _read_part(b.path / f"{table}{PART_EXT}"))
            self.next = b.stop

    def _schema(self, table: str, part: pa.Table) -> tuple[pa.Schema, bool]:
        """The union schema of the parts so far, as :func:`_schema_of` makes it (distinct
        types per column in first-seen order unify the same way), and whether every column
        has a real (non-null) type."""
        names, types = self.names[table], self.types[table]
        for fld in part.schema:
            if fld.name not in types:
                names.append(fld.name)
                types[fld.name] = []
            t = fld.type if part.num_rows else pa.null()
            if t not in types[fld.name]:
                types[fld.name].append(t)
        typed = all(any(not pa.types.is_null(t) for t in types[n]) for n in names)
        return pa.schema([pa.field(n, _unify(types[n])) for n in names]), typed

    def _append(self, table: str, part: pa.Table) -> None:
        schema, typed = self._schema(table, part)
        if table not in self.writers:
            if not part.num_rows:
                return  # nothing to write yet; its columns count in the schema
            if not typed:
                self._drop(table)
                return
            tmp = self.folder / f".{table}.parquet.tmp-{os.getpid()}"
            self.writers[table] = (pq.ParquetWriter(tmp, schema), schema, tmp)
        writer, wschema, _ = self.writers[table]
        if not schema.equals(wschema, check_metadata=False):
            self._drop(table)
        elif part.num_rows:
            writer.write_table(_conform(part, wschema))

    def _drop(self, table: str) -> None:
        self.dropped.add(table)
        entry = self.writers.pop(table, None)
        if entry is not None:
            try:
                entry[0].close()
            except Exception:  # noqa: BLE001 - an interrupted write; the file is discarded anyway
                pass
            entry[2].unlink(missing_ok=True)

    def finish(self, replications: int) -> set[str]:
        """Close the files; if every replication was appended, move them into place.
        Returns the tables written (the others are for :func:`assemble`)."""
        done = set()
        for table, (writer, _, tmp) in list(self.writers.items()):
            writer.close()
            if self.next == replications:
                os.replace(tmp, self.folder / f"{table}.parquet")
                done.add(table)
            else:
                tmp.unlink(missing_ok=True)
        self.writers.clear()
        return done

    def abort(self) -> None:
        """Stop without writing anything final (an interrupted run)."""
        for table in list(self.writers):
            self._drop(table)


def assemble(folder: Path, replications: int, skip: Iterable[str] = ()) -> None:
    """Join the blocks into the final tables (except those in ``skip``, already written by
    an :class:`Assembler`), sorted by replication, streaming one block at a time (memory
    stays at one block).  Raises if a replication is missing."""
    blocks = finished_blocks(folder)
    covered = [i for b in blocks for i in b.replications]
    if covered != list(range(replications)):
        missing = sorted(set(range(replications)) - set(covered))
        raise RuntimeError(f"cannot assemble {folder}: replications missing ({missing[:10]}...)")
    todo = [t for t in TABLES if t not in set(skip)]

    def join(table: str) -> None:
        files = [b.path / f"{table}{PART_EXT}" for b in blocks]
        schema = _union_schema(files)
        target = folder / f"{table}.parquet"
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        with pq.ParquetWriter(tmp, schema) as writer:
            for f in files:
                t = _read_part(f)
                if t.num_rows:
                    writer.write_table(_conform(t, schema))
        os.replace(tmp, target)

    # one thread per table: Arrow reads and Parquet encoding run outside the GIL, so the
    # tables are written side by side on all cores (the time series dominates)
    with ThreadPoolExecutor(max_workers=min(len(TABLES), os.cpu_count() or 1)) as pool:
        for done in [pool.submit(join, table) for table in todo]:
            done.result()


def remove_parts(folder: Path) -> None:
    shutil.rmtree(folder / PARTS, ignore_errors=True)


def read_concat(folder: Path, table: str) -> pd.DataFrame:
    """One table of a run: the final file, or the finished blocks of an incomplete run."""
    final = folder / f"{table}.parquet"
    if final.exists():
        return pd.read_parquet(final)
    files = [b.path / f"{table}{PART_EXT}" for b in finished_blocks(folder)]
    if not files:
        return pd.DataFrame()
    schema = _union_schema(files)
    return pa.concat_tables([_conform(_read_part(f), schema) for f in files]).to_pandas()


def write_summary(folder: Path, kpis: pd.DataFrame, facility_kpis: pd.DataFrame,
                  disruption_kpis: pd.DataFrame) -> dict[str, Any]:
    """``summary.json``: the distribution of every KPI (run, per facility, per disruption)."""
    from sim.results.metrics import summarise

    def records(df: pd.DataFrame) -> list[dict[str, Any]]:
        return df.to_dict(orient="records")

    summary = {
        "replications": int(len(kpis)),
        "kpis": records(summarise(kpis)) if len(kpis) else [],
        "facility_kpis": records(summarise(facility_kpis.drop(columns=["kind"], errors="ignore"), by="facility"))
        if len(facility_kpis) else [],
        "disruption_kpis": records(summarise(disruption_kpis.drop(columns=["kind"], errors="ignore"), by="disruption"))
        if len(disruption_kpis) and "disruption" in disruption_kpis else [],
    }
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
            self._cache[name] = read_concat(self.path, name)
        return self._cache[name]

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
    def summary(self) -> pd.DataFrame:
        """Mean, std, p5, p50, p95 of every run-level KPI over the replications."""
        if "summary" not in self._cache:
            from sim.results.metrics import summarise

            self._cache["summary"] = summarise(self.kpis).set_index("kpi")
        return self._cache["summary"]

    @property
    def scenario(self) -> Scenario:
        if "scenario" not in self._cache:
            from sim.scenario.loader import load_scenario

            self._cache["scenario"] = load_scenario(self.path / "scenario.yaml")
        return self._cache["scenario"]

    def __repr__(self) -> str:
        m = self.manifest
        return (f"RunResult({str(self.path)!r}, scenario={m.get('scenario')!r}, status={self.status!r}, "
                f"replications={m.get('replications_done')}/{m.get('replications')}, seed={m.get('seed')})")


def open_run(path: str | os.PathLike[str]) -> RunResult:
    """Reload a saved run (complete, or the finished replications of an incomplete one)."""
    folder = Path(path)
    return RunResult(folder, read_manifest(folder))



__all__ = ["Manifest", "RunResult", "open_run", "load_manifest", "scenario_data", "scenario_hash", "TABLES"]
