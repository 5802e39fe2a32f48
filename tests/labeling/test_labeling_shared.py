"""Integration on the real dev sets in ../shared: the paper's heuristics on the CORAL sample,
and the extended set on both dev sets (figures are recorded in docs/results.md)."""

from __future__ import annotations

import pytest

from coral.corpora.cells import read_cells
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
    predictions = predict_cells(load_stage_model("heuristics"), cells)
    assert len(predictions) == len(cells) == 1000
    evaluation = evaluate_predictions(predictions, gold, random_seeds=20)
    assert evaluation.n_evaluated == 250 and not evaluation.missing_ids
    # Measured: 56% coverage, 66% accuracy on covered (the paper: 20%, ~90%); see docs/results.md.
    assert 0.4 < evaluation.coverage < 0.7
    assert evaluation.accuracy_on_covered > 0.6
    assert evaluation.random_fill_accuracy_mean > 0.4


def test_extended_lfs_cover_more_than_the_papers(ucsd):
    cells, gold = ucsd
    paper = evaluate_predictions(predict_cells(load_stage_model("heuristics"), cells), gold, random_seeds=5)
    extended = evaluate_predictions(
        predict_cells(load_stage_model("heuristics", lfs=["extended"], aggregation="majority"), cells), gold,
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
        proba = HeuristicStageModel(lfs=("extended",), aggregation=method).predict_proba_matrix(matrix.L)[rows]
        predicted = [STAGE_NAMES[row.argmax()] if row.any() else None for row in proba]
        results[method] = evaluate_stages(list(gold.values()), predicted, random_seeds=1)
    return results


@pytest.mark.parametrize(
    ("gold_file", "corpus"),
    [("ucsd-dev.jsonl", "corpora/coral-ucsd-sample/train.txt"), ("gh-dev.jsonl", "corpora/github")],
)
def test_extended_label_model_meets_the_target_and_beats_priority(shared_dir, gold_file, corpus):
    """The issue's target (figures in docs/results.md): >= 70% coverage at >= 85% accuracy on
    covered cells, and the LabelModel ahead of the priority order on the same LFs."""
    gold = read_gold(shared_dir / "annotations" / gold_file)
    result = _aggregations_on_dev(read_cells([shared_dir / corpus]), gold, ("priority", "labelmodel"))
    label_model, priority = result["labelmodel"], result["priority"]
    assert label_model.coverage >= 0.70 and label_model.accuracy_on_covered >= 0.85
    assert label_model.accuracy_on_covered > priority.accuracy_on_covered
