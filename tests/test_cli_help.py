"""Every command's --help: defaults shown, one name per concept, choices from the library."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from coral.cli import app
from coral.labeling.aggregate import AGGREGATION_METHODS

ROOT = typer.main.get_command(app)
# options whose concept has one name; the old names must not come back
RETIRED = {"--label-model", "--unit", "--corpus"}


def _commands(group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = list(_commands(ROOT))


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(path) for path, _ in COMMANDS])
def test_help_shows_every_default_and_uses_one_name_per_concept(path, command):
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "300", "TERMINAL_WIDTH": "300"})
    assert result.exit_code == 0, result.output
    for param in command.params:
        if param.param_type_name != "option" or param.is_flag or param.required or param.name == "help":
            continue
        if param.default is None:
            assert "Default" in (param.help or ""), f"{' '.join(path)} {param.opts[0]}: say what no value means"
        else:
            assert param.show_default is not False, f"{' '.join(path)} {param.opts[0]} hides its default"
    names = {opt for param in command.params for opt in param.opts}
    assert not names & RETIRED, f"{' '.join(path)} uses {names & RETIRED}"
    assert not ("--scheduler" in names and "dask.bag" in result.output)
    if "--aggregate" in names:
        assert "|".join(AGGREGATION_METHODS) in result.output


def test_defaults_appear_in_help_text():
    result = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "300", "TERMINAL_WIDTH": "300"})
    assert re.search(r"--lfs.*default: extended", result.output, re.S)
    assert "--aggregate" in result.output and "[default: priority]" in result.output


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("coral ")
