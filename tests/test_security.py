"""A run folder is data people share: it never chooses code, its manifest is validated
like any input, and what routesim serves listens on loopback only (issue 13, items 1-2)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sim import runner
from sim.results import store
from sim.cli.shell import main
from sim.errors import ScenarioError

from tests.test_runner import SMALL

REPO = Path(__file__).resolve().parent.parent

EVIL = """\
from pathlib import Path
Path(__file__).with_name("EVIL-RAN").write_text("imported")
def model(scenario, seed_seq):
    Path(__file__).with_name("EVIL-RAN").write_text("called")
    raise SystemExit(0)
"""


@pytest.fixture()
def incomplete_run(tmp_path: Path) -> Path:
    """A finished one-replication run turned back into an interrupted one."""
    src = tmp_path / "small.yaml"
    src.write_text(SMALL, encoding="utf-8")
    runner.run(src, replications=1, executor="serial", out=tmp_path / "run", progress=False)
    folder = tmp_path / "run"
    store.write_manifest(folder, {**store.read_manifest(folder), "status": "incomplete"})
    return folder


def _edit_manifest(folder: Path, **fields) -> None:
    """Edit manifest.json by hand, as someone who shares the folder could."""
    m = json.loads((folder / "manifest.json").read_text())
    m.update(fields)
    (folder / "manifest.json").write_text(json.dumps(m, indent=2))


def test_a_new_manifest_names_no_code(incomplete_run):
    m = json.loads((incomplete_run / "manifest.json").read_text())
    assert "model" not in m
    assert m["status"] == "incomplete" and m["replications"] == 1


def test_a_manifest_naming_builtins_print_is_refused_and_print_is_not_called(incomplete_run, capsys):
    """The issue's first case: "model": "builtins.print".  The resume is refused before any
    replication (exit 2, the file, the line of the field and the field named): print is
    never called as the model (it would print the scenario and a seed sequence to stdout),
    and the manifest stays incomplete."""
    _edit_manifest(incomplete_run, model="builtins.print")
    assert main(["run", "--resume", str(incomplete_run), "-q"]) == 2
    out, err = capsys.readouterr()
    line = next(k + 1 for k, ln in enumerate((incomplete_run / "manifest.json").read_text().splitlines())
                if '"model"' in ln)
    assert f"{incomplete_run / 'manifest.json'}:{line}: model: names code to run ('builtins.print')" in err
    assert "Traceback" not in err
    assert out == "" and "SeedSequence" not in err
    assert json.loads((incomplete_run / "manifest.json").read_text())["status"] == "incomplete"


@pytest.mark.parametrize("how", ["resume", "from-manifest"])
def test_evil_py_in_the_run_folder_is_never_imported(incomplete_run, tmp_path, how):
    """The issue's second case: "model": "evil.model" and an evil.py beside the manifest,
    then ``cd RUN && python -m sim run --resume .`` (or ``--from-manifest .``).  Refused with
    exit 2 and one line naming manifest.json and the field; evil.py's side effect (a file
    EVIL-RAN written at import) never happens."""
    _edit_manifest(incomplete_run, model="evil.model")
    (incomplete_run / "evil.py").write_text(EVIL)
    args = ["--resume", "."] if how == "resume" else ["--from-manifest", ".", "--out", str(tmp_path / "again")]
    p = subprocess.run([sys.executable, "-m", "sim", "run", *args, "-q"], cwd=incomplete_run,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    assert "manifest.json" in p.stderr and "model: names code to run ('evil.model')" in p.stderr
    assert "Traceback" not in p.stderr
    assert not (incomplete_run / "EVIL-RAN").exists()
    assert not (tmp_path / "again").exists()


def test_the_built_in_model_name_of_older_manifests_is_accepted_and_dropped(incomplete_run):
    """Manifests written before the schema carried "model": "sim.model.simulate"; that one
    value is accepted (the run resumes with the built-in model) and is not written back."""
    _edit_manifest(incomplete_run, model="sim.model.simulate")
    res = runner.resume(incomplete_run, executor="serial", progress=False)
    assert res.complete
    assert "model" not in json.loads((incomplete_run / "manifest.json").read_text())


@pytest.mark.parametrize("fields, expected", [
    ({"seed": "7"}, "seed: input should be a valid integer (got '7')"),
    ({"seed": -1}, "seed: input should be greater than or equal to 0 (got -1)"),
    ({"replications_done": 5}, "replications_done (5) is more than replications (1)"),
    ({"status": "done"}, "status: input should be 'complete' or 'incomplete' (got 'done')"),
    ({"executor": "ssh"}, "executor: input should be 'local', 'serial' or 'dask' (got 'ssh')"),
    ({"git": {"commit": "HEAD; rm -rf /", "dirty": False}}, "git.commit: string should match pattern"),
    ({"sed": 3}, "'sed' is not a manifest field; did you mean 'seed'?"),
    ({"hook": "os.system"}, "'hook' is not a manifest field"),
], ids=["seed-text", "seed-negative", "done-over", "status", "executor", "git-commit", "misspelt", "extra"])
def test_every_manifest_field_is_checked(incomplete_run, fields, expected):
    _edit_manifest(incomplete_run, **fields)
    with pytest.raises(ScenarioError) as info:
        store.open_run(incomplete_run)
    text = str(info.value)
    assert text.startswith(str(incomplete_run / "manifest.json"))
    assert expected in text


def test_a_manifest_that_is_not_an_object_or_too_large_is_refused(tmp_path, capsys):
    (tmp_path / "manifest.json").write_text("[1, 2]")
    assert main(["run", "--resume", str(tmp_path), "-q"]) == 2
    assert "it holds an array, not a JSON object" in capsys.readouterr().err
    (tmp_path / "manifest.json").write_text(" " * (store.MAX_MANIFEST_BYTES + 1))
    assert main(["run", "--resume", str(tmp_path), "-q"]) == 2
    assert "is too large (at most 16,777,216)" in capsys.readouterr().err


def test_a_manifest_nested_too_deep_or_not_a_file_is_refused_not_a_crash(tmp_path, capsys):
    """Python's JSON decoder raises RecursionError on 100,000 nested brackets; a manifest
    that is a link to /dev/zero would be read for ever.  Both are a clear refusal, exit 2."""
    (tmp_path / "manifest.json").write_text("[" * 100_000)
    assert main(["compare", str(tmp_path), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "nested too deep to read" in err and "internal error" not in err
    (tmp_path / "manifest.json").unlink()
    (tmp_path / "manifest.json").symlink_to("/dev/zero")
    assert main(["compare", str(tmp_path), str(tmp_path)]) == 2
    assert "manifest.json is a link, not a regular file" in capsys.readouterr().err


def test_an_analysis_folder_cannot_be_resumed(incomplete_run, capsys):
    _edit_manifest(incomplete_run, analysis="criticality")
    assert main(["run", "--resume", str(incomplete_run), "-q"]) == 2
    assert "holds a criticality analysis, not a run" in capsys.readouterr().err


# --------------------------------------------------------------------------- listeners


def _non_loopback_ipv4() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    import psutil

    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family == socket.AF_INET and not a.address.startswith("127."):
                return a.address
    return None


def _listening(pids: list[int]) -> list[tuple[int, str, int]]:
    import psutil

    out = []
    for pid in pids:
        try:
            conns = psutil.Process(pid).net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        out += [(pid, c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN]
    return out


@pytest.mark.slow
def test_the_local_dask_cluster_listens_on_loopback_only(tmp_path):
    """``--executor dask`` without ``--scheduler`` starts a private cluster: every socket
    this process and its children (nannies, workers) listen on is bound to 127.0.0.1 —
    the scheduler, the workers and the dashboard — and a connection to the same ports on
    the machine's other address is refused."""
    pytest.importorskip("distributed")
    psutil = pytest.importorskip("psutil")
    from sim.runner.executors import DaskExecutor
    from sim.scenario.loader import load_scenario

    src = tmp_path / "small.yaml"
    src.write_text(SMALL, encoding="utf-8")
    me = psutil.Process(os.getpid())
    before = {(ip, port) for _, ip, port in _listening([me.pid])}
    ex = DaskExecutor(load_scenario(src), 1, None, 2, None)  # the executor the CLI starts
    try:
        dashboard = ex.client.dashboard_link
        pids = [me.pid, *(c.pid for c in me.children(recursive=True))]
        new = [(pid, ip, port) for pid, ip, port in _listening(pids) if (ip, port) not in before]
        assert len(new) >= 4  # scheduler, dashboard, and per worker process its nanny and worker
        assert {ip for _, ip, _ in new} == {"127.0.0.1"}, new
        assert "127.0.0.1" in dashboard
        other = _non_loopback_ipv4()
        if other is not None:
            for _, _, port in new:
                with socket.socket() as s:
                    s.settimeout(1.0)
                    assert s.connect_ex((other, port)) != 0, f"port {port} answers on {other}"
    finally:
        ex.close()


