"""Every console and Python block of README.md runs, in order, as a test.

The README is run top to bottom in a temporary copy of the project's ``scenarios/``,
``seeds/`` and an empty ``results/``, so its figures are the code's figures.  What runs is
decided by the block's language (the word after the opening fence):

- ``console``: every line starting with ``$ `` is a command (a line ending in ``\\``
  continues it on the next line); the lines after it, up to the next ``$ ``, are its
  expected output.  Only ``routesim`` commands run (the console script next to this
  interpreter, else ``python -m sim``); anything else belongs in a ``sh`` block.
- ``python``: written to a file and run with this interpreter from the copy; it must exit 0.
- ``yaml`` whose first line is a comment naming a path (``# scenarios/foo.yaml``): written,
  verbatim, to that path in the copy before the blocks after it run; so the worked
  example's what-if and the file with mistakes are created here, not shipped.  Other
  ``yaml`` blocks (examples of the language) are not run.
- ``sh`` and ``text``: never run (``make run``/``make test``, synopses, commands with
  ``<placeholders>``, diagrams).  A fence without a language, or with any other one, fails
  :func:`test_every_block_has_a_language_this_test_knows`, so no block is skipped silently.

A command is checked for
- its exit status: 2 where the shown output is an error (a line starting ``error:`` or
  ending ``N problem``/``N problems``), else 0; a ``# exit N`` comment at the end of the
  command line says it explicitly;
- its output (standard output and error interleaved as a terminal shows them): the
  expected lines, cut into chunks at lines that are just ``...``, must each appear as
  consecutive lines of the actual output, in order; without a leading ``...`` the first
  chunk starts the output, without a trailing one the last chunk ends it.  Before
  comparing, both sides are normalised where runs legitimately differ: run ids
  (``20261127T232525Z-f50838b2`` -> ``<run-id>``), elapsed seconds (``| 3.2 s``) and the
  executor's width (``local x2``).  Every other character, the KPI tables' numbers
  included, must match exactly: same scenario, same seed, same numbers.  A command shown
  with no output lines is checked for its exit status only.

To update the README after the numbers change, print what every block actually prints:

    .venv/bin/python tests/test_readme.py --print          # or: --print path/to/README.md
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterator

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"

RUN_LANGUAGES = ("console", "python", "yaml")
SKIP_LANGUAGES = ("sh", "text")
COMMAND_TIMEOUT_S = 180

# ----------------------------------------------------------------------------- reading README


@dataclass(frozen=True)
class Block:
    language: str
    line: int  # 1-based line of the first line inside the fence
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Command:
    line: int  # README line of the "$ " line
    text: str  # continuation lines joined
    expected: tuple[str, ...]
    status: int  # the exit status the block shows


_FENCE = re.compile(r"^(`{3,}|~{3,})\s*([^\s`]*)")


def _closes(line: str, fence: str) -> bool:
    s = line.strip()
    return len(s) >= len(fence) and set(s) == {fence[0]}


def read_blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, in order, with their language ('' if none)."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, language = m.group(1), m.group(2).lower()
        j = i + 1
        while j < len(lines) and not _closes(lines[j], fence):
            j += 1
        if j == len(lines):
            raise ValueError(f"README line {i + 1}: the {fence} block is never closed")
        blocks.append(Block(language, i + 2, tuple(lines[i + 1:j])))
        i = j + 1
    return blocks


_EXIT_MARK = re.compile(r"#\s*exit\s+(\d+)\s*$")
_SHOWS_ERROR = re.compile(r"^error:|\b\d+ problems?$")


def expected_status(command: str, expected: tuple[str, ...]) -> int:
    """The exit status a console example shows: its ``# exit N`` mark, else 2 if the
    output shown is an error report, else 0."""
    mark = _EXIT_MARK.search(command)
    if mark:
        return int(mark.group(1))
    return 2 if any(_SHOWS_ERROR.search(line.strip()) for line in expected) else 0


def read_commands(block: Block) -> list[Command]:
    """Split a console block into commands (``$ `` lines, ``\\`` continuations) and the
    output lines shown under each."""
    commands: list[Command] = []
    i, lines = 0, block.lines
    while i < len(lines):
        if not lines[i].startswith("$ "):
            if lines[i].strip():
                raise ValueError(f"README line {block.line + i}: output before any '$ ' command")
            i += 1
            continue
        start, parts = i, [lines[i][2:]]
        while parts[-1].rstrip().endswith("\\") and i + 1 < len(lines):
            parts[-1] = parts[-1].rstrip()[:-1]
            i += 1
            parts.append(lines[i])
        text = " ".join(p.strip() for p in parts)
        i += 1
        out_start = i
        while i < len(lines) and not lines[i].startswith("$ "):
            i += 1
        expected = tuple(line.rstrip() for line in lines[out_start:i])
        while expected and not expected[-1]:
            expected = expected[:-1]
        commands.append(Command(block.line + start, text, expected, expected_status(text, expected)))
    return commands


_PATH_COMMENT = re.compile(r"^#\s*(\S+\.ya?ml)\s*$")


def yaml_target(block: Block) -> str | None:
    """The path a yaml block is written to (its first line ``# path.yaml``), or None."""
    if block.language != "yaml" or not block.lines:
        return None
    m = _PATH_COMMENT.match(block.lines[0].strip())
    return m.group(1) if m else None


# ----------------------------------------------------------------------------- comparing output

_VARYING = (
    (re.compile(r"\b\d{8}T\d{6}Z-[0-9a-f]{8}(?:-\d+)?\b"), "<run-id>"),
    (re.compile(r"\|\s*\d+(?:\.\d+)? s$"), "| <elapsed> s"),
    (re.compile(r"\b(local|dask|serial) x\d+\b"), r"\1 x<workers>"),
)


def normalise(line: str) -> str:
    """A line of output with the parts that differ between identical runs replaced."""
    line = line.rstrip()
    for pattern, replacement in _VARYING:
        line = pattern.sub(replacement, line)
    return line


def output_problem(expected: tuple[str, ...], actual: list[str]) -> str | None:
    """None if ``actual`` shows ``expected`` (rules in the module docstring), else why not."""
    want = [normalise(line) for line in expected]
    have = [normalise(line) for line in actual]
    while have and not have[-1]:
        have.pop()
    open_start = bool(want) and want[0].strip() == "..."
    open_end = bool(want) and want[-1].strip() == "..."
    chunks: list[list[str]] = [[]]
    for line in want:
        if line.strip() == "...":
            chunks.append([])
        else:
            chunks[-1].append(line)
    chunks = [c for c in chunks if c]
    pos = 0
    for k, chunk in enumerate(chunks):
        n = len(chunk)
        if k == 0 and not open_start:
            starts = [0]
        elif k == len(chunks) - 1 and not open_end:
            starts = [len(have) - n]
        else:
            starts = range(pos, len(have) - n + 1)
        found = next((s for s in starts if s >= pos and have[s:s + n] == chunk), None)
        if found is None:
            where = ("at the start" if k == 0 and not open_start else
                     "at the end" if k == len(chunks) - 1 and not open_end else "in order")
            return f"these lines are not in the output {where}:\n" + "\n".join(chunk)
        pos = found + n
    if chunks and not open_end and pos != len(have):
        return "the output goes on after the last line shown (end the block with '...' if meant)"
    return None


# ----------------------------------------------------------------------------- running the blocks

_ADDRESS = re.compile(r"\b[a-z][a-z0-9+.-]*://\[?([^\]/:\s\"'<>]+)|--scheduler[= ]+(?:[a-z][a-z0-9+.-]*://)?\[?([^\]/:\s\"'<>]+)")
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "HOST", "ADDRESS"}


