"""The graph-masked attention layer: a node sees only its neighbours; sparse == dense reference."""

from __future__ import annotations

import torch

from coral.encoders.layers import GraphAttentionLayer


def _line_graph(n: int) -> torch.Tensor:
    """0-1-2-...-(n-1), both directions, plus self-loops."""
    src = torch.arange(n - 1)
    edges = torch.cat([torch.stack([src, src + 1]), torch.stack([src + 1, src]), torch.arange(n).repeat(2, 1)], dim=1)
    return edges


def test_output_shape_and_a_non_neighbour_cannot_change_a_node():
    torch.manual_seed(0)
    layer = GraphAttentionLayer(d_model=16, heads=4, d_ff=32, dropout=0.0).eval()
    x = torch.randn(6, 16)
    edges = _line_graph(6)
    out = layer(x, edges)
    assert out.shape == (6, 16)
    perturbed = x.clone()
    perturbed[5] += 10 * torch.randn(16)  # node 5 neighbours only node 4
    out2 = layer(perturbed, edges)
    assert torch.allclose(out[:4], out2[:4], atol=1e-6)  # nodes 0..3 do not see node 5
    assert not torch.allclose(out[4], out2[4])  # its neighbour does


def test_full_attention_does_see_every_node():
    torch.manual_seed(0)
    layer = GraphAttentionLayer(d_model=16, heads=2, d_ff=32, dropout=0.0).eval()
    x = torch.randn(4, 16)
    full = torch.cartesian_prod(torch.arange(4), torch.arange(4)).T
    perturbed = x.clone()
    perturbed[3] += 5.0
    assert not torch.allclose(layer(x, full)[0], layer(perturbed, full)[0])


def test_sparse_layer_matches_dense_masked_reference():
    torch.manual_seed(1)
    layer = GraphAttentionLayer(d_model=32, heads=4, d_ff=64, dropout=0.0).eval()
    # two graphs of 5 and 3 nodes in one batch
    edges = torch.cat([_line_graph(5), _line_graph(3) + 5, torch.tensor([[0, 4], [4, 0]])], dim=1)
    batch = torch.tensor([0] * 5 + [1] * 3)
    x = torch.randn(8, 32)
    assert torch.allclose(layer(x, edges), layer.dense_forward(x, edges, batch), atol=1e-5)