# --------------------------------------------------------------------------- the brief

PAYLOADS = {
    "script": "<script>alert(1)</script>",
    "img": "<img src=x onerror=alert(2)>",
    "iframe": '<iframe src="https://evil.example/"></iframe>',
    "link": "[click me](javascript:alert(3))",
    "anchor": '<a href="javascript:alert(4)">here</a>',
    "autolink": "<javascript:alert(5)>",
    "table": "a | b `code` **bold** _em_ \\ &amp;",
}
HOSTILE = " ".join(PAYLOADS.values())


def _hostile_scenario(tmp_path: Path) -> Path:
    """The runner test scenario with the payloads in its description, in a facility's
    source and note, and in a disruption's source and note."""
    text = SMALL.replace(
        "description: A small corridor with random laycans and port storms, for runner tests.",
        f"description: {json.dumps('Storm test. ' + HOSTILE)}")
    text = text.replace("      origin: azeri\n",
                        f"      origin: azeri\n      source: {json.dumps(HOSTILE)}\n"
                        f"      note: {json.dumps(HOSTILE)}\n")
    assert "disruptions:" in text
    text = text.replace("disruptions:\n",
                        "disruptions:\n  - {name: sea-closed, target: supsa-pivdennyi, kind: closure,"
                        f" window: {{start: 2021-02-01, duration: 3d}}, source: {json.dumps(HOSTILE)},"
                        f" note: {json.dumps(HOSTILE)}}}\n", 1)
    src = tmp_path / "hostile.yaml"
    src.write_text(text, encoding="utf-8")
    return src


