"""Integration on the real dev sets in ../shared: the paper's heuristics on the CORAL sample,
and the extended set on the three dev sets (figures are recorded in docs/results.md)."""

from __future__ import annotations

import pytest

from coral.corpora.cells import read_cells
from coral.corpora.parse import parse_notebook
from coral.corpora.readers import read_notebooks
from coral.jobs.evaluate import evaluate_predictions, evaluate_stages, read_gold
from coral.jobs.predict import load_stage_model, predict_cells
from coral.labeling.corpus import label_cells
from coral.labeling.lfsets import load_lfs
from coral.labeling.model import HeuristicStageModel
from coral.stages import STAGE_NAMES

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def ucsd(shared_dir):
    gold = read_gold(shared_dir / "annotations" / "ucsd-dev.jsonl")
    cells = list(read_cells([shared_dir / "corpora" / "coral-ucsd-sample" / "train.txt"]))
    return cells, gold


def test_paper_heuristics_on_the_coral_sample(ucsd):
    cells, gold = ucsd
    predictions = predict_cells(load_stage_model("heuristics", lf_specs=["paper"]), cells)
    assert len(predictions) == len(cells) == 1000
    evaluation = evaluate_predictions(predictions, gold, random_seeds=100)
    assert evaluation.n_evaluated == 250 and not evaluation.missing_ids
    # Near the paper's 20.4% coverage and 34.1% random-fill accuracy (docs/results.md).
    assert 0.15 <= evaluation.coverage <= 0.25
    assert 0.30 <= evaluation.random_fill_accuracy_mean <= 0.38


def test_extended_lfs_cover_more_than_the_papers(ucsd):
    cells, gold = ucsd
    paper = evaluate_predictions(predict_cells(load_stage_model("heuristics", lf_specs=["paper"]), cells), gold, random_seeds=5)
    extended = evaluate_predictions(
        predict_cells(load_stage_model("heuristics", lf_specs=["extended"], aggregation="majority"), cells), gold,
        random_seeds=5,
    )
    assert extended.coverage > paper.coverage + 0.15
    assert extended.accuracy_on_covered > 0.7
    assert extended.macro_f1 > paper.macro_f1


def _aggregations_on_dev(cells, gold, methods):
    """Label the input once; each aggregation's evaluation on the gold cells (the LabelModel
    is fitted on the whole input's label matrix, as `coral predict --aggregate labelmodel`)."""
    matrix = label_cells(cells, load_lfs("extended"))
    position = {cell_id: row for row, cell_id in enumerate(matrix.ids)}
    rows = [position[cell_id] for cell_id in gold]
    results = {}
    for method in methods:
        proba = HeuristicStageModel(lf_specs=("extended",), aggregation=method).predict_proba_matrix(matrix.L)[rows]
        predicted = [STAGE_NAMES[row.argmax()] if row.any() else None for row in proba]
        results[method] = evaluate_stages(list(gold.values()), predicted, random_seeds=1)
    return results


def _dev_notebook_cells(corpus, gold):
    """The parsed cells of the notebooks the gold cells come from (``<notebook id>#<index>``)."""
    wanted = {cell_id.rsplit("#", 1)[0] for cell_id in gold}
    for notebook in read_notebooks([corpus]):
        if notebook.id in wanted:
            yield from parse_notebook(notebook)


@pytest.mark.parametrize(
    "gold_file",
    [
        "ucsd-dev.jsonl",
        "gh-dev.jsonl",
        pytest.param("gh-dev2.jsonl", marks=pytest.mark.xfail(
            strict=True, reason="84.9% on covered cells with the LabelModel fitted on gh-dev2's own notebooks (85.1% with it fitted on an unlabeled shard; docs/results.md)")),
    ],
)
def test_extended_lfs_meet_the_target(shared_dir, gold_file):
    """The target (figures in docs/results.md): with its best aggregation, the extended set
    covers >= 80% of the cells at >= 85% accuracy on covered cells. The LabelModel is fitted
    on the input: the 1,000-cell CORAL sample, or the dev set's own notebooks."""
    gold = read_gold(shared_dir / "annotations" / gold_file)
    if gold_file == "ucsd-dev.jsonl":
        cells = read_cells([shared_dir / "corpora" / "coral-ucsd-sample" / "train.txt"])
    else:
        cells = _dev_notebook_cells(shared_dir / "corpora" / "github", gold)
    result = _aggregations_on_dev(cells, gold, ("priority", "majority", "labelmodel"))
    best = max(result.values(), key=lambda evaluation: evaluation.accuracy_on_covered)
    assert best.coverage >= 0.80 and best.accuracy_on_covered >= 0.85
