"""`coral label` on Dask: parts labeled in parallel give the matrix one process gives."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from coral.cli import app
from coral.corpora.cells import plan_cell_parts
from coral.corpora.pipeline import parse_corpus
from coral.labeling.apply import LabelingFunctionError
from coral.labeling.corpus import label_corpus, label_to_directory
from coral.labeling.lfsets import load_lf_sets
from coral.labeling.matrix import LabelMatrix
from coral.problems import ProblemLog

SPECS = ["paper", "extended"]


@pytest.fixture(scope="module")
def corpus(fixtures_dir):
    return [fixtures_dir / "corpora" / "shards" / "part-0000.jsonl", fixtures_dir / "labeling" / "notebooks"]


def test_parts_follow_the_input(corpus, tmp_path):
    parts = plan_cell_parts(corpus, notebooks_per_unit=2)
    assert len(parts) == 4  # the six-line shard in three ranges, then the folder of notebooks
    parse_corpus(corpus[0], tmp_path / "parsed", workers=1, notebooks_per_unit=2)
    assert [part.parquet.name[:10] for part in plan_cell_parts([tmp_path / "parsed"])] == [
        "part-00000", "part-00001", "part-00002"]


def test_parallel_matrix_equals_the_single_process_one(corpus, tmp_path):
    single_problems, parallel_problems = ProblemLog(), ProblemLog()
    single = label_corpus(corpus, load_lf_sets(SPECS), problems=single_problems)
    written = label_to_directory(corpus, SPECS, tmp_path / "labels", problems=parallel_problems, workers=2,
                                 notebooks_per_unit=2)
    parallel = LabelMatrix.read(tmp_path / "labels")
    assert written.n_cells == len(single.ids) and written.n_covered == (single.L != -1).any(axis=1).sum()
    assert sorted(path.name for path in (tmp_path / "labels").iterdir()) == [
        "_label_matrix.json", "_problems.jsonl", "label_matrix.parquet"]  # the parts are gone
    assert parallel.ids == single.ids and parallel.lf_names == single.lf_names
    assert np.array_equal(parallel.L, single.L) and (single.L != -1).any()
    assert sorted(map(repr, parallel_problems)) == sorted(map(repr, single_problems))
    # and from a parsed directory, part by part
    parse_corpus(corpus[0], tmp_path / "parsed", workers=1, notebooks_per_unit=2)
    label_to_directory([tmp_path / "parsed"], SPECS, tmp_path / "from-parsed", workers=2)
    from_parsed = LabelMatrix.read(tmp_path / "from-parsed")
    shard_rows = len(from_parsed.ids)
    assert from_parsed.ids == single.ids[:shard_rows] and np.array_equal(from_parsed.L, single.L[:shard_rows])


def test_lf_errors_cross_workers_naming_lf_and_cell(corpus, tmp_path):
    lf_file = tmp_path / "fussy_lfs.py"
    lf_file.write_text(
        "from snorkel.labeling import labeling_function\n\n\n@labeling_function()\n"
        "def fussy(x):\n    raise KeyError('no stage for ' + x.id)\n"
    )
    with pytest.raises(LabelingFunctionError) as error:
        label_to_directory(corpus, [str(lf_file)], tmp_path / "labels", workers=2, notebooks_per_unit=2)
    assert error.value.lf_name == "fussy" and error.value.cell_id in str(error.value)


def test_cli_label_with_workers(corpus, tmp_path):
    result = CliRunner().invoke(
        app, ["label", *map(str, corpus), "--lfs", "extended", "--workers", "2", "--out", str(tmp_path / "labels")]
    )
    assert result.exit_code == 0, result.output
    matrix = LabelMatrix.read(tmp_path / "labels")
    single = label_corpus(corpus, load_lf_sets(["extended"]))
    assert matrix.ids == single.ids and np.array_equal(matrix.L, single.L)
