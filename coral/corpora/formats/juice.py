"""JuICe records (Agashe et al., 2019): a target code cell plus the cells above it.

The layout is the one JuICe's pipeline writes (github.com/rajasagashe/JuICe,
``jupyter/new_pipeline/to_dataset.py``, ``compute_dataset_record_helper``); its dev and test
sets (``jupyter/nbgrader/dedup_get_solution.py``) add nbgrader fields to the same record.
The fields this reader uses, and how (docs/parsing.md has the full table):

- ``code`` (the target cell's source) or, when absent, ``code_tokens_clean`` / ``code_tokens``
  joined back into code (``NEWLINE`` -> newline, ``INDENT`` -> four spaces; lossy: JuICe
  drops dedents).
- ``context``: the cells above the target, *starting with the one directly above*, each with
  ``cell_type`` and ``distance_target`` (1 = directly above). Markdown cells hold ``nl``
  (tokens) and ``nl_original`` (text); code cells ``code`` and the token fields. JuICe leaves
  out invalid cells and autograder test cells, which is why positions come from
  ``distance_target``, never from the order of the list.
- ``metadata``: the target cell's notebook metadata plus where it came from: ``repo``,
  ``path``, ``nb_index`` (the notebook) and ``cell_index`` (the target's position);
  ``nbgrader`` where the notebook is an assignment. ``num_cells_above`` equals
  ``cell_index`` and stands in for it.
- ``imports``: the words after ``import`` on every import line above and in the target
  (``import numpy as np`` leaves ``numpy np``, ``from a import b`` leaves ``b``). The
  structure is lost, so only conventional aliases that follow their module's words
  (``numpy np`` -> ``import numpy as np``) are rebuilt, as the notebook's ``preamble``
  (resolved before its cells, so the context can override it); bare module names need
  none (an unbound name resolves to itself).
- ``nl``: the tokens of the nearest markdown cell in the context; used as the target's
  ``markdown_above`` only when the record keeps no markdown cell in its context.
- ``execution_count`` is ignored: JuICe's pipeline resets it to 0 on every cell.

Each record becomes a notebook holding its context and target at their real positions.
When the metadata says where the target came from, the notebook id is
``juice:<repo>/<path>`` (else ``juice:nb<nb_index>``) and cell ids are
``<notebook id>#<cell_index>``, so the same cell read through several records has one id;
otherwise the id is ``juice:<file name>:<line>`` and positions count from the oldest
context cell. Roles: ``target`` and ``context``. Context cells are context only (markdown
above, API resolution) unless ``ReaderOptions.juice_cells`` is ``"all"``; either way
:func:`distinct_cells` keeps one labeled item per cell id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from coral.corpora.formats.common import ReaderOptions, attach_markdown_above
from coral.corpora.formats.ipynb import nbgrader_role
from coral.corpora.records import Cell, Notebook
from coral.problems import BAD_CELL, DUPLICATE_CELL, MISSING_FIELD, ProblemLog

CODE_TOKEN_FIELDS = ("code_tokens_clean", "code_tokens")
MAX_CELL_INDEX = 2**31 - 1  # cell indices are stored as 32-bit integers (coral.corpora.parquet)
# Aliases the data-science community agrees on: rebuilt from JuICe's ``imports`` words only
# when the alias follows its module's words there.
CONVENTIONAL_ALIASES = {
    "np": "numpy",
    "pd": "pandas",
    "plt": "matplotlib.pyplot",
    "mpl": "matplotlib",
    "sns": "seaborn",
    "sp": "scipy",
    "sm": "statsmodels.api",
    "smf": "statsmodels.formula.api",
    "tf": "tensorflow",
    "nx": "networkx",
    "px": "plotly.express",
    "go": "plotly.graph_objects",
    "nn": "torch.nn",
    "F": "torch.nn.functional",
}


def looks_like(record: Any) -> bool:
    return (
        isinstance(record, dict)
        and isinstance(record.get("context"), list)
        and any(key in record for key in ("code", *CODE_TOKEN_FIELDS))
    )


def detokenize(tokens: list[Any]) -> str:
    """Code text from JuICe's code tokens (lossy: indentation after a block is not recoverable)."""
    lines: list[str] = []
    line: list[str] = []
    indent = ""
    for token in tokens:
        token = str(token)
        if token == "NEWLINE":
            lines.append(indent + " ".join(line))
            line, indent = [], ""
        elif token == "INDENT":
            indent += "    "
        else:
            line.append(token)
    if line:
        lines.append(indent + " ".join(line))
    return "\n".join(lines)


def import_preamble(words: Any) -> str:
    """``import <module> as <alias>`` for each conventional alias that follows its module's words."""
    if not isinstance(words, list):
        return ""
    words = [str(word) for word in words]
    statements: list[str] = []
    for position, word in enumerate(words):
        module = CONVENTIONAL_ALIASES.get(word)
        if module is None:
            continue
        parts = module.split(".")
        if words[max(0, position - len(parts)) : position] == parts:
            statement = f"import {module} as {word}"
            if statement not in statements:
                statements.append(statement)
    return "\n".join(statements)


