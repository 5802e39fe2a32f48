"""Notebooks with the stage of each code cell: what ``annotate``, ``report`` and ``show`` draw.

This module is the views' one bridge to the readers and the predicting layer. It predicts
notebooks in batches (so encoders see full batches and memory stays bounded on large
corpora) and hands each notebook back whole, with its predictions by cell index.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from coral import __version__
from coral.corpora.cells import parse_safely
from coral.corpora.formats.common import ReaderOptions
from coral.corpora.formats.ipynb import NOT_JSON, ipynb_file_bytes, notebook_from_json, parse_json_bytes, tar_notebook_bytes, zip_notebook_bytes
from coral.corpora.formats.jsonlines import iter_json_lines
from coral.corpora.readers import discover_sources, read_notebooks
from coral.corpora.records import Cell, Notebook
from coral.jobs.predict import StageModel, load_stage_model, predict_cells
from coral.predictions import Prediction, read_predictions
from coral.problems import BAD_RECORD, NO_NOTEBOOK_JSON, NOT_A_NOTEBOOK, NOT_PREDICTED, ProblemLog

__all__ = [
    "DECIDED_BY_TEXT",
    "LOW_CONFIDENCE",
    "LabelledNotebook",
    "Prediction",
    "RawNotebook",
    "StageModel",
    "confidence",
    "is_low_confidence",
    "iter_raw_notebooks",
    "label_notebooks",
    "label_raw_notebooks",
    "labelled_from_predictions",
    "load_stage_model",
]

# A cell whose most probable stage has less than this probability is "low confidence": with
# five stages, below 0.5 means the other four together are at least as likely.
LOW_CONFIDENCE = 0.5
PREDICT_BATCH_NOTEBOOKS = 64
# What labelled a cell (``Prediction.decided_by``), as the views say it.
DECIDED_BY_TEXT = {"lfs": "by the LFs", "encoder": "by the encoder", "context": "by the encoder, in context"}

Payload = TypeVar("Payload")


def confidence(prediction: Prediction | None) -> float:
    """The probability of the predicted stage; 0 for a cell without a stage."""
    if prediction is None or prediction.stage is None:
        return 0.0
    return float(prediction.probs.get(prediction.stage, 0.0))


def is_low_confidence(prediction: Prediction | None, threshold: float = LOW_CONFIDENCE) -> bool:
    """No stage, or a stage the model gives less than ``threshold``."""
    return confidence(prediction) < threshold


@dataclass(slots=True)
class LabelledNotebook:
    """A notebook as coral read it, and the prediction of each code cell by cell index
    (a code cell that could not be parsed has none)."""

    notebook: Notebook
    predictions: dict[int, Prediction] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.notebook.id


@dataclass(slots=True)
class RawNotebook:
    """A notebook's JSON exactly as stored, with where it came from and where a copy goes."""

    id: str
    origin: str
    relpath: str  # the path of its copy under an output folder
    json: dict[str, Any]
    file: Path | None = None  # the .ipynb file itself, when the notebook is one (``--in-place``)


