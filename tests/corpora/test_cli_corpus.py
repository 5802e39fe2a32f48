"""``coral corpus stats`` and ``coral corpus parse`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coral.cli import app
from coral.corpora.parquet import read_parsed_cells
from coral.problems import ProblemLog

runner = CliRunner()


@pytest.fixture(scope="module")
def corpora(fixtures_dir: Path) -> Path:
    return fixtures_dir / "corpora"


def test_stats_json_and_errors_file(corpora, tmp_path):
    errors = tmp_path / "_errors.jsonl"
    paths = [str(corpora / "notebooks"), str(corpora / "shards")]
    result = runner.invoke(app, ["corpus", "stats", *paths, "--json", "--errors", str(errors)])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["notebooks"] == 6 and stats["code_cells"] == 14 and stats["markdown_cells"] == 8
    assert stats["notebook_problems"] == {"malformed-json": 2, "non-python-kernel": 2, "missing-field": 1}
    logged = ProblemLog.read_jsonl(errors)
    assert len(logged) == stats["notebooks_skipped"] == 5
    assert {problem.reason for problem in logged} == set(stats["notebook_problems"])
    assert stats["apis"]["pandas.read_csv"] == 2


def test_stats_table(corpora):
    result = runner.invoke(app, ["corpus", "stats", str(corpora / "notebooks"), "--top", "3"])
    assert result.exit_code == 0, result.output
    for expected in ("notebooks read", "Notebooks skipped, by reason", "non-python-kernel", "Most common qualified APIs"):
        assert expected in result.output


def test_stats_with_a_forced_format(corpora):
    result = runner.invoke(app, ["corpus", "stats", str(corpora / "coral_sample.txt"), "--format", "coral", "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["notebooks"] == 2 and stats["notebook_problems"] == {"missing-field": 1}


def test_parse_writes_parquet_and_resumes(corpora, tmp_path):
    out = tmp_path / "parsed"
    arguments = ["corpus", "parse", str(corpora), "--out", str(out), "--workers", "1", "--chunk-size", "3"]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "_summary.json").read_text())
    assert summary["parsed_cells"] == len(list(read_parsed_cells(out))) > 0
    assert len(ProblemLog.read_jsonl(out / "_errors.jsonl")) == summary["problems"] > 0
    again = runner.invoke(app, arguments)
    assert again.exit_code == 0 and f"({summary['units']} already done)" in again.output


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["corpus", "stats", "{corpora}", "--format", "csv"], "unknown corpus format"),
        (["corpus", "stats", "{corpora}/no-such-file.ipynb"], "does not exist"),
        (["corpus", "parse", "{corpora}", "--out", "{tmp}", "--workers", "2", "--scheduler", "tcp://x:1"], "not both"),
    ],
)
def test_bad_arguments_are_clear_errors(corpora, tmp_path, arguments, message):
    filled = [argument.format(corpora=corpora, tmp=tmp_path) for argument in arguments]
    result = runner.invoke(app, filled)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
