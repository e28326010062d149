"""The bottom line, plain names, charts that show the event and a document that travels.

The run folders are the synthetic ones of ``tests/test_brief.py`` (known tables), so every
figure the bottom line states is worked out here again from the Parquet files and the
scenario alone, independently of ``sim.report``.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.report import brief as briefmod
from sim.report import chart_style, charts
from sim.report.plain import display_name, disruption_name, disruption_phrase, mt_per_year
from tests.test_brief import SCENARIO_YAML, section, write_run

START = dt.date(2021, 1, 1)
MIN_STOCK_T, DEMAND_T_PER_DAY = 50_000.0, 10_000.0  # mozyr in SCENARIO_YAML


def without_disruptions(folder: Path) -> Path:
    """The run folder as a baseline that has no disruptions (its scenario file rewritten)."""
    text = SCENARIO_YAML.split("disruptions:")[0]
    (folder / "scenario.yaml").write_text(text, encoding="utf-8")
    return folder


def with_intake_shares(folder: Path, seed: int = 5) -> pd.DataFrame:
    """Give mozyr's facility rows origin shares (azeri about 70%, russian the rest)."""
    rng = np.random.default_rng(seed)
    fk = pd.read_parquet(folder / "facility_kpis.parquet")
    mozyr = fk["facility"] == "mozyr"
    azeri = rng.uniform(60.0, 80.0, int(mozyr.sum()))
    fk.loc[mozyr, "share_origin_azeri_pct"] = azeri
    fk.loc[mozyr, "share_origin_russian_pct"] = 100.0 - azeri
    fk.to_parquet(folder / "facility_kpis.parquet")
    return fk


def rng_text(x: np.ndarray, unit: str, scale: float = 1.0) -> str:
    """``mean unit (p5–p95 lo–hi unit)`` as the brief prints a range (numpy's linear quantiles)."""
    v = np.asarray(x, dtype=float) * scale
    p5, p95 = np.quantile(v, [0.05, 0.95])
    return f"{v.mean():,.1f}{unit} (p5–p95 {p5:,.1f}–{p95:,.1f}{unit})"


def long_date(d: dt.date) -> str:
    return f"{d.day} {d.strftime('%B')} {d.year}"


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path, str]:
    """A what-if (the mini corridor with its 5-day Brody–Mozyr closure) against a baseline
    without it, same seed and replications, and the what-if's brief."""
    root = tmp_path_factory.mktemp("bottom")
    base = without_disruptions(write_run(root / "base", reps=12, seed=7))
    run = write_run(root / "run", reps=12, seed=7, shift_t=-30_000.0)
    with_intake_shares(run)
    md = briefmod.brief(run, vs=base).read_text(encoding="utf-8")
    return base, run, md


