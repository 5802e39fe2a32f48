"""LF analysis: Snorkel's ``LFAnalysis`` over a label matrix, with empirical accuracy on the
cells that have gold labels, and the cells where an LF disagrees (for reading conflicts)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd
from snorkel.labeling import LabelingFunction, LFAnalysis

from coral.corpora.parse import parse_notebook
from coral.corpora.records import Cell, Notebook, ParsedCell
from coral.labeling.apply import apply_lfs
from coral.labeling.matrix import LabelMatrix
from coral.problems import ProblemLog
from coral.stages import ABSTAIN, STAGE_NAMES, stage_from_name


@contextmanager
def _quiet_scipy() -> Iterator[None]:
    """LFAnalysis builds sparse matrices in a way SciPy now warns about; the warning is not ours."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module="scipy")
        yield


def gold_vector(ids: Sequence[str], gold: Mapping[str, str]) -> np.ndarray:
    """Gold stage indices aligned with ``ids``; -1 where a cell has no gold label."""
    return np.array([int(stage_from_name(gold[i])) if i in gold else ABSTAIN for i in ids], dtype=np.int64)


def lf_summary(matrix: LabelMatrix, gold: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per LF: polarity (stage names), coverage, overlaps and conflicts over all cells;
    with ``gold``, coverage on the gold cells and Snorkel's correct / incorrect / empirical
    accuracy there."""
    with _quiet_scipy():
        summary = LFAnalysis(matrix.L).lf_summary()
    summary.index = matrix.lf_names
    summary["Polarity"] = [", ".join(STAGE_NAMES[k] for k in polarity) for polarity in summary["Polarity"]]
    if gold is not None:
        y = gold_vector(matrix.ids, gold)
        has_gold = y != ABSTAIN
        if not has_gold.any():
            raise ValueError("none of the labeled cells has a gold label: check that the gold file fits the corpus")
        with _quiet_scipy():
            on_gold = LFAnalysis(matrix.L[has_gold]).lf_summary(Y=y[has_gold])
        summary["Gold coverage"] = (matrix.L[has_gold] != ABSTAIN).mean(axis=0)
        for column in ("Correct", "Incorrect", "Emp. Acc."):
            summary[column] = on_gold[column].to_numpy()
        summary.loc[summary["Correct"] + summary["Incorrect"] == 0, "Emp. Acc."] = np.nan
    summary.index.name = "LF"
    return summary


def overall_summary(matrix: LabelMatrix) -> dict[str, float]:
    """Share of cells that at least one LF labels, that two label, and where they disagree."""
    if not matrix.ids:
        return {"cells": 0.0, "coverage": 0.0, "overlap": 0.0, "conflict": 0.0}
    with _quiet_scipy():
        analysis = LFAnalysis(matrix.L)
        return {
            "cells": float(len(matrix.ids)),
            "coverage": float(analysis.label_coverage()),
            "overlap": float(analysis.label_overlap()),
            "conflict": float(analysis.label_conflict()),
        }


def disagreements(matrix: LabelMatrix, lf_name: str, gold: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Cells where ``lf_name`` votes and either gold (when given) or another LF says otherwise:
    the rows to read when an LF's accuracy or conflicts look bad."""
    if lf_name not in matrix.lf_names:
        raise ValueError(f"no LF named {lf_name!r}; the LFs are {', '.join(matrix.lf_names)}")
    j = matrix.lf_names.index(lf_name)
    votes = matrix.L[:, j]
    rows = []
    for i in np.flatnonzero(votes != ABSTAIN):
        others = {matrix.lf_names[k]: STAGE_NAMES[v] for k, v in enumerate(matrix.L[i]) if k != j and v not in (ABSTAIN, votes[i])}
        gold_stage = gold.get(matrix.ids[i]) if gold is not None else None
        wrong = gold_stage is not None and gold_stage != STAGE_NAMES[votes[i]]
        if wrong or (gold is None and others):
            rows.append({"id": matrix.ids[i], "vote": STAGE_NAMES[votes[i]], "gold": gold_stage,
                         "conflicting_lfs": ", ".join(f"{name}={stage}" for name, stage in others.items())})
    return pd.DataFrame(rows, columns=["id", "vote", "gold", "conflicting_lfs"])


def lfs_firing_on_functions(functions: Sequence[str], lfs: Sequence[LabelingFunction]) -> dict[str, list[str]]:
    """Per function: the LFs that vote on a cell calling it, where they abstain on the same
    cell calling a function no LF knows. A study of how a model labels "unseen" functions
    (the CORAL paper's Table IV) must leave out the functions with a non-empty list: the
    model was trained on those functions' weak labels.

    Each function is probed in two written forms, qualified (``pandas.DataFrame.dropna(data)``,
    after ``import pandas`` in the cell above) and as a method (``data.dropna()``), so that
    LFs matching qualified APIs and LFs matching calls as written are both caught.
    """
    probes = {"": _probe_cells(PROBE_BASELINE)}
    probes.update({function: _probe_cells(function) for function in functions})
    cells = [cell for group in probes.values() for cell in group]
    L = apply_lfs(cells, lfs, on_error="log", problems=ProblemLog())
    baseline = (L[: len(probes[""])] != ABSTAIN).any(axis=0)
    fired: dict[str, list[str]] = {}
    start = len(probes[""])
    for function in functions:
        votes = (L[start : start + len(probes[function])] != ABSTAIN).any(axis=0) & ~baseline
        fired[function] = [lf.name for lf, vote in zip(lfs, votes) if vote]
        start += len(probes[function])
    return fired


PROBE_BASELINE = "coral_probe.unknown_function"


def _probe_cells(function: str) -> list[ParsedCell]:
    module, _, last = function.rpartition(".")
    root = function.split(".", 1)[0]
    sources = [f"import {root}", "data = None", f"result = {function}(data)\ndata = result", f"result = data.{last}()\ndata = result"]
    notebook = Notebook(id=f"probe:{function}", origin="probe",
                        cells=[Cell(f"probe:{function}", index, "code", source) for index, source in enumerate(sources)])
    return parse_notebook(notebook, ProblemLog())[2:]
