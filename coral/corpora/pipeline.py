"""Parsing a corpus to a Parquet dataset, and counting it, work unit by work unit.

``coral corpus parse`` plans work units (:mod:`coral.corpora.units`) and parses each on the
Dask runner (:mod:`coral.corpora.dask_runner`) into one Parquet part (layout in
:mod:`coral.corpora.parquet`). A part is written under a temporary name and renamed when
complete, with its sidecar renamed just before it, so a killed run never leaves a half
part that looks finished, and a rerun skips the parts already done. A notebook id that two
units hold is kept in the first: the later unit is parsed again without it, which is reported.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from coral.atomic import atomic_path
from coral.corpora.cells import parse_safely
from coral.corpora.dask_runner import run_tasks
from coral.corpora.parquet import (
    ERRORS_FILE,
    PARQUET_SCHEMA,
    PLAN_FILE,
    SCHEMA_VERSION,
    SUMMARY_FILE,
    cells_to_table,
    is_parsed_dir,
    parse_problems,
    parsed_parts,
    part_path,
    sidecar_path,
)
from coral.corpora.parts import repeated_ids
from coral.corpora.readers import PathLike, ReaderOptions, as_path_list, read_notebooks
from coral.corpora.records import ParsedCell
from coral.corpora.stats import CorpusStats
from coral.corpora.units import DEFAULT_NOTEBOOKS_PER_UNIT, WorkUnit, plan_work_units
from coral.problems import PARSE_FAILED, UNIT_FAILED, Problem, ProblemLog, problem_log

CELLS_PER_BATCH = 500
ROWS_PER_GROUP = 20_000


def corpus_stats(
    paths: PathLike | Iterable[PathLike],
    format: str | None = None,
    problems: ProblemLog | None = None,
    options: ReaderOptions | None = None,
    progress: bool = False,
    scheduler: str | None = None,
    workers: int | None = 1,
    notebooks_per_unit: int = DEFAULT_NOTEBOOKS_PER_UNIT,
) -> CorpusStats:
    """Count notebooks, cells, problems and APIs of a corpus (reading and parsing it); a
    parsed directory among ``paths`` gives what its parse run counted, without parsing again.

    Streams in this process by default; with ``workers`` > 1 (None: all cores) or a Dask
    ``scheduler`` address, work units are counted in parallel, as :func:`parse_corpus` does.
    """
    problems = problem_log(problems)
    parsed, corpora = [], []
    for path in as_path_list(paths):
        (parsed if is_parsed_dir(path) else corpora).append(path)
    stats = _count_corpora(corpora, format, problems, options, progress, scheduler, workers,
                           notebooks_per_unit) if corpora else CorpusStats()
    for directory in parsed:  # counted by their parse run, problems included
        stats.merge(parsed_dir_stats(directory))
        problems.extend(parse_problems(directory))
    return stats


def _count_corpora(paths: list[Path], format: str | None, problems: ProblemLog, options: ReaderOptions | None,
                   progress: bool, scheduler: str | None, workers: int | None, notebooks_per_unit: int) -> CorpusStats:
    stats = CorpusStats()
    if scheduler is None and workers == 1:
        notebooks = read_notebooks(paths, format, problems, options)
        for notebook in tqdm(notebooks, desc="notebooks", unit=" nb", disable=not progress, mininterval=1.0):
            stats.add(notebook, parse_safely(notebook, problems))
        stats.add_problems(problems)
        return stats
    units = plan_work_units(paths, format, problems, notebooks_per_unit, options)
    stats.add_problems(problems)  # found while planning
    reports = {report.name: report for report in _run_units(units, count_unit, scheduler, workers, progress, options=options)}
    for unit in units:
        stats.merge(reports[unit.name].stats)
        problems.extend(reports[unit.name].problems)
    return stats


def parsed_dir_stats(directory: PathLike) -> CorpusStats:
    """What the parse run that wrote ``directory`` counted: its summary (problems included),
    with every API from its parts' sidecars (the summary keeps the most frequent only)."""
    folder = Path(directory)
    if not (folder / SUMMARY_FILE).is_file():
        raise FileNotFoundError(f"{folder}: no {SUMMARY_FILE}: the parse run did not finish; "
                                "run `coral corpus parse` again to complete it")
    stats = CorpusStats.from_dict(json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8")))
    stats.apis = Counter()
    for part in parsed_parts(folder):
        stats.apis.update(json.loads(sidecar_path(folder, part.stem).read_text(encoding="utf-8"))["stats"]["apis"])
    return stats


@dataclass
class UnitReport:
    """What one work unit produced (read back from its sidecar when the part already existed);
    ``notebook_ids``: the ids of the whole notebooks it kept, to find those another unit repeats."""

    name: str
    stats: CorpusStats
    problems: list[Problem]
    reused: bool = False
    notebook_ids: list[str] = field(default_factory=list)


def _parse_unit(
    unit: WorkUnit, problems: ProblemLog, stats: CorpusStats, options: ReaderOptions, seen: set[str] | None = None
) -> Iterator[list[ParsedCell]]:
    """The parsed cells of each notebook of a unit, counted into ``stats`` on the way."""
    for notebook in unit.notebooks(problems, options, seen):
        parsed = parse_safely(notebook, problems)
        stats.add(notebook, parsed)
        yield parsed


def _notebooks_to_table(notebooks: list[list[ParsedCell]], problems: ProblemLog) -> pa.Table:
    """The parsed cells of several notebooks as one Arrow table; should a notebook's cells not
    convert, it alone is left out and logged, and the others are kept."""
    try:
        return cells_to_table([cell for cells in notebooks for cell in cells])
    except Exception:  # find the notebook at fault
        tables = [cells_to_table([])]
        for cells in notebooks:
            try:
                tables.append(cells_to_table(cells))
            except Exception as error:
                problems.add(cells[0].notebook_id, cells[0].notebook_id, PARSE_FAILED, f"cannot be stored: {error!r}")
        return pa.concat_tables(tables)


def _read_sidecar(path: Path, reused: bool) -> UnitReport:
    data = json.loads(path.read_text(encoding="utf-8"))
    return UnitReport(
        data["name"], CorpusStats.from_dict(data["stats"]), [Problem(**problem) for problem in data["problems"]], reused,
        data.get("notebook_ids", []),
    )


def process_unit(
    unit: WorkUnit, out_dir: str | Path, options: ReaderOptions | None = None, skip: frozenset[str] = frozenset()
) -> UnitReport:
    """Read and parse one work unit into ``<name>.parquet`` plus its ``_<name>.json`` sidecar.

    Runs on a Dask worker. A unit whose part and sidecar both exist is not redone, unless
    ``skip`` names notebook ids to leave out (and report): those an earlier unit holds.
    """
    part, sidecar = part_path(out_dir, unit.name), sidecar_path(out_dir, unit.name)
    if part.exists() and sidecar.exists() and not skip:
        return _read_sidecar(sidecar, reused=True)
    options = options or ReaderOptions()
    problems = ProblemLog()
    stats = CorpusStats()
    seen = set(skip)

    def write_part(path: Path) -> None:
        # Cells become Arrow every CELLS_PER_BATCH (few live Python objects keeps the garbage
        # collector cheap); batches are written as row groups of about ROWS_PER_GROUP.
        with pq.ParquetWriter(path, PARQUET_SCHEMA, compression="zstd") as writer:
            notebooks: list[list[ParsedCell]] = []
            n_cells = 0
            tables: list[pa.Table] = []
            for parsed in _parse_unit(unit, problems, stats, options, seen):
                notebooks.append(parsed)
                n_cells += len(parsed)
                if n_cells >= CELLS_PER_BATCH:
                    tables.append(_notebooks_to_table(notebooks, problems))
                    notebooks, n_cells = [], 0
                if sum(table.num_rows for table in tables) >= ROWS_PER_GROUP:
                    writer.write_table(pa.concat_tables(tables))
                    tables = []
            writer.write_table(pa.concat_tables([*tables, _notebooks_to_table(notebooks, problems)]))

    def write_sidecar(path: Path) -> None:
        record = {
            "name": unit.name,
            "inputs": unit.describe(),
            "stats": stats.to_dict(top_apis=None),
            "problems": [asdict(problem) for problem in problems],
            "notebook_ids": sorted(seen - skip),
        }
        path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")

    with atomic_path(part) as temporary_part:  # renamed last: the part's existence marks the unit finished
        write_part(temporary_part)
        stats.add_problems(problems)
        with atomic_path(sidecar) as temporary_sidecar:
            write_sidecar(temporary_sidecar)
    return UnitReport(unit.name, stats, list(problems), notebook_ids=sorted(seen - skip))


def count_unit(unit: WorkUnit, options: ReaderOptions | None = None) -> UnitReport:
    """Read and parse one work unit for its statistics only (parallel ``coral corpus stats``)."""
    problems = ProblemLog()
    stats = CorpusStats()
    for _ in _parse_unit(unit, problems, stats, options or ReaderOptions()):
        pass
    stats.add_problems(problems)
    return UnitReport(unit.name, stats, list(problems))


def _run_units(
    units: list[WorkUnit],
    task: Callable[..., UnitReport],
    scheduler: str | None,
    workers: int | None,
    progress: bool,
    **arguments: Any,
) -> Iterator[UnitReport]:
    """``task(unit, **arguments)`` for every unit as they finish; a unit whose task failed on
    a worker becomes a ``unit-failed`` problem instead of stopping the run."""
    runs = run_tasks(units, task, scheduler=scheduler, workers=workers, progress=progress, desc="work units", **arguments)
    for index, report, error in runs:
        if error is None:
            yield report
            continue
        unit = units[index]
        failure = Problem(", ".join(unit.describe()), unit.name, UNIT_FAILED, repr(error)[:500])
        yield UnitReport(unit.name, CorpusStats(notebook_problems=Counter({UNIT_FAILED: 1})), [failure])


@dataclass
class ParseSummary:
    """The outcome of :func:`parse_corpus`."""

    out_dir: Path
    units: int
    units_reused: int
    stats: CorpusStats
    problems: int
    seconds: float

    def to_dict(self, top_apis: int = 25) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "units": self.units,
            "units_reused": self.units_reused,
            "problems": self.problems,
            "seconds": round(self.seconds, 2),
            **self.stats.to_dict(top_apis),
        }


