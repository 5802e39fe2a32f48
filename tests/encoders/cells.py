"""Hand-made ParsedCells for encoder tests: real Python parsed with ``ast`` into a preorder graph."""

from __future__ import annotations

import ast

from coral.corpora.records import ASTGraph, ParsedCell
from tests.conftest import build_cell


def ast_graph(source: str) -> ASTGraph:
    """Python's own AST in preorder; identifiers, attributes and constants carry values."""
    types: list[str] = []
    values: list[str | None] = []
    parents: list[int] = []

    def visit(node: ast.AST, parent: int) -> None:
        index = len(types)
        types.append(type(node).__name__)
        value = getattr(node, "id", None) or getattr(node, "attr", None) or getattr(node, "name", None)
        if isinstance(node, ast.Constant):
            value = str(node.value)
        values.append(value)
        parents.append(parent)
        for child in ast.iter_child_nodes(node):
            visit(child, index)

    visit(ast.parse(source), -1)
    return ASTGraph(types=types, values=values, parents=parents)


def make_cell(source: str, markdown: str = "", notebook_id: str = "nb0", index: int = 0,
              apis: list[str] | None = None) -> ParsedCell:
    """The shared ``build_cell`` factory with Python's real AST as the graph (encoders read it)."""
    lines = [line for line in source.splitlines() if line.strip() and not line.strip().startswith("#")]
    return build_cell(source, id=f"{notebook_id}#{index}", markdown_above=markdown, lines=len(lines),
                      statements=len(lines), apis=apis or [], graph=ast_graph(source))


# One template per stage (IMPORT, WRANGLE, EXPLORE, MODEL, EVALUATE), varied by a suffix.
TEMPLATES = [
    ("import pandas as pd\nimport numpy as np{i}", "Load the libraries"),
    ("df{i} = df.dropna()\ndf{i}['x'] = df['x'].fillna(0)", "Clean the data"),
    ("df{i}.describe()\nplt.hist(df['x{i}'])", "Look at the distribution"),
    ("model{i} = RandomForestClassifier()\nmodel{i}.fit(X_train, y_train)", "Train a model"),
    ("accuracy_score(y_test, model{i}.predict(X_test))", "Evaluate the accuracy"),
]


def toy_corpus(per_stage: int = 8, notebooks: int = 4):
    """Cells of five easily told-apart kinds, spread over notebooks, with one-hot weak labels."""
    import numpy as np

    cells, labels = [], []
    for i in range(per_stage):
        for stage, (code, markdown) in enumerate(TEMPLATES):
            source = code.format(i=i if stage else "")
            if stage == 0:
                source = source + f"\nimport sklearn{i}"
            index = len(cells)
            cells.append(make_cell(source, markdown, notebook_id=f"nb{index % notebooks}", index=index))
            labels.append(stage)
    y = np.zeros((len(cells), 5), dtype=np.float32)
    y[np.arange(len(cells)), labels] = 1.0
    return cells, y, np.array(labels)
