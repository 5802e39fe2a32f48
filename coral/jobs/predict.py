"""Predicting stages for a corpus with any stage model: the built-in heuristics, a saved
heuristics directory, or a trained encoder directory.

Predictions are written in input order, one per code cell (the format of ``coral.predictions``), and
every notebook or cell the run could not use goes to ``<out stem>.errors.jsonl``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

from coral.corpora.cells import read_cells
from coral.corpora.formats.common import ReaderOptions
from coral.corpora.records import ParsedCell
from coral.jobs.evaluate import gold_ids
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


class NoUsableInputError(ValueError):
    """Not one code cell could be read from the inputs: the run has nothing to say."""


def load_stage_model(
    name_or_dir: str | Path,
    *,
    lfs: Sequence[str] | None = None,
    aggregation: AggregationMethod | None = None,
    device: str = "auto",
    trust_code: bool = False,
) -> StageModel:
    """Resolve ``--model``: ``heuristics`` (LFs + aggregation), ``default`` (the packaged
    model), a saved heuristics directory, or a trained encoder directory.

    ``lfs`` and ``aggregation`` configure ``heuristics`` only; elsewhere they are an error,
    because a saved model fixes them. An encoder computes on ``device``; the heuristics run
    on the CPU whatever it says. A saved model whose LFs are code loads only with ``trust_code``.
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
        return _load_model_dir(DEFAULT_MODEL_DIR, device, trust_code)
    path = Path(spec)
    if not path.is_dir():
        raise ModelNotFoundError(f"{spec!r} is not a model name ({', '.join(BUILTIN_MODELS)}) or a model directory")
    return _load_model_dir(path, device, trust_code)


def _load_model_dir(path: Path, device: str, trust_code: bool) -> StageModel:
    if is_heuristics_dir(path):
        return HeuristicStageModel.load(path, trust_code=trust_code)
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
    fitted on the input needs the whole matrix); encoders predict chunk by chunk."""
    if isinstance(model, HeuristicStageModel):
        kept: list[_CellRef] = []
        L = model.label_matrix(_keep_refs(cells, kept), problems=problems, progress=progress)
        return predictions_from_proba(kept, model.predict_proba_matrix(L))  # type: ignore[arg-type]
    predictions: list[Prediction] = []
    cell_iter = iter(tqdm(cells, disable=not progress, unit=" cells", desc="predicting"))
    while chunk := list(islice(cell_iter, PREDICT_CHUNK)):
        predictions.extend(predictions_from_proba(chunk, model.predict_proba(chunk)))
    return predictions


def predict_corpus(
    inputs: Sequence[str | Path],
    model: StageModel,
    out: str | Path,
    *,
    format: str | None = None,
    fit_on: Sequence[str | Path] = (),
    only_gold: Sequence[str | Path] = (),
    progress: bool = True,
    options: ReaderOptions | None = None,
    with_source: bool = False,
) -> PredictionRun:
    """Predict every code cell of ``inputs`` and write predictions plus the problems log.

    ``options`` says how corpora are read (size limits, which JuICe cells are items).

    ``fit_on`` (heuristics with the LabelModel only) fits the LabelModel on other, unlabeled
    corpora instead of on the input itself. ``only_gold`` (gold files) reads and predicts only
    the notebooks and cells they name, skipping the rest of the input before parsing. Each
    prediction carries the path its notebook was read from and, with ``with_source``, the
    cell's code. An input that yields no code cell at all is a :class:`NoUsableInputError`
    (after the problems log is written).
    """
    out = Path(out)
    if out.is_dir():  # refused before the corpus is read, not after
        raise ValueError(f"{out}: is a folder; predictions are written to a file, e.g. {out / 'predictions.jsonl'}")
    problems = ProblemLog()
    fit_options = options
    if only_gold:
        cells, notebooks = gold_ids(only_gold)
        options = replace(options or ReaderOptions(), only_ids=frozenset(cells | notebooks))
    if fit_on:
        if not (isinstance(model, HeuristicStageModel) and model.aggregation == "labelmodel"):
            raise ValueError("--fit-on fits a LabelModel: use it with --model heuristics --aggregate labelmodel")
        model.fit(read_cells(fit_on, format, problems, fit_options))
    origins: dict[str, str] = {}
    sources: dict[str, str] = {}
    cells = read_cells(inputs, format, problems, options, origins)
    predictions = predict_cells(model, _keep_sources(cells, sources) if with_source else cells, problems, progress)
    for prediction in predictions:
        prediction.path = origins.get(prediction.notebook_id)
        prediction.source = sources.get(prediction.id)
    out.parent.mkdir(parents=True, exist_ok=True)
    problems.write_jsonl(errors_path(out))
    if not predictions:
        raise NoUsableInputError(_nothing_to_label(inputs, problems, errors_path(out)))
    n_cells = write_predictions(predictions, out)
    return PredictionRun(
        out=out,
        errors=errors_path(out),
        n_cells=n_cells,
        n_covered=sum(prediction.stage is not None for prediction in predictions),
        n_problems=len(problems),
        problems_by_reason=dict(problems.by_reason()),
    )


def _nothing_to_label(inputs: Sequence[str | Path], problems: ProblemLog, errors: Path) -> str:
    named = ", ".join(map(str, inputs[:3])) + (f" and {len(inputs) - 3} more" if len(inputs) > 3 else "")
    reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(problems.by_reason().items()))
    why = f"{len(problems)} problems ({reasons}), listed in {errors}" if len(problems) else "no notebook there has a code cell"
    return f"no code cell to label in {named}: {why}"


def _keep_sources(cells: Iterable[ParsedCell], sources: dict[str, str]) -> Iterator[ParsedCell]:
    for cell in cells:
        sources[cell.id] = cell.source
        yield cell


@dataclass(slots=True)
class _CellRef:
    """The fields a prediction keeps, so that labeling a large corpus need not hold its ASTs."""

    id: str
    notebook_id: str
    index: int
    lines: int
    apis: list[str]
    role: str | None


def _keep_refs(cells: Iterable[ParsedCell], kept: list[_CellRef]) -> Iterator[ParsedCell]:
    for cell in cells:
        kept.append(_CellRef(cell.id, cell.notebook_id, cell.index, cell.lines, cell.apis, cell.role))
        yield cell