def test_the_bottom_line_answers_with_the_figures_of_the_tables(pair):
    """Worked from the tables: Mozyr's usable cover at each day boundary is (stock − 50 kt)
    / 10 kt/d, floored at 0; per replication its minimum and the first boundary where it
    falls; the brief states the median of those dates with their p5–p95 (nearest rank), the
    minimum's mean and p5–p95, the azeri share of Mozyr's intake (its facility rows), the cut
    runs and shortfall of the KPIs, and crude delivered against the baseline as
    sim.analysis.compare pairs it."""
    from sim.analysis.compare import compare

    base, run, md = pair
    bottom = section(md, "Bottom line")
    paragraph = bottom.strip().split("\n\n")[0]
    # 1. the scenario's own disruption, in words, and what it costs in runs
    k = pd.read_parquet(run / "kpis.parquet")
    share = 100.0 * (k.cut_run_days > 0).mean()
    assert paragraph.startswith(
        f"A 5-day closure of the Brody–Mozyr pipeline from 10 January 2021 cuts runs at Mozyr for "
        f"{rng_text(k.cut_run_days, ' d')}, {rng_text(k.shortfall_t, ' kt', 1e-3)} short of demand, in "
        f"{share:.0f}% of replications"), paragraph
    # 2. the intake share of the refinery closest to its minimum
    fk = pd.read_parquet(run / "facility_kpis.parquet")
    azeri = fk.loc[fk.facility == "mozyr", "share_origin_azeri_pct"]
    assert f". Azeri crude supplies {rng_text(azeri, '%')} of Mozyr's intake." in paragraph  # after the cuts
    # 3. when and how near the stock comes to its minimum
    ts = pd.read_parquet(run / "timeseries.parquet")
    stock = ts[(ts.kind == "stock") & (ts.facility == "mozyr")].pivot(index="replication", columns="day",
                                                                     values="value_t").to_numpy()
    usable = np.maximum(stock - MIN_STOCK_T, 0.0) / DEMAND_T_PER_DAY
    day = usable.argmin(axis=1)
    low = usable.min(axis=1)
    d5, d50, d95 = (START + dt.timedelta(days=int(x)) for x in np.quantile(day, [0.05, 0.5, 0.95], method="nearest"))
    expected = (f"Mozyr's stock comes closest to its minimum around {long_date(d50)} (median; p5–p95 "
                f"{long_date(d5)} to {long_date(d95)}), {rng_text(low, ' d')} of demand above it")
    if d5 == d95:
        expected = f"Mozyr's stock comes closest to its minimum on {long_date(d50)} in every replication"
    assert expected in paragraph, paragraph
    at_floor = int((low <= 0).sum())
    if at_floor:
        assert f"it reaches the minimum in {at_floor} of 12 replications" in paragraph
    # 4. against the baseline, paired by replication
    v = compare([base, run]).set_index("kpi").loc["delivered_t"]
    assert v.method == "paired" and v.significant
    # "less" carries the sign: the interval is of the magnitude, -ci_high to -ci_low
    assert (f"Against the mini corridor, the refineries receive {abs(v['diff']) / 1e3:,.1f} kt less crude (95% CI "
            f"{-v.ci_high / 1e3:,.1f} to {-v.ci_low / 1e3:,.1f} kt, paired by replication).") in bottom
    # then three to five drivers
    bullets = [line for line in bottom.splitlines() if line.startswith("- ")]
    assert 3 <= len(bullets) <= 5, bullets
    fkm = fk[fk.facility == "brody_mozyr"].utilisation_pct
    assert any(b.startswith(f"- The Brody–Mozyr pipeline ({25_000 * 365 / 1e6:,.1f} Mt/y) is the tightest link: it "
                            f"runs at {rng_text(fkm, '%')} of capacity") for b in bullets), bullets


def test_the_bottom_line_comes_first_and_the_body_names_no_identifier(pair):
    """Identifiers (with their underscores) appear only in the appendix; the body uses the
    display names, and Appendix B maps one to the other."""
    _, _, md = pair
    assert md.index("## Bottom line") < md.index("## Against") < md.index("## Charts") < md.index("## Appendix")
    body = md[: md.index("## Appendix")]
    for identifier in ("brody_mozyr", "odesa_brody", "supsa_pivdennyi", "brody_closed", "mini_corridor"):
        assert identifier not in body, identifier
    key = section(md, "Appendix B: names and identifiers")
    assert "| Brody–Mozyr pipeline | brody_mozyr | pipeline |" in key
    assert "| Brody closed | brody_closed | disruption (closure) |" in key


def test_the_against_baseline_table_keeps_what_moved_and_the_headline(pair):
    """Rows beyond noise and the six headline figures stay; every other figure is in
    Appendix A (and only there), with its column name."""
    _, _, md = pair
    from sim.results.catalogue import BRIEF_HEADLINE, plain_label

    def rows(text: str) -> dict[str, list[str]]:
        return {r.split("|")[1].strip(): [c.strip() for c in r.strip().strip("|").split("|")]
                for r in text.splitlines() if r.startswith("| ") and "verdict" not in r}

    short, full = rows(section(md, "Against mini corridor")), rows(section(md, "Appendix A: every figure against "
                                                                             "mini corridor"))
    assert set(short) <= set(full) and len(short) < len(full)
    for label, cells in full.items():
        kept = cells[6] in BRIEF_HEADLINE or cells[5] == "beyond noise"
        assert (label in short) == kept, (label, cells)
        if kept:
            assert short[label] == cells[:6]
    assert f"{plain_label('min_days_cover')} (d)" in short
    assert f"the other {len(full) - len(short)} are in Appendix A" in section(md, "Against mini corridor")


