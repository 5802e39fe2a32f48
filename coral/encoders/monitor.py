"""What training says while it runs: agreement with the weak labels on validation notebooks,
per stage, and a warning when the model stops predicting a stage (collapse).

No expert label is used: the validation notebooks are a share of the training corpus held out
from fitting (cells of one notebook never straddle the split), and "agreement" is the share of
their covered cells whose predicted stage is the weak label's top stage. It shows what a loss
does not: a model can lower the weak-label loss while it stops predicting MODEL at all.
Shared by every encoder (torch, gensim + scikit-learn, the context layer); no torch here.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from coral.atomic import atomic_path
from coral.corpora.records import ParsedCell
from coral.stages import STAGE_NAMES, is_covered

METRICS_FILE = "metrics.csv"
# a stage is collapsed when the model predicts it for fewer validation cells than this share
# of the cells whose weak label names it (and the weak labels name it for at least MIN_WEAK_SHARE)
COLLAPSE_RATIO = 0.2
MIN_WEAK_SHARE = 0.01
SHORT_NAMES = {name: name[:3] for name in STAGE_NAMES}

log = logging.getLogger("coral.training")


def split_by_notebook(cells: Sequence[ParsedCell], val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of train and validation cells, the validation set being ~val_fraction of notebooks."""
    notebooks = sorted({cell.notebook_id for cell in cells})
    n_val = round(len(notebooks) * val_fraction) if len(notebooks) > 1 else 0
    if val_fraction > 0 and len(notebooks) > 1:
        n_val = max(n_val, 1)
    rng = np.random.default_rng(seed)
    val_notebooks = set(rng.permutation(notebooks)[:n_val].tolist())
    in_val = np.array([cell.notebook_id in val_notebooks for cell in cells], dtype=bool)
    return np.flatnonzero(~in_val), np.flatnonzero(in_val)


def weak_agreement(proba: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Validation metrics of predicted probabilities ``proba`` against weak labels ``y`` (both (n, 5)).

    ``val_agreement``: covered cells whose predicted stage is the weak label's top stage;
    ``val_agree_<STAGE>``: the same among cells whose weak label is that stage (its recall);
    ``val_pred_<STAGE>``: share of all validation cells predicted as that stage, and
    ``val_weak_<STAGE>`` the share of covered cells whose weak label is that stage;
    ``collapsed``: the stages the model (almost) stopped predicting, space-separated.
    """
    proba, y = np.asarray(proba), np.asarray(y)
    covered = is_covered(y)
    predicted, weak = proba.argmax(axis=1), y.argmax(axis=1)
    metrics: dict[str, Any] = {"val_cells": len(y), "val_covered": int(covered.sum()),
                               "val_agreement": float((predicted == weak)[covered].mean()) if covered.any() else np.nan}
    for stage, name in enumerate(STAGE_NAMES):
        mine = covered & (weak == stage)
        metrics[f"val_agree_{name}"] = float((predicted[mine] == stage).mean()) if mine.any() else np.nan
    collapsed = []
    for stage, name in enumerate(STAGE_NAMES):
        share = float((predicted == stage).mean()) if len(predicted) else np.nan
        weak_share = float((weak[covered] == stage).mean()) if covered.any() else 0.0
        metrics[f"val_pred_{name}"], metrics[f"val_weak_{name}"] = share, weak_share
        if weak_share >= MIN_WEAK_SHARE and share < COLLAPSE_RATIO * weak_share:
            collapsed.append(name)
    metrics["collapsed"] = " ".join(collapsed)
    return metrics


def describe(metrics: dict[str, Any]) -> str:
    """The agreement part of a progress line: ``agreement 84.1% (IMP 95 WRA 80 EXP 82 MOD 70 EVA 60)``."""
    if "val_agreement" not in metrics or np.isnan(metrics["val_agreement"]):
        return "no validation notebooks"
    per_stage = " ".join(f"{SHORT_NAMES[name]} {100 * metrics[f'val_agree_{name}']:.0f}"
                         for name in STAGE_NAMES if not np.isnan(metrics[f"val_agree_{name}"]))
    return f"weak-label agreement {100 * metrics['val_agreement']:.1f}% ({per_stage})"


def warn_if_collapsed(metrics: dict[str, Any], where: str) -> None:
    """Log a warning naming each stage the model predicts for almost no validation cell."""
    for name in metrics.get("collapsed", "").split():
        log.warning("%s: collapse: the model predicts %s for %.1f%% of the validation cells, the weak labels "
                    "for %.1f%% of the covered ones (see docs/encoders.md, Training)",
                    where, name, 100 * metrics[f"val_pred_{name}"], 100 * metrics[f"val_weak_{name}"])


def write_metrics(directory: Path, history: list[dict[str, Any]]) -> None:
    """Per-epoch metrics as CSV: losses, validation loss and agreement, throughput."""
    if not history:
        return
    columns = list(dict.fromkeys(key for row in history for key in row))
    with atomic_path(directory / METRICS_FILE) as temporary, open(temporary, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(history)
