"""A notebook id that two inputs (or two work units) give is kept where it comes first and the
others are reported, never merged: in one pass, in parts, and across the units of a parse."""

from __future__ import annotations

import json

import nbformat
import pandas as pd
import pytest

from coral.corpora.cells import read_cells
from coral.corpora.parquet import ERRORS_FILE
from coral.corpora.pipeline import parse_corpus
from coral.jobs.predict import load_stage_model, predict_corpus
from coral.labeling.corpus import label_corpus, label_to_directory
from coral.labeling.matrix import LabelMatrix
from coral.labeling.lfsets import load_lf_sets
from coral.problems import DUPLICATE_NOTEBOOK, ProblemLog


def write_notebook(path, *sources):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


@pytest.fixture
def two_corpora(tmp_path):
    """Two folders that both hold ``shared.ipynb`` (one notebook id, different code), beside others."""
    first, second = tmp_path / "first", tmp_path / "second"
    write_notebook(first / "a.ipynb", "import pandas as pd")
    write_notebook(first / "shared.ipynb", "import numpy as np", "np.mean([1])")
    write_notebook(second / "shared.ipynb", "import sklearn", "x = 1", "model.fit(X, y)")
    write_notebook(second / "z.ipynb", "df.head()")
    return [first, second]


def duplicates(problems):
    return [(problem.item, problem.origin) for problem in problems if problem.reason == DUPLICATE_NOTEBOOK]


def test_one_pass_keeps_the_first_and_reports_the_other(two_corpora):
    problems = ProblemLog()
    ids = [cell.id for cell in read_cells(two_corpora, problems=problems)]
    assert ids == ["a.ipynb#0", "shared.ipynb#0", "shared.ipynb#1", "z.ipynb#0"]
    assert duplicates(problems) == [("shared.ipynb", str(two_corpora[1] / "shared.ipynb"))]


def test_parse_reports_a_notebook_two_units_hold_and_keeps_the_first(two_corpora, tmp_path):
    out = tmp_path / "parsed"
    summary = parse_corpus(two_corpora, out, workers=1, notebooks_per_unit=1)
    cells = pd.read_parquet(out)
    assert cells["id"].tolist() == ["a.ipynb#0", "shared.ipynb#0", "shared.ipynb#1", "z.ipynb#0"]
    errors = [json.loads(line) for line in (out / ERRORS_FILE).read_text().splitlines()]
    assert [(e["item"], e["reason"]) for e in errors] == [("shared.ipynb", DUPLICATE_NOTEBOOK)]
    assert summary.stats.notebooks == 3 and summary.stats.notebook_problems[DUPLICATE_NOTEBOOK] == 1
    again = parse_corpus(two_corpora, out, workers=1, notebooks_per_unit=1)  # a rerun reuses every part
    assert again.units_reused == again.units and pd.read_parquet(out)["id"].tolist() == cells["id"].tolist()
    assert (out / ERRORS_FILE).read_text() == json.dumps(errors[0], ensure_ascii=False) + "\n"


def test_label_and_predict_by_parts_skip_it_as_one_pass_does(two_corpora, tmp_path):
    one_pass = ProblemLog()
    expected = label_corpus(two_corpora, load_lf_sets(["paper"]), problems=one_pass)
    by_parts = ProblemLog()
    label_to_directory(two_corpora, ["paper"], tmp_path / "labels", problems=by_parts, notebooks_per_unit=1)
    matrix = LabelMatrix.read(tmp_path / "labels")
    assert matrix.ids == expected.ids and (matrix.L == expected.L).all()
    assert duplicates(by_parts) == duplicates(one_pass) != []
    run = predict_corpus(two_corpora, load_stage_model("heuristics"), tmp_path / "p.jsonl", progress=False,
                         notebooks_per_unit=1)
    predicted = [json.loads(line)["id"] for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert predicted == expected.ids and run.problems_by_reason == {DUPLICATE_NOTEBOOK: 1}


@pytest.mark.parametrize("parsed_first", [True, False])
def test_a_parsed_directory_and_a_corpus_that_share_a_notebook(two_corpora, tmp_path, parsed_first):
    parse_corpus([two_corpora[0]], tmp_path / "parsed", workers=1, notebooks_per_unit=1)
    inputs = [tmp_path / "parsed", two_corpora[1]] if parsed_first else [two_corpora[1], tmp_path / "parsed"]
    one_pass = ProblemLog()
    ids = [cell.id for cell in read_cells(inputs, problems=one_pass)]
    assert ids.count("shared.ipynb#0") == 1 and ("shared.ipynb#2" in ids) == (not parsed_first)
    (skipped,) = duplicates(one_pass)
    assert skipped[0] == "shared.ipynb" and (skipped[1] == str(two_corpora[1] / "shared.ipynb")) == parsed_first
    by_parts = ProblemLog()
    label_to_directory(inputs, ["paper"], tmp_path / "labels", problems=by_parts, notebooks_per_unit=1)
    matrix = LabelMatrix.read(tmp_path / "labels")
    assert matrix.ids == ids and [item for item, _ in duplicates(by_parts)] == ["shared.ipynb"]
