"""Data Science Problems (microsoft/DataScienceProblems, Chandel et al., 2022).

Two forms, both read with DSP's roles (``prompt``, ``solution``, ``test``):

**Problems, one JSON object per line**, as DSP's ``read.py`` (``build_examples_new``) makes
them and its README shows: ``task_id`` ("DSP/414"), ``prompt`` (the up-to-three cells above
the problem joined by newlines, then the leading comment lines of the solution cell),
``solution`` (the problem cell less those comments), ``test`` (the cell after it: the
autograder's asserts), ``notebook_path`` and ``notebook_problem_index`` (the problem's rank in
its notebook). The prompt is split back into markdown and code parts
(:func:`split_prompt`): code parts become code cells that are context only (their imports
and assignments resolve the solution's calls: ``np.linspace`` -> ``numpy.linspace``),
markdown parts markdown cells (the solution's ``markdown_above``). Then the solution (nbgrader
"solution") and the test (nbgrader "grade") as code cells. The notebook id is ``task_id``.

**The notebooks themselves** (DSP's ``juice-github-repos``): nbgrader notebooks whose problem
cells carry ``task_id`` in their metadata. They read as ordinary notebooks
(``coral.corpora.formats.ipynb``), and :func:`assign_notebook_roles` gives the problem cell
the role ``solution``, the cell after it ``test`` and the up-to-three cells above it (those
without a role of their own) ``prompt``, as ``build_examples_new`` cuts them.
"""

from __future__ import annotations

import ast
from typing import Any

from coral.corpora.formats.common import ReaderOptions, attach_markdown_above
from coral.corpora.magics import rewrite_magics
from coral.corpora.records import Cell, Notebook
from coral.problems import MISSING_FIELD, OVERSIZE, ProblemLog

REQUIRED_FIELDS = ("task_id", "prompt", "solution")
ANSWER_ROLES = ("solution", "grade", "test")  # roles a prompt never overrides
PROMPT_CELLS = 3  # read.py's context_len: the cells above a problem that make its prompt
MAX_STATEMENT_LINES = 200  # a code part of a prompt is cut after this many lines
LOOKAHEAD_LINES = 20  # lines tried past the last that parsed before a code part ends
# Expressions a line of prose can parse as ("Introduction", "- numpy", "42"): not code alone.
_PROSE_EXPRESSIONS = (ast.Name, ast.Constant)


def looks_like(record: Any) -> bool:
    return isinstance(record, dict) and "task_id" in record and "prompt" in record


def _is_code(lines: list[str]) -> bool:
    """Whether lines parse as Python (IPython syntax allowed) with at least one real statement."""
    try:
        tree = ast.parse(rewrite_magics("\n".join(lines)))
    except (SyntaxError, ValueError):
        return False
    for statement in tree.body:
        value = statement.value if isinstance(statement, ast.Expr) else None
        if isinstance(value, ast.UnaryOp):
            value = value.operand
        if not isinstance(value, _PROSE_EXPRESSIONS):
            return True
    return False


def _is_comment_or_blank(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _code_part_end(lines: list[str], start: int) -> int:
    """The end of the code part starting at ``start`` (``start`` itself when none starts there)."""
    first = lines[start]
    if _is_comment_or_blank(first) or first[:1] in " \t":
        return start
    end = start
    stop = min(len(lines), start + MAX_STATEMENT_LINES)
    for candidate in range(start + 1, stop + 1):
        if candidate - max(end, start + 1) > LOOKAHEAD_LINES:
            break
        if _is_code(lines[start:candidate]):
            end = candidate
    while end > start and _is_comment_or_blank(lines[end - 1]):
        end -= 1
    return end


def split_prompt(prompt: str) -> list[tuple[str, str]]:
    """A DSP prompt as ``(cell_type, text)`` parts in order: maximal runs of lines that parse
    as Python are ``code``, everything else (prose, headings, comments around code) ``markdown``."""
    lines = prompt.split("\n")
    parts: list[tuple[str, list[str]]] = []
    position = 0
    while position < len(lines):
        end = _code_part_end(lines, position)
        if end > position:
            parts.append(("code", lines[position:end]))
            position = end
            continue
        if not parts or parts[-1][0] != "markdown":
            parts.append(("markdown", []))
        parts[-1][1].append(lines[position])
        position += 1
    texts = [(cell_type, "\n".join(part).strip("\n")) for cell_type, part in parts]
    return [(cell_type, text) for cell_type, text in texts if text.strip()]


def notebook_from_record(
    record: dict[str, Any], origin: str, fallback_id: str, problems: ProblemLog, options: ReaderOptions
) -> Notebook | None:
    notebook_id = str(record["task_id"]) if record.get("task_id") is not None else None
    missing = [name for name in REQUIRED_FIELDS if not isinstance(record.get(name), str)]
    if missing or notebook_id is None:
        problems.add(origin, notebook_id, MISSING_FIELD, f"record lacks text fields {', '.join(missing)}")
        return None
    prompt = record["prompt"]
    limit = (PROMPT_CELLS + 1) * options.max_code_cell_chars  # the cells above and the problem's comments
    if len(prompt) > limit:  # splitting costs about a millisecond a line: keep it bounded
        problems.add(origin, f"{notebook_id}#prompt", OVERSIZE,
                     f"prompt of {len(prompt):,} characters > {limit:,}: left out, the solution and test are read")
        prompt = ""
    cells: list[Cell] = []
    for cell_type, text in split_prompt(prompt):
        index = len(cells)
        if cell_type == "code" and not options.code_fits(text, origin, f"{notebook_id}#{index}", problems, what="prompt code"):
            continue
        cells.append(Cell(notebook_id, index, cell_type, text, role="prompt", context_only=cell_type == "code"))
    for field, role, nbgrader in (("solution", "solution", "solution"), ("test", "test", "grade")):
        source = record.get(field)
        if not isinstance(source, str):
            continue
        index = len(cells)
        if not options.code_fits(source, origin, f"{notebook_id}#{index}", problems, what=field):
            continue
        cells.append(Cell(notebook_id, index, "code", source, nbgrader=nbgrader, role=role))
    path = record.get("notebook_path")
    return Notebook(
        id=notebook_id,
        cells=attach_markdown_above(cells),
        origin=origin,
        path=str(path) if path is not None else None,
        language="python",
        metadata={"notebook_problem_index": record.get("notebook_problem_index")},
    )


def assign_notebook_roles(cells: list[Cell], problem_indices: list[int]) -> None:
    """Give DSP's roles to the cells of a notebook whose cells ``problem_indices`` carry a
    ``task_id``: ``solution``, ``test`` for the cell after it, and ``prompt`` for the
    up-to-three cells above, unless those are themselves answers or tests (nbgrader
    ``solution`` / ``grade``, or an earlier problem's cells)."""
    by_index = {cell.index: cell for cell in cells}
    problems = set(problem_indices)
    for index in sorted(problems):
        if index in by_index:
            by_index[index].role = "solution"
        test = by_index.get(index + 1)
        if test is not None and index + 1 not in problems:
            test.role = "test"
    for index in sorted(problems):
        for above in range(max(0, index - PROMPT_CELLS), index):
            cell = by_index.get(above)
            if cell is not None and cell.role not in ANSWER_ROLES:
                cell.role = "prompt"
