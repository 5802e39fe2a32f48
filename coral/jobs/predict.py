"""Predicting stages for a corpus with any stage model: the built-in heuristics, a saved
heuristics directory, or a trained encoder directory.

The labeling stage (snorkel, and through it scipy, pandas, networkx) is imported only when
a heuristics model is used: predicting with an encoder does not pay for it at start-up.

Predictions are written in input order, one per code cell (the format of ``coral.predictions``), and
every notebook or cell the run could not use goes to ``<out stem>.errors.jsonl``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard, runtime_checkable

import numpy as np
from tqdm import tqdm

from coral.corpora.cells import CellPart, plan_cell_parts, read_cells
from coral.corpora.formats.common import ReaderOptions
from coral.corpora.records import ParsedCell
from coral.jobs.evaluate import gold_ids
from coral.corpora.parts import PartStore, run_parts
from coral.predictions import Prediction, predictions_from_proba, write_lines, write_predictions
from coral.problems import ProblemLog

if TYPE_CHECKING:
    from coral.labeling.aggregate import AggregationMethod
    from coral.labeling.model import HeuristicStageModel

BUILTIN_MODELS = ("heuristics", "default")
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "data" / "models" / "default"
PREDICT_CHUNK = 2048  # cells per predict_proba call for encoders: bounded memory, good batching


class StageModel(Protocol):
    def predict_proba(self, cells: Sequence[ParsedCell]) -> np.ndarray: ...


@runtime_checkable
class DecidingModel(Protocol):
    """A model that labels some cells one way and others another (``LFsFirstModel``) and
    says which, so that predictions record ``decided_by``."""

    def decide(self, cells: Sequence[ParsedCell]) -> tuple[np.ndarray, list[str]]: ...


class ModelNotFoundError(ValueError):
    """The model name or directory does not name a stage model."""


class NoUsableInputError(ValueError):
    """Not one code cell could be read from the inputs: the run has nothing to say."""


def load_stage_model(
    name_or_dir: str | Path,
    *,
    lf_specs: Sequence[str] | None = None,
    aggregation: AggregationMethod | None = None,
    device: str = "auto",
    trust_code: bool = False,
    notebook_hmm: bool = True,
) -> StageModel:
    """Resolve ``--model``: ``heuristics`` (LFs + aggregation), ``default`` (the packaged
    model), a saved heuristics directory, or a trained encoder directory.

    ``lf_specs`` and ``aggregation`` configure ``heuristics`` only; elsewhere they are an error,
    because a saved model fixes them. An encoder computes on ``device``; the heuristics run
    on the CPU whatever it says. A saved model whose LFs are code loads only with ``trust_code``.
    ``notebook_hmm=False`` leaves out an LFs-first model's notebook HMM (its cell-only reading).
    """
    spec = str(name_or_dir)
    if spec == "heuristics":
        from coral.labeling.lfsets import DEFAULT_LF_SETS
        from coral.labeling.model import HeuristicStageModel

        return HeuristicStageModel(lf_specs=tuple(lf_specs or DEFAULT_LF_SETS), aggregation=aggregation or "priority")
    if lf_specs or aggregation:
        raise ValueError(f"--lfs and --aggregate configure the 'heuristics' model, not {spec!r}")
    if spec == "default":
        if not DEFAULT_MODEL_DIR.is_dir():
            raise ModelNotFoundError(
                f"the packaged default model is not installed ({DEFAULT_MODEL_DIR} does not exist); "
                "use --model heuristics or a model directory trained with `coral train`"
            )
        return _load_model_dir(DEFAULT_MODEL_DIR, device, trust_code, notebook_hmm)
    path = Path(spec)
    if not path.is_dir():
        raise ModelNotFoundError(f"{spec!r} is not a model name ({', '.join(BUILTIN_MODELS)}) or a model directory")
    return _load_model_dir(path, device, trust_code, notebook_hmm)


def predict_rows(model: StageModel, cells: Sequence[ParsedCell], rows: np.ndarray) -> np.ndarray:
    """``model``'s probabilities for ``cells[rows]``. A model that reads notebooks (a context
    encoder; any model that does not say) is given every cell, so that it sees each notebook
    whole; a cell-only one only the cells asked for."""
    if getattr(model, "reads_notebooks", True):
        return np.asarray(model.predict_proba(cells))[rows]
    return np.asarray(model.predict_proba([cells[i] for i in rows]))


def _load_model_dir(path: Path, device: str, trust_code: bool, notebook_hmm: bool) -> StageModel:
    from coral.encoders.base import is_encoder_dir, load_encoder

    if is_encoder_dir(path):
        from coral.encoders.training import resolve_device
        from coral.jobs.lfs_first import has_lfs_first, load_lfs_first

        resolve_device(device)  # a bad device is an error even when the LFs label every cell
        encoder = load_encoder(path, device=device)
        if has_lfs_first(path):
            return load_lfs_first(path, encoder, trust_code=trust_code, notebook_hmm=notebook_hmm)
        return encoder
    from coral.labeling.model import HeuristicStageModel, is_heuristics_dir

    if is_heuristics_dir(path):
        return HeuristicStageModel.load(path, trust_code=trust_code)
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
    """Predictions in input order, as a list (``iter_predictions`` streams them)."""
    return list(iter_predictions(model, cells, problems, progress))


def iter_predictions(
    model: StageModel, cells: Iterable[ParsedCell], problems: ProblemLog | None = None, progress: bool = False
) -> Iterator[Prediction]:
    """Predictions in input order. Heuristics label the whole input first (a LabelModel
    fitted on the input needs the whole matrix); encoders predict about ``PREDICT_CHUNK`` cells at
    a time, a chunk ending at a notebook's end (the context encoder reads a notebook's cells
    together), the next chunk read and parsed in a background thread meanwhile (torch releases
    the GIL while it computes), so memory stays flat in corpus size."""
    if _is_heuristics(model):
        kept: list[_CellRef] = []
        L = model.label_matrix(_keep_refs(cells, kept), problems=problems, progress=progress)
        yield from predictions_from_proba(kept, model.predict_proba_matrix(L))  # type: ignore[arg-type]
        return
    bar = tqdm(disable=not progress, unit=" cells", desc="predicting")
    for chunk in _prefetched(notebook_chunks(cells, PREDICT_CHUNK)):
        if isinstance(model, DecidingModel):
            yield from predictions_from_proba(chunk, *model.decide(chunk))
        else:
            yield from predictions_from_proba(chunk, model.predict_proba(chunk))
        bar.update(len(chunk))
    bar.close()


def _is_heuristics(model: StageModel) -> TypeGuard[HeuristicStageModel]:
    """Whether ``model`` is the heuristics model, without importing the labeling stage: if it
    was never imported, no model can be one."""
    labeling = sys.modules.get("coral.labeling.model")
    return labeling is not None and isinstance(model, labeling.HeuristicStageModel)


def _prefetched(chunks: Iterator[list[ParsedCell]]) -> Iterator[list[ParsedCell]]:
    """``chunks``, each produced in a worker thread while the caller works on the one before."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="coral-read") as reader:
        pending = reader.submit(next, chunks, None)
        while (chunk := pending.result()) is not None:
            pending = reader.submit(next, chunks, None)
            yield chunk


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
    only_gold: Sequence[str | Path] = (),
    progress: bool = True,
    options: ReaderOptions | None = None,
    with_source: bool = False,
    model_identity: Mapping[str, Any] | None = None,
    notebooks_per_unit: int | None = None,
) -> PredictionRun:
    """Predict every code cell of ``inputs`` in this process and write predictions plus the problems log.

    The input is predicted part by part (:mod:`coral.corpora.parts`): finished parts wait in
    ``parts_dir(out)``, so a rerun after an interruption (even kill -9) predicts only the rest
    and writes the same ``out``; ``model_identity`` (a description of the model, e.g. its
    manifest entry; by default its class and parameters) tells a rerun's parts from another
    model's. ``options`` says how corpora are read (size limits, which JuICe cells are items).

    ``fit_on`` (heuristics with the LabelModel only) fits the LabelModel on other, unlabeled
    corpora; a LabelModel left unfitted is fitted on the whole input first. ``only_gold`` (gold
    files) reads and predicts only the notebooks and cells they name, skipping the rest of the
    input before parsing. Each prediction carries the path its notebook was read from and,
    with ``with_source``, the cell's code. An input that yields no code cell at all is a
    :class:`NoUsableInputError` (after the problems log is written).
    """
    out = Path(out)
    if out.is_dir():  # refused before the corpus is read, not after
        raise ValueError(f"{out}: is a folder; predictions are written to a file, e.g. {out / 'predictions.jsonl'}")
    fit_options = options
    if only_gold:
        gold_cells, gold_notebooks = gold_ids(only_gold)
        options = replace(options or ReaderOptions(), only_ids=frozenset(gold_cells | gold_notebooks))
    label_model = _is_heuristics(model) and model.aggregation == "labelmodel"
    if fit_on and not label_model:
        raise ValueError("--fit-on fits a LabelModel: use it with --model heuristics --aggregate labelmodel")
    problems = ProblemLog()
    if fit_on or (label_model and getattr(model, "label_model_", None) is None):
        # fitted before the parts, on the whole of fit_on or of the input (whose problems the parts report)
        cells = read_cells(fit_on, format, problems, fit_options) if fit_on else read_cells(inputs, format, ProblemLog(), options)
        L = model.label_matrix(cells)  # type: ignore[union-attr]
        if (L != -1).any():
            model.fit_matrix(L)  # type: ignore[union-attr]
    identity = dict(model_identity) if model_identity is not None else {
        "class": type(model).__name__, "params": getattr(model, "get_params", dict)()}
    identity.update(fit_on=[str(path) for path in fit_on], only_gold=[str(path) for path in only_gold],
                    with_source=with_source)
    return _predict_by_parts(inputs, out, format, options, notebooks_per_unit, identity, problems, progress,
                             workers=1, scheduler=None, model=model, with_source=with_source)


