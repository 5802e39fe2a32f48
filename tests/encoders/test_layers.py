"""The graph-masked attention layer: a node sees only its neighbours; the padded fast path
computes what the edge-wise reference computes, layer by layer and for the whole network."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch
from torch_geometric.utils import to_dense_batch

from coral.encoders.coral import CoralConfig, CoralNetwork
from coral.encoders.graphs import EncodedCell, PaddedCells, pad_cells, to_data
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


def _random_cell(rng: np.random.Generator, markdown: bool) -> EncodedCell:
    """A random preorder tree of 1-40 AST nodes (each parent before its child) and 0-6 markdown nodes."""
    n_ast = int(rng.integers(1, 41))
    parents = np.array([-1] + [int(rng.integers(0, i)) for i in range(1, n_ast)], dtype=np.int64)
    n = 1 + n_ast + (int(rng.integers(0, 7)) if markdown else 0)
    return EncodedCell(types=rng.integers(1, 30, n), tokens=rng.integers(0, 50, (n, 4)) * (rng.random((n, 4)) < 0.6),
                       parents=parents, n_ast=n_ast)


def _both_batches(cells: list[EncodedCell], masked: bool) -> tuple[PaddedCells, Batch]:
    types, tokens, kinds, allowed = (torch.from_numpy(a) for a in pad_cells(cells, masked))
    padded = PaddedCells(types, tokens, kinds, allowed, torch.arange(len(cells)))
    return padded, Batch.from_data_list([to_data(cell, masked) for cell in cells])


@pytest.mark.parametrize("masked", [True, False])
def test_padded_layer_matches_the_edge_wise_reference_on_random_graphs(masked):
    rng = np.random.default_rng(3)
    torch.manual_seed(3)
    layer = GraphAttentionLayer(d_model=32, heads=4, d_ff=64, dropout=0.0).eval()
    cells = [_random_cell(rng, markdown=True) for _ in range(7)]
    padded, reference = _both_batches(cells, masked)
    x = torch.randn(reference.num_nodes, 32)
    dense_x, real = to_dense_batch(x, reference.batch)
    expected = layer(x, reference.edge_index)
    assert torch.allclose(layer.forward_padded(dense_x, padded.allowed)[real], expected, atol=1e-5)
    first = layer.forward_padded(dense_x, padded.allowed, first_only=True)
    assert first.shape == (7, 1, 32)
    assert torch.allclose(first[:, 0], expected[reference.ptr[:-1]], atol=1e-5)


@pytest.mark.parametrize("markdown", [True, False])
def test_coral_network_padded_path_equals_pyg_path(markdown):
    rng = np.random.default_rng(5)
    torch.manual_seed(5)
    network = CoralNetwork(n_types=30, n_tokens=50, config=CoralConfig(d_model=32, d_ff=64, n_topics=8)).eval()
    cells = [_random_cell(rng, markdown) for _ in range(12)]
    padded, reference = _both_batches(cells, masked=True)
    with torch.inference_mode():
        fast, slow = network(padded), network(reference)
    for key in ("z", "p_topic", "stage_logits"):
        assert torch.allclose(fast[key], slow[key], atol=1e-5), key
