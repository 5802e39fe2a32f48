"""The main job (``coral run``) end to end on the packaged example notebooks."""

from __future__ import annotations

import json

import torch
from typer.testing import CliRunner

from coral.cli import app
from coral.corpora.readers import example_paths, read_notebooks


def test_run_labels_every_example_code_cell_and_writes_the_studies(tmp_path):
    result = CliRunner().invoke(app, ["run", "--model", "heuristics", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output

    code_cell_ids = [cell.id for notebook in read_notebooks(example_paths()) for cell in notebook.code_cells]
    lines = (tmp_path / "predictions.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == code_cell_ids
    assert f"{len(code_cell_ids)} code cells labelled" in result.output
    for name in ("composition/composition.csv", "composition/composition.png", "transitions/transition_matrix.csv"):
        assert (tmp_path / "study" / name).is_file(), name


def test_run_names_an_unknown_model(tmp_path):
    result = CliRunner().invoke(app, ["run", "--model", str(tmp_path / "nope"), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "nope" in result.output


def test_threads_option_sets_torch_threads(tmp_path):
    before = torch.get_num_threads()
    try:
        result = CliRunner().invoke(app, ["run", "--model", "heuristics", "--threads", "1", "--out", str(tmp_path)])
        assert result.exit_code == 0, result.output
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_juice_cells_all_labels_every_distinct_juice_cell(tmp_path, fixtures_dir):
    juice_file = str(fixtures_dir / "corpora" / "juice_dev.jsonl")
    counts = {}
    for choice in ("target", "all"):
        out = tmp_path / choice
        result = CliRunner().invoke(app, ["run", juice_file, "--model", "heuristics", "--juice-cells", choice, "--out", str(out)])
        assert result.exit_code == 0, result.output
        counts[choice] = len((out / "predictions.jsonl").read_text().splitlines())
    assert counts == {"target": 5, "all": 8}
