"""Stage composition: how much of a notebook (or a group of notebooks) each stage takes.

Units: a study groups cells ``by`` a column, by default ``notebook_id``. Grouping by any
other column (``repo``, a paper id, a metadata column) concatenates the cells of all the
notebooks in the group, as the CORAL paper does per paper.

Abstained cells (``stage`` null) are excluded from every fraction and counted in
``abstained_cells`` / ``abstained_lines``; a unit whose cells all abstain has null
fractions and entropy. Line fractions weight cells by ``lines`` (non-blank, non-comment
lines of code); cell fractions count cells.

Entropy is ``H = -sum_k p_k log p_k`` over the five stage fractions, in nats by default
(``log_base=e``; ``log_base=2`` gives bits). Its maximum is ``log 5`` (1.609 nats, 2.322
bits). ``z_entropy_*`` standardises it across the units of the table (sample SD).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.special import entr

from coral.problems import ALL_ABSTAIN, ProblemLog
from coral.stages import N_STAGES, STAGE_NAMES
from coral.studies.frame import PredictionsLike, as_frame, attach_metadata
from coral.studies.output import StudyOutput

STAGE_COLORS = {"IMPORT": "#4C72B0", "WRANGLE": "#DD8452", "EXPLORE": "#55A868", "MODEL": "#C44E52", "EVALUATE": "#8172B3"}


def _units(frame: pd.DataFrame, by: str) -> pd.Index:
    if by not in frame.columns:
        raise ValueError(f"cannot group by {by!r}: no such column (columns: {', '.join(map(str, frame.columns))})")
    return pd.Index(frame[by].dropna().unique(), name=by)


def stage_fractions(preds: PredictionsLike, by: str = "notebook_id") -> pd.DataFrame:
    """Per unit: labelled and abstained cell/line counts, and the fraction of code cells
    (``frac_cells_<STAGE>``) and of code lines (``frac_lines_<STAGE>``) in each stage."""
    frame = as_frame(preds)
    units = _units(frame, by)
    labelled = frame[frame["labelled"]]
    grouped = labelled.groupby([by, "stage"], observed=False)
    cells = grouped.size().unstack("stage").reindex(index=units, columns=list(STAGE_NAMES), fill_value=0).fillna(0)
    lines = grouped["lines"].sum().unstack("stage").reindex(index=units, columns=list(STAGE_NAMES), fill_value=0).fillna(0)
    abstained = frame[~frame["labelled"]].groupby(by)["lines"].agg(["size", "sum"]).reindex(units, fill_value=0)

    table = pd.DataFrame(index=units)
    table["n_cells"] = cells.sum(axis=1).astype("int64")
    table["n_lines"] = lines.sum(axis=1).astype("int64")
    table["abstained_cells"] = abstained["size"].astype("int64")
    table["abstained_lines"] = abstained["sum"].astype("int64")
    for stage in STAGE_NAMES:
        table[f"frac_cells_{stage}"] = cells[stage] / table["n_cells"].where(table["n_cells"] > 0)
    for stage in STAGE_NAMES:
        table[f"frac_lines_{stage}"] = lines[stage] / table["n_lines"].where(table["n_lines"] > 0)
    return table.reset_index()


def zscore(values: pd.Series) -> pd.Series:
    """Standardise across the non-null values (sample SD); all-equal values give 0."""
    sd = values.std(ddof=1)
    return (values - values.mean()) / sd if sd and not math.isnan(sd) else values * 0.0


def stage_entropy(fractions: pd.DataFrame, log_base: float = math.e) -> pd.DataFrame:
    """Add ``entropy_cells``/``entropy_lines`` and their z-scores to a :func:`stage_fractions` table."""
    if log_base <= 0 or log_base == 1:
        raise ValueError(f"log_base must be positive and not 1, got {log_base}")
    table = fractions.copy()
    for kind in ("cells", "lines"):
        p = table[[f"frac_{kind}_{stage}" for stage in STAGE_NAMES]].to_numpy(dtype=float)
        h = entr(p).sum(axis=1) / math.log(log_base)
        h[np.isnan(p).any(axis=1)] = np.nan
        table[f"entropy_{kind}"] = h
        table[f"z_entropy_{kind}"] = zscore(table[f"entropy_{kind}"])
    return table


def stage_positions(preds: PredictionsLike, by: str = "notebook_id") -> pd.DataFrame:
    """Per unit, the mean normalised position (0..1) of each stage's cells (``pos_<STAGE>``;
    null where the stage does not occur)."""
    frame = as_frame(preds)
    labelled = frame[frame["labelled"]]
    means = labelled.groupby([by, "stage"], observed=False)["position"].mean().unstack("stage")
    means = means.reindex(index=_units(frame, by), columns=list(STAGE_NAMES))
    means.columns = [f"pos_{stage}" for stage in STAGE_NAMES]
    return means.reset_index()


def position_profile(preds: PredictionsLike, bins: int = 10) -> pd.DataFrame:
    """Where stages occur: labelled cells binned by normalised position.

    One row per (position bin, stage): ``cells`` in the bin with that stage, ``share`` of
    the bin's labelled cells (sums to 1 over stages in a bin), and ``density``: the share of
    the stage's cells that fall in the bin (sums to 1 over bins for a stage).
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    frame = as_frame(preds)
    labelled = frame[frame["labelled"]]
    edges = np.linspace(0.0, 1.0, bins + 1)
    bin_index = np.clip((labelled["position"].to_numpy() * bins).astype(int), 0, bins - 1)
    counts = pd.crosstab(bin_index, labelled["stage"].to_numpy()).reindex(index=range(bins), columns=list(STAGE_NAMES), fill_value=0)
    share = counts.div(counts.sum(axis=1).where(lambda s: s > 0), axis=0)
    density = counts.div(counts.sum(axis=0).where(lambda s: s > 0), axis=1)
    rows = []
    for b in range(bins):
        for stage in STAGE_NAMES:
            rows.append(
                {
                    "bin": b,
                    "bin_start": edges[b],
                    "bin_end": edges[b + 1],
                    "stage": stage,
                    "cells": int(counts.loc[b, stage]),
                    "share": share.loc[b, stage],
                    "density": density.loc[b, stage],
                }
            )
    return pd.DataFrame(rows)


