"""The root ``coral`` app; command groups register themselves from their own modules."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

app = typer.Typer(
    name="coral",
    help="Label Jupyter notebook cells with their data-analysis stage (IMPORT, WRANGLE, "
    "EXPLORE, MODEL, EVALUATE) from weak supervision, and study how data science is done.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _root() -> None:
    """coral: weakly supervised stage labels for notebook cells."""


ThreadsOption = Annotated[
    Optional[int],
    typer.Option("--threads", help="torch CPU threads (default: torch's choice); 1 is fastest on a busy shared machine.", min=1),
]



class JuiceCells(str, Enum):
    target = "target"
    all = "all"


JuiceCellsOption = Annotated[
    JuiceCells,
    typer.Option(
        "--juice-cells",
        help="JuICe records: label each record's target cell only (its context cells serve as context), "
        "or every distinct code cell, context included (one item per notebook and position).",
    ),
]


def set_torch_threads(threads: int | None) -> None:
    """Apply ``--threads`` before any model work starts."""
    if threads:
        import torch

        torch.set_num_threads(threads)
