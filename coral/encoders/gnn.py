"""A graph neural network baseline over the same cell graphs as CORAL (GATv2 or GIN layers).

It answers "does the transformer layer and topic model matter, or just the graph?": same
inputs and node embedding, standard PyG convolutions with residual + LayerNorm, the
``[CLS]`` node's output read out to the stage logits, trained on the weak-label loss
(plus, optionally, the stage-entropy term).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn
from torch_geometric.data import Batch
from torch_geometric.nn import GATv2Conv, GINConv

from coral.encoders.base import N_STAGES
from coral.encoders.graph_encoder import GraphEncoder, NetworkConfig
from coral.encoders.layers import NodeEmbedding
from coral.encoders.losses import stage_losses
from coral.encoders.vocab import Vocabulary

CONVS = ("gatv2", "gin")


def _conv(kind: str, d_model: int, heads: int, dropout: float) -> nn.Module:
    if kind == "gatv2":
        return GATv2Conv(d_model, d_model // heads, heads=heads, dropout=dropout, add_self_loops=False)
    if kind == "gin":
        return GINConv(nn.Sequential(nn.Linear(d_model, d_model), nn.ReLU(), nn.Linear(d_model, d_model)))
    raise ValueError(f"unknown GNN layer {kind!r}; expected one of {', '.join(CONVS)}")


@dataclass(frozen=True)
class GNNConfig(NetworkConfig):
    """The GNN's layer kind and its one optional loss term."""

    conv: str = "gatv2"  # or "gin"
    stage_entropy_weight: float = 0.0


class GNNNetwork(nn.Module):
    def __init__(self, n_types: int, n_tokens: int, config: GNNConfig) -> None:
        super().__init__()
        d_model = config.d_model
        self.embed = NodeEmbedding(n_types, n_tokens, d_model)
        self.convs = nn.ModuleList(_conv(config.conv, d_model, config.heads, config.dropout) for _ in range(config.layers))
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(config.layers))
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(d_model, N_STAGES + 1)  # + the dummy stage, as CORAL

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        x = self.embed(batch.node_type, batch.node_tokens, batch.node_kind)
        for conv, norm in zip(self.convs, self.norms):
            x = norm(x + self.dropout(conv(x, batch.edge_index).relu()))
        z = x[batch.ptr[:-1]]
        return {"z": z, "stage_logits": self.head(z)}


class GNNEncoder(GraphEncoder):
    """GATv2 (default) or GIN over the CORAL cell graphs."""

    name = "gnn"
    model_config = GNNConfig
    model: GNNConfig

    def _build_network(self, vocab: Vocabulary) -> GNNNetwork:
        return GNNNetwork(len(vocab.types), len(vocab.tokens), self.model)

    def _loss(self, outputs: dict[str, Tensor], y: Tensor) -> dict[str, Tensor]:
        return stage_losses(outputs["stage_logits"], y, stage_entropy_weight=self.model.stage_entropy_weight)
