"""Parsed cells as Parquet: the schema, the Arrow codec, and the layout of a parsed directory.

A ``coral corpus parse`` output directory is a Parquet dataset that pandas, pyarrow.dataset,
dask.dataframe and Spark read as it is: one ``part-<ordinal>-<hash>.parquet`` file per work
unit, in input order, and only ``_``-prefixed names beside them, which those readers skip::

    _units.json                 the plan: input paths, format and the part names, in input order
    part-00000-<hash>.parquet   parsed cells (schema PARQUET_SCHEMA)
    _part-00000-<hash>.json     the part's sidecar: its statistics and every problem it met
    _errors.jsonl               every notebook or cell the run could not use (ProblemLog format)
    _summary.json               counts: notebooks, cells, problems by reason, top APIs, timings
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from coral.corpora.readers import PathLike
from coral.corpora.records import ASTGraph, ParsedCell
from coral.problems import Problem, ProblemLog

SCHEMA_VERSION = "2"  # 2: the role column
PLAN_FILE = "_units.json"
ERRORS_FILE = "_errors.jsonl"
SUMMARY_FILE = "_summary.json"
PART_GLOB = "part-*.parquet"
READ_BATCH_ROWS = 2_000

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


def part_path(directory: PathLike, name: str) -> Path:
    """The Parquet part of the work unit ``name``."""
    return Path(directory) / f"{name}.parquet"


def sidecar_path(directory: PathLike, name: str) -> Path:
    """The sidecar of the work unit ``name``: ``_``-prefixed, so dataset readers skip it."""
    return Path(directory) / f"_{name}.json"


def is_parsed_dir(path: PathLike) -> bool:
    """A ``coral corpus parse`` output directory (its plan or its Parquet parts)."""
    path = Path(path)
    return path.is_dir() and ((path / PLAN_FILE).is_file() or any(path.glob(PART_GLOB)))


def parsed_parts(directory: PathLike) -> list[Path]:
    """The Parquet parts of a ``coral corpus parse`` output, in input order.

    Raises FileNotFoundError when the run that planned them has not finished them all, so
    a later stage never trains or labels on half a corpus without knowing.
    """
    folder = Path(directory)
    plan_path = folder / PLAN_FILE
    if not plan_path.exists():
        parts = sorted(folder.glob(PART_GLOB))
        if not parts:
            raise FileNotFoundError(f"{folder} holds no parsed cells (no {PLAN_FILE}, no {PART_GLOB})")
        return parts
    names = json.loads(plan_path.read_text(encoding="utf-8"))["parts"]
    parts = [part_path(folder, name) for name in names]
    missing = [part.name for part in parts if not part.exists()]
    if missing:
        raise FileNotFoundError(
            f"{folder}: {len(missing)} of {len(parts)} parts are missing (first: {missing[0]}); "
            "the parse run did not finish; run `coral corpus parse` again to complete it"
        )
    return parts


def parse_problems(directory: PathLike) -> list[Problem]:
    """What the parse run that wrote ``directory`` could not use (its ``_errors.jsonl``), so that
    a stage reading parsed cells reports those notebooks and cells too."""
    path = Path(directory) / ERRORS_FILE
    return ProblemLog.read_jsonl(path) if path.is_file() else []


def read_parsed_cells(directory: PathLike, batch_size: int = READ_BATCH_ROWS,
                      notebooks: frozenset[str] | None = None) -> Iterator[ParsedCell]:
    """Stream the parsed cells of a ``coral corpus parse`` output directory, in input order;
    with ``notebooks``, only theirs (the other rows are dropped in Arrow, never made cells)."""
    wanted = _value_set(notebooks)
    for part in parsed_parts(directory):
        yield from _part_cells(part, batch_size, wanted)


def read_part_cells(part: PathLike, batch_size: int = READ_BATCH_ROWS,
                    notebooks: frozenset[str] | None = None) -> Iterator[ParsedCell]:
    """Stream the parsed cells of one Parquet part, a batch of rows at a time."""
    return _part_cells(part, batch_size, _value_set(notebooks))


def _value_set(notebooks: frozenset[str] | None) -> pa.Array | None:
    return None if notebooks is None else pa.array(sorted(notebooks), pa.string())


def _part_cells(part: PathLike, batch_size: int, wanted: pa.Array | None) -> Iterator[ParsedCell]:
    for batch in pq.ParquetFile(part).iter_batches(batch_size=batch_size):
        if wanted is not None:
            batch = batch.filter(pc.is_in(batch.column("notebook_id"), value_set=wanted))
        yield from table_to_cells(batch)


def parsed_cell_ids(directory: PathLike) -> Iterator[tuple[str, str]]:
    """(cell id, notebook id) of every parsed cell of a directory, in input order: two columns
    read, no cell built (for sizing notebooks before reading some of them)."""
    for part in parsed_parts(directory):
        table = pq.read_table(part, columns=["id", "notebook_id"])
        yield from zip(table.column("id").to_pylist(), table.column("notebook_id").to_pylist())