def test_a_label_in_the_scenario_names_the_facility_everywhere(tmp_path):
    folder = write_run(tmp_path / "run", reps=4)
    text = SCENARIO_YAML.replace("{name: brody_mozyr, from: brody,",
                                 '{name: brody_mozyr, label: "Druzhba reverse line (Brody to Mozyr)", from: brody,')
    (folder / "scenario.yaml").write_text(text, encoding="utf-8")
    md = briefmod.brief(folder).read_text(encoding="utf-8")
    body = md[: md.index("## Appendix")]
    assert "Druzhba reverse line (Brody to Mozyr)" in section(md, "Bottom line")
    assert "Brody–Mozyr pipeline" not in body
    svg = (folder / "charts" / "route_map.svg").read_text(encoding="utf-8")
    assert "Druzhba reverse line (Brody to Mozyr)" in svg


def test_the_label_field_is_described_in_the_schema():
    from sim.scenario.schema import scenario_json_schema

    text = str(scenario_json_schema())
    assert "display name for people (the brief)" in text


def test_plain_names_rates_and_disruptions_in_words():
    """Names made from identifiers (a leg's two places joined by an en dash, short words as
    acronyms), rates at 365 days a year, and a disruption's kind, target and window."""
    from sim.scenario.language import Scenario
    import yaml

    s = Scenario.model_validate(yaml.safe_load(SCENARIO_YAML))
    assert display_name(s, "odesa_brody") == "Odesa–Brody pipeline"
    assert display_name(s, "supsa_pivdennyi") == "Supsa–Pivdennyi sea leg"
    assert display_name(s, "wrep") == "WREP pipeline"
    assert display_name(s, "mozyr") == "Mozyr"
    assert disruption_name(s, "brody_closed") == "Brody closed"
    assert mt_per_year(25_000.0) == "9.1 Mt/y"  # 25 kt/d x 365 = 9.125 Mt/y
    assert disruption_phrase(s, s.disruptions[0]) == "a 5-day closure of the Brody–Mozyr pipeline from 10 January 2021"


# ------------------------------------------------------------------------------ charts


def test_every_time_chart_shades_and_names_the_scenarios_disruption(pair):
    """The own disruption is named on the cover, delivered and difference charts; the timeline
    has a row for it; the difference fan exists because the runs share seed and replications."""
    _, run, md = pair
    for stem in ("cover", "delivered", "difference", "timeline"):
        svg = (run / "charts" / f"{stem}.svg").read_text(encoding="utf-8")
        assert "Brody closed" in svg, stem
        assert f"](charts/{stem}.png)" in md
    caption = re.search(r"!\[([^\]]*)\]\(charts/difference\.png\)", md)
    assert caption and "replication by replication" in caption.group(1)


def test_no_difference_fan_when_the_runs_do_not_pair(tmp_path):
    base = without_disruptions(write_run(tmp_path / "base", reps=6, seed=7))
    run = write_run(tmp_path / "run", reps=6, seed=8)
    md = briefmod.brief(run, vs=base).read_text(encoding="utf-8")
    assert "charts/difference.png" not in md and "Welch" in md


def test_every_chart_has_a_one_line_caption(pair):
    _, _, md = pair
    captions = re.findall(r"!\[([^\]]*)\]\(charts/[a-z_]+\.png\)", md)
    assert len(captions) >= 6
    for c in captions:
        assert "\n" not in c and c.endswith(".") and c.count(". ") == 0, c


