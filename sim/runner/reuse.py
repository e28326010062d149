"""Reusing a run already on disk instead of computing it again.

An analysis pairs each of its runs with a baseline (criticality's undisrupted ``base``,
attribution's ``disrupted`` run) made with the same scenario, seed and replications.  When
such a run is already on disk, its numbers are the ones a new run would compute (a
replication depends only on the scenario, the seed and its index, see
:mod:`sim.runner`), so :func:`find_reusable` looks for one and the analysis copies it into
its own folder instead of simulating it again.

A folder is reused only when every one of these holds (:func:`reuse_problem` names the
first that does not):

* its manifest validates, is a run's (not an analysis's), says ``complete`` with every
  replication done and no failure, and has this store's format version;
* its scenario hash, seed, replications and ``held_back`` are the ones asked for, and its
  ``scenario.yaml`` still has that hash (an edited file is refused);
* it was made by the built-in model (a run of a Python caller's ``model=`` records
  :data:`CUSTOM_MODEL` as its source) and by the same code: the same versions of Python
  and of the packages that shape the numbers, and the same routesim source
  (:func:`source_fingerprint`, which the runner records in the manifest's ``versions`` as
  ``routesim_source``; runs made before it was recorded are never reused);
* the manifest lists every table this code writes, each a readable Parquet file (its
  footer is read) and, like the manifest, ``scenario.yaml`` and ``summary.json``, a file of
  its own (not a link); the ``kpis`` table holds exactly replications ``0 .. n-1``,
  ``summary.json`` exists, and no part files are left over;
* every table and ``summary.json`` still has the SHA-256 the runner recorded in the
  manifest's ``table_sha256`` when the run completed (:func:`file_digests`), so a table
  edited, replaced or cut short after the run is refused even when it is still a valid
  Parquet file with the right replications (runs made before the digests were recorded
  are never reused).  Hashing reads each file once (about 15 ms for the 7 MB of a
  280-replication baseline run), at write time and again before a reuse.

Only the built-in model is reused, on either side (a Python caller's ``model=`` is code a
folder cannot name).  The copy uses hard links where the file system allows (the store
never rewrites a finished file in place: it writes a new file and renames it), else plain
copies.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import os
import shutil
from pathlib import Path

from sim.results import store
from sim.results.files import file_sha256, read_json_file
from sim.scenario.language import Scenario

SOURCE_KEY = "routesim_source"  # the key of the source fingerprint in a manifest's ``versions``
NOT_COMPARED = frozenset({"dask", "distributed"})  # installed or not, they do not shape the numbers
# what a run made by a caller's own ``model=`` records as its source: its numbers are not the
# built-in model's, so it is never reused for a run of the built-in model
CUSTOM_MODEL = "custom model"


@functools.cache
def source_fingerprint() -> str:
    """A hash of every ``.py`` file of the ``sim`` package (path and bytes), so a run made by
    other code (an edited model, another commit, a dirty checkout) is told apart even when
    the version number is the same."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:32]


def code_versions(custom_model: bool = False) -> dict[str, str]:
    """What the runner records in ``versions``: the package versions and the source
    fingerprint (:data:`CUSTOM_MODEL` instead for a run of a caller's own ``model=``)."""
    return {**store.package_versions(), SOURCE_KEY: CUSTOM_MODEL if custom_model else source_fingerprint()}


def digested_files() -> tuple[str, ...]:
    """The files of a run whose SHA-256 the manifest records: every table, then the summary."""
    return (*(f"{t}.parquet" for t in store.TABLES), "summary.json")


def file_digests(folder: Path) -> dict[str, str]:
    """The SHA-256 (hex) of each of :func:`digested_files` in ``folder`` that exists, by file
    name: what the runner records in the manifest's ``table_sha256`` as a run completes."""
    out = {}
    for name in digested_files():
        f = folder / name
        if f.is_file():
            out[name] = file_sha256(f)
    return out


def digest_problem(folder: Path, recorded: dict[str, str] | None) -> str | None:
    """Why the files of ``folder`` are not the ones its manifest's ``table_sha256``
    (``recorded``) describes, naming the first that differs; None when every one matches."""
    if not recorded:
        return ("its manifest records no SHA-256 of its tables (made before they were recorded), so they cannot "
                "be checked")
    now = file_digests(folder)
    for name in digested_files():
        if name not in recorded:
            return f"its manifest records no SHA-256 of {name}"
        if name not in now:
            return f"{name} is missing"
        if now[name] != recorded[name]:
            return (f"{name} does not match the SHA-256 its manifest recorded (it was changed, replaced or cut "
                    "short after the run)")
    return None


def _compared(versions: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in versions.items() if k not in NOT_COMPARED}


