"""Labeling functions plus an aggregation, used as a stage model (the built-in ``heuristics``).

With ``aggregation="labelmodel"`` the Snorkel LabelModel is fitted on unlabeled cells: by
``fit`` (e.g. on the github shards) or, when ``predict_proba`` finds it unfitted, on the
label matrix of the cells being predicted. A fitted model saves to a directory that
``coral predict --model DIR`` loads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator
from snorkel.labeling import LabelingFunction

from coral.artifacts import UnsafeModelFileError, refuse_pickles
from coral.atomic import write_text
from coral.corpora.records import ParsedCell
from coral.labeling.aggregate import AggregationMethod, aggregate, fit_label_model, load_label_model, save_label_model
from coral.labeling.apply import OnError, apply_lfs
from coral.labeling.lfsets import is_code_lf_spec, load_lf_sets, portable_lf_spec
from coral.problems import ProblemLog
from coral.stages import N_STAGES, STAGE_NAMES, is_covered

HEURISTICS_FILE = "heuristics.json"
LABEL_MODEL_FILE = "label_model.npz"
LEGACY_LABEL_MODEL_FILE = "label_model.pkl"  # Snorkel's pickle, written by earlier versions: refused


class HeuristicStageModel(BaseEstimator):
    """Stage probabilities from LF votes: ``predict_proba(cells)`` gives (n, 5), zero rows abstain.

    ``lfs`` are LF-set specs as ``--lfs`` takes them (built-in names, seed files, .py files
    or modules); ``on_error`` is ``apply_lfs``'s policy for LFs that raise; ``seed`` and
    ``n_epochs`` configure the LabelModel's training.
    """

    def __init__(
        self,
        lfs: Sequence[str] = ("paper",),
        aggregation: AggregationMethod = "priority",
        on_error: OnError = "raise",
        seed: int = 0,
        n_epochs: int = 500,
    ) -> None:
        self.lfs = lfs
        self.aggregation = aggregation
        self.on_error = on_error
        self.seed = seed
        self.n_epochs = n_epochs

    @property
    def labeling_functions(self) -> list[LabelingFunction]:
        """The loaded LFs (loaded on first use, so that constructing the model is cheap)."""
        if getattr(self, "_labeling_functions", None) is None:
            self._labeling_functions = load_lf_sets(self.lfs)
        return self._labeling_functions

    @property
    def lf_names(self) -> list[str]:
        return [lf.name for lf in self.labeling_functions]

    def label_matrix(
        self, cells: Iterable[ParsedCell], problems: ProblemLog | None = None, progress: bool = False
    ) -> np.ndarray:
        return apply_lfs(cells, self.labeling_functions, on_error=self.on_error, problems=problems, progress=progress)

    def fit(self, cells: Iterable[ParsedCell], y: None = None, problems: ProblemLog | None = None) -> HeuristicStageModel:
        """Fit the LabelModel on unlabeled cells (a no-op for priority and majority)."""
        return self.fit_matrix(self.label_matrix(cells, problems)) if self.aggregation == "labelmodel" else self

    def fit_matrix(self, L: np.ndarray) -> HeuristicStageModel:
        """Fit the LabelModel on a label matrix these LFs produced (e.g. by ``coral label``)."""
        if L.shape[1] != len(self.labeling_functions):
            raise ValueError(f"the label matrix has {L.shape[1]} columns, the LFs are {len(self.labeling_functions)}")
        self.label_model_ = fit_label_model(L, seed=self.seed, n_epochs=self.n_epochs)
        self.n_fit_cells_ = int(L.shape[0])
        return self

    def predict_proba(
        self, cells: Sequence[ParsedCell], problems: ProblemLog | None = None, progress: bool = False
    ) -> np.ndarray:
        return self.predict_proba_matrix(self.label_matrix(cells, problems, progress))

    def predict_proba_matrix(self, L: np.ndarray) -> np.ndarray:
        """Aggregate a label matrix; an unfitted LabelModel is fitted on ``L`` itself first."""
        if self.aggregation == "labelmodel" and getattr(self, "label_model_", None) is None:
            if not (L != -1).any():
                return np.zeros((L.shape[0], N_STAGES))
            self.fit_matrix(L)
        return aggregate(L, self.aggregation, label_model=getattr(self, "label_model_", None))

    def predict(self, cells: Sequence[ParsedCell]) -> np.ndarray:
        """Stage indices, -1 where no LF fires."""
        proba = self.predict_proba(cells)
        return np.where(is_covered(proba), proba.argmax(axis=1), -1)

    def save(self, directory: str | Path) -> Path:
        """Write ``heuristics.json`` (params, LF names) and, when fitted, the LabelModel."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        params = {**self.get_params(), "lfs": [portable_lf_spec(spec) for spec in self.lfs]}
        meta = {"model": "heuristics", "params": params, "lf_names": self.lf_names, "stages": list(STAGE_NAMES)}
        label_model = getattr(self, "label_model_", None)
        if label_model is not None:
            save_label_model(label_model, directory / LABEL_MODEL_FILE)
            meta["n_fit_cells"] = self.n_fit_cells_
        else:  # one an earlier save left here must not be loaded with these params
            (directory / LABEL_MODEL_FILE).unlink(missing_ok=True)
        write_text(directory / HEURISTICS_FILE, json.dumps(meta, indent=2) + "\n")  # last: marks a whole model
        return directory

    @classmethod
    def load(cls, directory: str | Path, *, trust_code: bool = False) -> HeuristicStageModel:
        """Rebuild a saved model; its LFs must still have the names they had when saved.

        LFs from a .py file or a module are code that loading would run: such a model loads
        only with ``trust_code``. Nothing else in the directory is code (no pickles are read).
        """
        directory = Path(directory)
        path = directory / HEURISTICS_FILE
        try:
            meta = json.loads(path.read_text())
            params = meta["params"]
            specs = [str(spec) for spec in params["lfs"]]
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a heuristics model file ({exc})") from exc
        code = [spec for spec in specs if is_code_lf_spec(spec)]
        if code and not trust_code:
            raise UnsafeModelFileError(
                f"{path}: its labeling functions come from code ({', '.join(code)}), which loading would run; "
                "pass --trust-code (trust_code=True) only if you trust this model directory"
            )
        refuse_pickles(directory, (LEGACY_LABEL_MODEL_FILE,),
                       "Refit the label model with this version of coral (coral lfs fit) and use the new directory.")
        model = cls(**params)
        if model.lf_names != meta["lf_names"]:
            raise ValueError(
                f"{directory}: the LFs {meta['params']['lfs']} now have different names than when the model was "
                "saved; refit it (coral lfs fit)"
            )
        if (directory / LABEL_MODEL_FILE).is_file():
            model.label_model_ = load_label_model(directory / LABEL_MODEL_FILE)
            model.n_fit_cells_ = int(meta.get("n_fit_cells", 0))
        return model


def is_heuristics_dir(directory: str | Path) -> bool:
    return (Path(directory) / HEURISTICS_FILE).is_file()