def overall_composition(preds: PredictionsLike, fractions: pd.DataFrame) -> pd.DataFrame:
    """Per stage: pooled cell and line counts and fractions over the whole set, and the
    mean and median of the per-unit line fractions (units weigh equally there)."""
    frame = as_frame(preds)
    labelled = frame[frame["labelled"]]
    cells = labelled.groupby("stage", observed=False).size().reindex(list(STAGE_NAMES), fill_value=0)
    lines = labelled.groupby("stage", observed=False)["lines"].sum().reindex(list(STAGE_NAMES), fill_value=0)
    per_unit = fractions[[f"frac_lines_{stage}" for stage in STAGE_NAMES]]
    return pd.DataFrame(
        {
            "stage": list(STAGE_NAMES),
            "cells": cells.to_numpy(),
            "lines": lines.to_numpy(),
            "frac_cells": (cells / max(cells.sum(), 1)).to_numpy(),
            "frac_lines": (lines / max(lines.sum(), 1)).to_numpy(),
            "mean_unit_frac_lines": per_unit.mean().to_numpy(),
            "median_unit_frac_lines": per_unit.median().to_numpy(),
        }
    )


def entropy_histogram(fractions_with_entropy: pd.DataFrame, log_base: float = math.e, bins: int = 20) -> pd.DataFrame:
    """Counts of units per entropy bin, from 0 to the maximum ``log 5``: the entropy figure's numbers."""
    edges = np.linspace(0.0, math.log(N_STAGES) / math.log(log_base), bins + 1)
    values = fractions_with_entropy["entropy_lines"].dropna().to_numpy()
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
    return pd.DataFrame({"bin_start": edges[:-1], "bin_end": edges[1:], "units": counts})


def composition_figure(overall: pd.DataFrame) -> Figure:
    """Bars of the pooled fraction of code lines and of code cells per stage."""
    figure = Figure(figsize=(6, 3.2))
    axes = figure.add_subplot()
    x = np.arange(len(overall))
    axes.bar(x - 0.2, overall["frac_lines"], width=0.4, label="lines", color=[STAGE_COLORS[s] for s in overall["stage"]])
    axes.bar(x + 0.2, overall["frac_cells"], width=0.4, label="cells", color=[STAGE_COLORS[s] for s in overall["stage"]], alpha=0.5, hatch="//")
    axes.set_xticks(x, overall["stage"])
    axes.set_ylabel("fraction (pooled)")
    axes.legend(frameon=False)
    axes.set_title("Code lines (solid) and cells (hatched) per stage")
    return figure


