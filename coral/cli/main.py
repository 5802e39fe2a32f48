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


def _print_version(value: bool) -> None:
    if value:
        from coral import __version__

        typer.echo(f"coral {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        Optional[bool], typer.Option("--version", help="Print coral's version and exit.", callback=_print_version, is_eager=True)
    ] = None,
) -> None:
    """coral: weakly supervised stage labels for notebook cells."""


ThreadsOption = Annotated[
    Optional[int],
    typer.Option("--threads", help="torch CPU threads (default: the cores available to coral that other work leaves idle, at most 8).", min=1),
]

DeviceOption = Annotated[
    str,
    typer.Option("--device", help="Where torch models compute: auto (CUDA when available, with mixed precision), cpu, cuda, cuda:1..."),
]

TrustCodeOption = Annotated[
    bool,
    typer.Option("--trust-code", help="Load a model directory whose labeling functions are Python code (a .py file or module), "
                 "which runs that code: only for model directories you trust."),
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
    """Apply ``--threads`` (or the default thread count) before any model work starts."""
    from coral.encoders.runtime import set_threads

    set_threads(threads)
