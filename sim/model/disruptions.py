"""Disruption timing: when each disruption acts, and the SimPy processes that apply it.

A disruption (``sim.scenario.language.Disruption``) names its targets, a kind and one timing:

- ``window``: one activation from ``start`` (a date, or an offset from the scenario start)
  for ``duration``;
- ``recurring``: an activation of ``duration`` every ``every`` from ``start``;
- ``stochastic``: occurrences of a Poisson process, at a constant ``per_year`` rate or at a
  rate per calendar month (``per_month: {jan: 1.5, ...}``, the expected number of
  occurrences in that month), each lasting a draw from ``duration``.

The time to the next occurrence is drawn directly by inverting the cumulative rate, which
is piecewise constant by calendar month: draw E ~ Exp(1) and walk forward through the
months until the accumulated rate reaches E.  Nothing polls the clock.

Occurrences of the same disruption that overlap or touch are **merged** into one continuous
activation (from the first start to the latest end): a facility is either under a given
disruption or not, so a second storm that starts while the first still rages extends the
closure instead of double-counting it.  An occurrence's ``lost`` tonnes (contamination)
therefore count once per activation.  Activations are clipped to ``[0, horizon]``; a
stochastic process starts at hour 0 with nothing active (no occurrence carried over from
before the start).  A zero-length occurrence has no effect and is dropped.

Randomness: every disruption draws only from its own streams of the replication's seed,
``sim.rng.stream(seed_seq, "disruption", name, part)`` with ``part`` one of ``"times"``
(occurrence times), ``"durations"`` (occurrence durations) and ``"delay", facility``
(per-passage delays at one facility).  Adding, removing or reordering another disruption
therefore leaves this one's realisation unchanged; changing only a duration distribution
keeps the same occurrence times (common random numbers for sensitivity runs).

Pure functions (:func:`draw_duration`, :func:`occurrences`, :func:`activations`,
:func:`schedule`) need no SimPy, so tests and the briefing can inspect a realisation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterable, Iterator

import numpy as np
import simpy

from sim.model.condition import Condition, Effect
from sim.recorder import Records
from sim.rng import stream
from sim.scenario.language import Disruption, Distribution, Scenario
from sim.scenario.distributions import Z90
from sim.scenario.work import rate_segments

Interval = tuple[float, float]


class DisruptionError(ValueError):
    """A disruption that cannot be installed (e.g. a target the model built no condition for)."""


# --------------------------------------------------------------------------- distributions


def lognormal_params(median_h: float, p90_h: float) -> tuple[float, float]:
    """(mu, sigma) of the underlying normal for a lognormal with this median and p90."""
    return math.log(median_h), math.log(p90_h / median_h) / Z90


def draw_duration(dist: Distribution, rng: np.random.Generator) -> float:
    """One draw, in hours, from a duration distribution (also used for per-passage delays,
    and, with the same forms in other units, for cargo sizes and factors:
    :mod:`sim.scenario.distributions`)."""
    if dist.fixed is not None:
        return float(dist.fixed)
    if dist.uniform is not None:
        lo, hi = dist.uniform
        return float(rng.uniform(lo, hi)) if hi > lo else float(lo)
    if dist.triangular is not None:
        lo, mode, hi = dist.triangular
        return float(rng.triangular(lo, mode, hi))
    if dist.lognormal is not None:
        mu, sigma = lognormal_params(dist.lognormal.median_h, dist.lognormal.p90_h)
        return float(rng.lognormal(mu, sigma))
    if dist.exponential is not None:
        return float(rng.exponential(dist.exponential))
    if dist.empirical is not None:
        return float(dist.empirical[int(rng.integers(len(dist.empirical)))])
    raise DisruptionError("a duration distribution with no form")  # the model forbids this


# --------------------------------------------------------------------------- rates


def poisson_times(segments: list[tuple[float, float, float]], rng: np.random.Generator) -> Iterator[float]:
    """Occurrence times of a Poisson process with a piecewise-constant rate, in order.

    Inverts the cumulative rate: each gap is E ~ Exp(1) of accumulated rate, spent
    through the segments in turn; the work is proportional to occurrences plus segments."""
    n = len(segments)
    i = 0
    t = segments[0][0] if n else 0.0
    while True:
        need = rng.exponential(1.0)
        while True:
            if i >= n:
                return
            _, t1, rate = segments[i]
            room = (t1 - t) * rate
            if rate > 0.0 and need <= room:
                t += need / rate
                break
            need -= room
            i += 1
            if i < n:
                t = segments[i][0]
        yield t


# --------------------------------------------------------------------------- occurrences


def times_stream(seed_seq: np.random.SeedSequence, name: str) -> np.random.Generator:
    """The generator of a disruption's occurrence times in one replication."""
    return stream(seed_seq, "disruption", name, "times")


