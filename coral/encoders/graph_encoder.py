"""What the torch encoders (CORAL's transformer, the GNN baseline) share around their network.

A subclass says how to build its network from the vocabulary and how to compute its
loss; this class does the rest: vocabulary, graphs, notebook-level validation split,
training with checkpoints, batched prediction, save and load.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from coral.atomic import atomic_path, write_text
from coral.corpora.records import ParsedCell
from coral.encoders.base import ENCODER_FILE, N_STAGES, Encoder, check_weak_labels
from coral.encoders.distributed import is_main
from coral.encoders.graphs import CellGraphDataset, GraphConfig
from coral.encoders.monitor import split_by_notebook, write_metrics
from coral.encoders.params import ParamGroup
from coral.encoders.training import TrainingConfig, TrainState, load_tensor_file, predict_outputs, train_network
from coral.encoders.vocab import Vocabulary

VOCAB_FILE = "vocab.json"
WEIGHTS_FILE = "weights.pt"
TRAINING_FILE = "training.json"


@dataclass(frozen=True)
class NetworkConfig(ParamGroup):
    """The size of a graph encoder's network; subclasses add their own layers and losses."""

    d_model: int = 256
    heads: int = 4
    layers: int = 4
    dropout: float = 0.1


class GraphEncoder(Encoder):
    """Base of the encoders that read cells as PyG graphs.

    Parameters: ``graph`` (what goes into a cell's graph, and the vocabulary), ``model`` (the
    network and its losses; None: the subclass's ``model_config()``), ``training`` and ``seed``.
    """

    model_config: ClassVar[type[NetworkConfig]]
    padded_batches: ClassVar[bool] = False  # the network reads ``PaddedCells``, not PyG batches

    def __init__(
        self,
        *,
        graph: GraphConfig = GraphConfig(),
        model: NetworkConfig | None = None,
        training: TrainingConfig = TrainingConfig(),
        seed: int = 0,
    ) -> None:
        self.graph = graph
        self.model = self.model_config() if model is None else model
        self.training = training
        self.seed = seed

    @abstractmethod
    def _build_network(self, vocab: Vocabulary) -> nn.Module:
        """A module mapping a PyG batch to ``{"stage_logits": (B, 6), ...}``."""

    @abstractmethod
    def _loss(self, outputs: dict[str, Tensor], y: Tensor) -> dict[str, Tensor]:
        """``{"loss": total, <part>: value, ...}`` for one training batch."""

    def fit(
        self,
        cells: Sequence[ParsedCell],
        y: np.ndarray,
        *,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
        progress: bool = False,
    ) -> GraphEncoder:
        """Train on weak labels; checkpoint to ``checkpoint_dir`` every epoch, or continue it with ``resume``."""
        y = check_weak_labels(cells, y)
        torch.manual_seed(self.seed)
        checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        train_idx, val_idx = split_by_notebook(cells, self.training.val_fraction, self.seed)
        train_cells = [cells[i] for i in train_idx]
        if resume and checkpoint_dir and (checkpoint_dir / VOCAB_FILE).is_file():
            self.vocab_ = Vocabulary.load(checkpoint_dir / VOCAB_FILE)
        else:
            self.vocab_ = Vocabulary.build(train_cells, self.graph)
        if checkpoint_dir and is_main():  # built alike on every rank from the same cells; rank 0 writes it
            checkpoint_dir.mkdir(parents=True, exist_ok=True)
            self.vocab_.save(checkpoint_dir / VOCAB_FILE)
        train_set = self._dataset(train_cells, y[train_idx])
        val_set = self._dataset([cells[i] for i in val_idx], y[val_idx])
        self.network_ = self._build_network(self.vocab_)
        state: TrainState = train_network(self.network_, self._loss, train_set, val_set, self.training, seed=self.seed,
                                          device=self.device, checkpoint_dir=checkpoint_dir, resume=resume,
                                          progress=progress)
        self.network_.cpu()
        self.history_ = state.history
        self.training_ = {"train_cells": len(train_idx), "val_cells": len(val_idx),
                          "train_covered": int((y[train_idx].sum(1) > 0).sum()),
                          "val_covered": int((y[val_idx].sum(1) > 0).sum()),
                          "best_epoch": state.best_epoch, "best_val_weak_loss": state.best_val_loss,
                          "epochs_run": state.epoch, "steps": state.step}
        return self

    def predict_proba(self, cells: Sequence[ParsedCell], *, progress: bool = False) -> np.ndarray:
        """Stage probabilities over the five stages (the dummy stage's mass is renormalised away)."""
        if not hasattr(self, "network_"):
            raise RuntimeError(f"this {self.name} encoder is not fitted: call fit or load it")
        if not cells:
            return np.zeros((0, N_STAGES), dtype=np.float32)
        dataset = self._dataset(cells)
        logits = torch.from_numpy(predict_outputs(self.network_, dataset, self.training.batch_size, self.device, progress))
        return logits[:, :N_STAGES].softmax(dim=1).numpy()

    def _dataset(self, cells: Sequence[ParsedCell], y: np.ndarray | None = None) -> CellGraphDataset:
        return CellGraphDataset(cells, self.vocab_, self.graph, y, padded=self.padded_batches)

    def _save_state(self, directory: Path) -> None:
        self.vocab_.save(directory / VOCAB_FILE)
        with atomic_path(directory / WEIGHTS_FILE) as temporary:
            torch.save(self.network_.state_dict(), temporary)  # tensors only: loads with weights_only=True
        write_text(directory / TRAINING_FILE, json.dumps(getattr(self, "training_", {}), indent=2) + "\n")
        write_metrics(directory, getattr(self, "history_", []))

    def _load_state(self, directory: Path) -> None:
        self.vocab_ = Vocabulary.load(directory / VOCAB_FILE)
        self.network_ = self._build_network(self.vocab_)
        try:
            self.network_.load_state_dict(load_tensor_file(directory / WEIGHTS_FILE))
        except RuntimeError as exc:  # names or shapes that do not match encoder.json
            raise ValueError(f"{directory / WEIGHTS_FILE}: does not fit {directory / ENCODER_FILE} "
                             f"({str(exc).splitlines()[0]})") from None
        self.network_.eval()