def entropy_figure(histogram: pd.DataFrame, unit: str, log_unit: str) -> Figure:
    """Histogram of stage entropy (line fractions) across units."""
    figure = Figure(figsize=(5, 3.2))
    axes = figure.add_subplot()
    widths = histogram["bin_end"] - histogram["bin_start"]
    axes.bar(histogram["bin_start"], histogram["units"], width=widths, align="edge", color="#4C72B0", edgecolor="white")
    axes.set_xlabel(f"stage entropy of line fractions ({log_unit})")
    axes.set_ylabel({"notebook_id": "notebooks", "repo": "repositories"}.get(unit, f"units ({unit})"))
    return figure


def position_figure(profile: pd.DataFrame) -> Figure:
    """Stacked shares of stages per position bin along the notebook."""
    figure = Figure(figsize=(6, 3.2))
    axes = figure.add_subplot()
    bins = profile.drop_duplicates("bin").set_index("bin")[["bin_start", "bin_end"]]
    wide = profile.pivot(index="bin", columns="stage", values="share").reindex(index=bins.index, columns=list(STAGE_NAMES)).fillna(0)
    bottom = np.zeros(len(bins))
    for stage in STAGE_NAMES:
        axes.bar(bins["bin_start"], wide[stage], width=bins["bin_end"] - bins["bin_start"], bottom=bottom, align="edge",
                 color=STAGE_COLORS[stage], label=stage, edgecolor="white", linewidth=0.3)
        bottom += wide[stage].to_numpy()
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("normalised position of the code cell in its notebook")
    axes.set_ylabel("share of labelled cells")
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return figure


def run(
    preds: PredictionsLike,
    out_dir: str | Path,
    by: str = "notebook_id",
    log_base: float = math.e,
    bins: int = 10,
    metadata: str | Path | pd.DataFrame | None = None,
    key: str | None = None,
) -> StudyOutput:
    """Write the composition study: per-unit stage fractions with entropy and positions,
    the pooled composition, the entropy distribution and the position profile (tables and
    figures) under ``out_dir``."""
    output = StudyOutput(Path(out_dir))
    frame = as_frame(preds, output.problems)
    if metadata is not None:
        frame = attach_metadata(frame, metadata, key, output.problems)
    fractions = stage_entropy(stage_fractions(frame, by), log_base)
    _report_unlabelled(fractions, by, output.problems)
    per_unit = fractions.merge(stage_positions(frame, by), on=by)
    overall = overall_composition(frame, fractions)
    histogram = entropy_histogram(fractions, log_base)
    profile = position_profile(frame, bins)
    log_unit = {math.e: "nats", 2: "bits", 10: "dits"}.get(log_base, f"log base {log_base:g}")

    output.table("stage_fractions", per_unit)
    output.table("composition", overall)
    output.table("entropy_summary", entropy_summary(fractions, by, log_unit))
    output.table("entropy_histogram", histogram)
    output.table("position_profile", profile)
    output.figure("composition", composition_figure(overall))
    output.figure("entropy", entropy_figure(histogram, by, log_unit))
    output.figure("position_profile", position_figure(profile))
    output.write_problems()
    return output


def entropy_summary(fractions_with_entropy: pd.DataFrame, unit: str, log_unit: str) -> pd.DataFrame:
    """Distribution of entropy (of line and of cell fractions) across units."""
    rows = []
    for kind in ("lines", "cells"):
        values = fractions_with_entropy[f"entropy_{kind}"].dropna()
        rows.append(
            {
                "entropy_of": f"{kind} fractions",
                "unit": unit,
                "log": log_unit,
                "units": len(values),
                "mean": values.mean(),
                "sd": values.std(ddof=1),
                "min": values.min(),
                "q25": values.quantile(0.25),
                "median": values.median(),
                "q75": values.quantile(0.75),
                "max": values.max(),
            }
        )
    return pd.DataFrame(rows)


def _report_unlabelled(fractions: pd.DataFrame, by: str, problems: ProblemLog) -> None:
    """Units with no labelled cell get null fractions; say which."""
    for unit in fractions.loc[fractions["n_cells"] == 0, by]:
        problems.add("composition", str(unit), ALL_ABSTAIN, "the model abstained on every code cell; fractions and entropy are null")