def durations_stream(seed_seq: np.random.SeedSequence, name: str) -> np.random.Generator:
    """The generator of a disruption's occurrence durations in one replication."""
    return stream(seed_seq, "disruption", name, "durations")


def delay_stream(seed_seq: np.random.SeedSequence, name: str, facility: str) -> np.random.Generator:
    """The generator of a delay disruption's per-passage draws at one facility."""
    return stream(seed_seq, "disruption", name, "delay", facility)


def iter_occurrences(
    disruption: Disruption,
    scenario: Scenario,
    times_rng: np.random.Generator | None = None,
    durations_rng: np.random.Generator | None = None,
) -> Iterator[Interval]:
    """Occurrences (start_h, end_h) in start order, lazily, unmerged and unclipped.

    Fixed and recurring timings need no generator; a stochastic one needs both (the same
    generator may be passed twice).  Only occurrences starting before the horizon are made;
    a window or recurrence may start before hour 0 (a date before the scenario start)."""
    horizon = scenario.horizon_h
    if disruption.window is not None:
        w = disruption.window
        s = scenario.at_h(w.start)
        if s < horizon:
            yield (s, s + w.duration_h)
        return
    if disruption.recurring is not None:
        r = disruption.recurring
        s0 = scenario.at_h(r.start)
        # skip the repetitions that ended by hour 0 (a start before the scenario start)
        k = 0 if s0 + r.duration_h > 0 else math.floor((-s0 - r.duration_h) / r.every_h) + 1
        while True:
            s = s0 + k * r.every_h
            if s >= horizon:
                return
            yield (s, s + r.duration_h)
            k += 1
    st = disruption.stochastic
    assert st is not None
    if times_rng is None or durations_rng is None:
        raise DisruptionError(f"stochastic disruption {disruption.name!r} needs random generators")
    for s in poisson_times(rate_segments(disruption, scenario), times_rng):
        yield (s, s + draw_duration(st.duration, durations_rng))


def occurrences(
    disruption: Disruption, scenario: Scenario, rng: np.random.Generator | None = None
) -> list[Interval]:
    """All occurrences (start_h, end_h) of one disruption, unmerged and unclipped, drawing
    times and durations from one generator (for tests; a replication uses :func:`schedule`)."""
    return list(iter_occurrences(disruption, scenario, rng, rng))


def activations(occ: Iterable[Interval], horizon_h: float) -> Iterator[Interval]:
    """Merge overlapping or touching occurrences (given in start order) into continuous
    activations, clipped to ``[0, horizon_h]``; empty ones are dropped.  Lazy."""
    cur: list[float] | None = None
    for s, e in occ:
        if e <= s:
            continue
        if cur is not None and s <= cur[1]:
            cur[1] = max(cur[1], e)
            continue
        if cur is not None:
            clipped = _clip(cur, horizon_h)
            if clipped:
                yield clipped
        cur = [s, e]
    if cur is not None:
        clipped = _clip(cur, horizon_h)
        if clipped:
            yield clipped


def _clip(iv: list[float], horizon_h: float) -> Interval | None:
    s, e = max(iv[0], 0.0), min(iv[1], horizon_h)
    return (s, e) if e > s else None


def _replication_activations(disruption: Disruption, scenario: Scenario,
                             seed_seq: np.random.SeedSequence) -> Iterator[Interval]:
    """The activations of one disruption in the replication with ``seed_seq``, lazily."""
    occ = iter_occurrences(disruption, scenario, times_stream(seed_seq, disruption.name),
                           durations_stream(seed_seq, disruption.name))
    return activations(occ, scenario.horizon_h)


