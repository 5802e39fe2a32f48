"""CORAL: a graph-masked transformer over the cell's AST and markdown, with a topic layer.

z = the ``[CLS]`` output of N graph-attention layers; p_topic = softmax(W_topic z + b) over
K topics; p_stage = softmax(W_stage p_topic + b_stage) over the five stages plus a dummy
one. Trained with L = l1 L_weak + l2 L_unique_stage + l3 L_unsup + l4 L_unique_topic (see
``coral.encoders.losses``). Every part of the design can be switched off for ablations:
``markdown``, ``masked`` (graph mask vs full attention), ``topic_losses``, ``max_nodes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from coral.encoders.base import N_STAGES
from coral.encoders.graph_encoder import GraphEncoder, NetworkConfig
from coral.encoders.graphs import PaddedCells
from coral.encoders.layers import GraphAttentionLayer, NodeEmbedding
from coral.encoders.losses import (
    reconstruction_hinge,
    sample_negatives,
    stage_losses,
    topic_uniqueness,
)
from coral.encoders.vocab import Vocabulary

if TYPE_CHECKING:
    from torch_geometric.data import Batch

STAGE_INIT_STD = 3.0


@dataclass(frozen=True)
class CoralConfig(NetworkConfig):
    """CORAL's network beyond the shared size (feed-forward, topic layer) and its loss weights."""

    d_ff: int = 512
    n_topics: int = 50  # K
    topic_losses: bool = True  # False: drop L_unsup and L_unique_topic (the topic layer stays)
    negatives: int = 5  # other cells of the batch per cell in L_unsup
    weak_weight: float = 1.0
    stage_entropy_weight: float = 0.3
    reconstruction_weight: float = 0.1
    topic_unique_weight: float = 0.1


class CoralNetwork(nn.Module):
    """The network of ``CoralEncoder``; ``forward`` returns z, p_topic and the stage logits."""

    def __init__(self, n_types: int, n_tokens: int, config: CoralConfig) -> None:
        super().__init__()
        d_model, n_topics = config.d_model, config.n_topics
        self.embed = NodeEmbedding(n_types, n_tokens, d_model)
        self.layers = nn.ModuleList(GraphAttentionLayer(d_model, config.heads, config.d_ff, config.dropout)
                                    for _ in range(config.layers))
        self.topic = nn.Linear(d_model, n_topics)
        self.stage = nn.Linear(n_topics, N_STAGES + 1)  # + the dummy stage
        self.topic_matrix = nn.Parameter(torch.empty(n_topics, d_model))  # R: one row per topic
        nn.init.xavier_uniform_(self.topic_matrix)
        # p_topic lies on the simplex, so |stage logits| <= max |W_stage|: the default small init
        # leaves every cell with near-equal logits and the weak-label gradient all but vanishes.
        nn.init.normal_(self.stage.weight, std=STAGE_INIT_STD)

    def encode(self, batch: PaddedCells | Batch) -> Tensor:
        """z: the [CLS] node's output (the first node of each graph); padded cells take the
        dense path, a PyG batch the edge-wise reference."""
        x = self.embed(batch.node_type, batch.node_tokens, batch.node_kind)
        if isinstance(batch, PaddedCells):
            last = len(self.layers) - 1
            for i, layer in enumerate(self.layers):
                x = layer.forward_padded(x, batch.allowed, first_only=i == last)
            return x[:, 0]
        for layer in self.layers:
            x = layer(x, batch.edge_index)
        return x[batch.ptr[:-1]]

    def forward(self, batch: PaddedCells | Batch) -> dict[str, Tensor]:
        z = self.encode(batch)
        p_topic = self.topic(z).float().softmax(dim=-1)
        return {"z": z, "p_topic": p_topic, "stage_logits": self.stage(p_topic)}


class CoralEncoder(GraphEncoder):
    """The CORAL paper's encoder.

    The architecture defaults follow the paper (N=4, d=256, 4 heads, K=50, M=160); the loss
    weights, lr schedule and markdown cap are the measured recipe of docs/encoders.md (the
    paper's loss weights, 0.1 / 0.3 / 1.0 / 1.0, leave the weak loss at chance level).
    """

    name = "coral"
    model_config = CoralConfig
    padded_batches = True
    model: CoralConfig

    def _build_network(self, vocab: Vocabulary) -> CoralNetwork:
        return CoralNetwork(len(vocab.types), len(vocab.tokens), self.model)

    def _loss(self, outputs: dict[str, Tensor], y: Tensor) -> dict[str, Tensor]:
        weights = self.model
        parts = stage_losses(outputs["stage_logits"], y, stage_entropy_weight=weights.stage_entropy_weight,
                             weak_weight=weights.weak_weight)
        total = parts.pop("loss")
        if weights.topic_losses:
            z, p_topic = outputs["z"], outputs["p_topic"]
            topic_matrix = self.network_.topic_matrix
            negatives = sample_negatives(len(z), weights.negatives) if len(z) > 1 else torch.empty(0, dtype=torch.long)
            parts["reconstruction"] = reconstruction_hinge(z, p_topic @ topic_matrix.float(), negatives)
            parts["topic_unique"] = topic_uniqueness(topic_matrix)
            total = (total + weights.reconstruction_weight * parts["reconstruction"]
                     + weights.topic_unique_weight * parts["topic_unique"])
        return {"loss": total, **parts}
