"""Labeling whole corpora: parsed cells in, a ``LabelMatrix`` (ids + votes) out.

``label_corpus`` labels in this process; ``label_corpus_parallel`` cuts the input into parts
(the Parquet parts of a parsed directory, or the corpus pipeline's work units, which are
read and parsed where they are labeled) and labels them on Dask workers, a local cluster
or ``scheduler``, then joins the parts in input order: the same matrix as ``label_corpus``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from snorkel.labeling import LabelingFunction
from tqdm import tqdm

from coral.corpora.problems import ProblemLog
from coral.corpora.records import ParsedCell, Problem
from coral.labeling.apply import LabelingFunctionError, OnError, apply_lfs
from coral.labeling.lfsets import load_lf_sets, portable_lf_spec
from coral.labeling.matrix import LabelMatrix

if TYPE_CHECKING:
    from coral.corpora.readers import ReaderOptions


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
    cells = iter_input_cells(paths, format=format, problems=problems, options=options)
    return label_cells(cells, lfs, on_error=on_error, problems=problems, progress=progress)


def is_parsed_dir(path: str | Path) -> bool:
    """A ``coral corpus parse`` output directory (its plan or its Parquet parts)."""
    path = Path(path)
    return path.is_dir() and ((path / "units.json").is_file() or any(path.glob("part-*.parquet")))


def iter_input_cells(
    paths: Sequence[str | Path],
    format: str | None = None,
    problems: ProblemLog | None = None,
    options: ReaderOptions | None = None,
) -> Iterator[ParsedCell]:
    """Parsed cells, in input order, from corpus paths (any format the readers know, read and
    parsed here with ``options``) and parsed Parquet directories (read back)."""
    from coral.corpora.pipeline import iter_parsed_cells, read_parsed_cells

    for path in paths:
        if is_parsed_dir(path):
            yield from read_parsed_cells(path)
        else:
            yield from iter_parsed_cells([path], format=format, problems=problems, options=options)


def _record_ids(cells: Iterable[ParsedCell], ids: list[str]) -> Iterator[ParsedCell]:
    for cell in cells:
        ids.append(cell.id)
        yield cell


class LabelPartError(RuntimeError):
    """A part of a parallel labeling run failed for a reason other than an LF; names the part."""


@dataclass(frozen=True, slots=True)
class LabelPart:
    """One task of a parallel labeling run: a Parquet part of a parsed directory, or a work
    unit of a corpus (``coral.corpora.pipeline.WorkUnit``) read and parsed by the task."""

    parquet: Path | None = None
    unit: object | None = None

    def describe(self) -> str:
        return str(self.parquet) if self.parquet is not None else ", ".join(self.unit.describe())  # type: ignore[union-attr]


def plan_label_parts(
    paths: Sequence[str | Path],
    format: str | None = None,
    problems: ProblemLog | None = None,
    notebooks_per_unit: int | None = None,
    options: ReaderOptions | None = None,
) -> list[LabelPart]:
    """The parts of the input, in input order (parsing nothing): each Parquet part of a
    parsed directory, and corpora cut as ``coral corpus parse`` cuts them."""
    from coral.corpora.pipeline import DEFAULT_NOTEBOOKS_PER_UNIT, parsed_parts, plan_work_units

    per_unit = notebooks_per_unit or DEFAULT_NOTEBOOKS_PER_UNIT
    parts: list[LabelPart] = []
    for path in paths:
        if is_parsed_dir(path):
            parts.extend(LabelPart(parquet=part) for part in parsed_parts(path))
        else:
            units = plan_work_units([path], format, problems, per_unit, options)
            parts.extend(LabelPart(unit=unit) for unit in units)
    return parts


def label_part(
    part: LabelPart, lf_specs: Sequence[str], on_error: OnError = "raise", options: ReaderOptions | None = None
) -> tuple[LabelMatrix, list[Problem]]:
    """Label one part (runs on a Dask worker): its matrix, and the problems met reading it
    or applying the LFs. The LFs are loaded here from their specs, so that LFs from a user's
    ``.py`` file need not be pickled."""
    import pyarrow.parquet as pq

    from coral.corpora.pipeline import parse_safely, table_to_cells
    from coral.corpora.readers import ReaderOptions

    problems = ProblemLog()
    if part.parquet is not None:
        batches = pq.ParquetFile(part.parquet).iter_batches(batch_size=2_000)
        cells: Iterable[ParsedCell] = (cell for batch in batches for cell in table_to_cells(batch))
    else:
        notebooks = part.unit.notebooks(problems, options or ReaderOptions())  # type: ignore[union-attr]
        cells = (cell for notebook in notebooks for cell in parse_safely(notebook, problems))
    matrix = label_cells(cells, load_lf_sets(lf_specs), on_error=on_error, problems=problems)
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
    from coral.corpora.pipeline import dask_client

    specs = [portable_lf_spec(spec) for spec in lf_specs]
    lf_names = [lf.name for lf in load_lf_sets(specs)]  # fail early, here, on a bad LF set
    parts = plan_label_parts(paths, format, problems, notebooks_per_unit, options)
    results: list[LabelMatrix] = []
    if parts:
        with dask_client(scheduler, workers) as client:
            futures = client.map(label_part, parts, lf_specs=specs, on_error=on_error, options=options, pure=False)
            for part, future in zip(parts, tqdm(futures, desc="labeling parts", unit=" part", disable=not progress)):
                try:
                    matrix, part_problems = future.result()
                except LabelingFunctionError:
                    raise
                except Exception as exc:
                    raise LabelPartError(f"labeling {part.describe()} failed: {type(exc).__name__}: {exc}") from exc
                results.append(matrix)
                if problems is not None:
                    problems.extend(part_problems)
    ids = [cell_id for matrix in results for cell_id in matrix.ids]
    L = np.vstack([matrix.L for matrix in results]) if results else np.empty((0, len(lf_names)), dtype=np.int64)
    return LabelMatrix(ids=ids, L=L, lf_names=lf_names)
