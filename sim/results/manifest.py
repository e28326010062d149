"""``manifest.json`` of a run: what was run, how, and with which versions; typed, and
validated again whenever it is read back (a run folder is data people share).

:class:`Manifest` is the schema; :func:`load_manifest` reads and checks it (every problem at
its line and field), :func:`write_manifest` writes what :func:`load_manifest` accepts, and
the provenance helpers fill its ``versions``, ``git`` and time fields.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import platform
import re
import subprocess
from difflib import get_close_matches
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.errors import Problem, ScenarioError, UserError
from sim.results.files import atomic_write_json, json_clean, json_default, json_of, read_text_file

FORMAT_VERSION: Final = 1  # Final: its type is Literal[1], what Manifest.format_version accepts

# --------------------------------------------------------------------------- provenance


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the numbers (a new dict each call)."""
    return dict(_package_versions())


@functools.cache
def _package_versions() -> dict[str, str]:
    # read once per process: the code that runs is what this process imported, whatever is
    # installed later; importlib.metadata scans every distribution on sys.path for each of
    # the ten names, 70 ms of CPU under load, which an analysis paid again for its own
    # manifest after its runs had read them (sim.runner._provenance)
    out = {"python": platform.python_version()}
    for dist in ("routesim", "numpy", "pandas", "simpy", "pydantic", "pyarrow", "pyyaml", "scipy", "dask", "distributed"):
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


def git_info() -> GitInfo | None:
    """:func:`git_commit` as the manifest's typed field."""
    found = git_commit()
    return None if found is None else GitInfo.model_validate(found)


def utc_now() -> str:
    """Now in UTC as ``2021-01-01T12:00:00Z`` (the manifest's time fields)."""
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


class ScenarioChange(BaseModel):
    """One thing a scenario changes relative to the file it ``extends`` (see
    :func:`sim.scenario.extends.scenario_changes`): an item of a section added, removed or
    changed, and which of its fields changed.  Names are the scenario's identifiers (user
    text: escaped wherever shown)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    section: str = Field(max_length=200, description="the scenario section, e.g. 'shipping.programmes'")
    item: str = Field(max_length=200, description="the item's name, or the top-level field's")
    change: Literal["added", "removed", "changed"]
    fields: list[Annotated[str, Field(max_length=300)]] = Field(default_factory=list, max_length=1000)


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
    analysis: Literal["criticality", "attribution", "exposure", "importance"] | None = None
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
    # the SHA-256 of each final file (the tables and summary.json, by file name), recorded
    # when the run completes; sim.runner.reuse checks them before it reuses the run
    table_sha256: dict[Annotated[str, Field(max_length=200)],
                       Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]] | None = Field(default=None, max_length=1000)
    citations: list[CitedFigure] | None = None
    # what the scenario changes relative to the file it extends (as written: a relative name)
    extends: _Text | None = None
    changes: list[ScenarioChange] | None = Field(default=None, max_length=100_000)
    # a run an analysis copied instead of computing it (sim.runner.reuse): the run it was
    # copied from, by its run id (a folder name, never a path) and when it was copied
    reused_from: _Text | None = None
    reused_utc: _Text | None = None
    # criticality
    closure_duration_h: float | None = Field(default=None, gt=0)
    closure_start: _Text | None = None
    closure_start_h: float | None = None
    facilities: list[_Text] | None = None
    # attribution
    disruptions: list[_Text] | None = None

    @model_validator(mode="after")
    def _done_within_asked(self) -> Manifest:
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
        text = read_text_file(f, MAX_MANIFEST_BYTES)  # read once: the lines of any problem below too
        data = json_of(text)
    except (OSError, ValueError) as e:
        raise UserError(f"{f}: cannot read the manifest: {e}; this is not a routesim run folder") from None
    if not isinstance(data, dict):
        raise UserError(f"{f}: cannot read the manifest: it holds {_json_kind(data)}, not a JSON object")
    try:
        return Manifest.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(_manifest_problems(f, text, e)) from None


MAX_MANIFEST_BYTES = 16 * 2**20


def _json_kind(value: Any) -> str:
    """What a JSON document holds, in JSON's words ("an array", "a string")."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "a number"


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The validated manifest of a run folder as plain data (see :func:`load_manifest`)."""
    return load_manifest(folder).as_dict()


def write_manifest(folder: Path, manifest: Manifest | dict[str, Any]) -> None:
    """Write ``manifest.json`` atomically; a dict is validated as a :class:`Manifest` first,
    so what is written is what :func:`load_manifest` accepts."""
    if isinstance(manifest, Manifest):
        m = manifest
    else:  # plain data (numpy numbers, dates) as JSON would carry it, then checked
        m = Manifest.model_validate(json.loads(json.dumps(json_clean(dict(manifest)), default=json_default)))
    atomic_write_json(folder / "manifest.json", m.as_dict())



def extends_fields(source: str | os.PathLike[str] | None, scenario: Any) -> dict[str, Any]:
    """The manifest's ``extends`` and ``changes`` for a run of ``scenario`` read from the file
    ``source``: the base as the file names it, and what the scenario changes relative to the
    base validated on its own (:func:`sim.scenario.extends.scenario_changes` of the two
    resolved scenarios; ``--set`` overrides count as changes).  ``{}`` when the scenario was
    not read from a file or extends none; a base that no longer loads records no changes."""
    if source is None:
        return {}
    from sim.results.scenario_data import scenario_data
    from sim.scenario import extends, loader

    try:
        named = extends.base_file(source)
        if named is None:
            return {}
        base = loader.load_scenario(Path(source).parent / named)
    except ScenarioError:
        return {}
    changes = extends.scenario_changes(scenario_data(base), scenario_data(scenario))
    return {"extends": named, "changes": [ScenarioChange.model_validate(c) for c in changes]}