class _Tags:
    """Every start tag and attribute an HTML document holds (standard-library parser)."""

    def __init__(self, text: str):
        from html.parser import HTMLParser

        self.tags: list[tuple[str, dict[str, str | None]]] = []
        tags = self.tags

        class P(HTMLParser):
            def handle_starttag(self, tag, attrs):
                tags.append((tag, dict(attrs)))

        P().feed(text)

    def names(self) -> set[str]:
        return {t for t, _ in self.tags}

    def unsafe(self) -> list[tuple[str, dict]]:
        bad = []
        for tag, attrs in self.tags:
            if tag in ("script", "iframe", "object", "embed") or any(k.startswith("on") for k in attrs):
                bad.append((tag, attrs))
            for k in ("href", "src"):
                if (attrs.get(k) or "").strip().lower().startswith("javascript:"):
                    bad.append((tag, attrs))
        return bad


@pytest.mark.slow
def test_user_text_in_the_brief_is_escaped_in_markdown_and_html(tmp_path):
    """Scenario text with <script>, <img onerror>, <iframe>, javascript: links (Markdown,
    HTML and autolink forms), table pipes and Markdown markup, in the description, a
    facility's source and note and a disruption's source.  brief.md rendered by a CommonMark
    viewer that passes raw HTML through (markdown-it with html on: the worst case), and
    brief.html as written, hold no script, iframe, event handler or javascript: URL; the
    text itself is shown, escaped."""
    from markdown_it import MarkdownIt

    from sim.report.brief import brief

    res = runner.run(_hostile_scenario(tmp_path), replications=1, executor="serial", out=tmp_path / "run",
                     progress=False)
    md = brief(res.path).read_text(encoding="utf-8")
    page = brief(res.path, format="html").read_text(encoding="utf-8")
    viewed = MarkdownIt("commonmark", {"html": True}).enable("table").render(md)
    for doc in (viewed, page):
        tags = _Tags(doc)
        assert tags.unsafe() == []
        assert "a" not in tags.names()  # no link at all: the brief makes none, the payloads make none
        assert all(a.get("src", "").startswith(("charts/", "data:image/png;base64,"))
                   for t, a in tags.tags if t == "img")
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in doc  # shown as text
        assert "[click me](javascript:alert(3))" in doc
    # the Markdown source never holds a raw tag or link from the scenario
    assert "<script" not in md and "<iframe" not in md and "<img" not in md
    assert not re.search(r"(?<!\\)\]\(javascript:", md)  # an unescaped ']' before '(' would make a link
    # the table payload stays inside its cell: the assumptions row of sangachal keeps its columns
    row = next(ln for ln in md.splitlines() if ln.startswith("| sangachal |"))
    assert len(re.findall(r"(?<!\\)\|", row)) == 6  # 5 cells