def parse_corpus(
    paths: PathLike | Iterable[PathLike],
    out_dir: PathLike,
    format: str | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    notebooks_per_unit: int = DEFAULT_NOTEBOOKS_PER_UNIT,
    options: ReaderOptions | None = None,
    progress: bool = False,
) -> ParseSummary:
    """Parse a corpus into Parquet parts under ``out_dir`` on Dask; see the module docstring.

    ``scheduler`` is a Dask scheduler address (the workers need coral installed and
    ``out_dir`` on a filesystem they share); without one, a local cluster of ``workers``
    processes (all cores by default) runs the units, or this process when ``workers=1``.
    """
    started = time.perf_counter()
    options = options or ReaderOptions()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    planning = ProblemLog()
    path_list = [str(path) for path in as_path_list(paths)]
    units = plan_work_units(path_list, format, planning, notebooks_per_unit, options)
    plan = {"paths": path_list, "format": format, "schema_version": SCHEMA_VERSION, "parts": [u.name for u in units]}
    with atomic_path(out / PLAN_FILE) as temporary:
        temporary.write_text(json.dumps(plan, indent=1), encoding="utf-8")

    reports = {
        report.name: report
        for report in _run_units(units, process_unit, scheduler, workers, progress, out_dir=str(out), options=options)
    }
    # a notebook id two units hold is kept in the first: the others are parsed again without it
    repeats = repeated_ids([reports[unit.name].notebook_ids for unit in units])
    for index, skip in repeats.items():
        reports[units[index].name] = process_unit(units[index], out, options, skip)
    ordered = [reports[unit.name] for unit in units]
    stats = CorpusStats()
    stats.add_problems(planning)
    errors = ProblemLog()
    errors.extend(planning)
    for report in ordered:
        stats.merge(report.stats)
        errors.extend(report.problems)
    errors.write_jsonl(out / ERRORS_FILE)
    summary = ParseSummary(
        out, len(units), sum(report.reused for report in ordered), stats, len(errors), time.perf_counter() - started
    )
    with atomic_path(out / SUMMARY_FILE) as temporary:
        temporary.write_text(json.dumps(summary.to_dict(), indent=1, ensure_ascii=False), encoding="utf-8")
    return summary
