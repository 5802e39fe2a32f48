"""Training's truth while it runs: agreement with the weak labels per stage, and collapse."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from coral.encoders.monitor import describe, warn_if_collapsed, weak_agreement

WEAK = np.eye(5, dtype=np.float32)[[0, 1, 1, 2, 2, 3, 3, 4, 4, 4]]


def test_agreement_is_per_stage_recall_of_the_weak_labels_top_stage():
    y = np.vstack([WEAK, np.zeros((2, 5), dtype=np.float32)])  # two uncovered cells do not count
    proba = np.vstack([WEAK, np.eye(5)[[1, 1]]])
    proba[2] = np.eye(5)[2]  # a WRANGLE cell predicted EXPLORE
    metrics = weak_agreement(proba, y)
    assert metrics["val_agreement"] == pytest.approx(0.9) and metrics["val_covered"] == 10
    assert metrics["val_agree_WRANGLE"] == pytest.approx(0.5) and metrics["val_agree_EVALUATE"] == 1.0
    assert metrics["val_pred_WRANGLE"] == pytest.approx(3 / 12) and metrics["val_weak_WRANGLE"] == pytest.approx(0.2)
    assert metrics["collapsed"] == ""
    assert describe(metrics).startswith("weak-label agreement 90.0% (IMP 100 WRA 50 EXP 100")


def test_a_stage_the_model_stops_predicting_is_reported_and_warned(caplog):
    proba = WEAK.copy()
    proba[[5, 6]] = np.eye(5)[1]  # no MODEL prediction left
    metrics = weak_agreement(proba, WEAK)
    assert metrics["collapsed"] == "MODEL" and metrics["val_agree_MODEL"] == 0.0
    with caplog.at_level(logging.WARNING, logger="coral.training"):
        warn_if_collapsed(metrics, "epoch 3")
    assert "epoch 3: collapse: the model predicts MODEL for 0.0% of the validation cells" in caplog.text
