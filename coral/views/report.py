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
from coral.views.labelled import LOW_CONFIDENCE, LabelledNotebook, Prediction

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


def report_data(labelled: Iterable[LabelledNotebook], title: str, model: str) -> dict[str, Any]:
    """Everything the page draws, as plain JSON-ready data (compact: one list per cell)."""
    notebooks: list[dict[str, Any]] = []
    predictions: list[Prediction] = []
    for item in labelled:
        cells = []
        for cell in item.notebook.cells:
            prediction = item.predictions.get(cell.index) if cell.cell_type == "code" else None
            row: list[Any] = [CELL_TYPES[cell.cell_type], cell.index, cell.source]
            if cell.cell_type == "code":
                row += _code_fields(prediction)
                if prediction is not None:
                    predictions.append(prediction)
            cells.append(row)
        notebooks.append({"name": item.notebook.id, "path": item.notebook.path or item.notebook.origin, "cells": cells})
    return {
        "title": title,
        "model": model,
        "coral_version": __version__,
        "stages": list(STAGE_NAMES),
        "colours": [STAGE_COLOURS[stage] for stage in STAGE_NAMES],
        "no_stage_colour": NO_STAGE_COLOUR,
        "low_confidence": LOW_CONFIDENCE,
        "notebooks": notebooks,
        "overview": overview(predictions),
    }


def _code_fields(prediction: Prediction | None) -> list[Any]:
    """``[stage index or -1 (no stage) or None (not predicted), probabilities or None, lines]``."""
    if prediction is None:
        return [None, None, 0]
    if prediction.stage is None:
        return [-1, None, prediction.lines]
    probs = [round(float(prediction.probs.get(stage, 0.0)), 3) for stage in STAGE_NAMES]
    return [STAGE_NAMES.index(prediction.stage), probs, prediction.lines]


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


def render_report(data: dict[str, Any]) -> str:
    """The page with ``data`` embedded; ``</`` is escaped so no cell text can end the script."""
    template = resources.files("coral.views").joinpath("report.html").read_text(encoding="utf-8")
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return template.replace(DATA_MARKER, payload)


def write_report(labelled: Iterable[LabelledNotebook], out: str | Path, title: str = "coral report", model: str = "") -> ReportSummary:
    """Write the HTML report of ``labelled`` notebooks to ``out``."""
    data = report_data(labelled, title, model)
    if not data["notebooks"]:
        raise ValueError("no notebook to report: none of the inputs could be read (see the problems)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(data), encoding="utf-8")
    code = [cell for notebook in data["notebooks"] for cell in notebook["cells"] if cell[0] == "c"]
    return ReportSummary(out, len(data["notebooks"]), len(code), sum(cell[3] is not None and cell[3] >= 0 for cell in code))
