"""The bottom line's first paragraph is short and answers the question; detail goes below it.

The length rule (:data:`sim.report.bottom_line.PARAGRAPH_WORDS`, README "The bottom line of
a brief") is part of the generator: sentences in order of what answers the question, each
kept if the paragraph stays within the limit, the rest in the bullets.  A difference read
with a verb that carries its sign ("cuts ... by") gives its interval as magnitudes; a figure
the same in every replication says so once a sentence.  Every shipped what-if is briefed
against the scenario it extends (two replications) and its paragraph checked.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.report import brief as briefmod
from sim.report.bottom_line import PARAGRAPH_WORDS, bottom_line, fit, question_refinery
from sim.report.changes import change_effects
from sim.report.document import Doc
from sim.report.numbers import magnitudes, once_every, word_count
from sim.report.plain import display_name, origin_crude
from sim.scenario.extends import base_file
from sim.scenario.loader import load_scenario

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
UNCERTAIN = re.compile(r"p5–p95|95% CI|in every replication|in any of the \d+ replications")


def test_the_length_rule_keeps_sentences_in_order_while_they_fit():
    """Sentences of 5, 4, 3 and 2 words with a limit of 10: 5 is kept (the first always),
    5 + 4 = 9 fits, 9 + 3 = 12 does not (to the bullets), 9 + 2 = 11 does not either."""
    sentences = ["one two three four five.", "six seven eight nine.", "ten eleven twelve.", "thirteen fourteen."]
    paragraph, rest = fit(sentences, limit=10)
    assert paragraph == "one two three four five. six seven eight nine."
    assert rest == ["ten eleven twelve.", "thirteen fourteen."]
    assert word_count(paragraph) == 9
    long_first = " ".join(["word"] * 12) + "."
    assert fit([long_first, "more."], limit=10) == (long_first, ["more."])  # the answer is never dropped


def test_a_word_count_ignores_markdown_escapes_and_code_marks():
    r"""``Odesa\_Brody`` is one word as a reader sees it, and `` `routesim run` `` two."""
    assert word_count(r"the Odesa\_Brody line: `routesim run`") == 5


def test_a_figure_the_same_in_every_replication_says_so_once_a_sentence():
    """The date already says "in every replication": the margin after it does not repeat
    it; the next sentence is a sentence of its own and keeps its first."""
    text = ("Mozyr's stock comes closest on 9 April 2021 in every replication, 1.6 d (in every replication) "
            "of demand above it. It runs at 100.0% (in every replication) of capacity, 2.0 d (in every replication).")
    assert once_every(text) == ("Mozyr's stock comes closest on 9 April 2021 in every replication, 1.6 d of "
                                "demand above it. It runs at 100.0% (in every replication) of capacity, 2.0 d.")


def test_a_negative_difference_read_with_cuts_gives_its_interval_as_magnitudes():
    """A difference of -11.12 with 95% CI -11.20 to -11.05 read "cuts by 11.12" has the
    interval 11.05 to 11.20; a positive one keeps its interval."""
    assert magnitudes(-11.12, -11.20, -11.05) == (11.05, 11.20)
    assert magnitudes(2.54, 2.50, 2.59) == (2.50, 2.59)


def test_the_opening_stocks_origin_has_one_name():
    assert origin_crude("initial") == "opening stocks and linefill"
    assert origin_crude("baltic_seaborne") == "Baltic seaborne crude"


def test_the_question_refinery_is_the_first_the_description_names():
    """corridor_pushed asks about Mozyr; diversified_2020 names Mozyr before Naftan (with
    no change to follow, the first named: tests/test_brief_question_refinery.py follows its
    change to Naftan); the contamination what-if names no refinery."""
    assert question_refinery(_stub(SCENARIOS / "corridor_pushed.yaml")) == "mozyr"
    assert question_refinery(_stub(SCENARIOS / "diversified_2020.yaml")) == "mozyr"
    assert question_refinery(_stub(SCENARIOS / "contamination_2019.yaml")) is None


def _stub(path: Path) -> sim.RunResult:
    from sim.results.store import RunResult

    return RunResult(path.parent, {}, {"scenario": load_scenario(path), "kpis": pd.DataFrame(),
                                       "facility_kpis": pd.DataFrame(), "cargoes": pd.DataFrame(),
                                       "timeseries": pd.DataFrame()})


def test_a_bullet_with_lines_of_its_own_is_a_nested_list_in_markdown_and_html(tmp_path):
    doc = Doc()
    doc.bullets(["What changes:\n- Adding *a* fleet.\n- Removing a programme.", "Plain."])
    md = doc.markdown(tmp_path)
    assert "- What changes:\n  - Adding *a* fleet.\n  - Removing a programme.\n- Plain." in md
    html = doc.html("t")
    assert ("<ul><li>What changes:<ul><li>Adding <em>a</em> fleet.</li><li>Removing a programme.</li></ul></li>"
            "<li>Plain.</li></ul>") in html


# ------------------------------------------------------------------ every shipped what-if


def what_ifs() -> list[Path]:
    return sorted(p for p in SCENARIOS.glob("*.yaml") if base_file(p) is not None)


@pytest.fixture(scope="module")
def briefed(tmp_path_factory) -> dict[str, tuple[sim.RunResult, sim.RunResult, str, list[str]]]:
    """Each shipped what-if and the scenario it extends, two replications, seed 3 (one run
    per scenario, a base reused by all that extend it): name -> (run, base, paragraph,
    bullets)."""
    tmp = tmp_path_factory.mktemp("what_ifs")
    runs: dict[Path, sim.RunResult] = {}

    def run_of(path: Path) -> sim.RunResult:
        if path not in runs:
            done = sim.run(path, replications=2, seed=3, executor="serial", out=tmp / path.stem, progress=False)
            runs[path] = briefmod.load_run(done.path)
        return runs[path]

    out = {}
    for p in what_ifs():
        run, base = run_of(p.resolve()), run_of((p.parent / str(base_file(p))).resolve())
        cols = [c for c in (*briefmod.TABLE_KPIS, *sorted(c for c in run.kpis.columns if c.startswith("share_")))
                if c in run.kpis and c in base.kpis]
        line = bottom_line(run, base, briefmod.differences(run, base, cols))
        out[p.stem] = (run, base, line.paragraph, line.bullets)
    return out


@pytest.mark.slow
def test_every_shipped_what_if_opens_with_a_short_paragraph_that_answers_its_question(briefed):
    """Within the length rule; with its uncertainty; naming the refinery the question is
    about when it names one and the paragraph is about a refinery's answer; "how many Mt/y"
    answered in Mt/y; a disruption what-if says what it costs in runs."""
    assert len(briefed) == len(what_ifs()) >= 20
    for name, (run, _, paragraph, bullets) in briefed.items():
        assert word_count(paragraph) <= PARAGRAPH_WORDS, (name, word_count(paragraph), paragraph)
        assert UNCERTAIN.search(paragraph), (name, paragraph)
        assert bullets, name
        question = " ".join(run.scenario.description.split())
        if "how many Mt/y" in question:
            assert re.search(r"\d Mt/y", paragraph), (name, paragraph)
        focus = question_refinery(run)
        if focus is not None and " receives " in paragraph:
            assert paragraph.startswith(("With ", display_name(run.scenario, focus))), (name, paragraph)
        if " receives " not in paragraph and not paragraph.startswith("Against"):
            assert re.search(r"no runs|cuts? runs|cut runs", paragraph), (name, paragraph)
        for sentence in re.split(r"(?<=[.;])\s+(?=[A-Z])", paragraph):
            assert sentence.count("in every replication") <= 1, (name, sentence)


@pytest.mark.slow
def test_corridor_pushed_answers_with_mozyrs_sustained_rate_and_the_change_in_one_clause(briefed):
    """The question: how many Mt/y the southern route sustains to Mozyr, what binds, how long
    the ramp-up takes.  The paragraph opens with the stopped Russian line, then Mozyr's
    sustained seaborne rate as :func:`sim.report.changes.sustained_rates` computes it from
    the cargo table (worked here again: the mean daily cargo crude into Mozyr over days
    548..1095, in Mt/y), its share of Mozyr's demand, the facility that binds and the
    ramp-up; the change list is a nested bullet, one line per change."""
    from sim.report.changes import seaborne_daily_t

    run, _, paragraph, bullets = briefed["corridor_pushed"]
    assert paragraph.startswith("With a closure of the Druzhba–Mozyr pipeline for the whole run, Mozyr receives "
                                "a sustained "), paragraph
    daily = seaborne_daily_t(run, "mozyr")
    rate = daily[:, daily.shape[1] // 2:].mean(axis=1)
    assert f"{rate.mean() * 365 / 1e6:,.1f} Mt/y" in paragraph
    demand = next(r for r in run.scenario.network.refineries if r.name == "mozyr").demand_t_per_day
    assert f"{100.0 * rate.mean() / demand:.0f}% of its demand" in paragraph
    assert " binds it, at " in paragraph and " days (median) to reach 90% of that rate" in paragraph
    assert "Against the baseline (9 changes, listed below), the what-if " in paragraph
    changes = bullets[0].split("\n")
    assert changes[0] == "What this scenario changes against Baseline:" and len(changes) == 10
    assert all(c.startswith("- ") for c in changes[1:])
    assert not any("Druzhba–Naftan" in b and "tightest" in b for b in bullets)  # Naftan is not the question


@pytest.mark.slow
def test_an_effect_read_with_cuts_has_an_interval_of_magnitudes(briefed):
    """corridor_pushed stops Russian crude to Mozyr: "cuts Russian crude delivered by X
    Mt/y (95% CI a to b Mt/y)" with 0 < a <= X <= b, in the paragraph and in the
    effects sentence of :func:`change_effects`."""
    run, base, paragraph, _ = briefed["corridor_pushed"]
    for text in (paragraph, change_effects(run, base, paired=True)):
        m = re.search(r"cuts Russian crude delivered by ([\d.,]+) Mt/y \(95% CI ([\d.,-]+) to ([\d.,-]+)", text)
        assert m, text
        x, a, b = (float(g.replace(",", "")) for g in m.groups())
        assert 0 < a <= x <= b, text


@pytest.mark.slow
def test_without_vs_the_brief_leads_with_the_change_its_manifest_records(briefed, tmp_path):
    """No --vs: corridor_pushed's run folder records what it changes against baseline.yaml,
    so the paragraph still opens with Mozyr's answer and its own disruption (not the
    background Bosphorus delay stretched over the run), and says how to get the effects."""
    run, _, _, _ = briefed["corridor_pushed"]
    line = bottom_line(run)
    assert line.paragraph.startswith("With a closure of the Druzhba–Mozyr pipeline for the whole run, Mozyr "
                                     "receives a sustained "), line.paragraph
    assert "Bosphorus" not in line.paragraph.split(". ")[0]
    assert "It differs from the baseline, the scenario it extends, by 9 changes listed below" in line.paragraph
    assert line.bullets[0].startswith("What this scenario changes against Baseline:\n- ")
    odesa = briefed["odesa_brody_outage"][0]
    assert bottom_line(odesa).paragraph.startswith("A 30-day closure of the Odesa–Brody pipeline from 1 March 2021 ")


@pytest.mark.slow
def test_the_paragraphs_figures_are_those_of_the_tables(briefed):
    """odesa_brody_outage: the share of Mozyr's intake from its largest origin is the mean
    over replications of facility_kpis' share column, worked here from the table."""
    run, _, paragraph, _ = briefed["odesa_brody_outage"]
    fk = run.facility_kpis
    mine = fk[fk["facility"] == "mozyr"]
    share = float(np.mean(mine["share_origin_russian_pct"].fillna(0.0)))
    assert f"Russian crude supplies {share:,.1f}%" in paragraph, paragraph


