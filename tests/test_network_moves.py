"""The flows' inlined lot moves change no number (issue 19).

``Production.move``, ``Run.move`` and ``Pipeline.move`` inline the common cases of
:func:`sim.model.lots.move` and :func:`sim.model.lots.put` (a front lot that outlasts the
step, a source tank's only lot taken whole, a merge into a last lot of the same origin and
route), and the network keeps its list of moving flows up to date as rates change instead
of rebuilding it.  These specs run each move the long way, with only ``lotq.move``,
``lotq.put`` and ``lotq.share``, exactly as the docstrings of those moves describe them,
and compare whole records, bit for bit, with the inlined moves: on scenarios where every
shortcut is taken (sources at their floor, lines fed by cargo crude, two lines out of one
tank, contaminations, batches) and on the 3-copies network of the large-network path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import workloads
from sim.model import flows
from sim.model import lots as lotq
from sim.model import network as netmod
from sim.scenario.loader import load_scenario
from tests.test_network_shortcuts import _records, _same

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def _production_long(self, m, ledger):
    self.dst.level_t += m
    lotq.put(self.dst.lots, self.origin, "", m)
    ledger.produced_t += m
    return m


def _run_long(self, m, ledger):
    self.src.level_t -= m
    lotq.move(self.src.lots, None, m)
    ledger.processed_t += m
    return m


def _pipeline_long(self, m, ledger):
    src = self.src
    src.level_t -= m
    siblings, lots = src.lines_out, src.lots
    if len(siblings) == 1 or (len(lots) == 1 and lots[0][3] is None):
        lotq.move(lots, self.line, m, blank_route=self.name)
    else:
        r = self.rate_t_per_h
        drawing = sum(p.rate_t_per_h for p in siblings if p.index >= self.index and p.rate_t_per_h > 0.0)
        lotq.share(lots, self.line, m, m * drawing / r if r > 0.0 else m, blank_route=self.name)
    if self.feeds:
        lotq.move(self.line, self.dst.lots, m, tally=self.dst.tally, rate_t_per_h=self.rate_t_per_h)
        self.dst.level_t += m
    else:
        self.deficit_t -= m
    b = self.batch
    if b is not None and b.phase is flows.BatchPhase.PUMP:
        b.pumped_t += m
    return m


CASES = {
    "baseline": workloads.baseline,
    "baseline, 3 copies": lambda: workloads.copied(workloads.baseline(), 3),
    "contamination and top-up": lambda: load_scenario(SCENARIOS / "contamination_2019_top_up.yaml"),
    "batch windows": lambda: load_scenario(SCENARIOS / "druzhba_reverse_windows.yaml"),
    "corridor pushed": lambda: load_scenario(SCENARIOS / "corridor_pushed.yaml"),
    "storms": lambda: load_scenario(SCENARIOS / "black_sea_storms.yaml"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_inlined_moves_give_the_records_of_the_long_way(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = CASES[case]()
    fast = [_records(scenario, i) for i in range(2)]
    counts = {"whole": 0}

    def counting_move(src, dst, tonnes, **kw):
        if src and len(src) == 1 and src[0][3] is None and 0.0 < src[0][2] <= tonnes:
            counts["whole"] += 1  # the case inlined as "the step takes the head's only lot whole"
        return move(src, dst, tonnes, **kw)

    move = lotq.move
    monkeypatch.setattr(flows.Production, "move", _production_long)
    monkeypatch.setattr(flows.Run, "move", _run_long)
    monkeypatch.setattr(flows.Pipeline, "move", _pipeline_long)
    monkeypatch.setattr(lotq, "move", counting_move)
    long_way = [_records(scenario, i) for i in range(2)]
    for a, b in zip(fast, long_way, strict=True):
        _same(a, b)
    if case.startswith("baseline"):
        assert counts["whole"] > 0  # the source-at-its-floor case does occur, and was compared


class ActiveChecked(netmod.FlowNetwork):
    """Checks at every integration step that the moving flows kept by _recompute are those
    a rebuild from every flow gives (the rebuild the list replaced), in index order, each
    with its own bound move and meter."""

    steps = 0

    def _advance(self, t: float) -> None:
        rebuilt = [f for f in self.flows if f.rate_t_per_h > 0.0]
        assert [f for _move, f, _meter in self._active] == rebuilt
        assert self._active_idx == [f.index for f in rebuilt]
        assert all(move == f.move and meter is f.meter for move, f, meter in self._active)
        ActiveChecked.steps += 1
        super()._advance(t)


@pytest.mark.parametrize("case", ["baseline, 3 copies", "contamination and top-up", "storms"])
def test_the_moving_flows_kept_as_rates_change_are_those_of_a_rebuild(case: str) -> None:
    scenario = CASES[case]()
    steps = ActiveChecked.steps
    checked = _records(scenario, 0, network=ActiveChecked)
    assert ActiveChecked.steps > steps
    _same(checked, _records(scenario, 0))


def test_the_inlined_berth_slot_test_is_berth_slots_own():
    """``FlowNetwork._pending`` asks a plain berth slot's ``due()`` inline (a hot path): the
    two conditions must stay the same words, so an edit to one fails here until the other
    follows."""
    import inspect

    from sim.model import network
    from sim.model.flows import BerthSlot

    own = inspect.getsource(BerthSlot.due).split("return ", 1)[1].strip()
    assert own == "self.done is not None and self.remaining_t <= EPS_T"
    assert f"if {own.replace('self.', 'slot.')}:" in inspect.getsource(network.FlowNetwork._pending)