def _located(prediction: Prediction, origins: dict[str, str]) -> Prediction:
    """``prediction`` with the path its notebook was read from (None for parsed directories)."""
    prediction.path = origins.get(prediction.notebook_id)
    return prediction


class PredictPartError(RuntimeError):
    """A part of a prediction run failed; names the part."""


def parts_dir(out: str | Path) -> Path:
    """Where a run keeps its finished parts until all are done: ``<out>.parts``."""
    out = Path(out)
    return out.with_name(out.name + ".parts")


def predict_part(job: tuple[int, CellPart, PartStore, frozenset[str]], model: StageModel | str,
                 lf_specs: Sequence[str] | None = None, aggregation: AggregationMethod | None = None,
                 device: str = "auto", options: ReaderOptions | None = None, with_source: bool = False,
                 notebook_hmm: bool = True) -> None:
    """Predict one part into its store: in this process with a loaded ``model``, or on a Dask
    worker (one torch thread: parallelism is in processes) with a ``--model`` name or directory
    it loads once. Notebooks whose id is in the job's skip set are logged and left out."""
    index, part, store, skip = job
    if isinstance(model, str):
        from coral.encoders.runtime import set_threads

        set_threads(1)
        model = _worker_model(model, tuple(lf_specs or ()), aggregation, device, notebook_hmm)
    problems = ProblemLog()
    origins: dict[str, str] = {}
    seen = set(skip)
    cells = part.cells(problems, options, origins, seen)
    sources: dict[str, str] = {}
    predictions = iter_predictions(model, _keep_sources(cells, sources) if with_source else cells, problems)
    write_predictions(_annotated(predictions, origins, sources if with_source else None), store.output(index),
                      before_rename=lambda: store.write_sidecar(index, problems, seen - skip))


