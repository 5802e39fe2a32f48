"""The one interface every encoder implements, and the registry that names them.

An encoder maps parsed code cells to stage probabilities. It is trained on *weak* labels:
``y`` is an (n, 5) matrix of soft labels from a label model, with an all-zero row for a
cell no labeling function covers. Encoders follow scikit-learn habits: hyper-parameters
are ``__init__`` arguments stored as given (no work there), ``fit`` learns, and
``get_params`` (from ``BaseEstimator``) is what ``save`` writes next to the weights.
Hyper-parameters come in groups (``coral.encoders.params``), nested the scikit-learn way
(``graph__max_nodes``). Where a model computes (``device``) is a runtime choice, not a
hyper-parameter: it is not saved, and is given to ``make_encoder`` / ``load_encoder``.
"""

from __future__ import annotations

import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from coral.atomic import write_text
from coral.corpora.records import ParsedCell
from coral.encoders.params import ParamGroup, params_as_json, split_params
from coral.stages import N_STAGES, STAGE_NAMES

ENCODER_FILE = "encoder.json"
# names in earlier encoder.json files: renamed since, or None for a runtime setting now
LEGACY_PARAMS: dict[str, str | None] = {"device": None, "min_count": "min_token_count"}

# name -> "module:Class"; resolved lazily so that `coral --help` does not import torch/gensim.
ENCODERS: dict[str, str] = {
    "coral": "coral.encoders.coral:CoralEncoder",
    "gnn": "coral.encoders.gnn:GNNEncoder",
    "lda": "coral.encoders.bow:LDAEncoder",
    "word2vec": "coral.encoders.bow:Word2VecEncoder",
    "bert": "coral.encoders.bert:BertEncoder",
    "context": "coral.encoders.context:ContextEncoder",
    "ensemble": "coral.encoders.ensemble:EnsembleEncoder",
}


class Encoder(BaseEstimator, ABC):
    """Cells in, (n, 5) stage probabilities out; trained from weak labels."""

    name: str = ""
    device: str = "auto"  # runtime: where torch encoders compute (auto: CUDA when available); not saved
    reads_notebooks: bool = False  # a cell's prediction depends on the other cells of its notebook

    def set_params(self, **params: Any) -> Encoder:
        """Set parameters by name, ``group__name``, ``group={name: value}``, or a bare name that
        only one group has; an unknown name is an error that lists the valid ones."""
        groups = {key: value for key, value in self.get_params(deep=False).items() if isinstance(value, ParamGroup)}
        top, nested = split_params(params, groups)
        unknown = sorted(set(top) - set(self._get_param_names()))
        unknown += [f"{group}__{name}" for group, changes in nested.items() for name in changes
                    if group not in groups or name not in groups[group].get_params()]
        for group in set(top) & set(groups):
            if not isinstance(top[group], type(groups[group])):
                raise ValueError(f"encoder parameter {group!r} is a group: give {group}__NAME=VALUE or a "
                                 f"mapping of its parameters, not {top[group]!r}")
        if unknown:
            valid = [key for key in self.get_params(deep=True) if key not in groups]
            raise ValueError(f"encoder {self.name!r} has no parameter(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
        super().set_params(**top)
        for group, changes in nested.items():
            setattr(self, group, getattr(self, group).replace(**changes))
        return self

    @abstractmethod
    def fit(
        self,
        cells: Sequence[ParsedCell],
        y: np.ndarray,
        *,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
        progress: bool = False,
    ) -> Encoder:
        """Learn from cells and their (n, 5) weak labels (all-zero rows: not covered).

        Encoders trained in epochs checkpoint to ``checkpoint_dir`` and continue from it
        with ``resume``; one-pass encoders refuse ``resume``.
        """

    @abstractmethod
    def predict_proba(self, cells: Sequence[ParsedCell]) -> np.ndarray:
        """(n, 5) stage probabilities, rows summing to 1."""

    def save(self, directory: str | Path) -> Path:
        """Write the fitted state, then ``encoder.json`` (name + params): each file whole, and the
        file that makes a model directory last, so that a killed save never looks like a model."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._save_state(directory)
        meta = {"encoder": self.name, "params": params_as_json(self.get_params(deep=False)), "stages": list(STAGE_NAMES)}
        write_text(directory / ENCODER_FILE, json.dumps(meta, indent=2, default=str) + "\n")
        return directory

    @abstractmethod
    def _save_state(self, directory: Path) -> None:
        """Write the fitted state that ``_load_state`` reads, as data (arrays, JSON): never a pickle."""

    @classmethod
    def load(cls, directory: str | Path, *, device: str = "auto") -> Encoder:
        """Rebuild an encoder from ``save``'s directory, to compute on ``device``."""
        meta = read_encoder_meta(directory)
        if meta["encoder"] != cls.name:
            raise ValueError(f"{directory}: holds a {meta['encoder']!r} encoder, not {cls.name!r}")
        params = {LEGACY_PARAMS.get(key, key): value for key, value in meta["params"].items()}
        params.pop(None, None)
        try:
            encoder = cls().set_params(**params)
        except ValueError as exc:
            raise ValueError(f"{Path(directory) / ENCODER_FILE}: {exc}") from None
        encoder.device = device
        encoder._load_state(Path(directory))
        return encoder

    @abstractmethod
    def _load_state(self, directory: Path) -> None:
        """Read the fitted state that ``save`` wrote."""

    def predict(self, cells: Sequence[ParsedCell]) -> np.ndarray:
        """Stage indices (argmax of ``predict_proba``)."""
        return self.predict_proba(cells).argmax(axis=1)


def check_weak_labels(cells: Sequence[ParsedCell], y: np.ndarray) -> np.ndarray:
    """Validate ``y`` against ``cells`` and return it as float32; raise a clear error otherwise."""
    y = np.asarray(y, dtype=np.float32)
    if y.shape != (len(cells), N_STAGES):
        raise ValueError(f"weak labels must have shape ({len(cells)}, {N_STAGES}), got {y.shape}")
    if (y < 0).any() or not np.isfinite(y).all():
        raise ValueError("weak labels must be finite and non-negative")
    if not (y.sum(axis=1) > 0).any():
        raise ValueError("no cell has a weak label: no labeling function fired on this corpus")
    return y


def encoder_class(name: str) -> type[Encoder]:
    """The encoder class registered under ``name``."""
    try:
        module_name, class_name = ENCODERS[name].split(":")
    except KeyError:
        raise ValueError(f"unknown encoder {name!r}; expected one of {', '.join(ENCODERS)}") from None
    return getattr(importlib.import_module(module_name), class_name)


def make_encoder(name: str, *, device: str = "auto", **params: Any) -> Encoder:
    """Instantiate a registered encoder with hyper-parameters, named as ``set_params`` takes
    them (unknown ones are an error), to compute on ``device``."""
    encoder = encoder_class(name)().set_params(**params)
    encoder.device = device
    return encoder


def read_encoder_meta(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / ENCODER_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: not an encoder model directory (no {ENCODER_FILE})")
    return json.loads(path.read_text())


def is_encoder_dir(directory: str | Path) -> bool:
    return (Path(directory) / ENCODER_FILE).is_file()


def load_encoder(directory: str | Path, *, device: str = "auto") -> Encoder:
    """Load any saved encoder, whatever its kind, from its model directory, to compute on ``device``."""
    return encoder_class(read_encoder_meta(directory)["encoder"]).load(directory, device=device)
