"""Scoring stage predictions against gold labels (scikit-learn metrics), including the CORAL
paper's protocol for heuristics that abstain: fill each abstain with a uniformly random stage
and average the accuracy over many seeds.

``evaluate_stages`` scores aligned label lists (for any model); ``evaluate_predictions``
matches a predictions file to a gold file by cell id and reports gold ids it could not find.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from coral.jsonl import read_records
from coral.predictions import DECIDERS, Prediction
from coral.stages import STAGE_NAMES, stage_from_name

ABSTAIN_NAME = "ABSTAIN"  # the confusion matrix's extra predicted column
DEFAULT_RANDOM_SEEDS = 100


@dataclass(slots=True)
class StageScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(slots=True)
class DeciderScores:
    """Accuracy on the gold cells one part of a model labelled (``Prediction.decided_by``)."""

    n: int
    share: float  # of the evaluated cells
    accuracy: float


@dataclass(slots=True)
class Evaluation:
    """Scores over the gold cells found in the predictions; abstains count as wrong."""

    n_gold: int
    n_evaluated: int
    coverage: float  # share of evaluated cells with a predicted stage
    accuracy: float
    accuracy_on_covered: float | None  # None when nothing is covered
    macro_f1: float
    per_stage: dict[str, StageScores]
    confusion: list[list[int]]  # rows: gold STAGE_NAMES; columns: STAGE_NAMES + ABSTAIN
    random_fill_accuracy_mean: float
    random_fill_accuracy_std: float
    random_fill_macro_f1_mean: float
    random_fill_seeds: int
    missing_ids: list[str] = field(default_factory=list)  # gold ids without a prediction
    # by what labelled the cell (LFs, encoder, notebook context), when the predictions say
    by_decider: dict[str, DeciderScores] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {**asdict(self), "confusion_labels": {"rows": list(STAGE_NAMES), "columns": [*STAGE_NAMES, ABSTAIN_NAME]}}


def _gold_pair(record: dict) -> tuple[str, str]:
    return str(record["id"]), stage_from_name(str(record["stage"])).name


def read_gold(path: str | Path) -> dict[str, str]:
    """Read ``{"id", "stage"}`` JSON Lines into id -> stage name; errors name the file and line."""
    gold: dict[str, str] = {}
    for lineno, (cell_id, stage) in read_records(path, _gold_pair, 'a gold record {"id", "stage"}'):
        if cell_id in gold and gold[cell_id] != stage:
            raise ValueError(f"{path}:{lineno}: cell {cell_id!r} has two gold stages")
        gold[cell_id] = stage
    return gold


def gold_ids(gold_files: Iterable[str | Path]) -> tuple[set[str], set[str]]:
    """The cell ids of gold files, and the notebooks they name: an id ``<notebook>#<index>``
    names its notebook; any other id (CORAL's numbers) names only its cell. Training keeps
    both out; ``--only-gold`` reads only them."""
    cells, notebooks = set(), set()
    for path in gold_files:
        for cell_id in read_gold(path):
            cells.add(cell_id)
            if "#" in cell_id:
                notebooks.add(cell_id.rsplit("#", 1)[0])
    return cells, notebooks


def evaluate_stages(
    gold: Sequence[str], predicted: Sequence[str | None], *, random_seeds: int = DEFAULT_RANDOM_SEEDS
) -> Evaluation:
    """Score predicted stage names (None = abstain) against gold stage names, aligned."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    if not gold:
        raise ValueError("nothing to evaluate: no gold cell has a prediction")
    y_true = np.array(gold, dtype=object)
    y_pred = np.array([ABSTAIN_NAME if stage is None else stage for stage in predicted], dtype=object)
    covered = y_pred != ABSTAIN_NAME
    labels = list(STAGE_NAMES)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    fill_accuracy, fill_f1 = _random_fill_scores(y_true, y_pred, covered, random_seeds)
    return Evaluation(
        n_gold=len(gold),
        n_evaluated=len(gold),
        coverage=float(covered.mean()),
        accuracy=float(accuracy_score(y_true, y_pred)),
        accuracy_on_covered=float(accuracy_score(y_true[covered], y_pred[covered])) if covered.any() else None,
        macro_f1=float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        per_stage={
            name: StageScores(float(p), float(r), float(f), int(s))
            for name, p, r, f, s in zip(labels, precision, recall, f1, support)
        },
        confusion=confusion_matrix(y_true, y_pred, labels=[*labels, ABSTAIN_NAME])[: len(labels)].tolist(),
        random_fill_accuracy_mean=float(np.mean(fill_accuracy)),
        random_fill_accuracy_std=float(np.std(fill_accuracy)),
        random_fill_macro_f1_mean=float(np.mean(fill_f1)),
        random_fill_seeds=random_seeds,
    )


def _random_fill_scores(
    y_true: np.ndarray, y_pred: np.ndarray, covered: np.ndarray, seeds: int
) -> tuple[list[float], list[float]]:
    """The paper's protocol: each abstain becomes a uniformly random stage (one draw per seed)."""
    if covered.all() or seeds < 1:
        accuracy = float(accuracy_score(y_true, y_pred))
        return [accuracy], [float(f1_score(y_true, y_pred, labels=list(STAGE_NAMES), average="macro", zero_division=0))]
    accuracies, f1s = [], []
    stage_names = np.array(STAGE_NAMES, dtype=object)
    for seed in range(seeds):
        filled = y_pred.copy()
        filled[~covered] = np.random.default_rng(seed).choice(stage_names, size=int((~covered).sum()))
        accuracies.append(float(accuracy_score(y_true, filled)))
        f1s.append(float(f1_score(y_true, filled, labels=list(STAGE_NAMES), average="macro", zero_division=0)))
    return accuracies, f1s


def evaluate_predictions(
    predictions: Iterable[Prediction], gold: Mapping[str, str], *, random_seeds: int = DEFAULT_RANDOM_SEEDS
) -> Evaluation:
    """Match predictions to gold by cell id and score them; unmatched gold ids are listed."""
    predicted = {prediction.id: prediction for prediction in predictions}
    found = [cell_id for cell_id in gold if cell_id in predicted]
    evaluation = evaluate_stages(
        [gold[cell_id] for cell_id in found], [predicted[cell_id].stage for cell_id in found], random_seeds=random_seeds
    )
    evaluation.n_gold = len(gold)
    evaluation.missing_ids = [cell_id for cell_id in gold if cell_id not in predicted]
    evaluation.by_decider = _scores_by_decider([predicted[cell_id] for cell_id in found], gold)
    return evaluation


def _scores_by_decider(found: Sequence[Prediction], gold: Mapping[str, str]) -> dict[str, DeciderScores]:
    parts: dict[str, list[bool]] = {}
    for prediction in found:
        if prediction.decided_by is not None:
            parts.setdefault(prediction.decided_by, []).append(prediction.stage == gold[prediction.id])
    return {
        decider: DeciderScores(len(right), len(right) / len(found), float(np.mean(right)))
        for decider, right in sorted(parts.items(), key=lambda part: DECIDERS.index(part[0]))
    }


def format_evaluation(evaluation: Evaluation) -> str:
    """A plain-text report for the terminal."""
    lines = [
        f"gold cells: {evaluation.n_gold}, with a prediction: {evaluation.n_evaluated}"
        + (f", missing: {len(evaluation.missing_ids)}" if evaluation.missing_ids else ""),
        f"coverage:            {evaluation.coverage:.2%}",
        f"accuracy:            {evaluation.accuracy:.2%}  (abstain counts as wrong)",
        "accuracy on covered: "
        + ("n/a" if evaluation.accuracy_on_covered is None else f"{evaluation.accuracy_on_covered:.2%}"),
        f"macro-F1:            {evaluation.macro_f1:.3f}",
        f"random fill ({evaluation.random_fill_seeds} seeds): accuracy {evaluation.random_fill_accuracy_mean:.2%}"
        f" ± {evaluation.random_fill_accuracy_std:.2%}, macro-F1 {evaluation.random_fill_macro_f1_mean:.3f}",
        "",
        f"{'stage':<10}{'precision':>10}{'recall':>8}{'F1':>7}{'support':>9}",
    ]
    for name, scores in evaluation.per_stage.items():
        lines.append(f"{name:<10}{scores.precision:>10.3f}{scores.recall:>8.3f}{scores.f1:>7.3f}{scores.support:>9}")
    columns = [*STAGE_NAMES, ABSTAIN_NAME]
    lines += ["", "confusion (rows: gold, columns: predicted)", " " * 10 + "".join(f"{name[:8]:>9}" for name in columns)]
    for name, row in zip(STAGE_NAMES, evaluation.confusion):
        lines.append(f"{name:<10}" + "".join(f"{count:>9}" for count in row))
    if evaluation.by_decider:
        lines += ["", "by what labelled the cell"]
        for decider, part in evaluation.by_decider.items():
            lines.append(f"{decider:<10}{part.n:>6} cells ({part.share:.1%})  accuracy {part.accuracy:.2%}")
    if evaluation.missing_ids:
        shown = ", ".join(evaluation.missing_ids[:10])
        more = f" ... (+{len(evaluation.missing_ids) - 10})" if len(evaluation.missing_ids) > 10 else ""
        lines += ["", f"gold ids without a prediction: {shown}{more}"]
    return "\n".join(lines)
