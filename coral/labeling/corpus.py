"""Labeling whole corpora: parsed cells in, a ``LabelMatrix`` (ids + votes) out.

Input is read by :mod:`coral.corpora.cells` (every input kind a command takes).
``label_corpus`` labels in this process; ``label_corpus_parallel`` labels the input's parts
(:func:`coral.corpora.cells.plan_cell_parts`) on the corpus stages' Dask runner, then joins
them in input order: the same matrix as ``label_corpus``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from snorkel.labeling import LabelingFunction

from coral.corpora.cells import CellPart, plan_cell_parts, read_cells
from coral.corpora.dask_runner import run_tasks
from coral.corpora.readers import ReaderOptions
from coral.corpora.records import ParsedCell
from coral.labeling.apply import LabelingFunctionError, OnError, apply_lfs
from coral.labeling.lfsets import load_lf_sets, portable_lf_spec
from coral.labeling.matrix import LabelMatrix
from coral.problems import Problem, ProblemLog, problem_log


def label_cells(
    cells: Iterable[ParsedCell],
    lfs: Sequence[LabelingFunction],
    *,
    on_error: OnError = "raise",
    problems: ProblemLog | None = None,
    progress: bool = False,
) -> LabelMatrix:
    """Apply ``lfs`` to streamed cells, keeping only their ids (not their ASTs) alongside."""
    ids: list[str] = []
    L = apply_lfs(_record_ids(cells, ids), lfs, on_error=on_error, problems=problems, progress=progress)
    return LabelMatrix(ids=ids, L=L, lf_names=[lf.name for lf in lfs])


def label_corpus(
    paths: Sequence[str | Path],
    lfs: Sequence[LabelingFunction],
    *,
    format: str | None = None,
    on_error: OnError = "raise",
    problems: ProblemLog | None = None,
    progress: bool = False,
    options: ReaderOptions | None = None,
) -> LabelMatrix:
    """The label matrix of every code cell under ``paths`` (corpora, read with ``options``,
    or parsed Parquet directories)."""
    cells = read_cells(paths, format=format, problems=problems, options=options)
    return label_cells(cells, lfs, on_error=on_error, problems=problems, progress=progress)


def _record_ids(cells: Iterable[ParsedCell], ids: list[str]) -> Iterator[ParsedCell]:
    for cell in cells:
        ids.append(cell.id)
        yield cell


class LabelPartError(RuntimeError):
    """A part of a parallel labeling run failed for a reason other than an LF; names the part."""


def label_part(
    part: CellPart, lf_specs: Sequence[str], on_error: OnError = "raise", options: ReaderOptions | None = None
) -> tuple[LabelMatrix, list[Problem]]:
    """Label one part (runs on a Dask worker): its matrix, and the problems met reading it
    or applying the LFs. The LFs are loaded here from their specs, so that LFs from a user's
    ``.py`` file need not be pickled."""
    problems = ProblemLog()
    matrix = label_cells(part.cells(problems, options), load_lf_sets(lf_specs), on_error=on_error, problems=problems)
    return matrix, list(problems)


def label_corpus_parallel(
    paths: Sequence[str | Path],
    lf_specs: Sequence[str],
    *,
    format: str | None = None,
    on_error: OnError = "raise",
    problems: ProblemLog | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    notebooks_per_unit: int | None = None,
    progress: bool = False,
    options: ReaderOptions | None = None,
) -> LabelMatrix:
    """``label_corpus`` on Dask: parts labeled in parallel, joined in input order.

    ``lf_specs`` are LF-set specs as ``--lfs`` takes them (each worker loads them);
    ``scheduler`` is a Dask scheduler address (its workers need coral and the LF files),
    otherwise a local cluster of ``workers`` processes runs. ``notebooks_per_unit`` sizes
    the parts of corpora (parsed directories keep their parts). A part that fails stops the
    run with an error naming it (an LF error under ``on_error="raise"`` names LF and cell).
    """
    specs = [portable_lf_spec(spec) for spec in lf_specs]
    lf_names = [lf.name for lf in load_lf_sets(specs)]  # fail early, here, on a bad LF set
    problems = problem_log(problems)
    parts = plan_cell_parts(paths, format, problems, notebooks_per_unit, options)
    results: list[LabelMatrix | None] = [None] * len(parts)
    runs = run_tasks(parts, label_part, scheduler=scheduler, workers=workers, progress=progress,
                     desc="labeling parts", lf_specs=specs, on_error=on_error, options=options)
    for index, outcome, error in runs:
        if isinstance(error, LabelingFunctionError):
            raise error
        if error is not None:
            raise LabelPartError(f"labeling {parts[index].describe()} failed: {type(error).__name__}: {error}") from error
        results[index], part_problems = outcome
        problems.extend(part_problems)
    ids = [cell_id for matrix in results for cell_id in matrix.ids]  # type: ignore[union-attr]
    L = np.vstack([matrix.L for matrix in results]) if results else np.empty((0, len(lf_names)), dtype=np.int64)  # type: ignore[union-attr]
    return LabelMatrix(ids=ids, L=L, lf_names=lf_names)
