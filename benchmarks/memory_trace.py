"""Memory through a run, not only its peak: a fresh process runs the baseline through the
runner while a sampling thread of this process reads its resident set size (psutil) every
:data:`INTERVAL_S` together with the replications done (the run's manifest, written
atomically at most once a second while blocks stream, and after the last block).

Two figures come out of a trace:

- the **peak** RSS of the run's process (its own high-water mark, Linux's ``VmHWM``, which
  starts afresh at exec, unlike ``ru_maxrss``, which carries the memory of the process that
  started it: nothing between two samples is missed);
- the **streaming slope**: KB of RSS per replication while blocks stream in, the least
  squares slope of RSS on replications done over the samples taken after the first
  :data:`WARM_SHARE` of the replications and before the last one was done (the first blocks
  include imports, caches and the first row groups; after the last one the run closes its
  files and writes the summary, which is not streaming).  Flat memory is a slope near 0.

The peak needs Linux (elsewhere ``ru_maxrss``, with that caveat); the samples work wherever
psutil does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from benchmarks import workloads

INTERVAL_S = 0.2
WARM_SHARE = 0.2   # samples before this share of the replications is done are warm-up
MIN_SAMPLES = 5    # fewer streaming samples than this: no slope


def rss_kb(pid: int) -> float | None:
    """Resident set size of process ``pid`` in KB, None if it is gone."""
    try:
        return psutil.Process(pid).memory_info().rss / 1024
    except (psutil.Error, OSError):
        return None


def replications_done(run: Path) -> int | None:
    """``replications_done`` of the run's manifest, None before it exists."""
    try:
        return int(json.loads((run / "manifest.json").read_text(encoding="utf-8"))["replications_done"] or 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def streaming_slope(samples: list[tuple[float, float, int]], replications: int) -> float | None:
    """KB of RSS per replication while streaming, from ``(seconds, rss_kb, done)`` samples:
    the least squares slope of rss on done over the samples with
    ``WARM_SHARE * replications <= done < replications``; None with fewer than
    :data:`MIN_SAMPLES` such samples or when they all have the same ``done``."""
    pts = [(float(d), r) for _, r, d in samples if WARM_SHARE * replications <= d < replications]
    if len(pts) < MIN_SAMPLES:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in pts) / sxx


def trace(replications: int, executor: str = "serial", workers: int | None = None, timeout_s: float = 400.0,
          interval_s: float = INTERVAL_S) -> dict:
    """Run ``replications`` of the baseline in a fresh process (``benchmarks.memory_child``)
    and sample it.  Returns the child's report (``parent_mb`` = peak RSS, ``wall_s`` ...)
    with ``slope_kb_per_rep``, ``streaming_samples``, ``end_mb`` (RSS at the last sample
    while streaming), ``closing_mb`` (the highest sample after the last replication was
    done: closing the files and the summary) and the samples themselves."""
    env = dict(os.environ)
    root = str(workloads.ROOT)
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    samples: list[tuple[float, float, int]] = []
    with tempfile.TemporaryDirectory(prefix="routesim-bench-mem-") as tmp:
        run = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "benchmarks.memory_child", str(replications), executor, str(workers or 0),
               str(run)]
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=root,
                              env=env) as child:
            t0 = time.perf_counter()
            stop = threading.Event()

            def sample() -> None:  # the sampling thread: RSS and replications done, every interval
                while not stop.is_set():
                    rss = rss_kb(child.pid)
                    done = replications_done(run)
                    if rss is not None and done is not None:
                        samples.append((round(time.perf_counter() - t0, 3), rss, done))
                    stop.wait(interval_s)

            sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
            sampler.start()
            try:
                out, err = child.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                child.kill()
                child.communicate()
                raise TimeoutError(f"memory child ran over {timeout_s:.0f} s ({replications} replications)") from None
            finally:
                stop.set()
                sampler.join()
    if child.returncode != 0:
        raise RuntimeError(f"memory child failed ({child.returncode}): {err.strip()[-800:]}")
    report = json.loads(out.strip().splitlines()[-1])
    streaming = [s for s in samples if WARM_SHARE * replications <= s[2] < replications]
    report["slope_kb_per_rep"] = streaming_slope(samples, replications)
    report["streaming_samples"] = len(streaming)
    report["end_mb"] = round(streaming[-1][1] / 1024, 1) if streaming else None
    closing = [r for _, r, d in samples if d >= replications]  # closing the files, the summary
    report["closing_mb"] = round(max(closing) / 1024, 1) if closing else None
    report["samples"] = samples
    return report
