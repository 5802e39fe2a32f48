"""CORAL's preprocessed cells (``coral-ucsd-sample/train.txt``), one code cell per line.

Each line carries ``id``, ``file`` (the converted notebook), ``context`` (the code),
``annotation`` (markdown lines above, as CORAL extracted them), ``header``, and the
precomputed ``funcs`` and ``nodes``, kept as given in ``Cell.funcs`` / ``Cell.coral_nodes``.

Each record becomes a one-cell notebook (CORAL's files sample cells, not notebooks): the
cell id is ``str(id)``, the notebook id ``coral:<file stem>`` (``coral:nb_828079`` for
``.../nb_828079.py``; ``coral:<id>`` when ``file`` is absent), and the cell index 0.
``markdown_above`` is the annotation lines joined by newlines, or the header if there are none.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from coral.corpora.formats.common import ReaderOptions
from coral.corpora.records import Cell, Notebook
from coral.problems import BAD_FIELD, MISSING_FIELD, ProblemLog

REQUIRED_FIELDS = ("id", "context")


def looks_like(record: Any) -> bool:
    return isinstance(record, dict) and "context" in record and ("funcs" in record or "annotation" in record)


def _markdown_above(record: dict[str, Any]) -> str:
    annotation = record.get("annotation")
    if isinstance(annotation, list):
        text = "\n".join(line.strip() for line in annotation if isinstance(line, str) and line.strip())
        if text:
            return text
    header = record.get("header")
    return header.strip() if isinstance(header, str) else ""


def notebook_from_record(
    record: dict[str, Any], origin: str, fallback_id: str, problems: ProblemLog, options: ReaderOptions
) -> Notebook | None:
    missing = [name for name in REQUIRED_FIELDS if record.get(name) is None]
    cell_id = None if record.get("id") is None else str(record["id"])
    if missing:
        problems.add(origin, cell_id, MISSING_FIELD, f"record lacks {', '.join(missing)}")
        return None
    source = record["context"]
    if not isinstance(source, str):
        problems.add(origin, cell_id, BAD_FIELD, f"'context' is a {type(source).__name__}")
        return None
    if not options.code_fits(source, origin, cell_id, problems):
        return None
    file = record.get("file")
    notebook_id = f"coral:{PurePosixPath(file).stem}" if isinstance(file, str) and file else f"coral:{cell_id}"
    funcs = record.get("funcs")
    if isinstance(funcs, list) and not all(isinstance(func, str) for func in funcs):
        problems.add(origin, cell_id, BAD_FIELD, "'funcs' holds values that are not strings: those are dropped")
        funcs = [func for func in funcs if isinstance(func, str)]
    nodes = record.get("nodes")
    cell = Cell(
        notebook_id=notebook_id,
        index=0,
        cell_type="code",
        source=source,
        markdown_above=_markdown_above(record),
        id=cell_id,
        funcs=list(funcs) if isinstance(funcs, list) else None,
        coral_nodes=nodes if isinstance(nodes, list) else None,
    )
    path = file if isinstance(file, str) else None
    return Notebook(id=notebook_id, cells=[cell], origin=origin, path=path, language="python")
