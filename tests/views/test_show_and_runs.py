"""``coral show`` in the terminal, and runs that say what they did: manifests, ``--version``,
a clear failure when no input is usable, and predictions that point at their cells."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from typer.testing import CliRunner

from coral import __version__
from coral.cli import app
from coral.corpora.readers import example_paths, read_notebooks
from coral.predictions import read_predictions
from coral.views.labelled import load_stage_model


@pytest.fixture(scope="module")
def churn():
    return example_paths()[1]


@pytest.fixture(scope="module")
def paper_heuristics(tmp_path_factory) -> str:
    """A saved heuristics model with the paper's LFs, which leave some of churn's cells uncovered."""
    from coral.labeling.model import HeuristicStageModel

    return str(HeuristicStageModel(lf_specs=("paper",)).save(tmp_path_factory.mktemp("paper-heuristics")))


@pytest.fixture(scope="module")
def heuristic_predictions(churn, paper_heuristics):
    from coral.views.labelled import label_notebooks
    from coral.problems import ProblemLog

    (labelled,) = label_notebooks([churn], load_stage_model(paper_heuristics), ProblemLog())
    return labelled


def _cell_headers(output: str) -> list[str]:
    return [line for line in output.splitlines() if "─  cell " in line]


def test_show_prints_every_code_cell_with_its_stage_and_confidence(churn, heuristic_predictions, paper_heuristics):
    result = CliRunner().invoke(app, ["show", str(churn), "--model", paper_heuristics])
    assert result.exit_code == 0, result.output
    headers = _cell_headers(result.output)
    code = heuristic_predictions.notebook.code_cells
    assert len(headers) == len(code)
    for header, cell in zip(headers, code):
        prediction = heuristic_predictions.predictions[cell.index]
        assert f"cell {cell.index} " in header
        assert (prediction.stage or "no stage") in header
    assert code[0].source.splitlines()[0] in result.output


def test_show_only_one_stage_or_low_confidence(churn, heuristic_predictions, paper_heuristics):
    result = CliRunner().invoke(app, ["show", str(churn), "--model", paper_heuristics, "--only", "model"])
    assert result.exit_code == 0, result.output
    expected = [i for i, p in heuristic_predictions.predictions.items() if p.stage == "MODEL"]
    assert expected and [h for h in _cell_headers(result.output)] and all("MODEL" in h for h in _cell_headers(result.output))
    assert len(_cell_headers(result.output)) == len(expected)

    result = CliRunner().invoke(app, ["show", str(churn), "--model", paper_heuristics, "--low-confidence"])
    assert result.exit_code == 0, result.output
    low = [p for p in heuristic_predictions.predictions.values() if p.stage is None or p.probs[p.stage] < 0.5]
    assert low and len(_cell_headers(result.output)) == len(low)
    assert all("low confidence" in header for header in _cell_headers(result.output))


def test_show_names_a_wrong_stage(churn):
    result = CliRunner().invoke(app, ["show", str(churn), "--model", "heuristics", "--only", "PLOT"])
    assert result.exit_code == 1 and "unknown stage 'PLOT'" in result.output


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"coral {__version__}"


def test_run_writes_a_manifest_and_the_report(tmp_path):
    result = CliRunner().invoke(app, ["run", "--model", "default", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    weights = (example_paths()[0].parents[1] / "models/default/weights.pt")
    assert manifest["coral_version"] == __version__
    assert manifest["model"]["name"] == "default" and manifest["model"]["weights_sha256"]
    assert [lf_set["name"] for lf_set in manifest["model"]["lf_sets"]] == ["extended"]
    assert all(len(lf_set["sha256"]) == 64 for lf_set in manifest["model"]["lf_sets"])
    assert [item["path"] for item in manifest["inputs"]] == [str(path) for path in example_paths()]
    assert [item["bytes"] for item in manifest["inputs"]] == [path.stat().st_size for path in example_paths()]
    n_code = sum(len(nb.code_cells) for nb in read_notebooks(example_paths()))
    assert manifest["counts"]["code_cells"] == n_code and manifest["wall_seconds"] > 0
    assert (tmp_path / "report.html").stat().st_size > 0
    assert hashlib.sha256(weights.read_bytes()).hexdigest() != manifest["model"]["weights_sha256"]  # over all model files
    # the report says, for each code cell, whether the LFs or the encoder (in context) labelled it
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'<script type="application/json" id="coral-data">(.*?)</script>', html, re.S).group(1))
    deciders = [row[6] for nb in data["notebooks"] for row in nb["cells"] if row[0] == "c"]
    assert len(deciders) == n_code and set(deciders) <= {"lfs", "context"} and "lfs" in deciders
    assert data["decided_by"]["lfs"] == "by the LFs"


def test_show_says_what_labelled_each_cell(churn):
    result = CliRunner().invoke(app, ["show", str(churn), "--model", "default"])
    assert result.exit_code == 0, result.output
    headers = _cell_headers(result.output)
    assert headers and all("by the LFs" in header or "by the encoder, in context" in header for header in headers)


def test_manifest_digests_change_with_the_lf_set_file(tmp_path, fixtures_dir):
    from coral.manifest import describe_lf_sets

    lfs = tmp_path / "my_lfs.py"
    lfs.write_text((fixtures_dir / "labeling/my_lfs.py").read_text())
    before = describe_lf_sets([str(lfs), "paper"])
    lfs.write_text(lfs.read_text() + "\n# changed\n")
    after = describe_lf_sets([str(lfs), "paper"])
    assert before[0]["sha256"] != after[0]["sha256"] and before[1] == after[1]


@pytest.mark.parametrize("name, content", [("notes.py", "print('hi')\n"), ("broken.ipynb", "{not json")])
def test_a_run_with_no_usable_input_fails_with_one_line(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    result = CliRunner().invoke(app, ["run", str(path), "--model", "heuristics", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and name in errors[0] and "no code cell" in errors[0]
    assert not (tmp_path / "out/study").exists()


def test_predictions_point_at_their_notebook_and_carry_code_on_request(tmp_path, churn):
    out = tmp_path / "p.jsonl"
    result = CliRunner().invoke(app, ["predict", str(churn), "--model", "heuristics", "--out", str(out), "--with-source"])
    assert result.exit_code == 0, result.output
    (notebook,) = read_notebooks([churn])
    predictions = list(read_predictions(out))
    assert [p.index for p in predictions] == [cell.index for cell in notebook.code_cells]
    assert {p.path for p in predictions} == {str(churn)}
    assert [p.source for p in predictions] == [cell.source for cell in notebook.code_cells]
    assert json.loads((tmp_path / "p.manifest.json").read_text())["counts"]["code_cells"] == len(predictions)

    result = CliRunner().invoke(app, ["predict", str(churn), "--model", "heuristics", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert all("source" not in json.loads(line) for line in out.read_text().splitlines())


@pytest.mark.shared
@pytest.mark.slow
def test_show_on_github_notebooks_prints_a_box_per_code_cell(github_sample):
    result = CliRunner().invoke(app, ["show", str(github_sample), "--model", "heuristics"])
    assert result.exit_code == 0, result.output
    code_cells = sum(len(notebook.code_cells) for notebook in read_notebooks([github_sample]))
    assert len(_cell_headers(result.output)) == code_cells
    assert result.output.count("╰") >= len(_cell_headers(result.output))
