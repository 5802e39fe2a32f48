"""Many stage models on gold sets in one table: scores with notebook-bootstrap intervals and a
paired test of each model against a reference model, Holm-corrected.

Scores. Accuracy, macro-F1 and per-stage F1 come from scikit-learn (``evaluate_stages``);
a model that abstains is scored with the CORAL paper's protocol: every abstain becomes a
uniformly random stage and the scores are averaged over the fill seeds.

Intervals. Cells of one notebook are not independent (one author, one dataset), so the 95%
intervals are a *cluster* bootstrap: notebooks are resampled with replacement, each
bringing all its gold cells, and the 2.5th/97.5th percentiles of the resampled scores are
the interval. The unit is the predictions' ``notebook_id`` (``<notebook>`` of a
``<notebook>#<index>`` id); for CORAL's cells (ids without ``#``) it is the converted notebook
the cell came from (``coral:<file stem>``, from the record's ``file``), or the cell itself
when the record has no ``file``. Each resample scores the summed per-notebook confusion
matrices (scikit-learn's ``confusion_matrix``) in which an abstain counts 1/5 towards each
stage: the random fill taken in expectation, so the interval needs no second loop of fills.

Paired test. Each model against the reference on per-cell correctness (an abstain is
correct with probability 1/5): the Wilcoxon signed-rank test over notebooks of the
per-notebook accuracy differences (``scipy.stats.wilcoxon``). Wilcoxon rather than McNemar
because McNemar treats cells as independent, which cells of one notebook are not (its
p-values would be too small), and because a notebook's accuracy takes the fractional
correctness of a random fill where McNemar needs 0/1 outcomes. The p-values of the models of
one gold set are Holm-corrected together (``statsmodels.stats.multitest.multipletests``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon
from sklearn.metrics import confusion_matrix
from statsmodels.stats.multitest import multipletests

from coral.jobs.evaluate import ABSTAIN_NAME, DEFAULT_RANDOM_SEEDS, evaluate_stages
from coral.predictions import Prediction
from coral.stages import N_STAGES, STAGE_NAMES

DEFAULT_BOOTSTRAP = 1000
CONFIDENCE = 0.95
ALPHA = 0.05
SCORES = ("accuracy", "macro_f1", *(f"f1_{stage}" for stage in STAGE_NAMES))


@dataclass(slots=True)
class Aligned:
    """One model's predictions on the gold cells it has, in gold order."""

    ids: list[str]
    units: np.ndarray  # the bootstrap unit (notebook) of each cell
    y_true: np.ndarray
    y_pred: np.ndarray  # stage names, ABSTAIN_NAME where the model abstains
    n_missing: int  # gold cells without a prediction


def align(predictions: Sequence[Prediction], gold: Mapping[str, str]) -> Aligned:
    """Match predictions to gold cells by id."""
    by_id = {prediction.id: prediction for prediction in predictions}
    ids = [cell_id for cell_id in gold if cell_id in by_id]
    units = [by_id[cell_id].notebook_id or cell_id.rsplit("#", 1)[0] for cell_id in ids]
    stages = [by_id[cell_id].stage or ABSTAIN_NAME for cell_id in ids]
    return Aligned(ids, np.array(units, dtype=object), np.array([gold[i] for i in ids], dtype=object),
                   np.array(stages, dtype=object), len(gold) - len(ids))


def expected_correct(aligned: Aligned) -> np.ndarray:
    """Per-cell correctness, an abstain counting as a random fill's expected 1/5."""
    return np.where(aligned.y_pred == ABSTAIN_NAME, 1 / N_STAGES, (aligned.y_pred == aligned.y_true).astype(float))


def _unit_confusions(aligned: Aligned) -> tuple[np.ndarray, np.ndarray]:
    """(unit names, (U, 5, 5) confusion matrices per unit with abstains spread over the stages)."""
    labels = [*STAGE_NAMES, ABSTAIN_NAME]
    names, inverse = np.unique(aligned.units.astype(str), return_inverse=True)
    matrices = np.zeros((len(names), N_STAGES, N_STAGES))
    for unit in range(len(names)):
        mask = inverse == unit
        full = confusion_matrix(aligned.y_true[mask], aligned.y_pred[mask], labels=labels)[:N_STAGES].astype(float)
        matrices[unit] = full[:, :N_STAGES] + full[:, N_STAGES:] / N_STAGES
    return names, matrices


