"""The routesim command line: validate, schema, exit codes, command modules, error handling."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest

import sim
from sim.cli import shell as cli_mod
from sim.scenario.loader import load_raw
from sim.scenario.yaml_reader import plain, read_yaml_file
from sim.scenario.schema import jsonable, scenario_json_schema

REPO = Path(__file__).parent.parent
SHIPPED = sorted((REPO / "scenarios").rglob("*.yaml"))


def test_version_and_help(cli):
    r = cli("--version")
    assert (r.code, r.out.strip()) == (0, f"routesim {sim.__version__}")
    r = cli("--help")
    assert r.code == 0 and "validate" in r.out and "schema" in r.out and "Exit status" in r.out


def test_no_command_prints_help_and_exits_2(cli):
    r = cli()
    assert r.code == 2 and "usage: routesim" in r.err


@pytest.mark.parametrize("argv", [["bogus"], ["validate"], ["schema", "--no-such-option"]])
def test_usage_errors_exit_2_without_traceback(cli, argv):
    r = cli(*argv)
    assert r.code == 2
    assert "error:" in r.err and "Traceback" not in r.text


def test_validate_ok(cli, valid_scenario):
    r = cli("validate", valid_scenario)
    assert (r.code, r.out) == (0, f"OK {valid_scenario}\n")


def test_validate_several_files_reports_each_and_exits_2_if_any_is_bad(cli, valid_scenario, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(valid_scenario.read_text().replace("kind: closure", "kind: closed"))
    r = cli("validate", valid_scenario, bad)
    assert r.code == 2
    lines = r.out.splitlines()
    assert lines[0] == f"OK {valid_scenario}"
    assert lines[1].startswith(f"{bad}:69:5: disruptions[0].kind: unknown value 'closed'")
    assert lines[1].endswith("; did you mean 'closure'?")
    assert r.err == f"{bad}: 1 problem\n"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(REPO)))
def test_every_shipped_scenario_validates(cli, path):
    r = cli("validate", path)
    assert (r.code, r.out) == (0, f"OK {path}\n"), r.text


def test_python_m_sim_is_the_same_command(valid_scenario):
    done = subprocess.run([sys.executable, "-m", "sim", "validate", str(valid_scenario)],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, f"OK {valid_scenario}\n")


# --------------------------------------------------------------------------- schema


def schema_validator() -> jsonschema.Draft202012Validator:
    schema = scenario_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_command_prints_the_schema(cli, tmp_path):
    r = cli("schema")
    assert r.code == 0
    printed = json.loads(r.out)
    assert printed == json.loads(json.dumps(scenario_json_schema()))
    assert printed["$defs"]["Pipeline"]["properties"]["capacity"]["examples"] == ["9 Mt/y"]
    out = tmp_path / "scenario.schema.json"
    r = cli("schema", "-o", out)
    assert r.code == 0 and json.loads(out.read_text()) == printed


def test_schema_output_creates_the_missing_editor_folder(cli, tmp_path):
    """README's editor set-up, ``routesim schema -o .vscode/routesim.schema.json``, works in a
    fresh clone: the missing ``.vscode/`` (here two levels, ``a/.vscode/``) is created, the file
    holds the same schema ``routesim schema`` prints, and no temporary file is left beside it."""
    out = tmp_path / "a" / ".vscode" / "routesim.schema.json"
    r = cli("schema", "-o", out)
    assert (r.code, r.out, r.err) == (0, "", f"wrote {out}\n")
    assert json.loads(out.read_text()) == json.loads(json.dumps(scenario_json_schema()))
    assert sorted(p.name for p in out.parent.iterdir()) == ["routesim.schema.json"]


def test_schema_output_into_a_folder_or_under_a_file_is_a_user_error(cli, tmp_path):
    """``-o`` naming an existing folder, or a path under a plain file, exits 2 with one
    ``error:`` line that says what is wrong and what would work; nothing is written."""
    r = cli("schema", "-o", tmp_path)
    assert r.code == 2 and "Traceback" not in r.text
    assert r.err == (f"error: cannot write {tmp_path}: it is a folder; give a file name, e.g. "
                     f"{tmp_path / 'routesim.schema.json'}\n")
    plain_file = tmp_path / "notes.txt"
    plain_file.write_text("x")
    r = cli("schema", "-o", plain_file / "schema.json")
    assert r.code == 2
    assert r.err == f"error: cannot write {plain_file / 'schema.json'}: {plain_file} is a file, not a folder\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_schema_output_on_a_full_disk_is_a_user_error_without_a_stray_file(cli, tmp_path, monkeypatch):
    """The user's environment is not an internal error: a full disk (ENOSPC, raised here by
    fsync) gives exit 2 and ``error: cannot write FILE: No space left on device``, and the
    atomic write removes its temporary file, so the folder stays empty."""
    import errno
    import os

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    out = tmp_path / "routesim.schema.json"
    r = cli("schema", "-o", out)
    assert (r.code, r.err) == (2, f"error: cannot write {out}: {os.strerror(errno.ENOSPC)}\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", [*SHIPPED, Path(__file__).parent / "data" / "valid_minimal.yaml"],
                         ids=lambda p: p.name)
def test_schema_validates_shipped_scenarios_as_written_and_resolved(path):
    v = schema_validator()
    as_written = jsonable(plain(read_yaml_file(path)))
    assert [e.message for e in v.iter_errors(as_written)] == []
    resolved = jsonable(load_raw(path))
    assert [e.message for e in v.iter_errors(resolved)] == []


def test_schema_rejects_what_the_loader_rejects_structurally(valid_scenario):
    v = schema_validator()
    data = jsonable(plain(read_yaml_file(valid_scenario)))
    data["network"]["pipelines"][1]["capcity"] = data["network"]["pipelines"][1].pop("capacity")
    data["disruptions"][0]["kind"] = "closed"
    data["network"]["terminals"][0]["berths"]["count"] = 0
    found = sorted((list(e.absolute_path), e.validator) for e in v.iter_errors(data))
    assert found == [
        (["disruptions", 0, "kind"], "enum"),
        (["network", "pipelines", 1], "additionalProperties"),
        (["network", "pipelines", 1], "required"),
        (["network", "terminals", 0, "berths", "count"], "minimum"),
    ]


def test_schema_of_an_extends_file_needs_no_required_keys_but_knows_the_keys():
    v = schema_validator()
    ok = {"extends": "base.yaml", "network": {"pipelines": [{"name": "wrep", "remove": True},
                                                            {"name": "odesa-brody", "capacity": "5 Mt/y"}]}}
    assert list(v.iter_errors(ok)) == []
    typo = {"extends": "base.yaml", "network": {"pipelines": [{"name": "wrep", "capcity": "1 kt/d"}]}}
    assert [e.validator for e in v.iter_errors(typo)] == ["additionalProperties"]


def test_schema_accepts_a_bare_duration_as_a_distribution():
    v = schema_validator()
    props = scenario_json_schema()["$defs"]["Disruption"]["properties"]
    assert "delay" in props
    doc = {"$ref": "#/$defs/Distribution", "$defs": scenario_json_schema()["$defs"]}
    check = jsonschema.Draft202012Validator(doc)
    assert list(check.iter_errors("12h")) == [] and list(check.iter_errors({"uniform": ["6h", "2d"]})) == []
    assert v is not None


# --------------------------------------------------------------------------- error handling


def test_an_internal_error_is_one_line_without_traceback(cli, monkeypatch, valid_scenario):
    def broken(path):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr("sim.scenario.loader.validate", broken)
    r = cli("validate", valid_scenario)
    assert r.code == 1
    assert r.err == "internal error: RuntimeError: boom (please report; rerun with --debug for the traceback)\n"
    r = cli("validate", valid_scenario, "--debug")
    assert r.code == 1 and "Traceback" in r.err and "RuntimeError: boom" in r.err


def test_scenario_and_user_errors_from_a_command_exit_2(cli, monkeypatch, valid_scenario):
    from sim.errors import Problem, ScenarioError, UserError

    def scenario_error(path):
        raise ScenarioError([Problem("x.yaml", 3, 1, ("seed",), "must not be negative (got -1)")])

    monkeypatch.setattr("sim.scenario.loader.validate", scenario_error)
    r = cli("validate", valid_scenario)
    assert (r.code, r.err) == (2, "x.yaml:3:1: seed: must not be negative (got -1)\n")

    def user_error(path):
        raise UserError("no run folder results/xyz")

    monkeypatch.setattr("sim.scenario.loader.validate", user_error)
    r = cli("validate", valid_scenario)
    assert (r.code, r.err) == (2, "error: no run folder results/xyz\n")


def _write_module(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text(textwrap.dedent(body))


def test_command_modules_register_their_commands(cli, monkeypatch, tmp_path):
    _write_module(tmp_path, "routesim_fake_cmds", """\
        def register(subparsers):
            p = subparsers.add_parser("hello", help="say hello")
            p.add_argument("who")
            p.set_defaults(func=lambda args: print(f"hello {args.who}") or 0)
        """)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli_mod, "COMMAND_MODULES", ("routesim_fake_cmds",))
    r = cli("hello", "Mozyr")
    assert (r.code, r.out) == (0, "hello Mozyr\n")


def test_a_command_module_with_a_broken_import_is_not_silently_skipped(cli, monkeypatch, tmp_path):
    _write_module(tmp_path, "routesim_broken_cmds", """\
        import routesim_dependency_that_does_not_exist  # noqa: F401

        def register(subparsers):
            pass
        """)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli_mod, "COMMAND_MODULES", ("routesim_broken_cmds",))
    with pytest.raises(ModuleNotFoundError, match="routesim_dependency_that_does_not_exist"):
        cli_mod.build_parser()
    r = cli("validate", "x.yaml")  # main() turns it into an internal error, not a traceback
    assert r.code == 1 and r.err.startswith("internal error: ModuleNotFoundError")
