"""Notebook context: a bidirectional GRU over the cells of a notebook, in order, on top of a
frozen cell-only encoder.

A cell's stage depends on its neighbours and its section: a short ``df.head()`` after a
model is fitted is evaluation, the same line after ``read_csv`` is a first look. The cell-only
encoder (``base``) reads each cell once; its representation of every cell of a notebook (for a
graph encoder: the ``[CLS]`` vector z and the stage log-probabilities, for the bag-of-tokens
baselines: the log-probabilities) and the cell's relative position go, in notebook order,
through a BiGRU whose output, beside the cell's own features, gives the stage. It is trained on
the weak labels with whole notebooks in a batch, the base frozen, by the same loop, validation
and early stopping as the torch encoders (``coral.encoders.training``).

Cells are regrouped by ``notebook_id`` and ordered by ``index``, so ``predict_proba`` needs a
notebook's cells in one call (``coral predict`` never splits a notebook across calls).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data
from torch_geometric.loader import DataLoader
from torch_geometric.utils import to_dense_batch

from coral.atomic import atomic_path, write_text
from coral.corpora.records import ParsedCell
from coral.encoders.base import N_STAGES, Encoder, check_weak_labels, is_encoder_dir, load_encoder, make_encoder
from coral.encoders.graph_encoder import GraphEncoder
from coral.encoders.losses import weak_label_loss
from coral.encoders.monitor import split_by_notebook, write_metrics
from coral.encoders.params import ParamGroup
from coral.encoders.training import (
    TrainingConfig, TrainState, load_tensor_file, predict_outputs, resolve_device, train_network,
)

BASE_DIR = "base"
WEIGHTS_FILE = "context.pt"
CONTEXT_FILE = "context.json"


@dataclass(frozen=True)
class ContextConfig(ParamGroup):
    """The sequence layer over a notebook's cells."""

    hidden: int = 64  # GRU units per direction
    layers: int = 1
    dropout: float = 0.1  # on the cell features going in
    cell_vectors: bool = True  # a graph base's z beside its stage log-probabilities (False: log-probabilities only)


@dataclass(frozen=True)
class ContextTrainingConfig(TrainingConfig):
    """Training of the sequence layer: a batch is ``batch_size`` notebooks; a small layer takes a higher lr."""

    batch_size: int = 16
    lr: float = 3e-3


