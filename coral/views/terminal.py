"""A notebook's code cells in the terminal, each under its stage (colour and name) and confidence."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from coral.stages import STAGE_NAMES
from coral.views.labelled import DECIDED_BY_TEXT, LOW_CONFIDENCE, LabelledNotebook, confidence, is_low_confidence
from coral.views.report import NO_STAGE_COLOUR, STAGE_COLOURS


def stage_colour(stage: str | None) -> str:
    return STAGE_COLOURS.get(stage or "", NO_STAGE_COLOUR)


def _highlighted(source: str) -> Text:
    """Python-highlighted code as wrapping text (cheaper to lay out than a Syntax block)."""
    code = source.rstrip() or " "
    text = Syntax(code, "python", theme="ansi_dark", background_color="default").highlight(code)
    text.rstrip()
    return text


def barcode(labelled: LabelledNotebook) -> Text:
    """One coloured block per code cell, as in the HTML report."""
    text = Text()
    for cell in labelled.notebook.code_cells:
        prediction = labelled.predictions.get(cell.index)
        text.append("█", style=stage_colour(prediction.stage if prediction else None))
    return text


def show_notebook(
    labelled: LabelledNotebook, console: Console, only: str | None = None, low_confidence: bool = False, threshold: float = LOW_CONFIDENCE
) -> int:
    """Print the notebook's code cells (those of stage ``only``, or below ``threshold`` with
    ``low_confidence``); return how many were printed."""
    predictions = labelled.predictions
    counts = Counter(prediction.stage for prediction in predictions.values())
    summary = Text(f"{labelled.name}  ", style="bold")
    summary.append(barcode(labelled))
    summary.append("  " + ", ".join(f"{stage or 'no stage'} {counts[stage]}" for stage in (*STAGE_NAMES, None) if counts[stage]))
    console.print(summary)
    shown = 0
    for cell in labelled.notebook.code_cells:
        prediction = predictions.get(cell.index)
        stage = prediction.stage if prediction else None
        low = is_low_confidence(prediction, threshold)
        if (only and stage != only) or (low_confidence and not low):
            continue
        title = Text(f" cell {cell.index}  ")
        title.append(f"■ {stage or ('no stage' if prediction else 'not labelled')}", style=f"bold {stage_colour(stage)}")
        if stage:
            title.append(f"  {confidence(prediction):.0%}")
        if prediction is not None and prediction.decided_by:
            title.append(f"  {DECIDED_BY_TEXT[prediction.decided_by]}", style="dim")
        if low and prediction is not None:
            title.append("  low confidence", style="bold reverse")
        title.append(" ")
        console.print(Panel(_highlighted(cell.source), title=title, title_align="left", border_style=stage_colour(stage)))
        shown += 1
    return shown
