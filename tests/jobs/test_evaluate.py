"""Evaluation: metrics on a hand-checked example, the random-fill protocol, id matching."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coral.jobs.evaluate import DeciderScores, evaluate_predictions, evaluate_stages, format_evaluation, read_gold
from coral.predictions import Prediction, read_predictions, write_predictions


def test_metrics_on_a_small_example():
    gold = ["IMPORT", "WRANGLE", "WRANGLE", "EXPLORE", "MODEL", "EVALUATE"]
    pred = ["IMPORT", "WRANGLE", "EXPLORE", None, "MODEL", "MODEL"]
    evaluation = evaluate_stages(gold, pred, random_seeds=50)
    assert evaluation.coverage == pytest.approx(5 / 6)
    assert evaluation.accuracy == pytest.approx(3 / 6)
    assert evaluation.accuracy_on_covered == pytest.approx(3 / 5)
    assert evaluation.per_stage["WRANGLE"].recall == pytest.approx(0.5)
    assert evaluation.per_stage["MODEL"].precision == pytest.approx(0.5)
    assert evaluation.per_stage["EXPLORE"].f1 == 0.0
    # F1 per stage: IMPORT 1, WRANGLE 2/3, EXPLORE 0, MODEL 2/3, EVALUATE 0
    assert evaluation.macro_f1 == pytest.approx((1 + 2 / 3 + 2 / 3) / 5)
    assert evaluation.confusion[2] == [0, 0, 0, 0, 0, 1]  # EXPLORE abstained
    assert evaluation.confusion[4][3] == 1 and evaluation.confusion[1][2] == 1
    # one abstain filled at random: right with probability 1/5
    assert 3 / 6 <= evaluation.random_fill_accuracy_mean <= 4 / 6
    assert evaluation.random_fill_accuracy_std > 0


def test_random_fill_converges_to_the_expected_accuracy():
    rng = np.random.default_rng(0)
    gold = list(rng.choice(["IMPORT", "WRANGLE", "EXPLORE", "MODEL", "EVALUATE"], size=400))
    pred = [stage if i % 5 == 0 else None for i, stage in enumerate(gold)]  # 20% covered, all right
    evaluation = evaluate_stages(gold, pred, random_seeds=200)
    assert evaluation.accuracy == pytest.approx(0.2)
    assert evaluation.random_fill_accuracy_mean == pytest.approx(0.2 + 0.8 / 5, abs=0.01)


def test_full_coverage_needs_no_fill():
    evaluation = evaluate_stages(["MODEL", "IMPORT"], ["MODEL", "WRANGLE"])
    assert evaluation.random_fill_accuracy_mean == evaluation.accuracy == 0.5
    assert evaluation.random_fill_accuracy_std == 0


def test_predictions_are_matched_by_id_and_missing_gold_ids_reported(tmp_path):
    gold_path = tmp_path / "gold.jsonl"
    gold_path.write_text('{"id": 7, "stage": "model"}\n{"id": "nb#1", "stage": "EXPLORE"}\n{"id": 9, "stage": "IMPORT"}\n')
    gold = read_gold(gold_path)
    assert gold == {"7": "MODEL", "nb#1": "EXPLORE", "9": "IMPORT"}
    predictions = [Prediction("nb#1", "EXPLORE", {}), Prediction("7", None, {}), Prediction("x", "MODEL", {})]
    evaluation = evaluate_predictions(predictions, gold)
    assert (evaluation.n_gold, evaluation.n_evaluated, evaluation.missing_ids) == (3, 2, ["9"])
    assert evaluation.accuracy == 0.5
    text = format_evaluation(evaluation)
    assert "gold ids without a prediction: 9" in text and "coverage:            50.00%" in text
    json.dumps(evaluation.to_dict())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": 1, "stage": "PLOTTING"}\n', "gold.jsonl:1: not a gold record"),
        ('{"id": 1}\n', "gold.jsonl:1"),
        ('{"id": 1, "stage": "MODEL"}\n{"id": 1, "stage": "IMPORT"}\n', "gold.jsonl:2: cell '1' has two gold stages"),
        ("not json\n", "gold.jsonl:1"),
    ],
)
def test_bad_gold_files(tmp_path, content, message):
    path = tmp_path / "gold.jsonl"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_gold(path)


def test_no_overlap_is_an_error():
    with pytest.raises(ValueError, match="no gold cell has a prediction"):
        evaluate_predictions([Prediction("a", "MODEL", {})], {"b": "MODEL"})


def test_scores_by_what_labelled_the_cell(tmp_path):
    gold = {"a": "MODEL", "b": "EXPLORE", "c": "WRANGLE", "d": "IMPORT"}
    predictions = [
        Prediction("a", "MODEL", {}, decided_by="lfs"), Prediction("b", "WRANGLE", {}, decided_by="context"),
        Prediction("c", "WRANGLE", {}, decided_by="lfs"), Prediction("d", "IMPORT", {}, decided_by="context"),
    ]
    path = tmp_path / "p.jsonl"
    write_predictions(predictions, path)
    evaluation = evaluate_predictions(read_predictions(path), gold)
    assert list(evaluation.by_decider) == ["lfs", "context"]
    assert evaluation.by_decider["lfs"] == DeciderScores(n=2, share=0.5, accuracy=1.0)
    assert evaluation.by_decider["context"].accuracy == 0.5
    assert "context        2 cells (50.0%)  accuracy 50.00%" in format_evaluation(evaluation)
    # predictions that do not say (any plain model) get no such part
    assert evaluate_predictions([Prediction("a", "MODEL", {})], gold).by_decider == {}
    path.write_text('{"id": "a", "stage": "MODEL", "decided_by": "oracle"}\n')
    with pytest.raises(ValueError, match="p.jsonl:1: .*decided_by is 'oracle'"):
        list(read_predictions(path))
