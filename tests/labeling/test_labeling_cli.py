"""The CLI end to end on a small notebook: label, lfs analyze / fit, predict, evaluate."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from coral.cli import app
from coral.labeling.matrix import LabelMatrix

runner = CliRunner()


@pytest.fixture
def notebook(fixtures_dir):
    return str(fixtures_dir / "labeling" / "notebooks" / "churn.ipynb")


def invoke(*args):
    result = runner.invoke(app, [str(arg) for arg in args])
    return result


def test_label_writes_the_matrix_with_ids(notebook, tmp_path):
    result = invoke("label", notebook, "--lfs", "paper", "--out", tmp_path / "labels")
    assert result.exit_code == 0, result.output
    matrix = LabelMatrix.read(tmp_path / "labels")
    assert matrix.ids == [f"churn.ipynb#{i}" for i in (1, 2, 3, 5, 7, 8)]
    votes = dict(zip(matrix.ids, matrix.L.tolist()))
    names = matrix.lf_names
    assert votes["churn.ipynb#2"][names.index("paper_seed_wrangle")] == 1
    assert votes["churn.ipynb#3"][names.index("paper_seed_explore")] == 2
    assert votes["churn.ipynb#5"][names.index("paper_markdown_model")] == 3
    assert (tmp_path / "labels" / "_problems.jsonl").exists()
    assert "6 cells x 8 LFs" in result.output


def test_predict_then_evaluate(notebook, tmp_path):
    out = tmp_path / "preds.jsonl"
    result = invoke("predict", notebook, "--out", out)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "preds.errors.jsonl").exists() and "0 problems" in result.output
    predictions = [json.loads(line) for line in out.read_text().splitlines()]
    assert [p["stage"] for p in predictions] == ["IMPORT", "WRANGLE", "EXPLORE", "MODEL", "EVALUATE", None]
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps({"id": f"churn.ipynb#{i}", "stage": s}) + "\n"
                            for i, s in [(1, "IMPORT"), (2, "WRANGLE"), (8, "WRANGLE"), (9, "MODEL")]))
    result = invoke("evaluate", out, "--gold", gold, "--json", "--seeds", "10")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["n_evaluated"] == 3 and report["missing_ids"] == ["churn.ipynb#9"]
    assert report["coverage"] == pytest.approx(2 / 3) and report["accuracy_on_covered"] == 1.0


def test_analyze_with_gold_writes_markdown(notebook, tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "churn.ipynb#3", "stage": "EXPLORE"}\n{"id": "churn.ipynb#7", "stage": "MODEL"}\n')
    out = tmp_path / "lfs.md"
    result = invoke("lfs", "analyze", notebook, "--lfs", "paper", "--gold", gold, "--out", out,
                    "--show", "paper_seed_evaluate")
    assert result.exit_code == 0, result.output
    assert "Emp. Acc." in result.output and "gold: 2 of 2 gold cells" in result.output
    assert "churn.ipynb#7" in result.output  # seed_evaluate says EVALUATE, gold says MODEL
    assert re.match(r"\| LF +\| Polarity +\| +Coverage", out.read_text())


def test_lf_errors_are_named_on_the_command_line(notebook, fixtures_dir, tmp_path):
    raising = fixtures_dir / "labeling" / "raising_lfs.py"
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    nb_dir = tmp_path / "nb"
    nb_dir.mkdir()
    (nb_dir / "e.ipynb").write_text(
        '{"cells": [{"cell_type": "code", "source": "# only a comment", "metadata": {}, "outputs": [],'
        ' "execution_count": null}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    )
    result = invoke("label", nb_dir, "--lfs", raising, "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert "'divides_by_lines' failed on cell 'e.ipynb#0'" in result.output
    result = invoke("label", nb_dir, "--lfs", raising, "--out", tmp_path / "o", "--on-lf-error", "log")
    assert result.exit_code == 0 and "lf-error: 1" in result.output
    result = invoke("predict", notebook, "--lfs", empty, "--out", tmp_path / "p.jsonl")
    assert result.exit_code == 1 and f"{empty}: defines no labeling functions" in result.output


def test_fit_then_predict_with_the_saved_model(notebook, tmp_path):
    result = invoke("lfs", "fit", notebook, "--lfs", "paper", "--out", tmp_path / "lm")
    assert result.exit_code == 0, result.output
    result = invoke("predict", notebook, "--model", tmp_path / "lm", "--out", tmp_path / "p.jsonl")
    assert result.exit_code == 0, result.output
    stages = [json.loads(line)["stage"] for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert len(stages) == 6 and stages[-1] is None
    result = invoke("predict", notebook, "--model", tmp_path / "lm", "--aggregate", "majority", "--out", tmp_path / "q.jsonl")
    assert result.exit_code == 1 and "configure the 'heuristics' model" in result.output