def foreign_addresses(lines: tuple[str, ...]) -> list[str]:
    """Hosts other than this machine's loopback that a block would connect to (a Dask
    scheduler, a URL).  Such a block is refused, not run: the README's examples must run
    on one machine, and the test must never reach out to the network."""
    hosts = []
    for line in lines:
        for m in _ADDRESS.finditer(line):
            host = m.group(1) or m.group(2)
            if host not in _LOOPBACK and not host.startswith("127."):
                hosts.append(host)
    return hosts



@dataclass
class Outcome:
    kind: str  # yaml | console | python
    line: int
    text: str  # the path written, the command, or the first line of the Python block
    output: str = ""
    status: int = 0
    expected_status: int = 0
    problem: str | None = None
    expected: tuple[str, ...] = field(default=())


def routesim_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m sim``."""
    script = Path(sys.executable).parent / "routesim"
    return [str(script)] if script.exists() else [sys.executable, "-m", "sim"]


def prepare_project(root: Path) -> Path:
    """A copy of what the README's commands read: scenarios/, seeds/ and an empty results/."""
    project = root / "project"
    project.mkdir(parents=True)
    for name in ("scenarios", "seeds"):
        shutil.copytree(REPO / name, project / name)
    (project / "results").mkdir()
    return project


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTESIM_")}
    env.update(PYTHONUNBUFFERED="1", MPLBACKEND="Agg")  # streams interleave as on a terminal
    return env


