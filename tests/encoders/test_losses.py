"""Each loss term on tiny inputs with values worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from coral.encoders.losses import reconstruction_hinge, sample_negatives, stage_entropy, topic_uniqueness, weak_label_loss


def test_weak_loss_is_cross_entropy_on_covered_cells_only():
    logits = torch.zeros(3, 6)  # uniform over 5 stages + dummy
    y = torch.tensor([[1.0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0.5, 0.5, 0, 0]])
    assert weak_label_loss(logits, y).item() == pytest.approx(math.log(6))
    logits[0, 0] = 100.0
    # cell 0 is now certain and right; the uncovered cell 1 is ignored whatever its logits
    logits[1] = torch.tensor([50.0, -50, 0, 0, 0, 0])
    assert weak_label_loss(logits, y).item() == pytest.approx(math.log(6) / 2, abs=1e-4)


def test_weak_loss_without_covered_cells_is_zero_and_differentiable():
    logits = torch.randn(2, 6, requires_grad=True)
    loss = weak_label_loss(logits, torch.zeros(2, 5))
    loss.backward()
    assert loss.item() == 0.0 and logits.grad is not None


def test_stage_entropy_uniform_and_certain():
    assert stage_entropy(torch.zeros(2, 6)).item() == pytest.approx(math.log(6))
    assert stage_entropy(torch.tensor([[100.0, 0, 0, 0, 0, 0]])).item() == pytest.approx(0.0, abs=1e-6)


def test_reconstruction_hinge_known_values():
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # r equal to its own z: cos = 1 with itself, 0 with the other cell -> hinge max(0, 1 - 1 + 0) = 0
    assert reconstruction_hinge(z, z.clone(), torch.tensor([[1], [0]])).item() == pytest.approx(0.0)
    # r equal to the other cell's z: max(0, 1 - 0 + 1) = 2 per negative
    swapped = z.flip(0)
    assert reconstruction_hinge(z, swapped, torch.tensor([[1, 1], [0, 0]])).item() == pytest.approx(4.0)
    # scaling r does not change the loss (cosine)
    assert reconstruction_hinge(z, 7 * swapped, torch.tensor([[1], [0]])).item() == pytest.approx(2.0)


def test_negatives_are_other_cells_of_the_batch():
    negatives = sample_negatives(4, 50, torch.Generator().manual_seed(0))
    assert negatives.shape == (4, 50)
    assert (negatives != torch.arange(4).unsqueeze(1)).all()
    assert set(negatives.flatten().tolist()) == {0, 1, 2, 3}


def test_topic_uniqueness_zero_for_orthogonal_rows_and_known_for_parallel():
    assert topic_uniqueness(torch.eye(3) * 5).item() == pytest.approx(0.0)
    # two identical rows: R_n R_n^T - I = [[0, 1], [1, 0]] -> Frobenius norm sqrt(2)
    assert topic_uniqueness(torch.tensor([[1.0, 1.0], [2.0, 2.0]])).item() == pytest.approx(math.sqrt(2))