def schedule(disruption: Disruption, scenario: Scenario, seed_seq: np.random.SeedSequence) -> list[Interval]:
    """The activations of one disruption in the replication with ``seed_seq``: exactly what
    :func:`install` applies (before any ``until_h`` cut)."""
    return list(_replication_activations(disruption, scenario, seed_seq))


def target_windows(scenario: Scenario, seed_seq: np.random.SeedSequence,
                   names: Iterable[str] | None = None) -> list[tuple[str, str, float, float]]:
    """``(disruption, facility, start_h, end_h)`` for every activation of every disruption
    (or of those in ``names``) at each of its targets, in scenario order: the windows in
    which the model meters each target's throughput."""
    keep = None if names is None else set(names)
    out: list[tuple[str, str, float, float]] = []
    for d in scenario.disruptions:
        if keep is not None and d.name not in keep:
            continue
        targets = scenario.resolve_targets(d)
        for start, end in _replication_activations(d, scenario, seed_seq):
            out.extend((d.name, t, float(start), float(end)) for t in targets)
    return out


# --------------------------------------------------------------------------- effects


def effect_for(disruption: Disruption, draw_delay_h: Callable[[], float] | None = None) -> Effect:
    """The :class:`Effect` one disruption has on each target while active (with the
    disruption's ``direction``, if any: it then acts only on that direction's traffic)."""
    kind = disruption.kind
    direction = disruption.direction
    if kind in ("derate", "supply_cut", "run_cut"):
        assert disruption.factor is not None
        return Effect(kind, factor=float(disruption.factor), direction=direction)
    if kind == "delay":
        if draw_delay_h is None:
            raise DisruptionError(f"delay {disruption.name!r} needs a delay draw")
        return Effect("delay", draw_delay_h=draw_delay_h, direction=direction)
    if kind == "contamination":
        return Effect("contamination", lost_t=float(disruption.lost_t or 0.0), direction=direction)
    return Effect("closure", direction=direction)


def _delay_drawer(dist: Distribution, rng: np.random.Generator) -> Callable[[], float]:
    def draw() -> float:
        return draw_duration(dist, rng)
    return draw


# --------------------------------------------------------------------------- SimPy


def install(
    env: simpy.Environment,
    scenario: Scenario,
    conditions: dict[str, Condition],
    records: Records,
    seed_seq: np.random.SeedSequence,
) -> None:
    """Start one SimPy process per disruption that applies its effect to the Condition of
    every target at each activation start and lifts it at the end, appending one row per
    activation and facility to ``records.disruptions`` (end clipped to the horizon)."""
    for d in scenario.disruptions:
        targets = scenario.resolve_targets(d)
        missing = [t for t in targets if t not in conditions]
        if missing:
            raise DisruptionError(
                f"disruption {d.name!r} targets {', '.join(missing)}, which the model has no "
                "condition for; check the scenario with 'routesim validate'"
            )
        effects: dict[str, Effect] = {}
        for t in targets:
            drawer = (_delay_drawer(d.delay, delay_stream(seed_seq, d.name, t))
                      if d.kind == "delay" and d.delay is not None else None)
            effects[t] = effect_for(d, drawer)
        env.process(_run(env, d, _replication_activations(d, scenario, seed_seq),
                         [(conditions[t], effects[t]) for t in targets], records))


def _run(
    env: simpy.Environment,
    d: Disruption,
    acts: Iterator[Interval],
    targets: list[tuple[Condition, Effect]],
    records: Records,
) -> Generator[simpy.Event, object, None]:
    """One disruption's story: wait for the start, apply to every target, wait, lift."""
    for start_h, end_h in acts:
        if start_h > env.now:
            yield env.timeout(start_h - env.now)
        for cond, eff in targets:
            cond.apply(d.name, eff)
            records.disruptions.append((d.name, cond.facility, d.kind, start_h, end_h))
        yield env.timeout(end_h - env.now)
        for cond, _ in targets:
            cond.lift(d.name)