def _run(argv: list[str], cwd: Path) -> tuple[int, str]:
    try:
        done = subprocess.run(argv, cwd=cwd, env=_env(), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=COMMAND_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return -1, f"(no result after {COMMAND_TIMEOUT_S} s)"
    return done.returncode, done.stdout


def run_blocks(blocks: list[Block], project: Path, scratch: Path) -> Iterator[Outcome]:
    """Run the README's blocks in order in ``project``; one Outcome per file written,
    command or Python block."""
    for block in blocks:
        target = yaml_target(block)
        if block.language in ("console", "python") and foreign_addresses(block.lines):
            yield Outcome(block.language, block.line, block.lines[0] if block.lines else "",
                          problem=f"not run: it would connect to {', '.join(foreign_addresses(block.lines))}; "
                                  "README examples run on this machine (mention remote addresses in prose)")
            continue
        if target is not None:
            path = (project / target).resolve()
            outcome = Outcome("yaml", block.line, target)
            if Path(target).is_absolute() or not path.is_relative_to(project.resolve()):
                outcome.problem = f"{target} is outside the project; a README example writes inside it"
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("\n".join(block.lines) + "\n", encoding="utf-8")
            yield outcome
        elif block.language == "console":
            for cmd in read_commands(block):
                outcome = Outcome("console", cmd.line, cmd.text, expected_status=cmd.status,
                                  expected=cmd.expected)
                argv = shlex.split(cmd.text, comments=True)
                if not argv or argv[0] != "routesim":
                    outcome.problem = "only routesim commands run in a console block; put others in a sh block"
                    yield outcome
                    continue
                outcome.status, outcome.output = _run(routesim_command() + argv[1:], project)
                if outcome.status != cmd.status:
                    outcome.problem = f"exit status {outcome.status}, the README shows {cmd.status}"
                elif cmd.expected:
                    outcome.problem = output_problem(cmd.expected, outcome.output.splitlines())
                yield outcome
        elif block.language == "python":
            script = scratch / f"readme_line_{block.line}.py"
            script.write_text("\n".join(block.lines) + "\n", encoding="utf-8")
            first = next((line for line in block.lines if line.strip()), "")
            outcome = Outcome("python", block.line, first)
            outcome.status, outcome.output = _run([sys.executable, str(script)], project)
            if outcome.status != 0:
                outcome.problem = f"exit status {outcome.status}:\n{outcome.output[-3000:]}"
            yield outcome


def describe(outcome: Outcome) -> str:
    head = {"yaml": "wrote", "console": "$", "python": "python block:"}[outcome.kind]
    return f"README.md:{outcome.line}: {head} {outcome.text}"


# ----------------------------------------------------------------------------- the tests


def test_every_block_has_a_language_this_test_knows():
    """Each fence of README.md is one of the languages the module docstring lists, so a new
    block is either run or skipped on purpose; and the README still has blocks of each
    kind that runs (its worked example, its Python API, its what-if file)."""
    blocks = read_blocks(README.read_text(encoding="utf-8"))
    unknown = [f"line {b.line}: '{b.language}'" for b in blocks
               if b.language not in RUN_LANGUAGES + SKIP_LANGUAGES]
    assert not unknown, ("README blocks without a language this test knows (use console/python to "
                         "run, sh/text to skip): " + ", ".join(unknown))
    kinds = {b.language for b in blocks if b.language != "yaml"} | {"yaml" for b in blocks if yaml_target(b)}
    assert {"console", "python", "yaml"} <= kinds


def test_console_block_splits_into_commands_continuations_and_output():
    """Three commands: the first spans two lines (``\\``) and shows no output; the second
    shows two lines and its ``problems`` line means exit 2; the third says ``# exit 1``."""
    block = Block("console", 10, (
        "$ routesim run a.yaml \\",
        "      --set x=1",
        "$ routesim validate t.yaml",
        "t.yaml:3:1: name: bad",
        "t.yaml: 1 problem",
        "",
        "$ routesim brief r   # exit 1",
        "...",
    ))
    assert read_commands(block) == [
        Command(10, "routesim run a.yaml --set x=1", (), 0),
        Command(12, "routesim validate t.yaml", ("t.yaml:3:1: name: bad", "t.yaml: 1 problem"), 2),
        Command(16, "routesim brief r   # exit 1", ("...",), 1),
    ]
    assert expected_status("routesim x", ("error: cannot read x.yaml",)) == 2
    assert expected_status("routesim x", ("OK a.yaml", "scenario problems are listed in docs")) == 0


def test_read_blocks_gives_language_first_line_and_text():
    """Fences open with 3+ backticks and a language; the block starts on the line after."""
    text = "intro\n```yaml\n# scenarios/x.yaml\nname: x\n```\n\n```\nplain\n```\n"
    blocks = read_blocks(text)
    assert blocks == [Block("yaml", 3, ("# scenarios/x.yaml", "name: x")), Block("", 8, ("plain",))]
    assert yaml_target(blocks[0]) == "scenarios/x.yaml" and yaml_target(blocks[1]) is None


def test_normalise_hides_only_what_varies_between_identical_runs():
    """Run id, elapsed time and worker count go; the seed, counts and KPI figures stay."""
    assert normalise("results: results/baseline/20261201T203306Z-1f000b24-2") == \
        "results: results/baseline/<run-id>"
    assert normalise("scenario baseline | seed 1 | 50 replications | local x2 | 13.6 s") == \
        "scenario baseline | seed 1 | 50 replications | local x<workers> | <elapsed> s"
    assert normalise("  delivered (kt)   24,019.0  24,015.8 ") == "  delivered (kt)   24,019.0  24,015.8"


def test_output_must_show_each_chunk_in_order_anchored_unless_elided():
    """Output a b c d.  'a ... d' matches (a starts it, d ends it); 'a ... c' fails (without a
    trailing '...' the last line shown must end the output, and d follows); '... b c ...'
    matches; '... c b ...' fails (order); 'b c' fails (b does not start the output);
    'a b ...' and the whole output match."""
    out = ["a", "b", "c", "d"]
    assert output_problem(("a", "...", "c"), out) is not None
    assert output_problem(("a", "...", "d"), out) is None
    assert output_problem(("...", "b", "c", "..."), out) is None
    assert output_problem(("...", "c", "b", "..."), out) is not None
    assert output_problem(("b", "c"), out) is not None
    assert output_problem(("a", "b", "c", "d"), out) is None
    assert output_problem(("a", "b", "..."), out) is None


def test_a_block_that_would_connect_elsewhere_is_refused_not_run(tmp_path):
    """A Python block naming a Dask scheduler at 10.0.0.5, or a console block with
    ``--scheduler scheduler.example:8786``, yields a problem and is never started
    (the script file is not even written); 127.0.0.1 and the prose placeholder HOST pass."""
    assert foreign_addresses(('c = Client("tcp://127.0.0.1:8786")', "--scheduler tcp://HOST:8786")) == []
    assert foreign_addresses(('sim.run(p, scheduler="tcp://10.0.0.5:8786")',)) == ["10.0.0.5"]
    blocks = [Block("python", 3, ('sim.run(p, executor="dask", scheduler="tcp://10.0.0.5:8786")',)),
              Block("console", 9, ("$ routesim run a.yaml --executor dask --scheduler scheduler.example:8786",))]
    outcomes = list(run_blocks(blocks, tmp_path, tmp_path))
    assert [(o.line, o.status, o.output) for o in outcomes] == [(3, 0, ""), (9, 0, "")]
    assert "connect to 10.0.0.5" in outcomes[0].problem
    assert "connect to scheduler.example" in outcomes[1].problem
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_readme_blocks_run_and_print_what_they_show(tmp_path):
    """Run README.md top to bottom (rules in the module docstring) and report every block
    that fails, not only the first.  Update the README from
    ``python tests/test_readme.py --print``."""
    blocks = read_blocks(README.read_text(encoding="utf-8"))
    project = prepare_project(tmp_path)
    scratch = tmp_path / "blocks"
    scratch.mkdir()
    outcomes = list(run_blocks(blocks, project, scratch))
    failed = [f"{describe(o)}\n{textwrap.indent(o.problem, '    ')}" for o in outcomes if o.problem]
    assert not failed, ("README examples differ from what the code does "
                        "(see 'python tests/test_readme.py --print'):\n\n" + "\n\n".join(failed))
    ran = [o.kind for o in outcomes]
    assert ran.count("console") >= 4 and ran.count("python") >= 2 and ran.count("yaml") >= 2, ran


def main(argv: list[str]) -> int:
    """``--print [README]``: run every block and print each command's actual output."""
    if not argv or argv[0] != "--print" or len(argv) > 2:
        print(__doc__)
        print("usage: python tests/test_readme.py --print [README.md]", file=sys.stderr)
        return 2
    readme = Path(argv[1]) if len(argv) == 2 else README
    blocks = read_blocks(readme.read_text(encoding="utf-8"))
    bad = 0
    with tempfile.TemporaryDirectory(prefix="routesim-readme-") as tmp:
        project = prepare_project(Path(tmp))
        scratch = Path(tmp) / "blocks"
        scratch.mkdir()
        clock = time.perf_counter()
        for outcome in run_blocks(blocks, project, scratch):
            took, clock = time.perf_counter() - clock, time.perf_counter()
            print(f"--- {describe(outcome)}   [{took:.1f} s" + (f", exit {outcome.status}]" if outcome.status else "]"))
            if outcome.kind == "console":
                print(f"$ {outcome.text}")
            if outcome.output:
                print(outcome.output.rstrip("\n"))
            if outcome.problem:
                bad += 1
                print(textwrap.indent(f"^^^ differs from {readme.name}: {outcome.problem}", "# "))
    print(f"--- {bad} block(s) differ from {readme}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
