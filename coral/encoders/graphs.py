"""A code cell as a PyG graph: ``[CLS]``, its AST nodes and the markdown words above it.

Node order is ``[CLS]`` (index 0), the first ``max_nodes`` AST nodes in preorder, then one
node per markdown token. Edges (both directions) follow the CORAL paper: AST parent-child,
``[CLS]`` with every node, every markdown node with every AST node, plus self-loops
(A~ = A + I). With ``masked=False`` every node is linked to every node of its own graph,
which is plain (full) self-attention within a cell: the ablation of the graph mask.

Cells are first encoded into small integer arrays (``EncodedCell``); the edge list is
built on the fly in ``to_data`` because the markdown x AST block can be large and storing
it for a whole corpus would cost far more memory than recomputing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset
from torch_geometric.data import Data

from coral.corpora.records import ParsedCell
from coral.encoders.vocab import CLS_TYPE, MARKDOWN_TYPE, TokenConfig, Vocabulary, markdown_tokens, subtokens

# node kinds, embedded so the model can tell the three apart
CLS_NODE, AST_NODE, MARKDOWN_NODE = 0, 1, 2


@dataclass(frozen=True)
class GraphConfig(TokenConfig):
    """What goes into a cell's graph; each switch is an ablation of the paper's design."""

    markdown: bool = True  # add the markdown-above nodes
    masked: bool = True  # False: full attention among all nodes of a cell


@dataclass(frozen=True)
class EncodedCell:
    """A cell's graph as vocabulary indices, before edges are built."""

    types: np.ndarray  # (n,) type ids, [CLS] first, then AST, then markdown nodes
    tokens: np.ndarray  # (n, subtokens_per_node) sub-token ids, 0 = padding
    parents: np.ndarray  # (n_ast,) parent index among AST nodes, -1 for roots
    n_ast: int


def encode_cell(cell: ParsedCell, vocab: Vocabulary, config: GraphConfig) -> EncodedCell:
    """Map a parsed cell to vocabulary indices; a malformed AST is an error naming the cell."""
    graph = cell.graph
    n_ast = min(len(graph.types), config.max_nodes)
    parents = np.asarray(graph.parents[:n_ast], dtype=np.int64)
    if len(graph.values) < n_ast or len(parents) < n_ast:
        raise ValueError(f"cell {cell.id}: AST graph has {len(graph.types)} types but "
                         f"{len(graph.values)} values and {len(graph.parents)} parents")
    if n_ast and ((parents >= np.arange(n_ast)) | (parents < -1)).any():
        raise ValueError(f"cell {cell.id}: AST graph is not in preorder (a parent index is not before its child)")
    words = markdown_tokens(cell, config.max_markdown_tokens) if config.markdown else []
    width = config.subtokens_per_node
    types = [vocab.type_id(CLS_TYPE)] + [vocab.type_id(t) for t in graph.types[:n_ast]]
    types += [vocab.type_id(MARKDOWN_TYPE)] * len(words)
    tokens = np.zeros((len(types), width), dtype=np.int64)
    for i, value in enumerate(graph.values[:n_ast]):
        if value:
            ids = vocab.token_ids(subtokens(value, width))
            tokens[1 + i, : len(ids)] = ids
    if words:
        tokens[1 + n_ast :, 0] = vocab.token_ids(words)
    return EncodedCell(np.asarray(types, dtype=np.int64), tokens, parents, n_ast)


def edge_index_for(encoded: EncodedCell, masked: bool) -> np.ndarray:
    """(2, E) edges, source row first; every node attends over its in-edges."""
    n, n_ast = len(encoded.types), encoded.n_ast
    nodes = np.arange(n)
    if not masked:
        src, dst = np.meshgrid(nodes, nodes, indexing="ij")
        return np.stack([src.ravel(), dst.ravel()])
    children = np.flatnonzero(encoded.parents >= 0)
    tree = np.stack([encoded.parents[children] + 1, children + 1])
    others = nodes[1:]
    cls = np.stack([np.zeros_like(others), others])
    md_nodes, ast_nodes = np.arange(1 + n_ast, n), np.arange(1, 1 + n_ast)
    md, ast = np.meshgrid(md_nodes, ast_nodes, indexing="ij")
    md_ast = np.stack([md.ravel(), ast.ravel()])
    one_way = np.concatenate([tree, cls, md_ast], axis=1)
    return np.concatenate([one_way, one_way[::-1], np.stack([nodes, nodes])], axis=1)


def to_data(encoded: EncodedCell, masked: bool) -> Data:
    kinds = np.full(len(encoded.types), MARKDOWN_NODE, dtype=np.int64)
    kinds[0] = CLS_NODE
    kinds[1 : 1 + encoded.n_ast] = AST_NODE
    return Data(
        node_type=torch.from_numpy(encoded.types),
        node_tokens=torch.from_numpy(encoded.tokens),
        node_kind=torch.from_numpy(kinds),
        edge_index=torch.from_numpy(edge_index_for(encoded, masked)),
        num_nodes=len(encoded.types),
    )


class CellGraphDataset(Dataset):
    """Cells (and optionally their weak labels) as PyG graphs for a ``DataLoader``."""

    def __init__(
        self,
        cells: Sequence[ParsedCell],
        vocab: Vocabulary,
        config: GraphConfig,
        y: np.ndarray | None = None,
    ) -> None:
        self.encoded = [encode_cell(cell, vocab, config) for cell in cells]
        self.masked = config.masked
        self.y = None if y is None else torch.as_tensor(y, dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.encoded)

    def __getitem__(self, i: int) -> Data:
        data = to_data(self.encoded[i], self.masked)
        if self.y is not None:
            data.y = self.y[i].unsqueeze(0)
        return data