def test_policy_decisions_are_drawn_on_the_cover_chart_when_the_folder_has_them(tmp_path):
    folder = write_run(tmp_path / "run", reps=3)
    pd.DataFrame({"replication": [0, 1, 2], "time_h": [240.0, 250.0, 300.0],
                  "policy": ["extra cargo"] * 3, "refinery": ["mozyr"] * 3}).to_parquet(folder / "decisions.parquet")
    md = briefmod.brief(folder).read_text(encoding="utf-8")
    assert "decision: extra cargo" in (folder / "charts" / "cover.svg").read_text(encoding="utf-8")
    assert "triangles are the policy decisions" in md
    (folder / "decisions.parquet").unlink()
    md = briefmod.brief(folder).read_text(encoding="utf-8")
    assert "decision:" not in (folder / "charts" / "cover.svg").read_text(encoding="utf-8")
    assert "triangles" not in md


def capture_figures(monkeypatch, *modules) -> list:
    """Keep every figure the charts save (they are closed otherwise)."""
    kept = []
    real = chart_style.save

    def save(fig, stem):
        kept.append(fig)
        return real(fig, stem)

    for m in modules:
        monkeypatch.setattr(m, "save", save)
    return kept


def test_overlapping_labels_are_found():
    """The check itself can fail: two texts at one place overlap."""
    fig, ax = chart_style.figure(4, 3)
    ax.text(0.5, 0.5, "first label")
    ax.text(0.5, 0.5, "second label")
    assert ("first label", "second label") in chart_style.overlapping_texts(fig)


def test_tornado_labels_never_overlap(tmp_path, monkeypatch):
    """A sensitivity tornado with parameter values at both bar ends, long row names and bars
    that reach the axis edges: no two texts (ticks, labels, end values, legend) overlap."""
    kept = capture_figures(monkeypatch, charts)
    t = pd.DataFrame({"label": ["Odesa–Brody pipeline capacity", "Pivdennyi discharge rate", "cargo size",
                                "Bosphorus closure days per year", "tanker speed"],
                      "low": [-120.0, -80.0, -5.0, -60.0, -1.0], "high": [40.0, 10.0, 5.0, 0.0, 2.0],
                      "low_label": ["6 Mt/y", "20 kt/d", "80 kt", "0 d", "12 kn"],
                      "high_label": ["14.5 Mt/y", "60 kt/d", "100 kt", "20 d", "15 kn"],
                      "err_low": [-140.0, -90.0, -7.0, -70.0, -2.0], "err_high": [50.0, 15.0, 7.0, 3.0, 3.0]})
    charts.tornado(t, tmp_path / "tornado", xlabel="change in crude delivered (kt)", title="Sensitivity",
                   subtitle="mini corridor, 20 replications")
    assert chart_style.overlapping_texts(kept[-1]) == []


def test_route_map_is_drawn_on_coastlines_and_borders_with_no_label_overlapping(tmp_path, monkeypatch):
    """The shipped what-if's network on the packaged Natural Earth extract: land polygons,
    coastlines and borders inside the map, and no two labels overlapping."""
    from matplotlib.patches import PathPatch

    from sim.report import route_map as rm
    from sim.scenario.loader import load_scenario

    data = rm.basemap()
    assert data["land"] and len(data["coastline"]) > 20 and len(data["borders"]) > 20
    assert "public domain" in data["source"]
    kept = capture_figures(monkeypatch, rm)
    s = load_scenario(Path(__file__).parent.parent / "scenarios" / "odesa_brody_outage.yaml")
    flows = {p.name: 20_000.0 for p in s.network.pipelines} | {leg.name: 5_000.0 for leg in s.network.sea_legs}
    names = {f.name: display_name(s, f.name) for _, f in s.network.facilities()}
    rm.route_map(s, flows, ["odesa_brody", "bosphorus"], tmp_path / "map", own=["odesa_brody"], names=names)
    fig = kept[-1]
    ax = fig.axes[0]
    assert sum(isinstance(p, PathPatch) for p in ax.patches) >= 5  # land drawn
    assert len(ax.lines) > 100  # coastlines and borders, under the legs
    assert chart_style.overlapping_texts(fig) == []