def _code_of(cell: dict[str, Any]) -> str | None:
    if isinstance(cell.get("code"), str):
        return cell["code"]
    for key in CODE_TOKEN_FIELDS:
        if isinstance(cell.get(key), list):
            return detokenize(cell[key])
    return None


def _markdown_of(cell: dict[str, Any]) -> str | None:
    if isinstance(cell.get("nl_original"), str):
        return cell["nl_original"]
    if isinstance(cell.get("nl"), list):
        return " ".join(str(token) for token in cell["nl"])
    if isinstance(cell.get("nl"), str):
        return cell["nl"]
    return None


def _whole_number(value: Any) -> int | None:
    """A cell position or count, or None: not an int, negative, or past what a cell index holds."""
    return value if type(value) is int and 0 <= value <= MAX_CELL_INDEX else None


def _location(record: dict[str, Any], metadata: dict[str, Any]) -> tuple[str | None, int | None]:
    """The notebook the record says it came from, and the target's cell index there."""
    repo, path, nb_index = metadata.get("repo"), metadata.get("path"), metadata.get("nb_index")
    if isinstance(repo, str) and repo and isinstance(path, str) and path:
        notebook = f"juice:{repo}/{path}"
    elif _whole_number(nb_index) is not None:
        notebook = f"juice:nb{nb_index}"
    else:
        notebook = None
    cell_index = _whole_number(metadata.get("cell_index"))
    if cell_index is None:
        cell_index = _whole_number(record.get("num_cells_above"))
    return notebook, cell_index


def _distances(context: list[Any]) -> list[int]:
    """Each context entry's distance above the target: its ``distance_target``, else its order."""
    distances = []
    for order, entry in enumerate(context, start=1):
        distance = _whole_number(entry.get("distance_target")) if isinstance(entry, dict) else None
        distances.append(distance if distance else order)
    return distances


def notebook_from_record(
    record: dict[str, Any], origin: str, fallback_id: str, problems: ProblemLog, options: ReaderOptions
) -> Notebook | None:
    target_code = _code_of(record)
    context = record.get("context")
    if target_code is None or not isinstance(context, list):
        problems.add(origin, f"juice:{fallback_id}", MISSING_FIELD, "record lacks the target 'code'/'code_tokens_clean' or 'context'")
        return None
    metadata = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    distances = _distances(context)
    located_notebook, target_index = _location(record, metadata)
    if located_notebook is None or target_index is None or max(distances, default=0) > target_index:
        notebook_id, target_index = f"juice:{fallback_id}", max(distances, default=0)
    else:
        notebook_id = located_notebook
    context_only = options.juice_cells == "target"

    cells: list[Cell] = []
    taken: set[int] = set()
    for entry, distance in sorted(zip(context, distances), key=lambda pair: -pair[1]):
        index = target_index - distance
        cell_id = f"{notebook_id}#{index}"
        if not isinstance(entry, dict):
            problems.add(origin, cell_id, BAD_CELL, f"context cell is a {type(entry).__name__}")
            continue
        if index in taken:
            problems.add(origin, cell_id, DUPLICATE_CELL, f"a second context cell at distance_target {distance}")
            continue
        is_markdown = entry.get("cell_type") == "markdown"
        source = _markdown_of(entry) if is_markdown else _code_of(entry)
        if source is None:
            problems.add(origin, cell_id, MISSING_FIELD, f"{'markdown' if is_markdown else 'code'} context cell has no text")
            continue
        if not is_markdown and not options.code_fits(source, origin, cell_id, problems, what="context code cell"):
            continue
        taken.add(index)
        cell_type = "markdown" if is_markdown else "code"
        cells.append(Cell(notebook_id, index, cell_type, source, role="context", context_only=context_only))

    if options.code_fits(target_code, origin, f"{notebook_id}#{target_index}", problems, what="target"):
        cells.append(
            Cell(notebook_id, target_index, "code", target_code, nbgrader=nbgrader_role(metadata), role="target")
        )
    attach_markdown_above(cells)
    target = cells[-1] if cells and cells[-1].role == "target" else None
    if target is not None and not any(cell.cell_type == "markdown" for cell in cells):
        target.markdown_above = (_markdown_of(record) or "").strip()
    repo, path = metadata.get("repo"), metadata.get("path")
    return Notebook(
        id=notebook_id,
        cells=cells,
        origin=origin,
        repo=repo if isinstance(repo, str) else None,
        path=path if isinstance(path, str) else None,
        language="python",
        metadata={"target_index": target_index},
        preamble=import_preamble(record.get("imports")),
    )


def distinct_cells(notebooks: Iterable[Notebook]) -> Iterator[Notebook]:
    """The notebooks, with a cell already labeled through an earlier record made context only.

    JuICe repeats a notebook's cells in the context of every target below them; with cell
    ids from the records' locations, this keeps one labeled item per cell.
    """
    labeled: set[str] = set()
    for notebook in notebooks:
        for cell in notebook.cells:
            if cell.cell_type != "code" or cell.context_only:
                continue
            if cell.id in labeled:
                cell.context_only = True
            else:
                labeled.add(cell.id)
        yield notebook
