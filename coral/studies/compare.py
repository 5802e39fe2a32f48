"""Comparing groups of notebooks (or of repositories, papers...) defined by a metadata table,
or groups of cells within them defined by a column of the predictions (``role``).

The unit of analysis is ``unit`` (default ``notebook_id``; ``repo`` concatenates each
repository's notebooks, which avoids treating the notebooks of one repository as
independent). Per group and measure: the mean with a percentile-bootstrap 95% CI
(``scipy.stats.bootstrap``, seeded). Per pair of groups and measure: the difference of
means with a bootstrap CI, a two-sided Mann-Whitney U test (``scipy.stats.mannwhitneyu``),
the common-language effect size ``U / (n_a n_b)`` = P(a > b) + P(a = b) / 2, and
Holm-adjusted p-values over all tests of the table (``statsmodels``).
Units with a null measure (every cell abstained, or no consecutive pair for the
transition rate) are left out of that measure only.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats
from statsmodels.stats.multitest import multipletests

from coral.problems import NO_GROUP, NO_METADATA
from coral.stages import N_STAGES, STAGE_NAMES
from coral.studies.composition import STAGE_COLORS
from coral.studies.frame import PredictionsLike, as_frame, attach_metadata
from coral.studies.output import StudyOutput
from coral.studies.summary import summarize

DEFAULT_MEASURES: tuple[str, ...] = (*(f"frac_lines_{stage}" for stage in STAGE_NAMES), "transition_rate", "entropy_lines")


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis)


def _mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def bootstrap_ci(
    samples: Sequence[np.ndarray], statistic, confidence: float, n_resamples: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile bootstrap CI; a sample of one value (or all-equal values) gives a zero-width or null CI."""
    if any(len(sample) < 2 for sample in samples):
        return (math.nan, math.nan)
    if all(np.ptp(sample) == 0 for sample in samples):
        value = float(statistic(*samples))
        return (value, value)
    result = stats.bootstrap(
        tuple(samples), statistic, confidence_level=confidence, n_resamples=n_resamples,
        method="percentile", vectorized=True, batch=max(1, 2_000_000 // sum(map(len, samples))), rng=rng,
    )
    return (float(result.confidence_interval.low), float(result.confidence_interval.high))


def group_means(
    summary: pd.DataFrame,
    group: str,
    measures: Sequence[str] = DEFAULT_MEASURES,
    confidence: float = 0.95,
    n_resamples: int = 9999,
    seed: int = 0,
) -> pd.DataFrame:
    """Per group and measure: number of units, mean and bootstrap CI of the mean."""
    rng = np.random.default_rng(seed)
    rows = []
    for name, units in summary.groupby(group, sort=True, observed=True):
        for measure in measures:
            values = units[measure].dropna().to_numpy(dtype=float)
            low, high = bootstrap_ci([values], _mean, confidence, n_resamples, rng)
            rows.append({"group": str(name), "measure": measure, "n": len(values), "mean": values.mean() if len(values) else math.nan, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)


def group_tests(
    summary: pd.DataFrame,
    group: str,
    measures: Sequence[str] = DEFAULT_MEASURES,
    confidence: float = 0.95,
    n_resamples: int = 9999,
    seed: int = 0,
) -> pd.DataFrame:
    """Per pair of groups (a, b) and measure: means, difference a - b with bootstrap CI,
    Mann-Whitney U, common-language effect size, p and Holm-adjusted p."""
    rng = np.random.default_rng(seed)
    groups = {str(name): units for name, units in summary.groupby(group, sort=True, observed=True)}
    if len(groups) < 2:
        raise ValueError(f"need at least two groups in {group!r} to compare, found {sorted(groups) or 'none'}")
    rows = []
    for a, b in itertools.combinations(sorted(groups), 2):
        for measure in measures:
            x = groups[a][measure].dropna().to_numpy(dtype=float)
            y = groups[b][measure].dropna().to_numpy(dtype=float)
            row = {"group_a": a, "group_b": b, "measure": measure, "n_a": len(x), "n_b": len(y),
                   "mean_a": x.mean() if len(x) else math.nan, "mean_b": y.mean() if len(y) else math.nan}
            row["difference"] = row["mean_a"] - row["mean_b"]
            row["diff_ci_low"], row["diff_ci_high"] = bootstrap_ci([x, y], _mean_difference, confidence, n_resamples, rng)
            if len(x) and len(y):
                test = stats.mannwhitneyu(x, y, alternative="two-sided")
                row.update(U=float(test.statistic), effect_size=float(test.statistic) / (len(x) * len(y)), p=float(test.pvalue))
            else:
                row.update(U=math.nan, effect_size=math.nan, p=math.nan)
            rows.append(row)
    table = pd.DataFrame(rows)
    tested = table["p"].notna()
    table["p_holm"] = math.nan
    if tested.any():
        table.loc[tested, "p_holm"] = multipletests(table.loc[tested, "p"], method="holm")[1]
    return table


def comparison_figure(means: pd.DataFrame, group: str) -> Figure:
    """The paper's Figure 5: mean fraction of code lines per stage and mean fraction of
    cells followed by a different stage, per group, with 95% CIs."""
    figure = Figure(figsize=(9, 3.4))
    left, right = figure.subplots(1, 2, width_ratios=[3, 1])
    names = sorted(means["group"].unique())
    width = 0.8 / len(names)
    hatches = ["", "//", "..", "xx", "\\\\", "oo"]
    for g, name in enumerate(names):
        rows = means[means["group"] == name].set_index("measure")
        lines = rows.reindex([f"frac_lines_{s}" for s in STAGE_NAMES])
        x = np.arange(N_STAGES) + (g - (len(names) - 1) / 2) * width
        errors = np.abs(np.vstack([lines["mean"] - lines["ci_low"], lines["ci_high"] - lines["mean"]]))
        left.bar(x, lines["mean"], width, yerr=np.nan_to_num(errors), capsize=2, label=f"{group}={name}",
                 color=[STAGE_COLORS[s] for s in STAGE_NAMES], alpha=1.0 - 0.45 * g / max(len(names) - 1, 1),
                 hatch=hatches[g % len(hatches)], edgecolor="black", linewidth=0.4)
        rate = rows.loc["transition_rate"]
        right.bar(g, rate["mean"], 0.6, yerr=[[abs(rate["mean"] - rate["ci_low"])], [abs(rate["ci_high"] - rate["mean"])]],
                  capsize=3, color="#999999", hatch=hatches[g % len(hatches)], edgecolor="black", linewidth=0.4)
    left.set_xticks(range(N_STAGES), STAGE_NAMES)
    left.set_ylabel("fraction of code lines")
    left.legend(frameon=False)
    right.set_xticks(range(len(names)), [f"{group}={n}" for n in names], rotation=20)
    right.set_ylabel("fraction of cells that transition")
    figure.tight_layout()
    return figure


def split_units(frame: pd.DataFrame, unit: str, group: str) -> tuple[pd.DataFrame, str]:
    """The cell table with a unit per (``unit``, ``group``) value pair, and that unit's column.

    Transition rates of such a unit count consecutive cells of the group within the unit.
    """
    column = f"{unit}|{group}"
    frame = frame[frame[unit].notna()].copy()
    frame[column] = frame[unit].astype(str) + " | " + frame[group].astype(str)
    return frame, column


def run(
    preds: PredictionsLike,
    metadata: str | Path | pd.DataFrame | None,
    group: str,
    out_dir: str | Path,
    key: str | None = None,
    unit: str = "notebook_id",
    measures: Sequence[str] = DEFAULT_MEASURES,
    confidence: float = 0.95,
    n_resamples: int = 9999,
    seed: int = 0,
) -> StudyOutput:
    """Write the group comparison: per-unit summary with its group, group means with CIs,
    pairwise tests, and the Figure-5-style plot.

    Without ``metadata``, ``group`` is a column of the cells themselves (``role``): each
    unit is then split by it, so that a notebook's solution cells and its other cells are
    two units (``<unit> | <group>``) of two groups.
    """
    output = StudyOutput(Path(out_dir))
    frame = as_frame(preds, output.problems)
    if metadata is None:
        if group not in frame.columns:
            raise ValueError(f"no column {group!r} in the predictions; give a metadata table that has it")
        frame, unit = split_units(frame, unit, group)
    else:
        frame = attach_metadata(frame, metadata, key, output.problems)
    if group not in frame.columns:
        raise ValueError(f"no column {group!r} in the metadata table")
    uncovered = {p.item for p in output.problems if p.reason == NO_METADATA}
    for notebook_id in frame.loc[frame[group].isna(), "notebook_id"].unique():
        if notebook_id not in uncovered:
            output.problems.add("compare", notebook_id, NO_GROUP, f"the metadata row has no {group} value; left out")
    frame = frame[frame[group].notna()]
    summary = summarize(frame, unit, carry=[group])
    unknown = [m for m in measures if m not in summary.columns]
    if unknown:
        raise ValueError(f"unknown measures {', '.join(unknown)}; choose from {', '.join(c for c in summary.columns if c != unit)}")
    means = group_means(summary, group, measures, confidence, n_resamples, seed)
    tests = group_tests(summary, group, measures, confidence, n_resamples, seed)
    output.table("units", summary)
    output.table("group_means", means)
    output.table("group_tests", tests)
    output.figure("comparison", comparison_figure(means, group))
    output.write_problems()
    return output
