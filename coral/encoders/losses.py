"""The four terms of CORAL's loss, each a small function of tensors so each can be tested alone.

L = l1 * L_weak + l2 * L_unique_stage + l3 * L_unsup + l4 * L_unique_topic

Stage logits have one column per stage plus a last *dummy* column: it stands for "no
stage the labeling functions know"; it is never a target (``L_weak`` only looks at cells
some LF covers) and ``predict_proba`` renormalises over the real stages.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from coral.encoders.base import N_STAGES


def covered_mask(y: Tensor) -> Tensor:
    """Cells some labeling function covers: their weak-label row is not all zero."""
    return y.sum(dim=1) > 0


def weak_label_loss(stage_logits: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy of p_stage against the (soft) weak label, averaged over covered cells."""
    covered = covered_mask(y)
    if not covered.any():
        return stage_logits.sum() * 0.0  # keeps the graph; nothing to learn from this batch
    target = y[covered] / y[covered].sum(dim=1, keepdim=True)
    log_p = F.log_softmax(stage_logits[covered].float(), dim=-1)[:, :N_STAGES]
    return -(target * log_p).sum(dim=1).mean()


def stage_entropy(stage_logits: Tensor) -> Tensor:
    """Mean entropy of p_stage over all cells: low when each cell commits to one stage."""
    log_p = F.log_softmax(stage_logits.float(), dim=-1)
    return -(log_p.exp() * log_p).sum(dim=1).mean()


def stage_losses(stage_logits: Tensor, y: Tensor, *, stage_entropy_weight: float,
                 weak_weight: float = 1.0) -> dict[str, Tensor]:
    """The stage head's losses, shared by every torch encoder: ``{"loss": weak_weight * L_weak +
    stage_entropy_weight * L_unique_stage, "weak": ..., "stage_entropy": ...}``."""
    parts = {"weak": weak_label_loss(stage_logits, y), "stage_entropy": stage_entropy(stage_logits)}
    return {"loss": weak_weight * parts["weak"] + stage_entropy_weight * parts["stage_entropy"], **parts}


def sample_negatives(batch_size: int, m: int, generator: torch.Generator | None = None) -> Tensor:
    """(batch_size, m) indices of *other* cells of the batch, drawn uniformly with replacement."""
    offsets = torch.randint(1, batch_size, (batch_size, m), generator=generator)
    return (torch.arange(batch_size).unsqueeze(1) + offsets) % batch_size


def reconstruction_hinge(z: Tensor, reconstruction: Tensor, negatives: Tensor) -> Tensor:
    """max(0, 1 - r.z + r.n_i) summed over negatives, averaged over cells (cosine similarities).

    As in ABAE, which CORAL's topic layer follows, vectors are L2-normalised first, so the
    margin cannot be met by scaling the topic matrix up.
    """
    if negatives.numel() == 0:
        return z.sum() * 0.0
    z, r = F.normalize(z.float(), dim=-1), F.normalize(reconstruction.float(), dim=-1)
    positive = (r * z).sum(dim=-1, keepdim=True)  # (B, 1)
    negative = torch.einsum("bd,bmd->bm", r, z[negatives.to(z.device)])  # (B, m)
    return (1.0 - positive + negative).clamp(min=0).sum(dim=1).mean()


def topic_uniqueness(topic_matrix: Tensor) -> Tensor:
    """|| R_n R_n^T - I ||_F with R's rows normalised: pushes topics apart."""
    rows = F.normalize(topic_matrix.float(), dim=1)
    identity = torch.eye(rows.shape[0], device=rows.device)
    return torch.linalg.matrix_norm(rows @ rows.T - identity)