class ContextNetwork(nn.Module):
    """Cell features of whole notebooks (a PyG batch of notebooks) -> per-cell stage logits."""

    def __init__(self, n_features: int, config: ContextConfig) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(n_features)
        self.dropout = nn.Dropout(config.dropout)
        self.gru = nn.GRU(n_features, config.hidden, num_layers=config.layers, batch_first=True, bidirectional=True,
                          dropout=config.dropout if config.layers > 1 else 0.0)
        # the cell's own features beside its context: the layer can fall back on the cell-only reading
        self.stage = nn.Linear(2 * config.hidden + n_features, N_STAGES + 1)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        x = self.dropout(self.norm(batch.x))
        dense, mask = to_dense_batch(x, batch.batch)  # (notebooks, longest, features), cells in order
        lengths = mask.sum(dim=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(dense, lengths, batch_first=True, enforce_sorted=False)
        context, _ = self.gru(packed)
        context, _ = nn.utils.rnn.pad_packed_sequence(context, batch_first=True, total_length=dense.shape[1])
        return {"stage_logits": self.stage(torch.cat([context[mask], x], dim=1))}


def notebook_order(cells: Sequence[ParsedCell]) -> list[np.ndarray]:
    """Indices into ``cells`` per notebook, in notebook order (by ``index``), notebooks as first seen."""
    groups: dict[str, list[int]] = {}
    for i, cell in enumerate(cells):
        groups.setdefault(cell.notebook_id, []).append(i)
    return [np.array(sorted(members, key=lambda i: cells[i].index)) for members in groups.values()]


class NotebookGraphs:
    """Notebooks (a ``Data`` each: its cells' features in order, their weak labels) batched
    whole, as the shared training loop asks a dataset for its batches."""

    def __init__(self, notebooks: list[Data]) -> None:
        self.notebooks = notebooks
        self.notebook_ids = range(len(notebooks))  # an item is a whole notebook

    def __len__(self) -> int:
        return len(self.notebooks)

    def batches(self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None):
        n = len(self.notebooks)
        order = torch.randperm(n, generator=generator).tolist() if shuffle else range(n)
        order = list(order)
        for start in range(0, n, batch_size):
            yield self.batch_of(order[start:start + batch_size])

    def batch_of(self, index) -> Batch:
        return Batch.from_data_list([self.notebooks[i] for i in index])


def z_and_log_p(outputs: dict[str, Tensor]) -> Tensor:
    """A graph base's features of a cell: its [CLS] vector z and its stage log-probabilities."""
    log_p = outputs["stage_logits"][:, :N_STAGES].float().log_softmax(dim=1)
    return torch.cat([outputs["z"].float(), log_p], dim=1)


class ContextEncoder(Encoder):
    """A cell-only encoder (``base``) read in notebook context by a BiGRU.

    Parameters: ``base`` (an encoder name, trained first on the same cells with ``seed`` and
    ``base_params``, its defaults where they are not given, or the directory of a trained encoder,
    used as it is), ``context`` (the sequence layer), ``training`` (its training; a batch is
    ``batch_size`` notebooks) and ``seed``.
    """

    name = "context"
    reads_notebooks = True

    def __init__(self, *, base: str = "coral", base_params: dict[str, Any] | None = None,
                 context: ContextConfig = ContextConfig(), training: TrainingConfig = ContextTrainingConfig(),
                 seed: int = 0) -> None:
        self.base = base
        self.base_params = base_params
        self.context = context
        self.training = training
        self.seed = seed

    def fit(
        self,
        cells: Sequence[ParsedCell],
        y: np.ndarray,
        *,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
        progress: bool = False,
    ) -> ContextEncoder:
        """Train (or load) the base, then the sequence layer on its frozen features of whole notebooks."""
        y = check_weak_labels(cells, y)
        checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        if is_encoder_dir(self.base):
            if self.base_params:
                raise ValueError(f"base_params are for a base trained here; {self.base} is trained already")
            self.base_ = load_encoder(self.base, device=self.device)
        else:
            self.base_ = make_encoder(self.base, device=self.device, seed=self.seed, **(self.base_params or {}))
            self.base_.fit(cells, y, checkpoint_dir=checkpoint_dir / BASE_DIR if checkpoint_dir else None,
                           resume=resume, progress=progress)
        torch.manual_seed(self.seed)
        features = self._cell_features(cells)
        self.n_features_ = features.shape[1]
        train_idx, val_idx = split_by_notebook(cells, self.training.val_fraction, self.seed)
        in_val = np.zeros(len(cells), dtype=bool)
        in_val[val_idx] = True
        train_set, val_set = [], []
        for order in notebook_order(cells):
            notebook = Data(x=torch.from_numpy(features[order]), y=torch.from_numpy(y[order]))
            (val_set if in_val[order[0]] else train_set).append(notebook)
        self.network_ = ContextNetwork(self.n_features_, self.context)
        state: TrainState = train_network(self.network_, self._loss, NotebookGraphs(train_set), NotebookGraphs(val_set), self.training, seed=self.seed,
                                          device=self.device, checkpoint_dir=checkpoint_dir, resume=resume,
                                          progress=progress)
        self.network_.cpu().eval()
        self.history_ = state.history
        self.training_ = {"train_cells": len(train_idx), "val_cells": len(val_idx), "train_notebooks": len(train_set),
                          "val_notebooks": len(val_set), "best_epoch": state.best_epoch,
                          "best_val_weak_loss": state.best_val_loss, "epochs_run": state.epoch, "steps": state.step}
        return self

    @staticmethod
    def _loss(outputs: dict[str, Tensor], y: Tensor) -> dict[str, Tensor]:
        loss = weak_label_loss(outputs["stage_logits"], y)
        return {"loss": loss, "weak": loss}

    @torch.no_grad()
    def _cell_features(self, cells: Sequence[ParsedCell]) -> np.ndarray:
        """Per cell: the base's representation (z and stage log-probabilities, or the latter only)
        and the cell's relative position in its notebook."""
        base = self.base_
        position = np.array([[cell.position] for cell in cells], dtype=np.float32)
        if not (isinstance(base, GraphEncoder) and self.context.cell_vectors):
            return np.hstack([np.log(base.predict_proba(cells) + 1e-6), position]).astype(np.float32)
        features = predict_outputs(base.network_, base._dataset(cells), base.training.batch_size, self.device,
                                   select=z_and_log_p)
        base.network_.cpu()
        return np.hstack([features, position]).astype(np.float32)

    @torch.no_grad()
    def predict_proba(self, cells: Sequence[ParsedCell]) -> np.ndarray:
        """Stage probabilities, each notebook's cells read in order (give a notebook's cells in one call)."""
        if not hasattr(self, "network_"):
            raise RuntimeError("this context encoder is not fitted: call fit or load it")
        if not cells:
            return np.zeros((0, N_STAGES), dtype=np.float32)
        features = self._cell_features(cells)
        device = resolve_device(self.device)
        network = self.network_.to(device).eval()
        orders = notebook_order(cells)
        notebooks = [Data(x=torch.from_numpy(features[order])) for order in orders]
        proba = np.zeros((len(cells), N_STAGES), dtype=np.float32)
        start = 0
        flat_order = np.concatenate(orders)
        for batch in DataLoader(notebooks, batch_size=self.training.batch_size, shuffle=False):
            logits = network(batch.to(device))["stage_logits"][:, :N_STAGES].float()
            rows = flat_order[start:start + len(logits)]
            proba[rows] = logits.softmax(dim=1).cpu().numpy()
            start += len(logits)
        self.network_.cpu()
        return proba

    def _save_state(self, directory: Path) -> None:
        self.base_.save(directory / BASE_DIR)
        with atomic_path(directory / WEIGHTS_FILE) as temporary:
            torch.save(self.network_.state_dict(), temporary)  # tensors only: loads with weights_only=True
        meta = {"n_features": self.n_features_, **getattr(self, "training_", {})}
        write_text(directory / CONTEXT_FILE, json.dumps(meta, indent=2) + "\n")
        write_metrics(directory, getattr(self, "history_", []))

    def _load_state(self, directory: Path) -> None:
        self.base_ = load_encoder(directory / BASE_DIR, device=self.device)
        self.n_features_ = int(json.loads((directory / CONTEXT_FILE).read_text())["n_features"])
        self.network_ = ContextNetwork(self.n_features_, self.context)
        self.network_.load_state_dict(load_tensor_file(directory / WEIGHTS_FILE))
        self.network_.eval()