def _scores_from_confusions(confusions: np.ndarray) -> np.ndarray:
    """(B, 5, 5) confusion matrices -> (B, len(SCORES)): accuracy, macro-F1, F1 per stage."""
    true_positive = np.diagonal(confusions, axis1=1, axis2=2)
    denominator = confusions.sum(axis=2) + confusions.sum(axis=1)
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros_like(true_positive), where=denominator > 0)
    accuracy = true_positive.sum(axis=1) / np.maximum(confusions.sum(axis=(1, 2)), 1e-12)
    return np.column_stack([accuracy, f1.mean(axis=1), f1])


def bootstrap_intervals(aligned: Aligned, n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> dict[str, tuple[float, float]]:
    """95% percentile intervals of SCORES, resampling notebooks with replacement."""
    _, matrices = _unit_confusions(aligned)
    weights = np.random.default_rng(seed).multinomial(len(matrices), np.full(len(matrices), 1 / len(matrices)), size=n_boot)
    scores = _scores_from_confusions(np.einsum("bu,uij->bij", weights, matrices))
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(scores, [tail, 100 - tail], axis=0)
    return {name: (float(lo), float(hi)) for name, lo, hi in zip(SCORES, low, high)}


def paired_wilcoxon(model: Aligned, reference: Aligned) -> tuple[float, float, int]:
    """(mean per-notebook accuracy difference, two-sided p, notebooks) on the cells both predicted.

    Notebooks where the two models tie carry no signal and are dropped (Wilcoxon's method);
    p is 1 when every notebook ties.
    """
    shared = sorted(set(model.ids) & set(reference.ids))
    if not shared:
        return float("nan"), float("nan"), 0
    frame = pd.DataFrame({
        "unit": pd.Series(model.units, index=model.ids)[shared].astype(str).to_numpy(),
        "diff": pd.Series(expected_correct(model), index=model.ids)[shared].to_numpy()
        - pd.Series(expected_correct(reference), index=reference.ids)[shared].to_numpy(),
    })
    per_unit = frame.groupby("unit")["diff"].mean().to_numpy()
    if not np.any(np.abs(per_unit) > 1e-12):
        return 0.0, 1.0, len(per_unit)
    result = wilcoxon(per_unit, zero_method="wilcox")
    return float(per_unit.mean()), float(result.pvalue), len(per_unit)


def compare_models(
    predictions: Mapping[str, Sequence[Prediction]],
    golds: Mapping[str, Mapping[str, str]],
    *,
    reference: str | None = None,
    n_boot: int = DEFAULT_BOOTSTRAP,
    random_seeds: int = DEFAULT_RANDOM_SEEDS,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per (gold set, model) with a prediction on its cells: n, coverage, SCORES with
    ``_lo``/``_hi`` interval bounds, and the paired test against ``reference`` (default: the
    first model): ``delta_accuracy``, ``p_value``, ``p_holm``, ``significant`` (Holm p < 0.05)."""
    if not predictions:
        raise ValueError("no predictions to compare")
    reference = reference or next(iter(predictions))
    if reference not in predictions:
        raise ValueError(f"reference model {reference!r} is not one of {', '.join(predictions)}")
    rows = []
    for gold_name, gold in golds.items():
        aligned = {name: align(preds, gold) for name, preds in predictions.items()}
        gold_rows = []
        for name, model in aligned.items():
            if not model.ids:
                continue
            evaluation = evaluate_stages(list(model.y_true), [None if s == ABSTAIN_NAME else s for s in model.y_pred],
                                         random_seeds=random_seeds)
            filled = evaluation.coverage < 1
            row: dict[str, object] = {
                "gold": gold_name, "model": name, "n": len(model.ids), "missing": model.n_missing,
                "notebooks": len(set(model.units)), "coverage": evaluation.coverage,
                "accuracy": evaluation.random_fill_accuracy_mean if filled else evaluation.accuracy,
                "macro_f1": evaluation.random_fill_macro_f1_mean if filled else evaluation.macro_f1,
            }
            row.update({f"f1_{stage}": scores.f1 for stage, scores in evaluation.per_stage.items()})
            if filled:  # per-stage F1 under the random fill, in expectation
                expected = _scores_from_confusions(_unit_confusions(model)[1].sum(axis=0, keepdims=True))[0]
                row.update({name_: float(value) for name_, value in zip(SCORES[2:], expected[2:])})
            for score, (low, high) in bootstrap_intervals(model, n_boot, seed).items():
                row[f"{score}_lo"], row[f"{score}_hi"] = low, high
            if name != reference and reference in aligned and aligned[reference].ids:
                row["delta_accuracy"], row["p_value"], row["paired_notebooks"] = paired_wilcoxon(model, aligned[reference])
            gold_rows.append(row)
        tested = [row for row in gold_rows if not np.isnan(row.get("p_value", np.nan))]
        if tested:
            _, corrected, _, _ = multipletests([row["p_value"] for row in tested], alpha=ALPHA, method="holm")
            for row, p_holm in zip(tested, corrected):
                row["p_holm"] = float(p_holm)
                row["significant"] = bool(p_holm < ALPHA)
        rows += gold_rows
    if not rows:
        raise ValueError("no model has a prediction for any gold cell: are these the right files?")
    columns = ["gold", "model", "n", "missing", "notebooks", "coverage"]
    columns += [f"{score}{suffix}" for score in SCORES for suffix in ("", "_lo", "_hi")]
    columns += ["delta_accuracy", "p_value", "p_holm", "significant", "paired_notebooks"]
    return pd.DataFrame(rows).reindex(columns=columns)


def display_table(table: pd.DataFrame, reference: str | None = None) -> pd.DataFrame:
    """The table as a reader sees it: accuracy in %, each score with its interval, the test."""
    def with_interval(row: pd.Series, score: str, scale: float, digits: int) -> str:
        return (f"{row[score] * scale:.{digits}f} [{row[f'{score}_lo'] * scale:.{digits}f}, "
                f"{row[f'{score}_hi'] * scale:.{digits}f}]")

    out = pd.DataFrame({"gold": table["gold"], "model": table["model"], "n": table["n"],
                        "coverage %": (100 * table["coverage"]).round(1)})
    out["accuracy % [95% CI]"] = [with_interval(row, "accuracy", 100, 1) for _, row in table.iterrows()]
    out["macro-F1 [95% CI]"] = [with_interval(row, "macro_f1", 1, 3) for _, row in table.iterrows()]
    for stage in STAGE_NAMES:
        out[f"F1 {stage}"] = [with_interval(row, f"f1_{stage}", 1, 2) for _, row in table.iterrows()]
    reference_label = f" vs {reference}" if reference else ""
    out[f"Δ acc. %{reference_label}"] = [f"{100 * d:+.1f}" if pd.notna(d) else "" for d in table["delta_accuracy"]]
    out["p (Holm)"] = [_p_text(row["p_holm"], row["significant"]) for _, row in table.iterrows()]
    return out


def _p_text(p: float, significant: object) -> str:
    if p is None or pd.isna(p):
        return ""
    text = f"{p:.1e}" if p < 0.001 else f"{p:.3f}"
    return text + (" *" if significant is True else "")


TABLE_FORMATS = ("text", "json", "csv", "md", "latex")


def render(table: pd.DataFrame, format: str, reference: str | None = None) -> str:
    """The comparison as text (aligned columns), JSON records, CSV (every number), Markdown or
    booktabs LaTeX (scores with intervals)."""
    from coral.studies.output import latex_table, markdown_table

    if format == "json":
        return table.to_json(orient="records", indent=2) + "\n"
    if format == "csv":
        return table.to_csv(index=False)
    shown = display_table(table, reference)
    if format == "md":
        return markdown_table(shown, digits=1)
    if format == "latex":
        return latex_table(shown, digits=1)
    if format == "text":
        return shown.to_string(index=False) + "\n"
    raise ValueError(f"unknown table format {format!r}; choose one of {', '.join(TABLE_FORMATS)}")


def model_names(paths: Sequence[str]) -> list[str]:
    """Short, distinct names for prediction files: the file stem, or parent/stem where stems repeat."""
    from pathlib import PurePath

    stems = [PurePath(path).name.removesuffix(".gz").removesuffix(".jsonl") for path in paths]
    names = [f"{PurePath(path).parent.name}/{stem}" if stems.count(stem) > 1 else stem for path, stem in zip(paths, stems)]
    if len(set(names)) < len(names):
        names = [str(path) for path in paths]
    return names
