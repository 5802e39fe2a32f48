"""Corpus statistics: what a corpus holds and what could not be used, mergeable across units."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from coral.corpora.records import Notebook, ParsedCell
from coral.problems import Problem


def _is_cell_item(item: str | None) -> bool:
    return item is not None and "#" in item


@dataclass
class CorpusStats:
    """What a corpus holds and what could not be used; mergeable across work units."""

    notebooks: int = 0
    cells: Counter[str] = field(default_factory=Counter)  # by cell type
    parsed_cells: int = 0
    cells_with_syntax_errors: int = 0
    notebook_problems: Counter[str] = field(default_factory=Counter)  # by reason: notebooks/records skipped
    cell_problems: Counter[str] = field(default_factory=Counter)  # by reason: problems with single cells
    apis: Counter[str] = field(default_factory=Counter)  # qualified API -> number of cells calling it

    def add(self, notebook: Notebook, parsed: list[ParsedCell]) -> None:
        self.notebooks += 1
        self.cells.update(cell.cell_type for cell in notebook.cells)
        self.parsed_cells += len(parsed)
        for cell in parsed:
            self.cells_with_syntax_errors += cell.syntax_errors > 0
            self.apis.update(sorted(set(cell.apis)))  # sorted: ties keep one order in every process

    def add_problems(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            counter = self.cell_problems if _is_cell_item(problem.item) else self.notebook_problems
            counter[problem.reason] += 1

    def merge(self, other: CorpusStats) -> None:
        self.notebooks += other.notebooks
        self.cells.update(other.cells)
        self.parsed_cells += other.parsed_cells
        self.cells_with_syntax_errors += other.cells_with_syntax_errors
        self.notebook_problems.update(other.notebook_problems)
        self.cell_problems.update(other.cell_problems)
        self.apis.update(other.apis)

    def to_dict(self, top_apis: int | None = 25) -> dict[str, Any]:
        """Plain JSON; ``top_apis=None`` keeps every API (for sidecars that are merged later)."""
        return {
            "notebooks": self.notebooks,
            "cells": dict(self.cells.most_common()),
            "code_cells": self.cells["code"],
            "markdown_cells": self.cells["markdown"],
            "parsed_cells": self.parsed_cells,
            "cells_with_syntax_errors": self.cells_with_syntax_errors,
            "notebooks_skipped": sum(self.notebook_problems.values()),
            "notebook_problems": dict(self.notebook_problems.most_common()),
            "cell_problems": dict(self.cell_problems.most_common()),
            "distinct_apis": len(self.apis),
            "apis": dict(self.apis.most_common(top_apis)),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CorpusStats:
        return cls(
            notebooks=data["notebooks"],
            cells=Counter(data["cells"]),
            parsed_cells=data["parsed_cells"],
            cells_with_syntax_errors=data["cells_with_syntax_errors"],
            notebook_problems=Counter(data["notebook_problems"]),
            cell_problems=Counter(data["cell_problems"]),
            apis=Counter(data["apis"]),
        )
