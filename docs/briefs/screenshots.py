"""Screenshots of the shipped what-if briefs, so a reader sees what a brief looks like.

For every scenario under ``scenarios/`` that extends another (a what-if), runs it and the
scenario it extends with one seed, writes its HTML brief against that base (``routesim
brief RUN --vs BASE --format html``), and keeps the top of the page (the bottom line, the
table against the base and the first charts) as
``docs/briefs/<scenario>.png``, reduced to 256 colours so the pictures stay small in git,
and writes ``docs/briefs/README.md``, an index of them with each scenario's question.
The runs go to a temporary folder and are thrown away.

    .venv/bin/python docs/briefs/screenshots.py            # all what-ifs, 5 replications
    .venv/bin/python docs/briefs/screenshots.py --replications 20 btc_outage

Needs Debian's ``chromium`` (``make test`` installs it); the browser is driven over a pipe
by ``tests/browser.py``, the same driver as the brief's browser test, and binds no port.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # run as a script from anywhere: import sim and tests.browser

import sim  # noqa: E402
from sim.scenario.extends import base_file  # noqa: E402
from sim.scenario.loader import load_scenario  # noqa: E402
from tests.browser import Chromium  # noqa: E402

SCENARIOS = REPO / "scenarios"
OUT = Path(__file__).resolve().parent
WIDTH_PX = 1024  # the brief's text column is 60rem; a little margin either side
TOP_PX = 3800  # the bottom line, "against baseline" and the first charts


def what_ifs() -> list[Path]:
    """The shipped what-if scenarios: the files under scenarios/ that extend another."""
    return sorted(p for p in SCENARIOS.glob("*.yaml") if base_file(p) is not None)


def base_of(scenario: Path) -> Path:
    """The scenario file a what-if extends (what its brief is compared with)."""
    named = base_file(scenario)
    assert named is not None, scenario
    return (scenario.parent / named).resolve()


def question(scenario: Path) -> str:
    """The scenario's ``description``: the question its brief answers."""
    return " ".join(load_scenario(scenario).description.split())


def write_index(replications: int, seed: int) -> Path:
    """docs/briefs/README.md: every screenshot kept here, with the question it answers."""
    rows = [f"- [`{p.stem}`]({p.stem}.png), against `{base_of(p).stem}`: {question(p)}" for p in what_ifs()
            if (OUT / f"{p.stem}.png").exists()]
    text = ("# What a brief looks like\n\n"
            "The top of the HTML brief (`routesim brief RUN --vs BASE --format html`) of each shipped\n"
            f"what-if against the scenario it extends, {replications} replications, seed {seed}: the bottom line,\n"
            "the table against that base and the first charts (cover with the disruptions shaded, deliveries).\n"
            "Made by `.venv/bin/python docs/briefs/screenshots.py` (needs `chromium`).\n\n" + "\n".join(rows) + "\n")
    index = OUT / "README.md"
    index.write_text(text, encoding="utf-8")
    return index


def shrink(png: Path) -> None:
    """256 colours (charts and text need no more), optimised: a fifth of the bytes."""
    from PIL import Image  # Pillow comes with matplotlib

    with Image.open(png) as im:
        reduced = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    reduced.save(png, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="what-if scenario names (default: all)")
    parser.add_argument("--replications", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2021)
    args = parser.parse_args(argv)
    chosen = [p for p in what_ifs() if not args.names or p.stem in args.names]
    if args.names and len(chosen) != len(args.names):
        parser.error(f"unknown what-if(s); the what-ifs are {', '.join(p.stem for p in what_ifs())}")
    with tempfile.TemporaryDirectory(prefix="routesim-briefs-") as tmp:
        common = {"replications": args.replications, "seed": args.seed, "progress": False}
        runs: dict[Path, Path] = {}

        def run_of(scenario: Path) -> Path:
            if scenario not in runs:
                runs[scenario] = sim.run(scenario, out=Path(tmp) / scenario.stem, **common).path
            return runs[scenario]

        with Chromium(width=WIDTH_PX) as browser:
            for scenario in chosen:
                page = sim.brief(run_of(scenario.resolve()), vs=run_of(base_of(scenario)), format="html")
                browser.open(page.as_uri())
                png = browser.screenshot(OUT / f"{scenario.stem}.png", max_height=TOP_PX)
                shrink(png)
                print(f"{png.relative_to(REPO)}  ({png.stat().st_size // 1024} KiB)")
    print(write_index(args.replications, args.seed).relative_to(REPO))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
