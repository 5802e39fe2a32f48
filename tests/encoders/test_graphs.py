"""Cell graphs: tokens, vocabulary, nodes and the edges that define the attention mask."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from coral.corpora.records import ASTGraph
from coral.encoders.graphs import (
    AST_NODE,
    CLS_NODE,
    MARKDOWN_NODE,
    CellGraphDataset,
    GraphConfig,
    edge_index_for,
    encode_cell,
    pad_cells,
    to_data,
)
from coral.encoders.vocab import NUM, TokenConfig, Vocabulary, subtokens

from .cells import make_cell


def test_subtokens_split_dots_underscores_camel_case_and_numbers():
    assert subtokens("pd.read_csv") == ["pd", "read", "csv"]
    assert subtokens("RandomForestClassifier") == ["random", "forest", "classifier"]
    assert subtokens("HTTPServer2") == ["http", "server", NUM]
    assert subtokens("a_b_c_d_e", limit=3) == ["a", "b", "c"]


def _edges(data) -> set[tuple[int, int]]:
    return set(map(tuple, data.edge_index.T.tolist()))


def test_graph_nodes_and_masked_edges_follow_the_paper():
    cell = make_cell("x = f(y)", markdown="Plot it")
    vocab = Vocabulary.build([cell], TokenConfig(min_token_count=1))
    encoded = encode_cell(cell, vocab, GraphConfig())
    data = to_data(encoded, masked=True)
    n_ast, n = len(cell.graph), len(cell.graph) + 1 + 2
    assert data.num_nodes == n
    assert data.node_kind.tolist() == [CLS_NODE] + [AST_NODE] * n_ast + [MARKDOWN_NODE] * 2
    edges = _edges(data)
    assert all((i, i) in edges for i in range(n))  # self-loops
    assert all((0, i) in edges and (i, 0) in edges for i in range(1, n))  # [CLS] both ways
    for child, parent in enumerate(cell.graph.parents):
        if parent >= 0:
            assert (parent + 1, child + 1) in edges and (child + 1, parent + 1) in edges
    md = [1 + n_ast, 2 + n_ast]
    assert all((m, a) in edges and (a, m) in edges for m in md for a in range(1, 1 + n_ast))
    assert (md[0], md[1]) not in edges  # markdown words only meet through the AST and [CLS]
    # two AST siblings that are not parent/child are not linked
    tree = {(p + 1, c + 1) for c, p in enumerate(cell.graph.parents) if p >= 0}
    tree |= {(b, a) for a, b in tree}
    ast_pairs = {(a, b) for a, b in edges if 1 <= a <= n_ast and 1 <= b <= n_ast and a != b}
    assert ast_pairs == tree
    assert len(edges) == data.edge_index.shape[1]  # no duplicate edge


def test_switches_truncation_markdown_and_full_attention():
    cell = make_cell("a = b + c * d - e", markdown="some words here")
    vocab = Vocabulary.build([cell], TokenConfig(min_token_count=1))
    small = encode_cell(cell, vocab, GraphConfig(max_nodes=5, markdown=False))
    assert len(small.types) == 1 + 5 and small.n_ast == 5
    full = to_data(encode_cell(cell, vocab, GraphConfig(masked=False)), masked=False)
    assert full.edge_index.shape[1] == full.num_nodes**2


def test_unknown_tokens_map_to_unk_and_values_fill_subtoken_slots():
    train = make_cell("df.read_csv(path)")
    vocab = Vocabulary.build([train], TokenConfig(min_token_count=1))
    encoded = encode_cell(make_cell("unseen_name = 1"), vocab, GraphConfig())
    name_row = encoded.tokens[[i + 1 for i, v in enumerate(make_cell("unseen_name = 1").graph.values) if v == "unseen_name"][0]]
    assert name_row.tolist() == [1, 1, 0, 0]  # two unknown sub-tokens, then padding


def test_a_graph_not_in_preorder_is_an_error_naming_the_cell():
    cell = make_cell("x = 1")
    cell.graph = ASTGraph(types=["Module", "Expr"], values=[None, None], parents=[1, -1])
    with pytest.raises(ValueError, match="nb0#0.*preorder"):
        encode_cell(cell, Vocabulary(), GraphConfig())


def test_dataset_batches_variable_sized_graphs_with_pyg():
    cells = [make_cell("x = 1"), make_cell("import numpy as np\nnp.zeros(3).sum()", markdown="Sum")]
    vocab = Vocabulary.build(cells, TokenConfig(min_token_count=1))
    y = np.eye(5, dtype=np.float32)[[0, 2]]
    dataset = CellGraphDataset(cells, vocab, GraphConfig(), y)
    batch = Batch.from_data_list([dataset[0], dataset[1]])
    assert batch.num_graphs == 2 and batch.y.shape == (2, 5)
    sizes = [dataset[0].num_nodes, dataset[1].num_nodes]
    assert batch.ptr.tolist() == [0, sizes[0], sum(sizes)]
    # edges never cross graphs
    graph_of = batch.batch[batch.edge_index]
    assert torch.equal(graph_of[0], graph_of[1])


@pytest.mark.parametrize("masked", [True, False])
def test_padded_mask_is_the_edge_list_and_padding_sees_only_itself(masked):
    cells = [make_cell("x = f(y)", markdown="Plot it"), make_cell("import numpy as np\nnp.zeros(3).sum()"),
             make_cell("a = 1")]
    vocab = Vocabulary.build(cells, TokenConfig(min_token_count=1))
    encoded = [encode_cell(cell, vocab, GraphConfig()) for cell in cells]
    types, tokens, kinds, allowed = pad_cells(encoded, masked)
    length = max(len(e.types) for e in encoded)
    assert types.shape == kinds.shape == (3, length) and allowed.shape == (3, length, length)
    for b, cell in enumerate(encoded):
        n = len(cell.types)
        source, target = edge_index_for(cell, masked)
        expected = np.zeros((n, n), dtype=bool)
        expected[target, source] = True
        assert (allowed[b, :n, :n] == expected).all()
        assert not allowed[b, :n, n:].any() and (allowed[b, n:, n:] == np.eye(length - n, dtype=bool)).all()
        assert (types[b, :n] == cell.types).all() and (tokens[b, :n] == cell.tokens).all()
        assert (kinds[b, :n] == to_data(cell, masked).node_kind.numpy()).all()


def test_padded_batches_cover_every_cell_once_grouped_by_size():
    cells = [make_cell("x = 1" + " + 1" * (i % 7), notebook_id=f"nb{i}") for i in range(50)]
    vocab = Vocabulary.build(cells, TokenConfig(min_token_count=1))
    y = np.eye(5, dtype=np.float32)[np.arange(50) % 5]
    dataset = CellGraphDataset(cells, vocab, GraphConfig(), y, padded=True)
    sizes = np.array([len(e.types) for e in dataset.encoded])
    in_order = list(dataset.batches(8))
    seen = np.concatenate([b.cell_index.numpy() for b in in_order])
    assert sorted(seen.tolist()) == list(range(50))
    assert (np.diff(sizes[seen]) >= 0).all()  # prediction: all cells sorted by size
    for batch in in_order:
        assert batch.node_type.shape[1] == sizes[batch.cell_index.numpy()].max()
        assert torch.equal(batch.y, dataset.y[batch.cell_index])
    first = [b.cell_index.tolist() for b in dataset.batches(8, shuffle=True, generator=torch.Generator().manual_seed(1))]
    again = [b.cell_index.tolist() for b in dataset.batches(8, shuffle=True, generator=torch.Generator().manual_seed(1))]
    other = [b.cell_index.tolist() for b in dataset.batches(8, shuffle=True, generator=torch.Generator().manual_seed(2))]
    assert first == again and first != other and sorted(sum(first, [])) == list(range(50))


def test_vocabulary_round_trip(tmp_path):
    vocab = Vocabulary.build([make_cell("model.fit(X)", markdown="Train")], TokenConfig(min_token_count=1))
    vocab.save(tmp_path / "v.json")
    loaded = Vocabulary.load(tmp_path / "v.json")
    assert loaded.types == vocab.types and loaded.tokens == vocab.tokens
    assert loaded.token_ids(["fit", "train", "nope"])[:2] == vocab.token_ids(["fit", "train"]) and loaded.token_ids(["nope"]) == [1]
