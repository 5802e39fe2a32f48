"""What every corpus layout shares: reader limits, source text, and the markdown-above rule."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from coral.corpora.records import Cell, Notebook
from coral.problems import OVERSIZE, ProblemLog

MARKDOWN_LOOKBACK = 3  # CORAL: the most recent markdown cell at most three cells above
JUICE_CELL_CHOICES = ("target", "all")


@dataclass(frozen=True, slots=True)
class ReaderOptions:
    """How corpora are read: size limits and which JuICe cells become items to label.

    Notebooks and code cells past the limits are skipped (and logged as ``oversize``). The
    defaults keep every notebook and code cell of the GitHub corpus (largest notebook
    0.8 MB, largest code cell under 100,000 characters) while keeping pathological inputs,
    such as data pasted into a cell, away from the parser.

    ``juice_cells``: ``"target"`` labels each JuICe record's target cell only, its context
    cells serving as context; ``"all"`` labels every distinct code cell, context included
    (one item per notebook and position, however many records repeat it).
    """

    max_notebook_bytes: int = 20_000_000
    max_code_cell_chars: int = 100_000
    juice_cells: str = "target"
    # When set, only notebooks whose id, or the id of one of whose cells, is in this set are
    # read on (``coral predict --only-gold``): the rest are dropped before parsing, unlogged,
    # because leaving them out is what was asked for.
    only_ids: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.juice_cells not in JUICE_CELL_CHOICES:
            raise ValueError(f"juice_cells must be one of {', '.join(JUICE_CELL_CHOICES)}, not {self.juice_cells!r}")

    def __repr__(self) -> str:
        """The dataclass's repr, with ``only_ids`` sorted: the same text in every process, since
        work units and resumable runs are named after it."""
        values = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            values.append(f"{field.name}={sorted(value) if isinstance(value, frozenset) else value!r}")
        return f"{type(self).__name__}({', '.join(values)})"

    def selects(self, notebook: Notebook) -> bool:
        """Whether ``notebook`` passes ``only_ids``."""
        if self.only_ids is None or notebook.id in self.only_ids:
            return True
        return any(cell.id in self.only_ids for cell in notebook.cells)

    def notebook_fits(self, n_bytes: int, origin: str, item: str | None, problems: ProblemLog, what: str = "") -> bool:
        """Whether a notebook (file, archive member, shard line) of ``n_bytes`` is within the
        limit; one that is not is logged as ``oversize``."""
        if n_bytes <= self.max_notebook_bytes:
            return True
        problems.add(origin, item, OVERSIZE, f"{what}{n_bytes:,} bytes > {self.max_notebook_bytes:,}")
        return False

    def code_fits(self, source: str, origin: str, item: str | None, problems: ProblemLog, what: str = "code cell") -> bool:
        """Whether a code cell's ``source`` is within the limit; one that is not is logged as ``oversize``."""
        if len(source) <= self.max_code_cell_chars:
            return True
        problems.add(origin, item, OVERSIZE, f"{what} of {len(source):,} characters > {self.max_code_cell_chars:,}")
        return False


def source_text(value: Any) -> str | None:
    """A cell source as one string: nbformat allows a string or a list of lines."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        return "".join(value)
    return None


def attach_markdown_above(cells: list[Cell]) -> list[Cell]:
    """Fill ``markdown_above`` of each code cell from the nearest of the three cells above it.

    Distances count cell indices, so a cell the reader skipped (or a corpus left out, as
    JuICe leaves out cells far from its target) still counts as a cell in between.
    """
    for position, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        for above in reversed(cells[max(0, position - MARKDOWN_LOOKBACK) : position]):
            if cell.index - above.index > MARKDOWN_LOOKBACK:
                break
            if above.cell_type == "markdown":
                cell.markdown_above = above.source.strip()
                break
    return cells


def is_python_language(language: str | None) -> bool:
    """Unknown languages count as Python: most notebooks that omit it are (IPython 2 era)."""
    if not language:
        return True
    return language.strip().lower().startswith(("python", "ipython"))
