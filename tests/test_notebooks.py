"""Both notebooks execute top to bottom on a small replication count (nbclient), use only
the public API (``import sim``), and ``sim.run`` shows its progress bar in a notebook."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import sim

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


def code_of(name: str) -> str:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


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


@pytest.mark.parametrize("name", ["compare_scenarios.ipynb", "explore_run.ipynb"])
def test_a_notebook_uses_only_the_public_api(name):
    code = code_of(name)
    imported = re.findall(r"^\s*(?:from|import)\s+(sim[.\w]*)", code, flags=re.M)
    assert imported == ["sim"], f"{name} imports {imported}; notebooks use `import sim` only"
    used = set(re.findall(r"\bsim\.(\w+)", code))
    assert used <= set(sim.__all__), f"{name} uses {sorted(used - set(sim.__all__))}, not in sim.__all__"
    assert not any(u.startswith("_") for u in used)


def test_the_compare_notebook_says_what_its_code_does():
    nb = nbformat.read(NOTEBOOKS / "compare_scenarios.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    # the runs share a seed, so sim.compare pairs them; the text must not claim Welch for them
    assert "pairs" in text and "paired" in text
    assert "(Welch)" not in text
    assert "progress=False" not in code_of("compare_scenarios.ipynb")  # the analyst sees the bars


def test_combined_runs_carry_run_id_and_scenario(tmp_path):
    base = sim.run(NOTEBOOKS.parent / "scenarios" / "baseline.yaml", replications=2, seed=3, executor="serial",
                   out=tmp_path / "a", progress=False)
    again = sim.open_run(base.path)
    table = sim.combine({"first": base, "second": again})
    assert list(table.columns[:4]) == ["run", "run_id", "scenario", "replication"]
    assert table["run"].tolist() == ["first", "first", "second", "second"]
    assert set(table["run_id"]) == {"a"} and set(table["scenario"]) == {"baseline"}
    assert table.drop(columns=["run", "run_id", "scenario"]).iloc[:2].reset_index(drop=True).equals(base.kpis)
    listed = sim.combine([base, again], "facility_kpis")
    assert list(listed["run"].cat.categories) == ["baseline", "baseline#2"]
    assert len(listed) == 2 * len(base.facility_kpis)


def test_the_progress_bar_shows_in_a_jupyter_kernel(tmp_path, monkeypatch):
    """In a kernel stderr is no terminal, yet the analyst must see the bar (issue 18)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import sim\n"
        f"r = sim.run({str(NOTEBOOKS.parent / 'scenarios' / 'baseline.yaml')!r}, replications=2, seed=1, "
        f"executor='serial', out={str(tmp_path / 'run')!r})"
    )])
    monkeypatch.setenv("MPLBACKEND", "Agg")
    NotebookClient(nb, timeout=600, kernel_name="python3").execute()
    out = nb.cells[0].outputs
    widget = [o for o in out if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    text = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in out)
    assert widget or "2/2" in text, f"no progress bar in the notebook's output: {out}"


def test_outside_a_kernel_and_a_terminal_no_bar_is_shown(monkeypatch):
    from sim.runner.execution import progress_bar as _progress_bar

    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert _progress_bar(3, 0, None, "x") is None
    bar = _progress_bar(3, 0, True, "x")
    assert bar is not None
    bar.close()