def _annotated(predictions: Iterable[Prediction], origins: dict[str, str], sources: dict[str, str] | None) -> Iterator[Prediction]:
    for prediction in predictions:
        if sources is not None:
            prediction.source = sources.pop(prediction.id, None)  # popped: the map holds unpredicted cells only
        yield _located(prediction, origins)


@lru_cache(maxsize=1)
def _worker_model(model: str, lf_specs: tuple[str, ...], aggregation: AggregationMethod | None, device: str,
                  notebook_hmm: bool) -> StageModel:
    """The model of this worker process, loaded once for all the parts it predicts."""
    return load_stage_model(model, lf_specs=lf_specs or None, aggregation=aggregation, device=device,
                            notebook_hmm=notebook_hmm)


def predict_corpus_parallel(
    inputs: Sequence[str | Path],
    model: str,
    out: str | Path,
    *,
    lf_specs: Sequence[str] | None = None,
    aggregation: AggregationMethod | None = None,
    format: str | None = None,
    device: str = "auto",
    workers: int | None = None,
    scheduler: str | None = None,
    notebooks_per_unit: int | None = None,
    progress: bool = True,
    options: ReaderOptions | None = None,
    notebook_hmm: bool = True,
) -> PredictionRun:
    """``predict_corpus`` on Dask: the input's parts predicted in parallel, joined in input order.

    ``model`` is a ``--model`` name or directory, loaded by each worker. As in one process,
    finished parts wait in ``parts_dir(out)`` and a rerun after an interruption predicts only
    the others. A part that fails stops the run with an error naming it.
    """
    if model == "heuristics" and aggregation == "labelmodel":
        raise ValueError("a LabelModel fitted on the input needs the whole input at once: "
                         "predict in one process, or fit it first (coral lfs fit) and pass its directory")
    stage_model = load_stage_model(model, lf_specs=lf_specs, aggregation=aggregation, device="cpu",  # fail early, here
                                   notebook_hmm=notebook_hmm)
    from coral.manifest import describe_stage_model

    identity = {**describe_stage_model(model, stage_model), "aggregation": aggregation, "fit_on": [], "only_gold": [],
                "with_source": False}
    return _predict_by_parts(inputs, Path(out), format, options, notebooks_per_unit, identity, ProblemLog(), progress,
                             workers=workers, scheduler=scheduler, model=model, lf_specs=lf_specs,
                             aggregation=aggregation, device=device, notebook_hmm=notebook_hmm)