def predict_in_batches(
    model: StageModel,
    items: Iterable[tuple[Payload, Notebook]],
    problems: ProblemLog,
    batch_notebooks: int = PREDICT_BATCH_NOTEBOOKS,
) -> Iterator[tuple[Payload, LabelledNotebook]]:
    """Each item's notebook with its predictions, in input order, predicted a batch at a time."""
    batch: list[tuple[Payload, Notebook]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= batch_notebooks:
            yield from _predict_batch(model, batch, problems)
            batch = []
    if batch:
        yield from _predict_batch(model, batch, problems)


def _predict_batch(
    model: StageModel, batch: Sequence[tuple[Payload, Notebook]], problems: ProblemLog
) -> Iterator[tuple[Payload, LabelledNotebook]]:
    parsed = [parse_safely(notebook, problems) for _, notebook in batch]
    predictions = iter(predict_cells(model, [cell for cells in parsed for cell in cells], problems))
    for (payload, notebook), cells in zip(batch, parsed):
        by_index = {prediction.index: prediction for _, prediction in zip(cells, predictions)}
        yield payload, LabelledNotebook(notebook, by_index)


def label_notebooks(
    paths: Sequence[str | Path], model: StageModel, problems: ProblemLog, format: str | None = None
) -> Iterator[LabelledNotebook]:
    """Read the notebooks under ``paths`` (any corpus layout) and predict their code cells."""
    notebooks = read_notebooks(paths, format, problems)
    for _, labelled in predict_in_batches(model, ((None, notebook) for notebook in notebooks), problems):
        yield labelled


def labelled_from_predictions(
    predictions_path: str | Path,
    paths: Sequence[str | Path],
    problems: ProblemLog,
    format: str | None = None,
    options: ReaderOptions | None = None,
) -> Iterator[LabelledNotebook]:
    """Join a predictions file to the notebooks it was made from (by cell id), read with the
    ``options`` the predictions were made with.

    Without ``paths`` the notebooks are rebuilt from the predictions alone: code cells only,
    with their code where the predictions carry it (``--with-source``).
    """
    by_notebook: dict[str, list[Prediction]] = {}
    for prediction in read_predictions(predictions_path):
        by_notebook.setdefault(prediction.notebook_id, []).append(prediction)
    if not paths:
        for notebook_id, predictions in by_notebook.items():
            yield _notebook_from_predictions(notebook_id, predictions)
        return
    for notebook in read_notebooks(paths, format, problems, options):
        predictions = by_notebook.get(notebook.id)
        if predictions is None and notebook.code_cells:
            problems.add(notebook.origin, notebook.id, NOT_PREDICTED, f"no prediction in {predictions_path} names this notebook")
            continue
        yield LabelledNotebook(notebook, {prediction.index: prediction for prediction in predictions or ()})


def _notebook_from_predictions(notebook_id: str, predictions: list[Prediction]) -> LabelledNotebook:
    cells = [Cell(notebook_id, p.index, "code", p.source or "", id=p.id) for p in sorted(predictions, key=lambda p: p.index)]
    origin = next((p.path for p in predictions if p.path), notebook_id)
    notebook = Notebook(id=notebook_id, cells=cells, origin=origin, path=origin)
    return LabelledNotebook(notebook, {prediction.index: prediction for prediction in predictions})


def iter_raw_notebooks(
    paths: Sequence[str | Path], problems: ProblemLog, format: str | None = None, options: ReaderOptions | None = None
) -> Iterator[RawNotebook]:
    """The JSON of every whole notebook under ``paths``: ``.ipynb`` files, folders and archives
    of them, and JSON Lines shards of notebooks. Layouts that hold cells rather than whole
    notebooks (CORAL, JuICe, DSP) are logged as ``no-notebook-json``."""
    options = options or ReaderOptions()
    for source in discover_sources(paths, format, problems):
        if source.kind == "ipynb":
            raw = ipynb_file_bytes(source.path, source.notebook_id, problems, options)
            if raw is not None:
                yield from _decoded(raw, source.notebook_id, str(source.path), source.notebook_id, problems, source.path)
        elif source.kind in ("zip", "tar"):
            members = (zip_notebook_bytes if source.kind == "zip" else tar_notebook_bytes)(source.path, problems, options)
            for name, origin, raw in members:
                yield from _decoded(raw, name, origin, name, problems)
        elif source.kind == "shards":
            for line_number, record in iter_json_lines(source.path, problems, options):
                origin = f"{source.path}:{line_number}"
                if not isinstance(record, dict) or not isinstance(record.get("notebook"), dict) or record.get("id") is None:
                    problems.add(origin, None, BAD_RECORD, "a shard line needs an 'id' and a 'notebook' object")
                    continue
                notebook_id = str(record["id"])
                where = [record.get("repo"), record.get("path")]
                relpath = "/".join(map(str, where)) if all(where) else notebook_id
                yield RawNotebook(notebook_id, origin, safe_relpath(relpath), record["notebook"])
        else:
            problems.add(str(source.path), None, NO_NOTEBOOK_JSON, f"{source.kind} records hold cells, not whole notebooks")


def _decoded(
    raw: bytes, notebook_id: str, origin: str, relpath: str, problems: ProblemLog, file: Path | None = None
) -> Iterator[RawNotebook]:
    data = parse_json_bytes(raw, notebook_id, origin, problems)
    if data is NOT_JSON:
        return
    if not isinstance(data, dict):
        problems.add(origin, notebook_id, NOT_A_NOTEBOOK, f"the file holds a JSON {type(data).__name__}, not an object")
        return
    yield RawNotebook(notebook_id, origin, safe_relpath(relpath), data, file)


def safe_relpath(name: str) -> str:
    """A relative output path for a notebook id: no absolute paths, ``..`` or odd characters,
    and always ending in ``.ipynb``."""
    parts = [re.sub(r"[^\w.\- ]+", "_", part) for part in re.split(r"[/\\:]+", name) if part not in ("", ".", "..")]
    path = "/".join(part for part in parts if part) or "notebook"
    return path if path.endswith(".ipynb") else f"{path}.ipynb"


def label_raw_notebooks(
    raw_notebooks: Iterable[tuple[Payload, RawNotebook]], model: StageModel, problems: ProblemLog
) -> Iterator[tuple[Payload, LabelledNotebook]]:
    """Predict raw notebooks (any nbformat version; the JSON is not modified). A notebook coral
    cannot use (not a notebook, another kernel language) is logged and left out."""
    options = ReaderOptions()

    def records() -> Iterator[tuple[Payload, Notebook]]:
        for payload, raw in raw_notebooks:
            # The v1-v3 converter edits what it is given: hand it a copy.
            data = raw.json if raw.json.get("nbformat") == 4 and "worksheets" not in raw.json else copy.deepcopy(raw.json)
            notebook = notebook_from_json(data, raw.id, raw.origin, problems, options, path=raw.relpath)
            if notebook is not None:
                yield payload, notebook

    yield from predict_in_batches(model, records(), problems)


def model_stamp(model_name: str) -> dict[str, str]:
    """Which model and coral version made a label, as annotated notebooks record it."""
    return {"model": model_name, "coral_version": __version__}
