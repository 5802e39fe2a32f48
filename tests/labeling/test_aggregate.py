"""Priority order, majority vote and the LabelModel: shapes, abstains, and known answers."""

from __future__ import annotations

import numpy as np
import pytest

from coral.labeling.aggregate import PRIORITY, aggregate, fit_label_model
from coral.stages import Stage

I, W, E, M, V, A = 0, 1, 2, 3, 4, -1  # IMPORT, WRANGLE, EXPLORE, MODEL, EVALUATE, abstain


def test_priority_order_is_the_papers():
    assert PRIORITY == (Stage.IMPORT, Stage.MODEL, Stage.EVALUATE, Stage.EXPLORE, Stage.WRANGLE)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ([W, E, A], E),  # EXPLORE beats WRANGLE
        ([V, M, E], M),
        ([V, E, W], V),
        ([W, W, I], I),  # IMPORT beats a majority
        ([A, A, W], W),
    ],
)
def test_priority_picks_the_highest_stage_voted(row, expected):
    proba = aggregate(np.array([row]), "priority")
    assert proba.tolist() == [np.eye(5)[expected].tolist()]


def test_majority_vote_and_ties():
    L = np.array([[W, W, E], [W, E, A], [A, A, M]])
    proba = aggregate(L, "majority")
    np.testing.assert_allclose(proba[0], np.eye(5)[W])
    np.testing.assert_allclose(proba[1], [0, 0.5, 0.5, 0, 0])
    np.testing.assert_allclose(proba[2], np.eye(5)[M])


@pytest.mark.parametrize("method", ["priority", "majority", "labelmodel"])
def test_abstain_rows_are_all_zero_and_others_sum_to_one(method):
    rng = np.random.default_rng(0)
    L = rng.choice([-1, -1, -1, 0, 1, 2, 3, 4], size=(300, 6))
    L[:20] = -1
    proba = aggregate(L, method)
    assert proba.shape == (300, 5)
    assert not proba[:20].any()
    covered = (L != -1).any(axis=1)
    np.testing.assert_allclose(proba[covered].sum(axis=1), 1.0, atol=1e-6)
    assert not proba[~covered].any()


def test_label_model_learns_to_trust_the_accurate_lfs():
    """Three LFs: two accurate, one that is right only 30% of the time. Where the accurate
    LFs disagree with the noisy one, the LabelModel must side with the accurate ones even
    though majority vote would tie when one accurate LF abstains."""
    rng = np.random.default_rng(1)
    n = 3000
    y = rng.integers(0, 5, size=n)

    def noisy(accuracy, coverage):
        votes = np.where(rng.random(n) < accuracy, y, (y + rng.integers(1, 5, size=n)) % 5)
        return np.where(rng.random(n) < coverage, votes, -1)

    L = np.stack([noisy(0.95, 0.7), noisy(0.95, 0.7), noisy(0.9, 0.6), noisy(0.3, 0.9)], axis=1)
    model = fit_label_model(L)
    lm_pred = aggregate(L, "labelmodel", label_model=model).argmax(axis=1)
    mv_pred = aggregate(L, "majority").argmax(axis=1)
    covered = (L != -1).any(axis=1)
    lm_acc = (lm_pred[covered] == y[covered]).mean()
    mv_acc = (mv_pred[covered] == y[covered]).mean()
    assert lm_acc > mv_acc + 0.03


def test_label_model_must_match_the_lfs():
    model = fit_label_model(np.array([[0, 1, 1], [1, 1, -1], [2, -1, 2]]))
    with pytest.raises(ValueError, match="fitted on 3 LFs, the label matrix has 4"):
        aggregate(np.array([[0, 1, 1, 1]]), "labelmodel", label_model=model)


def test_unknown_method_and_bad_matrices():
    with pytest.raises(ValueError, match="priority, majority, labelmodel"):
        aggregate(np.array([[0]]), "vote")
    with pytest.raises(ValueError, match="values must lie in -1..4"):
        aggregate(np.array([[5]]), "priority")
    with pytest.raises(ValueError, match="2-d integer array"):
        aggregate(np.array([0.5]), "priority")


def test_empty_matrix():
    for method in ("priority", "majority"):
        assert aggregate(np.zeros((0, 3), dtype=int), method).shape == (0, 5)