@pytest.mark.slow
def test_a_disruption_over_the_whole_run_is_a_caption_note_not_a_band(briefed, tmp_path):
    """corridor_pushed closes the Russian line to Mozyr for the whole run (its own) and
    stretches the background Bosphorus delay over its three years: neither is shaded as a
    band over the time charts (the captions say they act over the whole run), the
    Bosphorus delay is not called this scenario's, and the map still marks the closure."""
    from sim.report.bottom_line import own_disruptions

    run, base, _, _ = briefed["corridor_pushed"]
    made = {p.stem: caption for p, caption in briefmod.make_charts(run, tmp_path, base)}
    note = "(Bosphorus traffic and No Russian crude to Mozyr (this scenario) act over the whole run, so not shaded)"
    assert note in made["cover"] and note in made["delivered"]  # no difference fan: the runs differ in length
    assert "the red band" not in made["cover"]
    assert "No Russian crude to Mozyr acts" in made["route_map"]
    assert [d.name for d in own_disruptions(run, base)] == ["no_russian_crude_to_mozyr"]


def test_a_counterfactual_gain_read_with_less_gives_its_interval_as_magnitudes():
    """Without a disruption the refineries would have lost 20 kt (delivered_lost_t mean
    -20,000 t, its 95% CI -26,000 to -14,000 t): "20.0 kt ... less crude (95% CI 14.0 to
    26.0 kt)", the interval of the magnitude after the sign-carrying "less"."""
    from sim.report.costs import cost_clause

    row = pd.Series({"replications": 4, "delivered_lost_t_mean": -20_000.0, "delivered_lost_t_p5": -25_000.0,
                     "delivered_lost_t_p95": -15_000.0, "delivered_lost_t_ci_low": -26_000.0,
                     "delivered_lost_t_ci_high": -14_000.0})
    text = cost_clause(row)
    assert text.startswith("the refineries would have received 20.0 kt (p5–p95 15.0–25.0 kt) less crude"), text
    assert text.endswith("(95% CI 14.0 to 26.0 kt)"), text


def test_a_sentence_the_length_rule_moves_out_is_never_cut_from_the_bullets(briefed, monkeypatch):
    """The bullets are capped (8 for a change), but the cap is on the drivers only: with nine
    refineries' answers (made up here, as a network of nine refineries would give), the
    sentences the length rule moved out of corridor_pushed's paragraph (its own cut runs and
    stocks) are still all in the bullets, after the list of changes and every answer."""
    run = briefed["corridor_pushed"][0]
    plain = bottom_line(run)
    answers = [f"Refinery {i} receives a made-up answer." for i in range(9)]
    monkeypatch.setattr("sim.report.bottom_line.answer_sentences", lambda _run: answers)
    line = bottom_line(run)
    assert line.paragraph == plain.paragraph
    moved = [b for b in plain.bullets if b.startswith("This scenario ")]
    assert moved, plain.bullets  # the cut runs' sentence did not fit in the paragraph
    assert line.bullets[1:10] == answers
    assert all(b in line.bullets for b in moved)
