"""Both notebooks execute top to bottom on a small replication count (nbclient)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"


def execute(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> nbformat.NotebookNode:
    monkeypatch.setenv("ROUTESIM_NB_REPLICATIONS", "2")
    monkeypatch.setenv("ROUTESIM_NB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb


def outputs(nb: nbformat.NotebookNode) -> str:
    text = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text.append(out.get("text", "") + str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(text)


@pytest.mark.slow
def test_compare_scenarios_runs_three_scenarios_and_compares_them(tmp_path, monkeypatch):
    nb = execute("compare_scenarios.ipynb", tmp_path, monkeypatch)
    runs = sorted(p.parent.parent.name for p in (tmp_path / "results").glob("*/*/kpis.parquet"))
    assert runs == ["baseline", "bosphorus_closed_10d_winter", "odesa_brody_outage"]
    text = outputs(nb)
    assert "2 replications, seed 2021" in text
    assert "significant" in text and "Odesa–Brody outage" in text
    brief = next((tmp_path / "results" / "odesa_brody_outage").glob("*/brief.md"))
    assert "## Against baseline" in brief.read_text(encoding="utf-8")


@pytest.mark.slow
def test_explore_run_opens_a_saved_run(tmp_path, monkeypatch):
    from sim.runner import run

    saved = run(NOTEBOOKS.parent / "scenarios" / "baseline.yaml", replications=2, seed=5, executor="serial",
                out=tmp_path / "saved", progress=False)
    nb = execute("explore_run.ipynb", tmp_path, monkeypatch, ROUTESIM_NB_RUN=str(saved.path))
    text = outputs(nb)
    assert f"RunResult({str(saved.path)!r}" in text
    assert (saved.path / "charts" / "route_map.png").exists()
    # nothing new was run: the notebook opened the saved run
    assert not (tmp_path / "results").exists()
