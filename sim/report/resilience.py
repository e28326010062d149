"""The brief's "Resilience" section: what the exposure, importance and N-1 analyses of the
same scenario found, when their folders sit next to the run folder.

An analysis folder is "next to" the run when it is in the run folder's parent
(``results/<scenario>/`` holds both ``<run-id>/`` and ``exposure-<id>/`` by default), its
manifest names the analysis (``exposure``, ``importance`` or ``criticality``) and it was
made from the same scenario (the same ``scenario_hash``); of several, the newest folder
name.  Without any, the section is one sentence with the command that makes one, written
so it works when pasted from the current folder.
"""

from __future__ import annotations

import math
import os
import shlex
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import ScenarioError, UserError
from sim.report.document import Doc, code, esc
from sim.report.numbers import num
from sim.report.plain import and_list, display_name
from sim.results.manifest import load_manifest
from sim.results.store import RunResult

ANALYSES = ("exposure", "importance", "criticality")
MAX_FOLDERS = 500  # siblings looked at, at most (a results folder is shared data)


def analysis_folders(run: RunResult) -> dict[str, Path]:
    """Analysis kind -> the newest folder next to the run made from the same scenario."""
    want = run.manifest.get("scenario_hash")
    found: dict[str, Path] = {}
    if want is None:
        return found
    try:
        siblings = sorted(p for p in run.path.parent.iterdir() if p.is_dir() and p != run.path)[-MAX_FOLDERS:]
    except OSError:
        return found
    for folder in siblings:
        if not (folder / "manifest.json").is_file():
            continue
        try:
            m = load_manifest(folder)
        except (ScenarioError, UserError):
            continue  # not a folder this brief can trust: left out
        if m.analysis in ANALYSES and m.scenario_hash == want and (folder / f"{m.analysis}.parquet").is_file():
            found[m.analysis] = folder  # sorted by name: the last is the newest id
    return found


def _shown_path(path: Path, cwd: Path | None = None) -> str:
    here = (Path.cwd() if cwd is None else cwd).resolve()
    try:
        shown = os.path.relpath(path.resolve(), here)
    except ValueError:
        shown = str(path.resolve())
    if shown.startswith(".." + os.sep + ".." + os.sep + ".."):
        shown = str(path.resolve())
    return shlex.quote(shown)


def exposure_command(run: RunResult, cwd: Path | None = None) -> str:
    """``routesim exposure RUN/scenario.yaml -n N --seed S --out RUN/../exposure``: the run's
    own resolved scenario with its replications and seed, written next to the run."""
    n = run.manifest.get("replications")
    seed = run.manifest.get("seed")
    opts = (f" -n {int(n)}" if n else "") + (f" --seed {int(seed)}" if seed is not None else "")
    return (f"routesim exposure {_shown_path(run.path / 'scenario.yaml', cwd)}{opts} --out "
            f"{_shown_path(run.path.parent / f'exposure-{run.path.name}', cwd)}")


def _days(x: Any) -> str:
    """A table's days as shown; "n/a" for a value that is not a finite number (the table is
    read from a folder that may be shared, edited or made by another version)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if not math.isfinite(v) else f"{num(v, 1)} d"


def _exposure_text(run: RunResult, table: pd.DataFrame) -> str:
    s = run.scenario
    counts = table["verdict"].value_counts()
    exposed = table[table["verdict"] == "exposed"]
    text = (f"Closing each of {len(table)} facilities to the end of the run: {int(counts.get('exposed', 0))} "
            f"exposed (it takes longer to recover than the refineries last without it, p5 over replications), "
            f"{int(counts.get('covered', 0))} covered, {int(counts.get('undetermined', 0))} undetermined")
    if len(exposed):
        worst = [f"{esc(display_name(s, str(r.facility)))} (recovers in {_days(r.ttr_d)}, the refineries last "
                 f"{_days(r.tts_d_p5)})" for r in exposed.head(3).itertuples(index=False)]
        text += "; the most exposed: " + "; ".join(worst)
    return text + "."


def _ranked_text(run: RunResult, table: pd.DataFrame, kind: str) -> str:
    """The first three facilities of an importance or criticality table, in its own order."""
    s = run.scenario
    names = [esc(display_name(s, str(f))) for f in table["facility"].head(3)] if "facility" in table else []
    if not names:
        return ""
    what = {"importance": "Ranked by their contribution to the crude the refineries go without (routesim "
                          "importance), the first facilities are",
            "criticality": "Closed one at a time (routesim criticality), the facilities whose closure costs the "
                           "most crude delivered are"}[kind]
    return f"{what} {and_list(names)}."




def resilience(doc: Doc, run: RunResult) -> None:
    """The section (see the module docstring)."""
    doc.h(2, "Resilience")
    folders = analysis_folders(run)
    if not folders:
        doc.p("No exposure, importance or N-1 analysis of this scenario sits next to this run folder; "
              f"{code(exposure_command(run))} makes one (each facility closed in turn, its time to recover "
              "against the time the refineries last), then brief again.")
        return
    for kind in ANALYSES:
        folder = folders.get(kind)
        if folder is None:
            continue
        try:
            table = pd.read_parquet(folder / f"{kind}.parquet")
        except (OSError, ValueError):
            continue
        if kind == "exposure" and {"verdict", "facility", "ttr_d", "tts_d_p5"} <= set(table.columns):
            text = _exposure_text(run, table)
        else:
            text = _ranked_text(run, table, kind)
        if text:
            doc.p(f"{text} (from {esc(folder.name)}.)")


__all__ = ["ANALYSES", "analysis_folders", "exposure_command", "resilience"]
