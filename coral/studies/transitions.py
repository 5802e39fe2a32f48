"""Stage transitions between consecutive code cells.

Cells are ordered by ``index`` within a notebook. Abstained cells are skipped: the cells
before and after one count as consecutive, so an abstention neither creates nor hides a
transition. Transitions never cross notebooks, also when a unit (``by``) concatenates
several notebooks. A unit's ``transition_rate`` is the fraction of its labelled cells that
have a labelled successor in their notebook (``pairs``) whose stage differs (``changes``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from coral.stages import N_STAGES, STAGE_NAMES
from coral.studies.frame import PredictionsLike, as_frame, attach_metadata
from coral.studies.output import StudyOutput


def transition_pairs(preds: PredictionsLike, by: str = "notebook_id") -> pd.DataFrame:
    """One row per consecutive pair of labelled cells: ``by``, ``notebook_id``, ``source``, ``target``."""
    frame = as_frame(preds)
    keys = ["notebook_id"] if by == "notebook_id" else [by, "notebook_id"]
    labelled = frame[frame["labelled"] & frame[by].notna()].sort_values([*keys, "index"], kind="stable")
    following = labelled.groupby(keys, sort=False, observed=True)["stage"].shift(-1)
    pairs = labelled.assign(source=labelled["stage"], target=following)
    pairs = pairs[pairs["target"].notna()]
    columns = list(dict.fromkeys([by, "notebook_id", "source", "target"]))
    return pairs[columns].reset_index(drop=True)


def transition_counts(preds: PredictionsLike) -> pd.DataFrame:
    """5 x 5 counts of transitions from the row stage to the column stage, over all notebooks."""
    pairs = transition_pairs(preds)
    counts = pd.crosstab(
        pd.Categorical(pairs["source"], categories=list(STAGE_NAMES)),
        pd.Categorical(pairs["target"], categories=list(STAGE_NAMES)),
        dropna=False,
    )
    counts = counts.reindex(index=list(STAGE_NAMES), columns=list(STAGE_NAMES), fill_value=0)
    counts.index.name, counts.columns.name = "from", "to"
    return counts


def transition_matrix(counts: pd.DataFrame) -> pd.DataFrame:
    """Row-normalise transition counts: P(next stage | this stage); a stage never followed gives a null row."""
    totals = counts.sum(axis=1)
    return counts.div(totals.where(totals > 0), axis=0)


def transition_rates(preds: PredictionsLike, by: str = "notebook_id") -> pd.DataFrame:
    """Per unit: ``pairs`` (labelled cells with a labelled successor), ``changes`` (successor
    of another stage) and ``transition_rate`` = changes / pairs (null without pairs)."""
    frame = as_frame(preds)
    pairs = transition_pairs(frame, by)
    pairs = pairs.assign(change=(pairs["source"].astype(str) != pairs["target"].astype(str)).astype(int))
    units = pd.Index(frame[by].dropna().unique(), name=by)
    table = pairs.groupby(by, observed=True)["change"].agg(pairs="size", changes="sum").reindex(units, fill_value=0)
    table["transition_rate"] = table["changes"] / table["pairs"].where(table["pairs"] > 0)
    return table.reset_index()


def _square_table(matrix: pd.DataFrame) -> pd.DataFrame:
    """A stage-by-stage matrix as a table with a ``from`` column, for CSV and Markdown."""
    return matrix.rename_axis(index="from", columns=None).reset_index()


def heatmap_figure(matrix: pd.DataFrame, counts: pd.DataFrame) -> Figure:
    """Row-normalised transition matrix as a heatmap, each cell annotated with P and the count."""
    figure = Figure(figsize=(5.2, 4.4))
    axes = figure.add_subplot()
    values = matrix.to_numpy(dtype=float)
    image = axes.imshow(np.nan_to_num(values), cmap="Blues", vmin=0, vmax=1)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isnan(values[i, j]):
                continue
            colour = "white" if values[i, j] > 0.55 else "black"
            axes.text(j, i, f"{values[i, j]:.2f}\n({int(counts.iat[i, j])})", ha="center", va="center", fontsize=7, color=colour)
    axes.set_xticks(range(N_STAGES), STAGE_NAMES, rotation=30)
    axes.set_yticks(range(N_STAGES), STAGE_NAMES)
    axes.set_xlabel("next code cell")
    axes.set_ylabel("code cell")
    figure.colorbar(image, ax=axes, label="P(next stage | stage)")
    return figure


def run(
    preds: PredictionsLike,
    out_dir: str | Path,
    by: str = "notebook_id",
    metadata: str | Path | pd.DataFrame | None = None,
    key: str | None = None,
) -> StudyOutput:
    """Write the transitions study: counts, row-normalised matrix (with a heatmap), and
    per-unit transition rates with their distribution."""
    output = StudyOutput(Path(out_dir))
    frame = as_frame(preds, output.problems)
    if metadata is not None:
        frame = attach_metadata(frame, metadata, key, output.problems)
    counts = transition_counts(frame)
    matrix = transition_matrix(counts)
    rates = transition_rates(frame, by)
    valid = rates["transition_rate"].dropna()
    summary = pd.DataFrame(
        [
            {
                "unit": by,
                "units": len(rates),
                "units_with_pairs": len(valid),
                "pairs": int(rates["pairs"].sum()),
                "changes": int(rates["changes"].sum()),
                "pooled_rate": rates["changes"].sum() / max(rates["pairs"].sum(), 1),
                "mean_rate": valid.mean(),
                "median_rate": valid.median(),
                "sd_rate": valid.std(ddof=1),
            }
        ]
    )
    output.table("transition_counts", _square_table(counts))
    output.table("transition_matrix", _square_table(matrix))
    output.table("transition_rates", rates)
    output.table("transition_summary", summary)
    output.figure("transitions", heatmap_figure(matrix, counts))
    output.write_problems()
    return output
