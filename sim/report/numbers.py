"""How the report prints a number: a KPI's distribution over replications and its text.

:class:`Stat` is a KPI's mean and p5/p50/p95 over replications (numpy's default linear
interpolation, NaN replications left out); :func:`fmt_value`, :func:`fmt_diff` and
:func:`fmt_range` print values in the KPI's display unit from the catalogue
(:func:`sim.results.catalogue.kpi_format`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.results.catalogue import kpi_format


@dataclass(frozen=True)
class Stat:
    """Mean and p5/p50/p95 of one KPI over replications (NaN replications left out)."""

    mean: float
    p5: float
    p50: float
    p95: float
    n: int  # replications with a value

    @classmethod
    def of(cls, values: Any) -> Stat:
        v = np.asarray(values, dtype=float)
        v = v[np.isfinite(v)]
        if v.size == 0:
            return cls(math.nan, math.nan, math.nan, math.nan, 0)
        p5, p50, p95 = np.quantile(v, [0.05, 0.5, 0.95])
        return cls(float(v.mean()), float(p5), float(p50), float(p95), int(v.size))


def kt(t: float) -> str:
    """Tonnes as kilotonnes with one decimal (no unit text)."""
    return f"{t / 1e3:,.1f}"


def num(x: float, digits: int = 1) -> str:
    """A number with thousands separators and ``digits`` decimals."""
    return f"{x:,.{digits}f}"


def fmt_value(column: str, value: float) -> str:
    """A KPI value as the brief prints it (in its display unit, no unit text)."""
    _, _, scale, digits = kpi_format(column)
    if not math.isfinite(value):
        return "n/a"
    return num(value * scale, digits)


def fmt_diff(column: str, value: float) -> str:
    """A difference in the KPI's display unit, with more decimals (up to 4) when the usual
    precision would print a non-zero difference as 0."""
    _, _, scale, digits = kpi_format(column)
    if not math.isfinite(value):
        return "n/a"
    while value != 0.0 and round(abs(value) * scale, digits) == 0.0 and digits < 4:
        digits += 1
    return num(value * scale, digits)


def fmt_range(column: str, st: Stat) -> str:
    """``mean unit (p5–p95 lo–hi)``, or ``value unit in every replication`` when the
    replications agree to the printed precision."""
    _, unit, _, _ = kpi_format(column)
    u = f" {unit}" if unit and unit != "%" else unit
    mean, lo, hi = fmt_value(column, st.mean), fmt_value(column, st.p5), fmt_value(column, st.p95)
    if st.n > 1 and mean == lo == hi:
        return f"{mean}{u} (in every replication)"
    return f"{mean}{u} (p5–p95 {lo}–{hi}{u})"


EVERY = "in every replication"


def once_every(text: str) -> str:
    """A figure the same in every replication is said so once a sentence: the first
    "in every replication" of a sentence stays, the later "(in every replication)" after
    other figures of it go ("on 9 April 2021 in every replication, 1.6 d of demand above it")."""
    out = []
    for sentence in re.split(r"(?<=[.;])\s+(?=[A-Z])", text):
        first = sentence.find(EVERY)
        if first >= 0:
            head, tail = sentence[:first + len(EVERY)], sentence[first + len(EVERY):]
            sentence = head + tail.replace(f" ({EVERY})", "")
        out.append(sentence)
    return " ".join(out)


def magnitudes(diff: float, low: float, high: float) -> tuple[float, float]:
    """A 95% CI (``low``, ``high``) of a difference as the magnitudes a sign-carrying verb
    reads with ("cuts ... by 11.1 (95% CI 11.0 to 11.2)"): for a negative difference the
    interval of its negation (-high, -low), else the interval itself."""
    return (-high, -low) if diff < 0 else (low, high)


def word_count(markdown: str) -> int:
    """The words of a paragraph as a reader counts them: whitespace-separated tokens, with
    Markdown's escapes and code marks left out (a figure with its unit is two words)."""
    return len(re.sub(r"[\\`*_]", "", markdown).split())