# ------------------------------------------------------------------------------ the document


def test_the_html_prints_on_a4_with_a_page_per_section_and_the_markdown_has_no_html(pair, tmp_path):
    _, run, md = pair
    html = briefmod.brief(run, format="html").read_text(encoding="utf-8")
    assert "@page{size:A4" in html and "section+section{break-before:page}" in html
    assert html.count("<section>") == html.count("</section>") == html.count("<h2>")
    assert "<ul><li>" in html and "<code>routesim attribute" in html  # bullets and the command as code
    assert "`" not in re.sub(r"<code>.*?</code>", "", html)  # no literal backticks
    assert "<" not in md and "\n- " in md  # Markdown a code-hosting site renders: no raw HTML


@pytest.mark.slow
def test_the_odesa_brody_what_if_opens_with_its_answer(tmp_path):
    """End to end on the shipped what-if against the baseline (3 replications, seed 4): the
    paragraph names the outage in words and its figures are those of the run folder (the
    refinery closest to its minimum found from the stock and demand series and the
    scenario's minimum stocks, as the README defines the margin)."""
    from sim.runner import run
    from sim.scenario.loader import load_scenario

    scenarios = Path(__file__).parent.parent / "scenarios"
    base = run(scenarios / "baseline.yaml", replications=3, seed=4, executor="serial", out=tmp_path / "base",
               progress=False)
    what_if = run(scenarios / "odesa_brody_outage.yaml", replications=3, seed=4, executor="serial",
                  out=tmp_path / "what_if", progress=False)
    md = briefmod.brief(what_if.path, vs=base.path).read_text(encoding="utf-8")
    paragraph = section(md, "Bottom line").strip().split("\n\n")[0]
    assert paragraph.startswith("A 30-day closure of the Odesa–Brody pipeline from 1 March 2021 "), paragraph
    k = pd.read_parquet(what_if.path / "kpis.parquet")
    if (k[["cut_run_days_mozyr", "cut_run_days_naftan"]].to_numpy() == 0).all():
        assert "costs the refineries no runs in any of the 3 replications" in paragraph
    s = load_scenario(what_if.path / "scenario.yaml")
    ts = pd.read_parquet(what_if.path / "timeseries.parquet")
    margins = {}
    for r in s.network.refineries:
        stock = ts[(ts.kind == "stock") & (ts.facility == r.name)].pivot(index="replication", columns="day",
                                                                       values="value_t").to_numpy()
        demand = ts[(ts.kind == "demand") & (ts.facility == r.name)].pivot(index="replication", columns="day",
                                                                         values="value_t").to_numpy()
        rate = np.concatenate([demand, demand[:, -1:]], axis=1)
        margins[r.name] = np.maximum(stock - r.min_stock_t, 0.0) / rate
    name = min(margins, key=lambda n: margins[n].min(axis=1).mean())
    m = margins[name]
    day = m.argmin(axis=1)
    d50 = START + dt.timedelta(days=int(np.quantile(day, 0.5, method="nearest")))
    shown = name.capitalize()
    assert f"{shown}'s stock comes closest to its minimum" in paragraph and long_date(d50) in paragraph
    low = m.min(axis=1)
    assert f"{low.mean():,.1f} d" in paragraph
    fk = pd.read_parquet(what_if.path / "facility_kpis.parquet")
    mine = fk[fk.facility == name]
    top = max(("azeri", "russian"), key=lambda o: mine[f"share_origin_{o}_pct"].fillna(0).mean())
    assert f"{top.capitalize()} crude supplies {mine[f'share_origin_{top}_pct'].mean():,.1f}%" in paragraph
    assert "Against the baseline, " in paragraph


