"""Labeling whole corpora: parsed cells in, a ``LabelMatrix`` (ids + votes) out.

Input is read by :mod:`coral.corpora.cells` (every input kind a command takes).
``label_corpus`` labels a stream of cells in memory; ``label_to_directory`` (``coral label``)
labels the input's parts (:func:`coral.corpora.cells.plan_cell_parts`) in this process or on
Dask, resumably (:mod:`coral.corpora.parts`), and joins them in input order: the same matrix.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path

import pandas as pd
from snorkel.labeling import LabelingFunction

from coral.atomic import atomic_path

from coral.corpora.cells import CellPart, plan_cell_parts, read_cells
from coral.corpora.readers import ReaderOptions
from coral.corpora.records import ParsedCell
from coral.labeling.apply import LabelingFunctionError, OnError, apply_lfs
from coral.labeling.lfsets import load_lf_sets, portable_lf_spec
from coral.labeling.matrix import LABEL_PROBLEMS_FILE, LabelMatrix, WrittenMatrix, write_label_matrix
from coral.corpora.parts import PartStore, run_parts
from coral.problems import ProblemLog, problem_log


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
    """A part of a labeling run failed for a reason other than an LF; names the part."""


PARTS_DIR = "_parts"  # inside the output directory: readers of the Parquet dataset skip "_" names


def label_part(
    job: tuple[int, CellPart, PartStore, frozenset[str]],
    lf_specs: Sequence[str],
    on_error: OnError = "raise",
    options: ReaderOptions | None = None,
) -> None:
    """Label one part into its store (runs on a Dask worker, or in this process): the part's
    matrix as Parquet, its problems (reading, parsing, LFs) and notebook ids in the sidecar.
    The LFs are loaded here from their specs, so that LFs from a user's ``.py`` file need not
    be pickled; notebooks whose id is in the job's skip set are logged and left out."""
    index, part, store, skip = job
    problems = ProblemLog()
    seen = set(skip)
    matrix = label_cells(part.cells(problems, options, seen=seen), _worker_lfs(tuple(lf_specs)), on_error=on_error,
                         problems=problems)
    with atomic_path(store.output(index)) as temporary:
        matrix.to_frame().to_parquet(temporary, index=False)
        store.write_sidecar(index, problems, seen - skip)


@lru_cache(maxsize=1)
def _worker_lfs(lf_specs: tuple[str, ...]) -> list[LabelingFunction]:
    """The LFs of this process, loaded once for all the parts it labels."""
    return load_lf_sets(lf_specs)


def label_to_directory(
    paths: Sequence[str | Path],
    lf_specs: Sequence[str],
    out: str | Path,
    *,
    format: str | None = None,
    on_error: OnError = "raise",
    problems: ProblemLog | None = None,
    workers: int | None = 1,
    scheduler: str | None = None,
    notebooks_per_unit: int | None = None,
    progress: bool = False,
    options: ReaderOptions | None = None,
) -> WrittenMatrix:
    """Label ``paths`` part by part and write the label-matrix directory ``out`` (see
    :mod:`coral.labeling.matrix`): its problems log, sidecar and matrix, the matrix last,
    streamed part by part so that memory does not grow with the corpus (read it back with
    ``LabelMatrix.read``).

    The parts (:func:`coral.corpora.cells.plan_cell_parts`; ``notebooks_per_unit`` sizes those
    of corpora) are labeled in this process with ``workers=1`` and no ``scheduler``, otherwise
    on Dask (a scheduler's workers need coral and the LF files). Finished parts wait in
    ``out/_parts`` (:mod:`coral.corpora.parts`): a rerun after an interruption, even kill -9, labels
    only the others and writes the same files as an uninterrupted run. An LF error under
    ``on_error="raise"`` names LF and cell; another failure of a part names the part.
    """
    specs = [portable_lf_spec(spec) for spec in lf_specs]
    lf_names = [lf.name for lf in load_lf_sets(specs)]  # fail early, here, on a bad LF set
    problems = problem_log(problems)
    out = Path(out)
    parts = plan_cell_parts(paths, format, problems, notebooks_per_unit, options)
    store = PartStore(out / PARTS_DIR, ".parquet")
    store.start({"inputs": [str(path) for path in paths], "format": format, "lf_sets": specs, "on_error": on_error,
                 "options": repr(options), "parts": [part.key for part in parts]})
    run_parts(parts, label_part, store, _part_failure, scheduler=scheduler, workers=workers, progress=progress,
              desc="labeling parts", lf_specs=specs, on_error=on_error, options=options)
    for index in range(len(parts)):
        problems.extend(store.problems(index))
    problems.write_jsonl(out / LABEL_PROBLEMS_FILE)
    frames = (pd.read_parquet(store.output(index)) for index in range(len(parts)))
    written = write_label_matrix(out, frames, lf_names, lf_sets=list(lf_specs), inputs=[str(path) for path in paths])
    store.remove()
    return written


def _part_failure(part: CellPart, error: BaseException) -> Exception:
    if isinstance(error, LabelingFunctionError):
        return error
    return LabelPartError(f"labeling {part.describe()} failed: {type(error).__name__}: {error}")
