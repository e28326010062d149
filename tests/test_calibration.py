"""routesim calibrate: fitting a scenario's uncertain parameters to the record.

Behaviour specified here:

* the fit recovers a parameter from targets the model itself produced at a known value
  (so the test fails if the optimiser, the measures or the overrides are wrong);
* the same SPEC gives the same fit (common random numbers, a seeded optimiser);
* the report has one row per target with the model mean, p5-p95, the record, the
  residual and whether the target was fitted or held out;
* a bad SPEC is refused with the file, line and field path, exit status 2, no traceback;
* fitted values are written into a seeds file with confidence F.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.analysis import calibration as cal
from sim.cli.shell import main

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "history_2020.yaml"


def _spec(tmp_path: Path, record_jun: float, record_aug: float, **extra: object) -> Path:
    spec = {
        "scenario": str(SCENARIO),
        "replications": 2,
        "seed": 7,
        "optimiser": {"seed": 3, "maxiter": 2, "popsize": 4},
        "parameters": [{"name": "notice", "set": "network.pipelines.brody_mozyr.batching.setup",
                        "value": "{x}d", "bounds": [1, 6], "decimals": 1}],
        "targets": [
            {"name": "lead_jun", "measure": "lead", "programme": "jun_supsa", "tonne": "last",
             "record": record_jun, "half_range": 0.5, "source": "test", "use": "fit"},
            {"name": "lead_aug", "measure": "lead", "programme": "aug_supsa", "tonne": "last",
             "record": record_aug, "half_range": 0.5, "source": "test", "use": "held_out"},
        ],
        **extra,
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def test_lead_time_measure_is_the_hand_worked_same_tonnage_time() -> None:
    """Two cargoes of 10 t land at port P (arrivals 0 h and 24 h; discharged by 10 h and
    30 h); the line delivers 5 t a day from day 0.  Cargo 2's whole tonnage (20 t in all)
    is reached at 20 / 5 = 4 d = 96 h, so its lead time is (96 - 24) / 24 = 3.0 d; its first
    tonne (11 t) at 11 / 5 d = 52.8 h, lead 1.2 d."""
    voyages = pd.DataFrame({"replication": [0, 0], "programme": ["a", "b"], "discharge_port": ["p", "p"],
                            "cargo_t": [10.0, 10.0], "arrive_discharge_h": [0.0, 24.0],
                            "discharge_end_h": [10.0, 30.0]})
    ts = pd.DataFrame({"replication": 0, "day": range(10), "date": pd.date_range("2020-01-01", periods=10),
                       "facility": "line", "kind": "pipeline", "value_t": 5.0})
    last = cal.Target(name="b", measure="lead", programme="b", discharge_port="p", pipeline="line",
                      record=[2, 4], source="hand", use="fit")
    first = last.model_copy(update={"tonne": "first"})
    assert cal.measure(last, voyages, ts)[0] == pytest.approx(3.0)
    assert cal.measure(first, voyages, ts)[0] == pytest.approx(1.2)


def test_fit_recovers_a_notice_the_model_itself_produced(tmp_path: Path) -> None:
    """Targets made by the model at a 3.0 d Brody–Mozyr notice: the fit, started from bounds
    1–6 d, must find 3.0 d again (within 0.5 d) and reproduce its targets; the same SPEC run
    twice gives the same fit."""
    probe = _spec(tmp_path, 0, 0)
    spec, scenario = cal.load_spec(probe)
    truth = cal.evaluate(spec, scenario, ["network.pipelines.brody_mozyr.batching.setup=3.0d"])
    jun, aug = float(np.mean(truth["lead_jun"])), float(np.mean(truth["lead_aug"]))
    path = _spec(tmp_path, jun, aug)
    out = tmp_path / "out"
    fit = cal.calibrate(path, out=out)
    assert fit.fitted["notice"] == pytest.approx(3.0, abs=0.5)
    row = fit.table.set_index("target")
    assert abs(row.loc["lead_jun", "scaled_residual"]) < 1
    assert row.loc["lead_aug", "use"] == "held_out"
    assert list(fit.table.columns)[:8] == ["target", "measure", "use", "model_mean", "model_p5", "model_p95",
                                           "record", "record_centre"]
    assert {"residual", "scaled_residual", "source"} <= set(fit.table.columns)
    assert {"report.md", "report.csv", "before.csv", "trials.csv", "fit.json"} <= {p.name for p in out.iterdir()}
    assert pd.read_csv(out / "report.csv")["target"].tolist() == ["lead_jun", "lead_aug"]
    again = cal.calibrate(path)
    assert again.fitted == fit.fitted and again.loss == fit.loss


def test_fitted_values_go_into_seeds_with_confidence_f(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.yaml"
    seeds.write_text("brody_mozyr:\n  batch_setup:\n    value: 120\n    unit: h\n    confidence: A\n"
                     "    source: assumption\n  batch_size:\n    value: 85\n    unit: kt\n", encoding="utf-8")
    spec = cal.Spec.model_validate({
        "scenario": "x.yaml", "replications": 1,
        "parameters": [{"name": "notice", "set": "a.b", "bounds": [1, 8], "seed": "brody_mozyr.batch_setup",
                        "unit": "d"}],
        "targets": [{"name": "t", "measure": "lead", "programme": "p", "record": [1, 2], "source": "s",
                     "use": "fit"}]})
    result = cal.Calibration(spec, {"notice": 4.5}, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), 0.0, None)
    assert cal.write_seeds(result, seeds, "spec.yaml") == ["brody_mozyr.batch_setup"]
    data = yaml.safe_load(seeds.read_text(encoding="utf-8"))
    entry = data["brody_mozyr"]["batch_setup"]
    assert (entry["value"], entry["unit"], entry["confidence"]) == (4.5, "d", "F")
    assert "routesim calibrate spec.yaml" in entry["source"] and "t (s)" in entry["note"]
    assert data["brody_mozyr"]["batch_size"]["value"] == 85


@pytest.mark.parametrize(("change", "expected"), [
    ({"replications": 0}, "replications"),
    ({"targets": [{"name": "t", "measure": "transit", "record": 3, "source": "s", "use": "fit"}]},
     "needs half_range"),
    ({"parameters": [{"name": "p", "set": "a.b", "bounds": [5, 1]}]}, "low < high"),
    ({"optimizer": {}}, "valid keys"),
])
def test_bad_spec_is_a_clear_error_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               change: dict, expected: str) -> None:
    path = _spec(tmp_path, 10, 10, **{k: v for k, v in change.items() if k not in ("replications",
                                                                                    "targets", "parameters")})
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update(change)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert main(["calibrate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:" in err and expected in err and "Traceback" not in err


def test_missing_spec_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calibrate", "no/such/spec.yaml"]) == 2
    assert "no calibration SPEC" in capsys.readouterr().err


def test_loss_is_squared_residuals_scaled_by_half_range() -> None:
    """Record [11, 16] (centre 13.5, half-range 2.5) and a model mean of 16: residual 2.5,
    scaled 1.0, loss 1.0; a held-out target adds nothing."""
    spec = cal.Spec.model_validate({
        "scenario": "x.yaml", "replications": 1,
        "parameters": [{"name": "p", "set": "a.b", "bounds": [0, 1]}],
        "targets": [{"name": "a", "measure": "lead", "programme": "p", "record": [11, 16], "source": "s",
                     "use": "fit"},
                    {"name": "b", "measure": "lead", "programme": "p", "record": 1, "half_range": 1,
                     "source": "s", "use": "held_out"}]})
    figures = {"a": np.array([15.0, 17.0]), "b": np.array([9.0, math.nan])}
    assert cal._loss(spec, figures) == pytest.approx(1.0)
    table = cal.report_table(spec, figures).set_index("target")
    assert table.loc["a", "scaled_residual"] == pytest.approx(1.0)
    assert table.loc["b", "replications_measured"] == 1
