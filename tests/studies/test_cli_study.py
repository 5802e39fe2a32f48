from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from coral.cli import app


@pytest.fixture()
def studies_dir(fixtures_dir):
    return fixtures_dir / "studies"


def invoke(*args: str):
    return CliRunner().invoke(app, ["study", *map(str, args)])


def test_composition_and_transitions_write_their_outputs(studies_dir, tmp_path):
    result = invoke("composition", studies_dir / "predictions.jsonl", "--out", tmp_path / "c", "--by", "repo", "--log-base", "2")
    assert result.exit_code == 0, result.output
    assert "all-abstain: 1" in result.output
    assert pd.read_csv(tmp_path / "c" / "stage_fractions.csv")["repo"].tolist() == ["alice/proj", "bob/other"]
    result = invoke("transitions", studies_dir / "predictions.jsonl", "--out", tmp_path / "t")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t" / "transitions.pdf").exists()


def test_compare_functions_and_citations(studies_dir, tmp_path):
    result = invoke("compare", studies_dir / "predictions.jsonl", "--out", tmp_path / "g", "--metadata", studies_dir / "repos.tsv",
                    "--group", "course_or_tutorial", "--by", "repo", "--resamples", "200")
    assert result.exit_code == 0, result.output
    assert set(pd.read_csv(tmp_path / "g" / "group_means.csv")["group"]) == {0, 1}
    result = invoke("functions", studies_dir / "predictions.jsonl", "--out", tmp_path / "f", "--function", "seaborn.countplot")
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp_path / "f" / "functions.csv")["n_EXPLORE"].tolist() == [1]
    assert "seaborn.countplot is not unseen: LF ext_plots_data" in result.output  # the warning
    result = invoke("citations", studies_dir / "predictions.jsonl", "--out", tmp_path / "p", "--papers", studies_dir / "papers-gorc.jsonl",
                    "--citations", studies_dir / "citations.csv", "--dask-scheduler", "sync")
    assert result.exit_code == 0, result.output
    assert "too-few-papers: 3" in result.output


def test_bad_input_is_a_clear_error_not_a_traceback(studies_dir, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "n#0", "stage": "plotting", "notebook_id": "n", "index": 0}) + "\n")
    result = invoke("composition", bad, "--out", tmp_path / "c")
    assert result.exit_code == 1
    assert "bad.jsonl: cell n#0 has stage 'plotting'" in result.output
    result = invoke("compare", studies_dir / "predictions.jsonl", "--out", tmp_path / "g", "--metadata", studies_dir / "repos.tsv", "--group", "nope")
    assert result.exit_code == 1 and "no column 'nope'" in result.output
    result = invoke("composition", studies_dir / "predictions.jsonl", "--out", tmp_path / "c", "--log-base", "3")
    assert result.exit_code != 0 and "--log-base" in result.output
