"""Which stages call a function: the CORAL paper's Table IV, for functions outside the seeds.

A cell calls a function when one of its qualified calls (``apis``) is the function's name,
or starts with it followed by ``.`` (a call chained on its result, such as
``pandas.DataFrame.groupby.mean``, also calls ``pandas.DataFrame.groupby``). Each cell
counts once per function. Abstained cells are counted (``abstained``) and excluded from the
stage distribution.

The study is about functions the model never saw labelled: a function that a training LF
fires on was labelled for the model by that LF, so its row says how well the model learned
the LF, not how it generalises. ``seen_by`` (from ``coral.labeling.analysis.
lfs_firing_on_functions``) names those LFs; the table lists them in ``seen_by_lfs`` and the
figure marks the function with a dagger. ``DEFAULT_FUNCTIONS`` are functions on which no LF
of the shipped sets (paper, extended) fires; ``PAPER_FUNCTIONS`` is the paper's own list,
most of which the extended set covers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from coral.problems import NEVER_CALLED
from coral.stages import STAGE_NAMES
from coral.studies.composition import STAGE_COLORS
from coral.studies.frame import PredictionsLike, as_frame
from coral.studies.output import StudyOutput

PAPER_FUNCTIONS: tuple[str, ...] = (
    "pandas.DataFrame.dropna",
    "pandas.DataFrame.groupby",
    "seaborn.jointplot",
    "seaborn.countplot",
    "sklearn.linear_model.SGDClassifier",
    "sklearn.linear_model.PassiveAggressiveClassifier",
    "sklearn.metrics.f1_score",
    "sklearn.metrics.log_loss",
)
DEFAULT_FUNCTIONS: tuple[str, ...] = (
    "pandas.DataFrame.groupby",
    "pandas.DataFrame.pivot_table",
    "pandas.crosstab",
    "pandas.DataFrame.query",
    "pandas.DataFrame.nunique",
    "pandas.DataFrame.corr",
    "numpy.corrcoef",
    "numpy.histogram",
    "scipy.stats.ks_2samp",
    "sklearn.calibration.calibration_curve",
    "shap.TreeExplainer",
)


def calls(apis: Sequence[str], function: str) -> bool:
    """Whether a cell with these qualified calls calls ``function`` (see the module docstring)."""
    prefix = function + "."
    return any(api == function or api.startswith(prefix) for api in apis)


def function_stages(
    preds: PredictionsLike, functions: Sequence[str] = DEFAULT_FUNCTIONS, seen_by: Mapping[str, Sequence[str]] | None = None
) -> pd.DataFrame:
    """Per function: cells that call it, abstained among them, the count and fraction of the
    labelled ones in each stage (``n_<STAGE>``, ``frac_<STAGE>``), and the training LFs that
    fire on it (``seen_by_lfs``, empty for an unseen function; absent without ``seen_by``)."""
    frame = as_frame(preds)
    rows = []
    for function in functions:
        calling = frame[frame["apis"].map(lambda apis: calls(apis, function))]
        labelled = calling[calling["labelled"]]
        counts = labelled["stage"].value_counts().reindex(list(STAGE_NAMES), fill_value=0)
        row: dict[str, object] = {"function": function, "cells": len(calling), "abstained": int((~calling["labelled"]).sum())}
        row.update({f"n_{stage}": int(counts[stage]) for stage in STAGE_NAMES})
        total = counts.sum()
        row.update({f"frac_{stage}": counts[stage] / total if total else np.nan for stage in STAGE_NAMES})
        row["top_stage"] = counts.idxmax() if total else None
        if seen_by is not None:
            row["seen_by_lfs"] = ", ".join(seen_by.get(function, ()))
        rows.append(row)
    return pd.DataFrame(rows)


def function_figure(table: pd.DataFrame) -> Figure:
    """Horizontal stacked bars: each function's distribution over stages."""
    figure = Figure(figsize=(7, 0.45 * len(table) + 1.2))
    axes = figure.add_subplot()
    left = np.zeros(len(table))
    y = np.arange(len(table))
    for stage in STAGE_NAMES:
        values = table[f"frac_{stage}"].fillna(0).to_numpy()
        axes.barh(y, values, left=left, color=STAGE_COLORS[stage], label=stage)
        left += values
    seen = table["seen_by_lfs"].astype(bool) if "seen_by_lfs" in table else pd.Series(False, index=table.index)
    axes.set_yticks(y, [f"{f}{' †' if s else ''} (n={n})" for f, s, n in zip(table["function"], seen, table["cells"])])
    axes.invert_yaxis()
    axes.set_xlim(0, 1)
    axes.set_xlabel("fraction of labelled cells calling the function")
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    if seen.any():
        axes.set_title("† a training LF fires on this function: not unseen", fontsize=8, loc="left")
    return figure


def run(
    preds: PredictionsLike,
    out_dir: str | Path,
    functions: Sequence[str] = DEFAULT_FUNCTIONS,
    seen_by: Mapping[str, Sequence[str]] | None = None,
) -> StudyOutput:
    """Write the function table (CSV, Markdown) and its stacked-bar figure."""
    output = StudyOutput(Path(out_dir))
    table = function_stages(as_frame(preds, output.problems), functions, seen_by)
    for function in table.loc[table["cells"] == 0, "function"]:
        output.problems.add("functions", function, NEVER_CALLED, "no predicted cell calls this function")
    output.table("functions", table)
    output.figure("functions", function_figure(table))
    output.write_problems()
    return output
