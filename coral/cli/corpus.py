"""``coral corpus ...``: statistics over corpora and parsing them to Parquet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from coral.cli.main import ChunkSizeOption, FormatOption, JuiceCells, JuiceCellsOption, SchedulerOption, app, fail, user_errors
from coral.corpora.parquet import ERRORS_FILE
from coral.corpora.pipeline import corpus_stats, parse_corpus
from coral.corpora.readers import ReaderOptions
from coral.corpora.units import DEFAULT_NOTEBOOKS_PER_UNIT
from coral.problems import UNIT_FAILED, ProblemLog

corpus_app = typer.Typer(help="Read notebook corpora: statistics, parsing to Parquet.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")

PathsArgument = Annotated[
    list[Path],
    typer.Argument(
        help="Notebooks, folders of them (recursive), .zip/.tar.gz archives, or JSON Lines files "
        "(shards, CORAL cells, JuICe, DSP; gzipped or not).",
        exists=True,
        show_default=False,
    ),
]
MaxCellOption = Annotated[
    int, typer.Option(help="Skip (and log as oversize) code cells longer than this many characters.", min=1)
]
MaxNotebookOption = Annotated[
    int, typer.Option(help="Skip (and log as oversize) notebooks or JSON lines larger than this many bytes.", min=1)
]
_DEFAULTS = ReaderOptions()


def _options(max_cell_chars: int, max_notebook_bytes: int, juice_cells: JuiceCells) -> ReaderOptions:
    return ReaderOptions(
        max_notebook_bytes=max_notebook_bytes, max_code_cell_chars=max_cell_chars, juice_cells=juice_cells.value
    )


def _counts_table(title: str, rows: dict[str, Any], header: str = "") -> Table:
    table = Table(title=title, title_justify="left", show_header=bool(header))
    table.add_column(header or "what")
    table.add_column("count", justify="right")
    for name, value in rows.items():
        table.add_row(str(name), f"{value:,}" if isinstance(value, int) else str(value))
    return table


def _print_stats(console: Console, stats: dict[str, Any], errors_path: Path | None) -> None:
    console.print(
        _counts_table(
            "Corpus",
            {
                "notebooks read": stats["notebooks"],
                "cells": sum(stats["cells"].values()),
                "code cells": stats["code_cells"],
                "markdown cells": stats["markdown_cells"],
                "code cells parsed": stats["parsed_cells"],
                "cells with syntax errors": stats["cells_with_syntax_errors"],
                "notebooks skipped": stats["notebooks_skipped"],
                "distinct qualified APIs": stats["distinct_apis"],
            },
        )
    )
    if stats["notebook_problems"]:
        console.print(_counts_table("Notebooks skipped, by reason", stats["notebook_problems"], "reason"))
    if stats["cell_problems"]:
        console.print(_counts_table("Cells skipped, by reason", stats["cell_problems"], "reason"))
    if stats["apis"]:
        console.print(_counts_table("Most common qualified APIs (cells calling them)", stats["apis"], "API"))
    if errors_path is not None:
        console.print(f"Every skipped notebook and cell, with origin and reason: {errors_path}")


@corpus_app.command("stats")
def stats_command(
    paths: PathsArgument,
    format: FormatOption = None,
    errors: Annotated[
        Optional[Path],
        typer.Option("--errors", help="Write every skipped notebook or cell (origin, id, reason) as JSON Lines here. Default: count them only."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the statistics as JSON instead of tables.")] = False,
    top: Annotated[int, typer.Option(help="How many of the most common qualified APIs to list.")] = 20,
    scheduler: SchedulerOption = None,
    workers: Annotated[
        int,
        typer.Option(
            help="Worker processes: 1 (the default) streams in this process, more run on a local Dask cluster "
            "(ignored with --scheduler).",
            min=1,
        ),
    ] = 1,
    max_cell_chars: MaxCellOption = _DEFAULTS.max_code_cell_chars,
    max_notebook_bytes: MaxNotebookOption = _DEFAULTS.max_notebook_bytes,
    juice_cells: JuiceCellsOption = JuiceCells("target"),
) -> None:
    """Count notebooks, cells, parse errors, skipped notebooks and the most common APIs.

    Reads and parses the corpus (streaming): cells (code / markdown), cells with syntax
    errors, notebooks and cells skipped by reason, and the qualified APIs most cells call.
    A parsed directory (`coral corpus parse`) gives what its parse run counted, without
    parsing again.
    """
    problems = ProblemLog()
    with user_errors():
        stats = corpus_stats(
            paths,
            format,
            problems,
            _options(max_cell_chars, max_notebook_bytes, juice_cells),
            progress=not as_json,
            scheduler=scheduler,
            workers=workers,
        )
    if errors is not None:
        problems.write_jsonl(errors)
    summary = stats.to_dict(top_apis=top)
    if as_json:
        typer.echo(json.dumps(summary, indent=1, ensure_ascii=False))
    else:
        _print_stats(Console(), summary, errors)


@corpus_app.command("parse")
def parse_command(
    paths: PathsArgument,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output folder: a Parquet dataset of parts, with _errors.jsonl and _summary.json beside them.")
    ],
    format: FormatOption = None,
    scheduler: SchedulerOption = None,
    workers: Annotated[
        Optional[int],
        typer.Option(help="Local worker processes; 1 runs in this process without Dask. Default: all cores.", min=1),
    ] = None,
    chunk_size: ChunkSizeOption = DEFAULT_NOTEBOOKS_PER_UNIT,
    max_cell_chars: MaxCellOption = _DEFAULTS.max_code_cell_chars,
    max_notebook_bytes: MaxNotebookOption = _DEFAULTS.max_notebook_bytes,
    juice_cells: JuiceCellsOption = JuiceCells("target"),
) -> None:
    """Parse the code cells of a corpus to Parquet, in parallel through Dask.

    Writes one part per work unit (atomically: a killed run can be rerun and resumes),
    OUT/_errors.jsonl accounting for every skipped notebook or cell, and OUT/_summary.json.
    OUT is a Parquet dataset (pandas, pyarrow, dask and Spark read it as it is); every coral
    command that takes a corpus also takes OUT.
    """
    if scheduler is not None and workers is not None:
        raise typer.BadParameter("give --scheduler or --workers, not both", param_hint="--workers")
    with user_errors():
        summary = parse_corpus(
            paths,
            out,
            format=format,
            scheduler=scheduler,
            workers=workers,
            notebooks_per_unit=chunk_size,
            options=_options(max_cell_chars, max_notebook_bytes, juice_cells),
            progress=True,
        )
    console = Console()
    _print_stats(console, summary.stats.to_dict(top_apis=10), out / ERRORS_FILE)
    console.print(
        f"{summary.units} parts in {out} ({summary.units_reused} already done), "
        f"{summary.stats.parsed_cells:,} code cells in {summary.seconds:.1f} s"
    )
    failed = summary.stats.notebook_problems[UNIT_FAILED]
    if failed:  # a worker died or the cluster failed: those parts are missing, and a rerun redoes them
        fail(f"{failed} work units failed (see {out / ERRORS_FILE}); rerun the command to retry them")
