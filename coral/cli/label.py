"""``coral label``: the label matrix of LF votes over a corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from coral.cli.main import (
    ChunkSizeOption, Corpora, FormatOption, JuiceCells, JuiceCellsOption, LFErrors, LFsOption, OnErrorOption,
    SchedulerOption, app, echo_problems, user_errors,
)
from coral.corpora.units import DEFAULT_NOTEBOOKS_PER_UNIT
from coral.labeling.lfsets import DEFAULT_LF_SETS


@app.command("label")
def label_command(
    corpora: Corpora,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for label_matrix.parquet (a Parquet dataset), _label_matrix.json and _problems.jsonl.")],
    lfs: LFsOption = list(DEFAULT_LF_SETS),
    format: FormatOption = None,
    juice_cells: JuiceCellsOption = JuiceCells("target"),
    on_lf_error: OnErrorOption = LFErrors("raise"),
    workers: Annotated[
        int,
        typer.Option(
            help="Worker processes: 1 (the default) labels the input's parts in this process; more label "
            "them on a local Dask cluster.",
            min=1,
        ),
    ] = 1,
    scheduler: SchedulerOption = None,
    chunk_size: ChunkSizeOption = DEFAULT_NOTEBOOKS_PER_UNIT,
) -> None:
    """Apply labeling functions to every code cell: the label matrix (cell ids x LFs, -1 = abstain).

    The input is labeled in parts (Parquet parts of a parsed directory, or corpus work units of
    --chunk-size notebooks), joined in input order. Finished parts wait in OUT/_parts: after an
    interruption, the same command labels only the parts not finished, with the same result.
    With --workers N or --scheduler, parts are labeled in parallel with Dask; a cluster's
    workers need coral and the LF files.
    """
    from coral.corpora.readers import ReaderOptions
    from coral.labeling.corpus import label_to_directory
    from coral.labeling.matrix import LABEL_PROBLEMS_FILE
    from coral.problems import ProblemLog

    with user_errors():
        problems = ProblemLog()
        written = label_to_directory(
            corpora, lfs, out, format=format, on_error=on_lf_error.value, problems=problems, workers=workers,
            scheduler=scheduler, notebooks_per_unit=chunk_size, progress=True,
            options=ReaderOptions(juice_cells=juice_cells.value),
        )
    typer.echo(f"{written.n_cells} cells x {len(written.lf_names)} LFs -> {written.path}; "
               f"{written.n_covered} cells ({written.n_covered / max(written.n_cells, 1):.1%}) have a vote")
    echo_problems(problems, Path(out) / LABEL_PROBLEMS_FILE)