@pytest.mark.slow
def test_the_brief_cites_what_was_run_even_after_the_source_is_edited(tmp_path):
    """The source cites two seed entries (# seed: comments) and is run; then the source
    and seeds/ are edited (capacity 100 kb/d -> 1 kb/d, another seed key, the seed entry's
    value 100 -> 999).  The brief still shows the figures and seed entries as they were
    when the run started, because it reads them from the run folder's manifest."""
    from sim.report.brief import brief

    scen = tmp_path / "scenarios"
    seeds = tmp_path / "seeds"
    scen.mkdir()
    seeds.mkdir()
    (seeds / "pipes.yaml").write_text("wrep:\n  capacity:\n    value: 100\n    unit: kb/d\n    confidence: H\n"
                                      "    source: operator\n", encoding="utf-8")
    line = "    - {name: wrep, from: sangachal, to: supsa, capacity: 100 kb/d, transit: 11d}\n"
    assert line in SMALL
    src = scen / "cited.yaml"
    src.write_text(SMALL.replace(line, "    - name: wrep\n      from: sangachal\n      to: supsa\n"
                                       "      capacity: 100 kb/d  # seed: wrep.capacity\n      transit: 11d\n"),
                   encoding="utf-8")
    res = runner.run(src, replications=1, executor="serial", out=tmp_path / "run", progress=False)
    src.write_text(src.read_text().replace("capacity: 100 kb/d  # seed: wrep.capacity",
                                           "capacity: 1 kb/d  # seed: wrep.other"), encoding="utf-8")
    (seeds / "pipes.yaml").write_text((seeds / "pipes.yaml").read_text().replace("value: 100", "value: 999"))
    md = brief(res.path).read_text(encoding="utf-8")
    assert "| wrep | capacity | 100 kb/d | wrep.capacity = 100 kb/d | H | operator |" in md
    # (the git commit's hash can hold "999" or "1": it is taken out before looking)
    text = re.sub(r"\| git commit \| [0-9a-f]+ \|", "", md)
    assert "1 kb/d" not in text and "999" not in text and "wrep.other" not in text


def test_user_text_that_starts_like_a_markdown_block_stays_text():
    """A label or note that begins with '# ', '- ', '+ ', '1. ' or '---' would turn the
    paragraph or table cell it opens into a heading, a list or a rule; escaped, it renders
    as the text itself.  Numbers ('100.0', '-5.3', '+53.4', '2021-05 storm') are not
    markers, and markers inside the text are left alone."""
    from markdown_it import MarkdownIt

    from sim.report.document import esc

    md = MarkdownIt()
    for text in ("# Brody", "- Brody", "+ Brody", "1. Brody", "12) Brody", "---", "#"):
        html = md.render(esc(text))
        assert html.startswith("<p>") and text in html.replace("&quot;", '"'), (text, html)
    assert esc("2021-05 storm") == "2021-05 storm" and esc("Brody # 2") == "Brody # 2"
    assert esc("100.0") == "100.0" and esc("-5.3") == "-5.3" and esc("+53.4") == "+53.4"
