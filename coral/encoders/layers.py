"""The graph-masked transformer layer, in two forms that compute the same thing.

Each node attends only over its graph neighbours N(u) (the in-edges of the cell graph,
self-loops included): softmax_{v in N(u)} (q_u . k_v / sqrt(d_k)), multi-head, then
Add & LayerNorm, a ReLU feed-forward, Add & LayerNorm (post-norm, as in the paper).

``forward_padded`` (the fast path, used in training and prediction) runs it on cells padded
to a common size with a boolean B x L x L mask, through
``torch.nn.functional.scaled_dot_product_attention``. ``forward`` computes it edge by edge
as PyG message passing does (gather per edge, PyG's scatter-softmax, sum per target): one
d-vector per edge and head, several times slower on CPU at these sizes
(docs/benchmarks.md), kept as the reference that the tests compare with. torch_geometric
is imported there only, so that predicting does not pay for importing it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class GraphAttentionLayer(nn.Module):
    """One transformer encoder layer whose attention is restricted to graph edges."""

    def __init__(self, d_model: int, heads: int, d_ff: int, dropout: float = 0.1) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by heads ({heads})")
        self.heads, self.d_k = heads, d_model // heads
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)
        self.value = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)
        self.attention_dropout = nn.Dropout(dropout)
        self.dropout = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.feed_forward = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))
        self.norm2 = nn.LayerNorm(d_model)

    def _heads(self, linear: nn.Linear, x: Tensor) -> Tensor:
        return linear(x).view(-1, self.heads, self.d_k)

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """The edge-wise reference: x (nodes, d), edge_index (2, E) source row first."""
        from torch_geometric.utils import scatter, softmax

        source, target = edge_index
        q, k, v = self._heads(self.query, x)[target], self._heads(self.key, x)[source], self._heads(self.value, x)[source]
        # scores in float32 even under autocast: the scatter-softmax is sensitive to bf16/fp16
        scores = (q.float() * k.float()).sum(dim=-1) / math.sqrt(self.d_k)
        alpha = self.attention_dropout(softmax(scores, target, num_nodes=x.shape[0]))
        attended = scatter(v * alpha.unsqueeze(-1).to(v.dtype), target, dim=0, dim_size=x.shape[0], reduce="sum")
        return self._residual_blocks(x, attended.reshape(x.shape[0], -1))

    def _residual_blocks(self, x: Tensor, attended: Tensor) -> Tensor:
        x = self.norm1(x + self.dropout(self.out(attended)))
        return self.norm2(x + self.dropout(self.feed_forward(x)))

    def forward_padded(self, x: Tensor, allowed: Tensor, first_only: bool = False) -> Tensor:
        """x (B, L, d) padded cells, allowed (B, L, L) -> (B, L, d); only node 0's row, (B, 1, d),
        when ``first_only`` (the last layer, whose other rows nothing reads)."""
        bsz, _, d_model = x.shape
        queries = x[:, :1] if first_only else x

        def split(linear: nn.Linear, rows: Tensor) -> Tensor:
            return linear(rows).view(bsz, -1, self.heads, self.d_k).transpose(1, 2)  # (B, H, rows, d_k)

        mask = (allowed[:, :1] if first_only else allowed).unsqueeze(1)  # broadcast over heads
        dropout = self.attention_dropout.p if self.training else 0.0
        attended = F.scaled_dot_product_attention(split(self.query, queries), split(self.key, x), split(self.value, x),
                                                  attn_mask=mask, dropout_p=dropout)
        return self._residual_blocks(queries, attended.transpose(1, 2).reshape(bsz, -1, d_model))


class NodeEmbedding(nn.Module):
    """A node's input vector: type embedding + mean of its value's sub-token embeddings + kind.

    The kind ([CLS], AST, markdown) is embedded too, so a markdown word and an identifier
    with the same spelling share the sub-token vector yet stay distinguishable.
    """

    def __init__(self, n_types: int, n_tokens: int, d_model: int) -> None:
        super().__init__()
        self.types = nn.Embedding(n_types, d_model, padding_idx=0)
        self.tokens = nn.Embedding(n_tokens, d_model, padding_idx=0)
        self.kinds = nn.Embedding(3, d_model)

    def forward(self, node_type: Tensor, node_tokens: Tensor, node_kind: Tensor) -> Tensor:
        width = node_tokens.shape[-1]
        # one bag of sub-tokens per node, padding left out: no (nodes, width, d) tensor is built
        token_sum = F.embedding_bag(node_tokens.reshape(-1, width), self.tokens.weight, mode="sum", padding_idx=0)
        present = (node_tokens > 0).sum(dim=-1, keepdim=True).clamp(min=1)
        token_mean = token_sum.view(*node_tokens.shape[:-1], -1) / present
        return self.types(node_type) + token_mean + self.kinds(node_kind)
