"""JuICe records (Agashe et al., 2019): a target code cell plus the cells above it.

Layout (github.com/rajasagashe/JuICe): the target's code under ``code`` (or tokenized under
``code_tokens_clean``), its description under ``nl`` (tokens), and ``context``, a list of
the cells above *starting with the one directly above*; markdown context cells hold ``nl``
(tokens) and often ``nl_original``, code context cells ``code`` and/or ``code_tokens_clean``.

Each record becomes a notebook of its context (oldest first) then the target, indexed
0..n in that order. The notebook id is ``juice:<file name>:<line>``. Code known only as
tokens is rebuilt by joining them (``NEWLINE`` -> newline, ``INDENT`` -> four spaces); that
is lossy (JuICe drops dedents), so prefer files that keep ``code``. The target's
``markdown_above`` follows the three-cells rule, falling back to the record's own ``nl``.
"""

from __future__ import annotations

from typing import Any

from coral.corpora.formats.common import ReaderOptions, attach_markdown_above
from coral.corpora.formats.ipynb import nbgrader_role
from coral.corpora.records import Cell, Notebook
from coral.problems import BAD_CELL, MISSING_FIELD, ProblemLog

CODE_TOKEN_FIELDS = ("code_tokens_clean", "code_tokens")


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


def notebook_from_record(
    record: dict[str, Any], origin: str, fallback_id: str, problems: ProblemLog, options: ReaderOptions
) -> Notebook | None:
    notebook_id = f"juice:{fallback_id}"
    target_code = _code_of(record)
    context = record.get("context")
    if target_code is None or not isinstance(context, list):
        problems.add(origin, notebook_id, MISSING_FIELD, "record lacks the target 'code'/'code_tokens_clean' or 'context'")
        return None

    cells: list[Cell] = []
    ordered = list(reversed(context))
    for index, entry in enumerate(ordered):
        cell_id = f"{notebook_id}#{index}"
        if not isinstance(entry, dict):
            problems.add(origin, cell_id, BAD_CELL, f"context cell is a {type(entry).__name__}")
            continue
        is_markdown = entry.get("cell_type") == "markdown"
        source = _markdown_of(entry) if is_markdown else _code_of(entry)
        if source is None:
            kind = "markdown" if is_markdown else "code"
            problems.add(origin, cell_id, MISSING_FIELD, f"{kind} context cell has no text")
            continue
        cells.append(Cell(notebook_id, index, "markdown" if is_markdown else "code", source, id=cell_id))

    target_index = len(ordered)
    if options.code_fits(target_code, origin, f"{notebook_id}#{target_index}", problems, what="target"):
        execution_count = record.get("execution_count")
        cells.append(
            Cell(
                notebook_id,
                target_index,
                "code",
                target_code,
                execution_count=execution_count if type(execution_count) is int else None,
                nbgrader=nbgrader_role(record.get("metadata")),
            )
        )
    attach_markdown_above(cells)
    target = cells[-1] if cells and cells[-1].index == target_index else None
    if target is not None and not target.markdown_above:
        target.markdown_above = (_markdown_of(record) or "").strip()
    return Notebook(id=notebook_id, cells=cells, origin=origin, language="python", metadata={"target_index": target_index})
