"""The scenarios the benchmarks run: the minimal shuttle, the baseline, and the baseline
stretched in time or copied side by side."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sim.scenario import language as sc

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.yaml"
HOURS_PER_YEAR = 365.0 * 24.0


@dataclass(frozen=True)
class Shuttle:
    """One Aframax between two terminals (Supsa-Pivdennyi figures of the baseline)."""

    cargo_t: float = 85_000.0
    load_rate_t_per_day: float = 60_000.0
    discharge_rate_t_per_day: float = 50_000.0
    distance_nm: float = 540.0
    speed_kn: float = 14.0

    @property
    def load_h(self) -> float:
        return self.cargo_t / self.load_rate_t_per_day * 24.0

    @property
    def discharge_h(self) -> float:
        return self.cargo_t / self.discharge_rate_t_per_day * 24.0

    @property
    def sail_h(self) -> float:
        return self.distance_nm / self.speed_kn

    @property
    def cycle_h(self) -> float:
        return self.load_h + self.sail_h + self.discharge_h + self.sail_h

    def horizon_h(self, cycles: int) -> float:
        """A horizon in which exactly ``cycles`` discharges end (half a cycle to spare)."""
        return (cycles + 0.5) * self.cycle_h


SHUTTLE = Shuttle()


def shuttle_scenario(cycles: int) -> sc.Scenario:
    """The hand-written shuttle of :func:`benchmarks.ceiling.hand_shuttle` as a routesim scenario."""
    s = SHUTTLE
    stock_t = s.cargo_t * (cycles + 1)
    return sc.Scenario.model_validate({
        "name": "bench_shuttle",
        "description": "benchmark: one tanker shuttling between two terminals",
        "start": "2021-01-01",
        "horizon": f"{s.horizon_h(cycles)}h",
        "network": {
            "terminals": [
                {"name": "load", "tank": {"capacity": f"{stock_t}t", "initial": f"{stock_t}t"},
                 "berths": {"count": 1, "load_rate": f"{s.load_rate_t_per_day} t/d"}},
                {"name": "discharge", "tank": {"capacity": f"{stock_t}t"},
                 "berths": {"count": 1, "discharge_rate": f"{s.discharge_rate_t_per_day} t/d"}},
            ],
            "sea_legs": [{"name": "leg", "from": "load", "to": "discharge", "distance": f"{s.distance_nm} nm"}],
        },
        "shipping": {"fleets": [{
            "name": "shuttle", "tankers": ["t1"], "load_port": "load", "discharge_port": "discharge",
            "tanker": {"cargo": f"{s.cargo_t}t", "speed": f"{s.speed_kn} kn"},
        }]},
    })


def baseline() -> sc.Scenario:
    from sim.scenario.loader import load_scenario

    return load_scenario(BASELINE)


def stretched(scenario: sc.Scenario, years: float) -> sc.Scenario:
    """The scenario run for ``years``: programmes keep lifting (their ``until`` is dropped)
    and a fixed window that covered the whole original horizon covers the new one."""
    horizon_h = years * HOURS_PER_YEAR
    programmes = tuple(p.model_copy(update={"until": None}) for p in scenario.shipping.programmes)
    disruptions = []
    for d in scenario.disruptions:
        w = d.window
        if w is not None and scenario.at_h(w.start) <= 0.0 and float(w.duration_h) >= scenario.horizon_h:
            d = d.model_copy(update={"window": w.model_copy(update={"duration_h": horizon_h})})
        disruptions.append(d)
    return scenario.model_copy(update={
        "horizon_h": horizon_h,
        "shipping": scenario.shipping.model_copy(update={"programmes": programmes}),
        "disruptions": tuple(disruptions),
    })


def copied(scenario: sc.Scenario, k: int) -> sc.Scenario:
    """``k`` independent copies of the whole network, programmes and disruptions side by
    side (copy j > 0 has every name suffixed ``_cj``): k times the facilities and cargoes."""
    net = scenario.network
    sections = ("sources", "depots", "pipelines", "terminals", "sea_legs", "chokepoints", "refineries")
    out: dict[str, list] = {s: [] for s in sections}
    programmes: list = []
    fleets: list = []
    disruptions: list = []
    for j in range(k):
        def r(name: str, j: int = j) -> str:
            return name if j == 0 else f"{name}_c{j}"

        for section in sections:
            for f in getattr(net, section):
                upd: dict = {"name": r(f.name)}
                if section in ("pipelines", "sea_legs"):
                    upd.update(from_=r(f.from_), to=r(f.to))
                if section == "sea_legs":
                    upd["passes"] = tuple(p.model_copy(update={"chokepoint": r(p.chokepoint)}) for p in f.passes)
                out[section].append(f.model_copy(update=upd))
        for p in scenario.shipping.programmes:
            programmes.append(p.model_copy(update={
                "name": r(p.name), "discharge_port": r(p.discharge_port),
                "load_ports": tuple(ps.model_copy(update={"terminal": r(ps.terminal)}) for ps in p.load_ports)}))
        for fl in scenario.shipping.fleets:
            fleets.append(fl.model_copy(update={
                "name": r(fl.name), "tankers": tuple(r(t) for t in fl.tankers),
                "load_port": r(fl.load_port), "discharge_port": r(fl.discharge_port)}))
        for d in scenario.disruptions:
            targets = tuple(r(t) for t in scenario.resolve_targets(d))
            disruptions.append(d.model_copy(update={"name": r(d.name), "target": targets}))
    result = scenario.model_copy(update={
        "network": net.model_copy(update={s: tuple(v) for s, v in out.items()}),
        "shipping": scenario.shipping.model_copy(update={"programmes": tuple(programmes), "fleets": tuple(fleets)}),
        "disruptions": tuple(disruptions),
    })
    problems = sc.reference_problems(result)
    if problems:  # a name the copy missed would silently couple two copies
        raise ValueError(f"the {k}x copy of {scenario.name!r} is inconsistent: {problems[:3]}")
    return result
