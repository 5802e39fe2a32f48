"""From corpora to parsed cells: streamed in this process, or written to Parquet through Dask.

``coral corpus parse`` splits the input into *work units* (a chunk of ``.ipynb`` files, or
a range of lines of a shard / members of an archive) and parses each on a Dask worker into
one Parquet part. A part is written under a temporary name and renamed when complete, with
a sidecar JSON (its statistics and every problem it met) renamed just before it, so a killed
run never leaves a half part that looks finished, and a rerun skips the parts already done.

Output directory layout::

    units.json            the plan: input paths, format and the part names, in input order
    part-00000-<hash>.parquet / .json   parsed cells (schema PARQUET_SCHEMA) and sidecar
    errors.jsonl          every notebook or cell the run could not use (ProblemLog format)
    summary.json          counts: notebooks, cells, problems by reason, top APIs, timings

The part name hashes its inputs (paths, ranges, sizes and modification times) and the
reader limits, so changed inputs are parsed afresh rather than mistaken for finished work.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from coral.corpora.parse import parse_notebook
from coral.corpora.problems import ProblemLog
from coral.corpora.readers import (
    PathLike,
    ReaderOptions,
    Source,
    count_records,
    discover_sources,
    read_notebooks,
    read_source,
)
from coral.corpora.records import ASTGraph, Notebook, ParsedCell, Problem

__all__ = [
    "PARQUET_SCHEMA",
    "CorpusStats",
    "ParseSummary",
    "WorkUnit",
    "cells_to_table",
    "corpus_stats",
    "count_unit",
    "iter_parsed_cells",
    "parse_corpus",
    "parsed_parts",
    "plan_work_units",
    "process_unit",
    "read_parsed_cells",
    "table_to_cells",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION = "2"  # 2: the role column
DEFAULT_NOTEBOOKS_PER_UNIT = 500
CELLS_PER_BATCH = 500
ROWS_PER_GROUP = 20_000

# ParsedCell as Parquet: one row per code cell; its ASTGraph as three aligned list columns.
PARQUET_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("notebook_id", pa.string()),
        ("index", pa.int32()),
        ("position", pa.float64()),
        ("source", pa.string()),
        ("markdown_above", pa.string()),
        ("execution_count", pa.int64()),
        ("nbgrader", pa.string()),
        ("lines", pa.int32()),
        ("statements", pa.int32()),
        ("imports", pa.int32()),
        ("imported_modules", pa.list_(pa.string())),
        ("names_bound", pa.list_(pa.string())),
        ("single_expression", pa.bool_()),
        ("called_names", pa.list_(pa.string())),
        ("apis", pa.list_(pa.string())),
        ("magics", pa.list_(pa.string())),
        ("syntax_errors", pa.int32()),
        ("graph_types", pa.list_(pa.string())),
        ("graph_values", pa.list_(pa.string())),
        ("graph_parents", pa.list_(pa.int32())),
        ("role", pa.string()),
    ],
    metadata={"coral.record": "ParsedCell", "coral.schema_version": SCHEMA_VERSION},
)
GRAPH_COLUMNS = {"graph_types": "types", "graph_values": "values", "graph_parents": "parents"}
CELL_COLUMNS = [name for name in PARQUET_SCHEMA.names if name not in GRAPH_COLUMNS]


def cells_to_table(cells: list[ParsedCell]) -> pa.Table:
    """Parsed cells as an Arrow table in :data:`PARQUET_SCHEMA`."""
    columns: dict[str, list[Any]] = {name: [getattr(cell, name) for cell in cells] for name in CELL_COLUMNS}
    for column, attribute in GRAPH_COLUMNS.items():
        columns[column] = [getattr(cell.graph, attribute) for cell in cells]
    return pa.Table.from_pydict(columns, schema=PARQUET_SCHEMA)


def table_to_cells(table: pa.Table | pa.RecordBatch) -> Iterator[ParsedCell]:
    """Parsed cells back from an Arrow table or batch in :data:`PARQUET_SCHEMA`.

    Parts written before the ``role`` column existed read back with no roles.
    """
    present = set(table.schema.names)
    columns = {
        name: table.column(name).to_pylist() if name in present else [None] * table.num_rows
        for name in PARQUET_SCHEMA.names
    }
    for row in range(table.num_rows):
        values = {name: columns[name][row] for name in CELL_COLUMNS}
        graph = ASTGraph(**{attribute: columns[column][row] for column, attribute in GRAPH_COLUMNS.items()})
        yield ParsedCell(**values, graph=graph)


def parse_safely(notebook: Notebook, problems: ProblemLog) -> list[ParsedCell]:
    """Parse one notebook; a failure the parser did not foresee skips the notebook, logged."""
    try:
        return parse_notebook(notebook, problems)
    except Exception as error:
        problems.add(notebook.origin, notebook.id, "parse-failed", repr(error))
        return []


def iter_parsed_cells(
    paths: PathLike | Iterable[PathLike],
    format: str | None = None,
    problems: ProblemLog | None = None,
    options: ReaderOptions | None = None,
) -> Iterator[ParsedCell]:
    """Stream the parsed code cells of a corpus, reading and parsing in this process."""
    problems = problems if problems is not None else ProblemLog()
    for notebook in read_notebooks(paths, format, problems, options):
        yield from parse_safely(notebook, problems)


def _is_cell_item(item: str | None) -> bool:
    return item is not None and "#" in item


@dataclass
class CorpusStats:
    """What a corpus holds and what could not be used; mergeable across work units."""

    notebooks: int = 0
    cells: Counter[str] = field(default_factory=Counter)  # by cell type
    parsed_cells: int = 0
    cells_with_syntax_errors: int = 0
    notebook_problems: Counter[str] = field(default_factory=Counter)  # by reason: notebooks/records skipped
    cell_problems: Counter[str] = field(default_factory=Counter)  # by reason: problems with single cells
    apis: Counter[str] = field(default_factory=Counter)  # qualified API -> number of cells calling it

    def add(self, notebook: Notebook, parsed: list[ParsedCell]) -> None:
        self.notebooks += 1
        self.cells.update(cell.cell_type for cell in notebook.cells)
        self.parsed_cells += len(parsed)
        for cell in parsed:
            self.cells_with_syntax_errors += cell.syntax_errors > 0
            self.apis.update(set(cell.apis))

    def add_problems(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            counter = self.cell_problems if _is_cell_item(problem.item) else self.notebook_problems
            counter[problem.reason] += 1

    def merge(self, other: CorpusStats) -> None:
        self.notebooks += other.notebooks
        self.cells.update(other.cells)
        self.parsed_cells += other.parsed_cells
        self.cells_with_syntax_errors += other.cells_with_syntax_errors
        self.notebook_problems.update(other.notebook_problems)
        self.cell_problems.update(other.cell_problems)
        self.apis.update(other.apis)

    def to_dict(self, top_apis: int | None = 25) -> dict[str, Any]:
        """Plain JSON; ``top_apis=None`` keeps every API (for sidecars that are merged later)."""
        return {
            "notebooks": self.notebooks,
            "cells": dict(self.cells.most_common()),
            "code_cells": self.cells["code"],
            "markdown_cells": self.cells["markdown"],
            "parsed_cells": self.parsed_cells,
            "cells_with_syntax_errors": self.cells_with_syntax_errors,
            "notebooks_skipped": sum(self.notebook_problems.values()),
            "notebook_problems": dict(self.notebook_problems.most_common()),
            "cell_problems": dict(self.cell_problems.most_common()),
            "distinct_apis": len(self.apis),
            "apis": dict(self.apis.most_common(top_apis)),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CorpusStats:
        return cls(
            notebooks=data["notebooks"],
            cells=Counter(data["cells"]),
            parsed_cells=data["parsed_cells"],
            cells_with_syntax_errors=data["cells_with_syntax_errors"],
            notebook_problems=Counter(data["notebook_problems"]),
            cell_problems=Counter(data["cell_problems"]),
            apis=Counter(data["apis"]),
        )


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
    """Count notebooks, cells, problems and APIs of a corpus (reading and parsing it).

    Streams in this process by default; with ``workers`` > 1 (None: all cores) or a Dask
    ``scheduler`` address, work units are counted in parallel, as :func:`parse_corpus` does.
    """
    problems = problems if problems is not None else ProblemLog()
    stats = CorpusStats()
    if scheduler is None and workers == 1:
        notebooks = read_notebooks(paths, format, problems, options)
        for notebook in tqdm(notebooks, desc="notebooks", unit=" nb", disable=not progress, mininterval=1.0):
            stats.add(notebook, parse_safely(notebook, problems))
        stats.add_problems(problems)
        return stats
    units = plan_work_units(paths, format, problems, notebooks_per_unit, options)
    stats.add_problems(problems)  # found while planning
    reports = {
        report.name: report for report in _run_units(units, count_unit, scheduler, workers, progress, options=options)
    }
    for unit in units:
        stats.merge(reports[unit.name].stats)
        problems.extend(reports[unit.name].problems)
    return stats


@dataclass(frozen=True, slots=True)
class WorkUnit:
    """A piece of a corpus parsed into one Parquet part: record ranges of one or more sources."""

    name: str
    slices: tuple[tuple[Source, int, int | None], ...]

    def notebooks(self, problems: ProblemLog, options: ReaderOptions) -> Iterator[Notebook]:
        for source, start, stop in self.slices:
            yield from read_source(source, problems, options, start, stop)

    def describe(self) -> list[str]:
        return [f"{source.path}[{start}:{'' if stop is None else stop}]" for source, start, stop in self.slices]


def _unit_name(ordinal: int, slices: list[tuple[Source, int, int | None]], options: ReaderOptions) -> str:
    digest = hashlib.sha1(f"{SCHEMA_VERSION}|{options!r}".encode())
    for source, start, stop in slices:
        status = source.path.stat()
        where = f"{source.path.resolve()}|{source.kind}|{source.notebook_id}|{start}|{stop}"
        digest.update(f"{where}|{status.st_size}|{status.st_mtime_ns}".encode())
    return f"part-{ordinal:05d}-{digest.hexdigest()[:12]}"


def plan_work_units(
    paths: PathLike | Iterable[PathLike],
    format: str | None = None,
    problems: ProblemLog | None = None,
    notebooks_per_unit: int = DEFAULT_NOTEBOOKS_PER_UNIT,
    options: ReaderOptions | None = None,
) -> list[WorkUnit]:
    """Split the input into work units of about ``notebooks_per_unit`` records each, in order.

    Single ``.ipynb`` files are grouped; shards and archives are cut into record ranges
    (the last range of a file is open-ended, so its reader meets and logs any damage at
    the end), except a JuICe file read with ``juice_cells="all"``, which stays whole so that
    each cell is labeled once. Planning only counts lines and members; nothing is parsed.
    """
    if notebooks_per_unit < 1:
        raise ValueError("notebooks_per_unit must be at least 1")
    options = options or ReaderOptions()
    groups: list[list[tuple[Source, int, int | None]]] = []
    pending_files: list[tuple[Source, int, int | None]] = []
    for source in discover_sources(paths, format, problems):
        if source.kind == "ipynb":
            pending_files.append((source, 0, None))
            if len(pending_files) == notebooks_per_unit:
                groups.append(pending_files)
                pending_files = []
            continue
        if pending_files:
            groups.append(pending_files)
            pending_files = []
        # Labeling every JuICe cell once needs the whole file in one stream (records repeat cells).
        whole = source.kind == "juice" and options.juice_cells == "all"
        starts = [0] if whole else list(range(0, max(count_records(source), 1), notebooks_per_unit))
        for position, start in enumerate(starts):
            stop = starts[position + 1] if position + 1 < len(starts) else None
            groups.append([(source, start, stop)])
    if pending_files:
        groups.append(pending_files)
    return [WorkUnit(_unit_name(ordinal, group, options), tuple(group)) for ordinal, group in enumerate(groups)]


@dataclass
class UnitReport:
    """What one work unit produced (read back from its sidecar when the part already existed)."""

    name: str
    stats: CorpusStats
    problems: list[Problem]
    reused: bool = False


def _parse_unit(
    unit: WorkUnit, problems: ProblemLog, stats: CorpusStats, options: ReaderOptions
) -> Iterator[list[ParsedCell]]:
    """The parsed cells of each notebook of a unit, counted into ``stats`` on the way."""
    for notebook in unit.notebooks(problems, options):
        parsed = parse_safely(notebook, problems)
        stats.add(notebook, parsed)
        yield parsed


def _replace_atomically(path: Path, write: Callable[[Path], Any]) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _read_sidecar(path: Path, reused: bool) -> UnitReport:
    data = json.loads(path.read_text(encoding="utf-8"))
    return UnitReport(
        data["name"], CorpusStats.from_dict(data["stats"]), [Problem(**problem) for problem in data["problems"]], reused
    )


def process_unit(unit: WorkUnit, out_dir: str | Path, options: ReaderOptions | None = None) -> UnitReport:
    """Read and parse one work unit into ``<name>.parquet`` plus its ``<name>.json`` sidecar.

    Runs on a Dask worker. A unit whose part and sidecar both exist is not redone.
    """
    out = Path(out_dir)
    part, sidecar = out / f"{unit.name}.parquet", out / f"{unit.name}.json"
    if part.exists() and sidecar.exists():
        return _read_sidecar(sidecar, reused=True)
    options = options or ReaderOptions()
    problems = ProblemLog()
    stats = CorpusStats()

    def write_part(path: Path) -> None:
        # Cells become Arrow every CELLS_PER_BATCH (few live Python objects keeps the garbage
        # collector cheap); batches are written as row groups of about ROWS_PER_GROUP.
        with pq.ParquetWriter(path, PARQUET_SCHEMA, compression="zstd") as writer:
            cells: list[ParsedCell] = []
            tables: list[pa.Table] = []
            for parsed in _parse_unit(unit, problems, stats, options):
                cells.extend(parsed)
                if len(cells) >= CELLS_PER_BATCH:
                    tables.append(cells_to_table(cells))
                    cells = []
                if sum(table.num_rows for table in tables) >= ROWS_PER_GROUP:
                    writer.write_table(pa.concat_tables(tables))
                    tables = []
            writer.write_table(pa.concat_tables([*tables, cells_to_table(cells)]))

    def write_sidecar(path: Path) -> None:
        record = {
            "name": unit.name,
            "inputs": unit.describe(),
            "stats": stats.to_dict(top_apis=None),
            "problems": [asdict(problem) for problem in problems],
        }
        path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")

    temporary_part = part.with_name(f".{part.name}.tmp-{os.getpid()}")
    try:
        write_part(temporary_part)
        stats.add_problems(problems)
        _replace_atomically(sidecar, write_sidecar)
        os.replace(temporary_part, part)  # last: the part's existence marks the unit finished
    finally:
        temporary_part.unlink(missing_ok=True)
    return UnitReport(unit.name, stats, list(problems))


def count_unit(unit: WorkUnit, options: ReaderOptions | None = None) -> UnitReport:
    """Read and parse one work unit for its statistics only (parallel ``coral corpus stats``)."""
    problems = ProblemLog()
    stats = CorpusStats()
    for _ in _parse_unit(unit, problems, stats, options or ReaderOptions()):
        pass
    stats.add_problems(problems)
    return UnitReport(unit.name, stats, list(problems))


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A ``distributed`` client: on the given scheduler, or on a local cluster of processes."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: a fixed one clashes with other clusters
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _run_units(
    units: list[WorkUnit],
    task: Callable[..., UnitReport],
    scheduler: str | None,
    workers: int | None,
    progress: bool,
    **arguments: Any,
) -> Iterator[UnitReport]:
    """``task(unit, **arguments)`` for every unit, in this process or on Dask, as they finish."""
    bar = tqdm(total=len(units), desc="work units", unit=" part", disable=not progress)
    if scheduler is None and workers == 1:
        for unit in units:
            yield task(unit, **arguments)
            bar.update()
        bar.close()
        return
    from distributed import as_completed

    with dask_client(scheduler, workers) as client:
        futures = client.map(task, units, pure=False, **arguments)
        unit_of = {future.key: unit for future, unit in zip(futures, units)}
        for future in as_completed(futures):
            bar.update()
            if future.status == "error":
                unit = unit_of[future.key]
                failure = Problem(", ".join(unit.describe()), unit.name, "unit-failed", repr(future.exception())[:500])
                yield UnitReport(unit.name, CorpusStats(notebook_problems=Counter({"unit-failed": 1})), [failure])
            else:
                yield future.result()
            future.release()
    bar.close()


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
    path_list = [str(path) for path in ([paths] if isinstance(paths, (str, os.PathLike)) else paths)]
    units = plan_work_units(path_list, format, planning, notebooks_per_unit, options)
    plan = {"paths": path_list, "format": format, "schema_version": SCHEMA_VERSION, "parts": [u.name for u in units]}
    _replace_atomically(out / "units.json", lambda path: path.write_text(json.dumps(plan, indent=1), encoding="utf-8"))

    reports = {
        report.name: report
        for report in _run_units(units, process_unit, scheduler, workers, progress, out_dir=str(out), options=options)
    }
    ordered = [reports[unit.name] for unit in units]
    stats = CorpusStats()
    stats.add_problems(planning)
    errors = ProblemLog()
    errors.extend(planning)
    for report in ordered:
        stats.merge(report.stats)
        errors.extend(report.problems)
    errors.write_jsonl(out / "errors.jsonl")
    summary = ParseSummary(
        out, len(units), sum(report.reused for report in ordered), stats, len(errors), time.perf_counter() - started
    )
    (out / "summary.json").write_text(json.dumps(summary.to_dict(), indent=1, ensure_ascii=False), encoding="utf-8")
    return summary


def parsed_parts(directory: PathLike) -> list[Path]:
    """The Parquet parts of a ``coral corpus parse`` output, in input order.

    Raises FileNotFoundError when the run that planned them has not finished them all, so
    a later stage never trains or labels on half a corpus without knowing.
    """
    folder = Path(directory)
    plan_path = folder / "units.json"
    if not plan_path.exists():
        parts = sorted(folder.glob("part-*.parquet"))
        if not parts:
            raise FileNotFoundError(f"{folder} holds no parsed cells (no units.json, no part-*.parquet)")
        return parts
    names = json.loads(plan_path.read_text(encoding="utf-8"))["parts"]
    parts = [folder / f"{name}.parquet" for name in names]
    missing = [part.name for part in parts if not part.exists()]
    if missing:
        raise FileNotFoundError(
            f"{folder}: {len(missing)} of {len(parts)} parts are missing (first: {missing[0]}); "
            "the parse run did not finish; run `coral corpus parse` again to complete it"
        )
    return parts


def read_parsed_cells(directory: PathLike, batch_size: int = 2_000) -> Iterator[ParsedCell]:
    """Stream the parsed cells of a ``coral corpus parse`` output directory, in input order."""
    for part in parsed_parts(directory):
        for batch in pq.ParquetFile(part).iter_batches(batch_size=batch_size):
            yield from table_to_cells(batch)
