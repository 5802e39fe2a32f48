"""Writing study results: every table as CSV and Markdown, every figure as PNG and PDF.

Figures are built on :class:`matplotlib.figure.Figure` directly (the Agg canvas), so the
studies never touch pyplot's global state or need a display.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from coral.atomic import atomic_path
from coral.problems import ProblemLog


def _cell_text(value: object, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        if value != 0 and abs(value) < 10 ** -digits:
            return f"{value:.{max(digits - 2, 1)}e}"
        return f"{value:.{digits}f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(table: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table (pandas/tabulate); floats rounded to ``digits``,
    tiny p-values in e-notation, numeric columns right-aligned."""
    align = tuple("right" if pd.api.types.is_numeric_dtype(table[c]) else "left" for c in table.columns)
    text = table.astype(object).map(lambda value: _cell_text(value, digits))
    return text.to_markdown(index=False, tablefmt="github", colalign=align, disable_numparse=True) + "\n"


def latex_table(table: pd.DataFrame, digits: int = 3, caption: str | None = None) -> str:
    """A booktabs LaTeX table (``\\toprule``/``\\midrule``/``\\bottomrule``; needs
    ``\\usepackage{booktabs}``) with special characters escaped, floats as in Markdown."""
    text = table.astype(object).map(lambda value: _cell_text(value, digits).replace("\\|", "|"))
    latex = text.to_latex(index=False, escape=True, column_format="".join(
        "r" if pd.api.types.is_numeric_dtype(table[c]) else "l" for c in table.columns))
    return (f"% {caption}\n" if caption else "") + latex


@dataclass
class StudyOutput:
    """What a study wrote: its tables (by name) and the paths of every file."""

    out_dir: Path
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    problems: ProblemLog = field(default_factory=ProblemLog)

    def table(self, name: str, table: pd.DataFrame, digits: int = 3, display: pd.DataFrame | None = None,
              latex: bool = False) -> None:
        """Keep ``table`` and write it as ``<name>.csv`` and ``<name>.md`` (and ``<name>.tex``
        with ``latex``). ``display``, when given, is what the Markdown and LaTeX show (for
        example scores with their intervals); the CSV always holds ``table``'s numbers."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.tables[name] = table
        shown = table if display is None else display
        csv_path = self.out_dir / f"{name}.csv"
        md_path = self.out_dir / f"{name}.md"
        with atomic_path(csv_path) as temporary:
            table.to_csv(temporary, index=False)
        with atomic_path(md_path) as temporary:
            temporary.write_text(markdown_table(shown, digits), encoding="utf-8")
        self.files += [csv_path, md_path]
        if latex:
            tex_path = self.out_dir / f"{name}.tex"
            with atomic_path(tex_path) as temporary:
                temporary.write_text(latex_table(shown, digits), encoding="utf-8")
            self.files.append(tex_path)

    def figure(self, name: str, figure: Figure, dpi: int = 150) -> None:
        """Write ``figure`` as ``<name>.png`` and ``<name>.pdf``."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for suffix in ("png", "pdf"):
            path = self.out_dir / f"{name}.{suffix}"
            with atomic_path(path) as temporary:
                figure.savefig(temporary, dpi=dpi, bbox_inches="tight")
            self.files.append(path)

    def write_problems(self) -> None:
        """Write ``problems.jsonl`` (always, so an empty file says nothing was skipped)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / "problems.jsonl"
        self.problems.write_jsonl(path)
        self.files.append(path)