def _predict_by_parts(inputs: Sequence[str | Path], out: Path, format: str | None, options: ReaderOptions | None,
                      notebooks_per_unit: int | None, identity: Mapping[str, Any], problems: ProblemLog,
                      progress: bool, *, workers: int | None, scheduler: str | None, **arguments: Any) -> PredictionRun:
    """Predict the parts of ``inputs`` not finished in ``parts_dir(out)`` (``predict_part`` with
    ``arguments``), then join all in input order into ``out``: its errors file (``problems``
    and the parts') first, ``out`` last, each written whole; the parts are removed once ``out``
    is in place."""
    parts = plan_cell_parts(inputs, format, problems, notebooks_per_unit, options)
    store = PartStore(parts_dir(out), ".jsonl")
    store.start({"inputs": [str(path) for path in inputs], "format": format, "options": repr(options),
                 "model": identity, "parts": [part.key for part in parts]})
    run_parts(parts, predict_part, store, _part_failure, scheduler=scheduler, workers=workers, progress=progress,
              desc="predicting parts", options=options, **arguments)
    for index in range(len(parts)):
        problems.extend(store.problems(index))
    problems.write_jsonl(errors_path(out))
    if not any(store.output(index).stat().st_size for index in range(len(parts))):
        store.remove()
        raise NoUsableInputError(_nothing_to_label(inputs, problems, errors_path(out)))
    n_cells = n_covered = 0

    def joined() -> Iterator[str]:
        nonlocal n_cells, n_covered
        for index in range(len(parts)):
            with open(store.output(index), encoding="utf-8") as part:
                for line in part:
                    n_cells += 1
                    n_covered += json.loads(line)["stage"] is not None
                    yield line

    write_lines(joined(), out)
    store.remove()
    return PredictionRun(out=out, errors=errors_path(out), n_cells=n_cells, n_covered=n_covered,
                         n_problems=len(problems), problems_by_reason=dict(problems.by_reason()))


def _part_failure(part: CellPart, error: BaseException) -> Exception:
    return PredictPartError(f"predicting {part.describe()} failed: {type(error).__name__}: {error}")


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