def test_a_hostile_label_is_text_in_the_document_and_on_the_charts(tmp_path):
    """A label is user text: in the Markdown it is escaped, on a chart a '$' pair is not
    parsed as mathtext (an unbalanced formula would stop the brief)."""
    folder = write_run(tmp_path / "run", reps=3)
    label = "Brody $x^{$ <script>alert(1)</script> [x](javascript:1)"
    text = SCENARIO_YAML.replace("{name: brody_mozyr, from: brody,",
                                 f"{{name: brody_mozyr, label: '{label}', from: brody,")
    (folder / "scenario.yaml").write_text(text, encoding="utf-8")
    md = briefmod.brief(folder).read_text(encoding="utf-8")
    assert "<script>" not in md and "&lt;script&gt;" in md and "\\[x\\](javascript:1)" in md
    assert "Brody $x^{$" in (folder / "charts" / "route_map.svg").read_text(encoding="utf-8")


def test_nominations_and_decisions_elsewhere_show_on_the_cover_chart(tmp_path):
    """The nominations table (decided_h, policy) and a decision at a source (not a refinery)
    are drawn too: on every refinery's panel."""
    folder = write_run(tmp_path / "run", reps=2)
    pd.DataFrame({"replication": [0, 1], "decided_h": [100.0, 130.0], "policy": ["reorder", "reorder"],
                  "watch": ["mozyr", "mozyr"]}).to_parquet(folder / "nominations.parquet")
    pd.DataFrame({"replication": [0], "facility": ["sangachal"], "policy": ["top_up"], "decision": ["+20 kt"],
                  "time_h": [200.0]}).to_parquet(folder / "decisions.parquet")
    briefmod.brief(folder)
    svg = (folder / "charts" / "cover.svg").read_text(encoding="utf-8")
    assert "decision: reorder" in svg and "decision: top_up" in svg


def test_planned_run_cuts_are_said_apart_from_the_forced_shortfall(tmp_path):
    """The refinery of tests/test_run_policy.py: it wants 10 kt/d, holds 60 kt above its
    floor and receives 2 kt/d; cut to half below 2 days of cover, it gives up 50 kt by plan
    on 10 days and still runs 10 kt short, forced, on 4 days.  The bottom line says the
    forced cut and, apart from it, the planned one; a run that only cuts by plan does not
    read as "costs no runs"."""
    import sim
    from sim.report.bottom_line import bottom_line
    from tests.test_run_policy import CUT, _net
    from tests.test_model_support import scenario

    run = sim.run(scenario(_net(CUT), horizon="15d"), replications=2, executor="serial", progress=False,
                  out=tmp_path / "cut")
    text = bottom_line(run).paragraph
    assert "cuts runs at R for 4.0 d" in text and "10.0 kt" in text
    assert "and by plan R for 10.0 d" in text and "50.0 kt" in text and "below demand" in text
    assert "no runs" not in text
    # enough crude that the floor is never reached: only the planned cut remains
    run = sim.run(scenario(_net(CUT, rate="6 kt/d"), horizon="15d"), replications=2, executor="serial",
                  progress=False, out=tmp_path / "planned")
    text = bottom_line(run).paragraph
    assert "forces no cut runs on R in any of the 2 replications, but they cut runs by plan (R for" in text


def test_an_origin_with_an_underscore_is_named_in_words(tmp_path):
    """An origin written as an identifier (``baltic_seaborne``) is named in words in the
    origin bullet, "Baltic seaborne 25.0% ...", not "Baltic_seaborne": the run's kpis are
    given a 25% baltic_seaborne share beside 75% azeri in every replication."""
    run = write_run(tmp_path / "run", reps=4, seed=7)
    kpis = pd.read_parquet(run / "kpis.parquet")
    kpis["share_origin_azeri_pct"] = 75.0
    kpis["share_origin_baltic_seaborne_pct"] = 25.0
    kpis.to_parquet(run / "kpis.parquet")
    md = briefmod.brief(run).read_text(encoding="utf-8")
    bullet = next(line for line in md.splitlines() if "by origin:" in line)
    assert "Azeri 75.0%" in bullet and "Baltic seaborne 25.0%" in bullet and "_" not in bullet.split(":", 1)[1]
