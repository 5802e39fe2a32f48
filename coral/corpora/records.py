"""Records that flow through the pipeline: notebooks, cells and parsed cells.

Cell ids are stable: ``<notebook id>#<cell index>`` where the index counts *all* cells of
the notebook from 0 (nbformat v3 worksheets flattened in order); CORAL-format cells keep
the record's own ``id``.

A cell's ``role`` is what its corpus says the cell is for, where it says anything:
nbgrader's ``solution`` / ``grade`` / ``task`` / ``locked``; JuICe's ``target`` /
``context``; Data Science Problems' ``prompt`` / ``solution`` / ``test``. It travels into
predictions so that studies can group by it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Cell:
    """One notebook cell as read, before parsing."""

    notebook_id: str
    index: int
    cell_type: str  # "code", "markdown" or "raw"
    source: str
    execution_count: int | None = None
    nbgrader: str | None = None  # "solution", "grade", "locked", "task" or None
    role: str | None = None  # nbgrader, JuICe or DSP role (module docstring); None when the corpus says none
    context_only: bool = False  # read for context (markdown above, API resolution), not labeled itself
    markdown_above: str = ""  # most recent markdown cell at most three cells above (code cells)
    id: str = ""  # defaults to "<notebook id>#<index>"
    funcs: list[str] | None = None  # CORAL format only: precomputed qualified calls
    coral_nodes: list[dict[str, Any]] | None = None  # CORAL format only: CORAL's AST nodes

    def __post_init__(self) -> None:
        if not self.id:
            self.id = f"{self.notebook_id}#{self.index}"


@dataclass(slots=True)
class Notebook:
    """A notebook: its cells in file order plus where it came from."""

    id: str
    cells: list[Cell]
    origin: str  # the file (and line, for shards) it was read from, for error messages
    repo: str | None = None
    path: str | None = None
    language: str | None = None  # kernel language when the notebook says
    metadata: dict[str, Any] = field(default_factory=dict)
    preamble: str = ""  # code resolved before the first cell (imports a corpus records apart, as JuICe's)

    @property
    def code_cells(self) -> list[Cell]:
        return [cell for cell in self.cells if cell.cell_type == "code"]


@dataclass(slots=True)
class ASTGraph:
    """A cell's syntax tree in preorder: node i's parent is ``parents[i]`` (-1 for the root).

    ``values`` holds identifier and literal text (truncated), None for other nodes. The
    encoders turn this into PyG ``Data``; parent-child edges are derivable from ``parents``.
    """

    types: list[str]
    values: list[str | None]
    parents: list[int]

    def __len__(self) -> int:
        return len(self.types)


@dataclass(slots=True)
class ParsedCell:
    """A code cell with the features labeling functions and encoders use.

    This is the record users write labeling functions against (``x.apis``, ``x.lines``...).
    """

    id: str
    notebook_id: str
    index: int  # cell index in the notebook (all cells)
    position: float  # 0..1: rank of this code cell among the notebook's code cells
    source: str
    markdown_above: str
    execution_count: int | None
    nbgrader: str | None
    lines: int  # non-blank, non-comment lines of code
    statements: int  # top-level statements (magics count as statements)
    imports: int  # top-level import statements
    imported_modules: list[str]  # qualified modules / names the cell imports
    names_bound: list[str]  # names the cell assigns, defines or imports at top level
    single_expression: bool  # the cell is one expression statement
    called_names: list[str]  # calls as written: "pd.read_csv", "df.describe"
    apis: list[str]  # qualified calls: "pandas.read_csv", "pandas.read_csv.describe", "pandas.DataFrame.describe"
    magics: list[str]  # IPython magics and shell escapes: "%matplotlib", "%%time", "!", "?"
    syntax_errors: int  # ERROR / MISSING nodes in the tree-sitter parse
    graph: ASTGraph
    role: str | None = None  # the cell's nbgrader / JuICe / DSP role (module docstring)
