"""Dependency shares: where each refinery's crude came from, and by which route.

Input is one replication's ``Records.delivered_by_origin``, a mapping
``(refinery, origin, route) -> tonnes`` filled by the model.  Output is the share of the
delivered tonnes by origin (e.g. azeri, russian) and by route (e.g. supsa, ceyhan, druzhba)
for each refinery and for all refineries together, with the Herfindahl-Hirschman index
(HHI) of each split as a measure of concentration.

HHI is on the usual 0-10,000 scale: the sum of the squared shares in percent.  One supplier
gives 10,000; two equal suppliers 5,000; n equal suppliers 10,000 / n.  With nothing
delivered there are no shares: every share is 0 and the HHI is undefined (NaN).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sim.results.catalogue import slug

TOTAL = "total"
DIMENSIONS = ("origin", "route")

Delivered = Mapping[tuple[str, str, str], float]


def hhi(shares_pct: Iterable[float]) -> float:
    """Herfindahl-Hirschman index of shares given in percent (0-10,000); NaN when all are 0."""
    values = [float(s) for s in shares_pct]
    if not values or sum(values) <= 0.0:
        return math.nan
    return sum(s * s for s in values)


@dataclass(frozen=True)
class Split:
    """The tonnes and shares of one refinery's (or the total) delivery along one dimension."""

    refinery: str
    dimension: str  # "origin" or "route"
    tonnes: dict[str, float]

    @property
    def delivered_t(self) -> float:
        return sum(self.tonnes.values())

    @property
    def shares_pct(self) -> dict[str, float]:
        total = self.delivered_t
        if total <= 0.0:
            return dict.fromkeys(self.tonnes, 0.0)
        return {k: 100.0 * v / total for k, v in self.tonnes.items()}

    @property
    def hhi(self) -> float:
        return hhi(self.shares_pct.values())


def _check(delivered: Delivered) -> None:
    for key, tonnes in delivered.items():
        if not (isinstance(key, tuple) and len(key) == 3):
            raise ValueError(
                f"delivered_by_origin keys must be (refinery, origin, route) tuples, got {key!r}"
            )
        if not math.isfinite(float(tonnes)) or float(tonnes) < -1e-6:
            raise ValueError(f"delivered tonnes for {key!r} must be finite and >= 0, got {tonnes!r}")


def splits(
    delivered: Delivered,
    *,
    origins: Iterable[str] = (),
    routes: Iterable[str] = (),
    refineries: Iterable[str] = (),
) -> list[Split]:
    """Every split: per refinery (sorted) then the total, each by origin and by route.

    ``origins``, ``routes`` and ``refineries`` name labels to include even when they
    delivered nothing, so that every replication yields the same set of columns.
    """
    _check(delivered)
    origin_keys = sorted(set(origins) | {o for _, o, _ in delivered})
    route_keys = sorted(set(routes) | {r for _, _, r in delivered})
    refinery_keys = sorted(set(refineries) | {f for f, _, _ in delivered})
    out: list[Split] = []
    for ref in [*refinery_keys, TOTAL]:
        for dim, keys, pos in (("origin", origin_keys, 1), ("route", route_keys, 2)):
            tonnes = dict.fromkeys(keys, 0.0)
            for key, t in delivered.items():
                if ref == TOTAL or key[0] == ref:
                    tonnes[key[pos]] += max(0.0, float(t))
            out.append(Split(ref, dim, tonnes))
    return out


def shares_frame(
    delivered: Delivered,
    *,
    origins: Iterable[str] = (),
    routes: Iterable[str] = (),
    refineries: Iterable[str] = (),
) -> pd.DataFrame:
    """Tidy shares: columns refinery, dimension, label, delivered_t, share_pct.

    The refinery column holds ``"total"`` for all refineries together.
    """
    rows = []
    for sp in splits(delivered, origins=origins, routes=routes, refineries=refineries):
        shares = sp.shares_pct
        for label, t in sp.tonnes.items():
            rows.append((sp.refinery, sp.dimension, label, t, shares[label]))
    return pd.DataFrame(rows, columns=["refinery", "dimension", "label", "delivered_t", "share_pct"])


def _flat(sp: Split) -> dict[str, float]:
    out = {f"share_{sp.dimension}_{slug(k)}_pct": v for k, v in sp.shares_pct.items()}
    out[f"hhi_{sp.dimension}"] = sp.hhi
    return out


def _labels(scenario: Any | None) -> tuple[list[str], list[str]]:
    """Origins and refineries a scenario declares (so absent ones still get a 0 column)."""
    if scenario is None:
        return [], []
    net = scenario.network
    return [s.origin for s in net.sources], [r.name for r in net.refineries]


def replication_splits(records: Any, scenario: Any | None = None) -> list[Split]:
    """Every split of one replication's delivered crude (:func:`splits` with the scenario's
    origins and refineries): what :func:`dependency_kpis` and
    :func:`dependency_facility_kpis` take their columns from."""
    origins, refineries = _labels(scenario)
    return splits(records.delivered_by_origin, origins=origins, refineries=refineries)


def dependency_kpis(records: Any, scenario: Any | None = None, *,
                    given: list[Split] | None = None) -> dict[str, float]:
    """Run-level dependency KPIs of one replication, as flat columns for ``kpis``.

    ``share_origin_<origin>_pct``, ``share_route_<route>_pct`` (all refineries together),
    ``hhi_origin`` and ``hhi_route``.  Pass the scenario so that every declared origin has
    a column even when it delivered nothing in this replication.  ``given``: the
    replication's :func:`replication_splits`, when the caller has them already.
    """
    every = replication_splits(records, scenario) if given is None else given
    total = [s for s in every if s.refinery == TOTAL]
    out: dict[str, float] = {}
    for sp in total:
        out.update(_flat(sp))
    return out


def dependency_facility_kpis(records: Any, scenario: Any | None = None, *,
                             given: list[Split] | None = None) -> dict[str, dict[str, float]]:
    """Per-refinery dependency KPIs of one replication: refinery -> flat columns, for the
    refinery's row in ``facility_kpis`` (same names as :func:`dependency_kpis`).
    ``given``: as there."""
    out: dict[str, dict[str, float]] = {}
    for sp in replication_splits(records, scenario) if given is None else given:
        if sp.refinery != TOTAL:
            out.setdefault(sp.refinery, {}).update(_flat(sp))
    return out


def share_columns(columns: Iterable[str]) -> dict[str, list[str]]:
    """The share columns of a KPI table grouped by dimension: {"origin": [...], "route": [...]}."""
    out: dict[str, list[str]] = {d: [] for d in DIMENSIONS}
    for c in columns:
        m = re.fullmatch(r"share_(origin|route)_(.+)_pct", str(c))
        if m:
            out[m.group(1)].append(c)
    return out


def label_of(column: str) -> str:
    """``share_route_supsa_pct`` -> ``supsa``."""
    m = re.fullmatch(r"share_(?:origin|route)_(.+)_pct", column)
    if not m:
        raise ValueError(f"{column!r} is not a share column (share_<origin|route>_<label>_pct)")
    return m.group(1)
