"""The CORAL paper's five heuristics, as its reference code (``cell_type`` in CORAL's
``dataset.py``) applies them: seed APIs and markdown of at most three words (from
``seeds/paper.yaml``), plus the two structural rules below.

The structural rules read the cell's Python AST the way CORAL's data does: CORAL stores each
cell as a py150-style node list (the ``nodes`` of its ``train.txt``), in which expression
contexts and operators are folded into their parent (``NameLoad``, ``BinOpAdd``), and an
attribute name, an import's ``as`` name, a subscript's index and a block's ``body`` /
``orelse`` are nodes of their own. ``python_ast_counts`` counts Python's ``ast`` that way;
on the 902 cells of the CORAL sample that Python 3 parses it gives CORAL's own node count
for 832 and the same import-rule decision for all 902. coral's tree-sitter graph counts
other nodes (every identifier and punctuation-level construct), so the import share is not
taken from it. Python 2 ``print x`` statements are rewritten to calls first (and counted as
CORAL's single ``Print`` node); a cell Python still cannot parse gets no vote from either rule.

The paper resolves conflicts in this order: import, markdown-model, markdown-CV, model
seeds, evaluate seeds, explore seeds, one-liner, wrangle seeds; ``--aggregate priority``
(IMPORT, MODEL, EVALUATE, EXPLORE, WRANGLE) gives the same answer except for a cell under
a short "cross validation" heading that also calls a model seed (MODEL here, EVALUATE in
the reference; none of the dev cells).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache

from snorkel.labeling import LabelingFunction, labeling_function

from coral.corpora.magics import rewrite_magics
from coral.corpora.records import ParsedCell
from coral.labeling.seedfiles import SEEDS_DIR, load_seed_lfs
from coral.stages import ABSTAIN, Stage

IMPORT_SHARE = 0.3  # Import/ImportFrom nodes over all AST nodes of the cell

# Nodes CORAL folds into their parent's type: NameLoad, BinOpAdd, CompareEq, UnaryOpUSub.
_FOLDED = (ast.expr_context, ast.operator, ast.boolop, ast.cmpop, ast.unaryop)
_BLOCK_FIELDS = ("body", "orelse", "finalbody")
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_PRINT_STATEMENT = re.compile(r"^(\s*)print(?:\s+(?![\s(=.\[])(.*?)|\s*)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class PythonASTCounts:
    """What the paper's structural rules ask of a cell's AST, counted as CORAL counts nodes."""

    nodes: int
    imports: int
    bare_expression: bool  # Module -> Expr -> one node: a bare name or constant (``df``, ``42``)


def _extra_nodes(node: ast.AST) -> int:
    """Nodes CORAL's list has beside Python's ``ast`` node: an attribute's name, an ``as``
    name, a subscript's ``Index``, a definition's ``args`` / ``defaults`` / ``body`` /
    ``decorator_list`` (a class's ``bases``) and a compound statement's non-empty blocks."""
    if isinstance(node, ast.Attribute | ast.Subscript):
        return 1
    if isinstance(node, ast.alias):
        return 1 if node.asname else 0
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return 3 + bool(node.args.args)
    if isinstance(node, ast.ClassDef):
        return 1 + bool(node.bases)
    if isinstance(node, ast.stmt):
        return sum(1 for name in _BLOCK_FIELDS if getattr(node, name, None))
    return 0


@lru_cache(maxsize=8)
def python_ast_counts(source: str) -> PythonASTCounts | None:
    """CORAL-style counts of a cell's Python AST (IPython syntax rewritten as IPython would),
    or None when Python cannot parse it. Cached: both structural rules ask about each cell."""
    code, print_statements = _PRINT_STATEMENT.subn(lambda m: f"{m[1]}print({m[2] or ''})", rewrite_magics(source))
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):  # ValueError: null bytes in the source
        return None
    nodes = imports = 0
    for node in ast.walk(tree):
        if isinstance(node, _FOLDED):
            continue
        nodes += 1 + _extra_nodes(node)
        imports += isinstance(node, ast.Import | ast.ImportFrom)
    body = tree.body
    bare = len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Name | ast.Constant)
    # CORAL's Python 2 ``Print`` is one node where ``print(...)`` is Expr, Call and Name.
    return PythonASTCounts(nodes=nodes - 2 * print_statements, imports=imports, bare_expression=bare)


@labeling_function()
def paper_one_line_explore(x: ParsedCell) -> int:
    """A cell that is a bare name or constant (Module -> Expr -> one node, e.g. ``df``)
    shows that value."""
    counts = python_ast_counts(x.source)
    return Stage.EXPLORE if counts is not None and counts.bare_expression else ABSTAIN


@labeling_function()
def paper_imports_import(x: ParsedCell) -> int:
    """A cell in which Import/ImportFrom make up more than 30% of all AST nodes sets up tools."""
    counts = python_ast_counts(x.source)
    return Stage.IMPORT if counts is not None and counts.imports / counts.nodes > IMPORT_SHARE else ABSTAIN


def lfs() -> list[LabelingFunction]:
    return [*load_seed_lfs(SEEDS_DIR / "paper.yaml"), paper_one_line_explore, paper_imports_import]
