"""Combining LF votes into stage probabilities: the paper's priority order, majority vote and
Snorkel's LabelModel. Every method returns an all-zero row where no LF fires (abstain)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

import numpy as np
import torch
from snorkel.labeling.model import LabelModel, MajorityLabelVoter

from coral.artifacts import load_arrays, save_arrays

from coral.stages import ABSTAIN, N_STAGES, Stage

AggregationMethod = Literal["priority", "majority", "labelmodel"]
AGGREGATION_METHODS: tuple[str, ...] = get_args(AggregationMethod)

# The paper resolves conflicts by this order: the first stage any LF votes for wins.
PRIORITY: tuple[Stage, ...] = (Stage.IMPORT, Stage.MODEL, Stage.EVALUATE, Stage.EXPLORE, Stage.WRANGLE)

# LabelModel training settings: enough epochs for five classes and a few dozen LFs to
# converge; a fixed seed so that labels are reproducible.
LABEL_MODEL_ARRAYS = ("mu", "p", "cardinality", "m")  # what save_label_model writes
LABEL_MODEL_DEFAULTS: dict[str, object] = {"n_epochs": 500, "lr": 0.01, "log_freq": 100, "seed": 0}


def aggregate(L: np.ndarray, method: AggregationMethod, *, label_model: LabelModel | None = None) -> np.ndarray:
    """Turn an (n, m) label matrix into (n, 5) stage probabilities; abstain rows are all zero.

    ``labelmodel`` uses ``label_model`` when given (fitted elsewhere, e.g. on a large
    unlabeled corpus) and otherwise fits one on ``L`` itself.
    """
    L = _check_label_matrix(L)
    n_classes = N_STAGES
    if method == "priority":
        proba = _priority_proba(L)
    elif method == "majority":
        proba = MajorityLabelVoter(cardinality=n_classes).predict_proba(L) if L.size else _zeros(L)
    elif method == "labelmodel":
        if label_model is None:
            label_model = fit_label_model(L)
        if label_model.m != L.shape[1]:
            raise ValueError(f"the label model was fitted on {label_model.m} LFs, the label matrix has {L.shape[1]}")
        proba = label_model.predict_proba(L) if L.size else _zeros(L)
    else:
        raise ValueError(f"unknown aggregation {method!r}; expected one of {', '.join(AGGREGATION_METHODS)}")
    proba = np.asarray(proba, dtype=np.float64)
    proba[~covered_rows(L)] = 0.0
    return proba


def covered_rows(L: np.ndarray) -> np.ndarray:
    """Rows where at least one LF voted."""
    return (L != ABSTAIN).any(axis=1)


def fit_label_model(L: np.ndarray, **train_config: object) -> LabelModel:
    """Fit Snorkel's LabelModel (five classes) on a label matrix; no gold labels are used."""
    L = _check_label_matrix(L)
    if not covered_rows(L).any():
        raise ValueError("cannot fit a label model: no labeling function fires on any cell")
    model = LabelModel(cardinality=N_STAGES, verbose=False)
    model.fit(L, progress_bar=False, **{**LABEL_MODEL_DEFAULTS, **train_config})
    return model


def save_label_model(model: LabelModel, path: Path) -> None:
    """Write a fitted LabelModel's parameters (``mu``, the class balance ``p``) as arrays, not Snorkel's pickle."""
    save_arrays(path, {"mu": model.mu.detach().cpu().numpy(), "p": model.p, "cardinality": model.cardinality,
                       "m": model.m})


def load_label_model(path: Path) -> LabelModel:
    """Rebuild the LabelModel ``save_label_model`` wrote: what ``predict_proba`` reads, and nothing runs."""
    arrays = load_arrays(path, required=LABEL_MODEL_ARRAYS)
    try:
        mu, p, cardinality, m = (arrays[key] for key in LABEL_MODEL_ARRAYS)
        if mu.ndim != 2 or mu.shape != (int(m) * int(cardinality), int(cardinality)) or p.shape != (int(cardinality),):
            raise ValueError(f"mu has shape {mu.shape} and p {p.shape} for {int(m)} LFs and {int(cardinality)} classes")
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not a saved label model ({exc})") from None
    model = LabelModel(cardinality=int(cardinality), verbose=False)
    model.m = int(m)
    model._create_tree()  # the clique tree of independent LFs, as fit builds it
    model.p = p.astype(np.float64)
    model.P = torch.diag(torch.from_numpy(model.p)).float()
    model.mu = torch.nn.Parameter(torch.from_numpy(mu.copy()))
    return model


def _priority_proba(L: np.ndarray) -> np.ndarray:
    proba = _zeros(L)
    order = np.array(PRIORITY)
    voted = np.stack([(L == stage).any(axis=1) for stage in order], axis=1)  # (n, 5) in priority order
    rows = np.flatnonzero(voted.any(axis=1))
    proba[rows, order[voted[rows].argmax(axis=1)]] = 1.0
    return proba


def _zeros(L: np.ndarray) -> np.ndarray:
    return np.zeros((L.shape[0], N_STAGES))


def _check_label_matrix(L: np.ndarray) -> np.ndarray:
    L = np.asarray(L)
    if L.ndim != 2 or not np.issubdtype(L.dtype, np.integer):
        raise ValueError(f"a label matrix is a 2-d integer array, got shape {L.shape} and dtype {L.dtype}")
    if L.size and (L.min() < ABSTAIN or L.max() >= N_STAGES):
        raise ValueError(f"label matrix values must lie in -1..{N_STAGES - 1}")
    return L
