"""Data Science Problems (microsoft/DataScienceProblems, Chandel et al., 2022), one per line.

Layout: ``task_id`` ("DSP/414"), ``prompt`` (the up-to-three cells above the problem joined,
plus the leading comments of the solution cell), ``solution`` (the nbgrader solution cell),
``test`` (the autograder cell after it), ``notebook_path``, ``notebook_problem_index``.

Each problem becomes a notebook with id ``task_id``: cell 0 the prompt (as markdown: it is
mostly the problem statement, though it may hold code from the cells above), cell 1 the
solution (code, nbgrader "solution"), cell 2 the test (code, nbgrader "grade") when present.
"""

from __future__ import annotations

from typing import Any

from coral.corpora.formats.common import ReaderOptions, attach_markdown_above
from coral.corpora.records import Cell, Notebook
from coral.problems import MISSING_FIELD, ProblemLog

REQUIRED_FIELDS = ("task_id", "prompt", "solution")


def looks_like(record: Any) -> bool:
    return isinstance(record, dict) and "task_id" in record and "prompt" in record


def notebook_from_record(
    record: dict[str, Any], origin: str, fallback_id: str, problems: ProblemLog, options: ReaderOptions
) -> Notebook | None:
    notebook_id = str(record["task_id"]) if record.get("task_id") is not None else None
    missing = [name for name in REQUIRED_FIELDS if not isinstance(record.get(name), str)]
    if missing or notebook_id is None:
        problems.add(origin, notebook_id, MISSING_FIELD, f"record lacks text fields {', '.join(missing)}")
        return None
    cells = [Cell(notebook_id, 0, "markdown", record["prompt"])]
    for index, (field, role) in enumerate((("solution", "solution"), ("test", "grade")), start=1):
        source = record.get(field)
        if not isinstance(source, str):
            continue
        if not options.code_fits(source, origin, f"{notebook_id}#{index}", problems, what=field):
            continue
        cells.append(Cell(notebook_id, index, "code", source, nbgrader=role))
    path = record.get("notebook_path")
    return Notebook(
        id=notebook_id,
        cells=attach_markdown_above(cells),
        origin=origin,
        path=str(path) if path is not None else None,
        language="python",
    )
