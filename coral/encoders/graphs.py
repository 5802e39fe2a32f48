"""A code cell as a PyG graph: ``[CLS]``, its AST nodes and the markdown words above it.

Node order is ``[CLS]`` (index 0), the first ``max_nodes`` AST nodes in preorder, then one
node per markdown token. Edges (both directions) follow the CORAL paper: AST parent-child,
``[CLS]`` with every node, every markdown node with every AST node, plus self-loops
(A~ = A + I). With ``masked=False`` every node is linked to every node of its own graph,
which is plain (full) self-attention within a cell: the ablation of the graph mask.

Cells are first encoded into small integer arrays (``EncodedCell``); the attention mask is
built per batch because the markdown x AST block can be large and storing it for a whole
corpus would cost far more memory than recomputing it. A batch comes in one of two forms:

- ``PaddedCells`` (CORAL's transformer): cells of similar size padded to the largest of the
  batch, with a boolean ``allowed[b, target, source]`` mask. Dense masked attention over
  these is the fast path on CPU and GPU: a cell has at most ``1 + max_nodes +
  max_markdown_tokens`` nodes, and batches are cut from cells sorted by size, so little is
  padding.
- a PyG ``Batch`` with an explicit edge list (the GNN baseline's convolutions, and the
  reference edge-wise attention the tests compare the fast path with). torch_geometric is
  imported only where these are built.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from coral.corpora.records import ParsedCell
from coral.encoders.vocab import CLS_TYPE, MARKDOWN_TYPE, TokenConfig, Vocabulary, markdown_tokens

if TYPE_CHECKING:
    from torch_geometric.data import Batch, Data

# node kinds, embedded so the model can tell the three apart
CLS_NODE, AST_NODE, MARKDOWN_NODE = 0, 1, 2
# training batches of padded cells are cut from windows of this many batches' worth of
# shuffled cells, sorted by size: batches stay random, padding stays small
SIZE_SORT_WINDOW = 32


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
    type_id, value_row = vocab.type_id, vocab.value_row
    types = [type_id(CLS_TYPE)] + [type_id(t) for t in graph.types[:n_ast]] + [type_id(MARKDOWN_TYPE)] * len(words)
    empty = (0,) * width
    rows = [empty] + [value_row(value, width) if value else empty for value in graph.values[:n_ast]]
    rows += [(word_id,) + empty[1:] for word_id in vocab.token_ids(words)]
    return EncodedCell(np.array(types, dtype=np.int64), np.array(rows, dtype=np.int64).reshape(len(rows), width),
                       parents, n_ast)


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


def node_kinds(encoded: EncodedCell) -> np.ndarray:
    kinds = np.full(len(encoded.types), MARKDOWN_NODE, dtype=np.int64)
    kinds[0] = CLS_NODE
    kinds[1 : 1 + encoded.n_ast] = AST_NODE
    return kinds


def to_data(encoded: EncodedCell, masked: bool) -> Data:
    from torch_geometric.data import Data

    return Data(
        node_type=torch.from_numpy(encoded.types),
        node_tokens=torch.from_numpy(encoded.tokens),
        node_kind=torch.from_numpy(node_kinds(encoded)),
        edge_index=torch.from_numpy(edge_index_for(encoded, masked)),
        num_nodes=len(encoded.types),
    )


@dataclass
class PaddedCells:
    """A batch of cells padded to its largest: the input of the dense masked attention.

    ``allowed[b, i, j]``: node i of cell b attends to node j (the edges of ``edge_index_for``,
    self-loops included). Padding positions attend to themselves only, so no softmax row is
    empty; no real node attends to padding. ``cell_index`` says which dataset cells these are.
    """

    node_type: Tensor  # (B, L)
    node_tokens: Tensor  # (B, L, subtokens_per_node)
    node_kind: Tensor  # (B, L)
    allowed: Tensor  # (B, L, L) bool
    cell_index: Tensor  # (B,)
    y: Tensor | None = None  # (B, 5) weak labels, in training

    @property
    def num_graphs(self) -> int:
        return len(self.cell_index)

    def to(self, device: torch.device | str) -> PaddedCells:
        return PaddedCells(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name).to(device)
                              for f in fields(self)})


def pad_cells(cells: Sequence[EncodedCell], masked: bool) -> tuple[np.ndarray, ...]:
    """Types, tokens, kinds (B, L[, S]) and the (B, L, L) attention mask of cells padded to the largest."""
    length = max(len(cell.types) for cell in cells)
    width = cells[0].tokens.shape[1]
    types = np.zeros((len(cells), length), dtype=np.int64)
    tokens = np.zeros((len(cells), length, width), dtype=np.int64)
    kinds = np.full((len(cells), length), MARKDOWN_NODE, dtype=np.int64)
    allowed = np.zeros((len(cells), length, length), dtype=bool)
    allowed[:, np.arange(length), np.arange(length)] = True  # self-loops, and padding sees itself
    for b, cell in enumerate(cells):
        n, a = len(cell.types), cell.n_ast
        types[b, :n] = cell.types
        tokens[b, :n] = cell.tokens
        kinds[b, 0], kinds[b, 1 : 1 + a] = CLS_NODE, AST_NODE
        mask = allowed[b]
        if not masked:
            mask[:n, :n] = True
            continue
        mask[0, :n] = mask[:n, 0] = True
        children = np.flatnonzero(cell.parents >= 0)
        parents = cell.parents[children] + 1
        mask[parents, children + 1] = mask[children + 1, parents] = True
        mask[1 + a : n, 1 : 1 + a] = mask[1 : 1 + a, 1 + a : n] = True
    return types, tokens, kinds, allowed


def size_sorted_chunks(order: np.ndarray, sizes: np.ndarray, batch_size: int, *, shuffle: bool,
                       generator: torch.Generator | None = None) -> list[np.ndarray]:
    """Batches of indices (``order``, already shuffled or not) that group items of similar ``sizes``,
    so that padding to a batch's largest item wastes little: without ``shuffle`` all items sorted by
    size, with it each window of ``SIZE_SORT_WINDOW`` batches, the batches then shuffled again."""
    window = batch_size * SIZE_SORT_WINDOW if shuffle else max(len(order), 1)
    chunks = []
    for start in range(0, len(order), window):
        part = order[start : start + window]
        part = part[np.argsort(sizes[part], kind="stable")]
        chunks += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    if shuffle:
        chunks = [chunks[i] for i in torch.randperm(len(chunks), generator=generator).tolist()]
    return chunks


class CellGraphDataset(Dataset):
    """Cells (and optionally their weak labels) as graphs, batched by ``batches``.

    ``padded``: batches are ``PaddedCells`` for dense masked attention; otherwise PyG
    ``Batch``es with edge lists.
    """

    def __init__(
        self,
        cells: Sequence[ParsedCell],
        vocab: Vocabulary,
        config: GraphConfig,
        y: np.ndarray | None = None,
        *,
        padded: bool = False,
    ) -> None:
        self.encoded = [encode_cell(cell, vocab, config) for cell in cells]
        self.notebook_ids = [cell.notebook_id for cell in cells]  # distributed training deals whole notebooks
        self.masked = config.masked
        self.padded = padded
        self.y = None if y is None else torch.as_tensor(y, dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.encoded)

    def __getitem__(self, i: int) -> Data:
        data = to_data(self.encoded[i], self.masked)
        if self.y is not None:
            data.y = self.y[i].unsqueeze(0)
        return data

    def batches(self, batch_size: int, *, shuffle: bool = False,
                generator: torch.Generator | None = None) -> Iterator[PaddedCells | Batch]:
        """Batches of ``batch_size`` cells, each with ``cell_index``; in dataset order unless
        ``shuffle`` (then drawn from ``generator``). Padded batches group cells of similar size:
        without ``shuffle`` all cells sorted by size, with it each window of
        ``SIZE_SORT_WINDOW`` batches of shuffled cells, the batches then shuffled again."""
        n = len(self)
        order = torch.randperm(n, generator=generator).numpy() if shuffle else np.arange(n)
        if not self.padded:
            for start in range(0, n, batch_size):
                yield self.batch_of(order[start : start + batch_size])
            return
        sizes = np.array([len(cell.types) for cell in self.encoded])
        for chunk in size_sorted_chunks(order, sizes, batch_size, shuffle=shuffle, generator=generator):
            yield self.padded_batch(chunk)

    def batch_of(self, index: np.ndarray) -> PaddedCells | Batch:
        """The cells at ``index`` as one batch, in the form the network reads."""
        if self.padded:
            return self.padded_batch(index)
        from torch_geometric.data import Batch

        batch = Batch.from_data_list([self[i] for i in index])
        batch.cell_index = torch.from_numpy(np.asarray(index))
        return batch

    def padded_batch(self, index: np.ndarray) -> PaddedCells:
        types, tokens, kinds, allowed = pad_cells([self.encoded[i] for i in index], self.masked)
        return PaddedCells(torch.from_numpy(types), torch.from_numpy(tokens), torch.from_numpy(kinds),
                           torch.from_numpy(allowed), torch.from_numpy(np.asarray(index)),
                           None if self.y is None else self.y[index])
