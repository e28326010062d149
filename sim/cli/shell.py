"""The ``routesim`` command line: a thin argparse shell over the Python API.

Exit status: 0 success, 2 bad input or usage (a scenario problem, a bad option, a missing
file), 1 internal error (a bug: one line asking for a report; ``--debug`` shows the
traceback), 130 interrupted.

Commands live in modules that each expose ``register(subparsers)``; it adds its
sub-parsers and sets ``func`` on each with ``set_defaults(func=handler)``, where
``handler(args: argparse.Namespace) -> int`` returns the exit status and may raise
:class:`~sim.errors.ScenarioError` or :class:`~sim.errors.UserError` for mistakes on the
user's side.  ``validate`` and ``schema`` are defined here; the modules in
``COMMAND_MODULES`` add the rest (run, sweep, compare, brief, ...).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import traceback
from pathlib import Path
from collections.abc import Sequence
from typing import TextIO

from sim._version import __version__
from sim.errors import RoutesimError, ScenarioError

COMMAND_MODULES = ("sim.cli.run", "sim.cli.analysis", "sim.cli.capacity")

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def print_problems(err: ScenarioError, stream: TextIO | None = None) -> None:
    """Print every problem of a ScenarioError, one per line."""
    stream = stream or sys.stderr
    for p in err.problems:
        print(p.format(), file=stream)


def _cmd_validate(args: argparse.Namespace) -> int:
    from sim.scenario.loader import validate

    status = EXIT_OK
    for path in args.files:
        problems = validate(path)
        if problems:
            status = EXIT_USAGE
            for p in problems:
                print(p.format())
            n = len(problems)
            print(f"{path}: {n} problem{'s' if n != 1 else ''}", file=sys.stderr)
        else:
            print(f"OK {path}")
    return status


def _cmd_schema(args: argparse.Namespace) -> int:
    from sim.scenario.schema import scenario_json_schema

    text = json.dumps(scenario_json_schema(), indent=None if args.compact else 2, ensure_ascii=False)
    if args.output:
        _write_schema_file(Path(args.output), text + "\n")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(text)
    return EXIT_OK


def _write_schema_file(path: Path, text: str) -> None:
    """Write the schema to ``path`` atomically, creating its missing parent folders.

    ``routesim schema -o .vscode/routesim.schema.json`` is the documented set-up for an
    editor, and a fresh clone has no ``.vscode/``: refusing would only make the user type
    ``mkdir`` first, and the folder is named on the command line, so creating it (like
    ``routesim run --out DIR``) writes nowhere the user did not ask for.  A folder given
    as the file, or a folder that cannot be created or written, is a user error (exit 2).
    """
    from sim.errors import UserError
    from sim.results.store import atomic_write_text

    if path.is_dir():
        raise UserError(f"cannot write {path}: it is a folder; give a file name, e.g. "
                        f"{path / 'routesim.schema.json'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(f"cannot write {path}: {path.parent} is a file, not a folder") from None
    except OSError as e:
        raise UserError(f"cannot create the folder {path.parent} for {path}: {e.strerror or e}") from None
    try:
        atomic_write_text(path, text)
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}") from None


class _Parser(argparse.ArgumentParser):
    """argparse that exits with status 2 and a hint to --help on usage errors."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n(see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every available command module registered."""
    parser = _Parser(
        prog="routesim",
        description="Scenario simulator for energy-route dependencies: Azeri crude to Belarus "
                    "by pipeline, tanker and the Turkish Straits.",
        epilog="Exit status: 0 ok, 2 bad input or usage, 1 internal error. "
               "Add --debug anywhere to see tracebacks of internal errors.",
    )
    parser.add_argument("--version", action="version", version=f"routesim {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("validate", help="check scenario files and print OK or every problem",
                       description="Check scenario files: YAML, units, extends, references. Prints "
                                   "'OK <file>' or one line per problem (file:line:col: field: what).")
    p.add_argument("files", nargs="+", metavar="FILE", help="scenario YAML files")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("schema", help="print the JSON Schema of the scenario language",
                       description="Print the JSON Schema of scenario files (for editors' "
                                   "autocompletion and checking).")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    p.add_argument("--compact", action="store_true", help="one line instead of indented JSON")
    p.set_defaults(func=_cmd_schema)

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    # --debug is global and may appear anywhere before a '--'
    cut = args_in.index("--") if "--" in args_in else len(args_in)
    debug = "--debug" in args_in[:cut]
    if debug:
        args_in = [a for i, a in enumerate(args_in) if a != "--debug" or i >= cut]
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(args_in)
        except SystemExit as e:  # --help, --version, usage errors
            return e.code if isinstance(e.code, int) else EXIT_USAGE
        if getattr(args, "func", None) is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        args.debug = debug
        return int(args.func(args) or 0)
    except ScenarioError as e:
        print_problems(e)
        return EXIT_USAGE
    except RoutesimError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. 'routesim schema | head': the reader has all it wanted
        # Python flushes stdout again at exit; with the pipe gone that would raise once more
        # and print a second error, so stdout is pointed at nothing first
        sys.stdout = None
        return EXIT_OK
    except OSError as e:  # a read-only or full disk is the user's environment, not a bug
        from sim.results.store import environment_problem

        msg = environment_problem(e)
        if msg is None:
            return _internal(e, debug)
        print(f"error: {msg}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # the one place that turns bugs into a one-line report
        return _internal(e, debug)


def _internal(e: BaseException, debug: bool) -> int:
    """One line for a bug (``--debug``: the traceback too); exit status 1."""
    if debug:
        traceback.print_exception(e)
    first = str(e).splitlines()[0] if str(e) else ""
    print(f"internal error: {type(e).__name__}: {first} (please report; rerun with --debug "
          "for the traceback)", file=sys.stderr)
    return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