def reuse_problem(folder: Path, scenario_hash: str, seed: int, replications: int, held_back: bool) -> str | None:
    """Why the run in ``folder`` cannot stand for a new run of (scenario hash, seed,
    replications, held back); None when it can (see the module docstring for the checks)."""
    import pyarrow.parquet as pq

    from sim.errors import ScenarioError, UserError

    try:
        m = store.load_manifest(folder)
    except (ScenarioError, UserError, OSError, ValueError) as e:
        return f"its manifest does not validate ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
    if m.analysis:
        return f"it holds a {m.analysis} analysis, not a run"
    if m.status != "complete" or m.failure is not None or m.replications_done != m.replications:
        return "it is not complete"
    if m.format_version != store.FORMAT_VERSION:
        return f"its format version is {m.format_version}, not {store.FORMAT_VERSION}"
    for name, want in (("scenario_hash", scenario_hash), ("seed", seed), ("replications", replications),
                       ("held_back", held_back)):
        got = getattr(m, name)
        if (bool(got) if name == "held_back" else got) != want:
            return f"its {name} is {got!r}, not {want!r}"
    if not m.versions or SOURCE_KEY not in m.versions:
        return "its manifest does not record the routesim source it was made by"
    if m.versions[SOURCE_KEY] == CUSTOM_MODEL:
        return "it was made by a caller's own model (model=), not the built-in one"
    if _compared(m.versions) != _compared(code_versions()):
        return "it was made by other code (routesim source or package versions differ)"
    try:
        from sim.scenario import loader

        if store.scenario_hash(loader.load_scenario(folder / "scenario.yaml")) != scenario_hash:
            return "its scenario.yaml was edited after the run (its hash no longer matches)"
    except (ScenarioError, UserError, OSError) as e:
        return f"its scenario.yaml does not load ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
    if m.tables != list(store.TABLES):  # this code lists every table it writes: a shorter list is not its run
        return f"its manifest lists the tables {m.tables!r}, not the {len(store.TABLES)} this code writes"
    own = ("manifest.json", "scenario.yaml", "summary.json", *(f"{t}.parquet" for t in store.TABLES))
    linked = next((name for name in own if (folder / name).is_symlink()), None)
    if linked is not None:  # a link could point anywhere (and change); the copy takes only files
        return f"{linked} is a link, not a file of the run's own"
    if (folder / store.PARTS).exists():
        return "part files are left over in it"
    if not (folder / "summary.json").is_file():
        return "summary.json is missing"
    for table in store.TABLES:
        f = folder / f"{table}.parquet"
        try:
            meta = pq.read_metadata(f)
        except (OSError, ValueError) as e:
            return f"{f.name} is not a readable Parquet file ({e})"
        if table == "kpis":
            reps = pq.read_table(f, columns=["replication"]).column(0).to_pylist()
            if reps != list(range(replications)) or meta.num_rows != replications:
                return f"{f.name} does not hold replications 0 to {replications - 1} once each"
    # last: a table can pass every check above and still not be the one the run wrote
    return digest_problem(folder, m.table_sha256)


def candidates(scenario: Scenario, root: str | os.PathLike[str]) -> list[Path]:
    """Run folders under ``root/<scenario>/`` (runs, and the runs inside analysis folders),
    newest first by manifest time."""
    base = Path(root) / scenario.name
    if not base.is_dir():
        return []
    found = [*base.glob("*/manifest.json"), *base.glob("*/runs/*/manifest.json"),
             *base.glob("*/attribution/*/manifest.json")]
    return [p.parent for p in sorted(found, key=_mtime, reverse=True)]


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


def _quick_match(folder: Path, scenario_hash: str, seed: int, replications: int, held_back: bool) -> bool:
    """A cheap look at the raw manifest before the full checks (most folders differ here):
    the folder claims to be a complete run of this scenario hash, seed, replications and
    held-back setting."""
    try:
        raw = read_json_file(folder / "manifest.json", store.MAX_MANIFEST_BYTES)
    except (OSError, ValueError):
        return False
    return (isinstance(raw, dict) and raw.get("scenario_hash") == scenario_hash and raw.get("seed") == seed
            and raw.get("replications") == replications and raw.get("status") == "complete"
            and bool(raw.get("held_back")) == held_back)


def find_reusable(scenario: Scenario, seed: int, replications: int, *, held_back: bool = False,
                  root: str | os.PathLike[str] = "results",
                  refused: list[tuple[Path, str]] | None = None) -> Path | None:
    """The newest run folder under ``root`` that can stand for a new run of this scenario,
    seed and replications (:func:`reuse_problem` finds nothing wrong with it), or None.
    ``refused``, when given, receives (folder, reason) for each folder newer than the one
    returned that claims this scenario hash, seed and replications but was refused."""
    h = store.scenario_hash(scenario)
    for folder in candidates(scenario, root):
        if not _quick_match(folder, h, seed, replications, held_back):
            continue
        why = reuse_problem(folder, h, seed, replications, held_back)
        if why is None:
            return folder
        if refused is not None:
            refused.append((folder, why))
    return None


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed: a copy
        shutil.copy2(src, dst)


class ReuseRefused(Exception):
    """The copy of a reusable run no longer matches the digests its manifest recorded (a
    file changed after :func:`find_reusable` checked it); the message says which file."""


def copy_run(src: Path, dst: Path) -> None:
    """The finished run ``src`` into the new folder ``dst`` (hard links where possible), its
    manifest last, so a copy cut short is not a complete run; the copied files are checked
    against the manifest's ``table_sha256`` before it is written (:class:`ReuseRefused`); the lock file, its pid note
    and the run marker are ``dst``'s own.  Only the regular files at its top are copied (a
    run's tables, scenario and summary are all there): not a folder nor a link, which in a
    shared results folder could lead anywhere (and copy the whole of it)."""
    dst.mkdir(parents=True, exist_ok=True)
    skip = {store.LOCK, store.LOCK_PID, store.RUN_MARKER, "manifest.json"}
    for item in src.iterdir():
        if item.name in skip or item.is_symlink() or not item.is_file():
            continue
        _link_or_copy(str(item), str(dst / item.name))
    # the copy itself is checked against the digests the run recorded: a file changed between
    # the reuse check and the links (a shared folder) never becomes a complete copy
    m = store.load_manifest(src)
    why = digest_problem(dst, m.table_sha256)
    if why is not None:
        raise ReuseRefused(why)
    # dst's manifest is its own file and says it is a copy: the run it was copied from (by its
    # id, not a path) and when, so a brief of it does not pass the other run's off as its own
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    store.write_manifest(dst, m.model_copy(update={"routesim_run": dst.name, "reused_from": m.routesim_run or src.name,
                                                  "reused_utc": stamp}))
