"""Screenshots of the shipped what-if briefs, so a reader sees what a brief looks like.

For every scenario under ``scenarios/`` whose header asks "What if ...", runs it and the
baseline with one seed, writes its HTML brief against the baseline, and keeps the top of
the page (the bottom line, the table against the baseline and the first charts) as
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
from tests.browser import Chromium  # noqa: E402

SCENARIOS = REPO / "scenarios"
OUT = Path(__file__).resolve().parent
WIDTH_PX = 1024  # the brief's text column is 60rem; a little margin either side
TOP_PX = 3800  # the bottom line, "against baseline" and the first charts


def what_ifs() -> list[Path]:
    """The shipped what-if scenarios: the files whose first line asks "What if"."""
    return sorted(p for p in SCENARIOS.glob("*.yaml")
                  if p.read_text(encoding="utf-8").lstrip("# ").lower().startswith("what if"))


def question(scenario: Path) -> str:
    """The scenario's header comment up to its first blank comment line: its question."""
    lines = []
    for line in scenario.read_text(encoding="utf-8").splitlines():
        text = line.removeprefix("#").strip()
        if not line.startswith("#") or not text:
            break
        lines.append(text)
    return " ".join(lines)


def write_index(replications: int, seed: int) -> Path:
    """docs/briefs/README.md: every screenshot kept here, with the question it answers."""
    rows = [f"- [`{p.stem}`]({p.stem}.png): {question(p)}" for p in what_ifs() if (OUT / f"{p.stem}.png").exists()]
    text = ("# What a brief looks like\n\n"
            "The top of the HTML brief (`routesim brief RUN --vs BASELINE --format html`) of each shipped\n"
            f"what-if against the baseline, {replications} replications, seed {seed}: the bottom line, the table\n"
            "against the baseline and the first charts (cover with the disruption shaded, deliveries).\n"
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
        base = sim.run(SCENARIOS / "baseline.yaml", out=Path(tmp) / "baseline", **common)
        with Chromium(width=WIDTH_PX) as browser:
            for scenario in chosen:
                run = sim.run(scenario, out=Path(tmp) / scenario.stem, **common)
                page = sim.brief(run.path, vs=base.path, format="html")
                browser.open(page.as_uri())
                png = browser.screenshot(OUT / f"{scenario.stem}.png", max_height=TOP_PX)
                shrink(png)
                print(f"{png.relative_to(REPO)}  ({png.stat().st_size // 1024} KiB)")
    print(write_index(args.replications, args.seed).relative_to(REPO))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
