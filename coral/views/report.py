"""One self-contained HTML file to browse a labelled corpus: the studies' overview, a stage
"barcode" per notebook and each notebook's cells with their stage and probabilities.

The page needs no network: the data is embedded as JSON and drawn by a small script in the
page (``report.html`` beside this module), which pages through the notebook list, so a report
of thousands of notebooks stays responsive. The overview's numbers come from
``coral.studies`` (composition, entropy and transitions as ``coral study`` computes them).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from coral import __version__
from coral.stages import STAGE_NAMES
from coral.studies import composition, transitions
from coral.studies.frame import as_frame
from coral.views.labelled import DECIDED_BY_TEXT, LOW_CONFIDENCE, LabelledNotebook, Prediction

# Okabe & Ito's palette, distinguishable with the common colour-vision deficiencies.
STAGE_COLOURS = {"IMPORT": "#E69F00", "WRANGLE": "#56B4E9", "EXPLORE": "#009E73", "MODEL": "#D55E00", "EVALUATE": "#CC79A7"}
NO_STAGE_COLOUR = "#BBBBBB"
DATA_MARKER = "/*CORAL-REPORT-DATA*/"
CELL_TYPES = {"code": "c", "markdown": "m", "raw": "r"}


@dataclass(slots=True)
class ReportSummary:
    """What a report holds."""

    out: Path
    n_notebooks: int
    n_code_cells: int
    n_labelled: int


def notebook_entry(item: LabelledNotebook) -> dict[str, Any]:
    """One notebook as the page draws it (compact: one list per cell)."""
    cells = []
    for cell in item.notebook.cells:
        row: list[Any] = [CELL_TYPES[cell.cell_type], cell.index, cell.source]
        if cell.cell_type == "code":
            row += _code_fields(item.predictions.get(cell.index))
        cells.append(row)
    return {"name": item.notebook.id, "path": item.notebook.path or item.notebook.origin, "cells": cells}


def page_settings(title: str, model: str) -> dict[str, Any]:
    return {
        "title": title,
        "model": model,
        "coral_version": __version__,
        "stages": list(STAGE_NAMES),
        "colours": [STAGE_COLOURS[stage] for stage in STAGE_NAMES],
        "no_stage_colour": NO_STAGE_COLOUR,
        "low_confidence": LOW_CONFIDENCE,
        "decided_by": DECIDED_BY_TEXT,
    }


def _code_fields(prediction: Prediction | None) -> list[Any]:
    """``[stage index or -1 (no stage) or None (not predicted), probabilities or None, lines,
    what labelled the cell (``Prediction.decided_by``) or None]``."""
    if prediction is None:
        return [None, None, 0, None]
    if prediction.stage is None:
        return [-1, None, prediction.lines, prediction.decided_by]
    probs = [round(float(prediction.probs.get(stage, 0.0)), 3) for stage in STAGE_NAMES]
    return [STAGE_NAMES.index(prediction.stage), probs, prediction.lines, prediction.decided_by]


def overview(predictions: list[Prediction]) -> dict[str, Any]:
    """Stage composition, transition matrix and entropy distribution, by ``coral.studies``."""
    if not predictions:
        return {}
    frame = as_frame(predictions)
    fractions = composition.stage_entropy(composition.stage_fractions(frame))
    counts = transitions.transition_counts(frame)
    return {
        "n_notebooks": int(frame["notebook_id"].nunique()),
        "n_cells": int(len(frame)),
        "n_abstained": int((~frame["labelled"]).sum()),
        "composition": _records(composition.overall_composition(frame, fractions)),
        "transition_counts": counts.to_numpy().tolist(),
        "transition_matrix": _nulls(transitions.transition_matrix(counts).to_numpy().tolist()),
        "entropy_histogram": _records(composition.entropy_histogram(fractions, bins=10)),
        "entropy_max": math.log(len(STAGE_NAMES)),
    }


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return _nulls(json.loads(table.to_json(orient="records")))


def _nulls(value: Any) -> Any:
    """NaN (a stage never followed, no labelled cell) as JSON null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, list):
        return [_nulls(item) for item in value]
    if isinstance(value, dict):
        return {key: _nulls(item) for key, item in value.items()}
    return value


def _json(value: Any) -> str:
    """Compact JSON, with ``</`` escaped so that no cell text can end the page's script."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def _slim(prediction: Prediction) -> Prediction:
    """What the overview needs of a prediction, without its probabilities and APIs."""
    return Prediction(prediction.id, prediction.stage, {}, prediction.notebook_id, prediction.index, prediction.lines)


def write_report(labelled: Iterable[LabelledNotebook], out: str | Path, title: str = "coral report", model: str = "") -> ReportSummary:
    """Write the HTML report of ``labelled`` notebooks to ``out``, one notebook at a time
    (memory holds one notebook's text, plus a slim record per code cell for the overview)."""
    template = resources.files("coral.views").joinpath("report.html").read_text(encoding="utf-8")
    head, tail = template.split(DATA_MARKER)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    predictions: list[Prediction] = []
    n_notebooks = n_code = 0
    with open(out, "w", encoding="utf-8") as page:
        page.write(head + _json(page_settings(title, model))[:-1] + ',"notebooks":[')
        for item in labelled:
            page.write(("," if n_notebooks else "") + _json(notebook_entry(item)))
            n_notebooks += 1
            n_code += len(item.notebook.code_cells)
            predictions.extend(_slim(item.predictions[cell.index]) for cell in item.notebook.code_cells if cell.index in item.predictions)
        page.write('],"overview":' + _json(overview(predictions)) + "}" + tail)
    if not n_notebooks:
        out.unlink()
        raise ValueError("no notebook to report: none of the inputs could be read (see the problems)")
    return ReportSummary(out, n_notebooks, n_code, sum(prediction.stage is not None for prediction in predictions))
