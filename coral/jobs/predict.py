"""Predicting stages for a corpus with any stage model: the built-in heuristics, a saved
heuristics directory, or a trained encoder directory.

Predictions are written in input order, one per code cell (the format of ``coral.predictions``), and
every notebook or cell the run could not use goes to ``<out stem>.errors.jsonl``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

from coral.corpora.cells import read_cells
from coral.corpora.records import ParsedCell
from coral.labeling.aggregate import AggregationMethod
from coral.labeling.model import HeuristicStageModel, is_heuristics_dir
from coral.predictions import Prediction, predictions_from_proba, write_predictions
from coral.problems import ProblemLog

BUILTIN_MODELS = ("heuristics", "default")
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "data" / "models" / "default"
PREDICT_CHUNK = 2048  # cells per predict_proba call for encoders: bounded memory, good batching


class StageModel(Protocol):
    def predict_proba(self, cells: Sequence[ParsedCell]) -> np.ndarray: ...


class ModelNotFoundError(ValueError):
    """The model name or directory does not name a stage model."""


def load_stage_model(
    name_or_dir: str | Path,
    *,
    lfs: Sequence[str] | None = None,
    aggregation: AggregationMethod | None = None,
    device: str = "auto",
) -> StageModel:
    """Resolve ``--model``: ``heuristics`` (LFs + aggregation), ``default`` (the packaged
    model), a saved heuristics directory, or a trained encoder directory.

    ``lfs`` and ``aggregation`` configure ``heuristics`` only; elsewhere they are an error,
    because a saved model fixes them. An encoder computes on ``device``; the heuristics run
    on the CPU whatever it says.
    """
    spec = str(name_or_dir)
    if spec == "heuristics":
        return HeuristicStageModel(lfs=tuple(lfs or ("paper",)), aggregation=aggregation or "priority")
    if lfs or aggregation:
        raise ValueError(f"--lfs and --aggregate configure the 'heuristics' model, not {spec!r}")
    if spec == "default":
        if not DEFAULT_MODEL_DIR.is_dir():
            raise ModelNotFoundError(
                f"the packaged default model is not installed ({DEFAULT_MODEL_DIR} does not exist); "
                "use --model heuristics or a model directory trained with `coral train`"
            )
        return _load_model_dir(DEFAULT_MODEL_DIR, device)
    path = Path(spec)
    if not path.is_dir():
        raise ModelNotFoundError(f"{spec!r} is not a model name ({', '.join(BUILTIN_MODELS)}) or a model directory")
    return _load_model_dir(path, device)


def _load_model_dir(path: Path, device: str) -> StageModel:
    if is_heuristics_dir(path):
        return HeuristicStageModel.load(path)
    from coral.encoders.base import is_encoder_dir, load_encoder

    if is_encoder_dir(path):
        return load_encoder(path, device=device)
    raise ModelNotFoundError(f"{path}: not a model directory (no heuristics.json or encoder.json)")


@dataclass(slots=True)
class PredictionRun:
    """What ``predict_corpus`` wrote."""

    out: Path
    errors: Path
    n_cells: int
    n_covered: int
    n_problems: int
    problems_by_reason: dict[str, int]


def errors_path(out: str | Path) -> Path:
    """``preds.jsonl`` -> ``preds.errors.jsonl``: the problems log lives beside the output."""
    out = Path(out)
    return out.with_name(f"{out.stem}.errors.jsonl")


def predict_cells(
    model: StageModel, cells: Iterable[ParsedCell], problems: ProblemLog | None = None, progress: bool = False
) -> list[Prediction]:
    """Predictions in input order. Heuristics label the whole input first (a LabelModel
    fitted on the input needs the whole matrix); encoders predict chunk by chunk, a chunk
    ending at a notebook's end (the context encoder reads a notebook's cells together)."""
    if isinstance(model, HeuristicStageModel):
        kept: list[_CellRef] = []
        L = model.label_matrix(_keep_refs(cells, kept), problems=problems, progress=progress)
        return predictions_from_proba(kept, model.predict_proba_matrix(L))  # type: ignore[arg-type]
    predictions: list[Prediction] = []
    for chunk in notebook_chunks(tqdm(cells, disable=not progress, unit=" cells", desc="predicting"), PREDICT_CHUNK):
        predictions.extend(predictions_from_proba(chunk, model.predict_proba(chunk)))
    return predictions


def notebook_chunks(cells: Iterable[ParsedCell], size: int) -> Iterator[list[ParsedCell]]:
    """Consecutive cells in chunks of at least ``size`` (the last may be smaller) that never
    split a notebook's run of cells."""
    chunk: list[ParsedCell] = []
    for cell in cells:
        if len(chunk) >= size and cell.notebook_id != chunk[-1].notebook_id:
            yield chunk
            chunk = []
        chunk.append(cell)
    if chunk:
        yield chunk


def predict_corpus(
    inputs: Sequence[str | Path],
    model: StageModel,
    out: str | Path,
    *,
    format: str | None = None,
    fit_on: Sequence[str | Path] = (),
    progress: bool = True,
) -> PredictionRun:
    """Predict every code cell of ``inputs`` and write predictions plus the problems log.

    ``fit_on`` (heuristics with the LabelModel only) fits the LabelModel on other, unlabeled
    corpora instead of on the input itself.
    """
    problems = ProblemLog()
    if fit_on:
        if not (isinstance(model, HeuristicStageModel) and model.aggregation == "labelmodel"):
            raise ValueError("--fit-on fits a LabelModel: use it with --model heuristics --aggregate labelmodel")
        model.fit(read_cells(fit_on, format, problems))
    predictions = predict_cells(model, read_cells(inputs, format, problems), problems, progress)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    n_cells = write_predictions(predictions, out)
    problems.write_jsonl(errors_path(out))
    return PredictionRun(
        out=out,
        errors=errors_path(out),
        n_cells=n_cells,
        n_covered=sum(prediction.stage is not None for prediction in predictions),
        n_problems=len(problems),
        problems_by_reason=dict(problems.by_reason()),
    )


@dataclass(slots=True)
class _CellRef:
    """The fields a prediction keeps, so that labeling a large corpus need not hold its ASTs."""

    id: str
    notebook_id: str
    index: int
    lines: int
    apis: list[str]


def _keep_refs(cells: Iterable[ParsedCell], kept: list[_CellRef]) -> Iterator[ParsedCell]:
    for cell in cells:
        kept.append(_CellRef(cell.id, cell.notebook_id, cell.index, cell.lines, cell.apis))
        yield cell
