"""The readers and the pipeline on the real corpora in ../shared (integration)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coral.corpora.parquet import read_parsed_cells
from coral.corpora.pipeline import process_unit
from coral.corpora.readers import ReaderOptions, read_notebooks
from coral.corpora.units import plan_work_units
from coral.problems import ProblemLog

pytestmark = pytest.mark.shared


def _annotated_ids(path: Path) -> list[str]:
    return [str(json.loads(line)["id"]) for line in path.read_text().splitlines() if line.strip()]


def test_gh_dev_ids_are_code_cells_of_the_github_shards(shared_dir):
    wanted = _annotated_ids(shared_dir / "annotations" / "gh-dev.jsonl")
    notebook_ids = {cell_id.rsplit("#", 1)[0] for cell_id in wanted}
    problems = ProblemLog()
    code_cells: set[str] = set()
    for notebook in read_notebooks(shared_dir / "corpora" / "github", problems=problems):
        if notebook.id in notebook_ids:
            code_cells.update(cell.id for cell in notebook.code_cells)
    assert set(wanted) <= code_cells
    assert len(code_cells) == len(wanted)  # the annotators labeled every code cell of those notebooks


def test_ucsd_dev_ids_are_cells_of_the_coral_sample(shared_dir):
    wanted = set(_annotated_ids(shared_dir / "annotations" / "ucsd-dev.jsonl"))
    notebooks = list(read_notebooks(shared_dir / "corpora" / "coral-ucsd-sample" / "train.txt", problems=ProblemLog()))
    cells = {notebook.cells[0].id: notebook.cells[0] for notebook in notebooks}
    assert len(cells) == 1000 and wanted <= set(cells)
    assert all(cell.funcs is not None and cell.coral_nodes for cell in cells.values())


def test_one_work_unit_of_a_real_shard_parses_to_parquet(shared_dir, tmp_path):
    shard = sorted((shared_dir / "corpora" / "github").glob("part-*.jsonl.gz"))[0]
    unit = plan_work_units(shard, notebooks_per_unit=100)[1]  # lines 100..199: skipping lines is exercised too
    report = process_unit(unit, tmp_path)
    cells = list(read_parsed_cells(tmp_path))
    expected = [cell.id for notebook in unit.notebooks(ProblemLog(), ReaderOptions()) for cell in notebook.code_cells]
    assert [cell.id for cell in cells] == expected and report.stats.notebooks == 100
    assert sum(bool(cell.apis) for cell in cells) > len(cells) / 2

