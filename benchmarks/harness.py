"""Measurement helpers, the result table and its JSON form."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from collections.abc import Callable

OUT_DIR = Path(__file__).resolve().parent / "out"


@dataclass
class Row:
    """One figure of the benchmark table."""

    key: str                   # stable identifier (JSON consumers key on it)
    what: str                  # what was measured, in words
    value: float | None        # None: not measured (see note)
    unit: str
    target: str = ""           # e.g. ">= 0.5"; empty when the figure is informative only
    status: str = ""           # met | MISSED | TODO | info
    note: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class Budget:
    """How long each timed measurement runs: ``repeats`` blocks of at least ``min_s``."""

    min_s: float = 1.0
    repeats: int = 3


def best_rate(work: Callable[[], float], budget: Budget,
              clock: Callable[[], float] = time.process_time) -> tuple[float, dict]:
    """Units per second of ``work`` (which returns the units it did), best of the blocks.

    Each block calls ``work`` until at least ``budget.min_s`` has passed; the best block is
    reported (the least disturbed by other load on the machine), with all blocks in extra.
    The default clock is this process's CPU time, so single-process rates are per core and
    hardly move when other programs share the machine (wall time would halve them).
    """
    rates: list[float] = []
    for _ in range(budget.repeats):
        units = 0.0
        t0 = clock()
        while True:
            units += work()
            elapsed = clock() - t0
            if elapsed >= budget.min_s:
                break
        rates.append(units / elapsed)
    return max(rates), {"block_rates": [round(r, 3) for r in rates]}


def interleaved_ratio(num: Callable[[], float], den: Callable[[], float], pairs: int = 3) -> tuple[float, list[float]]:
    """The median over ``pairs`` samples of ``num() / den()``, each sample's two sides taken
    one right after the other in this process (the first side alternating from pair to pair,
    so a drift in the machine's load favours neither), so both sides of a ratio see the same
    load.  Returns (median, the samples in the order taken)."""
    if pairs < 1:
        raise ValueError("pairs must be at least 1")
    samples = []
    for i in range(pairs):
        if i % 2 == 0:
            a = num()
            b = den()
        else:
            b = den()
            a = num()
        samples.append(a / b)
    return statistics.median(samples), samples


def judge(value: float | None, target: float | None, *, higher_is_better: bool = True) -> str:
    if value is None:
        return "TODO"
    if target is None:
        return "info"
    ok = value >= target if higher_is_better else value <= target
    return "met" if ok else "MISSED"


def machine() -> dict:
    """Where the table was measured."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = None
    with contextlib.suppress(ValueError, OSError, AttributeError):  # no such sysconf here
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    import numpy
    import simpy
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "simpy": simpy.__version__,
        "numpy": numpy.__version__,
        "os": f"{platform.system()} {platform.release()}",
        "git": _git_commit(),
        "load_before": load_average(),
        "utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def load_average() -> float | None:
    """The 1-minute load average (runnable processes), None where the OS has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}" if a < 1 else f"{v:.2f}"


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table (readable in a terminal and pasteable in the README)."""
    head = ["figure", "value", "unit", "target", "status", "note"]
    body = [[r.what, _fmt(r.value), r.unit, r.target, r.status, r.note] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(b) for b in body]
    return "\n".join(out)


def write_json(rows: list[Row], info: dict, profile: dict[str, list[dict]], elapsed_s: float) -> Path:
    """Write ``out/bench-<utc>.json`` and ``out/latest.json``; returns the first."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    doc = {"machine": info, "elapsed_s": round(elapsed_s, 1), "rows": [asdict(r) for r in rows],
           "profiles_top10": profile}
    stamp = info["utc"].replace(":", "").replace("-", "")
    path = OUT_DIR / f"bench-{stamp}.json"
    text = json.dumps(doc, indent=2)
    path.write_text(text, encoding="utf-8")
    (OUT_DIR / "latest.json").write_text(text, encoding="utf-8")
    return path


def forget_sim() -> None:
    """Drop every imported ``sim`` module, so that the next import loads ``sim`` from the
    front of ``sys.path`` (a second version of the code beside this tree's; the functions
    already taken from the first keep their own modules)."""
    import sys

    for name in [m for m in sys.modules if m == "sim" or m.startswith("sim.")]:
        del sys.modules[name]


def export_tree(rev: str, folder: Path, *paths: str) -> Path:
    """The tree (or only ``paths`` of it) at git revision ``rev``, exported by ``git archive``
    into ``folder``; returns ``folder``.  ``rev`` is resolved to a commit first, so a value
    that starts with "-" is refused as a revision, never read as an option of git archive."""
    root = Path(__file__).resolve().parent.parent
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "--end-of-options", f"{rev}^{{commit}}"],
                            check=True, capture_output=True, text=True).stdout.strip()
    archive = subprocess.run(["git", "-C", str(root), "archive", commit, "--", *paths], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder
